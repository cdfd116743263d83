ALTER TABLE login_challenges DROP COLUMN passkey_state;
ALTER TABLE passkeys DROP COLUMN sign_count;
