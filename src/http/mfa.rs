//! `/api/v1/me/mfa`: TOTP enrollment, verification, disable, recovery token.
//! The rules (assurance, password re-check, lockouts) are `domain::mfa`'s.

use actix_web::{delete, post, web, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::AuthSession;
use super::problems::BodyProblems;
use super::{ctx, NoStore, State};
use crate::crypto::totp;
use crate::domain::auth::MfaActor;
use crate::domain::mfa;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_totp_enrollment)
        .service(verify_totp_enrollment)
        .service(disable_mfa)
        .service(regenerate_recovery_token);
}

/// Start TOTP enrollment: a new secret as QR code (PNG, SVG) and text.
///
/// The pending enrollment lives 10 minutes; a new call replaces it. When MFA
/// is already enabled, re-enrolling needs an aal2 session and `password`.
/// Accepts an enrollment token while its user has no MFA.
#[utoipa::path(
    tag = "mfa",
    request_body(content = Option<StartEnrollmentRequest>, description = "Optional; `password` when MFA is already on"),
    responses(
        (status = 201, description = "Pending enrollment", body = EnrollmentResponse),
        (status = 401, description = "`unauthorized`"),
        (status = 403, description = "`mfa_required_for_action` (MFA is on and the session is aal1) or `reauthentication_required`"),
        (status = 429, description = "`too_many_attempts`: the email is locked after wrong passwords"),
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
) -> ApiResult<NoStore<EnrollmentResponse>> {
    let body = body.parse_or_default()?.unwrap_or_default();
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let _permit = state.hasher.permit().await?;
    let enrollment = state
        .db(move |conn| {
            mfa::start_enrollment(conn, &config, &actor, body.password.as_deref(), &ctx)
        })
        .await?;
    // QR rendering is CPU work: off the async worker.
    let uri = enrollment.otpauth_uri.clone();
    let (png, svg) = web::block(move || (totp::qr_png_data_uri(&uri), totp::qr_svg(&uri))).await?;
    let (Some(png), Some(svg)) = (png, svg) else {
        return Err(ApiError::internal("otpauth URI too long for a QR code"));
    };
    Ok(NoStore::created(EnrollmentResponse {
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
/// returns a fresh recovery token. Every other session of the user ends and
/// every open MFA challenge and enrollment token is consumed; `session`
/// holds fresh tokens to switch to (the calling session, now aal2, or a new
/// session for an enrollment token).
#[utoipa::path(
    tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "MFA enabled", body = VerifyEnrollmentResponse),
        (status = 401, description = "`mfa_code_invalid` or `unauthorized`"),
        (status = 403, description = "`mfa_required_for_action`: re-enrolling from an aal1 session"),
        (status = 409, description = "`no_pending_enrollment`"),
        (status = 429, description = "`too_many_attempts`"),
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
) -> ApiResult<NoStore<VerifyEnrollmentResponse>> {
    let code = body.parse()?.code;
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let verified = state
        .db(move |conn| mfa::verify_enrollment(conn, &st.keys, &st.config, &actor, &code, &ctx))
        .await?;
    Ok(NoStore::ok(VerifyEnrollmentResponse {
        mfa: verified.mfa,
        recovery_token: verified.recovery_token,
        session: AuthenticatedResponse::new(verified.session, None),
    }))
}

/// Disable MFA (not allowed while a policy requires it).
///
/// Checked in this order: 403 `mfa_enforced`, 403 `mfa_required_for_action`
/// (aal1 session), 403 `reauthentication_required`, 401 `mfa_code_invalid`
/// (`code` may also be the recovery token). The user's sessions drop to aal1.
#[utoipa::path(
    tag = "mfa",
    request_body = DisableMfaRequest,
    responses(
        (status = 204, description = "MFA disabled"),
        (status = 401, description = "`mfa_code_invalid` or `unauthorized`"),
        (status = 403, description = "`mfa_enforced`, `mfa_required_for_action`, `reauthentication_required`, or `phishing_resistant_required` (a code where only passkeys count: delete the passkeys instead)"),
        (status = 409, description = "`mfa_not_enabled`"),
        (status = 429, description = "`too_many_attempts`"),
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
    let body = body.parse()?;
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let _permit = state.hasher.permit().await?;
    state
        .db(move |conn| {
            mfa::disable(
                conn,
                &config,
                &auth,
                body.password.as_deref(),
                &body.code,
                &ctx,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Generate a new one-time recovery token (the previous one stops working).
///
/// Needs an aal2 session (403 `mfa_required_for_action`) and the password.
#[utoipa::path(
    tag = "mfa",
    request_body = PasswordRequest,
    responses(
        (status = 201, description = "The new token, shown once", body = RecoveryTokenResponse),
        (status = 401, description = "`unauthorized`"),
        (status = 403, description = "`mfa_required_for_action`, `reauthentication_required`, or `phishing_resistant_required` where only passkeys count (a recovery token would be refused at sign-in)"),
        (status = 409, description = "`mfa_not_enabled`"),
        (status = 429, description = "`too_many_attempts`: the email is locked after wrong passwords"),
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
) -> ApiResult<NoStore<RecoveryTokenResponse>> {
    let password = body.parse()?.password;
    let ctx = ctx(&req, &state);
    let _permit = state.hasher.permit().await?;
    let (token, created_at) = state
        .db(move |conn| mfa::regenerate_recovery_token(conn, &auth, password.as_deref(), &ctx))
        .await?;
    Ok(NoStore::created(RecoveryTokenResponse {
        recovery_token: token,
        created_at: utc(created_at),
    }))
}
