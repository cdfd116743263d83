//! The authorization flow kept in the database (so any node finishes it,
//! once): its start, the provider's return, and the login code it ends
//! with.

use super::linking::resolve_user;
use super::{login_failed, open_client_secret, redirects, MAX_CLIENT_STATE};
use crate::config::Config;
use crate::crypto::tokens;
use crate::domain::audit::{self, Event};
use crate::domain::login::{self, SsoOrigin};
use crate::domain::policy::{Amr, Method};
use crate::domain::{commit_then_refuse, new_id, parse_id, Ctx, Verdict};
use crate::error::{ApiError, ApiResult, SsoFailure};
use crate::oidc::{AuthorizeRequest, Identity, ProviderClient};
use crate::store::challenges::KIND_SSO;
use crate::store::sso::{self as sso_store, IdentityProvider, SsoFlow};
use crate::store::{write_tx, DbConn};

fn pkce_aad(flow_id: &str) -> String {
    format!("sso-pkce:{flow_id}")
}

/// A provider ready for the relying party (its secret opened).
pub struct ProviderSecrets {
    pub provider: IdentityProvider,
    pub client_secret: String,
}

impl ProviderSecrets {
    pub fn client<'a>(&'a self, scopes: &'a [String]) -> ProviderClient<'a> {
        ProviderClient {
            issuer: &self.provider.issuer,
            client_id: &self.provider.client_id,
            client_secret: &self.client_secret,
            scopes,
        }
    }
}

/// What a client asks for when it starts a sign-in.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// Where the browser (or app) returns: one of the provider's allowed
    /// redirect URIs.
    pub redirect_uri: &'a str,
    /// The client's opaque `state`, handed back unchanged.
    pub client_state: Option<&'a str>,
    /// The client's own PKCE challenge (S256), required of native apps.
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
}

impl Start<'_> {
    /// The client's PKCE challenge, checked (S256 only): required when the
    /// redirect URI it matched (`allowed`) is a native app's (422 without).
    fn client_challenge(&self, allowed: &str) -> ApiResult<Option<String>> {
        match self.code_challenge {
            Some(challenge) => {
                redirects::check_challenge(challenge, self.code_challenge_method).map(Some)
            }
            None if redirects::is_native(allowed) => Err(ApiError::invalid(
                "code_challenge",
                "is required for a native app's redirect URI (PKCE, S256)",
            )),
            None => Ok(None),
        }
    }

    /// The provider's allowed redirect URI this request matches (422 when
    /// none: no open redirect), and the client's PKCE challenge.
    fn check(&self, provider: &IdentityProvider) -> ApiResult<Option<String>> {
        let allowed = provider
            .redirect_uri_list()
            .into_iter()
            .find(|allowed| redirects::matches(allowed, self.redirect_uri))
            .ok_or_else(|| {
                ApiError::invalid(
                    "redirect_uri",
                    "is not one of the identity provider's allowed_redirect_uris",
                )
            })?;
        if let Some(state) = self.client_state {
            if state.len() > MAX_CLIENT_STATE || !state.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::invalid(
                    "state",
                    "must be at most 256 printable ASCII characters",
                ));
            }
        }
        self.client_challenge(&allowed)
    }
}

/// Checks a sign-in request before anything is sent to the provider: the
/// provider exists (404), `redirect_uri` is one of its allowed URIs (422:
/// no open redirect), `client_state` is short and printable (422), and a
/// native app sent its PKCE challenge (422).
pub fn begin(
    conn: &mut DbConn,
    config: &Config,
    provider_id: &str,
    start: &Start<'_>,
) -> ApiResult<ProviderSecrets> {
    let provider_id = parse_id(provider_id)?;
    let provider = sso_store::find_provider(conn, &provider_id)?.ok_or(ApiError::NotFound)?;
    start.check(&provider)?;
    let client_secret = open_client_secret(config, &provider)?;
    Ok(ProviderSecrets {
        provider,
        client_secret,
    })
}

