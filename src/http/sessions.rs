//! `/api/v1/sessions`: password login, second step, refresh, logout.

use actix_web::{delete, post, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::{AuthSession, RateLimited};
use super::problems::{BodyProblems, SessionProblems};
use super::{ctx, NoStore, State};
use crate::domain::login::{self, SecondFactorInput};
use crate::domain::sessions as session_rules;
use crate::domain::stepup;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_session)
        .service(complete_mfa)
        .service(refresh_session)
        .service(delete_current_session)
        .service(step_up_options)
        .service(step_up);
}

/// Sign in with email and password (first step).
///
/// Answers `authenticated` with tokens, `mfa_required` with an `mfa_token`
/// for `POST /api/v1/sessions/mfa`, or `mfa_enrollment_required` with an
/// enrollment token. A wrong email, wrong password and disabled user get the
/// same 401 in about the same time.
#[utoipa::path(
    tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Password accepted", body = LoginResponse),
        (status = 401, description = "`invalid_credentials`"),
        (status = 429, description = "`too_many_attempts`: locked after consecutive failures, or rate limited"),
        BodyProblems,
    )
)]
#[post("/sessions")]
pub async fn create_session(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<LoginRequest>,
) -> ApiResult<NoStore<LoginResponse>> {
    let result = password_step(req, state, body).await;
    let outcome = match &result {
        Ok(LoginResponse::Authenticated(_)) => "authenticated",
        Ok(LoginResponse::MfaRequired(_)) => "mfa_required",
        Ok(LoginResponse::EnrollmentRequired(_)) => "mfa_enrollment_required",
        Err(e) => e.code(),
    };
    metrics::counter!("latchkey_password_logins_total", "outcome" => outcome).increment(1);
    result.map(NoStore::ok)
}

async fn password_step(
    req: HttpRequest,
    state: State,
    body: Body<LoginRequest>,
) -> ApiResult<LoginResponse> {
    let LoginRequest {
        email,
        password,
        device_token,
    } = body.parse()?;
    let outcome =
        crate::service::password(&state, &email, password, device_token, ctx(&req, &state)).await?;
    Ok(LoginResponse::from(outcome))
}

/// Complete a login with the TOTP code, the recovery token or a passkey
/// (second step).
///
/// A wrong, old or already used code gets the same `mfa_code_invalid` with
/// `attempts_remaining`; the challenge dies after 5 wrong codes or 5 minutes
/// (`challenge_expired`). After 10 consecutive wrong codes for a user the
/// second step answers 429 for 15 minutes.
#[utoipa::path(
    tag = "sessions",
    request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "Signed in (aal2)", body = AuthenticatedResponse),
        (status = 401, description = "`mfa_code_invalid` (a wrong code or assertion) or `challenge_expired`"),
        (status = 403, description = "`phishing_resistant_required`: a code where only passkeys count"),
        (status = 429, description = "`too_many_attempts`"),
        BodyProblems,
    )
)]
#[post("/sessions/mfa")]
pub async fn complete_mfa(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<MfaLoginRequest>,
) -> ApiResult<NoStore<AuthenticatedResponse>> {
    let result = second_step(req, state, body).await;
    let outcome = match &result {
        Ok((_, SecondKind::RecoveryToken)) => "recovery_token",
        Ok((_, SecondKind::Totp)) => "totp",
        Ok((_, SecondKind::Passkey)) => "passkey",
        Err(e) => e.code(),
    };
    metrics::counter!("latchkey_second_factor_logins_total", "outcome" => outcome).increment(1);
    result.map(|(answer, _)| NoStore::ok(answer))
}

enum SecondKind {
    Totp,
    RecoveryToken,
    Passkey,
}

async fn second_step(
    req: HttpRequest,
    state: State,
    body: Body<MfaLoginRequest>,
) -> ApiResult<(AuthenticatedResponse, SecondKind)> {
    let body = body.parse()?;
    let input = match (body.code, body.passkey) {
        (Some(code), None) => SecondFactorInput::Code(code),
        (None, Some(passkey)) => {
            SecondFactorInput::Passkey(Box::new(super::passkeys::credential("passkey", passkey)?))
        }
        _ => return Err(ApiError::invalid("code", "send either code or passkey")),
    };
    let is_passkey = matches!(input, SecondFactorInput::Passkey(_));
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let step = state
        .db(move |conn| {
            login::complete_mfa(
                conn,
                &st.keys,
                &st.config,
                &body.mfa_token,
                &input,
                body.remember_device,
                &ctx,
            )
        })
        .await?;
    let kind = match (is_passkey, step.recovery_token_used) {
        (true, _) => SecondKind::Passkey,
        (false, true) => SecondKind::RecoveryToken,
        (false, false) => SecondKind::Totp,
    };
    let mut answer = AuthenticatedResponse::new(step.issued, Some(step.recovery_token_used));
    answer.device_token = step.device_token;
    Ok((answer, kind))
}

