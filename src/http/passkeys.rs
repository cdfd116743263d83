//! `/api/v1/me/mfa/passkeys*`, `/api/v1/me/mfa/factors` and
//! `/api/v1/sessions/passkey*`: passkeys (WebAuthn). The rules (assurance,
//! ceremonies, counters, lockouts) are `domain::passkeys`'s.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body::Body;
use super::dto::{utc, AuthenticatedResponse};
use super::extract::{AuthSession, RateLimited};
use super::problems::{BodyProblems, SessionProblems};
use super::{ctx, NoStore, State};
use crate::domain::assertions;
use crate::domain::auth::MfaActor;
use crate::domain::passkeys::{self, PasskeyRecord};
use crate::domain::validate::Checks;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(registration_options)
        .service(register_passkey)
        .service(list_factors)
        .service(rename_passkey)
        .service(delete_passkey)
        .service(passwordless_options)
        .service(passwordless_sign_in)
        .service(relying_party);
}

/// Where passkeys work: a browser offers them only on a page whose origin is
/// one of `origins` (and whose host is `id` or under it).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RelyingPartyResponse {
    /// The relying party id (`LATCHKEY_WEBAUTHN_RP_ID`).
    #[schema(example = "auth.example.com")]
    pub id: String,
    /// The name authenticators show.
    pub name: String,
    /// Origins whose pages may create and use passkeys
    /// (`LATCHKEY_WEBAUTHN_ORIGINS`).
    #[schema(example = json!(["https://app.example.com"]))]
    pub origins: Vec<String>,
}

/// A passkey as its owner sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyResponse {
    pub id: String,
    #[schema(example = "MacBook Touch ID")]
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The authenticator syncs it (a backed-up, multi-device passkey).
    pub backed_up: bool,
}

impl From<&PasskeyRecord> for PasskeyResponse {
    fn from(p: &PasskeyRecord) -> Self {
        PasskeyResponse {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: utc(p.created_at),
            last_used_at: p.last_used_at.map(utc),
            backed_up: p.backed_up,
        }
    }
}

