//! Administration of one's own account: the account policy, sub-accounts,
//! users. Every lookup is scoped by the actor's account, so another tenant's
//! rows are simply not found.

use std::collections::HashMap;

use diesel::prelude::*;

use super::audit::{self, Event};
use super::policy::Role;
use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::accounts::{self as account_store, Account, AccountChanges};
use crate::store::schema::users;
use crate::store::sub_accounts::{self as sub_store, SubAccount, SubAccountChanges};
use crate::store::users::{self as user_store, User, UserChanges, UserFilter};
use crate::store::{
    challenges as challenge_store, is_unique_violation, sessions as session_store, write_tx, DbConn,
};

pub fn account(conn: &mut DbConn, account_id: &str) -> ApiResult<Account> {
    account_store::find(conn, account_id)?.ok_or(ApiError::NotFound)
}

pub fn update_account(
    conn: &mut DbConn,
    actor: &User,
    changes: AccountChanges,
    ctx: &Ctx,
) -> ApiResult<Account> {
    write_tx(conn, |conn| {
        let before = account(conn, &actor.account_id)?;
        account_store::update(conn, &before.id, &changes)?;
        let after = account(conn, &before.id)?;
        if before.require_mfa != after.require_mfa {
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::ACCOUNT_POLICY_CHANGED,
                    account_id: Some(&after.id),
                    actor: Some(&actor.id),
                    target: None,
                    details: serde_json::json!({"require_mfa": after.require_mfa}),
                },
            )?;
        }
        Ok(after)
    })
}

/// Users per sub-account, for the given sub-accounts (one grouped query).
fn user_counts(conn: &mut DbConn, ids: &[String]) -> ApiResult<HashMap<String, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
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

pub fn list_sub_accounts(
    conn: &mut DbConn,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<(SubAccount, i64)>, i64)> {
    let (items, total) = sub_store::list(conn, account_id, limit, offset)?;
    let ids: Vec<String> = items.iter().map(|s| s.id.clone()).collect();
    let counts = user_counts(conn, &ids)?;
    Ok((
        items
            .into_iter()
            .map(|s| {
                let n = counts.get(&s.id).copied().unwrap_or(0);
                (s, n)
            })
            .collect(),
        total,
    ))
}

pub fn sub_account(conn: &mut DbConn, account_id: &str, id: &str) -> ApiResult<(SubAccount, i64)> {
    let sub = sub_store::find_in_account(conn, account_id, id)?.ok_or(ApiError::NotFound)?;
    let count = sub_store::user_count(conn, &sub.id)?;
    Ok((sub, count))
}

pub fn create_sub_account(
    conn: &mut DbConn,
    actor: &User,
    name: String,
    require_mfa: bool,
    ctx: &Ctx,
) -> ApiResult<SubAccount> {
    let sub = SubAccount {
        id: super::new_id(),
        account_id: actor.account_id.clone(),
        name,
        require_mfa,
        created_at: ctx.now,
    };
    write_tx(conn, |conn| {
        sub_store::insert(conn, &sub)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::SUB_ACCOUNT_CREATED,
                account_id: Some(&sub.account_id),
                actor: Some(&actor.id),
                target: None,
                details: serde_json::json!({"sub_account_id": sub.id, "name": sub.name, "require_mfa": sub.require_mfa}),
            },
        )?;
        Ok(sub.clone())
    })
}

pub fn update_sub_account(
    conn: &mut DbConn,
    actor: &User,
    id: &str,
    changes: SubAccountChanges,
    ctx: &Ctx,
) -> ApiResult<(SubAccount, i64)> {
    write_tx(conn, |conn| {
        let (before, _) = sub_account(conn, &actor.account_id, id)?;
        sub_store::update(conn, &before.id, &changes)?;
        let (after, count) = sub_account(conn, &actor.account_id, id)?;
        if before.require_mfa != after.require_mfa {
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::SUB_ACCOUNT_POLICY_CHANGED,
                    account_id: Some(&after.account_id),
                    actor: Some(&actor.id),
                    target: None,
                    details: serde_json::json!({"sub_account_id": after.id, "require_mfa": after.require_mfa}),
                },
            )?;
        }
        Ok((after, count))
    })
}

pub fn delete_sub_account(conn: &mut DbConn, actor: &User, id: &str, ctx: &Ctx) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let (sub, count) = sub_account(conn, &actor.account_id, id)?;
        if count > 0 {
            return Err(ApiError::Conflict(format!(
                "The sub-account still has {count} user(s); move or delete them first."
            )));
        }
        sub_store::delete(conn, &sub.id)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::SUB_ACCOUNT_DELETED,
                account_id: Some(&sub.account_id),
                actor: Some(&actor.id),
                target: None,
                details: serde_json::json!({"sub_account_id": sub.id, "name": sub.name}),
            },
        )?;
        Ok(())
    })
}

/// Whether MFA is required for each user, from their scope's policy.
pub fn mfa_required_for(
    conn: &mut DbConn,
    account: &Account,
    users: &[User],
) -> ApiResult<Vec<bool>> {
    let sub_ids: Vec<String> = users
        .iter()
        .filter_map(|u| u.sub_account_id.clone())
        .collect();
    let required_subs: HashMap<String, bool> = if sub_ids.is_empty() {
        HashMap::new()
    } else {
        use crate::store::schema::sub_accounts;
        sub_accounts::table
            .filter(sub_accounts::id.eq_any(&sub_ids))
            .select((sub_accounts::id, sub_accounts::require_mfa))
            .load::<(String, bool)>(conn)?
            .into_iter()
            .collect()
    };
    Ok(users
        .iter()
        .map(|u| match &u.sub_account_id {
            Some(sub) => required_subs.get(sub).copied().unwrap_or(false),
            None => account.require_mfa,
        })
        .collect())
}

