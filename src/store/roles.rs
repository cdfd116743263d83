//! `roles`: an account's custom roles (named permission sets).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::roles;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = roles)]
pub struct CustomRole {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub description: String,
    /// Permission names separated by spaces (see `domain::policy::Permissions`).
    pub permissions: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = roles)]
pub struct RoleChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, role: &CustomRole) -> QueryResult<()> {
    diesel::insert_into(roles::table)
        .values(role)
        .execute(conn)
        .map(drop)
}

/// The role `id` if it belongs to `account_id` (another tenant's is `None`).
pub fn find_in_account(
    conn: &mut DbConn,
    account_id: &str,
    id: &str,
) -> QueryResult<Option<CustomRole>> {
    roles::table
        .filter(roles::id.eq(id))
        .filter(roles::account_id.eq(account_id))
        .select(CustomRole::as_select())
        .first(conn)
        .optional()
}

/// Every custom role of an account (few per account), by name.
pub fn all_of_account(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<CustomRole>> {
    roles::table
        .filter(roles::account_id.eq(account_id))
        .order((roles::name.asc(), roles::id.asc()))
        .select(CustomRole::as_select())
        .load(conn)
}

pub fn list(
    conn: &mut DbConn,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<CustomRole>, i64)> {
    let items = roles::table
        .filter(roles::account_id.eq(account_id))
        .order((roles::name.asc(), roles::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(CustomRole::as_select())
        .load(conn)?;
    let total = roles::table
        .filter(roles::account_id.eq(account_id))
        .count()
        .get_result(conn)?;
    Ok((items, total))
}

pub fn update(conn: &mut DbConn, id: &str, changes: &RoleChanges) -> QueryResult<usize> {
    diesel::update(roles::table.find(id))
        .set(changes)
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(roles::table.find(id)).execute(conn)
}

/// The permissions text of the custom role `id` of `account_id`, if any.
pub fn permissions_of(
    conn: &mut DbConn,
    account_id: &str,
    id: &str,
) -> QueryResult<Option<String>> {
    roles::table
        .filter(roles::id.eq(id))
        .filter(roles::account_id.eq(account_id))
        .select(roles::permissions)
        .first(conn)
        .optional()
}
