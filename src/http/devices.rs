//! Remembered devices: `/api/v1/me/devices` (the user's own) and
//! `/api/v1/users/{id}/devices` (an administrator's view). The rules are
//! `domain::devices`'s and `domain::admin`'s.

use actix_web::{delete, get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::{utc, Page};
use super::extract::AuthSession;
use super::problems::{AdminProblems, QueryProblems, SessionProblems};
use super::{ctx, PageQuery, Paging, State};
use crate::domain::devices::RememberedDevice;
use crate::domain::{admin, devices};
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_my_devices)
        .service(revoke_my_device)
        .service(list_user_devices)
        .service(revoke_user_device);
}

/// A remembered device: where and when it was remembered (never its token).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceResponse {
    pub id: String,
    /// The factor proven when it was remembered: `otp` or `hwk`.
    #[schema(example = "otp")]
    pub method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

impl From<RememberedDevice> for DeviceResponse {
    fn from(d: RememberedDevice) -> Self {
        DeviceResponse {
            id: d.id,
            method: d.method,
            ip: d.ip,
            user_agent: d.user_agent,
            created_at: utc(d.created_at),
            last_used_at: d.last_used_at.map(utc),
            expires_at: utc(d.expires_at),
        }
    }
}

/// One page of `devices` (a user has few: they are read whole).
fn page(paging: &Paging, devices: Vec<RememberedDevice>) -> Page<DeviceResponse> {
    let total = devices.len() as i64;
    let items = devices
        .into_iter()
        .skip(paging.offset() as usize)
        .take(paging.limit() as usize)
        .map(DeviceResponse::from)
        .collect();
    paging.envelope(items, total)
}

/// The user's remembered devices, newest first.
#[utoipa::path(
    tag = "me",
    params(PageQuery),
    responses(
        (status = 200, description = "Devices", body = Page<DeviceResponse>),
        QueryProblems,
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[get("/me/devices")]
pub async fn list_my_devices(
    state: State,
    auth: AuthSession,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DeviceResponse>>> {
    let paging = Paging::from_query(query.page, query.per_page)?;
    let now = state.clock.now_naive();
    let list = state
        .db(move |conn| devices::list_own(conn, &auth, now))
        .await?;
    Ok(web::Json(page(&paging, list)))
}

/// Forget one of the user's remembered devices: its next sign-in asks for
/// the second factor again.
#[utoipa::path(
    tag = "me",
    params(("id" = String, Path, description = "Device id")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`validation_failed`: the id is not a UUID"),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/me/devices/{id}")]
pub async fn revoke_my_device(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| devices::revoke_own(conn, &auth, &id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user's remembered devices (`users.view`; users within the actor's
/// reach).
#[utoipa::path(
    tag = "users",
    params(("id" = String, Path, description = "User id"), PageQuery),
    responses(
        (status = 200, description = "Devices", body = Page<DeviceResponse>),
        (status = 404, description = "`not_found`"),
        QueryProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}/devices")]
pub async fn list_user_devices(
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DeviceResponse>>> {
    let paging = Paging::from_query(query.page, query.per_page)?;
    let now = state.clock.now_naive();
    let list = state
        .db(move |conn| admin::user_devices(conn, &auth, &id, now))
        .await?;
    Ok(web::Json(page(&paging, list)))
}

/// Forget one of a user's remembered devices: an action on their MFA
/// (`users.reset_mfa`, reach over the user, a step-up).
#[utoipa::path(
    tag = "users",
    params(
        ("id" = String, Path, description = "User id"),
        ("device_id" = String, Path, description = "Device id"),
    ),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "`not_found`"),
        (status = 422, description = "`validation_failed`: an id is not a UUID"),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}/devices/{device_id}")]
pub async fn revoke_user_device(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, device_id) = path.into_inner();
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| admin::revoke_user_device(conn, &auth, &id, &device_id, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
