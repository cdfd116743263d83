-- Refresh-token chains: a session's current refresh token (its SHA-256),
-- the token's generation and the first generation of the chain, on the
-- session row itself, so that a refresh updates that row in place instead
-- of spending one row of refresh_tokens and inserting the next. Sessions
-- from before keep their tokens in refresh_tokens (still accepted once
-- each; the successor starts the session's chain), so no one is signed out.
ALTER TABLE sessions ADD COLUMN refresh_hash TEXT;
ALTER TABLE sessions ADD COLUMN refresh_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refresh_chain_start BIGINT NOT NULL DEFAULT 0;
