//! `login_challenges`: the pending second step of a login (`mfa`), forced
//! enrollment grants (`enrollment`) and SSO login codes (`sso`), stored by
//! the SHA-256 of their token, each with the first factor it follows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_challenges, users};
use super::types::Amr;
use super::users::User;
use super::DbConn;

pub use super::types::ChallengeKind;

pub const KIND_MFA: ChallengeKind = ChallengeKind::Mfa;
pub const KIND_ENROLLMENT: ChallengeKind = ChallengeKind::Enrollment;
pub const KIND_SSO: ChallengeKind = ChallengeKind::Sso;
/// A link token: the password proof an existing user owes before a
/// provider's subject is linked to them.
pub const KIND_SSO_LINK: ChallengeKind = ChallengeKind::SsoLink;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = login_challenges)]
pub struct Challenge {
    pub id: String,
    pub token_hash: String,
    pub kind: ChallengeKind,
    pub user_id: String,
    pub failures: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
    /// The methods proven before this step: `pwd`, `sso`, or `sso mfa`.
    pub first_factor: Amr,
    /// The identity provider an SSO login code or link token came from.
    pub provider_id: Option<String>,
    /// The provider's subject (SSO login codes and link tokens).
    pub subject: Option<String>,
    /// The PKCE challenge (S256) of the client that started the single
    /// sign-on, if it sent one: spending the login code needs its verifier.
    pub code_challenge: Option<String>,
    /// An MFA challenge's passkey request, as webauthn-rs's state (JSON):
    /// spent with the challenge.
    pub passkey_state: Option<String>,
}

pub fn insert(conn: &mut DbConn, challenge: &Challenge) -> QueryResult<()> {
    diesel::insert_into(login_challenges::table)
        .values(challenge)
        .execute(conn)
        .map(drop)
}

pub fn find_by_hash(
    conn: &mut DbConn,
    kind: ChallengeKind,
    hash: &str,
) -> QueryResult<Option<Challenge>> {
    login_challenges::table
        .filter(login_challenges::token_hash.eq(hash))
        .filter(login_challenges::kind.eq(kind))
        .select(Challenge::as_select())
        .first(conn)
        .optional()
}

/// [`find_by_hash`] with the challenge's user, in one query.
pub fn find_with_user(
    conn: &mut DbConn,
    kind: ChallengeKind,
    hash: &str,
) -> QueryResult<Option<(Challenge, User)>> {
    login_challenges::table
        .inner_join(users::table)
        .filter(login_challenges::token_hash.eq(hash))
        .filter(login_challenges::kind.eq(kind))
        .select((Challenge::as_select(), User::as_select()))
        .first(conn)
        .optional()
}

/// Counts a wrong code against the challenge; returns the new count.
pub fn record_failure(conn: &mut DbConn, id: &str) -> QueryResult<i32> {
    diesel::update(login_challenges::table.find(id))
        .set(login_challenges::failures.eq(login_challenges::failures + 1))
        .execute(conn)?;
    login_challenges::table
        .find(id)
        .select(login_challenges::failures)
        .first(conn)
}

/// Spends the challenge: 1 for the one caller that wins, 0 for the rest.
pub fn consume(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        login_challenges::table
            .filter(login_challenges::id.eq(id))
            .filter(login_challenges::consumed_at.is_null()),
    )
    .set(login_challenges::consumed_at.eq(now))
    .execute(conn)
}

/// Ends every open challenge of a user (MFA reset, user disabled).
pub fn consume_all_for_user(
    conn: &mut DbConn,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        login_challenges::table
            .filter(login_challenges::user_id.eq(user_id))
            .filter(login_challenges::consumed_at.is_null()),
    )
    .set(login_challenges::consumed_at.eq(now))
    .execute(conn)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Challenge>> {
    login_challenges::table
        .find(id)
        .select(Challenge::as_select())
        .first(conn)
        .optional()
}

/// Deletes challenges that expired before `before`; returns how many.
pub fn purge_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_challenges::table.filter(login_challenges::expires_at.lt(before)))
        .execute(conn)
}