/// A new passkey; when it turned MFA on (or came with an enrollment
/// token), the first recovery token and fresh tokens to switch to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisteredPasskeyResponse {
    #[serde(flatten)]
    pub passkey: PasskeyResponse,
    /// Set when this passkey turned MFA on: shown once. Absent where only
    /// passkeys count (`mfa_methods: phishing_resistant`): such a code
    /// would be refused at sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_token: Option<String>,
    /// Fresh tokens when the session was raised to aal2 or a new one began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<AuthenticatedResponse>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyOptionsRequest {
    /// Required once MFA is on (not with an enrollment token).
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskeyRequest {
    #[schema(example = "MacBook Touch ID", min_length = 1, max_length = 200)]
    pub name: String,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.create`,
    /// as JSON (base64url binary fields).
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub credential: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskeyRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletePasskeyRequest {
    pub password: String,
}

/// A user's second factors.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FactorsResponse {
    /// The active TOTP secret, if any: when it was activated.
    pub totp: Option<TotpFactor>,
    pub passkeys: Vec<PasskeyResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpFactor {
    pub activated_at: Option<DateTime<Utc>>,
}

/// Passwordless: the request options and the ceremony they belong to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordlessOptionsResponse {
    /// Send back with the assertion.
    pub ceremony_id: String,
    /// WebAuthn request options (`navigator.credentials.get`), base64url
    /// binary fields.
    #[serde(rename = "publicKey")]
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub public_key: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordlessRequest {
    pub ceremony_id: String,
    /// The browser's assertion (`navigator.credentials.get`) as JSON.
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub credential: Value,
}

/// A credential as webauthn-rs reads it; 422 on `field` otherwise.
pub(super) fn credential<T: serde::de::DeserializeOwned>(field: &str, json: Value) -> ApiResult<T> {
    serde_json::from_value(json).map_err(|_| ApiError::invalid(field, "not a WebAuthn credential"))
}

/// Creation options for a new passkey (`navigator.credentials.create`).
///
/// The same assurance as other MFA changes: once MFA is on, an aal2 session
/// and `password`; an enrollment token works while its user still needs a
/// factor. The ceremony lives 5 minutes, bound to that session or token.
#[utoipa::path(
    tag = "mfa",
    request_body(content = Option<PasskeyOptionsRequest>, description = "`password` once MFA is on"),
    responses(
        (status = 200, description = "WebAuthn creation options (`publicKey`)", body = std::collections::HashMap<String, serde_json::Value>),
        (status = 401, description = "`unauthorized`"),
        (status = 403, description = "`mfa_required_for_action` or `reauthentication_required`"),
        (status = 429, description = "`too_many_attempts`"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/passkeys/options")]
pub async fn registration_options(
    req: HttpRequest,
    state: State,
    actor: MfaActor,
    body: Body<Option<PasskeyOptionsRequest>>,
) -> ApiResult<NoStore<Value>> {
    let body = body.parse_or_default()?.unwrap_or_default();
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let _permit = state.hasher.permit().await?;
    let options = state
        .db(move |conn| {
            passkeys::registration_options(conn, &config, &actor, body.password.as_deref(), &ctx)
        })
        .await?;
    Ok(NoStore::ok(options))
}

/// Register the passkey the browser created for the options.
///
/// The first factor of a user turns MFA on, as a verified TOTP code does:
/// every other session ends, the answer carries the first recovery token
/// and fresh tokens (the calling session, now aal2 with `amr
/// ["pwd","hwk"]`, or a new session for an enrollment token).
#[utoipa::path(
    tag = "mfa",
    request_body = RegisterPasskeyRequest,
    responses(
        (status = 201, description = "Registered", body = RegisteredPasskeyResponse),
        (status = 401, description = "`unauthorized`"),
        (status = 403, description = "`mfa_required_for_action`"),
        (status = 409, description = "`no_pending_enrollment`: no live options for this session; `conflict`: registered already"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/passkeys")]
pub async fn register_passkey(
    req: HttpRequest,
    state: State,
    actor: MfaActor,
    body: Body<RegisterPasskeyRequest>,
) -> ApiResult<NoStore<RegisteredPasskeyResponse>> {
    let body = body.parse()?;
    let mut checks = Checks::default();
    let name = checks.name("name", &body.name);
    checks.finish()?;
    let credential = credential("credential", body.credential)?;
    let ctx = ctx(&req, &state);
    let (keys, config) = (state.keys.clone(), state.config.clone());
    let registered = state
        .db(move |conn| passkeys::register(conn, &keys, &config, &actor, &name, &credential, &ctx))
        .await?;
    Ok(NoStore::created(RegisteredPasskeyResponse {
        passkey: PasskeyResponse::from(&registered.passkey),
        recovery_token: registered.recovery_token,
        session: registered
            .session
            .map(|issued| AuthenticatedResponse::new(issued, None)),
    }))
}

/// The user's second factors: TOTP and passkeys.
#[utoipa::path(
    tag = "mfa",
    responses(
        (status = 200, description = "Factors", body = FactorsResponse),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[get("/me/mfa/factors")]
pub async fn list_factors(
    state: State,
    auth: AuthSession,
) -> ApiResult<web::Json<FactorsResponse>> {
    let factors = state.db(move |conn| passkeys::factors(conn, &auth)).await?;
    Ok(web::Json(FactorsResponse {
        totp: factors.totp.map(|activated_at| TotpFactor {
            activated_at: activated_at.map(utc),
        }),
        passkeys: factors.passkeys.iter().map(PasskeyResponse::from).collect(),
    }))
}

/// Rename one of the user's passkeys (aal2 once MFA is on).
#[utoipa::path(
    tag = "mfa",
    params(("id" = String, Path, description = "Passkey id")),
    request_body = RenamePasskeyRequest,
    responses(
        SessionProblems,
        (status = 200, description = "Renamed", body = PasskeyResponse),
        (status = 403, description = "`mfa_required_for_action`; `mfa_enrollment_required` for an enrollment token"),
        (status = 404, description = "`not_found`"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[patch("/me/mfa/passkeys/{id}")]
pub async fn rename_passkey(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    path: web::Path<String>,
    body: Body<RenamePasskeyRequest>,
) -> ApiResult<web::Json<PasskeyResponse>> {
    let body = body.parse()?;
    let mut checks = Checks::default();
    let name = checks.name("name", &body.name);
    checks.finish()?;
    let ctx = ctx(&req, &state);
    let id = path.into_inner();
    let row = state
        .db(move |conn| passkeys::rename(conn, &auth, &id, &name, &ctx))
        .await?;
    Ok(web::Json(PasskeyResponse::from(&row)))
}

/// Delete one of the user's passkeys: aal2 and the password. Every other
/// session of the user ends. The last factor turns MFA off (403
/// `mfa_enforced` while a policy requires MFA).
#[utoipa::path(
    tag = "mfa",
    params(("id" = String, Path, description = "Passkey id")),
    request_body = DeletePasskeyRequest,
    responses(
        SessionProblems,
        (status = 204, description = "Deleted"),
        (status = 403, description = "`mfa_required_for_action`, `reauthentication_required`, `mfa_enforced`; `mfa_enrollment_required` for an enrollment token"),
        (status = 404, description = "`not_found`"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/me/mfa/passkeys/{id}")]
pub async fn delete_passkey(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    path: web::Path<String>,
    body: Body<DeletePasskeyRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.parse()?;
    let ctx = ctx(&req, &state);
    let id = path.into_inner();
    let _permit = state.hasher.permit().await?;
    state
        .db(move |conn| passkeys::delete(conn, &auth, &id, Some(&body.password), &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Passwordless sign-in, first half: request options for a discoverable
/// credential (`navigator.credentials.get`), with the ceremony's id (5
/// minutes, single use).
#[utoipa::path(
    tag = "sessions",
    responses(
        (status = 200, description = "Request options", body = PasswordlessOptionsResponse),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
    )
)]
#[post("/sessions/passkey/options")]
pub async fn passwordless_options(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
) -> ApiResult<NoStore<PasswordlessOptionsResponse>> {
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let (ceremony_id, options) = state
        .db(move |conn| assertions::passwordless_options(conn, &config, &ctx))
        .await?;
    let public_key = options.get("publicKey").cloned().unwrap_or(Value::Null);
    Ok(NoStore::ok(PasswordlessOptionsResponse {
        ceremony_id,
        public_key,
    }))
}

/// Passwordless sign-in: the assertion of a discoverable passkey whose
/// authenticator verified the user signs them in at aal2, `amr
/// ["hwk","user"]`. Anything else is 401 `invalid_credentials`.
#[utoipa::path(
    tag = "sessions",
    request_body = PasswordlessRequest,
    responses(
        (status = 200, description = "Signed in (aal2)", body = AuthenticatedResponse),
        (status = 401, description = "`invalid_credentials`"),
        (status = 429, description = "`too_many_attempts`"),
        BodyProblems,
    )
)]
#[post("/sessions/passkey")]
pub async fn passwordless_sign_in(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<PasswordlessRequest>,
) -> ApiResult<NoStore<AuthenticatedResponse>> {
    let body = body.parse()?;
    let credential = credential("credential", body.credential)?;
    let ctx = ctx(&req, &state);
    let (keys, config) = (state.keys.clone(), state.config.clone());
    let issued = state
        .db(move |conn| {
            assertions::sign_in(conn, &keys, &config, &body.ceremony_id, &credential, &ctx)
        })
        .await?;
    Ok(NoStore::ok(AuthenticatedResponse::new(issued, None)))
}

/// The relying party (public): what an app needs to know before it offers
/// passkeys — a page served from another origin (say `127.0.0.1` while the
/// relying party is `localhost`) cannot use them, and should not offer them.
#[utoipa::path(
    tag = "sessions",
    responses(
        (status = 200, description = "The relying party", body = RelyingPartyResponse),
    )
)]
#[get("/passkeys/relying-party")]
pub async fn relying_party(state: State) -> web::Json<RelyingPartyResponse> {
    web::Json(RelyingPartyResponse {
        id: state.config.webauthn_rp_id.clone(),
        name: state.config.issuer.clone(),
        origins: state.config.webauthn_origins.clone(),
    })
}
