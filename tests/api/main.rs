//! The API test suite: the real app in-process, on SQLite by default and on
//! PostgreSQL when `LATCHKEY_TEST_DATABASE_URL` is set. Modules are named
//! after the routes they exercise.

mod account;
mod audit;
mod authenticator;
mod cli;
mod cluster;
mod crash;
mod delegation;
mod enrollment;
mod housekeeping;
mod idp;
mod keys;
mod layers;
mod mail;
mod mfa;
mod migrations;
mod ops;
mod passkeys;
mod principals;
mod process;
mod roles;
mod rollout;
mod sessions;
mod smtp;
mod sso;
mod sso_e2e;
mod story;
mod sub_accounts;
mod support;
mod tokens;
mod transitions;
mod users;
