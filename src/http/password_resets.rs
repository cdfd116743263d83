//! `/api/v1/password-resets`: a forgotten password, by a link in a mail.

use actix_web::{post, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::Body;
use super::extract::RateLimited;
use super::problems::BodyProblems;
use super::{ctx, State};
use crate::domain::passwords;
use crate::domain::validate::Checks;
use crate::error::ApiResult;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(request_password_reset)
        .service(confirm_password_reset);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(example = "ann@example.com", max_length = 254)]
    pub email: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcceptedStatus {
    Accepted,
}

/// The answer to a request that sends mail: the same whatever the email.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AcceptedResponse {
    pub status: AcceptedStatus,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPasswordResetRequest {
    /// The token from the link's fragment (`#token=...`).
    #[schema(example = "lkp_...", max_length = 200)]
    pub token: String,
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// Ask for a password-reset link. 202 whatever the email, in about the
/// same time; at most 3 mails an hour per address. A user who signs in
/// only through SSO gets a mail saying so instead of a link.
#[utoipa::path(
    tag = "sessions",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way", body = AcceptedResponse),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/password-resets")]
pub async fn request_password_reset(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<PasswordResetRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.parse()?;
    let mut checks = Checks::default();
    let email = checks.email("email", &body.email);
    checks.finish()?;
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    state
        .db(move |conn| passwords::request_reset(conn, &config, &email, &ctx))
        .await?;
    Ok(HttpResponse::Accepted().json(AcceptedResponse {
        status: AcceptedStatus::Accepted,
    }))
}

/// Set a new password with the link's token. Every session and open
/// challenge of the user ends; MFA stays on, so the next login still asks
/// for the second factor.
#[utoipa::path(
    tag = "sessions",
    request_body = ConfirmPasswordResetRequest,
    responses(
        (status = 204, description = "Password set; sign in with it"),
        (status = 401, description = "`link_invalid`: no such link"),
        (status = 410, description = "`link_expired`: used or expired"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/password-resets/confirm")]
pub async fn confirm_password_reset(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<ConfirmPasswordResetRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.parse()?;
    let mut checks = Checks::default();
    checks.password("password", &body.password);
    checks.finish()?;
    let password_hash = state.hasher.hash(body.password).await?;
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| passwords::confirm_reset(conn, &body.token, &password_hash, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
