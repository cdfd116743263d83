//! Refresh tokens. A session's chain of tokens (`crypto::refresh`) lives on
//! its own row: `refresh_hash` (the SHA-256 of the current token),
//! `refresh_generation` (its generation) and `refresh_chain_start` (the
//! first generation of the chain as it stands: a factor proven in the
//! session starts a new chain, and the old chain's tokens are then merely
//! unknown). A refresh updates that row in place.
//!
//! The `refresh_tokens` table holds the tokens issued before chains, one
//! row per token (its hash), spent on use, until their sessions are purged.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{refresh_tokens, sessions, users};
use super::sessions::{
    context_select, find_live_context, ContextRow, ContextSelect, ContextSqlType, SessionContext,
};
use super::DbConn;

/// Where a session's chain stands.
#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct ChainPosition {
    pub user_id: String,
    /// The generation of the current token.
    pub generation: i64,
    /// The first generation of the current chain.
    pub chain_start: i64,
}

/// The session's chain position (any session, live or not).
pub fn position(conn: &mut DbConn, session_id: &str) -> QueryResult<Option<ChainPosition>> {
    sessions::table
        .find(session_id)
        .select((
            sessions::user_id,
            sessions::refresh_generation,
            sessions::refresh_chain_start,
        ))
        .first(conn)
        .optional()
}

/// Starts a new chain on the session at `generation`, whose token hashes
/// to `hash`: earlier tokens of the session stop working, and since they
/// are before the chain's start, presenting one is not taken for reuse.
pub fn start_chain(
    conn: &mut DbConn,
    session_id: &str,
    generation: i64,
    hash: &str,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(session_id))
        .set((
            sessions::refresh_hash.eq(hash),
            sessions::refresh_generation.eq(generation),
            sessions::refresh_chain_start.eq(generation),
        ))
        .execute(conn)
}

/// One step of a chain: the presented token (its hash) and its successor.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub session_id: &'a str,
    pub hash: &'a str,
    pub next_hash: &'a str,
    pub next_generation: i64,
}

/// What [`rotate_if_live`] did.
#[derive(Debug)]
pub enum Rotation {
    /// Nothing: the token is not the session's current one, or the session
    /// is not live (the caller tells these apart).
    Skipped,
    /// The session's current token is now the successor. The session as it
    /// is after the rotation, with its user and their scope's policies;
    /// `None` if it ended in between (the successor is as dead as the
    /// session).
    Rotated(Option<Box<SessionContext>>),
}

/// The rotation, in place: if `step.hash` is the session's current token
/// and the session is live (not revoked, not expired, used after
/// `idle_cutoff`, its user enabled), the successor becomes its current
/// token and the session is marked used — one conditional UPDATE of the
/// session row, so of concurrent callers presenting one token exactly one
/// wins. Then the session context, as [`find_live_context`] reads it.
///
/// PostgreSQL: one statement (a CTE that also returns the context), one
/// round trip. SQLite: the UPDATE is the writer's whole turn, and the
/// context is read after it committed.
pub fn rotate_if_live(
    conn: &mut DbConn,
    step: Step<'_>,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> QueryResult<Rotation> {
    if let DbConn::Postgres(pg) = conn {
        let row = PgRotation {
            step,
            now,
            idle_cutoff,
            select: context_select(),
        }
        .get_result::<ContextRow>(pg)
        .optional()?;
        return Ok(match row {
            None => Rotation::Skipped,
            Some(row) => {
                // The session row is the one the UPDATE returned; the user
                // row was read before the UPDATE locked the session, so its
                // state is checked again on what the statement returns.
                let context = SessionContext::from(row);
                let live = context.session.is_live(now, idle_cutoff) && !context.user.disabled;
                Rotation::Rotated(live.then(|| Box::new(context)))
            }
        });
    }
    let rotated = super::write_tx(conn, |conn| {
        let enabled_user = users::table
            .filter(users::id.eq(sessions::user_id))
            .filter(users::disabled.eq(false));
        diesel::update(
            sessions::table
                .filter(sessions::id.eq(step.session_id))
                .filter(sessions::refresh_hash.eq(step.hash))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .filter(sessions::last_used_at.gt(idle_cutoff))
                .filter(diesel::dsl::exists(enabled_user)),
        )
        .set((
            sessions::refresh_hash.eq(step.next_hash),
            sessions::refresh_generation.eq(step.next_generation),
            sessions::last_used_at.eq(now),
        ))
        .execute(conn)
    })?;
    if rotated == 0 {
        return Ok(Rotation::Skipped);
    }
    // Read after the rotation committed, outside the writer's turn.
    let context = find_live_context(conn, step.session_id, now, idle_cutoff)?;
    Ok(Rotation::Rotated(context.map(Box::new)))
}

/// [`rotate_if_live`] on PostgreSQL, as a query type of its own: diesel
/// keeps its prepared statement per connection (a `sql_query` is parsed
/// and planned again on every execution: 1,100 against 1,600 refreshes a
/// second in `bench/profile`, side by side).
struct PgRotation<'a> {
    step: Step<'a>,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
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
        use diesel::sql_types::{BigInt, Text, Timestamp};
        out.push_sql("WITH touched AS (UPDATE sessions SET refresh_hash = ");
        out.push_bind_param::<Text, _>(&self.step.next_hash)?;
        out.push_sql(", refresh_generation = ");
        out.push_bind_param::<BigInt, _>(&self.step.next_generation)?;
        out.push_sql(", last_used_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" FROM users AS u WHERE sessions.id = ");
        out.push_bind_param::<Text, _>(&self.step.session_id)?;
        out.push_sql(" AND sessions.refresh_hash = ");
        out.push_bind_param::<Text, _>(&self.step.hash)?;
        out.push_sql(" AND sessions.revoked_at IS NULL AND sessions.expires_at > ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" AND sessions.last_used_at > ");
        out.push_bind_param::<Timestamp, _>(&self.idle_cutoff)?;
        // The context: the session as the UPDATE left it (named `sessions`
        // so that the select list is diesel's own, column for column).
        out.push_sql(
            " AND u.id = sessions.user_id AND u.disabled = FALSE RETURNING sessions.*) SELECT ",
        );
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

/// A token from before chains.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = refresh_tokens)]
pub struct LegacyToken {
    pub token_hash: String,
    pub session_id: String,
    pub created_at: NaiveDateTime,
    pub spent_at: Option<NaiveDateTime>,
}

/// Spends an unspent token from before chains: 1 for the one caller that
/// wins, 0 for the rest.
pub fn spend_legacy(conn: &mut DbConn, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .filter(refresh_tokens::spent_at.is_null()),
    )
    .set(refresh_tokens::spent_at.eq(now))
    .execute(conn)
}

pub fn find_legacy(conn: &mut DbConn, hash: &str) -> QueryResult<Option<LegacyToken>> {
    refresh_tokens::table
        .find(hash)
        .select(LegacyToken::as_select())
        .first(conn)
        .optional()
}

/// Deletes a session's tokens from before chains.
pub fn delete_legacy_for_session(conn: &mut DbConn, session_id: &str) -> QueryResult<usize> {
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq(session_id)))
        .execute(conn)
}
