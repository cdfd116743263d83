DROP TABLE mfa_reminders;
DROP TABLE remembered_devices;
ALTER TABLE sessions DROP COLUMN factor_at;
ALTER TABLE users DROP COLUMN require_mfa;
ALTER TABLE accounts DROP COLUMN remember_device_days;
ALTER TABLE sub_accounts DROP COLUMN require_mfa_from;
ALTER TABLE accounts DROP COLUMN require_mfa_from;
