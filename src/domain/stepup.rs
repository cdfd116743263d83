//! Step-up: a signed-in user proves a second factor again without a new
//! sign-in, so that the changes of [`policy::needs_step_up`] (others' MFA,
//! roles, identity providers, MFA policies) see one proven within
//! [`policy::STEP_UP_WINDOW`]. A TOTP code or a passkey assertion — never
//! the recovery token, which is for a lost device and would be spent. Wrong
//! ones count on the second-factor lockout like any other.

use serde_json::Value;

use super::assertions::{self, Assertion};
use super::audit::{self, Event};
use super::auth::{self, Principal};
use super::keys::KeyRing;
use super::login::SecondFactorInput;
use super::mfa::{self, SecondFactor};
use super::policy::{self, Method};
use super::sessions::{self, Issued};
use super::{commit_then_refuse, lockout, Ctx, Verdict};
use crate::config::Config;
use crate::crypto::totp;
use crate::error::{ApiError, ApiResult};
use crate::store::types::MfaMethods;
use crate::store::{write_tx, DbConn};

/// What the session can prove to step up.
pub struct StepUpOptions {
    /// `totp` and/or `passkey`.
    pub methods: Vec<&'static str>,
    /// With `passkey`: WebAuthn request options, bound to this session.
    pub passkey_options: Option<Value>,
}

/// `POST /sessions/current/step-up/options`: the methods, and passkey
/// request options when the user has a passkey (a ceremony bound to the
/// session, 5 minutes, single use). 403 `mfa_required_for_action` without
/// MFA: there is nothing to prove.
pub fn options(
    conn: &mut DbConn,
    config: &Config,
    principal: &Principal,
    ctx: &Ctx,
) -> ApiResult<StepUpOptions> {
    write_tx(conn, |conn| {
        let current = auth::reload(conn, principal)?;
        if !current.has_mfa() {
            return Err(ApiError::MfaRequiredForAction);
        }
        let allowed = policy::methods_for(conn, &current.user)?;
        let passkey_options =
            assertions::step_up_options(conn, config, &current.user, &current.session.id, ctx.now)?;
        let mut methods = Vec::new();
        let has_totp =
            crate::store::totp::find(conn, &current.user.id, crate::store::totp::STATUS_ACTIVE)?
                .is_some();
        if has_totp && allowed == MfaMethods::Any {
            methods.push("totp");
        }
        if passkey_options.is_some() {
            methods.push("passkey");
        }
        Ok(StepUpOptions {
            methods,
            passkey_options,
        })
    })
}

/// `POST /sessions/current/step-up`: a factor proven now raises the
/// session (`factor_at`; a remembered device's `dev` gives way to the
/// method) and hands out fresh tokens for it (its earlier refresh tokens
/// stop working). 401 `mfa_code_invalid` for a wrong code or assertion,
/// 403 `phishing_resistant_required` for a code where only passkeys count.
pub fn step_up(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    principal: &Principal,
    input: &SecondFactorInput,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    if let SecondFactorInput::Code(code) = input {
        if totp::compact_code(code).is_none() {
            return Err(ApiError::invalid(
                "code",
                "the 6-digit code of your authenticator app (a recovery token does not step up)",
            ));
        }
    }
    commit_then_refuse(conn, |conn| {
        lockout::lock_second_factor(conn, &principal.user.id, ctx)?
            .ok_or(ApiError::Unauthorized)?;
        let current = auth::reload(conn, principal)?;
        let user = &current.user;
        if !current.has_mfa() {
            return Err(ApiError::MfaRequiredForAction);
        }
        let method = match input {
            SecondFactorInput::Code(code) => {
                if policy::methods_for(conn, user)? == MfaMethods::PhishingResistant {
                    return Err(ApiError::PhishingResistantRequired);
                }
                match mfa::check_second_factor(conn, config, user, code, ctx)? {
                    SecondFactor::Accepted { .. } => Method::Otp,
                    SecondFactor::Rejected => return Ok(refused()),
                }
            }
            SecondFactorInput::Passkey(credential) => {
                match assertions::check_step_up(
                    conn,
                    config,
                    user,
                    &current.session.id,
                    credential,
                    ctx,
                )? {
                    Assertion::Accepted => Method::Hwk,
                    Assertion::Rejected => return Ok(refused()),
                }
            }
        };
        let amr = if current.session.amr.methods().any(|m| m == Method::Dev) {
            current.session.amr.first_factor().then(method)
        } else {
            current.session.amr.clone()
        };
        let issued = sessions::upgrade(conn, keys, config, user, &current.session.id, &amr, ctx)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::SESSION_STEPPED_UP, &user.account_id, &user.id).with(
                serde_json::json!({"session_id": current.session.id, "method": method.as_str()}),
            ),
        )?;
        Ok(Verdict::Granted(issued))
    })
}

/// A wrong code or assertion: refused, with its failure (counted on the
/// lockout) committed.
fn refused() -> Verdict<Issued> {
    Verdict::Refused(ApiError::MfaCodeInvalid {
        attempts_remaining: None,
    })
}
