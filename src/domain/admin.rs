//! Administration of one's own account: the account policy, sub-accounts,
//! users, Reset MFA. Every function checks the actor's permission itself
//! (`policy::allows` through the principal); every lookup is scoped by the
//! actor's account, so another tenant's rows are simply not found; every
//! change that keeps an invariant over the account's users (one active
//! administrator remains) first takes the account row's lock.

use super::audit::{self, Event};
use super::auth::{begin_change, Current, Principal};
use super::policy::{self, Action, ScopePolicy};
use super::principals::{self, Change};
use super::{parse_id, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::store::accounts::{self as account_store, Account, AccountChanges};
use crate::store::sub_accounts::{self as sub_store, SubAccount, SubAccountChanges};
use crate::store::types::{MfaMethods, RoleRef};
use crate::store::users::{self as user_store, User, UserChanges, UserFilter};
use crate::store::{write_tx, DbConn};

/// A user as administrators see them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: User,
    /// A policy requires MFA for the user.
    pub mfa_required: bool,
}

/// The user `id` of the actor's account that the actor may act on: 404
/// for anyone else's user, 403 for one who holds more than the actor
/// ([`policy::within_reach`]).
pub(super) fn touch(conn: &mut DbConn, current: &Current, id: &str) -> ApiResult<User> {
    let target = user_store::find_in_account(conn, &current.user.account_id, id)?
        .ok_or(ApiError::NotFound)?;
    policy::within_reach(conn, current.permissions, &target)?;
    Ok(target)
}

fn own_account(conn: &mut DbConn, account_id: &str) -> ApiResult<Account> {
    account_store::find(conn, account_id)?.ok_or(ApiError::NotFound)
}

pub fn account(conn: &mut DbConn, actor: &Principal) -> ApiResult<Account> {
    actor.may(Action::ViewAccount)?;
    own_account(conn, &actor.user.account_id)
}

/// Renames the account (`account.manage`) and/or turns Require MFA on or
/// off (`account.policy`).
pub fn update_account(
    conn: &mut DbConn,
    actor: &Principal,
    changes: AccountChanges,
    ctx: &Ctx,
) -> ApiResult<Account> {
    write_tx(conn, |conn| {
        let mut changes = changes;
        let current = begin_change(conn, actor, Action::ViewAccount, ctx.now)?;
        if changes.name.is_some() {
            current.may(Action::RenameAccount)?;
        }
        if changes.require_mfa.is_some()
            || changes.mfa_methods.is_some()
            || changes.require_mfa_from.is_some()
            || changes.remember_device_days.is_some()
        {
            current.may(Action::ChangeAccountPolicy)?;
        }
        if let Some(days) = changes.remember_device_days {
            if !(0..=super::devices::MAX_DAYS).contains(&days) {
                return Err(ApiError::invalid(
                    "remember_device_days",
                    "0 (off) to 90 days",
                ));
            }
        }
        // Off drops the deadline with it.
        if changes.require_mfa == Some(false) && changes.require_mfa_from.is_none() {
            changes.require_mfa_from = Some(None);
        }
        let before = own_account(conn, &current.user.account_id)?;
        account_store::update(conn, &before.id, &changes)?;
        principals::changed(conn, Change::Account(&before.id))?;
        let after = own_account(conn, &before.id)?;
        policy::check_deadline(after.require_mfa, after.require_mfa_from)?;
        if before.require_mfa != after.require_mfa
            || before.mfa_methods != after.mfa_methods
            || before.require_mfa_from != after.require_mfa_from
            || before.remember_device_days != after.remember_device_days
        {
            // A change of the policy (a value sent as it was is none):
            // refused, and rolled back, without a recent factor.
            current.stepped_up(ctx.now)?;
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::ACCOUNT_POLICY_CHANGED,
                    account_id: Some(&after.id),
                    actor: Some(&current.user.id),
                    target: None,
                    details: serde_json::json!({
                        "require_mfa": after.require_mfa,
                        "require_mfa_from": after.require_mfa_from.map(|t| t.and_utc()),
                        "mfa_methods": after.mfa_methods,
                        "remember_device_days": after.remember_device_days,
                    }),
                },
            )?;
        }
        Ok(after)
    })
}

