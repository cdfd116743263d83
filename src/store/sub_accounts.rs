//! `sub_accounts`: client organizations of an account, with their own policy.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{sub_accounts, users};
use super::types::MfaMethods;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sub_accounts)]
pub struct SubAccount {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub require_mfa: bool,
    pub created_at: NaiveDateTime,
    pub mfa_methods: MfaMethods,
    /// As the account's: the deadline of `require_mfa`.
    pub require_mfa_from: Option<NaiveDateTime>,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = sub_accounts)]
pub struct SubAccountChanges {
    pub name: Option<String>,
    pub require_mfa: Option<bool>,
    pub mfa_methods: Option<MfaMethods>,
    pub require_mfa_from: Option<Option<NaiveDateTime>>,
}

pub fn insert(conn: &mut DbConn, sub: &SubAccount) -> QueryResult<()> {
    diesel::insert_into(sub_accounts::table)
        .values(sub)
        .execute(conn)
        .map(drop)
}

/// The sub-account `id` if it belongs to `account_id` (another tenant's is `None`).
pub fn find_in_account(
    conn: &mut DbConn,
    account_id: &str,
    id: &str,
) -> QueryResult<Option<SubAccount>> {
    sub_accounts::table
        .filter(sub_accounts::id.eq(id))
        .filter(sub_accounts::account_id.eq(account_id))
        .select(SubAccount::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<SubAccount>> {
    sub_accounts::table
        .find(id)
        .select(SubAccount::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConn,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<SubAccount>, i64)> {
    let items = sub_accounts::table
        .filter(sub_accounts::account_id.eq(account_id))
        .order((sub_accounts::created_at.asc(), sub_accounts::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(SubAccount::as_select())
        .load(conn)?;
    let total = sub_accounts::table
        .filter(sub_accounts::account_id.eq(account_id))
        .count()
        .get_result(conn)?;
    Ok((items, total))
}

pub fn user_count(conn: &mut DbConn, id: &str) -> QueryResult<i64> {
    users::table
        .filter(users::sub_account_id.eq(id))
        .count()
        .get_result(conn)
}

pub fn update(conn: &mut DbConn, id: &str, changes: &SubAccountChanges) -> QueryResult<usize> {
    if changes.name.is_none()
        && changes.require_mfa.is_none()
        && changes.mfa_methods.is_none()
        && changes.require_mfa_from.is_none()
    {
        return Ok(0);
    }
    diesel::update(sub_accounts::table.find(id))
        .set(changes)
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(sub_accounts::table.find(id)).execute(conn)
}

/// Users per sub-account, for the given sub-accounts (one grouped query).
pub fn user_counts(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, i64>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(Option<String>, i64)> = users::table
        .filter(users::sub_account_id.eq_any(ids))
        .group_by(users::sub_account_id)
        .select((users::sub_account_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, n)| id.map(|id| (id, n)))
        .collect())
}

/// `require_mfa` of the given sub-accounts (one query).
pub fn policies(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, (bool, Option<NaiveDateTime>)>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(sub_accounts::table
        .filter(sub_accounts::id.eq_any(ids))
        .select((
            sub_accounts::id,
            sub_accounts::require_mfa,
            sub_accounts::require_mfa_from,
        ))
        .load::<(String, bool, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(id, on, from)| (id, (on, from)))
        .collect())
}

/// Every sub-account of an account, oldest first (the coverage report
/// reads them whole: one query whatever their number).
pub fn all_of_account(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<SubAccount>> {
    sub_accounts::table
        .filter(sub_accounts::account_id.eq(account_id))
        .order((sub_accounts::created_at.asc(), sub_accounts::id.asc()))
        .select(SubAccount::as_select())
        .load(conn)
}
