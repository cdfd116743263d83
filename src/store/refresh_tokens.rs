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

/// Deletes every refresh token of a session (its chain starts again).
pub fn delete_for_session(conn: &mut DbConn, session_id: &str) -> QueryResult<usize> {
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq(session_id)))
        .execute(conn)
}
