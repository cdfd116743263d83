//! Passkey assertions: the second step of a sign-in, a step-up, and
//! passwordless sign-in with a discoverable credential. A sign-in's second
//! step keeps its request with the MFA challenge; a step-up and a
//! passwordless sign-in keep theirs in `webauthn_ceremonies`. The signature
//! counter must move forward from the last accepted use (one conditional
//! UPDATE); one that does not is refused and audited. Failed assertions
//! count on the second-factor lockout like wrong codes.

use chrono::NaiveDateTime;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PublicKeyCredential, WebauthnError,
};

use super::audit::{self, Event};
use super::keys::KeyRing;
use super::passkeys::{credentials, encode_id, from_json, new_ceremony, rp, to_json};
use super::sessions::{self, Issued};
use super::{commit_then_refuse, lockout, Ctx, Verdict};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::passkeys::{self as passkey_store, Spend};
use crate::store::types::{Amr, Method};
use crate::store::users::User;
use crate::store::{write_tx, DbConn};

const STEP_UP: &str = "step_up";
const PASSWORDLESS: &str = "passwordless";

/// Request options for an assertion by one of `user`'s passkeys, and the
/// state that checks the answer: `None` when the user has no passkey.
pub struct PendingAssertion {
    /// WebAuthn request options, for the client.
    pub options: Value,
    /// webauthn-rs's state as JSON, for [`check_second_factor`].
    pub state: String,
}

/// [`PendingAssertion`] for the second step of a sign-in: the caller keeps
/// the state with the MFA challenge, which spends both at once.
pub fn second_factor_options(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
) -> ApiResult<Option<PendingAssertion>> {
    let rows = passkey_store::of_user(conn, &user.id)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let (options, state) = rp(config)?
        .start_passkey_authentication(&credentials(&rows)?)
        .map_err(ApiError::internal)?;
    Ok(Some(PendingAssertion {
        options: serde_json::to_value(options).map_err(ApiError::internal)?,
        state: to_json(&state)?,
    }))
}

/// Request options for a step-up of `session_id`: a ceremony bound to the
/// session (5 minutes, single use); `None` without a passkey.
pub fn step_up_options(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    session_id: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<Value>> {
    let Some(pending) = second_factor_options(conn, config, user)? else {
        return Ok(None);
    };
    new_ceremony(
        conn,
        STEP_UP,
        Some(&user.id),
        Some(session_id),
        pending.state,
        now,
    )?;
    Ok(Some(pending.options))
}

/// The outcome of checking an assertion.
pub enum Assertion {
    Accepted,
    Rejected,
}

/// Records a verified assertion on its passkey — the new counter, backup
/// state and when, in one conditional UPDATE that wants the counter ahead
/// of the last accepted use — or, for a counter that did not move forward
/// (a cloned authenticator?), audits it. Returns whether it counts.
fn settle(
    conn: &mut DbConn,
    user: &User,
    verified: Result<AuthenticationResult, WebauthnError>,
    ctx: &Ctx,
) -> ApiResult<Assertion> {
    let regressed = match verified {
        Ok(result) => {
            let credential_id = encode_id(result.cred_id());
            let recorded = passkey_store::record_use(
                conn,
                &user.id,
                &credential_id,
                result.counter(),
                result.backup_state(),
                ctx.now,
            )?;
            if recorded == 1 {
                return Ok(Assertion::Accepted);
            }
            // Behind the last use, or deleted since the options were made.
            passkey_store::find_by_credential(conn, &credential_id)?
                .is_some_and(|row| row.user_id == user.id)
        }
        Err(WebauthnError::CredentialPossibleCompromise) => true,
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            false
        }
    };
    if regressed {
        audit::record(
            conn,
            ctx,
            Event::own(audit::PASSKEY_COUNTER_REGRESSED, &user.account_id, &user.id),
        )?;
    }
    Ok(Assertion::Rejected)
}

/// Checks a passkey assertion against the `state` of its options
/// (inside the caller's transaction, holding the user's lock): one
/// signature check and one conditional UPDATE of the passkey. A rejected
/// one counts on the second-factor lockout, as a wrong code does.
pub fn check_second_factor(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    state: &str,
    credential: &PublicKeyCredential,
    ctx: &Ctx,
) -> ApiResult<Assertion> {
    let state: PasskeyAuthentication = from_json(state)?;
    let outcome = settle(
        conn,
        user,
        rp(config)?.finish_passkey_authentication(credential, &state),
        ctx,
    )?;
    match outcome {
        Assertion::Accepted => lockout::second_factor_cleared_for(conn, user)?,
        Assertion::Rejected => lockout::second_factor_failed(
            conn,
            user,
            ctx,
            audit::MFA_CHALLENGE_FAILED,
            "wrong_passkey_assertion",
        )?,
    }
    Ok(outcome)
}

