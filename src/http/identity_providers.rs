//! `/api/v1/identity-providers`: the account's single sign-on providers
//! (permission `sso.manage`).

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::{AdminProblems, BodyProblems, QueryProblems};
use super::{ctx, PageQuery, Paging, State};
use crate::domain::policy::Action;
use crate::domain::sso::{self, ProviderInput, ProviderPatch};
use crate::domain::IdentityProvider;
use crate::error::{ApiResult, Problem};

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
        (status = 409, description = "`conflict`: the name is taken", body = Problem, content_type = "application/problem+json"),
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
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
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
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the name is taken", body = Problem, content_type = "application/problem+json"),
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
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
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
