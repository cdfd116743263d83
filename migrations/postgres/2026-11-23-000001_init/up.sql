-- Latchkey schema. Kept column-for-column equal to ../../sqlite/*/up.sql.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    require_mfa BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE sub_accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    require_mfa BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX sub_accounts_account_idx ON sub_accounts(account_id, created_at);

CREATE TABLE users (
    id               TEXT PRIMARY KEY NOT NULL,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sub_account_id   TEXT REFERENCES sub_accounts(id) ON DELETE RESTRICT,
    email            TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    role             TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_enabled_at   TIMESTAMP,
    mfa_failures     INTEGER NOT NULL DEFAULT 0,
    mfa_locked_until TIMESTAMP,
    last_login_at    TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX users_account_idx ON users(account_id, created_at);
CREATE INDEX users_sub_account_idx ON users(sub_account_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amr          TEXT NOT NULL,
    aal          TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions(user_id, created_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    spent_at   TIMESTAMP
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens(session_id);

CREATE TABLE login_challenges (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    failures    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP
);
CREATE INDEX login_challenges_user_idx ON login_challenges(user_id);

CREATE TABLE totp_credentials (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status         TEXT NOT NULL,
    secret_sealed  TEXT NOT NULL,
    last_used_step BIGINT,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP,
    activated_at   TIMESTAMP
);
CREATE UNIQUE INDEX totp_one_active ON totp_credentials(user_id) WHERE status = 'active';
CREATE UNIQUE INDEX totp_one_pending ON totp_credentials(user_id) WHERE status = 'pending';

CREATE TABLE recovery_tokens (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY NOT NULL,
    public_key         TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    retired_at         TIMESTAMP
);

CREATE TABLE audit_events (
    id             TEXT PRIMARY KEY NOT NULL,
    account_id     TEXT,
    event_type     TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    actor_user_id  TEXT,
    target_user_id TEXT,
    ip             TEXT,
    user_agent     TEXT,
    details        TEXT NOT NULL
);
CREATE INDEX audit_events_account_idx ON audit_events(account_id, occurred_at);
CREATE INDEX audit_events_actor_idx ON audit_events(actor_user_id);
CREATE INDEX audit_events_target_idx ON audit_events(target_user_id);

-- Consecutive password failures per email (keyed by a hash of the email, so
-- unknown addresses are throttled identically without being stored).
CREATE TABLE login_throttles (
    email_key    TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL
);
