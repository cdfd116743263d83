//! The OpenID Connect relying party, on the `openidconnect` crate: each
//! issuer's discovery document and key set fetched over HTTP (timeouts, no
//! redirects followed) and cached, the authorization URL (code flow, PKCE
//! S256, `state`, `nonce`), the code exchange and the ID token's validation
//! (issuer, audience, signature from the provider's keys, nonce, expiry).
//!
//! No database and no policy here: which user a verified identity signs in,
//! and with what assurance, is `domain::sso`'s decision.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::url::Url;
use openidconnect::{
    reqwest, AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};

use crate::error::{ApiError, ApiResult, SsoFailure};

/// How long a discovery document (with its key set) is trusted before it is
/// fetched again. An unknown `kid` refetches the key set at once.
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);

/// Signature algorithms accepted on ID tokens: asymmetric ones only (never
/// `none`, never an HMAC keyed with the client secret).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What the relying party needs of one configured provider.
pub struct ProviderClient<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub scopes: &'a [String],
}

/// An authorization request: the URL to send the browser to, and the
/// secrets to keep until the provider comes back.
pub struct AuthorizeRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// What a valid ID token says about the person who signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The token's `amr` claim (authentication methods), possibly empty.
    pub amr: Vec<String>,
}

/// Methods in `amr` that mean the provider did multi-factor authentication
/// (RFC 8176: `mfa`, and the second factors `otp`, `hwk`, `swk`, `pop`).
pub const MFA_METHODS: [&str; 5] = ["mfa", "otp", "hwk", "swk", "pop"];

impl Identity {
    /// Whether the provider says it did multi-factor authentication.
    pub fn did_mfa(&self) -> bool {
        self.amr.iter().any(|m| MFA_METHODS.contains(&m.as_str()))
    }
}

struct Cached {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// The relying party of this process: one HTTP client, one cache.
pub struct Oidc {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
}

fn unavailable(what: &str, issuer: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::IdentityProviderUnavailable(format!("{what} of {issuer}: {e}"))
}

/// The rule for every URL the relying party contacts or accepts from an
/// administrator (issuer, discovery, key set, token and userinfo
/// endpoints, redirect URIs): `https`, or `http` on a loopback host only
/// (a provider on the same machine, as in development).
pub fn url_allowed(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url))
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// The rule for an endpoint a provider's discovery document names:
/// [`url_allowed`], and on this machine's loopback only when the issuer is
/// there too (a remote provider must not point the relying party at local
/// services: SSRF).
pub fn endpoint_allowed(issuer: &Url, endpoint: &Url) -> bool {
    url_allowed(endpoint) && (is_loopback(issuer) || !is_loopback(endpoint))
}

/// Most bytes read of a discovery document or key set.
const MAX_DOCUMENT: usize = 1 << 20;

/// 502 unless `address`, an endpoint `name` of `issuer`'s, obeys
/// [`endpoint_allowed`].
fn check_endpoint(issuer: &str, name: &str, address: &str) -> ApiResult<()> {
    let allowed = match (Url::parse(issuer), Url::parse(address)) {
        (Ok(issuer), Ok(endpoint)) => endpoint_allowed(&issuer, &endpoint),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(unavailable(
            name,
            issuer,
            format!("{address} must use https (http only on a loopback host), and a remote provider's endpoints must not be on loopback"),
        ))
    }
}

impl Oidc {
    /// A relying party whose every request to a provider gives up after
    /// `timeout` (connecting: at most 5 s of it). Fails rather than fall
    /// back to a client without these settings (and without the refusal to
    /// follow redirects).
    pub fn new(timeout: Duration) -> Result<Oidc, String> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider point us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            // A few requests per sign-in: a fresh connection each time, so
            // a provider that closed an idle keep-alive connection never
            // makes a sign-in fail on a stale one.
            .pool_max_idle_per_host(0)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the OpenID Connect HTTP client cannot be built: {e}"))?;
        Ok(Oidc {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, issuer: &str) -> Option<CoreProviderMetadata> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(issuer)
            .filter(|c| c.fetched.elapsed() < METADATA_TTL)
            .map(|c| c.metadata.clone())
    }

