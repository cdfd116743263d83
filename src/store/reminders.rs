//! `mfa_reminders`: which deadline reminder went to whom. The primary key
//! (user, deadline, days before) makes "each once" one INSERT.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{accounts, mfa_reminders, sub_accounts, users};
use super::users::User;
use super::DbConn;

/// Records the reminder `days_before` the `deadline` for `user_id`; 1 when
/// this call recorded it, 0 when it was recorded before (by this node or
/// another).
pub fn claim(
    conn: &mut DbConn,
    user_id: &str,
    deadline: NaiveDateTime,
    days_before: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let row = (
        mfa_reminders::user_id.eq(user_id),
        mfa_reminders::deadline.eq(deadline),
        mfa_reminders::days_before.eq(days_before),
        mfa_reminders::sent_at.eq(now),
    );
    let insert = diesel::insert_into(mfa_reminders::table)
        .values(row)
        .on_conflict_do_nothing();
    match conn {
        DbConn::Postgres(pg) => insert.execute(pg),
        DbConn::Sqlite(lite) => insert.execute(lite),
    }
}

/// Accounts whose "Require MFA" deadline lies in `(after, until]`: (id,
/// name, deadline, mfa_methods).
pub fn accounts_due(
    conn: &mut DbConn,
    after: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<(String, String, NaiveDateTime, String)>> {
    accounts::table
        .filter(accounts::require_mfa.eq(true))
        .filter(accounts::require_mfa_from.gt(after))
        .filter(accounts::require_mfa_from.le(until))
        .select((
            accounts::id,
            accounts::name,
            accounts::require_mfa_from.assume_not_null(),
            accounts::mfa_methods,
        ))
        .load(conn)
}

/// Sub-accounts whose deadline lies in `(after, until]`: (id, account id,
/// deadline, mfa_methods).
pub fn sub_accounts_due(
    conn: &mut DbConn,
    after: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<(String, String, NaiveDateTime, String)>> {
    sub_accounts::table
        .filter(sub_accounts::require_mfa.eq(true))
        .filter(sub_accounts::require_mfa_from.gt(after))
        .filter(sub_accounts::require_mfa_from.le(until))
        .select((
            sub_accounts::id,
            sub_accounts::account_id,
            sub_accounts::require_mfa_from.assume_not_null(),
            sub_accounts::mfa_methods,
        ))
        .load(conn)
}

/// The enabled users of a scope (the account's own users when
/// `sub_account_id` is `None`) who have no MFA and are not required by
/// their own rule (which has no deadline).
pub fn unenrolled_in_scope(
    conn: &mut DbConn,
    account_id: &str,
    sub_account_id: Option<&str>,
) -> QueryResult<Vec<User>> {
    let base = users::table
        .filter(users::account_id.eq(account_id))
        .filter(users::disabled.eq(false))
        .filter(users::mfa_enabled_at.is_null())
        .filter(users::require_mfa.eq(false))
        .select(User::as_select())
        .into_boxed();
    match sub_account_id {
        Some(id) => base.filter(users::sub_account_id.eq(id)).load(conn),
        None => base.filter(users::sub_account_id.is_null()).load(conn),
    }
}
