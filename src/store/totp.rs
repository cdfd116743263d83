//! `totp_credentials`: sealed TOTP secrets, `pending` until verified, then
//! `active`; `last_used_step` makes every accepted code single-use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::totp_credentials;
use super::DbConn;

pub use super::types::TotpStatus;

pub const STATUS_PENDING: TotpStatus = TotpStatus::Pending;
pub const STATUS_ACTIVE: TotpStatus = TotpStatus::Active;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = totp_credentials)]
pub struct TotpCredential {
    pub id: String,
    pub user_id: String,
    pub status: TotpStatus,
    pub secret_sealed: String,
    pub last_used_step: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub activated_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, credential: &TotpCredential) -> QueryResult<()> {
    diesel::insert_into(totp_credentials::table)
        .values(credential)
        .execute(conn)
        .map(drop)
}

pub fn find(
    conn: &mut DbConn,
    user_id: &str,
    status: TotpStatus,
) -> QueryResult<Option<TotpCredential>> {
    totp_credentials::table
        .filter(totp_credentials::user_id.eq(user_id))
        .filter(totp_credentials::status.eq(status))
        .select(TotpCredential::as_select())
        .first(conn)
        .optional()
}

pub fn delete_with_status(
    conn: &mut DbConn,
    user_id: &str,
    status: TotpStatus,
) -> QueryResult<usize> {
    diesel::delete(
        totp_credentials::table
            .filter(totp_credentials::user_id.eq(user_id))
            .filter(totp_credentials::status.eq(status)),
    )
    .execute(conn)
}

pub fn delete_all(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(totp_credentials::table.filter(totp_credentials::user_id.eq(user_id)))
        .execute(conn)
}

/// Turns the pending credential `id` into the active one.
pub fn activate(conn: &mut DbConn, id: &str, step: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        totp_credentials::table
            .filter(totp_credentials::id.eq(id))
            .filter(totp_credentials::status.eq(STATUS_PENDING)),
    )
    .set((
        totp_credentials::status.eq(STATUS_ACTIVE),
        totp_credentials::activated_at.eq(Some(now)),
        totp_credentials::expires_at.eq(None::<NaiveDateTime>),
        totp_credentials::last_used_step.eq(Some(step)),
    ))
    .execute(conn)
}

/// Consumes time step `step` (and every earlier one) of the credential:
/// 1 when `step` is above the last used step, 0 for a replay. The one
/// conditional UPDATE decides, so concurrent uses of one code win once.
pub fn consume_step(conn: &mut DbConn, id: &str, step: i64) -> QueryResult<usize> {
    diesel::update(
        totp_credentials::table
            .filter(totp_credentials::id.eq(id))
            .filter(
                totp_credentials::last_used_step
                    .is_null()
                    .or(totp_credentials::last_used_step.lt(step)),
            ),
    )
    .set(totp_credentials::last_used_step.eq(Some(step)))
    .execute(conn)
}

/// Deletes pending (never verified) enrollments that expired before
/// `before`; returns how many.
pub fn purge_expired_pending(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        totp_credentials::table
            .filter(totp_credentials::status.eq(STATUS_PENDING))
            .filter(totp_credentials::expires_at.lt(before)),
    )
    .execute(conn)
}
