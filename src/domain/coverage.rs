//! MFA coverage, per scope (the account's own users, then each
//! sub-account): how many users, how many enrolled and with what, how many
//! are due to enroll before a deadline and how many are past it. Three
//! queries whatever the number of scopes: the account, its sub-accounts,
//! and one grouped count over its users.

use chrono::NaiveDateTime;

use super::auth::Principal;
use super::policy::{self, Action, ScopePolicy};
use crate::error::{ApiError, ApiResult};
use crate::store::coverage::{self as coverage_store, ScopeCounts};
use crate::store::types::MfaMethods;
use crate::store::{accounts, sub_accounts, DbConn};

/// Which users a row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The account's own users (not those of a sub-account).
    Account,
    SubAccount,
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub scope: Scope,
    pub sub_account_id: Option<String>,
    pub name: String,
    pub require_mfa: bool,
    pub require_mfa_from: Option<NaiveDateTime>,
    pub mfa_methods: MfaMethods,
    pub counts: ScopeCounts,
    /// Required, without MFA, before the deadline.
    pub due: i64,
    /// The deadline of the `due` users (when there are any).
    pub due_at: Option<NaiveDateTime>,
    /// Required, without MFA, past the deadline (or required at once):
    /// they must enroll at their next sign-in.
    pub overdue: i64,
}

/// `GET /api/v1/mfa-coverage` (`users.view`).
pub fn report(conn: &mut DbConn, actor: &Principal, now: NaiveDateTime) -> ApiResult<Vec<Row>> {
    actor.may(Action::ListUsers)?;
    let account_id = &actor.user.account_id;
    let account = accounts::find(conn, account_id)?.ok_or(ApiError::NotFound)?;
    let subs = sub_accounts::all_of_account(conn, account_id)?;
    let counts = coverage_store::by_scope(conn, account_id)?;
    let counts_of = |id: Option<&str>| {
        counts
            .iter()
            .find(|c| c.sub_account_id.as_deref() == id)
            .cloned()
            .unwrap_or_default()
    };
    let account_policy = ScopePolicy {
        require_mfa: account.require_mfa,
        from: account.require_mfa_from,
    };
    let mut rows = vec![row(
        Scope::Account,
        None,
        account.name.clone(),
        account_policy,
        None,
        account.mfa_methods,
        counts_of(None),
        now,
    )];
    for sub in subs {
        let scope_policy = ScopePolicy {
            require_mfa: sub.require_mfa,
            from: sub.require_mfa_from,
        };
        rows.push(row(
            Scope::SubAccount,
            Some(sub.id.clone()),
            sub.name,
            account_policy,
            Some(scope_policy),
            policy::methods_flags(account.mfa_methods, Some(sub.mfa_methods)),
            counts_of(Some(&sub.id)),
            now,
        ));
    }
    Ok(rows)
}

/// A row, its un-enrolled users classed by [`policy::requirement_of`] (the
/// rule sign-in applies): the flagged ones are required at once, the
/// others as their scope says.
#[allow(clippy::too_many_arguments)]
fn row(
    scope: Scope,
    sub_account_id: Option<String>,
    name: String,
    account: ScopePolicy,
    sub_account: Option<ScopePolicy>,
    mfa_methods: MfaMethods,
    counts: ScopeCounts,
    now: NaiveDateTime,
) -> Row {
    let own = sub_account.unwrap_or(account);
    let (mut due, mut overdue, mut due_at) = (0, 0, None);
    let classes = [
        (true, counts.unenrolled_flagged),
        (false, counts.unenrolled - counts.unenrolled_flagged),
    ];
    for (flagged, n) in classes {
        if n == 0 {
            continue;
        }
        match policy::requirement_of(flagged, account, sub_account) {
            Some(r) if r.due(now) => overdue += n,
            Some(r) => {
                due += n;
                due_at = r.setup_due_at(now);
            }
            None => {}
        }
    }
    Row {
        scope,
        sub_account_id,
        name,
        require_mfa: own.require_mfa,
        require_mfa_from: own.from,
        mfa_methods,
        counts,
        due,
        due_at,
        overdue,
    }
}
