//! TOTP enrollment, second-factor checks, recovery tokens, disable and reset.
//!
//! Single use is decided by conditional UPDATEs (see `store::totp::consume_step`
//! and `store::recovery::use_token`), inside a transaction that starts by
//! taking the user's row lock (`lock_second_factor`), so concurrent attempts
//! of one user are serialized on both backends.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::{self, Event};
use super::keys::KeyRing;
use super::login::{SECOND_FACTOR_FAILURES_BEFORE_LOCK, SECOND_FACTOR_LOCK_SECONDS};
use super::policy::{self, RequiredBy};
use super::sessions::{self, Issued, AMR_TOTP};
use super::{seconds_until, Ctx};
use crate::config::Config;
use crate::crypto::{tokens, totp};
use crate::error::{ApiError, ApiResult};
use crate::store::challenges as challenge_store;
use crate::store::recovery::{self as recovery_store, RecoveryToken};
use crate::store::totp::{self as totp_store, TotpCredential, STATUS_ACTIVE, STATUS_PENDING};
use crate::store::users::{self as user_store, User};
use crate::store::{sessions as session_store, write_tx, DbConn};

/// The recovery token part of the MFA status.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RecoveryTokenStatus {
    /// An unused recovery token exists.
    pub active: bool,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A user's MFA state, as `GET /api/v1/me` shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct MfaStatus {
    pub enabled: bool,
    /// A policy makes MFA mandatory for this user.
    pub required: bool,
    pub required_by: Option<RequiredBy>,
    /// The user may turn MFA off (enabled and not required).
    pub can_disable: bool,
    pub enabled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub recovery_token: RecoveryTokenStatus,
}

pub fn status(conn: &mut DbConn, user: &User) -> ApiResult<MfaStatus> {
    let required_by = policy::required_by(conn, user)?;
    let recovery = recovery_store::find(conn, &user.id)?.filter(|t| t.used_at.is_none());
    Ok(status_of(user, required_by, recovery.map(|t| t.created_at)))
}

/// The MFA status from what is already known: the user, the policy that
/// requires MFA (if any) and the creation time of an unused recovery token.
pub fn status_of(
    user: &User,
    required_by: Option<RequiredBy>,
    unused_recovery_created_at: Option<NaiveDateTime>,
) -> MfaStatus {
    let enabled = user.mfa_enabled_at.is_some();
    MfaStatus {
        enabled,
        required: required_by.is_some(),
        required_by,
        can_disable: enabled && required_by.is_none(),
        enabled_at: user.mfa_enabled_at.map(|t| t.and_utc()),
        recovery_token: RecoveryTokenStatus {
            active: unused_recovery_created_at.is_some(),
            created_at: unused_recovery_created_at.map(|t| t.and_utc()),
        },
    }
}

fn secret_aad(credential_id: &str) -> String {
    format!("totp:{credential_id}")
}

fn open_secret(config: &Config, credential: &TotpCredential) -> ApiResult<Vec<u8>> {
    config
        .master_key
        .open(&credential.secret_sealed, &secret_aad(&credential.id))
        .map_err(|_| {
            ApiError::internal(format!(
                "TOTP secret {} cannot be opened with the master key",
                credential.id
            ))
        })
}

fn now_step(now: NaiveDateTime) -> i64 {
    totp::step_at(now.and_utc().timestamp())
}

/// Takes the user's row lock for a second-factor attempt; 429 while the
/// user is locked out of the second step.
pub fn lock_second_factor(conn: &mut DbConn, user_id: &str, ctx: &Ctx) -> ApiResult<User> {
    let locked = user_store::lock_for_second_factor(conn, user_id, ctx.now)? == 0;
    let user = user_store::find(conn, user_id)?.ok_or(ApiError::ChallengeExpired)?;
    if locked {
        let until = user.mfa_locked_until.unwrap_or(ctx.now);
        return Err(ApiError::TooManyAttempts {
            retry_after: seconds_until(ctx.now, until),
        });
    }
    Ok(user)
}

/// The verdict on a presented second factor.
#[derive(Debug, PartialEq, Eq)]
pub enum SecondFactor {
    Accepted { recovery_used: bool },
    Rejected,
}

/// Counts a failed second factor (the per-user budget) and audits it.
fn reject(
    conn: &mut DbConn,
    user: &User,
    ctx: &Ctx,
    kind: audit::EventType,
    reason: &str,
) -> ApiResult<SecondFactor> {
    let lock_until = ctx.now + Duration::seconds(SECOND_FACTOR_LOCK_SECONDS);
    let failures = user_store::record_mfa_failure(
        conn,
        &user.id,
        SECOND_FACTOR_FAILURES_BEFORE_LOCK,
        lock_until,
    )?;
    audit::record(
        conn,
        ctx,
        Event::own(kind, &user.account_id, &user.id)
            .with(serde_json::json!({"reason": reason, "consecutive_failures": failures})),
    )?;
    Ok(SecondFactor::Rejected)
}

