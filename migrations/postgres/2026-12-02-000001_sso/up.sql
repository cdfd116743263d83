-- Single sign-on: an account's OpenID Connect providers, the links from a
-- provider's subject to a user, and the authorization flows in progress
-- (kept here, not in a node's memory, so any node finishes a flow).
CREATE TABLE identity_providers (
    id                    TEXT PRIMARY KEY NOT NULL,
    account_id            TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sub_account_id        TEXT REFERENCES sub_accounts(id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    issuer                TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    client_secret_sealed  TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    allowed_redirect_uris TEXT NOT NULL,
    trust_idp_mfa         BOOLEAN NOT NULL DEFAULT FALSE,
    jit_provisioning      BOOLEAN NOT NULL DEFAULT FALSE,
    default_role          TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX identity_providers_account_name_idx ON identity_providers(account_id, name);

-- A provider's subject linked to a user: one link per (account, issuer,
-- subject), so a subject never reaches a user of another account.
CREATE TABLE sso_identities (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX sso_identities_subject_idx ON sso_identities(account_id, issuer, subject);
CREATE INDEX sso_identities_user_idx ON sso_identities(user_id);

-- An authorization request in progress: found by the SHA-256 of its
-- `state`, spent once by a conditional UPDATE.
CREATE TABLE sso_flows (
    id                   TEXT PRIMARY KEY NOT NULL,
    state_hash           TEXT NOT NULL UNIQUE,
    provider_id          TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    nonce                TEXT NOT NULL,
    pkce_verifier_sealed TEXT NOT NULL,
    redirect_uri         TEXT NOT NULL,
    client_state         TEXT,
    created_at           TIMESTAMP NOT NULL,
    expires_at           TIMESTAMP NOT NULL,
    consumed_at          TIMESTAMP
);
CREATE INDEX sso_flows_expires_idx ON sso_flows(expires_at);

-- What a login challenge's first factor was: `pwd`, `sso`, or `sso mfa`
-- (the provider did MFA and is trusted to). SSO login codes are challenges
-- of kind `sso`.
ALTER TABLE login_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';
