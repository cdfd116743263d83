//! `/api/v1/accounts` (sign-up) and `/api/v1/account` (settings, policy).

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};

use super::body::Body;
use super::dto::*;
use super::extract::{AuthSession, RateLimited};
use super::problems::{AdminProblems, BodyProblems};
use super::{ctx, State};
use crate::config::SignupMode;
use crate::domain::admin;
use crate::domain::policy::Action;
use crate::domain::signup::{self, NewAccount};
use crate::domain::validate::Checks;
use crate::domain::AccountChanges;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_account)
        .service(verify_account)
        .service(get_account)
        .service(update_account);
}

/// Sign up: a new account with its first administrator. With
/// `LATCHKEY_SIGNUP=verify` the answer is 202 whatever the email and the
/// account is created by the link mailed to it
/// (`POST /api/v1/accounts/verify`); a taken address gets a "someone tried
/// to sign up" mail instead.
#[utoipa::path(
    tag = "account",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account and administrator created", body = SignupResponse),
        (status = 202, description = "`LATCHKEY_SIGNUP=verify`: a link is on its way", body = VerificationSentResponse),
        (status = 403, description = "`forbidden`: sign-up is closed"),
        (status = 409, description = "`conflict`: the email is taken"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/accounts")]
pub async fn create_account(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<SignupRequest>,
) -> ApiResult<HttpResponse> {
    let mode = state.config.signup;
    if mode == SignupMode::Closed {
        return Err(ApiError::Forbidden);
    }
    let body = body.parse()?;
    let mut checks = Checks::default();
    let account_name = checks.name("account_name", &body.account_name);
    let email = checks.email("email", &body.email);
    checks.password("password", &body.password);
    let display_name = match &body.display_name {
        Some(name) => checks.name("display_name", name),
        None => email.split('@').next().unwrap_or_default().to_string(),
    };
    checks.finish()?;
    let password_hash = state.hasher.hash(body.password).await?;
    let ctx = ctx(&req, &state);
    let input = NewAccount {
        account_name,
        email,
        display_name,
        password_hash,
    };
    if mode == SignupMode::Verify {
        let config = state.config.clone();
        state
            .db(move |conn| signup::request_signup(conn, &config, input, &ctx))
            .await?;
        return Ok(HttpResponse::Accepted().json(VerificationSentResponse {
            status: VerificationSentStatus::VerificationSent,
        }));
    }
    let (account, user) = state
        .db(move |conn| signup::create_account(conn, input, &ctx))
        .await?;
    Ok(HttpResponse::Created().json(SignupResponse {
        account: (&account).into(),
        user: UserResponse::new(&user, false),
    }))
}

/// Verified sign-up: the link's token creates the account and its
/// administrator (then sign in as usual).
#[utoipa::path(
    tag = "account",
    request_body = VerifySignupRequest,
    responses(
        (status = 201, description = "Account and administrator created", body = SignupResponse),
        (status = 401, description = "`link_invalid`: no such link"),
        (status = 403, description = "`forbidden`: sign-up is closed"),
        (status = 409, description = "`conflict`: the email has an account meanwhile"),
        (status = 410, description = "`link_expired`: used or expired"),
        (status = 429, description = "`too_many_attempts` (rate limited)"),
        BodyProblems,
    )
)]
#[post("/accounts/verify")]
pub async fn verify_account(
    _limited: RateLimited,
    req: HttpRequest,
    state: State,
    body: Body<VerifySignupRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.parse()?;
    let ctx = ctx(&req, &state);
    let config = state.config.clone();
    let (account, user) = state
        .db(move |conn| signup::verify_signup(conn, &config, &body.token, &ctx))
        .await?;
    Ok(HttpResponse::Created().json(SignupResponse {
        account: (&account).into(),
        user: UserResponse::new(&user, false),
    }))
}

/// The account of the signed-in user, with its MFA policy.
#[utoipa::path(
    tag = "account",
    responses(
        (status = 200, description = "The account", body = AccountResponse),
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[get("/account")]
pub async fn get_account(state: State, auth: AuthSession) -> ApiResult<web::Json<AccountResponse>> {
    auth.may(Action::ViewAccount)?;
    let account = state.db(move |conn| admin::account(conn, &auth)).await?;
    Ok(web::Json((&account).into()))
}

/// Rename the account or turn "Require MFA" on or off.
///
/// Turning it on makes users without MFA enroll at their next login;
/// turning it off disables nobody's MFA.
#[utoipa::path(
    tag = "account",
    request_body = UpdateAccountRequest,
    responses(
        (status = 200, description = "The updated account", body = AccountResponse),
        BodyProblems,
        AdminProblems,
    ),
    security(("bearer" = []))
)]
#[patch("/account")]
pub async fn update_account(
    req: HttpRequest,
    state: State,
    auth: AuthSession,
    body: Body<UpdateAccountRequest>,
) -> ApiResult<web::Json<AccountResponse>> {
    auth.may(Action::ViewAccount)?;
    let body = body.parse()?;
    let mut checks = Checks::default();
    let name = body.name.as_deref().map(|n| checks.name("name", n));
    checks.finish()?;
    let ctx = ctx(&req, &state);
    let changes = AccountChanges {
        name,
        require_mfa: body.require_mfa,
        mfa_methods: body.mfa_methods,
        require_mfa_from: body.require_mfa_from.map(|t| t.map(|t| t.naive_utc())),
        remember_device_days: body.remember_device_days,
    };
    let account = state
        .db(move |conn| admin::update_account(conn, &auth, changes, &ctx))
        .await?;
    Ok(web::Json((&account).into()))
}
