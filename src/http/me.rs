//! `/api/v1/me`: the signed-in user, their password and sessions.

use actix_web::{delete, get, put, web, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::{BodyProblems, QueryProblems, SessionProblems};
use super::{ctx, PageQuery, Paging, State};
use crate::domain::profile;
use crate::domain::sessions::idle_cutoff;
use crate::domain::validate::Checks;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_me)
        .service(change_password)
        .service(list_my_sessions)
        .service(delete_my_session);
}

/// The signed-in user with their MFA settings.
#[utoipa::path(
    tag = "me",
    responses(
        (status = 200, description = "The user", body = MeResponse),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn get_me(state: State, auth: AuthSession) -> ApiResult<web::Json<MeResponse>> {
    // Everything is known from the request's one query.
    let (user, mfa) = profile::me(&auth, state.clock.now_naive());
    Ok(web::Json(MeResponse {
        user: UserResponse::new(user, mfa.required),
        mfa,
        permissions: auth
            .permissions
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
    }))
}

/// Change the password; every other session of the user ends.
#[utoipa::path(
    tag = "me",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "`unauthorized`"),
        (status = 403, description = "`reauthentication_required`: the current password is wrong"),
        (status = 429, description = "`too_many_attempts`: the email is locked after wrong passwords (login and re-checks count together)"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[put("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.parse()?;
    let mut checks = Checks::default();
    checks.password("new_password", &body.new_password);
    checks.finish()?;
    if body.current_password.is_empty()
        || body.current_password.len() > crate::crypto::password::MAX_LEN
    {
        return Err(ApiError::ReauthenticationRequired);
    }
    let hash = state.hasher.hash(body.new_password).await?;
    let ctx = ctx(&req, &state);
    let _permit = state.hasher.permit().await?;
    state
        .db(move |conn| profile::change_password(conn, &auth, &body.current_password, &hash, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user's live sessions, newest first.
#[utoipa::path(
    tag = "me",
    params(PageQuery),
    responses(
        (status = 200, description = "Sessions", body = Page<SessionResponse>),
        QueryProblems,
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[get("/me/sessions")]
pub async fn list_my_sessions(
    state: State,
    auth: AuthSession,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<SessionResponse>>> {
    let paging = Paging::from_query(query.page, query.per_page)?;
    let now = state.clock.now_naive();
    let cutoff = idle_cutoff(&state.config, now);
    let (limit, offset) = (paging.limit(), paging.offset());
    let current = auth.session.id.clone();
    let (items, total) = state
        .db(move |conn| profile::sessions(conn, &auth, now, cutoff, limit, offset))
        .await?;
    let items = items
        .into_iter()
        .map(|s| SessionResponse::new(s, &current))
        .collect();
    Ok(web::Json(paging.envelope(items, total)))
}

/// End one of the user's sessions.
#[utoipa::path(
    tag = "me",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "`not_found`: no such live session of this user"),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/me/sessions/{id}")]
pub async fn delete_my_session(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let ctx = ctx(&req, &state);
    let id = id.into_inner();
    state
        .db(move |conn| profile::end_session(conn, &auth, &id, &ctx, "user_ended"))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
