-- The passkey's signature counter as a column of its own, so that the
-- second step accepts an assertion with one conditional UPDATE
-- (`WHERE sign_count < new`, or both 0 for authenticators without a
-- counter) against the last accepted use, not against the counter the
-- options were made with. `passkey` keeps the registration record and no
-- longer changes. Rows from before start at 0: their JSON holds the
-- counter of their last use until now, and webauthn-rs still refuses an
-- assertion at or below it, so the column takes over from the next use.
ALTER TABLE passkeys ADD COLUMN sign_count BIGINT NOT NULL DEFAULT 0;

-- The passkey request of a sign-in's second step is kept with its MFA
-- challenge (webauthn-rs's state as JSON), read with it under the user's
-- lock and spent with it: no ceremony row of its own.
ALTER TABLE login_challenges ADD COLUMN passkey_state TEXT;