pub fn list_sub_accounts(
    conn: &mut DbConn,
    actor: &Principal,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<(SubAccount, i64)>, i64)> {
    actor.may(Action::ManageSubAccounts)?;
    let (items, total) = sub_store::list(conn, &actor.user.account_id, limit, offset)?;
    let ids: Vec<String> = items.iter().map(|s| s.id.clone()).collect();
    let counts = sub_store::user_counts(conn, &ids)?;
    let items = items
        .into_iter()
        .map(|s| {
            let n = counts.get(&s.id).copied().unwrap_or(0);
            (s, n)
        })
        .collect();
    Ok((items, total))
}

fn find_sub_account(conn: &mut DbConn, account_id: &str, id: &str) -> ApiResult<(SubAccount, i64)> {
    let id = parse_id(id)?;
    let sub = sub_store::find_in_account(conn, account_id, &id)?.ok_or(ApiError::NotFound)?;
    let count = sub_store::user_count(conn, &sub.id)?;
    Ok((sub, count))
}

pub fn sub_account(conn: &mut DbConn, actor: &Principal, id: &str) -> ApiResult<(SubAccount, i64)> {
    actor.may(Action::ManageSubAccounts)?;
    find_sub_account(conn, &actor.user.account_id, id)
}

/// The MFA policy a new sub-account starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewScopePolicy {
    pub require_mfa: bool,
    pub require_mfa_from: Option<chrono::NaiveDateTime>,
    pub mfa_methods: MfaMethods,
}

pub fn create_sub_account(
    conn: &mut DbConn,
    actor: &Principal,
    name: String,
    policy: NewScopePolicy,
    ctx: &Ctx,
) -> ApiResult<SubAccount> {
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageSubAccounts, ctx.now)?;
        if policy != NewScopePolicy::default() {
            current.may(Action::ChangeSubAccountPolicy)?;
            current.stepped_up(ctx.now)?;
        }
        policy::check_deadline(policy.require_mfa, policy.require_mfa_from)?;
        let sub = SubAccount {
            id: super::new_id(),
            account_id: current.user.account_id.clone(),
            name,
            require_mfa: policy.require_mfa,
            created_at: ctx.now,
            mfa_methods: policy.mfa_methods,
            require_mfa_from: policy.require_mfa_from,
        };
        sub_store::insert(conn, &sub)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::SUB_ACCOUNT_CREATED,
                account_id: Some(&sub.account_id),
                actor: Some(&current.user.id),
                target: None,
                details: serde_json::json!({
                    "sub_account_id": sub.id,
                    "name": sub.name,
                    "require_mfa": sub.require_mfa,
                    "require_mfa_from": sub.require_mfa_from.map(|t| t.and_utc()),
                    "mfa_methods": sub.mfa_methods,
                }),
            },
        )?;
        Ok(sub)
    })
}

pub fn update_sub_account(
    conn: &mut DbConn,
    actor: &Principal,
    id: &str,
    changes: SubAccountChanges,
    ctx: &Ctx,
) -> ApiResult<(SubAccount, i64)> {
    write_tx(conn, |conn| {
        let mut changes = changes;
        let current = begin_change(conn, actor, Action::ManageSubAccounts, ctx.now)?;
        if changes.require_mfa.is_some()
            || changes.mfa_methods.is_some()
            || changes.require_mfa_from.is_some()
        {
            current.may(Action::ChangeSubAccountPolicy)?;
        }
        if changes.require_mfa == Some(false) && changes.require_mfa_from.is_none() {
            changes.require_mfa_from = Some(None);
        }
        let account_id = &current.user.account_id;
        let (before, _) = find_sub_account(conn, account_id, id)?;
        sub_store::update(conn, &before.id, &changes)?;
        principals::changed(conn, Change::Account(account_id))?;
        let (after, count) = find_sub_account(conn, account_id, &before.id)?;
        policy::check_deadline(after.require_mfa, after.require_mfa_from)?;
        if before.require_mfa != after.require_mfa
            || before.mfa_methods != after.mfa_methods
            || before.require_mfa_from != after.require_mfa_from
        {
            current.stepped_up(ctx.now)?;
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::SUB_ACCOUNT_POLICY_CHANGED,
                    account_id: Some(&after.account_id),
                    actor: Some(&current.user.id),
                    target: None,
                    details: serde_json::json!({
                        "sub_account_id": after.id,
                        "require_mfa": after.require_mfa,
                        "require_mfa_from": after.require_mfa_from.map(|t| t.and_utc()),
                        "mfa_methods": after.mfa_methods,
                    }),
                },
            )?;
        }
        Ok((after, count))
    })
}

