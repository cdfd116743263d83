-- Mail (issue 19).
-- The outbox: each message is written in the transaction of the change that
-- causes it, as its template and the values it names; the one secret, a
-- link with a token, is sealed with the master key and dropped once sent.
-- A sender on any node claims due rows, renders them,
-- hands them to SMTP and marks them sent; a claim moves `next_attempt_at`
-- past the send's timeout, so a node that dies mid-send leaves the row due
-- again later (at least once, never lost).
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    vars            TEXT NOT NULL,
    link            TEXT,
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         TIMESTAMP,
    failed_at       TIMESTAMP
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Invitations: a pending user, by link. The link's token is stored hashed;
-- a resend replaces it (the old link dies). `ceiling` is what the inviter
-- held when they last sent it: accepting never gives more.
CREATE TABLE invitations (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sub_account_id TEXT REFERENCES sub_accounts(id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    invited_by     TEXT,
    ceiling        TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    accepted_at    TIMESTAMP,
    revoked_at     TIMESTAMP
);
CREATE INDEX invitations_account_idx ON invitations (account_id, created_at);
-- Links a resend replaced: still recognized, so they answer "expired"
-- rather than "no such link".
CREATE TABLE invitation_replaced_tokens (
    token_hash    TEXT PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE
);

-- Forgotten passwords: one row per link, hashed, single use.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- Verified sign-up (LATCHKEY_SIGNUP=verify): the account to create once the
-- link comes back, its password already hashed.
CREATE TABLE signup_requests (
    token_hash    TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    account_name  TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);
CREATE INDEX signup_requests_email_idx ON signup_requests (email);

-- After an administrator's Reset MFA, until the user enrolls again: when,
-- and who (display name), so the app can tell them at their next sign-in.
ALTER TABLE users ADD COLUMN mfa_reset_at TIMESTAMP;
ALTER TABLE users ADD COLUMN mfa_reset_by TEXT;
