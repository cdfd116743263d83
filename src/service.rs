//! The sign-in sequences that cross several resources of the process — a
//! unit of database work, argon2 on its bounded pool, an identity provider
//! over HTTP — in order. Each step is a sync domain function that asserts
//! its own rule; this module only sequences them, so no rule about sign-in
//! sits in a handler (`http` turns requests into these calls and their
//! answers into responses).
//!
//! Layers: `http` → `service` → `domain` (with the process's `AppState`).

use crate::domain::login::{self, LoginOutcome};
use crate::domain::sso::{self, ReturnTo, Start};
use crate::domain::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Argon2 over `password` against `hash` (the dummy hash when `None`):
/// a password that is not well formed costs the same work and is wrong
/// ([`login::well_formed_password`]).
async fn verify(state: &AppState, password: String, hash: Option<String>) -> ApiResult<bool> {
    let well_formed = login::well_formed_password(&password);
    let checked = if well_formed {
        password
    } else {
        password.chars().take(64).collect()
    };
    Ok(state.hasher.verify(checked, hash).await? && well_formed)
}

/// The password step of `POST /sessions`: an attempt reserved on the
/// email's lockout (before argon2, so a burst cannot outrun it), argon2
/// outside any transaction, then the decision. Malformed input is answered
/// like a wrong password and still counts.
pub async fn password(
    state: &AppState,
    email: &str,
    password: String,
    device_token: Option<String>,
    ctx: Ctx,
) -> ApiResult<LoginOutcome> {
    // Malformed input is answered like a wrong password: no hint either way.
    let email = crate::domain::validate::normalize_email(email).unwrap_or_default();
    // No email, nothing to count: no unit of database work either.
    let attempt = if email.is_empty() {
        login::Attempt { user: None }
    } else {
        let (c, e) = (ctx.clone(), email.clone());
        state
            .db(move |conn| login::begin_password_attempt(conn, &e, &c))
            .await?
    };
    let hash = attempt.user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify(state, password, hash).await? && !email.is_empty();
    let st = state.clone();
    state
        .db(move |conn| {
            login::finish_password_attempt(
                conn,
                &st.keys,
                &st.config,
                &email,
                attempt.user,
                ok,
                device_token.as_deref(),
                &ctx,
            )
        })
        .await
}

/// `POST /sessions/sso/link`: the link token's user with an attempt
/// reserved on their email's login lockout, argon2, then the link (see
/// [`sso::begin_link`], [`sso::finish_link`]).
pub async fn sso_link(
    state: &AppState,
    link_token: String,
    password: String,
    ctx: Ctx,
) -> ApiResult<LoginOutcome> {
    let c = ctx.clone();
    let attempt = state
        .db(move |conn| sso::begin_link(conn, &link_token, &c))
        .await?;
    let hash = attempt.user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify(state, password, hash).await?;
    let st = state.clone();
    state
        .db(move |conn| sso::finish_link(conn, &st.keys, &st.config, attempt, ok, &ctx))
        .await
}

/// `GET /sso/{provider}/authorize`: the request checked, the provider's
/// authorization URL made, the flow kept. Returns the URL.
pub async fn sso_authorize(
    state: &AppState,
    provider_id: String,
    start: Start<'_>,
    ctx: Ctx,
) -> ApiResult<String> {
    let owned = OwnedStart::from(&start);
    let (st, s) = (state.clone(), owned.clone());
    let secrets = state
        .db(move |conn| sso::begin(conn, &st.config, &provider_id, &s.start()))
        .await?;
    let scopes = secrets.provider.scope_list();
    let request = state
        .oidc
        .authorize(&secrets.client(&scopes), &sso::callback_url(&state.config))
        .await?;
    let (st, url) = (state.clone(), request.url.clone());
    state
        .db(move |conn| {
            sso::record_flow(
                conn,
                &st.config,
                &secrets.provider.id,
                &request,
                &owned.start(),
                &ctx,
            )
        })
        .await?;
    Ok(url)
}

/// What the provider sent back to `GET /sso/callback`.
pub struct ProviderAnswer {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub iss: Option<String>,
}

/// `GET /sso/callback`: the flow spent once, the provider's answer checked
/// (mix-up, error), the code exchanged and the ID token validated, then a
/// login code or the refusal (each recorded). Returns where the browser
/// goes back to, with the login code or the error; `Err` only when there is
/// nowhere safe to send it (an unknown flow).
pub async fn sso_callback(
    state: &AppState,
    answer: ProviderAnswer,
    ctx: Ctx,
) -> ApiResult<(ReturnTo, ApiResult<String>)> {
    let flow_state = answer.state.clone().unwrap_or_default();
    let (st, c) = (state.clone(), ctx.clone());
    let (back, taken) = state
        .db(move |conn| sso::take_flow(conn, &st.config, &flow_state, &c))
        .await?;
    let flow = match taken {
        Ok(flow) => flow,
        Err(e) => return Ok((back, Err(e))),
    };
    let identity = match sso::check_response(&flow, answer.error.as_deref(), answer.iss.as_deref())
    {
        Err(e) => Err(e),
        Ok(()) => {
            let scopes = flow.secrets.provider.scope_list();
            state
                .oidc
                .exchange(
                    &flow.secrets.client(&scopes),
                    &sso::callback_url(&state.config),
                    answer.code.as_deref().unwrap_or_default(),
                    &flow.pkce_verifier,
                    &flow.nonce,
                    state.clock.now(),
                )
                .await
        }
    };
    if let Err(ApiError::IdentityProviderUnavailable(cause)) = &identity {
        tracing::warn!(%cause, "single sign-on: identity provider unavailable");
    }
    let st = state.clone();
    let finished = state
        .db(move |conn| sso::finish(conn, &st.config, &flow, identity, &ctx))
        .await;
    Ok((back, finished))
}

/// A [`Start`] that can move to a blocking thread.
#[derive(Clone)]
struct OwnedStart {
    redirect_uri: String,
    client_state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl OwnedStart {
    fn from(start: &Start<'_>) -> OwnedStart {
        OwnedStart {
            redirect_uri: start.redirect_uri.to_string(),
            client_state: start.client_state.map(String::from),
            code_challenge: start.code_challenge.map(String::from),
            code_challenge_method: start.code_challenge_method.map(String::from),
        }
    }

    fn start(&self) -> Start<'_> {
        Start {
            redirect_uri: &self.redirect_uri,
            client_state: self.client_state.as_deref(),
            code_challenge: self.code_challenge.as_deref(),
            code_challenge_method: self.code_challenge_method.as_deref(),
        }
    }
}
