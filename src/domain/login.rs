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
use super::policy::{Amr, Method};
use super::sessions::{self, Issued};
use super::{commit_then_refuse, lockout, policy, Ctx, Verdict};
use crate::config::Config;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::store::challenges::{self as challenge_store, Challenge, KIND_ENROLLMENT, KIND_MFA};
use crate::store::types::MfaMethods;
use crate::store::users::{self as user_store, User};
use crate::store::{recovery as recovery_store, write_tx, DbConn};

/// Wrong codes one challenge tolerates.
pub const CHALLENGE_MAX_FAILURES: i32 = 5;

/// What the password step found: the user (if any) whose hash to check.
pub struct Attempt {
    pub user: Option<User>,
}

/// Whether a presented password can be right at all: 1 to `MAX_LEN`
/// bytes. One that is not is still checked by argon2 (the same work) and
/// answered as wrong.
pub fn well_formed_password(password: &str) -> bool {
    !password.is_empty() && password.len() <= crate::crypto::password::MAX_LEN
}

/// Reserves a password attempt for `email` (429 while locked); see
/// [`lockout::reserve_password_attempt`].
pub fn begin_password_attempt(conn: &mut DbConn, email: &str, ctx: &Ctx) -> ApiResult<Attempt> {
    Ok(Attempt {
        user: lockout::reserve_password_attempt(conn, email, ctx)?,
    })
}

/// The answer to a first factor (a correct password, or a single sign-on).
#[derive(Debug)]
pub enum LoginOutcome {
    Authenticated(Box<Issued>),
    MfaRequired {
        mfa_token: String,
        expires_in: u64,
        methods: Vec<&'static str>,
        /// WebAuthn request options when the user has a passkey.
        passkey_options: Option<serde_json::Value>,
        /// The account remembers devices this many days (0: it does not,
        /// and the app should not offer "Remember this device").
        remember_device_days: i32,
    },
    EnrollmentRequired {
        enrollment_token: String,
        expires_in: u64,
        /// What the grant may set up: `totp` and `passkey`, or `passkey`
        /// alone where only passkeys count.
        methods: Vec<&'static str>,
    },
}

/// What an SSO login code or link token vouches for: a provider's subject,
/// and the first factor the provider proved.
pub(crate) struct SsoOrigin<'a> {
    pub provider_id: &'a str,
    pub subject: &'a str,
    pub first_factor: &'a Amr,
    /// The PKCE challenge of the client, whose verifier spends the code.
    pub code_challenge: Option<&'a str>,
}

/// The first factor a login continues from: a password, or a single
/// sign-on (whose challenges name their provider, so a change of it
/// spends them).
pub(crate) enum FirstFactor<'a> {
    /// The password, with the device token sent beside it, if any.
    Password(Amr, Option<&'a str>),
    Sso(SsoOrigin<'a>),
}

impl FirstFactor<'_> {
    fn methods(&self) -> &Amr {
        match self {
            FirstFactor::Password(amr, _) => amr,
            FirstFactor::Sso(origin) => origin.first_factor,
        }
    }

    fn sso(&self) -> Option<&SsoOrigin<'_>> {
        match self {
            FirstFactor::Password(..) => None,
            FirstFactor::Sso(origin) => Some(origin),
        }
    }

    fn device_token(&self) -> Option<&str> {
        match self {
            FirstFactor::Password(_, token) => *token,
            FirstFactor::Sso(_) => None,
        }
    }
}

/// A new challenge of `kind` for `user` that a single sign-on vouches
/// for: it names its provider and subject (so a change of the provider
/// spends it). Returns its token.
pub(crate) fn new_sso_challenge(
    conn: &mut DbConn,
    kind: crate::store::types::ChallengeKind,
    prefix: &str,
    user: &User,
    origin: &SsoOrigin<'_>,
    ttl: std::time::Duration,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let first_factor = origin.first_factor;
    insert_challenge(
        conn,
        kind,
        prefix,
        user,
        first_factor,
        Some(origin),
        None,
        ttl,
        now,
    )
}

#[allow(clippy::too_many_arguments)]
fn insert_challenge(
    conn: &mut DbConn,
    kind: crate::store::types::ChallengeKind,
    prefix: &str,
    user: &User,
    first_factor: &Amr,
    origin: Option<&SsoOrigin<'_>>,
    passkey_state: Option<String>,
    ttl: std::time::Duration,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let token = tokens::random_token(prefix);
    challenge_store::insert(
        conn,
        &Challenge {
            id: super::new_id(),
            token_hash: tokens::sha256_hex(&token),
            kind,
            user_id: user.id.clone(),
            failures: 0,
            created_at: now,
            expires_at: now + Duration::from_std(ttl).unwrap_or(Duration::minutes(5)),
            consumed_at: None,
            first_factor: first_factor.clone(),
            provider_id: origin.map(|o| o.provider_id.to_string()),
            subject: origin.map(|o| o.subject.to_string()),
            code_challenge: origin.and_then(|o| o.code_challenge.map(String::from)),
            passkey_state,
        },
    )?;
    Ok(token)
}

