//! Whom MFA is required of, from when, and which factors count: the
//! user's own rule, their sub-account's or the account's "Require MFA" with
//! its deadline, and `mfa_methods`. The rule is [`requirement_of`], the
//! only copy; `policy` re-exports it with the rest of who may do what.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::store::types::MfaMethods;
use crate::store::users::User;
use crate::store::{accounts, sub_accounts, DbConn};

/// Which rule makes MFA mandatory for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequiredBy {
    /// The user's own `require_mfa`.
    User,
    SubAccount,
    Account,
}

/// One scope's "Require MFA": on or off, and from when (`None`: at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopePolicy {
    pub require_mfa: bool,
    pub from: Option<NaiveDateTime>,
}

/// MFA required of a user: by which rule, and from when (`None`: now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub by: RequiredBy,
    pub from: Option<NaiveDateTime>,
}

impl Requirement {
    /// Whether a user without MFA must enroll before signing in, at `now`.
    pub fn due(&self, now: NaiveDateTime) -> bool {
        self.from.is_none_or(|from| now >= from)
    }

    /// Until when a user without MFA may still sign in without it.
    pub fn setup_due_at(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.from.filter(|from| now < *from)
    }
}

/// The rule itself, the only copy. The user's own `require_mfa` applies at
/// once, whatever the scope says; otherwise the sub-account's policy covers
/// sub-account users (`sub_account` is `Some` exactly for them) and the
/// account's policy the account's own users, each from its deadline.
/// Turning one rule off leaves the others as they are.
pub fn requirement_of(
    user_requires_mfa: bool,
    account: ScopePolicy,
    sub_account: Option<ScopePolicy>,
) -> Option<Requirement> {
    if user_requires_mfa {
        return Some(Requirement {
            by: RequiredBy::User,
            from: None,
        });
    }
    let (scope, by) = match sub_account {
        Some(sub) => (sub, RequiredBy::SubAccount),
        None => (account, RequiredBy::Account),
    };
    scope.require_mfa.then_some(Requirement {
        by,
        from: scope.from,
    })
}

/// Which second factors count, from the account's and the sub-account's
/// settings: the stricter of the two.
pub fn methods_flags(account: MfaMethods, sub_account: Option<MfaMethods>) -> MfaMethods {
    account.max(sub_account.unwrap_or_default())
}

/// [`methods_flags`] for one user, reading the policy of their scope.
pub fn methods_for(conn: &mut DbConn, user: &User) -> ApiResult<MfaMethods> {
    Ok(scope_rules(conn, user)?.methods)
}

/// A deadline belongs to a policy that is on (422 otherwise).
pub fn check_deadline(require_mfa: bool, from: Option<NaiveDateTime>) -> ApiResult<()> {
    if from.is_some() && !require_mfa {
        return Err(ApiError::invalid(
            "require_mfa_from",
            "a deadline needs require_mfa: true",
        ));
    }
    Ok(())
}

/// [`requirement_of`] for one user, reading the policy of their scope.
pub fn mfa_requirement(conn: &mut DbConn, user: &User) -> ApiResult<Option<Requirement>> {
    Ok(scope_rules(conn, user)?.requirement)
}

/// Everything the scope of a user rules on their sign-in, from one read of
/// the account (and of the sub-account, for its users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeRules {
    /// [`requirement_of`].
    pub requirement: Option<Requirement>,
    /// [`methods_flags`].
    pub methods: MfaMethods,
    /// How long a remembered device skips the second step (0: never).
    pub remember_device_days: i32,
}

/// [`ScopeRules`] of `user`.
pub fn scope_rules(conn: &mut DbConn, user: &User) -> ApiResult<ScopeRules> {
    let account = accounts::find(conn, &user.account_id)?;
    // `Some` exactly for sub-account users, whether or not the row is there.
    let sub = match &user.sub_account_id {
        Some(id) => Some(sub_accounts::find(conn, id)?),
        None => None,
    };
    let account_policy = account
        .as_ref()
        .map(|a| ScopePolicy {
            require_mfa: a.require_mfa,
            from: a.require_mfa_from,
        })
        .unwrap_or_default();
    let sub_policy = sub.as_ref().map(|s| {
        s.as_ref()
            .map(|s| ScopePolicy {
                require_mfa: s.require_mfa,
                from: s.require_mfa_from,
            })
            .unwrap_or_default()
    });
    Ok(ScopeRules {
        requirement: requirement_of(user.require_mfa, account_policy, sub_policy),
        methods: methods_flags(
            account.as_ref().map(|a| a.mfa_methods).unwrap_or_default(),
            sub.flatten().map(|s| s.mfa_methods),
        ),
        remember_device_days: account.map_or(0, |a| a.remember_device_days),
    })
}