/// Keeps an authorization request in progress (10 minutes); the `state` is
/// stored as its SHA-256, the PKCE verifier sealed, the client's own PKCE
/// challenge as sent.
pub fn record_flow(
    conn: &mut DbConn,
    config: &Config,
    provider_id: &str,
    request: &AuthorizeRequest,
    start: &Start<'_>,
    ctx: &Ctx,
) -> ApiResult<()> {
    let provider = sso_store::find_provider(conn, provider_id)?.ok_or(ApiError::NotFound)?;
    let client_code_challenge = start.check(&provider)?;
    let id = new_id();
    let ttl = chrono::Duration::from_std(config.sso_flow_ttl)
        .unwrap_or_else(|_| chrono::Duration::minutes(10));
    sso_store::insert_flow(
        conn,
        &SsoFlow {
            pkce_verifier_sealed: config
                .master_key
                .seal(request.pkce_verifier.as_bytes(), &pkce_aad(&id))?,
            id,
            state_hash: tokens::sha256_hex(&request.state),
            provider_id: provider_id.to_string(),
            nonce: request.nonce.clone(),
            redirect_uri: start.redirect_uri.to_string(),
            client_state: start.client_state.map(String::from),
            created_at: ctx.now,
            expires_at: ctx.now + ttl,
            consumed_at: None,
            client_code_challenge,
        },
    )?;
    Ok(())
}

/// The provider's answer before any code is exchanged: an `error` from the
/// provider is `access_denied`; an `iss` (RFC 9207) naming another issuer
/// is a mix-up and refused.
pub fn check_response(flow: &TakenFlow, error: Option<&str>, iss: Option<&str>) -> ApiResult<()> {
    if error.is_some() {
        return Err(ApiError::Sso(SsoFailure::AccessDenied));
    }
    if iss.is_some_and(|iss| iss != flow.secrets.provider.issuer) {
        return Err(ApiError::Sso(SsoFailure::InvalidIdToken));
    }
    Ok(())
}

/// Where the browser goes back to when a flow ends, well or badly.
#[derive(Debug, Clone)]
pub struct ReturnTo {
    pub redirect_uri: String,
    pub client_state: Option<String>,
}

/// A flow just spent by this request, ready for the code exchange.
pub struct TakenFlow {
    pub secrets: ProviderSecrets,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The client's own PKCE challenge, which the login code carries on.
    pub client_code_challenge: Option<String>,
    /// Where the login code goes (checked again against the provider).
    pub redirect_uri: String,
}

/// Spends the flow of `state`, once. Unknown `state`: 400 (there is nowhere
/// safe to send the browser). A flow spent before or expired: the second
/// part is `flow_expired` (recorded as `sso.login_failed`), with the way
/// back to the client.
pub fn take_flow(
    conn: &mut DbConn,
    config: &Config,
    state: &str,
    ctx: &Ctx,
) -> ApiResult<(ReturnTo, ApiResult<TakenFlow>)> {
    if state.is_empty() || state.len() > 512 {
        return Err(ApiError::BadRequest("Unknown sign-in flow.".into()));
    }
    let hash = tokens::sha256_hex(state);
    write_tx(conn, |conn| {
        let flow = sso_store::find_flow_by_state(conn, &hash)?
            .ok_or_else(|| ApiError::BadRequest("Unknown sign-in flow.".into()))?;
        let back = ReturnTo {
            redirect_uri: flow.redirect_uri.clone(),
            client_state: flow.client_state.clone(),
        };
        let provider = sso_store::find_provider(conn, &flow.provider_id)?;
        let spent = sso_store::consume_flow(conn, &flow.id, ctx.now)? == 1;
        let Some(provider) = provider.filter(|_| spent) else {
            login_failed(
                conn,
                ctx,
                Some(&flow.provider_id),
                None,
                SsoFailure::FlowExpired.code(),
            )?;
            return Ok((back, Err(ApiError::Sso(SsoFailure::FlowExpired))));
        };
        let pkce_verifier = config
            .master_key
            .open(&flow.pkce_verifier_sealed, &pkce_aad(&flow.id))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::internal(format!("flow {} cannot be opened", flow.id)))?;
        let client_secret = open_client_secret(config, &provider)?;
        Ok((
            back,
            Ok(TakenFlow {
                secrets: ProviderSecrets {
                    provider,
                    client_secret,
                },
                nonce: flow.nonce,
                pkce_verifier,
                client_code_challenge: flow.client_code_challenge,
                redirect_uri: flow.redirect_uri,
            }),
        ))
    })
}

