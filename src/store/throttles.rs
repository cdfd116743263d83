//! `login_throttles`: consecutive password failures per email key, and (keys
//! of their own) how many mails of a kind an address got in the current
//! window ([`count_in_window`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::login_throttles;
use super::DbConn;

/// Reserves one password attempt: counts it as a failure up front (so a
/// parallel burst cannot outrun the budget) unless the key is locked, and
/// returns the new count. One statement: the counter row is created at 1
/// if missing, else counted up unless locked. `Ok(None)` when locked, with
/// the lock end readable by [`locked_until`].
pub fn reserve_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    use login_throttles::{email_key, failures, locked_until, updated_at};
    let upsert = diesel::insert_into(login_throttles::table)
        .values((email_key.eq(key), failures.eq(1), updated_at.eq(now)))
        .on_conflict(email_key)
        .do_update()
        .set((failures.eq(failures + 1), updated_at.eq(now)));
    // `DO UPDATE ... WHERE` (QueryDsl's `filter` does not reach it).
    // `locked_until <= now` is NULL only when `locked_until` is, and then
    // the first operand holds: the condition is never NULL.
    let upsert = diesel::query_dsl::methods::FilterDsl::filter(
        upsert,
        locked_until
            .is_null()
            .or(locked_until.le(now).assume_not_null()),
    )
    .returning(failures);
    match conn {
        DbConn::Postgres(pg) => upsert.get_result(pg).optional(),
        DbConn::Sqlite(lite) => upsert.get_result(lite).optional(),
    }
}

/// Counts one more mail for `key` in a window ending at `window_end` (the
/// current window when one is open, else a new one) and returns the count
/// so far: atomic on both backends (an expired window is restarted by one
/// conditional UPDATE, then one upsert counts), so a parallel burst cannot
/// outrun the limit. Here `failures` is the count and `locked_until` the
/// window's end.
pub fn count_in_window(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    window_end: NaiveDateTime,
) -> QueryResult<i32> {
    use login_throttles::{email_key, failures, locked_until, updated_at};
    diesel::update(
        login_throttles::table.filter(email_key.eq(key)).filter(
            locked_until
                .is_null()
                .or(locked_until.le(now).assume_not_null()),
        ),
    )
    .set((failures.eq(0), locked_until.eq(Some(window_end))))
    .execute(conn)?;
    let upsert = diesel::insert_into(login_throttles::table)
        .values((
            email_key.eq(key),
            failures.eq(1),
            updated_at.eq(now),
            locked_until.eq(Some(window_end)),
        ))
        .on_conflict(email_key)
        .do_update()
        .set((failures.eq(failures + 1), updated_at.eq(now)))
        .returning(failures);
    match conn {
        DbConn::Postgres(pg) => upsert.get_result(pg),
        DbConn::Sqlite(lite) => upsert.get_result(lite),
    }
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
