ALTER TABLE login_challenges DROP COLUMN code_challenge;
ALTER TABLE sso_flows DROP COLUMN client_code_challenge;
ALTER TABLE login_challenges DROP COLUMN subject;
ALTER TABLE login_challenges DROP COLUMN provider_id;
DROP INDEX sso_identities_provider_subject_idx;
-- Back to one link per (account, issuer, subject): one of each stays.
DELETE FROM sso_identities WHERE id NOT IN (
    SELECT MIN(id) FROM sso_identities GROUP BY account_id, issuer, subject);
CREATE UNIQUE INDEX sso_identities_subject_idx ON sso_identities(account_id, issuer, subject);
ALTER TABLE identity_providers DROP COLUMN ceiling;