pub fn delete_sub_account(
    conn: &mut DbConn,
    actor: &Principal,
    id: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageSubAccounts, ctx.now)?;
        let (sub, count) = find_sub_account(conn, &current.user.account_id, id)?;
        if count > 0 {
            return Err(ApiError::Conflict(format!(
                "The sub-account still has {count} user(s); move or delete them first."
            )));
        }
        sub_store::delete(conn, &sub.id)?;
        principals::changed(conn, Change::Account(&sub.account_id))?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::SUB_ACCOUNT_DELETED,
                account_id: Some(&sub.account_id),
                actor: Some(&current.user.id),
                target: None,
                details: serde_json::json!({"sub_account_id": sub.id, "name": sub.name}),
            },
        )?;
        Ok(())
    })
}

/// The administrators' view of `users` of one account: the MFA policy of
/// user and of their scope (`policy::requirement_of`).
fn views(conn: &mut DbConn, account: &Account, users: Vec<User>) -> ApiResult<Vec<UserView>> {
    let sub_ids: Vec<String> = users
        .iter()
        .filter_map(|u| u.sub_account_id.clone())
        .collect();
    let sub_policies = sub_store::policies(conn, &sub_ids)?;
    Ok(users
        .into_iter()
        .map(|user| {
            let sub = user.sub_account_id.as_ref().map(|id| {
                let (require_mfa, from) = sub_policies.get(id).copied().unwrap_or_default();
                ScopePolicy { require_mfa, from }
            });
            let scope = ScopePolicy {
                require_mfa: account.require_mfa,
                from: account.require_mfa_from,
            };
            UserView {
                mfa_required: policy::requirement_of(user.require_mfa, scope, sub).is_some(),
                user,
            }
        })
        .collect())
}

fn view(conn: &mut DbConn, account_id: &str, id: &str) -> ApiResult<UserView> {
    let account = own_account(conn, account_id)?;
    let user = user_store::find_in_account(conn, account_id, id)?.ok_or(ApiError::NotFound)?;
    views(conn, &account, vec![user])?
        .pop()
        .ok_or(ApiError::NotFound)
}

pub fn list_users(
    conn: &mut DbConn,
    actor: &Principal,
    filter: &UserFilter,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<UserView>, i64)> {
    actor.may(Action::ListUsers)?;
    if filter
        .q
        .as_ref()
        .is_some_and(|q| q.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "q",
            "must not contain control characters",
        ));
    }
    if let Some(RoleRef::Custom(id)) = &filter.role {
        if super::canonical_id(id).is_none() {
            return Err(ApiError::invalid(
                "role",
                "a built-in role's name or a custom role's id",
            ));
        }
    }
    let account = own_account(conn, &actor.user.account_id)?;
    let (items, total) = user_store::list(conn, &account.id, filter, limit, offset)?;
    Ok((views(conn, &account, items)?, total))
}

pub fn user(conn: &mut DbConn, actor: &Principal, id: &str) -> ApiResult<UserView> {
    actor.may(Action::ManageUsers)?;
    view(conn, &actor.user.account_id, &parse_id(id)?)
}

/// Inserts a user; a taken email is 409 `conflict` (sign-up shares this).
pub fn insert_user(conn: &mut DbConn, user: &User) -> ApiResult<()> {
    user_store::insert(conn, user).map_err(super::taken("A user with this email already exists."))
}

