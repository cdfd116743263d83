//! `accounts`: tenants.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::accounts;
use super::types::MfaMethods;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub require_mfa: bool,
    pub created_at: NaiveDateTime,
    pub mfa_methods: MfaMethods,
    /// With `require_mfa`: required users without MFA must enroll from
    /// then on (before it, they are told when setup is due).
    pub require_mfa_from: Option<NaiveDateTime>,
    /// How long a remembered device skips the second step (0: never).
    pub remember_device_days: i32,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = accounts)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub require_mfa: Option<bool>,
    pub mfa_methods: Option<MfaMethods>,
    pub require_mfa_from: Option<Option<NaiveDateTime>>,
    pub remember_device_days: Option<i32>,
}

pub fn insert(conn: &mut DbConn, account: &Account) -> QueryResult<()> {
    diesel::insert_into(accounts::table)
        .values(account)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()
}

pub fn update(conn: &mut DbConn, id: &str, changes: &AccountChanges) -> QueryResult<usize> {
    if changes.name.is_none()
        && changes.require_mfa.is_none()
        && changes.mfa_methods.is_none()
        && changes.require_mfa_from.is_none()
        && changes.remember_device_days.is_none()
    {
        return Ok(0);
    }
    diesel::update(accounts::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Takes the account row's lock for the rest of the transaction (a no-op
/// UPDATE): changes that must keep an invariant over the account's users
/// (one active administrator remains) run one at a time per account.
pub fn lock(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(accounts::table.find(id))
        .set(accounts::require_mfa.eq(accounts::require_mfa))
        .execute(conn)
}