/// Latchkey's policy on top of a first factor, for password and SSO logins
/// alike: a user with MFA gets a challenge, an MFA-required user without it
/// an enrollment grant, anyone else a session — unless `first_factor`
/// already includes a second factor (`sso mfa`: a provider trusted for MFA
/// did it), which gives a session at once. Call inside the transaction that
/// spent the first factor, holding the user's row lock, with the user as
/// read under it.
pub(crate) fn after_first_factor(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user: &User,
    origin: &FirstFactor<'_>,
    ctx: &Ctx,
) -> ApiResult<LoginOutcome> {
    let first_factor = origin.methods();
    let sso = origin.sso();
    // One read of the scope's rules serves every branch below.
    let rules = policy::scope_rules(conn, user)?;
    if first_factor.aal() == policy::Aal::Aal2 {
        let issued = sessions::issue_under_policy(
            conn,
            keys,
            config,
            user,
            first_factor,
            rules.requirement,
            ctx,
        )?;
        return Ok(LoginOutcome::Authenticated(Box::new(issued)));
    }
    // Which factors count matters only to a user who has one.
    let allowed = match user.mfa_enabled_at {
        Some(_) => rules.methods,
        None => MfaMethods::Any,
    };
    let needs_passkey = allowed == MfaMethods::PhishingResistant
        && crate::store::passkeys::count_of_user(conn, &user.id)? == 0;
    if user.mfa_enabled_at.is_some() && !needs_passkey {
        // A remembered device stands in for the second step (proving no
        // factor now: `dev`, and a step-up for the changes that need one).
        if let Some(token) = origin.device_token() {
            if super::devices::recognize(conn, user, token, &rules, ctx.now)? {
                let amr = first_factor.then(Method::Dev);
                let issued = sessions::issue_under_policy(
                    conn,
                    keys,
                    config,
                    user,
                    &amr,
                    rules.requirement,
                    ctx,
                )?;
                return Ok(LoginOutcome::Authenticated(Box::new(issued)));
            }
        }
        let pending = super::assertions::second_factor_options(conn, config, user)?;
        let (passkey_options, passkey_state) = match pending {
            Some(p) => (Some(p.options), Some(p.state)),
            None => (None, None),
        };
        let mfa_token = insert_challenge(
            conn,
            KIND_MFA,
            tokens::MFA_PREFIX,
            user,
            first_factor,
            sso,
            passkey_state,
            config.mfa_challenge_ttl,
            ctx.now,
        )?;
        return Ok(LoginOutcome::MfaRequired {
            mfa_token,
            expires_in: config.mfa_challenge_ttl.as_secs(),
            methods: methods(conn, &user.id, allowed, passkey_options.is_some())?,
            passkey_options,
            remember_device_days: rules.remember_device_days,
        });
    }
    // A required user without MFA from the deadline on, or (where only
    // passkeys count) without a passkey: an enrollment grant first. Before
    // the deadline the session says when setup is due.
    let requirement = rules.requirement;
    if requirement.is_some_and(|r| r.due(ctx.now)) || needs_passkey {
        let enrollment_token = insert_challenge(
            conn,
            KIND_ENROLLMENT,
            tokens::ENROLLMENT_PREFIX,
            user,
            first_factor,
            sso,
            None,
            config.enrollment_ttl,
            ctx.now,
        )?;
        let methods = match rules.methods {
            MfaMethods::PhishingResistant => vec!["passkey"],
            MfaMethods::Any => vec!["totp", "passkey"],
        };
        return Ok(LoginOutcome::EnrollmentRequired {
            enrollment_token,
            expires_in: config.enrollment_ttl.as_secs(),
            methods,
        });
    }
    let issued =
        sessions::issue_under_policy(conn, keys, config, user, first_factor, requirement, ctx)?;
    Ok(LoginOutcome::Authenticated(Box::new(issued)))
}

/// Second factors the user can present on the second step: what they
/// have, and what `allowed` lets count.
pub fn methods(
    conn: &mut DbConn,
    user_id: &str,
    allowed: MfaMethods,
    has_passkey: bool,
) -> ApiResult<Vec<&'static str>> {
    let mut methods = Vec::new();
    if allowed == MfaMethods::Any {
        if crate::store::totp::find(conn, user_id, crate::store::totp::STATUS_ACTIVE)?.is_some() {
            methods.push("totp");
        }
        if recovery_store::find(conn, user_id)?.is_some_and(|t| t.used_at.is_none()) {
            methods.push("recovery_token");
        }
    }
    if has_passkey {
        methods.push("passkey");
    }
    Ok(methods)
}

/// What the second step brings: a code (TOTP or the recovery token), or a
/// passkey's assertion.
pub enum SecondFactorInput {
    Code(String),
    Passkey(Box<webauthn_rs::prelude::PublicKeyCredential>),
}

