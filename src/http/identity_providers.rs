//! `/api/v1/identity-providers`: the account's single sign-on providers
//! (permission `sso.manage`).

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::{AdminProblems, BodyProblems, QueryProblems};
use super::{ctx, PageQuery, Paging, State};
use crate::domain::policy::Action;
use crate::domain::sso::{self, ProviderInput, ProviderPatch};
use crate::domain::{IdentityProvider, RoleRef};
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_identity_providers)
        .service(create_identity_provider)
        .service(get_identity_provider)
        .service(update_identity_provider)
        .service(delete_identity_provider);
}

fn response(state: &State, provider: &IdentityProvider) -> IdentityProviderResponse {
    IdentityProviderResponse::new(provider, sso::callback_url(&state.config))
}

/// The account's identity providers, by name.
#[utoipa::path(
    tag = "sso",
    params(PageQuery),
    responses(
        (status = 200, description = "Identity providers", body = Page<IdentityProviderResponse>),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/identity-providers")]
pub async fn list_identity_providers(
    state: State,
    auth: AuthSession,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<IdentityProviderResponse>>> {
    auth.may(Action::ManageSso)?;
    let paging = Paging::from_query(query.page, query.per_page)?;
    let (limit, offset) = (paging.limit(), paging.offset());
    let (items, total) = state
        .db(move |conn| sso::list_providers(conn, &auth, limit, offset))
        .await?;
    let items = items.iter().map(|p| response(&state, p)).collect();
    Ok(web::Json(paging.envelope(items, total)))
}

/// Connect an OpenID Connect provider (the client secret is sealed at rest
/// and never returned).
///
/// Register the response's `callback_url` at the provider as a redirect URI.
#[utoipa::path(
    tag = "sso",
    request_body = CreateIdentityProviderRequest,
    responses(
        (status = 201, description = "Connected", body = IdentityProviderResponse),
        (status = 409, description = "`conflict`: the name is taken"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[post("/identity-providers")]
pub async fn create_identity_provider(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<CreateIdentityProviderRequest>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageSso)?;
    let body = body.parse()?;
    let input = ProviderInput {
        name: body.name,
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
        allowed_redirect_uris: body.allowed_redirect_uris,
        trust_idp_mfa: body.trust_idp_mfa,
        jit_provisioning: body.jit_provisioning,
        default_role: body.default_role,
        sub_account_id: body.sub_account_id,
    };
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let provider = state
        .db(move |conn| sso::create_provider(conn, &st.config, &auth, input, &ctx))
        .await?;
    Ok(HttpResponse::Created().json(response(&state, &provider)))
}

/// One identity provider.
#[utoipa::path(
    tag = "sso",
    params(("id" = String, Path, description = "Identity provider id")),
    responses(
        (status = 200, description = "The identity provider", body = IdentityProviderResponse),
        (status = 404, description = "`not_found`"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/identity-providers/{id}")]
pub async fn get_identity_provider(
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<web::Json<IdentityProviderResponse>> {
    auth.may(Action::ManageSso)?;
    let provider = state
        .db(move |conn| sso::provider(conn, &auth, &id))
        .await?;
    Ok(web::Json(response(&state, &provider)))
}

/// Change an identity provider (a `client_secret` given replaces the old one).
#[utoipa::path(
    tag = "sso",
    params(("id" = String, Path, description = "Identity provider id")),
    request_body = UpdateIdentityProviderRequest,
    responses(
        (status = 200, description = "Updated", body = IdentityProviderResponse),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: the name is taken"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[patch("/identity-providers/{id}")]
pub async fn update_identity_provider(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
    body: Body<UpdateIdentityProviderRequest>,
) -> ApiResult<web::Json<IdentityProviderResponse>> {
    auth.may(Action::ManageSso)?;
    let body = body.parse()?;
    let patch = ProviderPatch {
        name: body.name,
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
        allowed_redirect_uris: body.allowed_redirect_uris,
        trust_idp_mfa: body.trust_idp_mfa,
        jit_provisioning: body.jit_provisioning,
        default_role: body.default_role,
    };
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let provider = state
        .db(move |conn| sso::update_provider(conn, &st.config, &auth, &id, patch, &ctx))
        .await?;
    Ok(web::Json(response(&state, &provider)))
}

/// Disconnect an identity provider (its users stay, with their sessions;
/// their links to the provider go).
#[utoipa::path(
    tag = "sso",
    params(("id" = String, Path, description = "Identity provider id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/identity-providers/{id}")]
pub async fn delete_identity_provider(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageSso)?;
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| sso::delete_provider(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- bodies of these routes ------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityProviderResponse {
    pub id: String,
    #[schema(example = "Okta")]
    pub name: String,
    /// The sub-account whose users this provider signs in; null for the
    /// account's own users.
    pub sub_account_id: Option<String>,
    #[schema(example = "https://example.okta.com")]
    pub issuer: String,
    pub client_id: String,
    #[schema(example = json!(["openid", "email", "profile"]))]
    pub scopes: Vec<String>,
    /// Where a sign-in may return to (compared exactly).
    #[schema(example = json!(["https://app.example.com/sso/callback"]))]
    pub allowed_redirect_uris: Vec<String>,
    /// Sign in at aal2 when the provider's ID token says it did MFA.
    pub trust_idp_mfa: bool,
    /// Create a user on first sign-in when none has the email.
    pub jit_provisioning: bool,
    /// Role of users created by just-in-time provisioning.
    #[schema(value_type = String, example = "read_only")]
    pub default_role: RoleRef,
    /// Latchkey's callback: register it at the provider as a redirect URI.
    #[schema(example = "https://auth.example.com/api/v1/sso/callback")]
    pub callback_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl IdentityProviderResponse {
    pub fn new(p: &IdentityProvider, callback_url: String) -> Self {
        IdentityProviderResponse {
            id: p.id.clone(),
            name: p.name.clone(),
            sub_account_id: p.sub_account_id.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            scopes: p.scope_list(),
            allowed_redirect_uris: p.redirect_uri_list(),
            trust_idp_mfa: p.trust_idp_mfa,
            jit_provisioning: p.jit_provisioning,
            default_role: p.default_role.clone(),
            callback_url,
            created_at: utc(p.created_at),
            updated_at: utc(p.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityProviderRequest {
    #[schema(example = "Okta", min_length = 1, max_length = 200)]
    pub name: String,
    /// The provider's issuer, exactly as its discovery document names it
    /// (`https`, or `http` on localhost).
    #[schema(example = "https://example.okta.com", max_length = 2048)]
    pub issuer: String,
    #[schema(max_length = 256)]
    pub client_id: String,
    /// Write-only: sealed at rest, never returned.
    #[schema(max_length = 4096, write_only)]
    pub client_secret: String,
    /// Default `["openid", "email", "profile"]`; `openid` is always added.
    pub scopes: Option<Vec<String>>,
    /// 1 to 20 absolute URIs a sign-in may return to.
    pub allowed_redirect_uris: Vec<String>,
    #[serde(default)]
    pub trust_idp_mfa: bool,
    #[serde(default)]
    pub jit_provisioning: bool,
    /// A built-in role or a custom role's id (default `read_only`); a
    /// sub-account's provider gives client roles only.
    #[schema(example = "read_only")]
    pub default_role: Option<String>,
    /// Sign in this sub-account's users (client users) instead of the
    /// account's own.
    pub sub_account_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIdentityProviderRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2048)]
    pub issuer: Option<String>,
    #[schema(max_length = 256)]
    pub client_id: Option<String>,
    /// Write-only: a new secret replaces the old one.
    #[schema(max_length = 4096, write_only)]
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_redirect_uris: Option<Vec<String>>,
    pub trust_idp_mfa: Option<bool>,
    pub jit_provisioning: Option<bool>,
    pub default_role: Option<String>,
}
