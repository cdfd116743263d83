//! `refresh_tokens`: SHA-256 of each refresh token ever issued, spent on use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::refresh_tokens;
use super::sessions::{
    context_select, find_live_context, ContextRow, ContextSelect, ContextSqlType, SessionContext,
};
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

/// What [`rotate_if_live`] did.
#[derive(Debug)]
pub enum Rotation {
    /// Nothing: the token is unknown or spent, or its session is not live
    /// (the caller's full path tells these apart).
    Skipped,
    /// The token was spent and its successor stored. The session as it is
    /// after the rotation, with its user and their scope's policies; `None`
    /// if it ended in between (its successor is as dead as the session).
    Rotated(Option<Box<SessionContext>>),
}

/// The short rotation: spends the token `hash` if it is unspent and its
/// session live (not revoked, not expired, used after `idle_cutoff`, its
/// user enabled), marks the session used and stores `next_hash` as its
/// successor — all or nothing. The spend is the same conditional UPDATE as
/// [`spend`] (with the liveness in its condition), so of concurrent callers
/// one wins. Then the session context, as [`find_live_context`] reads it.
///
/// PostgreSQL: one statement (a CTE that also returns the context), one
/// round trip. SQLite: three statements in one write transaction, so the
/// writer's turn is short, and the context read after it committed.
pub fn rotate_if_live(
    conn: &mut DbConn,
    hash: &str,
    next_hash: &str,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> QueryResult<Rotation> {
    if let DbConn::Postgres(pg) = conn {
        let row = PgRotation {
            now,
            hash,
            idle_cutoff,
            next_hash,
            select: context_select(),
        }
        .get_result::<ContextRow>(pg)
        .optional()?;
        return Ok(match row {
            None => Rotation::Skipped,
            Some(row) => {
                // The session row is the one the rotation's UPDATE returned:
                // a revocation committed before it locked the row shows here.
                let context = SessionContext::from(row);
                let live = context.session.is_live(now, idle_cutoff) && !context.user.disabled;
                Rotation::Rotated(live.then(|| Box::new(context)))
            }
        });
    }
    let rotated = super::write_tx(conn, |conn| -> QueryResult<Option<String>> {
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
    })?;
    let Some(session_id) = rotated else {
        return Ok(Rotation::Skipped);
    };
    // Read after the rotation committed, outside the writer's turn.
    let context = find_live_context(conn, &session_id, now, idle_cutoff)?;
    Ok(Rotation::Rotated(context.map(Box::new)))
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
    /// What the statement returns ([`context_select`]).
    select: ContextSelect<diesel::pg::Pg>,
}

impl diesel::query_builder::QueryId for PgRotation<'_> {
    type QueryId = PgRotation<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for PgRotation<'_> {
    type SqlType = ContextSqlType;
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
            " WHERE id IN (SELECT session_id FROM spent) RETURNING *), \
             successor AS (INSERT INTO refresh_tokens (token_hash, session_id, created_at, spent_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.next_hash)?;
        out.push_sql(", id, ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        // The context: the session as the UPDATE left it (named `sessions`
        // so that the select list is diesel's own, column for column).
        out.push_sql(", NULL FROM touched) SELECT ");
        self.select.walk_ast(out.reborrow())?;
        out.push_sql(
            " FROM touched AS sessions \
             INNER JOIN users ON users.id = sessions.user_id \
             INNER JOIN accounts ON accounts.id = users.account_id \
             LEFT JOIN sub_accounts ON sub_accounts.id = users.sub_account_id \
             LEFT JOIN recovery_tokens ON recovery_tokens.user_id = users.id \
             LEFT JOIN roles ON roles.id = users.role AND roles.account_id = users.account_id",
        );
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
