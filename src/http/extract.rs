//! Request extractors for the two kinds of bearer credential: access tokens
//! (JWTs of a live session → [`Principal`]) and enrollment tokens (forced
//! MFA set-up → [`MfaActor::Enrollment`]). What makes either valid is
//! decided in `domain::auth`; this file only reads the header.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::crypto::tokens::{self, TokenError};
use crate::domain::auth::{self, MfaActor, Principal};
use crate::domain::sessions::idle_cutoff;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The signed-in caller of a route: the principal, shared with the
/// principal cache (a hit clones a pointer, not the rows).
#[derive(Clone, Debug)]
pub struct AuthSession(pub Arc<Principal>);

impl std::ops::Deref for AuthSession {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && token.len() <= 4096).then(|| token.to_string())
}

fn state(req: &HttpRequest) -> ApiResult<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("application state missing"))
}

async fn enrollment_grant(
    state: &AppState,
    token: String,
) -> ApiResult<Option<auth::EnrollmentGrant>> {
    let now = state.clock.now_naive();
    state
        .db(move |conn| auth::enrollment_grant(conn, &token, now))
        .await
}

async fn access_session(state: &AppState, token: String) -> ApiResult<Arc<Principal>> {
    let now = state.clock.now();
    let naive = now.naive_utc();
    let cutoff = idle_cutoff(&state.config, naive);
    // A token already verified, of a session nothing has changed since.
    if let Some(principal) = state.principals.lookup(&token, &state.keys, naive, cutoff) {
        return Ok(principal);
    }
    let generation = state.principals.generation();
    let claims = match state.keys.verify(&token, now.timestamp()) {
        Ok(claims) => claims,
        Err(TokenError::UnknownKid(_)) => {
            // Another node or the CLI may have rotated the keys.
            let keys = state.keys.clone();
            let reloaded = state
                .db(move |conn| keys.reload(conn, naive).map_err(ApiError::internal))
                .await?;
            if !reloaded {
                return Err(ApiError::Unauthorized);
            }
            state
                .keys
                .verify(&token, now.timestamp())
                .map_err(|_| ApiError::Unauthorized)?
        }
        Err(_) => return Err(ApiError::Unauthorized),
    };
    let principal = Arc::new(
        state
            .db(move |conn| auth::session_principal(conn, claims, naive, cutoff))
            .await?,
    );
    if let Ok(kid) = tokens::header_kid(&token) {
        state.principals.store(&token, kid, &principal, generation);
    }
    Ok(principal)
}

/// Resolves a bearer token that must be an access token. An enrollment
/// token gets 403 `mfa_enrollment_required`; anything else 401.
async fn authenticate(
    state: web::Data<AppState>,
    token: Option<String>,
) -> ApiResult<Arc<Principal>> {
    let token = token.ok_or(ApiError::Unauthorized)?;
    if token.starts_with(tokens::ENROLLMENT_PREFIX) {
        return match enrollment_grant(&state, token).await? {
            Some(_) => Err(ApiError::MfaEnrollmentRequired),
            None => Err(ApiError::Unauthorized),
        };
    }
    if token.starts_with(tokens::REFRESH_PREFIX) || token.starts_with(tokens::MFA_PREFIX) {
        return Err(ApiError::Unauthorized);
    }
    access_session(&state, token).await
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

impl FromRequest for AuthSession {
    type Error = actix_web::Error;
    type Future = BoxFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = state(req);
        Box::pin(async move { Ok(AuthSession(authenticate(state?, token).await?)) })
    }
}

impl FromRequest for MfaActor {
    type Error = actix_web::Error;
    type Future = BoxFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = state(req);
        Box::pin(async move {
            let state = state?;
            let token = token.ok_or(ApiError::Unauthorized)?;
            if token.starts_with(tokens::ENROLLMENT_PREFIX) {
                let grant = enrollment_grant(&state, token)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
                return Ok(MfaActor::Enrollment(Box::new(grant)));
            }
            Ok(MfaActor::Session(authenticate(state, Some(token)).await?))
        })
    }
}

/// The per-client-IP rate limit of an unauthenticated route, as a guard: a
/// handler that takes it is limited (429 `too_many_attempts` with
/// `Retry-After` past the budget), before its body is read.
pub struct RateLimited;

impl FromRequest for RateLimited {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(match req.app_data::<web::Data<AppState>>() {
            Some(state) => super::rate_limit(req, state).map(|()| RateLimited),
            None => Err(ApiError::internal("the app state is missing")),
        })
    }
}
