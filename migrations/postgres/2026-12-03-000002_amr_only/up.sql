-- One fact stored once (issue 17): a session's assurance level is derived
-- from its `amr`, never stored beside it. Sessions whose two facts had
-- drifted apart (MFA disabled: `aal1` beside a second factor in `amr`)
-- keep only their first factor first.
UPDATE sessions SET amr = CASE WHEN amr LIKE 'sso%' THEN 'sso' ELSE 'pwd' END
    WHERE aal = 'aal1' AND amr LIKE '% %';
ALTER TABLE sessions DROP COLUMN aal;
