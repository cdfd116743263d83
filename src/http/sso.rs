//! Single sign-on: the providers a sign-in page offers, the authorization
//! redirect, the provider's callback and `POST /api/v1/sessions/sso`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use openidconnect::url::Url;
use serde::Deserialize;
use serde::Serialize;
use utoipa::IntoParams;
use utoipa::ToSchema;

use super::body::Body;
use super::dto::*;
use super::extract::RateLimited;
use super::problems::BodyProblems;
use super::{ctx, NoStore, State};
use crate::domain::sso::{self, ReturnTo};
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sign_in_providers)
        .service(authorize)
        .service(callback)
        .service(create_sso_session)
        .service(link_sso_identity);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignInProvidersQuery {
    /// The account whose sign-in page asks.
    pub account_id: String,
}

/// The identity providers a sign-in page of an account offers (public).
#[utoipa::path(
    tag = "sso",
    params(SignInProvidersQuery),
    responses(
        (status = 200, description = "Providers (one page)", body = Page<SignInProviderResponse>),
        (status = 422, description = "`validation_failed`: `account_id` is not a UUID"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
    )
)]
#[get("/sso/providers")]
pub async fn list_sign_in_providers(
    _limited: RateLimited,
    state: State,
    query: web::Query<SignInProvidersQuery>,
) -> ApiResult<web::Json<Page<SignInProviderResponse>>> {
    let account_id = query.into_inner().account_id;
    let providers = state
        .db(move |conn| sso::sign_in_options(conn, &account_id))
        .await?;
    let items: Vec<SignInProviderResponse> = providers
        .into_iter()
        .map(|p| SignInProviderResponse {
            id: p.id,
            name: p.name,
        })
        .collect();
    let total = items.len() as i64;
    Ok(web::Json(Page {
        items,
        page: 1,
        per_page: 100,
        total,
    }))
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// Where the browser returns with `login_code` or `error`: exactly one
    /// of the provider's `allowed_redirect_uris`.
    pub redirect_uri: String,
    /// Opaque value (at most 256 printable characters) handed back
    /// unchanged with the result: keep a random one in the page and compare
    /// it on return (login CSRF defence).
    pub state: Option<String>,
    /// The client's own PKCE challenge (RFC 7636, S256): the login code is
    /// then spent only with its `code_verifier`. Required for a native
    /// app's redirect URI (private-use scheme or loopback IP).
    pub code_challenge: Option<String>,
    /// `S256` (the only method accepted).
    pub code_challenge_method: Option<String>,
}

/// Sign in with an identity provider: 302 to the provider.
///
/// Authorization code flow with PKCE S256, `state` and `nonce` kept in the
/// database for 10 minutes, so any node finishes the flow.
#[utoipa::path(
    tag = "sso",
    params(
        ("provider_id" = String, Path, description = "Identity provider id"),
        AuthorizeQuery,
    ),
    responses(
        (status = 302, description = "To the provider's authorization endpoint"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`validation_failed`: `redirect_uri` is not allowed, `state` too long, or `code_challenge` missing (native app) or malformed"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        (status = 502, description = "`identity_provider_unavailable`"),
    )
)]
#[get("/sso/{provider_id}/authorize")]
pub async fn authorize(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    provider_id: web::Path<String>,
    query: web::Query<AuthorizeQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let ctx = ctx(&req, &state);
    let url =
        crate::service::sso_authorize(&state, provider_id.into_inner(), query.start(), ctx).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's error, when it did not sign the user in.
    pub error: Option<String>,
    /// The provider's issuer (RFC 9207), checked when present.
    pub iss: Option<String>,
}

impl AuthorizeQuery {
    fn start(&self) -> sso::Start<'_> {
        sso::Start {
            redirect_uri: &self.redirect_uri,
            client_state: self.state.as_deref(),
            code_challenge: self.code_challenge.as_deref(),
            code_challenge_method: self.code_challenge_method.as_deref(),
        }
    }
}

/// 302 back to the client with `key=value` (and its `state`).
fn back_to(to: &ReturnTo, key: &str, value: &str) -> HttpResponse {
    let location = match Url::parse(&to.redirect_uri) {
        Ok(mut url) => {
            {
                let mut pairs = url.query_pairs_mut();
                pairs.append_pair(key, value);
                if let Some(state) = &to.client_state {
                    pairs.append_pair("state", state);
                }
            }
            url.to_string()
        }
        Err(_) => to.redirect_uri.clone(),
    };
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

/// The identity provider's return (its redirect URI): 302 to the client's
/// `redirect_uri` with `?login_code=` (single use, 60 s) or `?error=`.
#[utoipa::path(
    tag = "sso",
    params(CallbackQuery),
    responses(
        (status = 302, description = "To the client's `redirect_uri` with `login_code` or `error` (`access_denied`, `invalid_id_token`, `email_not_verified`, `user_not_found`, `flow_expired`, `identity_provider_unavailable`), and `state`"),
        (status = 400, description = "`bad_request`: no such sign-in flow"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
    )
)]
#[get("/sso/callback")]
pub async fn callback(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    query: web::Query<CallbackQuery>,
) -> ApiResult<HttpResponse> {
    let CallbackQuery {
        code,
        state: flow_state,
        error,
        iss,
    } = query.into_inner();
    let answer = crate::service::ProviderAnswer {
        code,
        state: flow_state,
        error,
        iss,
    };
    let (back, finished) = crate::service::sso_callback(&state, answer, ctx(&req, &state)).await?;
    Ok(match finished {
        Ok(code) => back_to(&back, "login_code", &code),
        Err(e) => back_to(&back, "error", e.code()),
    })
}

