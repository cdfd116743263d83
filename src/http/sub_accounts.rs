//! `/api/v1/sub-accounts`: client organizations and their MFA policies.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::{AdminProblems, BodyProblems, QueryProblems};
use super::{ctx, PageQuery, Paging, State};
use crate::domain::admin;
use crate::domain::policy::Action;
use crate::domain::validate::Checks;
use crate::domain::SubAccountChanges;
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sub_accounts)
        .service(create_sub_account)
        .service(get_sub_account)
        .service(update_sub_account)
        .service(delete_sub_account);
}

/// Sub-accounts of the account.
#[utoipa::path(
    tag = "sub-accounts",
    params(PageQuery),
    responses(
        (status = 200, description = "Sub-accounts", body = Page<SubAccountResponse>),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/sub-accounts")]
pub async fn list_sub_accounts(
    state: State,
    auth: AuthSession,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<SubAccountResponse>>> {
    auth.may(Action::ManageSubAccounts)?;
    let paging = Paging::from_query(query.page, query.per_page)?;
    let (limit, offset) = (paging.limit(), paging.offset());
    let (items, total) = state
        .db(move |conn| admin::list_sub_accounts(conn, &auth, limit, offset))
        .await?;
    let items = items
        .iter()
        .map(|(s, n)| SubAccountResponse::new(s, *n))
        .collect();
    Ok(web::Json(paging.envelope(items, total)))
}

/// Create a sub-account (a client organization's portal).
#[utoipa::path(
    tag = "sub-accounts",
    request_body = CreateSubAccountRequest,
    responses(
        (status = 201, description = "Created", body = SubAccountResponse),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[post("/sub-accounts")]
pub async fn create_sub_account(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<CreateSubAccountRequest>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageSubAccounts)?;
    let body = body.parse()?;
    let mut checks = Checks::default();
    let name = checks.name("name", &body.name);
    checks.finish()?;
    let ctx = ctx(&req, &state);
    let sub = state
        .db(move |conn| {
            let policy = admin::NewScopePolicy {
                require_mfa: body.require_mfa,
                require_mfa_from: body.require_mfa_from.map(|t| t.naive_utc()),
                mfa_methods: body.mfa_methods,
            };
            admin::create_sub_account(conn, &auth, name, policy, &ctx)
        })
        .await?;
    Ok(HttpResponse::Created().json(SubAccountResponse::new(&sub, 0)))
}

/// One sub-account.
#[utoipa::path(
    tag = "sub-accounts",
    params(("id" = String, Path, description = "Sub-account id")),
    responses(
        (status = 200, description = "The sub-account", body = SubAccountResponse),
        (status = 404, description = "`not_found`"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/sub-accounts/{id}")]
pub async fn get_sub_account(
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<web::Json<SubAccountResponse>> {
    auth.may(Action::ManageSubAccounts)?;
    let (sub, count) = state
        .db(move |conn| admin::sub_account(conn, &auth, &id))
        .await?;
    Ok(web::Json(SubAccountResponse::new(&sub, count)))
}

/// Rename a sub-account or set its "Require MFA" policy.
#[utoipa::path(
    tag = "sub-accounts",
    params(("id" = String, Path, description = "Sub-account id")),
    request_body = UpdateSubAccountRequest,
    responses(
        (status = 200, description = "Updated", body = SubAccountResponse),
        (status = 404, description = "`not_found`"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[patch("/sub-accounts/{id}")]
pub async fn update_sub_account(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
    body: Body<UpdateSubAccountRequest>,
) -> ApiResult<web::Json<SubAccountResponse>> {
    auth.may(Action::ManageSubAccounts)?;
    let body = body.parse()?;
    let mut checks = Checks::default();
    let name = body.name.as_deref().map(|n| checks.name("name", n));
    checks.finish()?;
    let ctx = ctx(&req, &state);
    let changes = SubAccountChanges {
        name,
        require_mfa: body.require_mfa,
        mfa_methods: body.mfa_methods,
        require_mfa_from: body.require_mfa_from.map(|t| t.map(|t| t.naive_utc())),
    };
    let (sub, count) = state
        .db(move |conn| admin::update_sub_account(conn, &auth, &id, changes, &ctx))
        .await?;
    Ok(web::Json(SubAccountResponse::new(&sub, count)))
}

/// Delete a sub-account that has no users (409 otherwise).
#[utoipa::path(
    tag = "sub-accounts",
    params(("id" = String, Path, description = "Sub-account id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: it still has users"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/sub-accounts/{id}")]
pub async fn delete_sub_account(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageSubAccounts)?;
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| admin::delete_sub_account(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
