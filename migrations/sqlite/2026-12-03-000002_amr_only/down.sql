ALTER TABLE sessions ADD COLUMN aal TEXT NOT NULL DEFAULT 'aal1';
UPDATE sessions SET aal = 'aal2' WHERE amr LIKE '% %';
