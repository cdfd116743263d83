DROP INDEX users_role_idx;
DROP TABLE roles;