/// Ends a flow with what the provider's answer proved: a single-use login
/// code (60 s) for the user it names, or the refusal, recorded either way
/// as `sso.login_succeeded` / `sso.login_failed`.
pub fn finish(
    conn: &mut DbConn,
    config: &Config,
    flow: &TakenFlow,
    identity: ApiResult<Identity>,
    ctx: &Ctx,
) -> ApiResult<String> {
    let provider_id = flow.secrets.provider.id.clone();
    commit_then_refuse(conn, |conn| {
        let identity = match identity {
            Ok(identity) => identity,
            Err(e) => {
                login_failed(conn, ctx, Some(&provider_id), None, e.code())?;
                return Ok(Verdict::Refused(e));
            }
        };
        // The provider as it is now, under its row lock (a change of it
        // waits, and spends what this issues): deleted or changed while the
        // user was away, its current settings count, its redirect URIs too.
        sso_store::lock_provider(conn, &provider_id)?;
        let Some(provider) = sso_store::find_provider(conn, &provider_id)? else {
            return Ok(Verdict::Refused(ApiError::Sso(SsoFailure::FlowExpired)));
        };
        let still_allowed = provider
            .redirect_uri_list()
            .iter()
            .any(|allowed| redirects::matches(allowed, &flow.redirect_uri));
        if !still_allowed {
            login_failed(
                conn,
                ctx,
                Some(&provider_id),
                None,
                "redirect_uri_withdrawn",
            )?;
            return Ok(Verdict::Refused(ApiError::Sso(SsoFailure::FlowExpired)));
        }
        if identity.issuer != provider.issuer {
            login_failed(conn, ctx, Some(&provider_id), None, "issuer_mismatch")?;
            return Ok(Verdict::Refused(ApiError::Sso(SsoFailure::InvalidIdToken)));
        }
        let user = match resolve_user(conn, &provider, &identity, ctx)? {
            Ok(user) => user,
            Err(refusal) => {
                login_failed(
                    conn,
                    ctx,
                    Some(&provider_id),
                    refusal.user.as_ref(),
                    refusal.reason,
                )?;
                return Ok(Verdict::Refused(ApiError::Sso(refusal.failure)));
            }
        };
        let idp_mfa = identity.did_mfa();
        let first_factor = if provider.trust_idp_mfa && idp_mfa {
            Amr::of(&[Method::Sso, Method::IdpMfa])
        } else {
            Amr::of(&[Method::Sso])
        };
        let code = login::new_sso_challenge(
            conn,
            KIND_SSO,
            tokens::SSO_LOGIN_PREFIX,
            &user,
            &SsoOrigin {
                provider_id: &provider.id,
                subject: &identity.subject,
                first_factor: &first_factor,
                code_challenge: flow.client_code_challenge.as_deref(),
            },
            config.sso_login_code_ttl,
            ctx.now,
        )?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::SSO_LOGIN_SUCCEEDED, &user.account_id, &user.id).with(
                serde_json::json!({
                    "identity_provider_id": provider.id,
                    "idp_amr": identity.amr,
                    "idp_mfa_trusted": provider.trust_idp_mfa && idp_mfa,
                }),
            ),
        )?;
        Ok(Verdict::Granted(code))
    })
}
