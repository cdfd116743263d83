-- MFA rollout (issue 21).
-- A deadline for "Require MFA": before it, required users without MFA sign
-- in as usual and are told when setup is due; from it they must enroll.
ALTER TABLE accounts ADD COLUMN require_mfa_from TIMESTAMP;
ALTER TABLE sub_accounts ADD COLUMN require_mfa_from TIMESTAMP;
-- How long a remembered device skips the second step (0: never).
ALTER TABLE accounts ADD COLUMN remember_device_days INTEGER NOT NULL DEFAULT 0;
-- MFA required of one user whatever their scope's policy.
ALTER TABLE users ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
-- When a second factor was last proven in this session (sign-in or
-- step-up); NULL when none was (a password or remembered-device session).
ALTER TABLE sessions ADD COLUMN factor_at TIMESTAMP;

-- Remembered devices: a device token (stored as its SHA-256) skips the
-- second step of its user until it expires or is revoked. `method` is the
-- factor proven when it was remembered (`otp` or `hwk`).
CREATE TABLE remembered_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    method       TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX remembered_devices_user_idx ON remembered_devices (user_id);

-- Deadline reminders sent, one row each: the key makes "each once" one
-- INSERT that either wins or does nothing.
CREATE TABLE mfa_reminders (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    deadline    TIMESTAMP NOT NULL,
    days_before INTEGER NOT NULL,
    sent_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, deadline, days_before)
);
