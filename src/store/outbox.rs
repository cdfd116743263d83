//! `outbox`: messages written with the change that causes them, sent later
//! by any node's sender.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub account_id: Option<String>,
    /// The template's name.
    pub kind: String,
    pub recipient: String,
    /// The template's values, JSON.
    pub vars: String,
    /// The link with its token, sealed with the master key (aad: the id);
    /// dropped once the message is sent or has failed.
    pub link: Option<String>,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub failed_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, row: &OutboxRow) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Claims up to `limit` due messages for one sender: each is held until
/// `held_until` (its attempt counted), so no other sender takes it unless
/// this one dies. PostgreSQL skips rows another node is claiming
/// (`FOR UPDATE SKIP LOCKED`); SQLite's one writer serializes claims.
/// Inside the caller's transaction.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    held_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let due = outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .filter(outbox::next_attempt_at.le(now))
        .order(outbox::next_attempt_at)
        .limit(limit)
        .select(outbox::id);
    let ids: Vec<String> = match conn {
        DbConn::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConn::Sqlite(lite) => due.load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let claim = diesel::update(outbox::table.filter(outbox::id.eq_any(&ids))).set((
        outbox::next_attempt_at.eq(held_until),
        outbox::attempts.eq(outbox::attempts + 1),
    ));
    match conn {
        DbConn::Postgres(pg) => claim.returning(OutboxRow::as_returning()).get_results(pg),
        DbConn::Sqlite(lite) => claim.returning(OutboxRow::as_returning()).get_results(lite),
    }
}

/// The rows [`claimed`] selects.
type ClaimedRow<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            diesel::dsl::Find<outbox::table, &'a str>,
            diesel::dsl::IsNull<outbox::sent_at>,
        >,
        diesel::dsl::IsNull<outbox::failed_at>,
    >,
    diesel::dsl::Eq<outbox::attempts, i32>,
>;

/// The message `id` as claimed by attempt `attempt`, still open.
fn claimed(id: &str, attempt: i32) -> ClaimedRow<'_> {
    outbox::table
        .find(id)
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .filter(outbox::attempts.eq(attempt))
}

/// Delivered: the link (a secret while it works) is dropped. This and the
/// two below apply only to the claim numbered `attempt` (the fencing
/// token): a sender whose lease ran out and was overtaken changes nothing.
pub fn mark_sent(
    conn: &mut DbConn,
    id: &str,
    attempt: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(claimed(id, attempt))
        .set((
            outbox::sent_at.eq(now),
            outbox::link.eq(None::<String>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

/// Not delivered this time: tried again at `next`.
pub fn retry_at(
    conn: &mut DbConn,
    id: &str,
    attempt: i32,
    next: NaiveDateTime,
    error: &str,
) -> QueryResult<usize> {
    diesel::update(claimed(id, attempt))
        .set((
            outbox::next_attempt_at.eq(next),
            outbox::last_error.eq(error),
        ))
        .execute(conn)
}

/// Given up: never tried again; the link is dropped.
pub fn mark_failed(
    conn: &mut DbConn,
    id: &str,
    attempt: i32,
    now: NaiveDateTime,
    error: &str,
) -> QueryResult<usize> {
    diesel::update(claimed(id, attempt))
        .set((
            outbox::failed_at.eq(now),
            outbox::link.eq(None::<String>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)
}

/// Messages not yet sent nor failed (for `/metrics` and the tests).
pub fn pending(conn: &mut DbConn) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::sent_at.is_null())
        .filter(outbox::failed_at.is_null())
        .count()
        .get_result(conn)
}

/// Deletes sent and failed messages older than `before`.
pub fn purge_done(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        outbox::table
            .filter(
                outbox::sent_at
                    .is_not_null()
                    .or(outbox::failed_at.is_not_null()),
            )
            .filter(outbox::created_at.lt(before)),
    )
    .execute(conn)
}