pub fn list_users(
    conn: &mut DbConn,
    account_id: &str,
    filter: &UserFilter,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<(User, bool)>, i64)> {
    let account = account(conn, account_id)?;
    let (items, total) = user_store::list(conn, account_id, filter, limit, offset)?;
    let required = mfa_required_for(conn, &account, &items)?;
    Ok((items.into_iter().zip(required).collect(), total))
}

pub fn user(conn: &mut DbConn, account_id: &str, id: &str) -> ApiResult<(User, bool)> {
    let account = account(conn, account_id)?;
    let user = user_store::find_in_account(conn, account_id, id)?.ok_or(ApiError::NotFound)?;
    let required = mfa_required_for(conn, &account, std::slice::from_ref(&user))?[0];
    Ok((user, required))
}

/// Inserts a user; a taken email is 409 `conflict` (sign-up shares this).
pub fn insert_user(conn: &mut DbConn, user: &User) -> ApiResult<()> {
    user_store::insert(conn, user).map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::Conflict("A user with this email already exists.".into())
        } else {
            e.into()
        }
    })
}

/// Validated input of a new user; the password is already hashed.
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub sub_account_id: Option<String>,
}

pub fn create_user(
    conn: &mut DbConn,
    actor: &User,
    input: NewUser,
    ctx: &Ctx,
) -> ApiResult<(User, bool)> {
    write_tx(conn, |conn| {
        if let Some(sub) = &input.sub_account_id {
            if sub_store::find_in_account(conn, &actor.account_id, sub)?.is_none() {
                return Err(ApiError::invalid(
                    "sub_account_id",
                    "no such sub-account in this account",
                ));
            }
        }
        let user = User {
            id: super::new_id(),
            account_id: actor.account_id.clone(),
            sub_account_id: input.sub_account_id.clone(),
            email: input.email.clone(),
            display_name: input.display_name.clone(),
            role: input.role.as_str().to_string(),
            password_hash: input.password_hash.clone(),
            disabled: false,
            mfa_enabled_at: None,
            mfa_failures: 0,
            mfa_locked_until: None,
            last_login_at: None,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        insert_user(conn, &user)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_CREATED,
                account_id: Some(&user.account_id),
                actor: Some(&actor.id),
                target: Some(&user.id),
                details: serde_json::json!({"role": user.role, "sub_account_id": user.sub_account_id}),
            },
        )?;
        user_with_required(conn, &actor.account_id, &user.id)
    })
}

fn user_with_required(conn: &mut DbConn, account_id: &str, id: &str) -> ApiResult<(User, bool)> {
    user(conn, account_id, id)
}

fn ensure_an_admin_remains(conn: &mut DbConn, account_id: &str) -> ApiResult<()> {
    if user_store::count_active_admins(conn, account_id)? == 0 {
        return Err(ApiError::Conflict(
            "The account must keep at least one active administrator.".into(),
        ));
    }
    Ok(())
}

/// Ends a user's sessions and open challenges (disabled, deleted).
fn end_access(conn: &mut DbConn, user_id: &str, ctx: &Ctx) -> ApiResult<usize> {
    challenge_store::consume_all_for_user(conn, user_id, ctx.now)?;
    Ok(session_store::revoke_all_for_user(
        conn, user_id, None, ctx.now,
    )?)
}

pub fn update_user(
    conn: &mut DbConn,
    actor: &User,
    id: &str,
    display_name: Option<String>,
    role: Option<Role>,
    disabled: Option<bool>,
    ctx: &Ctx,
) -> ApiResult<(User, bool)> {
    write_tx(conn, |conn| {
        let before =
            user_store::find_in_account(conn, &actor.account_id, id)?.ok_or(ApiError::NotFound)?;
        let changes = UserChanges {
            display_name,
            role: role.map(|r| r.as_str().to_string()),
            disabled,
            updated_at: Some(ctx.now),
        };
        user_store::update(conn, &before.id, &changes)?;
        ensure_an_admin_remains(conn, &actor.account_id)?;
        let newly_disabled = disabled == Some(true) && !before.disabled;
        let sessions_ended = if newly_disabled {
            end_access(conn, &before.id, ctx)?
        } else {
            0
        };
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_UPDATED,
                account_id: Some(&before.account_id),
                actor: Some(&actor.id),
                target: Some(&before.id),
                details: serde_json::json!({"display_name": changes.display_name, "role": changes.role, "disabled": changes.disabled, "sessions_ended": sessions_ended}),
            },
        )?;
        user_with_required(conn, &actor.account_id, &before.id)
    })
}

pub fn delete_user(conn: &mut DbConn, actor: &User, id: &str, ctx: &Ctx) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let target =
            user_store::find_in_account(conn, &actor.account_id, id)?.ok_or(ApiError::NotFound)?;
        user_store::delete(conn, &target.id)?;
        ensure_an_admin_remains(conn, &actor.account_id)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_DELETED,
                account_id: Some(&target.account_id),
                actor: Some(&actor.id),
                target: Some(&target.id),
                details: serde_json::json!({"email": target.email}),
            },
        )?;
        Ok(())
    })
}

/// Reset MFA of a user of the actor's account.
pub fn reset_user_mfa(conn: &mut DbConn, actor: &User, id: &str, ctx: &Ctx) -> ApiResult<()> {
    let target =
        user_store::find_in_account(conn, &actor.account_id, id)?.ok_or(ApiError::NotFound)?;
    super::mfa::reset(conn, &target, Some(actor), ctx)
}
