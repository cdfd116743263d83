//! `/api/v1/users`: the administrators' user list, user management, Reset MFA.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::{AdminProblems, BodyProblems, QueryProblems};
use super::{ctx, Paging, State};
use crate::domain::admin::{self, NewUser, UserUpdate};
use crate::domain::policy::Action;
use crate::domain::validate::Checks;
use crate::domain::RoleRef;
use crate::domain::UserFilter;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(delete_user)
        .service(reset_user_mfa);
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Only users with (true) or without (false) MFA.
    pub mfa_enabled: Option<bool>,
    pub sub_account_id: Option<uuid::Uuid>,
    /// A built-in role's name or a custom role's id.
    #[param(value_type = Option<String>)]
    pub role: Option<RoleRef>,
    /// Substring of email or display name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

/// Users of the account with their MFA state.
#[utoipa::path(
    tag = "users",
    params(UserListQuery),
    responses(
        (status = 200, description = "Users", body = Page<UserResponse>),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: State,
    auth: AuthSession,
    query: web::Query<UserListQuery>,
) -> ApiResult<web::Json<Page<UserResponse>>> {
    auth.may(Action::ListUsers)?;
    let query = query.into_inner();
    let paging = Paging::from_query(query.page, query.per_page)?;
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid("q", "must be at most 200 characters"));
    }
    let filter = UserFilter {
        mfa_enabled: query.mfa_enabled,
        sub_account_id: query.sub_account_id.map(|id| id.to_string()),
        role: query.role,
        q: query
            .q
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().to_string()),
    };
    let (limit, offset) = (paging.limit(), paging.offset());
    let (items, total) = state
        .db(move |conn| admin::list_users(conn, &auth, &filter, limit, offset))
        .await?;
    let items = items.iter().map(UserResponse::from).collect();
    Ok(web::Json(paging.envelope(items, total)))
}

/// Add a user to the account (optionally to a sub-account).
#[utoipa::path(
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = UserResponse),
        (status = 409, description = "`conflict`: the email is taken"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<CreateUserRequest>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageUsers)?;
    let body = body.parse()?;
    let mut checks = Checks::default();
    let email = checks.email("email", &body.email);
    let display_name = checks.name("display_name", &body.display_name);
    checks.password("password", &body.password);
    checks.finish()?;
    let password_hash = state.hasher.hash(body.password).await?;
    let ctx = ctx(&req, &state);
    let input = NewUser {
        email,
        display_name,
        role: body.role,
        password_hash,
        sub_account_id: body.sub_account_id,
    };
    let user = state
        .db(move |conn| admin::create_user(conn, &auth, input, &ctx))
        .await?;
    Ok(HttpResponse::Created().json(UserResponse::from(&user)))
}

/// One user of the account.
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 404, description = "`not_found` (also for other accounts' users)"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<web::Json<UserResponse>> {
    auth.may(Action::ManageUsers)?;
    let user = state.db(move |conn| admin::user(conn, &auth, &id)).await?;
    Ok(web::Json(UserResponse::from(&user)))
}

/// Change a user's display name, role, or disable them.
///
/// Disabling ends the user's sessions at once. The account always keeps
/// one active administrator (409 otherwise).
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Updated", body = UserResponse),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: last active administrator"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
    body: Body<UpdateUserRequest>,
) -> ApiResult<web::Json<UserResponse>> {
    auth.may(Action::ManageUsers)?;
    let body = body.parse()?;
    let mut checks = Checks::default();
    let display_name = body
        .display_name
        .as_deref()
        .map(|n| checks.name("display_name", n));
    checks.finish()?;
    let ctx = ctx(&req, &state);
    let update = UserUpdate {
        display_name,
        role: body.role,
        disabled: body.disabled,
        require_mfa: body.require_mfa,
    };
    let user = state
        .db(move |conn| admin::update_user(conn, &auth, &id, update, &ctx))
        .await?;
    Ok(web::Json(UserResponse::from(&user)))
}

/// Delete a user; their sessions end at once.
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: last active administrator"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageUsers)?;
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| admin::delete_user(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reset a locked-out user's MFA ("Reset MFA").
///
/// Removes their secret and recovery token and ends their sessions; at next
/// login they enroll again if MFA is required. Only administrators who have
/// MFA enabled now, in an aal2 session (403 `mfa_required_for_action`
/// otherwise).
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Reset"),
        (status = 401, description = "`unauthorized`"),
        (status = 403, description = "`forbidden`, `mfa_required_for_action` or `mfa_enrollment_required`"),
        (status = 404, description = "`not_found`"),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/mfa/reset")]
pub async fn reset_user_mfa(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ResetMfa)?;
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| admin::reset_user_mfa(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
