-- Not reversible on purpose: restoring account roles to client users would
-- reopen the hole. The previous roles are in the audit events' details.
SELECT 1;
