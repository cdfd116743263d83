-- Chained refresh tokens stop working (their sessions must sign in again);
-- tokens still in refresh_tokens keep working.
ALTER TABLE sessions DROP COLUMN refresh_chain_start;
ALTER TABLE sessions DROP COLUMN refresh_generation;
ALTER TABLE sessions DROP COLUMN refresh_hash;
