//! `invitations`: pending users, by a link stored as SHA-256.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitation_replaced_tokens, invitations};
use super::types::RoleRef;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: String,
    pub account_id: String,
    pub sub_account_id: Option<String>,
    pub email: String,
    pub display_name: String,
    pub role: RoleRef,
    pub token_hash: String,
    pub invited_by: Option<String>,
    /// The inviter's permissions (text) when they last sent it.
    pub ceiling: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, row: &Invitation) -> QueryResult<()> {
    diesel::insert_into(invitations::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The invitation `id` of `account_id` (another tenant's is `None`).
pub fn find_in_account(
    conn: &mut DbConn,
    account_id: &str,
    id: &str,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::id.eq(id))
        .filter(invitations::account_id.eq(account_id))
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_token(conn: &mut DbConn, hash: &str) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::token_hash.eq(hash))
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// The account's invitations, newest first, with the total.
pub fn list(
    conn: &mut DbConn,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<Invitation>, i64)> {
    let items = invitations::table
        .filter(invitations::account_id.eq(account_id))
        .order((invitations::created_at.desc(), invitations::id))
        .limit(limit)
        .offset(offset)
        .select(Invitation::as_select())
        .load(conn)?;
    let total = invitations::table
        .filter(invitations::account_id.eq(account_id))
        .count()
        .get_result(conn)?;
    Ok((items, total))
}

/// Whether `hash` is a link a resend replaced.
pub fn was_replaced(conn: &mut DbConn, hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        invitation_replaced_tokens::table.find(hash),
    ))
    .get_result(conn)
}

/// A new link for a pending invitation: the old one (`old_hash`) is kept
/// as replaced, so it answers "expired". 1 when it was still open.
#[allow(clippy::too_many_arguments)]
pub fn renew(
    conn: &mut DbConn,
    id: &str,
    old_hash: &str,
    hash: &str,
    expires_at: NaiveDateTime,
    ceiling: &str,
    invited_by: &str,
) -> QueryResult<usize> {
    diesel::insert_into(invitation_replaced_tokens::table)
        .values((
            invitation_replaced_tokens::token_hash.eq(old_hash),
            invitation_replaced_tokens::invitation_id.eq(id),
        ))
        .execute(conn)?;
    diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set((
        invitations::token_hash.eq(hash),
        invitations::expires_at.eq(expires_at),
        invitations::ceiling.eq(ceiling),
        invitations::invited_by.eq(invited_by),
    ))
    .execute(conn)
}

/// Accepts a live invitation by its link: 1 for the one caller that wins.
pub fn accept(conn: &mut DbConn, id: &str, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::token_hash.eq(hash))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(now)),
    )
    .set(invitations::accepted_at.eq(now))
    .execute(conn)
}

/// Revokes an open invitation: 1 when it was open.
pub fn revoke(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(now))
    .execute(conn)
}
