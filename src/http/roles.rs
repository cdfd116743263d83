//! `/api/v1/permissions` and `/api/v1/roles`: named permissions and the
//! account's custom roles (permission `roles.manage`).

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::{AdminProblems, BodyProblems, QueryProblems, SessionProblems};
use super::{ctx, PageQuery, Paging, State};
use crate::domain::policy::{self, Action, Permission, Role};
use crate::domain::{roles, CustomRole};
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_permissions)
        .service(list_roles)
        .service(create_role)
        .service(get_role)
        .service(update_role)
        .service(delete_role);
}

/// The permissions roles are made of, with what each allows.
#[utoipa::path(
    tag = "roles",
    responses(
        (status = 200, description = "Every permission (one page)", body = Page<PermissionResponse>),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[get("/permissions")]
pub async fn list_permissions(
    _auth: AuthSession,
) -> ApiResult<web::Json<Page<PermissionResponse>>> {
    let items: Vec<PermissionResponse> = Permission::ALL
        .into_iter()
        .map(|p| PermissionResponse {
            name: p.as_str().into(),
            description: p.description().into(),
            built_in_roles: Role::ALL
                .into_iter()
                .filter(|r| policy::builtin(*r).contains(p))
                .map(|r| r.as_str().into())
                .collect(),
        })
        .collect();
    let total = items.len() as i64;
    Ok(web::Json(Page {
        items,
        page: 1,
        per_page: 50,
        total,
    }))
}

/// The account's custom roles, by name.
#[utoipa::path(
    tag = "roles",
    params(PageQuery),
    responses(
        (status = 200, description = "Roles", body = Page<RoleResponse>),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/roles")]
pub async fn list_roles(
    state: State,
    auth: AuthSession,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<RoleResponse>>> {
    auth.may(Action::ManageRoles)?;
    let paging = Paging::from_query(query.page, query.per_page)?;
    let (limit, offset) = (paging.limit(), paging.offset());
    let (items, total) = state
        .db(move |conn| roles::list(conn, &auth, limit, offset))
        .await?;
    Ok(web::Json(paging.envelope(
        items.iter().map(RoleResponse::from).collect(),
        total,
    )))
}

/// Create a custom role from named permissions.
#[utoipa::path(
    tag = "roles",
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "Created", body = RoleResponse),
        (status = 409, description = "`conflict`: the name is taken"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[post("/roles")]
pub async fn create_role(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<CreateRoleRequest>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageRoles)?;
    let body = body.parse()?;
    let input = roles::role_input(&body.name, &body.description, &body.permissions)?;
    let ctx = ctx(&req, &state);
    let role = state
        .db(move |conn| roles::create(conn, &auth, input, &ctx))
        .await?;
    Ok(HttpResponse::Created().json(RoleResponse::from(&role)))
}

/// One custom role.
#[utoipa::path(
    tag = "roles",
    params(("id" = String, Path, description = "Role id")),
    responses(
        (status = 200, description = "The role", body = RoleResponse),
        (status = 404, description = "`not_found`"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/roles/{id}")]
pub async fn get_role(
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<web::Json<RoleResponse>> {
    auth.may(Action::ManageRoles)?;
    let role = state.db(move |conn| roles::get(conn, &auth, &id)).await?;
    Ok(web::Json(RoleResponse::from(&role)))
}

/// Rename a custom role or replace its permissions.
///
/// Takes effect on its users' next request. The account always keeps an
/// active user holding `roles.manage` and `users.manage` (409 otherwise).
#[utoipa::path(
    tag = "roles",
    params(("id" = String, Path, description = "Role id")),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "Updated", body = RoleResponse),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: the name is taken, or no one could manage users and roles any more"),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[patch("/roles/{id}")]
pub async fn update_role(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
    body: Body<UpdateRoleRequest>,
) -> ApiResult<web::Json<RoleResponse>> {
    auth.may(Action::ManageRoles)?;
    let body = body.parse()?;
    let update = roles::role_update(
        body.name.as_deref(),
        body.description.as_deref(),
        body.permissions.as_deref(),
    )?;
    let ctx = ctx(&req, &state);
    let role = state
        .db(move |conn| roles::update(conn, &auth, &id, update, &ctx))
        .await?;
    Ok(web::Json(RoleResponse::from(&role)))
}

/// Delete a custom role (409 while a user holds it).
#[utoipa::path(
    tag = "roles",
    params(("id" = String, Path, description = "Role id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`conflict`: users hold the role"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/roles/{id}")]
pub async fn delete_role(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.may(Action::ManageRoles)?;
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| roles::delete(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- bodies of these routes ------------------------------------------

/// One named permission.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PermissionResponse {
    #[schema(value_type = Permission, example = "users.reset_mfa")]
    pub name: String,
    pub description: String,
    /// Built-in roles that hold it.
    #[schema(example = json!(["administrator"]))]
    pub built_in_roles: Vec<String>,
}

/// A custom role of the account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleResponse {
    /// Give it to a user as their `role`.
    pub id: String,
    #[schema(example = "Help desk")]
    pub name: String,
    pub description: String,
    #[schema(value_type = Vec<Permission>, example = json!(["users.view", "users.reset_mfa"]))]
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&CustomRole> for RoleResponse {
    fn from(r: &CustomRole) -> Self {
        RoleResponse {
            id: r.id.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            permissions: r.permissions.split_whitespace().map(String::from).collect(),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[schema(example = "Help desk", min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Permission names (see `GET /api/v1/permissions`).
    #[schema(value_type = Vec<Permission>, example = json!(["users.view", "users.reset_mfa"]))]
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The whole new set (it replaces the old one).
    #[schema(value_type = Option<Vec<Permission>>)]
    pub permissions: Option<Vec<String>>,
}
