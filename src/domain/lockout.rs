//! Every lockout, in one place:
//!
//! - **Password** (per email, shared by login and by the password re-checks
//!   of signed-in routes): after [`PASSWORD_FAILURES_BEFORE_LOCK`]
//!   consecutive wrong passwords the email is locked, the lock doubling up to
//!   [`PASSWORD_LOCK_MAX_SECONDS`]; a correct password resets the count. An
//!   attempt is reserved (counted as a failure) *before* argon2 runs, so a
//!   parallel burst cannot outrun the budget.
//! - **Second factor** (per user, across login challenges, enrollment
//!   verify and disable): every [`SECOND_FACTOR_FAILURES_PER_LOCK`]
//!   consecutive wrong codes lock the second step, 15 minutes the first
//!   time and doubling with each further ten, up to a day. The count
//!   survives a lock; only a correct code or Reset MFA clears it.

use chrono::Duration;

use super::audit::{self, Event};
use super::{seconds_until, Ctx};
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::challenges::{self, Challenge};
use crate::store::users::{self as user_store, User};
use crate::store::{throttles, write_tx, DbConn};

/// Consecutive wrong passwords for one email before the lock starts.
pub const PASSWORD_FAILURES_BEFORE_LOCK: i32 = 5;
/// First password lock; it doubles with every further failure.
pub const PASSWORD_LOCK_BASE_SECONDS: i64 = 30;
pub const PASSWORD_LOCK_MAX_SECONDS: i64 = 15 * 60;
/// Consecutive wrong second factors that (each time) lock the second step.
pub const SECOND_FACTOR_FAILURES_PER_LOCK: i32 = 10;
pub const SECOND_FACTOR_LOCK_BASE_SECONDS: i64 = 15 * 60;
pub const SECOND_FACTOR_LOCK_MAX_SECONDS: i64 = 24 * 60 * 60;

/// Password lock length after `failures` consecutive failures (≥ the threshold).
pub fn password_lock_seconds(failures: i32) -> i64 {
    let doublings = (failures - PASSWORD_FAILURES_BEFORE_LOCK).clamp(0, 20) as u32;
    (PASSWORD_LOCK_BASE_SECONDS << doublings).min(PASSWORD_LOCK_MAX_SECONDS)
}

/// The second-factor lock that `failures` consecutive failures start, if
/// any: every tenth failure locks, each lock twice the one before.
pub fn second_factor_lock_seconds(failures: i32) -> Option<i64> {
    if failures < SECOND_FACTOR_FAILURES_PER_LOCK || failures % SECOND_FACTOR_FAILURES_PER_LOCK != 0
    {
        return None;
    }
    let doublings = (failures / SECOND_FACTOR_FAILURES_PER_LOCK - 1).clamp(0, 20) as u32;
    Some((SECOND_FACTOR_LOCK_BASE_SECONDS << doublings).min(SECOND_FACTOR_LOCK_MAX_SECONDS))
}

/// Key of the per-email counter: a hash, so unknown emails leave no trace.
pub fn throttle_key(email: &str) -> String {
    tokens::sha256_hex(&format!("login:{email}"))
}

/// Reserves a password attempt for `email` (429 while locked) and returns
/// the user of that email, if any. Its own transaction: the reservation
/// must stand whatever argon2 says next.
pub fn reserve_password_attempt(
    conn: &mut DbConn,
    email: &str,
    ctx: &Ctx,
) -> ApiResult<Option<User>> {
    let key = throttle_key(email);
    write_tx(conn, |conn| {
        let user = user_store::find_by_email(conn, email)?;
        let Some(failures) = throttles::reserve_attempt(conn, &key, ctx.now)? else {
            let until = throttles::locked_until(conn, &key)?.unwrap_or(ctx.now);
            return Err(ApiError::TooManyAttempts {
                retry_after: seconds_until(ctx.now, until),
            });
        };
        if failures >= PASSWORD_FAILURES_BEFORE_LOCK {
            // Locked from now on; a correct password lifts it again.
            let until = ctx.now + Duration::seconds(password_lock_seconds(failures));
            throttles::lock(conn, &key, until)?;
            if let Some(user) = &user {
                audit::record(
                    conn,
                    ctx,
                    Event {
                        kind: audit::LOGIN_LOCKED,
                        account_id: Some(&user.account_id),
                        actor: None,
                        target: Some(&user.id),
                        details: serde_json::json!({
                            "failures": failures,
                            "locked_until": until.and_utc().to_rfc3339(),
                            // The lock starts; later ones double it (and the
                            // attempt that finds it over counts as one).
                            "first_lock": failures == PASSWORD_FAILURES_BEFORE_LOCK,
                        }),
                    },
                )?;
            }
        }
        Ok(user)
    })
}

