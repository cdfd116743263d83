//! Request extractors for the two kinds of bearer credential: access tokens
//! (JWTs of a live session) and enrollment tokens (forced MFA set-up).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;

use crate::crypto::tokens::{self, AccessClaims, TokenError};
use crate::domain::policy::{self, Permission, RequiredBy, Role};
use crate::domain::sessions::idle_cutoff;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::challenges::{self as challenge_store, KIND_ENROLLMENT};
use crate::store::sessions::{self as session_store, Session};
use crate::store::users::{self as user_store, User};

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

fn state(req: &HttpRequest) -> ApiResult<AppState> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| ApiError::internal("application state missing"))
}

/// A request made with a valid access token of a live session.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub user: User,
    pub session: Session,
    pub claims: AccessClaims,
    /// The policy that requires MFA for this user, if any.
    pub required_by: Option<RequiredBy>,
    /// Creation time of the user's unused recovery token, if any.
    pub unused_recovery_created_at: Option<NaiveDateTime>,
}

impl AuthSession {
    /// 403 unless the user's role grants `permission`.
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        let role = Role::parse(&self.user.role).ok_or(ApiError::Forbidden)?;
        if policy::allows(role, permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn is_aal2(&self) -> bool {
        self.session.aal == "aal2"
    }
}

/// A live enrollment grant (after the password, for a user who must set up MFA).
#[derive(Debug, Clone)]
pub struct EnrollmentGrant {
    pub user: User,
    pub challenge_id: String,
}

async fn enrollment_grant(state: &AppState, token: String) -> ApiResult<Option<EnrollmentGrant>> {
    let now = state.clock.now_naive();
    state
        .db(move |conn| {
            let hash = tokens::sha256_hex(&token);
            let Some(challenge) = challenge_store::find_by_hash(conn, KIND_ENROLLMENT, &hash)?
            else {
                return Ok(None);
            };
            if challenge.consumed_at.is_some() || challenge.expires_at <= now {
                return Ok(None);
            }
            let user = user_store::find(conn, &challenge.user_id)?.filter(|u| !u.disabled);
            Ok(user.map(|user| EnrollmentGrant {
                user,
                challenge_id: challenge.id,
            }))
        })
        .await
}

async fn access_session(state: &AppState, token: String) -> ApiResult<AuthSession> {
    let now = state.clock.now();
    let claims = match state.keys.verify(&token, now.timestamp()) {
        Ok(claims) => claims,
        Err(TokenError::UnknownKid(_)) => {
            // Another node or the CLI may have rotated the keys.
            let keys = state.keys.clone();
            let naive = now.naive_utc();
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
    let sid = claims.sid.clone();
    let sub = claims.sub.clone();
    let naive = now.naive_utc();
    let cutoff = idle_cutoff(&state.config, naive);
    let found = state
        .db(move |conn| Ok(session_store::find_live_context(conn, &sid, naive, cutoff)?))
        .await?;
    match found {
        Some(found) if found.user.id == sub => Ok(AuthSession {
            required_by: policy::required_by_flags(
                found.account_requires_mfa,
                found.sub_account_requires_mfa,
            ),
            unused_recovery_created_at: found
                .recovery_created_at
                .filter(|_| found.recovery_used_at.is_none()),
            user: found.user,
            session: found.session,
            claims,
        }),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Resolves a bearer token that must be an access token. An enrollment
/// token gets 403 `mfa_enrollment_required`; anything else 401.
async fn authenticate(state: AppState, token: Option<String>) -> ApiResult<AuthSession> {
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
        Box::pin(async move { Ok(authenticate(state?, token).await?) })
    }
}

/// Who may use the TOTP enrollment endpoints: a signed-in user, or a user
/// holding an enrollment token.
#[derive(Debug, Clone)]
pub enum MfaActor {
    Session(Box<AuthSession>),
    Enrollment(Box<EnrollmentGrant>),
}

impl MfaActor {
    pub fn user(&self) -> &User {
        match self {
            MfaActor::Session(s) => &s.user,
            MfaActor::Enrollment(g) => &g.user,
        }
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
            Ok(MfaActor::Session(Box::new(
                authenticate(state, Some(token)).await?,
            )))
        })
    }
}