    fn store(&self, issuer: &str, metadata: &CoreProviderMetadata) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                issuer.to_string(),
                Cached {
                    metadata: metadata.clone(),
                    fetched: Instant::now(),
                },
            );
        }
    }

    /// The provider's discovery document and key set: cached, or fetched
    /// (the document must name `issuer` exactly: mix-up defence; every
    /// endpoint it names must obey [`url_allowed`], checked before any is
    /// contacted).
    async fn metadata(&self, issuer: &str) -> ApiResult<CoreProviderMetadata> {
        if let Some(metadata) = self.cached(issuer) {
            return Ok(metadata);
        }
        let metadata = self.discover(issuer).await?;
        self.store(issuer, &metadata);
        Ok(metadata)
    }

    async fn discover(&self, issuer: &str) -> ApiResult<CoreProviderMetadata> {
        let address = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        check_endpoint(issuer, "discovery document", &address)?;
        let body = self.get_json(issuer, "discovery", &address).await?;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&body)
            .map_err(|e| unavailable("discovery document", issuer, e))?;
        if metadata.issuer().as_str() != issuer {
            return Err(unavailable(
                "discovery document",
                issuer,
                format!("it names another issuer, {}", metadata.issuer().as_str()),
            ));
        }
        let endpoints = [
            (
                "authorization_endpoint",
                Some(metadata.authorization_endpoint().url()),
            ),
            ("token_endpoint", metadata.token_endpoint().map(|u| u.url())),
            ("jwks_uri", Some(metadata.jwks_uri().url())),
            (
                "userinfo_endpoint",
                metadata.userinfo_endpoint().map(|u| u.url()),
            ),
        ];
        for (name, url) in endpoints {
            if let Some(url) = url {
                check_endpoint(issuer, name, url.as_str())?;
            }
        }
        let jwks = self.key_set(issuer, &metadata).await?;
        Ok(metadata.set_jwks(jwks))
    }

    /// A JSON document of the provider (at most [`MAX_DOCUMENT`] bytes).
    async fn get_json(&self, issuer: &str, what: &str, address: &str) -> ApiResult<Vec<u8>> {
        let mut response = self
            .http
            .get(address)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(what, issuer, error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(unavailable(
                what,
                issuer,
                format!("HTTP {}", response.status()),
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(what, issuer, error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(unavailable(what, issuer, "larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The provider's key set, from the `jwks_uri` its document names.
    async fn key_set(
        &self,
        issuer: &str,
        metadata: &CoreProviderMetadata,
    ) -> ApiResult<CoreJsonWebKeySet> {
        let address = metadata.jwks_uri().url().as_str();
        check_endpoint(issuer, "jwks_uri", address)?;
        let body = self.get_json(issuer, "key set", address).await?;
        serde_json::from_slice(&body).map_err(|e| unavailable("key set", issuer, e))
    }

    /// The key set fetched again (a key the cached set lacks).
    async fn refresh_keys(
        &self,
        issuer: &str,
        metadata: CoreProviderMetadata,
    ) -> ApiResult<CoreProviderMetadata> {
        let jwks = self.key_set(issuer, &metadata).await?;
        let metadata = metadata.set_jwks(jwks);
        self.store(issuer, &metadata);
        Ok(metadata)
    }

    fn client(
        provider: &ProviderClient<'_>,
        metadata: CoreProviderMetadata,
        callback_url: &str,
    ) -> ApiResult<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        // Basic authentication unless the provider says it only takes the
        // secret in the body.
        let auth_type = match metadata.token_endpoint_auth_methods_supported() {
            Some(methods)
                if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
            {
                AuthType::RequestBody
            }
            _ => AuthType::BasicAuth,
        };
        let redirect = RedirectUrl::new(callback_url.to_string())
            .map_err(|e| ApiError::internal(format!("callback URL {callback_url:?}: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.to_string()),
            Some(ClientSecret::new(provider.client_secret.to_string())),
        )
        .set_auth_type(auth_type)
        .set_redirect_uri(redirect))
    }

    /// Starts an authorization: the provider's URL with a fresh `state`,
    /// `nonce` and PKCE S256 challenge (502 when the provider is down).
    pub async fn authorize(
        &self,
        provider: &ProviderClient<'_>,
        callback_url: &str,
    ) -> ApiResult<AuthorizeRequest> {
        let metadata = self.metadata(provider.issuer).await?;
        let client = Self::client(provider, metadata, callback_url)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in provider.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(AuthorizeRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the authorization `code` (with the PKCE verifier) and
    /// validates the ID token against `nonce` at time `now`. A provider that
    /// cannot be reached is 502; a provider that refuses the code is
    /// `access_denied`; a token that fails any check is `invalid_id_token`.
    pub async fn exchange(
        &self,
        provider: &ProviderClient<'_>,
        callback_url: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<Identity> {
        let issuer = provider.issuer;
        let metadata = self.metadata(issuer).await?;
        let client = Self::client(provider, metadata.clone(), callback_url)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| unavailable("token endpoint", issuer, e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(refusal) => {
                    tracing::info!(%issuer, error = %refusal.error(), "identity provider refused the code");
                    ApiError::Sso(SsoFailure::AccessDenied)
                }
                other => unavailable("token request", issuer, error_chain(&other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or(ApiError::Sso(SsoFailure::InvalidIdToken))?;
        let nonce = Nonce::new(nonce.to_string());
        let verify = |client: &CoreClient<_, _, _, _, _, _>| {
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS)
                .set_time_fn(move || now);
            id_token
                .claims(&verifier, &nonce)
                .cloned()
                .and_then(|claims| {
                    // The access token must be the one the ID token was issued with.
                    if let Some(expected) = claims.access_token_hash() {
                        let alg = id_token
                            .signing_alg()
                            .map_err(ClaimsVerificationError::SignatureVerification)?;
                        let key = id_token
                            .signing_key(&verifier)
                            .map_err(ClaimsVerificationError::SignatureVerification)?;
                        let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                            .map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
                        if actual != *expected {
                            return Err(ClaimsVerificationError::Other("at_hash mismatch".into()));
                        }
                    }
                    Ok(claims)
                })
        };
        let claims = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys: fetch the set once more.
                let metadata = self.refresh_keys(issuer, metadata).await?;
                verify(&Self::client(provider, metadata, callback_url)?)
            }
            other => other,
        }
        .map_err(|e| {
            tracing::info!(%issuer, error = %e, "ID token refused");
            ApiError::Sso(SsoFailure::InvalidIdToken)
        })?;
        Ok(Identity {
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            email: claims.email().map(|e| e.as_str().to_string()),
            email_verified: claims.email_verified() == Some(true),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
            amr: claims
                .auth_method_refs()
                .map(|amr| amr.iter().map(|m| m.as_str().to_string()).collect())
                .unwrap_or_default(),
        })
    }
}

/// An error with its sources, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_provider_names_no_endpoint_on_this_machine() {
        let url = |s: &str| Url::parse(s).unwrap();
        let remote = url("https://idp.example");
        let local = url("http://127.0.0.1:9000");
        assert!(endpoint_allowed(&remote, &url("https://idp.example/token")));
        assert!(endpoint_allowed(
            &remote,
            &url("https://keys.idp.example/jwks")
        ));
        for inside in [
            "http://127.0.0.1:6379/",
            "https://127.0.0.1/token",
            "https://localhost/token",
            "http://[::1]:5432/",
            "http://idp.example/token",
        ] {
            assert!(!endpoint_allowed(&remote, &url(inside)), "{inside}");
        }
        assert!(endpoint_allowed(
            &local,
            &url("http://127.0.0.1:9000/token")
        ));
        assert!(!endpoint_allowed(&local, &url("http://10.0.0.1/token")));
    }
}