/// [`check_second_factor`] for a step-up of `session_id`, with the
/// ceremony of [`step_up_options`]: spent by an accepted assertion, left
/// for another try by a rejected one. 401 `challenge_expired` without one.
pub fn check_step_up(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    session_id: &str,
    credential: &PublicKeyCredential,
    ctx: &Ctx,
) -> ApiResult<Assertion> {
    let ceremony =
        passkey_store::spend_ceremony(conn, STEP_UP, Spend::BoundTo(session_id), ctx.now)?
            .filter(|c| c.user_id.as_deref() == Some(user.id.as_str()));
    let Some(ceremony) = ceremony else {
        // An error: the caller's transaction, and any spend, roll back.
        return Err(ApiError::ChallengeExpired);
    };
    let outcome = check_second_factor(conn, config, user, &ceremony.state, credential, ctx)?;
    if let Assertion::Rejected = outcome {
        passkey_store::reopen_ceremony(conn, &ceremony.id)?;
    }
    Ok(outcome)
}

/// Passwordless, first half: request options for a discoverable
/// credential, with the ceremony's id.
pub fn passwordless_options(
    conn: &mut DbConn,
    config: &Config,
    ctx: &Ctx,
) -> ApiResult<(String, Value)> {
    let (options, state) = rp(config)?
        .start_discoverable_authentication()
        .map_err(ApiError::internal)?;
    let mut json = serde_json::to_value(options).map_err(ApiError::internal)?;
    // The browser decides between a button and autofill; the options are
    // the same.
    if let Some(object) = json.as_object_mut() {
        object.remove("mediation");
    }
    let id = write_tx(conn, |conn| {
        new_ceremony(conn, PASSWORDLESS, None, None, to_json(&state)?, ctx.now)
    })?;
    Ok((id, json))
}

/// Passwordless, second half: the assertion of a discoverable credential
/// signs its user in at aal2 (`hwk user`) when the authenticator verified
/// the user. 401 `invalid_credentials` for anything else: an unknown or
/// spent ceremony, another relying party's or a deleted passkey, a
/// disabled user, no user verification. Failures count on the user's
/// second-factor lockout.
pub fn sign_in(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    ceremony_id: &str,
    credential: &PublicKeyCredential,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    let rp = rp(config)?;
    let (user_handle, cred_id) = rp
        .identify_discoverable_authentication(credential)
        .map_err(|_| ApiError::InvalidCredentials)?;
    let cred_id = encode_id(cred_id);
    commit_then_refuse(conn, |conn| {
        let Some(ceremony) =
            passkey_store::spend_ceremony(conn, PASSWORDLESS, Spend::Id(ceremony_id), ctx.now)?
        else {
            return Err(ApiError::InvalidCredentials);
        };
        let Some(row) = passkey_store::find_by_credential(conn, &cred_id)?
            .filter(|r| r.user_id == user_handle.to_string())
        else {
            return Err(ApiError::InvalidCredentials);
        };
        let user = lockout::lock_second_factor(conn, &row.user_id, ctx)?
            .filter(|u| !u.disabled)
            .ok_or(ApiError::InvalidCredentials)?;
        let state: DiscoverableAuthentication = from_json(&ceremony.state)?;
        let passkey: Passkey = from_json(&row.passkey)?;
        let verified = rp.finish_discoverable_authentication_v2(credential, state, &passkey);
        let user_verified = verified.as_ref().is_ok_and(|r| r.user_verified());
        match settle(conn, &user, verified, ctx)? {
            Assertion::Accepted if user_verified => {
                lockout::second_factor_cleared_for(conn, &user)?;
                let amr = Amr::of(&[Method::Hwk, Method::User]);
                let issued = sessions::issue(conn, keys, config, &user, &amr, ctx)?;
                Ok(Verdict::Granted(issued))
            }
            _ => {
                lockout::second_factor_failed(
                    conn,
                    &user,
                    ctx,
                    audit::MFA_CHALLENGE_FAILED,
                    "passwordless_refused",
                )?;
                Ok(Verdict::Refused(ApiError::InvalidCredentials))
            }
        }
    })
}
