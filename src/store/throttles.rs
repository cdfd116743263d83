//! `login_throttles`: consecutive password failures per email key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::login_throttles;
use super::DbConn;

/// Creates the counter row if missing. Idempotent and outside any
/// transaction: a concurrent creator's unique violation is success.
pub fn ensure(conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<()> {
    let exists = login_throttles::table
        .find(key)
        .select(login_throttles::email_key)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if exists {
        return Ok(());
    }
    let inserted = diesel::insert_into(login_throttles::table)
        .values((
            login_throttles::email_key.eq(key),
            login_throttles::failures.eq(0),
            login_throttles::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Err(e) if super::is_unique_violation(&e) => Ok(()),
        other => other.map(drop),
    }
}

/// Reserves one password attempt: counts it as a failure up front (so a
/// parallel burst cannot outrun the budget) unless the key is locked.
/// `Ok(None)` when locked, with the lock end readable by [`locked_until`].
pub fn reserve_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    let updated = diesel::update(
        login_throttles::table
            .filter(login_throttles::email_key.eq(key))
            .filter(
                login_throttles::locked_until
                    .is_null()
                    .or(login_throttles::locked_until.le(now)),
            ),
    )
    .set((
        login_throttles::failures.eq(login_throttles::failures + 1),
        login_throttles::updated_at.eq(now),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    login_throttles::table
        .find(key)
        .select(login_throttles::failures)
        .first(conn)
        .map(Some)
}

pub fn locked_until(conn: &mut DbConn, key: &str) -> QueryResult<Option<NaiveDateTime>> {
    login_throttles::table
        .find(key)
        .select(login_throttles::locked_until)
        .first(conn)
        .optional()
        .map(Option::flatten)
}

pub fn lock(conn: &mut DbConn, key: &str, until: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(login_throttles::table.find(key))
        .set(login_throttles::locked_until.eq(Some(until)))
        .execute(conn)
}

/// A successful login: the count starts again.
pub fn reset(conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(login_throttles::table.find(key))
        .set((
            login_throttles::failures.eq(0),
            login_throttles::locked_until.eq(None::<NaiveDateTime>),
            login_throttles::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Deletes counters with no attempt counted since `idle_before` and no lock
/// in force then or later; returns how many.
pub fn purge_idle(conn: &mut DbConn, idle_before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        login_throttles::table
            .filter(login_throttles::updated_at.lt(idle_before))
            .filter(
                login_throttles::locked_until
                    .is_null()
                    .or(login_throttles::locked_until.lt(idle_before)),
            ),
    )
    .execute(conn)
}
