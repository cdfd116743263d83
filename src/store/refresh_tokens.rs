//! `refresh_tokens`: SHA-256 of each refresh token ever issued, spent on use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::refresh_tokens;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub token_hash: String,
    pub session_id: String,
    pub created_at: NaiveDateTime,
    pub spent_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, token: &RefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

/// Spends an unspent token: 1 for the one caller that wins, 0 for the rest.
pub fn spend(conn: &mut DbConn, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .filter(refresh_tokens::spent_at.is_null()),
    )
    .set(refresh_tokens::spent_at.eq(now))
    .execute(conn)
}

pub fn find(conn: &mut DbConn, hash: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .find(hash)
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// The short rotation: spends the token `hash` if it is unspent and its
/// session live (not revoked, not expired, used after `idle_cutoff`, its
/// user enabled), marks the session used and stores `next_hash` as its
/// successor — all or nothing. The spend is the same conditional UPDATE as
/// [`spend`] (with the liveness in its condition), so of concurrent callers
/// one wins. `Some(session id)` when it rotated; `None` when it did not
/// (unknown, spent or dead: the caller takes the full path, which tells
/// these apart, and nothing was changed).
///
/// PostgreSQL: one statement (a CTE), one round trip. SQLite: three
/// statements in one write transaction, so the writer's turn is short.
pub fn rotate_if_live(
    conn: &mut DbConn,
    hash: &str,
    next_hash: &str,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> QueryResult<Option<String>> {
    if let DbConn::Postgres(pg) = conn {
        return PgRotation {
            now,
            hash,
            idle_cutoff,
            next_hash,
        }
        .get_result::<Rotated>(pg)
        .optional()
        .map(|r| r.map(|r| r.session_id));
    }
    super::write_tx(conn, |conn| {
        let DbConn::Sqlite(lite) = conn else {
            unreachable!("PostgreSQL is handled above");
        };
        let spent = SqliteSpendIfLive {
            now,
            hash,
            idle_cutoff,
        }
        .get_result::<Rotated>(lite)
        .optional()?;
        let Some(Rotated { session_id }) = spent else {
            return Ok(None);
        };
        super::sessions::touch(conn, &session_id, now)?;
        insert(
            conn,
            &RefreshToken {
                token_hash: next_hash.to_string(),
                session_id: session_id.clone(),
                created_at: now,
                spent_at: None,
            },
        )?;
        Ok(Some(session_id))
    })
}

#[derive(QueryableByName)]
struct Rotated {
    #[diesel(sql_type = diesel::sql_types::Text)]
    session_id: String,
}

/// [`rotate_if_live`] on PostgreSQL, as a query type of its own: diesel
/// keeps its prepared statement per connection (a `sql_query` is parsed
/// and planned again on every execution: 1,100 against 1,600 refreshes a
/// second in `bench/profile`, side by side).
struct PgRotation<'a> {
    now: NaiveDateTime,
    hash: &'a str,
    idle_cutoff: NaiveDateTime,
    next_hash: &'a str,
}

impl diesel::query_builder::QueryId for PgRotation<'_> {
    type QueryId = PgRotation<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for PgRotation<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::pg::PgConnection> for PgRotation<'_> {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PgRotation<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Text, Timestamp};
        out.push_sql("WITH spent AS (UPDATE refresh_tokens AS r SET spent_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " FROM sessions AS s JOIN users AS u ON u.id = s.user_id \
             WHERE r.token_hash = ",
        );
        out.push_bind_param::<Text, _>(&self.hash)?;
        out.push_sql(
            " AND r.spent_at IS NULL AND s.id = r.session_id \
             AND s.revoked_at IS NULL AND s.expires_at > ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" AND s.last_used_at > ");
        out.push_bind_param::<Timestamp, _>(&self.idle_cutoff)?;
        out.push_sql(
            " AND u.disabled = FALSE RETURNING r.session_id), \
             touched AS (UPDATE sessions SET last_used_at = ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " WHERE id IN (SELECT session_id FROM spent) RETURNING id) \
             INSERT INTO refresh_tokens (token_hash, session_id, created_at, spent_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.next_hash)?;
        out.push_sql(", id, ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", NULL FROM touched RETURNING session_id");
        Ok(())
    }
}

/// The spend of [`rotate_if_live`] on SQLite (a conditional UPDATE with the
/// liveness in its condition, returning the session), as a query type of
/// its own so that its prepared statement is kept.
struct SqliteSpendIfLive<'a> {
    now: NaiveDateTime,
    hash: &'a str,
    idle_cutoff: NaiveDateTime,
}

impl diesel::query_builder::QueryId for SqliteSpendIfLive<'_> {
    type QueryId = SqliteSpendIfLive<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for SqliteSpendIfLive<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::sqlite::SqliteConnection> for SqliteSpendIfLive<'_> {}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SqliteSpendIfLive<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Text, Timestamp};
        out.push_sql("UPDATE refresh_tokens SET spent_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE token_hash = ");
        out.push_bind_param::<Text, _>(&self.hash)?;
        out.push_sql(
            " AND spent_at IS NULL AND EXISTS ( \
             SELECT 1 FROM sessions AS s JOIN users AS u ON u.id = s.user_id \
             WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL \
             AND s.expires_at > ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" AND s.last_used_at > ");
        out.push_bind_param::<Timestamp, _>(&self.idle_cutoff)?;
        out.push_sql(" AND u.disabled = 0) RETURNING session_id");
        Ok(())
    }
}

/// Deletes every refresh token of a session (its chain starts again).
pub fn delete_for_session(conn: &mut DbConn, session_id: &str) -> QueryResult<usize> {
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq(session_id)))
        .execute(conn)
}
