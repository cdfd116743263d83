//! Login: the password step (with the per-email lockout) and the second
//! step (TOTP code or recovery token, with the per-user lockout).
//!
//! The password step is split around argon2, which runs outside any
//! transaction: [`begin_password_attempt`] reserves an attempt (counted as a
//! failure until proven otherwise, so a parallel burst cannot outrun the
//! budget), then [`finish_password_attempt`] decides.

use chrono::{Duration, NaiveDateTime};

use super::audit::{self, Event};
use super::keys::KeyRing;
use super::mfa::{self, SecondFactor};
use super::policy;
use super::sessions::{self, Issued, AMR_PASSWORD};
use super::{seconds_until, Ctx};
use crate::config::Config;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::challenges::{self as challenge_store, Challenge, KIND_ENROLLMENT, KIND_MFA};
use crate::store::users::{self as user_store, User};
use crate::store::{recovery as recovery_store, throttles, write_tx, DbConn};

/// Consecutive wrong passwords for one email before the lock starts.
pub const PASSWORD_FAILURES_BEFORE_LOCK: i32 = 5;
/// First lock; it doubles with every further failure up to the maximum.
pub const PASSWORD_LOCK_BASE_SECONDS: i64 = 30;
pub const PASSWORD_LOCK_MAX_SECONDS: i64 = 15 * 60;
/// Wrong codes one challenge tolerates.
pub const CHALLENGE_MAX_FAILURES: i32 = 5;
/// Consecutive wrong second factors (across challenges) before the lock.
pub const SECOND_FACTOR_FAILURES_BEFORE_LOCK: i32 = 10;
pub const SECOND_FACTOR_LOCK_SECONDS: i64 = 15 * 60;

/// Lock length after `failures` consecutive failures (≥ the threshold).
pub fn password_lock_seconds(failures: i32) -> i64 {
    let doublings = (failures - PASSWORD_FAILURES_BEFORE_LOCK).clamp(0, 20) as u32;
    (PASSWORD_LOCK_BASE_SECONDS << doublings).min(PASSWORD_LOCK_MAX_SECONDS)
}

/// Key of the per-email counter: a hash, so unknown emails leave no trace.
pub fn throttle_key(email: &str) -> String {
    tokens::sha256_hex(&format!("login:{email}"))
}

/// What the password step found: the user (if any) whose hash to check.
pub struct Attempt {
    pub user: Option<User>,
}

/// Reserves a password attempt for `email`: 429 while locked.
pub fn begin_password_attempt(conn: &mut DbConn, email: &str, ctx: &Ctx) -> ApiResult<Attempt> {
    let key = throttle_key(email);
    throttles::ensure(conn, &key, ctx.now)?;
    write_tx(conn, |conn| {
        let user = user_store::find_by_email(conn, email)?;
        let Some(failures) = throttles::reserve_attempt(conn, &key, ctx.now)? else {
            let until = throttles::locked_until(conn, &key)?.unwrap_or(ctx.now);
            return Err(ApiError::TooManyAttempts {
                retry_after: seconds_until(ctx.now, until),
            });
        };
        if failures >= PASSWORD_FAILURES_BEFORE_LOCK {
            // Locked from now on; a correct password below lifts it again.
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
                        details: serde_json::json!({"failures": failures, "locked_until": until.and_utc().to_rfc3339()}),
                    },
                )?;
            }
        }
        Ok(Attempt { user })
    })
}

/// The answer to a correct password.
#[derive(Debug)]
pub enum PasswordOutcome {
    Authenticated(Box<Issued>),
    MfaRequired {
        mfa_token: String,
        expires_in: u64,
        methods: Vec<&'static str>,
    },
    EnrollmentRequired {
        enrollment_token: String,
        expires_in: u64,
    },
}

fn new_challenge(
    conn: &mut DbConn,
    kind: &str,
    prefix: &str,
    user: &User,
    ttl: std::time::Duration,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let token = tokens::random_token(prefix);
    challenge_store::insert(
        conn,
        &Challenge {
            id: super::new_id(),
            token_hash: tokens::sha256_hex(&token),
            kind: kind.to_string(),
            user_id: user.id.clone(),
            failures: 0,
            created_at: now,
            expires_at: now + Duration::from_std(ttl).unwrap_or(Duration::minutes(5)),
            consumed_at: None,
        },
    )?;
    Ok(token)
}

/// Second factors the user can present on the second step.
pub fn methods(conn: &mut DbConn, user_id: &str) -> ApiResult<Vec<&'static str>> {
    let mut methods = vec!["totp"];
    if recovery_store::find(conn, user_id)?.is_some_and(|t| t.used_at.is_none()) {
        methods.push("recovery_token");
    }
    Ok(methods)
}

