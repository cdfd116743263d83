//! "Remember this device": after a second step with `remember_device`, a
//! device token (stored as its SHA-256, bound to one user) skips the second
//! step of that user's password sign-ins for the account's
//! `remember_device_days`. Every password or factor change forgets every
//! device of the user ([`forget_all`], called by `sessions::end_access`
//! and `mfa::remove_all_factors`). A remembered-device session proves no
//! factor now, so it must step up for the changes that need one.

use chrono::{Duration, NaiveDateTime};

use super::audit::{self, Event};
use super::auth::Principal;
use super::requirement::ScopeRules;
use super::{parse_id, Ctx};
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::devices as device_store;
pub use crate::store::devices::RememberedDevice;
use crate::store::types::{Method, MfaMethods};
use crate::store::users::User;
use crate::store::{accounts, write_tx, DbConn};

/// The longest an account may remember devices.
pub const MAX_DAYS: i32 = 90;

/// Remembers the device of a second step that proved `method` (a TOTP
/// code or a passkey; a recovery token is for a lost device and remembers
/// none), when `user`'s account remembers devices. Returns the token, shown
/// once. Inside the transaction of the second step.
pub(super) fn remember(
    conn: &mut DbConn,
    user: &User,
    method: Method,
    ctx: &Ctx,
) -> ApiResult<Option<String>> {
    if !matches!(method, Method::Otp | Method::Hwk) {
        return Ok(None);
    }
    let days = accounts::find(conn, &user.account_id)?.map_or(0, |a| a.remember_device_days);
    if days <= 0 {
        return Ok(None);
    }
    let token = tokens::random_token(tokens::DEVICE_PREFIX);
    let device = RememberedDevice {
        id: super::new_id(),
        user_id: user.id.clone(),
        token_hash: tokens::sha256_hex(&token),
        method: method.as_str().to_string(),
        ip: ctx.ip.clone(),
        user_agent: ctx.user_agent.clone(),
        created_at: ctx.now,
        last_used_at: None,
        expires_at: ctx.now + Duration::days(i64::from(days)),
    };
    device_store::insert(conn, &device)?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::DEVICE_REMEMBERED, &user.account_id, &user.id).with(
            serde_json::json!({"device_id": device.id, "method": device.method, "days": days}),
        ),
    )?;
    Ok(Some(token))
}

/// Whether `token` is a live remembered device of `user` that still counts:
/// not expired, within the account's `remember_device_days` as they are
/// now (0 forgets them all), and — where only passkeys count — remembered
/// after a passkey. Marks it used. Inside the password step's transaction,
/// holding the user's lock.
pub(super) fn recognize(
    conn: &mut DbConn,
    user: &User,
    token: &str,
    rules: &ScopeRules,
    now: NaiveDateTime,
) -> ApiResult<bool> {
    if !token.starts_with(tokens::DEVICE_PREFIX) || token.len() > 200 {
        return Ok(false);
    }
    let Some(device) = device_store::find_by_hash(conn, &tokens::sha256_hex(token))? else {
        return Ok(false);
    };
    let days = rules.remember_device_days;
    let counts = device.user_id == user.id
        && device.expires_at > now
        && days > 0
        && device.created_at + Duration::days(i64::from(days)) > now
        && (rules.methods == MfaMethods::Any || device.method == Method::Hwk.as_str());
    if counts {
        device_store::touch(conn, &device.id, now)?;
    }
    Ok(counts)
}

/// Forgets every device of a user (a password or factor changed, MFA was
/// reset or disabled, the user was disabled); audited when there were
/// any. Returns how many. Inside the caller's transaction.
pub(super) fn forget_all(
    conn: &mut DbConn,
    user_id: &str,
    reason: &str,
    ctx: &Ctx,
) -> ApiResult<usize> {
    let forgotten = device_store::delete_all(conn, user_id)?;
    if forgotten > 0 {
        let Some(user) = crate::store::users::find(conn, user_id)? else {
            return Ok(forgotten);
        };
        audit::record(
            conn,
            ctx,
            Event::own(audit::DEVICE_REVOKED, &user.account_id, &user.id)
                .with(serde_json::json!({"all": true, "count": forgotten, "reason": reason})),
        )?;
    }
    Ok(forgotten)
}

/// The user's own remembered devices (`GET /me/devices`).
pub fn list_own(
    conn: &mut DbConn,
    principal: &Principal,
    now: NaiveDateTime,
) -> ApiResult<Vec<RememberedDevice>> {
    Ok(device_store::live_of_user(conn, &principal.user.id, now)?)
}

/// Forgets one device of `user` (its owner, or an administrator acting on
/// them: `actor`). 404 for another user's device. Inside a transaction.
pub(super) fn revoke(
    conn: &mut DbConn,
    user: &User,
    actor: &User,
    id: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    let id = parse_id(id)?;
    if device_store::delete_of_user(conn, &user.id, &id)? == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(audit::record(
        conn,
        ctx,
        Event {
            kind: audit::DEVICE_REVOKED,
            account_id: Some(&user.account_id),
            actor: Some(&actor.id),
            target: Some(&user.id),
            details: serde_json::json!({"device_id": id}),
        },
    )?)
}

/// `DELETE /me/devices/{id}`.
pub fn revoke_own(conn: &mut DbConn, principal: &Principal, id: &str, ctx: &Ctx) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let current = super::auth::reload(conn, principal)?;
        revoke(conn, &current.user, &current.user, id, ctx)
    })
}
