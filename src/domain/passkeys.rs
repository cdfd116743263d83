//! Passkeys (WebAuthn, through webauthn-rs): the relying party, and
//! registration and management under the assurance of other MFA changes.
//! Ceremony state lives in `webauthn_ceremonies`, so any node finishes what
//! another started (5 minutes; single use). Signing in with a passkey is
//! in `domain/assertions.rs`.

use chrono::{Duration, NaiveDateTime};
use serde_json::Value;
use webauthn_rs::prelude::{
    Credential, Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::audit::{self, Event};
use super::auth::{self, MfaActor};
use super::keys::KeyRing;
use super::principals::{self, Change};
use super::sessions::{self, Issued};
use super::{commit_then_refuse, lockout, mfa, policy, Ctx, Verdict};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::passkeys::{self as passkey_store, Ceremony, PasskeyRow, Spend};
use crate::store::totp as totp_store;
use crate::store::types::{Method, MfaMethods};
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// The relying party: webauthn-rs configured with this deployment's RP id
/// and origins.
pub type RelyingParty = Webauthn;

/// A stored passkey, as the domain hands it out.
pub use crate::store::passkeys::PasskeyRow as PasskeyRecord;

/// [`relying_party`] for a ceremony: built from the configuration (a few
/// microseconds), checked once at start by `AppState::open`.
pub(super) fn rp(config: &Config) -> ApiResult<RelyingParty> {
    relying_party(config).map_err(ApiError::internal)
}

/// How long a ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

const REGISTRATION: &str = "registration";

/// The relying party of `config` (`LATCHKEY_WEBAUTHN_RP_ID`,
/// `LATCHKEY_WEBAUTHN_ORIGINS`); an error names what is wrong.
pub fn relying_party(config: &Config) -> Result<RelyingParty, String> {
    let origins: Vec<Url> = config
        .webauthn_origins
        .iter()
        .map(|o| Url::parse(o).map_err(|e| format!("LATCHKEY_WEBAUTHN_ORIGINS {o}: {e}")))
        .collect::<Result<_, _>>()?;
    let first = origins
        .first()
        .ok_or("LATCHKEY_WEBAUTHN_ORIGINS: no origin")?;
    let mut builder = WebauthnBuilder::new(&config.webauthn_rp_id, first)
        .map_err(|e| format!("LATCHKEY_WEBAUTHN_RP_ID {}: {e}", config.webauthn_rp_id))?
        .rp_name(&config.issuer);
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map_err(|e| format!("WebAuthn relying party: {e}"))
}

pub(super) fn encode_id(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(ApiError::internal)
}

/// The stored passkeys of a user as webauthn-rs reads them.
pub(super) fn credentials(rows: &[PasskeyRow]) -> ApiResult<Vec<Passkey>> {
    rows.iter().map(|r| from_json(&r.passkey)).collect()
}

pub(super) fn new_ceremony(
    conn: &mut DbConn,
    kind: &str,
    user_id: Option<&str>,
    bound_to: Option<&str>,
    state: String,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let id = super::new_id();
    passkey_store::insert_ceremony(
        conn,
        &Ceremony {
            id: id.clone(),
            kind: kind.into(),
            user_id: user_id.map(String::from),
            bound_to: bound_to.map(String::from),
            state,
            created_at: now,
            expires_at: now + CEREMONY_TTL,
            consumed_at: None,
        },
    )?;
    Ok(id)
}

/// What a ceremony's options look like to the browser: webauthn-rs's
/// options as JSON. Registration asks for a discoverable credential where
/// the authenticator can make one (`residentKey: preferred`), so the same
/// passkey also signs in without a password.
fn registration_json(options: &impl serde::Serialize) -> ApiResult<Value> {
    let mut json = serde_json::to_value(options).map_err(ApiError::internal)?;
    if let Some(selection) = json
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "preferred".into());
        selection.insert("requireResidentKey".into(), false.into());
    }
    Ok(json)
}

/// Whom a ceremony of this actor is bound to: the session, or the
/// enrollment grant.
fn binding(actor: &MfaActor) -> &str {
    match actor {
        MfaActor::Session(p) => &p.session.id,
        MfaActor::Enrollment(g) => &g.challenge_id,
    }
}

