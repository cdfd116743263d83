-- Passkeys (issue 20): WebAuthn credentials, several per user. `passkey`
-- is webauthn-rs's record of the credential (public key, signature
-- counter, backup state) as JSON; nothing in it is secret.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    backed_up     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- A WebAuthn ceremony in progress: its state lives here so that any node
-- finishes what another started; 5 minutes, single use. `bound_to` is the
-- session, enrollment challenge or MFA challenge it belongs to.
CREATE TABLE webauthn_ceremonies (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    bound_to    TEXT,
    state       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP
);
CREATE INDEX webauthn_ceremonies_bound_idx ON webauthn_ceremonies (bound_to);

-- Which second factors count: `any`, or `phishing_resistant` (passkeys
-- only), per account and per sub-account; the stricter applies.
ALTER TABLE accounts ADD COLUMN mfa_methods TEXT NOT NULL DEFAULT 'any';
ALTER TABLE sub_accounts ADD COLUMN mfa_methods TEXT NOT NULL DEFAULT 'any';