/// Concludes the password step once argon2 has answered (`password_ok`),
/// with the device token sent beside the password, if any.
#[allow(clippy::too_many_arguments)]
pub fn finish_password_attempt(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    email: &str,
    user: Option<User>,
    password_ok: bool,
    device_token: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<LoginOutcome> {
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
        lockout::password_succeeded(conn, email, ctx)?;
        // Read again, under the user's row lock: MFA may have been enabled
        // (or the user disabled) while argon2 ran, and a password-only
        // session must not slip past a verification that ends the others.
        let user = user_store::lock_and_read(conn, &user.id)?
            .filter(|u| !u.disabled)
            .ok_or(ApiError::InvalidCredentials)?;
        after_first_factor(
            conn,
            keys,
            config,
            &user,
            &FirstFactor::Password(Amr::password(), device_token),
            ctx,
        )
    })
}

/// A completed second step.
#[derive(Debug)]
pub struct SecondStep {
    pub issued: Issued,
    pub recovery_token_used: bool,
    /// The remembered device's token, when asked for and the account
    /// remembers devices.
    pub device_token: Option<String>,
}

/// The second step: the MFA challenge plus a TOTP code or the recovery token.
pub fn complete_mfa(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    mfa_token: &str,
    input: &SecondFactorInput,
    remember_device: bool,
    ctx: &Ctx,
) -> ApiResult<SecondStep> {
    if !mfa_token.starts_with(tokens::MFA_PREFIX) || mfa_token.len() > 200 {
        return Err(ApiError::ChallengeExpired);
    }
    let hash = tokens::sha256_hex(mfa_token);
    commit_then_refuse(conn, |conn| {
        let live = |c: &Challenge| {
            c.consumed_at.is_none() && c.expires_at > ctx.now && c.failures < CHALLENGE_MAX_FAILURES
        };
        // Attempts of one user run one at a time from here on, and the
        // challenge is read under that lock, so concurrent wrong codes
        // cannot overdraw it.
        let (challenge, user) =
            lockout::lock_second_factor_for_challenge(conn, KIND_MFA, &hash, live, ctx)?
                .ok_or(ApiError::ChallengeExpired)?;
        if user.disabled || user.mfa_enabled_at.is_none() {
            return Err(ApiError::ChallengeExpired);
        }
        let code = match input {
            SecondFactorInput::Code(code) => code,
            SecondFactorInput::Passkey(credential) => {
                // The request was kept with the challenge, which spends both.
                let state = challenge
                    .passkey_state
                    .as_deref()
                    .ok_or(ApiError::ChallengeExpired)?;
                return match super::assertions::check_second_factor(
                    conn, config, &user, state, credential, ctx,
                )? {
                    super::assertions::Assertion::Accepted => {
                        if challenge_store::consume(conn, &challenge.id, ctx.now)? == 0 {
                            return Err(ApiError::ChallengeExpired);
                        }
                        let amr = challenge.first_factor.then(Method::Hwk);
                        let issued = sessions::issue(conn, keys, config, &user, &amr, ctx)?;
                        let device_token = match remember_device {
                            true => super::devices::remember(conn, &user, Method::Hwk, ctx)?,
                            false => None,
                        };
                        Ok(Verdict::Granted(SecondStep {
                            issued,
                            recovery_token_used: false,
                            device_token,
                        }))
                    }
                    super::assertions::Assertion::Rejected => {
                        let failures = challenge_store::record_failure(conn, &challenge.id)?;
                        Ok(Verdict::Refused(ApiError::MfaCodeInvalid {
                            attempts_remaining: Some((CHALLENGE_MAX_FAILURES - failures).max(0)),
                        }))
                    }
                };
            }
        };
        // Where only passkeys count, a code is no second factor.
        if policy::methods_for(conn, &user)? == MfaMethods::PhishingResistant {
            return Err(ApiError::PhishingResistantRequired);
        }
        match mfa::check_second_factor(conn, config, &user, code, ctx)? {
            SecondFactor::Accepted { recovery_used } => {
                if challenge_store::consume(conn, &challenge.id, ctx.now)? == 0 {
                    return Err(ApiError::ChallengeExpired);
                }
                let second = if recovery_used {
                    Method::Rec
                } else {
                    Method::Otp
                };
                let amr = challenge.first_factor.then(second);
                let issued = sessions::issue(conn, keys, config, &user, &amr, ctx)?;
                let device_token = match remember_device {
                    true => super::devices::remember(conn, &user, second, ctx)?,
                    false => None,
                };
                Ok(Verdict::Granted(SecondStep {
                    issued,
                    recovery_token_used: recovery_used,
                    device_token,
                }))
            }
            SecondFactor::Rejected => {
                let failures = challenge_store::record_failure(conn, &challenge.id)?;
                Ok(Verdict::Refused(ApiError::MfaCodeInvalid {
                    attempts_remaining: Some((CHALLENGE_MAX_FAILURES - failures).max(0)),
                }))
            }
        }
    })
}
