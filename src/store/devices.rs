//! `remembered_devices`: device tokens (as their SHA-256) that skip the
//! second step of their user until they expire or are revoked.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::remembered_devices;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = remembered_devices)]
pub struct RememberedDevice {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    /// The factor proven when the device was remembered: `otp` or `hwk`.
    pub method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, device: &RememberedDevice) -> QueryResult<()> {
    diesel::insert_into(remembered_devices::table)
        .values(device)
        .execute(conn)
        .map(drop)
}

/// The device whose token hashes to `token_hash` (the unique index).
pub fn find_by_hash(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<RememberedDevice>> {
    remembered_devices::table
        .filter(remembered_devices::token_hash.eq(token_hash))
        .select(RememberedDevice::as_select())
        .first(conn)
        .optional()
}

pub fn touch(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(remembered_devices::table.find(id))
        .set(remembered_devices::last_used_at.eq(now))
        .execute(conn)
}

/// A user's devices that have not expired, newest first.
pub fn live_of_user(
    conn: &mut DbConn,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<RememberedDevice>> {
    remembered_devices::table
        .filter(remembered_devices::user_id.eq(user_id))
        .filter(remembered_devices::expires_at.gt(now))
        .order((
            remembered_devices::created_at.desc(),
            remembered_devices::id.desc(),
        ))
        .select(RememberedDevice::as_select())
        .load(conn)
}

/// Deletes device `id` if it is `user_id`'s; how many (0 or 1).
pub fn delete_of_user(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        remembered_devices::table
            .filter(remembered_devices::id.eq(id))
            .filter(remembered_devices::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// Deletes every device of a user; how many.
pub fn delete_all(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(remembered_devices::table.filter(remembered_devices::user_id.eq(user_id)))
        .execute(conn)
}

/// Deletes devices that expired before `before`; how many.
pub fn purge_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(remembered_devices::table.filter(remembered_devices::expires_at.lt(before)))
        .execute(conn)
}