/// Checks a TOTP code (consuming its step) or the recovery token (using it).
/// Call after [`lock_second_factor`], inside its transaction.
pub fn check_second_factor(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    input: &str,
    ctx: &Ctx,
) -> ApiResult<SecondFactor> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() == totp::DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
        let Some(credential) = totp_store::find(conn, &user.id, STATUS_ACTIVE)? else {
            return reject(conn, user, ctx, audit::MFA_CHALLENGE_FAILED, "no_totp");
        };
        let secret = open_secret(config, &credential)?;
        let Some(step) = totp::matching_step(&secret, &compact, now_step(ctx.now)) else {
            return reject(conn, user, ctx, audit::MFA_CHALLENGE_FAILED, "wrong_code");
        };
        if totp_store::consume_step(conn, &credential.id, step)? == 0 {
            return reject(
                conn,
                user,
                ctx,
                audit::MFA_REPLAY_REFUSED,
                "code_already_used",
            );
        }
        user_store::reset_mfa_failures(conn, &user.id)?;
        return Ok(SecondFactor::Accepted {
            recovery_used: false,
        });
    }
    if input.len() <= 64 {
        if let Some(canonical) = tokens::normalize_recovery_token(input) {
            if recovery_store::use_token(conn, &user.id, &tokens::sha256_hex(&canonical), ctx.now)?
                == 1
            {
                user_store::reset_mfa_failures(conn, &user.id)?;
                audit::record(
                    conn,
                    ctx,
                    Event::own(audit::RECOVERY_TOKEN_USED, &user.account_id, &user.id),
                )?;
                return Ok(SecondFactor::Accepted {
                    recovery_used: true,
                });
            }
        }
    }
    reject(conn, user, ctx, audit::MFA_CHALLENGE_FAILED, "wrong_code")
}

/// What `POST /me/mfa/totp` shows: the secret in every form an app reads.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub expires_at: NaiveDateTime,
}

/// Starts (or restarts) a pending enrollment with a fresh secret.
pub fn start_enrollment(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    ctx: &Ctx,
) -> ApiResult<Enrollment> {
    let secret = totp::generate_secret();
    let id = super::new_id();
    let expires_at = ctx.now
        + Duration::from_std(config.pending_enrollment_ttl).unwrap_or(Duration::minutes(10));
    let credential = TotpCredential {
        id: id.clone(),
        user_id: user.id.clone(),
        status: STATUS_PENDING.into(),
        secret_sealed: config.master_key.seal(&secret, &secret_aad(&id)),
        last_used_step: None,
        created_at: ctx.now,
        expires_at: Some(expires_at),
        activated_at: None,
    };
    write_tx(conn, |conn| -> ApiResult<()> {
        totp_store::delete_with_status(conn, &user.id, STATUS_PENDING)?;
        totp_store::insert(conn, &credential)?;
        Ok(())
    })?;
    let secret_b32 = totp::secret_base32(&secret);
    Ok(Enrollment {
        otpauth_uri: totp::otpauth_uri(&config.issuer, &user.email, &secret_b32),
        secret: secret_b32,
        expires_at,
    })
}

/// A fresh recovery token replacing any previous one. Inside a transaction.
fn issue_recovery_token(
    conn: &mut DbConn,
    user: &User,
    ctx: &Ctx,
) -> ApiResult<(String, NaiveDateTime)> {
    let token = tokens::recovery_token();
    let canonical = tokens::normalize_recovery_token(&token)
        .ok_or_else(|| ApiError::internal("recovery token format"))?;
    recovery_store::replace(
        conn,
        &RecoveryToken {
            user_id: user.id.clone(),
            token_hash: tokens::sha256_hex(&canonical),
            created_at: ctx.now,
            used_at: None,
        },
    )?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::RECOVERY_TOKEN_GENERATED, &user.account_id, &user.id),
    )?;
    Ok((token, ctx.now))
}

/// A verified enrollment.
#[derive(Debug)]
pub struct Verified {
    pub mfa: MfaStatus,
    pub recovery_token: String,
    pub session: Option<Issued>,
}