/// An enrollment grant's user, while the grant is live and the user still
/// needs a factor: no MFA yet, or (under `phishing_resistant`) no passkey.
fn grant_user(conn: &mut DbConn, grant: &auth::EnrollmentGrant, ctx: &Ctx) -> ApiResult<User> {
    let open = crate::store::challenges::find(conn, &grant.challenge_id)?
        .is_some_and(|c| c.consumed_at.is_none() && c.expires_at > ctx.now);
    let user = user_store::find(conn, &grant.user.id)?
        .filter(|u| open && !u.disabled)
        .ok_or(ApiError::Unauthorized)?;
    let needs_passkey = user.mfa_enabled_at.is_none()
        || (policy::methods_for(conn, &user)? == MfaMethods::PhishingResistant
            && passkey_store::count_of_user(conn, &user.id)? == 0);
    if needs_passkey {
        Ok(user)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Creation options for a new passkey of the actor. A session needs aal2
/// and `password` once MFA is on (checked here, when the options are asked
/// for); an enrollment token works while its user still needs a factor.
/// The ceremony is bound to that session or token.
pub fn registration_options(
    conn: &mut DbConn,
    config: &Config,
    actor: &MfaActor,
    password: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<Value> {
    let rp = rp(config)?;
    let proof = match actor {
        MfaActor::Session(principal) => mfa::precheck(conn, principal, password, ctx)?,
        MfaActor::Enrollment(_) => None,
    };
    write_tx(conn, |conn| {
        user_store::lock(conn, &actor.user().id)?;
        let user = match actor {
            MfaActor::Session(principal) => {
                mfa::assert_may_manage(conn, principal, proof.as_ref())?
            }
            MfaActor::Enrollment(grant) => grant_user(conn, grant, ctx)?,
        };
        let existing = passkey_store::of_user(conn, &user.id)?;
        let exclude = credentials(&existing)?
            .iter()
            .map(|p| p.cred_id().clone())
            .collect::<Vec<_>>();
        let user_handle = Uuid::parse_str(&user.id).map_err(ApiError::internal)?;
        let (options, state) = rp
            .start_passkey_registration(
                user_handle,
                &user.email,
                &user.display_name,
                Some(exclude).filter(|e| !e.is_empty()),
            )
            .map_err(ApiError::internal)?;
        new_ceremony(
            conn,
            REGISTRATION,
            Some(&user.id),
            Some(binding(actor)),
            to_json(&state)?,
            ctx.now,
        )?;
        registration_json(&options)
    })
}

/// A registered passkey, and what its registration changed.
pub struct Registered {
    pub passkey: PasskeyRow,
    /// Set when this passkey turned MFA on: the first recovery token.
    pub recovery_token: Option<String>,
    /// Fresh tokens when this registration raised the session (MFA turned
    /// on) or came with an enrollment token (a new session).
    pub session: Option<Issued>,
}

/// Finishes a registration: the credential is checked against the
/// ceremony bound to the actor's session or token (spent either way).
/// The first factor of a user turns MFA on, as a verified TOTP code does:
/// every other session ends, a recovery token is issued, and the session
/// is raised to aal2 (`hwk`).
pub fn register(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    actor: &MfaActor,
    name: &str,
    credential: &RegisterPublicKeyCredential,
    ctx: &Ctx,
) -> ApiResult<Registered> {
    let rp = rp(config)?;
    commit_then_refuse(conn, |conn| {
        user_store::lock(conn, &actor.user().id)?;
        let (user, keep_session, first_factor) = match actor {
            MfaActor::Session(principal) => {
                let current = auth::authorize(conn, principal, policy::Action::ManageOwnMfa)?;
                let first = current.session.amr.first_factor();
                (current.user, Some(principal.session.id.as_str()), first)
            }
            MfaActor::Enrollment(grant) => (
                grant_user(conn, grant, ctx)?,
                None,
                grant.first_factor.clone(),
            ),
        };
        let Some(ceremony) = passkey_store::spend_ceremony(
            conn,
            REGISTRATION,
            Spend::BoundTo(binding(actor)),
            ctx.now,
        )?
        else {
            return Err(ApiError::NoPendingEnrollment);
        };
        let state: PasskeyRegistration = from_json(&ceremony.state)?;
        let passkey = match rp.finish_passkey_registration(credential, &state) {
            Ok(passkey) => passkey,
            Err(e) => {
                tracing::info!(error = %e, "passkey registration refused");
                return Ok(Verdict::Refused(ApiError::invalid(
                    "credential",
                    "the authenticator's answer does not verify for this registration",
                )));
            }
        };
        let registered = Credential::from(passkey.clone());
        let row = PasskeyRow {
            id: super::new_id(),
            user_id: user.id.clone(),
            credential_id: encode_id(passkey.cred_id()),
            name: name.to_string(),
            passkey: to_json(&passkey)?,
            created_at: ctx.now,
            last_used_at: None,
            backed_up: registered.backup_state,
            sign_count: i64::from(registered.counter),
        };
        passkey_store::insert(conn, &row)
            .map_err(super::taken("This passkey is registered already."))?;
        let turns_on = user.mfa_enabled_at.is_none();
        let amr = first_factor.then(Method::Hwk);
        let mut registered = Registered {
            passkey: row.clone(),
            recovery_token: None,
            session: None,
        };
        if turns_on || keep_session.is_none() {
            if turns_on {
                user_store::set_mfa_enabled_at(conn, &user.id, Some(ctx.now))?;
            }
            principals::changed(conn, Change::User(&user.id))?;
            lockout::second_factor_cleared_for(conn, &user)?;
            let ended = sessions::end_access(conn, &user.id, keep_session, ctx)?;
            let mut fresh = user.clone();
            fresh.mfa_enabled_at = fresh.mfa_enabled_at.or(Some(ctx.now));
            fresh.mfa_reset_at = None;
            fresh.mfa_reset_by = None;
            if turns_on {
                audit::record(
                    conn,
                    ctx,
                    Event::own(audit::MFA_ENABLED, &user.account_id, &user.id).with(
                        serde_json::json!({"method": "passkey", "other_sessions_ended": ended}),
                    ),
                )?;
                // None where only passkeys count: such a code would be
                // refused at sign-in.
                if policy::methods_for(conn, &user)? == MfaMethods::Any {
                    let (token, _) = mfa::issue_recovery_token(conn, &fresh, true, ctx)?;
                    registered.recovery_token = Some(token);
                }
            }
            registered.session = Some(match keep_session {
                Some(session_id) => {
                    sessions::upgrade(conn, keys, config, &fresh, session_id, &amr, ctx)?
                }
                None => sessions::issue(conn, keys, config, &fresh, &amr, ctx)?,
            });
        }
        if !turns_on {
            audit::record(
                conn,
                ctx,
                Event::own(audit::PASSKEY_ADDED, &user.account_id, &user.id)
                    .with(serde_json::json!({"passkey_id": row.id, "name": row.name})),
            )?;
        }
        Ok(Verdict::Granted(registered))
    })
}

/// A user's second factors (`GET /me/mfa/factors`).
pub struct Factors {
    /// The active TOTP secret, if any: when it was activated.
    pub totp: Option<Option<NaiveDateTime>>,
    pub passkeys: Vec<PasskeyRow>,
}

pub fn factors(conn: &mut DbConn, principal: &auth::Principal) -> ApiResult<Factors> {
    let user_id = &principal.user.id;
    let totp = totp_store::find(conn, user_id, crate::store::totp::STATUS_ACTIVE)?;
    Ok(Factors {
        totp: totp.map(|t| t.activated_at),
        passkeys: passkey_store::of_user(conn, user_id)?,
    })
}

/// Renames one of the user's passkeys (aal2 once MFA is on).
pub fn rename(
    conn: &mut DbConn,
    principal: &auth::Principal,
    id: &str,
    name: &str,
    ctx: &Ctx,
) -> ApiResult<PasskeyRow> {
    let id = super::parse_id(id)?;
    write_tx(conn, |conn| {
        let current = auth::authorize(conn, principal, policy::Action::ManageOwnMfa)?;
        let row =
            passkey_store::find_of_user(conn, &current.user.id, &id)?.ok_or(ApiError::NotFound)?;
        passkey_store::rename(conn, &row.id, name)?;
        audit::record(
            conn,
            ctx,
            Event::own(
                audit::PASSKEY_RENAMED,
                &current.user.account_id,
                &current.user.id,
            )
            .with(serde_json::json!({"passkey_id": row.id, "name": name})),
        )?;
        Ok(PasskeyRow {
            name: name.to_string(),
            ..row
        })
    })
}

/// Deletes one of the user's passkeys: aal2 and the password. Every other
/// session of the user ends (it may have been proven with this key). The
/// last factor of a user turns MFA off, as disabling does, and the session
/// that asked goes on as a password session. 403 `mfa_enforced` when MFA is
/// required and no factor that counts would remain.
pub fn delete(
    conn: &mut DbConn,
    principal: &auth::Principal,
    id: &str,
    password: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<()> {
    let id = super::parse_id(id)?;
    let proof = mfa::precheck(conn, principal, password, ctx)?;
    write_tx(conn, |conn| {
        user_store::lock(conn, &principal.user.id)?;
        let user = mfa::assert_may_manage(conn, principal, proof.as_ref())?;
        let row = passkey_store::find_of_user(conn, &user.id, &id)?.ok_or(ApiError::NotFound)?;
        let others = passkey_store::count_of_user(conn, &user.id)? - 1;
        let totp = totp_store::find(conn, &user.id, crate::store::totp::STATUS_ACTIVE)?.is_some();
        // What remains must still count where MFA is required: under
        // `phishing_resistant` a TOTP secret left behind does not.
        let rules = policy::scope_rules(conn, &user)?;
        if others == 0 && rules.requirement.is_some() && !(totp && rules.methods == MfaMethods::Any)
        {
            return Err(ApiError::MfaEnforced);
        }
        if others == 0 && !totp {
            let proof = proof.as_ref().ok_or(ApiError::ReauthenticationRequired)?;
            let downgraded = mfa::turn_off(conn, &user.id, &principal.session.id, proof, ctx)?;
            audit::record(
                conn,
                ctx,
                Event::own(audit::MFA_DISABLED, &user.account_id, &user.id).with(
                    serde_json::json!({"method": "passkey_deleted", "sessions_downgraded": downgraded}),
                ),
            )?;
            return Ok(());
        }
        passkey_store::delete(conn, &row.id)?;
        principals::changed(conn, Change::User(&user.id))?;
        let ended = sessions::end_access(conn, &user.id, Some(&principal.session.id), ctx)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::PASSKEY_REMOVED, &user.account_id, &user.id).with(
                serde_json::json!({"passkey_id": row.id, "name": row.name, "other_sessions_ended": ended}),
            ),
        )?;
        Ok(())
    })
}