/// A correct password: the reserved attempt is forgiven, the count starts
/// again. Inside the caller's transaction.
pub fn password_succeeded(conn: &mut DbConn, email: &str, ctx: &Ctx) -> ApiResult<()> {
    throttles::reset(conn, &throttle_key(email), ctx.now)?;
    Ok(())
}

/// Takes the user's row lock for a second-factor attempt (so attempts of
/// one user run one at a time on both backends); 429 while the user is
/// locked out of the second step. `None` when the user does not exist.
pub fn lock_second_factor(conn: &mut DbConn, user_id: &str, ctx: &Ctx) -> ApiResult<Option<User>> {
    let open = user_store::lock_for_second_factor(conn, user_id, ctx.now)? == 1;
    let Some(user) = user_store::find(conn, user_id)? else {
        return Ok(None);
    };
    if !open {
        return Err(locked_out(&user, ctx));
    }
    Ok(Some(user))
}

/// The 429 of a user locked out of the second step.
fn locked_out(user: &User, ctx: &Ctx) -> ApiError {
    let until = user.mfa_locked_until.unwrap_or(ctx.now);
    ApiError::TooManyAttempts {
        retry_after: seconds_until(ctx.now, until),
    }
}

/// [`lock_second_factor`] for an attempt on a challenge: the lock is taken
/// through the challenge (one statement), then the challenge and its user
/// are read under it, so concurrent attempts cannot overdraw the challenge.
/// `None` when the challenge is unknown or not `live` (whether or not its
/// user is locked out); 429 while the user is locked out.
pub fn lock_second_factor_for_challenge(
    conn: &mut DbConn,
    kind: crate::store::types::ChallengeKind,
    hash: &str,
    live: impl Fn(&Challenge) -> bool,
    ctx: &Ctx,
) -> ApiResult<Option<(Challenge, User)>> {
    let open =
        user_store::lock_for_second_factor_through_challenge(conn, kind, hash, ctx.now)? == 1;
    let Some((challenge, user)) = challenges::find_with_user(conn, kind, hash)? else {
        return Ok(None);
    };
    if !live(&challenge) {
        return Ok(None);
    }
    if !open {
        return Err(locked_out(&user, ctx));
    }
    Ok(Some((challenge, user)))
}

/// Counts a wrong second factor, locks the second step on every tenth, and
/// audits it (`kind` with `reason`). Inside the attempt's transaction,
/// which the caller must commit even though it then refuses.
pub fn second_factor_failed(
    conn: &mut DbConn,
    user: &User,
    ctx: &Ctx,
    kind: audit::EventType,
    reason: &str,
) -> ApiResult<()> {
    let failures = user_store::record_mfa_failure(conn, &user.id)?;
    let locked_until = second_factor_lock_seconds(failures).map(|s| ctx.now + Duration::seconds(s));
    if let Some(until) = locked_until {
        user_store::set_mfa_lock(conn, &user.id, until)?;
    }
    audit::record(
        conn,
        ctx,
        Event::own(kind, &user.account_id, &user.id).with(serde_json::json!({
            "reason": reason,
            "consecutive_failures": failures,
            "locked_until": locked_until.map(|t| t.and_utc().to_rfc3339()),
        })),
    )?;
    Ok(())
}

/// A correct second factor (or Reset MFA): the count and any lock end.
pub fn second_factor_cleared(conn: &mut DbConn, user_id: &str) -> ApiResult<()> {
    user_store::reset_mfa_failures(conn, user_id)?;
    Ok(())
}

/// [`second_factor_cleared`] for `user` as read under its second-factor
/// lock ([`lock_second_factor`]): no statement when there is no count and
/// no lock to end (the row cannot have changed since it was read).
pub fn second_factor_cleared_for(conn: &mut DbConn, user: &User) -> ApiResult<()> {
    if user.mfa_failures == 0 && user.mfa_locked_until.is_none() {
        return Ok(());
    }
    second_factor_cleared(conn, &user.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_locks_double_up_to_fifteen_minutes() {
        assert_eq!(password_lock_seconds(5), 30);
        assert_eq!(password_lock_seconds(6), 60);
        assert_eq!(password_lock_seconds(40), 15 * 60);
    }
}
