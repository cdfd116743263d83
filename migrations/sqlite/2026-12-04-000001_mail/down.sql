ALTER TABLE users DROP COLUMN mfa_reset_by;
ALTER TABLE users DROP COLUMN mfa_reset_at;
DROP TABLE signup_requests;
DROP TABLE password_resets;
DROP TABLE invitation_replaced_tokens;
DROP TABLE invitations;
DROP TABLE outbox;