/// Exchange a refresh token for new tokens (the old one is spent).
///
/// Presenting a spent refresh token again revokes the whole session.
#[utoipa::path(
    tag = "sessions",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens, same session", body = AuthenticatedResponse),
        (status = 401, description = "`unauthorized`: unknown, spent or revoked"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/sessions/refresh")]
pub async fn refresh_session(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<RefreshRequest>,
) -> ApiResult<NoStore<AuthenticatedResponse>> {
    let token = body.parse()?.refresh_token;
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let response = state
        .db(move |conn| {
            let issued = session_rules::refresh(conn, &st.keys, &st.config, &token, &ctx)?;
            Ok(AuthenticatedResponse::new(issued, None))
        })
        .await?;
    Ok(NoStore::ok(response))
}

/// Sign out: end the current session (its tokens stop working at once).
#[utoipa::path(
    tag = "sessions",
    responses(
        (status = 204, description = "Signed out"),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[delete("/sessions/current")]
pub async fn delete_current_session(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
) -> ApiResult<HttpResponse> {
    let ctx = ctx(&req, &state);
    state
        .db(move |conn| session_rules::revoke(conn, &auth.user, &auth.session.id, &ctx, "logout"))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What the current session can prove to step up: `totp` and/or `passkey`
/// (with WebAuthn request options bound to this session, 5 minutes).
#[utoipa::path(
    tag = "sessions",
    responses(
        (status = 200, description = "Methods", body = StepUpOptionsResponse),
        (status = 403, description = "`mfa_required_for_action`: the user has no MFA to prove"),
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[post("/sessions/current/step-up/options")]
pub async fn step_up_options(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
) -> ApiResult<NoStore<StepUpOptionsResponse>> {
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let options = state
        .db(move |conn| stepup::options(conn, &config, &auth, &ctx))
        .await?;
    Ok(NoStore::ok(StepUpOptionsResponse {
        methods: options.methods.into_iter().map(String::from).collect(),
        passkey_options: options.passkey_options,
    }))
}

/// Step up: prove a second factor now (a TOTP code or a passkey assertion;
/// not the recovery token) without a new sign-in. The changes that need
/// one (others' MFA, roles, identity providers, MFA policies) then work
/// for 10 minutes. Fresh tokens for the same session; its earlier refresh
/// tokens stop working. Wrong codes count on the second-factor lockout.
#[utoipa::path(
    tag = "sessions",
    request_body = StepUpRequest,
    responses(
        (status = 200, description = "Stepped up: fresh tokens", body = AuthenticatedResponse),
        (status = 401, description = "`mfa_code_invalid` (a wrong code or assertion), or `unauthorized`"),
        (status = 403, description = "`mfa_required_for_action` (no MFA to prove) or `phishing_resistant_required` (a code where only passkeys count)"),
        (status = 429, description = "`too_many_attempts`: the second factor is locked"),
        BodyProblems,
        SessionProblems,
    ),
    security(("bearer" = []))
)]
#[post("/sessions/current/step-up")]
pub async fn step_up(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<StepUpRequest>,
) -> ApiResult<NoStore<AuthenticatedResponse>> {
    let body = body.parse()?;
    let input = match (body.code, body.passkey) {
        (Some(code), None) => SecondFactorInput::Code(code),
        (None, Some(passkey)) => {
            SecondFactorInput::Passkey(Box::new(super::passkeys::credential("passkey", passkey)?))
        }
        _ => return Err(ApiError::invalid("code", "send either code or passkey")),
    };
    let ctx = ctx(&req, &state);
    let st = state.clone();
    let issued = state
        .db(move |conn| stepup::step_up(conn, &st.keys, &st.config, &auth, &input, &ctx))
        .await?;
    Ok(NoStore::ok(AuthenticatedResponse::new(issued, None)))
}
