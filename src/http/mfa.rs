//! `/api/v1/me/mfa`: TOTP enrollment, verification, disable, recovery token.

use actix_web::{delete, post, web, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::{AuthSession, MfaActor};
use super::problems::BodyProblems;
use super::{ctx, State};
use crate::crypto::{password, totp};
use crate::domain::mfa;
use crate::error::{ApiError, ApiResult, Problem};
use crate::store::users::User;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_totp_enrollment)
        .service(verify_totp_enrollment)
        .service(disable_mfa)
        .service(regenerate_recovery_token);
}

/// 403 `reauthentication_required` unless `password` is the user's.
async fn reauthenticate(state: &State, user: &User, password: Option<String>) -> ApiResult<()> {
    let Some(password) = password.filter(|p| !p.is_empty() && p.len() <= password::MAX_LEN) else {
        return Err(ApiError::ReauthenticationRequired);
    };
    if state
        .hasher
        .verify(password, Some(user.password_hash.clone()))
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::ReauthenticationRequired)
    }
}

/// Start TOTP enrollment: a new secret as QR code (PNG, SVG) and text.
///
/// The pending enrollment lives 10 minutes; a new call replaces it. When MFA
/// is already enabled, `password` is required. Accepts an enrollment token.
#[utoipa::path(
    tag = "mfa",
    request_body(content = Option<StartEnrollmentRequest>, description = "Optional; `password` when MFA is already on"),
    responses(
        (status = 201, description = "Pending enrollment", body = EnrollmentResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/totp")]
pub async fn start_totp_enrollment(
    req: HttpRequest,
    state: State,
    actor: MfaActor,
    body: Body<Option<StartEnrollmentRequest>>,
) -> ApiResult<HttpResponse> {
    let body = body.parse_or_default()?.unwrap_or_default();
    let user = actor.user().clone();
    if user.mfa_enabled_at.is_some() {
        reauthenticate(&state, &user, body.password).await?;
    }
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let enrollment = state
        .db(move |conn| mfa::start_enrollment(conn, &config, &user, &ctx))
        .await?;
    // QR rendering is CPU work: off the async worker.
    let uri = enrollment.otpauth_uri.clone();
    let (png, svg) = web::block(move || (totp::qr_png_data_uri(&uri), totp::qr_svg(&uri))).await?;
    let (Some(png), Some(svg)) = (png, svg) else {
        return Err(ApiError::internal("otpauth URI too long for a QR code"));
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(EnrollmentResponse {
            secret: enrollment.secret,
            otpauth_uri: enrollment.otpauth_uri,
            qr_code_png: png,
            qr_code_svg: svg,
            expires_at: utc(enrollment.expires_at),
        }))
}

/// Confirm the pending enrollment with a code from the app.
///
/// Activates the new secret (a previously active one stops working) and
/// returns a fresh recovery token. With an enrollment token, `session`
/// holds the tokens of the completed login.
#[utoipa::path(
    tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "MFA enabled", body = VerifyEnrollmentResponse),
        (status = 401, description = "`mfa_code_invalid` or `unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_pending_enrollment`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`", body = Problem, content_type = "application/problem+json"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/totp/verify")]
pub async fn verify_totp_enrollment(
    req: HttpRequest,
    state: State,
    actor: MfaActor,
    body: Body<CodeRequest>,
) -> ApiResult<web::Json<VerifyEnrollmentResponse>> {
    let code = body.parse()?.code;
    let ctx = ctx(&req, &state);
    let challenge = match &actor {
        MfaActor::Enrollment(grant) => Some(grant.challenge_id.clone()),
        MfaActor::Session(_) => None,
    };
    let user_id = actor.user().id.clone();
    let st = state.clone();
    let response = state
        .db(move |conn| {
            let verified = mfa::verify_enrollment(
                conn,
                &st.keys,
                &st.config,
                &user_id,
                &code,
                challenge.as_deref(),
                &ctx,
            )?;
            let required = verified.mfa.required;
            Ok(VerifyEnrollmentResponse {
                mfa: verified.mfa,
                recovery_token: verified.recovery_token,
                session: verified
                    .session
                    .map(|issued| AuthenticatedResponse::new(issued, required, None)),
            })
        })
        .await?;
    Ok(web::Json(response))
}

/// Disable MFA (not allowed while a policy requires it).
///
/// Checked in this order: 403 `mfa_enforced`, 403 `reauthentication_required`,
/// 401 `mfa_code_invalid` (`code` may also be the recovery token).
#[utoipa::path(
    tag = "mfa",
    request_body = DisableMfaRequest,
    responses(
        (status = 204, description = "MFA disabled"),
        (status = 401, description = "`mfa_code_invalid` or `unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`mfa_enforced` or `reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`", body = Problem, content_type = "application/problem+json"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/me/mfa")]
pub async fn disable_mfa(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<DisableMfaRequest>,
) -> ApiResult<HttpResponse> {
    // Enforced comes first (the transaction below checks it again).
    if auth.required_by.is_some() {
        return Err(ApiError::MfaEnforced);
    }
    let body = body.parse()?;
    let user = auth.user.clone();
    reauthenticate(&state, &user, body.password).await?;
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    state
        .db(move |conn| mfa::disable(conn, &config, &user.id, &body.code, &ctx))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Generate a new one-time recovery token (the previous one stops working).
#[utoipa::path(
    tag = "mfa",
    request_body = PasswordRequest,
    responses(
        (status = 201, description = "The new token, shown once", body = RecoveryTokenResponse),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        BodyProblems,
    ),
    security(("bearer" = []))
)]
#[post("/me/mfa/recovery-token")]
pub async fn regenerate_recovery_token(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<PasswordRequest>,
) -> ApiResult<HttpResponse> {
    let user = auth.user.clone();
    reauthenticate(&state, &user, body.parse()?.password).await?;
    let ctx = ctx(&req, &state);
    let (token, created_at) = state
        .db(move |conn| mfa::regenerate_recovery_token(conn, &user.id, &ctx))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(RecoveryTokenResponse {
            recovery_token: token,
            created_at: utc(created_at),
        }))
}