/// Concludes the password step once argon2 has answered.
pub fn finish_password_attempt(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    email: &str,
    user: Option<User>,
    password_ok: bool,
    ctx: &Ctx,
) -> ApiResult<PasswordOutcome> {
    let user = match user {
        Some(user) if password_ok && !user.disabled => user,
        other => {
            // Every failure writes one event, known email or not, so the
            // two cost the same work (an unknown email's event belongs to
            // no account and names nobody).
            let (account_id, target, reason) = match &other {
                Some(user) if user.disabled => (
                    Some(user.account_id.as_str()),
                    Some(user.id.as_str()),
                    "user_disabled",
                ),
                Some(user) => (
                    Some(user.account_id.as_str()),
                    Some(user.id.as_str()),
                    "wrong_password",
                ),
                None => (None, None, "unknown_email"),
            };
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::LOGIN_FAILED,
                    account_id,
                    actor: None,
                    target,
                    details: serde_json::json!({"reason": reason}),
                },
            )?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    write_tx(conn, |conn| {
        throttles::reset(conn, &throttle_key(email), ctx.now)?;
        if user.mfa_enabled_at.is_some() {
            let mfa_token = new_challenge(
                conn,
                KIND_MFA,
                tokens::MFA_PREFIX,
                &user,
                config.mfa_challenge_ttl,
                ctx.now,
            )?;
            return Ok(PasswordOutcome::MfaRequired {
                mfa_token,
                expires_in: config.mfa_challenge_ttl.as_secs(),
                methods: methods(conn, &user.id)?,
            });
        }
        if policy::required_by(conn, &user)?.is_some() {
            let enrollment_token = new_challenge(
                conn,
                KIND_ENROLLMENT,
                tokens::ENROLLMENT_PREFIX,
                &user,
                config.enrollment_ttl,
                ctx.now,
            )?;
            return Ok(PasswordOutcome::EnrollmentRequired {
                enrollment_token,
                expires_in: config.enrollment_ttl.as_secs(),
            });
        }
        let issued = sessions::issue(conn, keys, config, &user, AMR_PASSWORD, ctx)?;
        Ok(PasswordOutcome::Authenticated(Box::new(issued)))
    })
}

/// A completed second step.
#[derive(Debug)]
pub struct SecondStep {
    pub issued: Issued,
    pub recovery_token_used: bool,
}

/// The second step: the MFA challenge plus a TOTP code or the recovery token.
pub fn complete_mfa(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    mfa_token: &str,
    code: &str,
    ctx: &Ctx,
) -> ApiResult<SecondStep> {
    if !mfa_token.starts_with(tokens::MFA_PREFIX) || mfa_token.len() > 200 {
        return Err(ApiError::ChallengeExpired);
    }
    let hash = tokens::sha256_hex(mfa_token);
    write_tx(conn, |conn| -> ApiResult<Result<SecondStep, ApiError>> {
        let live = |c: &Challenge| {
            c.consumed_at.is_none() && c.expires_at > ctx.now && c.failures < CHALLENGE_MAX_FAILURES
        };
        let found = challenge_store::find_by_hash(conn, KIND_MFA, &hash)?
            .filter(live)
            .ok_or(ApiError::ChallengeExpired)?;
        // Attempts of one user run one at a time from here on; read the
        // challenge again so concurrent wrong codes cannot overdraw it.
        let user = mfa::lock_second_factor(conn, &found.user_id, ctx)?;
        let challenge = challenge_store::find_by_hash(conn, KIND_MFA, &hash)?
            .filter(live)
            .ok_or(ApiError::ChallengeExpired)?;
        if user.disabled || user.mfa_enabled_at.is_none() {
            return Err(ApiError::ChallengeExpired);
        }
        match mfa::check_second_factor(conn, config, &user, code, ctx)? {
            SecondFactor::Accepted { recovery_used } => {
                if challenge_store::consume(conn, &challenge.id, ctx.now)? == 0 {
                    return Err(ApiError::ChallengeExpired);
                }
                let amr = if recovery_used {
                    sessions::AMR_RECOVERY
                } else {
                    sessions::AMR_TOTP
                };
                let issued = sessions::issue(conn, keys, config, &user, amr, ctx)?;
                Ok(Ok(SecondStep {
                    issued,
                    recovery_token_used: recovery_used,
                }))
            }
            SecondFactor::Rejected => {
                let failures = challenge_store::record_failure(conn, &challenge.id)?;
                // Commit the counters, then answer with the refusal.
                Ok(Err(ApiError::MfaCodeInvalid {
                    attempts_remaining: Some((CHALLENGE_MAX_FAILURES - failures).max(0)),
                }))
            }
        }
    })?
}
