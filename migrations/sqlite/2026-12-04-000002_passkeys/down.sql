ALTER TABLE sub_accounts DROP COLUMN mfa_methods;
ALTER TABLE accounts DROP COLUMN mfa_methods;
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