/// Sign in with a single sign-on `login_code` (what the `redirect_uri` got).
///
/// The same three answers as a password: Latchkey's MFA policy applies on
/// top of the provider (`mfa_required` with MFA on, `mfa_enrollment_required`
/// when MFA is required and not set up), except that a provider trusted for
/// MFA (`trust_idp_mfa`) whose ID token says it did MFA gives an `aal2`
/// session (`amr` `["sso","mfa"]`) at once; otherwise the session is `sso`.
/// The first sign-in of an existing user with a password answers
/// `link_required`: they prove their password once with
/// `POST /api/v1/sessions/sso/link`.
#[utoipa::path(
    tag = "sessions",
    request_body = SsoLoginRequest,
    responses(
        (status = 200, description = "Login code accepted", body = SsoLoginResponse),
        (status = 401, description = "`invalid_credentials`: unknown, used or expired login code, or a `code_verifier` missing or not matching the client's `code_challenge`"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/sessions/sso")]
pub async fn create_sso_session(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<SsoLoginRequest>,
) -> ApiResult<NoStore<SsoLoginResponse>> {
    let SsoLoginRequest {
        login_code,
        code_verifier,
    } = body.parse()?;
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let response = state
        .db(move |conn| {
            let verifier = code_verifier.as_deref();
            let outcome = sso::sign_in(conn, &st.keys, &st.config, &login_code, verifier, &ctx)?;
            Ok(SsoLoginResponse::from(outcome))
        })
        .await?;
    Ok(NoStore::ok(response))
}

/// Link an identity provider's account to an existing user with their
/// password (after `link_required`).
///
/// A wrong password is 401 `invalid_credentials` and counts toward the
/// email's login lockout (429 while locked), the token staying usable; the
/// right one spends the token, links the identity (audited as
/// `sso.identity_linked`) and answers as a login, Latchkey's MFA on top.
/// An unknown, spent or expired token is 401 `invalid_credentials`.
#[utoipa::path(
    tag = "sessions",
    request_body = SsoLinkRequest,
    responses(
        (status = 200, description = "Linked; the login answer", body = LoginResponse),
        (status = 401, description = "`invalid_credentials`: wrong password, or an unknown, used or expired link token"),
        (status = 429, description = "`too_many_attempts`: the email's login lockout, or rate limited"),
        BodyProblems,
    )
)]
#[post("/sessions/sso/link")]
pub async fn link_sso_identity(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<SsoLinkRequest>,
) -> ApiResult<NoStore<LoginResponse>> {
    let SsoLinkRequest {
        link_token,
        password,
    } = body.parse()?;
    let outcome = crate::service::sso_link(&state, link_token, password, ctx(&req, &state)).await?;
    Ok(NoStore::ok(LoginResponse::from(outcome)))
}

// ---- bodies of these routes ------------------------------------------

/// A provider a sign-in page may offer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignInProviderResponse {
    pub id: String,
    #[schema(example = "Okta")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoLoginRequest {
    /// The `login_code` handed to the `redirect_uri`.
    #[schema(max_length = 200)]
    pub login_code: String,
    /// The PKCE code verifier of the `code_challenge` the client sent to
    /// `authorize` (required then; native apps must send one).
    #[serde(default)]
    #[schema(min_length = 43, max_length = 128)]
    pub code_verifier: Option<String>,
}

/// `POST /api/v1/sessions/sso/link`: the password that links a provider's
/// identity to an existing user, once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoLinkRequest {
    /// The `link_token` of a `link_required` answer.
    #[schema(max_length = 200)]
    pub link_token: String,
    #[schema(max_length = 1024)]
    pub password: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkRequiredStatus {
    LinkRequired,
}

/// The provider vouched for the email of an existing user who has a
/// password: they prove it once (`POST /api/v1/sessions/sso/link`) before
/// the provider's identity is linked to them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkRequiredResponse {
    pub status: LinkRequiredStatus,
    /// Single-use bearer token for `POST /api/v1/sessions/sso/link`.
    pub link_token: String,
    #[schema(example = 600)]
    pub expires_in: u64,
    /// The user the identity would be linked to.
    pub email: String,
}

/// The answer to `POST /api/v1/sessions/sso`, told apart by `status`: the
/// password step's three answers, or `link_required`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "status", mapping(
    ("authenticated" = "#/components/schemas/AuthenticatedResponse"),
    ("mfa_required" = "#/components/schemas/MfaRequiredResponse"),
    ("mfa_enrollment_required" = "#/components/schemas/EnrollmentRequiredResponse"),
    ("link_required" = "#/components/schemas/LinkRequiredResponse"),
)))]
pub enum SsoLoginResponse {
    Authenticated(AuthenticatedResponse),
    MfaRequired(MfaRequiredResponse),
    EnrollmentRequired(EnrollmentRequiredResponse),
    LinkRequired(LinkRequiredResponse),
}

impl From<crate::domain::sso::SsoOutcome> for SsoLoginResponse {
    fn from(outcome: crate::domain::sso::SsoOutcome) -> Self {
        use crate::domain::sso::SsoOutcome;
        match outcome {
            SsoOutcome::Login(login) => match LoginResponse::from(login) {
                LoginResponse::Authenticated(r) => SsoLoginResponse::Authenticated(r),
                LoginResponse::MfaRequired(r) => SsoLoginResponse::MfaRequired(r),
                LoginResponse::EnrollmentRequired(r) => SsoLoginResponse::EnrollmentRequired(r),
            },
            SsoOutcome::LinkRequired {
                link_token,
                expires_in,
                email,
            } => SsoLoginResponse::LinkRequired(LinkRequiredResponse {
                status: LinkRequiredStatus::LinkRequired,
                link_token,
                expires_in,
                email,
            }),
        }
    }
}