/// The sub-account `raw` names, if it is one of `account_id`'s (422 on
/// `sub_account_id` otherwise, another tenant's included).
pub(crate) fn sub_account_in(
    conn: &mut DbConn,
    account_id: &str,
    raw: Option<&str>,
) -> ApiResult<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let found = super::canonical_id(raw)
        .map(|id| sub_store::find_in_account(conn, account_id, &id))
        .transpose()?
        .flatten();
    let sub = found.ok_or_else(|| {
        ApiError::invalid("sub_account_id", "no such sub-account in this account")
    })?;
    Ok(Some(sub.id))
}

/// Validated input of a new user; the password is already hashed.
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: RoleRef,
    pub password_hash: String,
    pub sub_account_id: Option<String>,
}

impl NewUser {
    /// The new user of `account_id` as stored: enabled, no MFA, no
    /// failures, created now. The one constructor of a user row (sign-up,
    /// an administrator, SSO provisioning).
    pub fn into_user(self, account_id: &str, now: chrono::NaiveDateTime) -> User {
        User {
            id: super::new_id(),
            account_id: account_id.to_string(),
            sub_account_id: self.sub_account_id,
            email: self.email,
            display_name: self.display_name,
            role: self.role,
            password_hash: self.password_hash,
            disabled: false,
            mfa_enabled_at: None,
            mfa_failures: 0,
            mfa_locked_until: None,
            last_login_at: None,
            created_at: now,
            updated_at: now,
            mfa_reset_at: None,
            mfa_reset_by: None,
            require_mfa: false,
        }
    }
}

pub fn create_user(
    conn: &mut DbConn,
    actor: &Principal,
    input: NewUser,
    ctx: &Ctx,
) -> ApiResult<UserView> {
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageUsers, ctx.now)?;
        let account_id = current.user.account_id.clone();
        let sub_account_id = sub_account_in(conn, &account_id, input.sub_account_id.as_deref())?;
        super::roles::check_assignable(conn, &account_id, &input.role, sub_account_id.is_some())?;
        let granted = policy::permissions_of_role(conn, &account_id, &input.role)?;
        policy::may_grant(current.permissions, granted)?;
        let user = NewUser {
            sub_account_id,
            ..input
        }
        .into_user(&account_id, ctx.now);
        insert_user(conn, &user)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_CREATED,
                account_id: Some(&user.account_id),
                actor: Some(&current.user.id),
                target: Some(&user.id),
                details: serde_json::json!({"role": user.role, "sub_account_id": user.sub_account_id}),
            },
        )?;
        view(conn, &account_id, &user.id)
    })
}

/// What `PATCH /users/{id}` may change.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role: Option<RoleRef>,
    pub disabled: Option<bool>,
    pub require_mfa: Option<bool>,
}

pub fn update_user(
    conn: &mut DbConn,
    actor: &Principal,
    id: &str,
    update: UserUpdate,
    ctx: &Ctx,
) -> ApiResult<UserView> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageUsers, ctx.now)?;
        let account_id = current.user.account_id.clone();
        let before = touch(conn, &current, &id)?;
        // A value sent as it is changes nothing: no step-up for it.
        if let Some(role) = &update.role {
            current.may(Action::AssignRole)?;
            if *role != before.role {
                current.stepped_up(ctx.now)?;
            }
        }
        if let Some(require_mfa) = update.require_mfa {
            current.may(Action::ResetMfa)?;
            if require_mfa != before.require_mfa {
                current.stepped_up(ctx.now)?;
            }
        }
        // No escalation: only roles within what the actor holds.
        if let Some(role) = &update.role {
            super::roles::check_assignable(
                conn,
                &account_id,
                role,
                before.sub_account_id.is_some(),
            )?;
            let granted = policy::permissions_of_role(conn, &account_id, role)?;
            policy::may_grant(current.permissions, granted)?;
        }
        let changes = UserChanges {
            display_name: update.display_name,
            role: update.role,
            disabled: update.disabled,
            require_mfa: update.require_mfa,
            updated_at: Some(ctx.now),
        };
        user_store::update(conn, &before.id, &changes)?;
        principals::changed(conn, Change::User(&before.id))?;
        super::roles::ensure_a_keeper_remains(conn, &account_id)?;
        let newly_disabled = update.disabled == Some(true) && !before.disabled;
        let sessions_ended = if newly_disabled {
            super::sessions::end_access(conn, &before.id, None, ctx)?
        } else {
            0
        };
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_UPDATED,
                account_id: Some(&before.account_id),
                actor: Some(&current.user.id),
                target: Some(&before.id),
                details: serde_json::json!({"display_name": changes.display_name, "role": changes.role, "disabled": changes.disabled, "require_mfa": changes.require_mfa, "sessions_ended": sessions_ended}),
            },
        )?;
        if let Some(require_mfa) = update.require_mfa.filter(|r| *r != before.require_mfa) {
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::USER_MFA_POLICY_CHANGED,
                    account_id: Some(&before.account_id),
                    actor: Some(&current.user.id),
                    target: Some(&before.id),
                    details: serde_json::json!({"require_mfa": require_mfa}),
                },
            )?;
        }
        view(conn, &account_id, &before.id)
    })
}

