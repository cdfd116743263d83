-- Whom a provider may sign in as (issue 17):
-- * its ceiling: the permissions of whoever last set its fields, as the
--   space-separated names a custom role stores. A provider from before
--   holds none until an administrator saves it again: no sign-in through
--   it reaches a user holding any permission meanwhile.
ALTER TABLE identity_providers ADD COLUMN ceiling TEXT NOT NULL DEFAULT '';

-- * links belong to the provider, not to (account, issuer): one subject
--   is linked once per provider.
DROP INDEX sso_identities_subject_idx;
CREATE UNIQUE INDEX sso_identities_provider_subject_idx ON sso_identities(provider_id, subject);

-- * an SSO login code, and a link token (kind `sso_link`), name the
--   provider and the subject they came from.
ALTER TABLE login_challenges ADD COLUMN provider_id TEXT;
ALTER TABLE login_challenges ADD COLUMN subject TEXT;

-- Native apps (RFC 8252) bind a login code to their own PKCE pair: the
-- challenge sent to `authorize` rides on the flow, then on the login code.
ALTER TABLE sso_flows ADD COLUMN client_code_challenge TEXT;
ALTER TABLE login_challenges ADD COLUMN code_challenge TEXT;
