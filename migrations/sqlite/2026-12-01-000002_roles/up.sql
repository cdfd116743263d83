-- Custom roles of an account: named sets of permissions (space-separated
-- names such as `users.view users.reset_mfa`). A user's `role` holds a
-- built-in role's name or one of these ids.
CREATE TABLE roles (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX roles_account_name_idx ON roles(account_id, name);
CREATE INDEX users_role_idx ON users(account_id, role);