pub fn delete_user(conn: &mut DbConn, actor: &Principal, id: &str, ctx: &Ctx) -> ApiResult<()> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageUsers, ctx.now)?;
        let target = touch(conn, &current, &id)?;
        user_store::delete(conn, &target.id)?;
        principals::changed(conn, Change::User(&target.id))?;
        super::roles::ensure_a_keeper_remains(conn, &current.user.account_id)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_DELETED,
                account_id: Some(&target.account_id),
                actor: Some(&current.user.id),
                target: Some(&target.id),
                details: serde_json::json!({"email": target.email}),
            },
        )?;
        Ok(())
    })
}

/// Reset MFA of a user of the actor's account ("Reset MFA"): only an
/// administrator who has MFA now, in an aal2 session (seed 004).
pub fn reset_user_mfa(conn: &mut DbConn, actor: &Principal, id: &str, ctx: &Ctx) -> ApiResult<()> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ResetMfa, ctx.now)?;
        let target = touch(conn, &current, &id)?;
        super::mfa::reset(conn, &target, Some(&current.user), ctx)
    })
}

/// A user's remembered devices, as an administrator sees them (`users.view`
/// and reach over the user).
pub fn user_devices(
    conn: &mut DbConn,
    actor: &Principal,
    id: &str,
    now: chrono::NaiveDateTime,
) -> ApiResult<Vec<crate::store::devices::RememberedDevice>> {
    let id = parse_id(id)?;
    let current = super::auth::authorize(conn, actor, Action::ListUsers)?;
    let target = touch(conn, &current, &id)?;
    Ok(crate::store::devices::live_of_user(conn, &target.id, now)?)
}

/// Forgets one remembered device of a user: an action on their MFA (the
/// Reset MFA permission, reach over them, a step-up).
pub fn revoke_user_device(
    conn: &mut DbConn,
    actor: &Principal,
    id: &str,
    device_id: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ResetMfa, ctx.now)?;
        let target = touch(conn, &current, &id)?;
        super::devices::revoke(conn, &target, &current.user, device_id, ctx)
    })
}

/// The operator's break-glass Reset MFA (`latchkey reset-mfa`), e.g. for a
/// sole administrator locked out; audited with no actor. Returns the user.
pub fn operator_reset_mfa(conn: &mut DbConn, email: &str, ctx: &Ctx) -> ApiResult<User> {
    write_tx(conn, |conn| {
        let user = user_store::find_by_email(conn, email)?.ok_or(ApiError::NotFound)?;
        super::mfa::reset(conn, &user, None, ctx)?;
        Ok(user)
    })
}

/// The actor's account's audit events, newest first (permission
/// `audit.view`).
pub fn audit_events(
    conn: &mut DbConn,
    actor: &Principal,
    filter: &crate::store::audit::AuditFilter,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<crate::store::audit::AuditEvent>, i64)> {
    actor.may(Action::ViewAudit)?;
    Ok(crate::store::audit::list(
        conn,
        &actor.user.account_id,
        filter,
        limit,
        offset,
    )?)
}
