//! TOTP enrollment, second-factor checks, recovery tokens, disable and reset.
//!
//! Single use is decided by conditional UPDATEs (see `store::totp::consume_step`
//! and `store::recovery::use_token`), inside a transaction that starts by
//! taking the user's row lock (`lockout::lock_second_factor`), so concurrent
//! attempts of one user are serialized on both backends.
//!
//! Managing factors asserts its own rules: once MFA is on, re-enrolling, a
//! new recovery token and disabling need an aal2 session
//! (`Action::ManageOwnMfa`) and the password ([`reauth`]); a verified
//! factor ends every other session, challenge and enrollment grant of the
//! user, so nothing obtained before it outlives it.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Event};
use super::auth::{self, MfaActor, Principal};
use super::keys::KeyRing;
use super::policy::{self, Action, RequiredBy, Requirement};
use super::principals::{self, Change};
use super::reauth::{self, Reauthenticated};
use super::sessions::{self, Issued};
use super::{commit_then_refuse, lockout, Ctx, Verdict};
use crate::config::Config;
use crate::crypto::{tokens, totp};
use crate::error::{ApiError, ApiResult};
use crate::store::recovery::{self as recovery_store, RecoveryToken};
use crate::store::totp::{self as totp_store, TotpCredential, STATUS_ACTIVE, STATUS_PENDING};
use crate::store::types::MfaMethods;
use crate::store::users::{self as user_store, User};
use crate::store::{sessions as session_store, write_tx, DbConn};

/// The recovery token part of the MFA status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RecoveryTokenStatus {
    /// An unused recovery token exists and would be accepted at sign-in
    /// (never where only passkeys count, `methods: phishing_resistant`).
    pub active: bool,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A user's MFA state, as `GET /api/v1/me` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MfaStatus {
    pub enabled: bool,
    /// A rule makes MFA mandatory for this user (now or from a deadline).
    pub required: bool,
    /// Which rule: the user's own (`user`), their sub-account's or the
    /// account's; the user's own applies at once whatever the scope says.
    pub required_by: Option<RequiredBy>,
    /// Required, without MFA yet, before the deadline: until when the user
    /// may still sign in without it (from then on they must enroll).
    pub setup_due_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The user may turn MFA off (enabled and not required).
    pub can_disable: bool,
    pub enabled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub recovery_token: RecoveryTokenStatus,
    /// When an administrator last reset the user's MFA, until the user
    /// enrolls again (the app tells them at their next sign-in).
    pub reset_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who reset it (display name; "Service operator" for the CLI).
    pub reset_by: Option<String>,
    /// Which second factors count for the user: `any`, or
    /// `phishing_resistant` (passkeys only; a TOTP-only user must add one).
    pub methods: MfaMethods,
}

pub fn status(conn: &mut DbConn, user: &User, now: NaiveDateTime) -> ApiResult<MfaStatus> {
    let rules = policy::scope_rules(conn, user)?;
    let (requirement, methods) = (rules.requirement, rules.methods);
    let recovery = recovery_store::find(conn, &user.id)?.filter(|t| t.used_at.is_none());
    Ok(status_of(
        user,
        requirement,
        methods,
        recovery.map(|t| t.created_at),
        now,
    ))
}

