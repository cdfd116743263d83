-- Users of a sub-account (client users) hold only editor, creator, lite or
-- read_only: none of them may act on the account. Any administrator or
-- manager among them becomes an editor, with one audit event each (the
-- previous role is kept in its details). The event id is derived from the
-- user id (UUID-shaped, unique per user), so the statement needs no UUID
-- function that only one backend has.
INSERT INTO audit_events (id, account_id, event_type, occurred_at, actor_user_id, target_user_id, ip, user_agent, details)
SELECT '00000000' || substr(id, 9), account_id, 'user.updated', CURRENT_TIMESTAMP, NULL, id, NULL, NULL,
       '{"role":"editor","previous_role":"' || role || '","reason":"sub_account_users_hold_client_roles","by":"migration"}'
FROM users
WHERE sub_account_id IS NOT NULL AND role IN ('administrator', 'manager');

UPDATE users SET role = 'editor'
WHERE sub_account_id IS NOT NULL AND role IN ('administrator', 'manager');
