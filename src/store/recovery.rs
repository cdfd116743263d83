//! `recovery_tokens`: at most one per user, stored as SHA-256.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::recovery_tokens;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = recovery_tokens)]
pub struct RecoveryToken {
    pub user_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

/// Replaces the user's token (the previous one stops working).
pub fn replace(conn: &mut DbConn, token: &RecoveryToken) -> QueryResult<()> {
    delete(conn, &token.user_id)?;
    diesel::insert_into(recovery_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<RecoveryToken>> {
    recovery_tokens::table
        .find(user_id)
        .select(RecoveryToken::as_select())
        .first(conn)
        .optional()
}

/// Uses the token: 1 for the one caller that wins, 0 otherwise.
pub fn use_token(
    conn: &mut DbConn,
    user_id: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        recovery_tokens::table
            .filter(recovery_tokens::user_id.eq(user_id))
            .filter(recovery_tokens::token_hash.eq(hash))
            .filter(recovery_tokens::used_at.is_null()),
    )
    .set(recovery_tokens::used_at.eq(Some(now)))
    .execute(conn)
}

pub fn delete(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(recovery_tokens::table.find(user_id)).execute(conn)
}