/// The MFA status from what is already known: the user, the policy that
/// requires MFA (if any) and the creation time of an unused recovery token.
pub fn status_of(
    user: &User,
    requirement: Option<Requirement>,
    methods: MfaMethods,
    unused_recovery_created_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> MfaStatus {
    let enabled = user.mfa_enabled_at.is_some();
    MfaStatus {
        enabled,
        required: requirement.is_some(),
        required_by: requirement.map(|r| r.by),
        setup_due_at: requirement
            .filter(|_| !enabled)
            .and_then(|r| r.setup_due_at(now))
            .map(|t| t.and_utc()),
        can_disable: enabled && requirement.is_none(),
        enabled_at: user.mfa_enabled_at.map(|t| t.and_utc()),
        recovery_token: RecoveryTokenStatus {
            active: unused_recovery_created_at.is_some() && methods == MfaMethods::Any,
            created_at: unused_recovery_created_at.map(|t| t.and_utc()),
        },
        reset_at: user.mfa_reset_at.map(|t| t.and_utc()),
        reset_by: user.mfa_reset_by.clone(),
        methods,
    }
}

fn secret_aad(credential_id: &str) -> String {
    format!("totp:{credential_id}")
}

pub(super) fn open_secret(config: &Config, credential: &TotpCredential) -> ApiResult<Vec<u8>> {
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
    lockout::second_factor_failed(conn, user, ctx, kind, reason)?;
    Ok(SecondFactor::Rejected)
}

/// Checks a TOTP code (consuming its step) or the recovery token (using it).
/// Call after [`lockout::lock_second_factor`], inside its transaction,
/// which must be committed whatever the verdict (see `commit_then_refuse`).
pub fn check_second_factor(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    input: &str,
    ctx: &Ctx,
) -> ApiResult<SecondFactor> {
    if let Some(compact) = totp::compact_code(input) {
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
        lockout::second_factor_cleared_for(conn, user)?;
        return Ok(SecondFactor::Accepted {
            recovery_used: false,
        });
    }
    if input.len() <= 64 {
        if let Some(canonical) = tokens::normalize_recovery_token(input) {
            if recovery_store::use_token(conn, &user.id, &tokens::sha256_hex(&canonical), ctx.now)?
                == 1
            {
                principals::changed(conn, Change::User(&user.id))?;
                lockout::second_factor_cleared_for(conn, user)?;
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

/// For a session: the assurance check on fresh rows, then — when the user
/// has MFA — the password re-check. What a factor-managing call needs
/// before its transaction.
pub(super) fn precheck(
    conn: &mut DbConn,
    principal: &Principal,
    password: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<Option<Reauthenticated>> {
    let current = auth::authorize(conn, principal, Action::ManageOwnMfa)?;
    if !current.has_mfa() {
        return Ok(None);
    }
    reauth::recheck_password(conn, &current.user, password, ctx).map(Some)
}

/// Inside the transaction, after the user's row lock: the rules again on
/// the rows as they are now. Returns the fresh user.
pub(super) fn assert_may_manage(
    conn: &mut DbConn,
    principal: &Principal,
    proof: Option<&Reauthenticated>,
) -> ApiResult<User> {
    let current = auth::authorize(conn, principal, Action::ManageOwnMfa)?;
    if current.has_mfa() && !proof.is_some_and(|p| p.is_for(&current.user)) {
        return Err(ApiError::ReauthenticationRequired);
    }
    Ok(current.user)
}

/// Starts (or restarts) a pending enrollment with a fresh secret. An
/// enrollment grant works only while its user has no MFA; a session needs
/// aal2 and `password` once MFA is on.
pub fn start_enrollment(
    conn: &mut DbConn,
    config: &Config,
    actor: &MfaActor,
    password: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<Enrollment> {
    let proof = match actor {
        MfaActor::Session(principal) => precheck(conn, principal, password, ctx)?,
        MfaActor::Enrollment(_) => None,
    };
    let secret = totp::generate_secret();
    let id = super::new_id();
    let expires_at = ctx.now
        + Duration::from_std(config.pending_enrollment_ttl).unwrap_or(Duration::minutes(10));
    let user = write_tx(conn, |conn| -> ApiResult<User> {
        user_store::lock(conn, &actor.user().id)?;
        let user = match actor {
            MfaActor::Session(principal) => assert_may_manage(conn, principal, proof.as_ref())?,
            MfaActor::Enrollment(grant) => live_grant_user(conn, grant, ctx)?,
        };
        // Where only passkeys count, a TOTP secret is no factor to set up.
        if policy::methods_for(conn, &user)? == MfaMethods::PhishingResistant {
            return Err(ApiError::PhishingResistantRequired);
        }
        totp_store::delete_with_status(conn, &user.id, STATUS_PENDING)?;
        totp_store::insert(
            conn,
            &TotpCredential {
                id: id.clone(),
                user_id: user.id.clone(),
                status: STATUS_PENDING,
                secret_sealed: config.master_key.seal(&secret, &secret_aad(&id))?,
                last_used_step: None,
                created_at: ctx.now,
                expires_at: Some(expires_at),
                activated_at: None,
            },
        )?;
        Ok(user)
    })?;
    let secret_b32 = totp::secret_base32(&secret);
    Ok(Enrollment {
        otpauth_uri: totp::otpauth_uri(&config.issuer, &user.email, &secret_b32),
        secret: secret_b32,
        expires_at,
    })
}

/// The grant's user, if the grant is still live and the user has no MFA.
pub(super) fn live_grant_user(
    conn: &mut DbConn,
    grant: &auth::EnrollmentGrant,
    ctx: &Ctx,
) -> ApiResult<User> {
    let open = crate::store::challenges::find(conn, &grant.challenge_id)?
        .is_some_and(|c| c.consumed_at.is_none() && c.expires_at > ctx.now);
    user_store::find(conn, &grant.user.id)?
        .filter(|u| open && !u.disabled && u.mfa_enabled_at.is_none())
        .ok_or(ApiError::Unauthorized)
}

/// A fresh recovery token replacing any previous one (`with_enrollment`:
/// the first, issued as MFA is turned on). Inside a transaction.
pub(super) fn issue_recovery_token(
    conn: &mut DbConn,
    user: &User,
    with_enrollment: bool,
    ctx: &Ctx,
) -> ApiResult<(String, NaiveDateTime)> {
    // A code where only passkeys count would be refused at sign-in.
    if policy::methods_for(conn, user)? == MfaMethods::PhishingResistant {
        return Err(ApiError::PhishingResistantRequired);
    }
    let token = tokens::recovery_token();
    let canonical = tokens::normalize_recovery_token(&token)
        .ok_or_else(|| ApiError::internal("recovery token format"))?;
    principals::changed(conn, Change::User(&user.id))?;
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
        Event::own(audit::RECOVERY_TOKEN_GENERATED, &user.account_id, &user.id)
            .with(serde_json::json!({"with_enrollment": with_enrollment})),
    )?;
    Ok((token, ctx.now))
}

/// A verified enrollment.
#[derive(Debug)]
pub struct Verified {
    pub mfa: MfaStatus,
    pub recovery_token: String,
    /// Fresh tokens: a new aal2 session for an enrollment grant, the calling
    /// session (now aal2) for a session.
    pub session: Issued,
}

/// Activates the pending secret if `code` matches it; the previously active
/// secret is retired, every other session of the user ends and every open
/// challenge and enrollment grant is consumed, in one transaction.
pub fn verify_enrollment(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    actor: &MfaActor,
    code: &str,
    ctx: &Ctx,
) -> ApiResult<Verified> {
    commit_then_refuse(conn, |conn| {
        let user = lockout::lock_second_factor(conn, &actor.user().id, ctx)?
            .ok_or(ApiError::Unauthorized)?;
        let (keep_session, first_factor) = match actor {
            MfaActor::Session(principal) => {
                let current = auth::authorize(conn, principal, Action::ManageOwnMfa)?;
                let first = current.session.amr.first_factor();
                (Some(principal.session.id.as_str()), first)
            }
            MfaActor::Enrollment(grant) => {
                live_grant_user(conn, grant, ctx)?;
                (None, grant.first_factor.clone())
            }
        };
        let pending = totp_store::find(conn, &user.id, STATUS_PENDING)?
            .filter(|p| p.expires_at.is_none_or(|at| at > ctx.now))
            .ok_or(ApiError::NoPendingEnrollment)?;
        let secret = open_secret(config, &pending)?;
        let compact = totp::compact_code(code).unwrap_or_default();
        let Some(step) = totp::matching_step(&secret, &compact, now_step(ctx.now)) else {
            reject(
                conn,
                &user,
                ctx,
                audit::MFA_CHALLENGE_FAILED,
                "wrong_enrollment_code",
            )?;
            return Ok(Verdict::Refused(ApiError::MfaCodeInvalid {
                attempts_remaining: None,
            }));
        };
        let replaced = totp_store::delete_with_status(conn, &user.id, STATUS_ACTIVE)? > 0;
        // Exactly this pending secret becomes active, or nothing changes: a
        // concurrent restart must not leave MFA on without a secret.
        if totp_store::activate(conn, &pending.id, step, ctx.now)? != 1 {
            return Err(ApiError::NoPendingEnrollment);
        }
        user_store::set_mfa_enabled_at(conn, &user.id, Some(ctx.now))?;
        principals::changed(conn, Change::User(&user.id))?;
        lockout::second_factor_cleared_for(conn, &user)?;
        let ended = sessions::end_access(conn, &user.id, keep_session, ctx)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::MFA_ENABLED, &user.account_id, &user.id).with(serde_json::json!({
                "replaced_previous_secret": replaced,
                "other_sessions_ended": ended,
            })),
        )?;
        let (recovery_token, _) = issue_recovery_token(conn, &user, true, ctx)?;
        let mut user = user;
        user.mfa_enabled_at = Some(ctx.now);
        user.mfa_failures = 0;
        user.mfa_locked_until = None;
        let amr = first_factor.then(policy::Method::Otp);
        let session = match keep_session {
            Some(session_id) => {
                sessions::upgrade(conn, keys, config, &user, session_id, &amr, ctx)?
            }
            None => sessions::issue(conn, keys, config, &user, &amr, ctx)?,
        };
        Ok(Verdict::Granted(Verified {
            mfa: status(conn, &user, ctx.now)?,
            recovery_token,
            session,
        }))
    })
}

/// A new recovery token (the old one stops working): an aal2 session and
/// the password; 409 without MFA.
pub fn regenerate_recovery_token(
    conn: &mut DbConn,
    principal: &Principal,
    password: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<(String, NaiveDateTime)> {
    let current = auth::authorize(conn, principal, Action::ManageOwnMfa)?;
    let proof = reauth::recheck_password(conn, &current.user, password, ctx)?;
    write_tx(conn, |conn| {
        user_store::lock(conn, &principal.user.id)?;
        let user = assert_may_manage(conn, principal, Some(&proof))?;
        if user.mfa_enabled_at.is_none() {
            return Err(ApiError::MfaNotEnabled);
        }
        issue_recovery_token(conn, &user, false, ctx)
    })
}

/// Removes every factor of a user: TOTP secrets, passkeys (and their
/// ceremonies), recovery token, the second-factor count and lock. Shared by
/// disable, reset and deleting the last passkey.
pub(super) fn remove_all_factors(conn: &mut DbConn, user_id: &str, ctx: &Ctx) -> ApiResult<()> {
    super::devices::forget_all(conn, user_id, "factors_removed", ctx)?;
    totp_store::delete_all(conn, user_id)?;
    crate::store::passkeys::delete_all(conn, user_id)?;
    recovery_store::delete(conn, user_id)?;
    user_store::set_mfa_enabled_at(conn, user_id, None)?;
    principals::changed(conn, Change::User(user_id))?;
    lockout::second_factor_cleared(conn, user_id)?;
    Ok(())
}

/// MFA goes off at its user's own request (disable, or deleting the last
/// passkey), made from `session_id` with the password proved: every factor
/// goes, the other sessions drop to their first factor (a passwordless one
/// ends), and that session goes on as a password session. Returns how many
/// sessions changed.
pub(super) fn turn_off(
    conn: &mut DbConn,
    user_id: &str,
    session_id: &str,
    _proof: &Reauthenticated,
    ctx: &Ctx,
) -> ApiResult<usize> {
    remove_all_factors(conn, user_id, ctx)?;
    session_store::rebase_on_password(conn, session_id)?;
    Ok(session_store::downgrade_all_for_user(conn, user_id)?)
}

/// Self-service disable. Checked in this order: 403 `mfa_enforced` while a
/// policy requires MFA, 403 `mfa_required_for_action` without aal2, 403
/// `reauthentication_required`, 401 `mfa_code_invalid` (a current code or
/// the recovery token). The user's sessions drop to aal1: an old aal2
/// session must not keep acting as if a second factor stood behind it.
pub fn disable(
    conn: &mut DbConn,
    config: &Config,
    principal: &Principal,
    password: Option<&str>,
    code: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    let current = auth::reload(conn, principal)?;
    if policy::mfa_requirement(conn, &current.user)?.is_some() {
        return Err(ApiError::MfaEnforced);
    }
    current.may(Action::ManageOwnMfa)?;
    let proof = reauth::recheck_password(conn, &current.user, password, ctx)?;
    commit_then_refuse(conn, |conn| {
        let user = lockout::lock_second_factor(conn, &principal.user.id, ctx)?
            .ok_or(ApiError::Unauthorized)?;
        let rules = policy::scope_rules(conn, &user)?;
        if rules.requirement.is_some() {
            return Err(ApiError::MfaEnforced);
        }
        assert_may_manage(conn, principal, Some(&proof))?;
        if user.mfa_enabled_at.is_none() {
            return Err(ApiError::MfaNotEnabled);
        }
        // Where only passkeys count, a code proves nothing here either (a
        // passkey user turns MFA off by deleting their passkeys).
        if rules.methods == MfaMethods::PhishingResistant {
            return Err(ApiError::PhishingResistantRequired);
        }
        if check_second_factor(conn, config, &user, code, ctx)? == SecondFactor::Rejected {
            return Ok(Verdict::Refused(ApiError::MfaCodeInvalid {
                attempts_remaining: None,
            }));
        }
        let downgraded = turn_off(conn, &user.id, &principal.session.id, &proof, ctx)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::MFA_DISABLED, &user.account_id, &user.id)
                .with(serde_json::json!({"sessions_downgraded": downgraded})),
        )?;
        Ok(Verdict::Granted(()))
    })
}

/// Reset MFA of `target` (already authorized by the caller's own rule:
/// `admin::reset_user_mfa` or the operator CLI): factors removed, sessions
/// and open challenges ended. Inside the caller's transaction.
pub fn reset(conn: &mut DbConn, target: &User, actor: Option<&User>, ctx: &Ctx) -> ApiResult<()> {
    user_store::lock(conn, &target.id)?;
    remove_all_factors(conn, &target.id, ctx)?;
    let by = actor.map_or("Service operator", |a| a.display_name.as_str());
    user_store::mark_mfa_reset(conn, &target.id, ctx.now, by)?;
    let ended = sessions::end_access(conn, &target.id, None, ctx)?;
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
}