/// Activates the pending secret if `code` matches it; the previously active
/// secret is retired in the same transaction. With `enrollment_challenge`
/// (a forced enrollment), the grant is spent and an aal2 session issued.
pub fn verify_enrollment(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user_id: &str,
    code: &str,
    enrollment_challenge: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<Verified> {
    write_tx(conn, |conn| -> ApiResult<ApiResult<Verified>> {
        let user = lock_second_factor(conn, user_id, ctx).map_err(|e| match e {
            ApiError::ChallengeExpired => ApiError::Unauthorized,
            other => other,
        })?;
        let pending = totp_store::find(conn, &user.id, STATUS_PENDING)?
            .filter(|p| p.expires_at.is_none_or(|at| at > ctx.now))
            .ok_or(ApiError::NoPendingEnrollment)?;
        let secret = open_secret(config, &pending)?;
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(step) = totp::matching_step(&secret, &compact, now_step(ctx.now)) else {
            reject(
                conn,
                &user,
                ctx,
                audit::MFA_CHALLENGE_FAILED,
                "wrong_enrollment_code",
            )?;
            return Ok(Err(ApiError::MfaCodeInvalid {
                attempts_remaining: None,
            }));
        };
        let replaced = totp_store::delete_with_status(conn, &user.id, STATUS_ACTIVE)? > 0;
        totp_store::activate(conn, &pending.id, step, ctx.now)?;
        user_store::set_mfa_enabled_at(conn, &user.id, Some(ctx.now))?;
        user_store::reset_mfa_failures(conn, &user.id)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::MFA_ENABLED, &user.account_id, &user.id)
                .with(serde_json::json!({"replaced_previous_secret": replaced})),
        )?;
        let (recovery_token, _) = issue_recovery_token(conn, &user, ctx)?;
        let mut user = user;
        user.mfa_enabled_at = Some(ctx.now);
        user.mfa_failures = 0;
        let session = match enrollment_challenge {
            Some(challenge_id) => {
                if challenge_store::consume(conn, challenge_id, ctx.now)? == 0 {
                    return Err(ApiError::Unauthorized);
                }
                Some(sessions::issue(conn, keys, config, &user, AMR_TOTP, ctx)?)
            }
            None => None,
        };
        Ok(Ok(Verified {
            mfa: status(conn, &user)?,
            recovery_token,
            session,
        }))
    })?
}

/// A new recovery token for a user with MFA (the old one stops working).
pub fn regenerate_recovery_token(
    conn: &mut DbConn,
    user_id: &str,
    ctx: &Ctx,
) -> ApiResult<(String, NaiveDateTime)> {
    write_tx(conn, |conn| {
        let user = user_store::find(conn, user_id)?.ok_or(ApiError::Unauthorized)?;
        if user.mfa_enabled_at.is_none() {
            return Err(ApiError::MfaNotEnabled);
        }
        issue_recovery_token(conn, &user, ctx)
    })
}

/// Removes every factor of a user: TOTP secrets, recovery token, lockout.
/// Shared by self-service disable and administrator/operator reset.
pub fn remove_all_factors(conn: &mut DbConn, user_id: &str) -> ApiResult<()> {
    totp_store::delete_all(conn, user_id)?;
    recovery_store::delete(conn, user_id)?;
    user_store::set_mfa_enabled_at(conn, user_id, None)?;
    user_store::reset_mfa_failures(conn, user_id)?;
    Ok(())
}

/// Self-service disable: refused while a policy requires MFA; needs a
/// current code or the recovery token (the password was checked before).
pub fn disable(
    conn: &mut DbConn,
    config: &Config,
    user_id: &str,
    code: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    write_tx(conn, |conn| -> ApiResult<ApiResult<()>> {
        let user = lock_second_factor(conn, user_id, ctx).map_err(|e| match e {
            ApiError::ChallengeExpired => ApiError::Unauthorized,
            other => other,
        })?;
        if policy::required_by(conn, &user)?.is_some() {
            return Err(ApiError::MfaEnforced);
        }
        if user.mfa_enabled_at.is_none() {
            return Err(ApiError::MfaNotEnabled);
        }
        if check_second_factor(conn, config, &user, code, ctx)? == SecondFactor::Rejected {
            return Ok(Err(ApiError::MfaCodeInvalid {
                attempts_remaining: None,
            }));
        }
        remove_all_factors(conn, &user.id)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::MFA_DISABLED, &user.account_id, &user.id),
        )?;
        Ok(Ok(()))
    })?
}

/// Reset MFA of `target` by an administrator (`actor`) or the operator CLI
/// (`actor` = None): factors removed, sessions and open challenges ended.
pub fn reset(conn: &mut DbConn, target: &User, actor: Option<&User>, ctx: &Ctx) -> ApiResult<()> {
    write_tx(conn, |conn| {
        remove_all_factors(conn, &target.id)?;
        let ended = session_store::revoke_all_for_user(conn, &target.id, None, ctx.now)?;
        challenge_store::consume_all_for_user(conn, &target.id, ctx.now)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::MFA_RESET,
                account_id: Some(&target.account_id),
                actor: actor.map(|a| a.id.as_str()),
                target: Some(&target.id),
                details: serde_json::json!({"by": if actor.is_some() { "administrator" } else { "operator" }, "sessions_ended": ended}),
            },
        )?;
        Ok(())
    })
}
