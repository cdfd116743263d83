//! The single-use links sent by mail, stored as SHA-256: `password_resets`
//! and `signup_requests` (invitations are `store::invitations`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{password_resets, signup_requests};
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = password_resets)]
pub struct PasswordReset {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_reset(conn: &mut DbConn, row: &PasswordReset) -> QueryResult<()> {
    diesel::insert_into(password_resets::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Spends a live reset link: the row for the one caller that wins, `None`
/// for an unknown, used or expired one. One statement.
pub fn spend_reset(
    conn: &mut DbConn,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<PasswordReset>> {
    let spend = diesel::update(
        password_resets::table
            .filter(password_resets::token_hash.eq(hash))
            .filter(password_resets::used_at.is_null())
            .filter(password_resets::expires_at.gt(now)),
    )
    .set(password_resets::used_at.eq(now));
    match conn {
        DbConn::Postgres(pg) => spend
            .returning(PasswordReset::as_returning())
            .get_result(pg)
            .optional(),
        DbConn::Sqlite(lite) => spend
            .returning(PasswordReset::as_returning())
            .get_result(lite)
            .optional(),
    }
}

/// Every unused reset link of a user dies (the password changed).
pub fn end_resets(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        password_resets::table
            .filter(password_resets::user_id.eq(user_id))
            .filter(password_resets::used_at.is_null()),
    )
    .set(password_resets::used_at.eq(now))
    .execute(conn)
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = signup_requests)]
pub struct SignupRequest {
    pub token_hash: String,
    pub email: String,
    pub account_name: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_signup(conn: &mut DbConn, row: &SignupRequest) -> QueryResult<()> {
    diesel::insert_into(signup_requests::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Ends every pending sign-up of `email` (a newer request replaces them).
pub fn end_signups(conn: &mut DbConn, email: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        signup_requests::table
            .filter(signup_requests::email.eq(email))
            .filter(signup_requests::used_at.is_null()),
    )
    .set(signup_requests::used_at.eq(now))
    .execute(conn)
}

/// Spends a live sign-up link, like [`spend_reset`].
pub fn spend_signup(
    conn: &mut DbConn,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<SignupRequest>> {
    let spend = diesel::update(
        signup_requests::table
            .filter(signup_requests::token_hash.eq(hash))
            .filter(signup_requests::used_at.is_null())
            .filter(signup_requests::expires_at.gt(now)),
    )
    .set(signup_requests::used_at.eq(now));
    match conn {
        DbConn::Postgres(pg) => spend
            .returning(SignupRequest::as_returning())
            .get_result(pg)
            .optional(),
        DbConn::Sqlite(lite) => spend
            .returning(SignupRequest::as_returning())
            .get_result(lite)
            .optional(),
    }
}

/// Deletes reset and sign-up links that ended before `before`.
pub fn purge(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    let resets =
        diesel::delete(password_resets::table.filter(password_resets::expires_at.lt(before)))
            .execute(conn)?;
    let signups =
        diesel::delete(signup_requests::table.filter(signup_requests::expires_at.lt(before)))
            .execute(conn)?;
    Ok(resets + signups)
}

/// The reset link with this hash, live or not.
pub fn find_reset(conn: &mut DbConn, hash: &str) -> QueryResult<Option<PasswordReset>> {
    password_resets::table
        .find(hash)
        .select(PasswordReset::as_select())
        .first(conn)
        .optional()
}

/// Whether a reset link with this hash was ever issued (to tell a used or
/// expired link from one that never was).
pub fn reset_exists(conn: &mut DbConn, hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        password_resets::table.filter(password_resets::token_hash.eq(hash)),
    ))
    .get_result(conn)
}

/// Whether a sign-up link with this hash was ever issued.
pub fn signup_exists(conn: &mut DbConn, hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        signup_requests::table.filter(signup_requests::token_hash.eq(hash)),
    ))
    .get_result(conn)
}
