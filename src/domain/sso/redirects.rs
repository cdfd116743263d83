//! Where a sign-in may return to: the provider's `allowed_redirect_uris`.
//! Web apps register `https` URIs (`http` on localhost in development);
//! native apps (RFC 8252) a private-use scheme in reverse-DNS form
//! (`com.example.app:/oauth2redirect`) or a loopback IP address registered
//! without a port, where any port matches (the app listens on a free one;
//! a loopback URI registered with its port, like a development server's,
//! is a web URI and matched exactly). A native app's redirect can
//! be intercepted by another app, so it must bind the login code to its own
//! PKCE pair: the challenge on `authorize`, the verifier on
//! `POST /sessions/sso`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::url::Url;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::providers::check_url;
use crate::error::{ApiError, ApiResult};

/// Most redirect URIs one provider may list.
const MAX_URIS: usize = 20;

/// A reverse-DNS private-use scheme (RFC 8252 §7.1): it has a dot, and it
/// is no web scheme.
fn private_use(url: &Url) -> bool {
    let scheme = url.scheme();
    scheme.contains('.') && !matches!(scheme, "http" | "https")
}

/// A loopback IP literal over http (RFC 8252 §7.3).
fn loopback_ip(url: &Url) -> bool {
    url.scheme() == "http" && matches!(url.host_str(), Some("127.0.0.1" | "[::1]"))
}

/// One allowed redirect URI as stored: a web URI (see `check_url`), or a
/// native app's private-use scheme URI without fragment or credentials.
fn check_one(raw: &str) -> ApiResult<String> {
    const FIELD: &str = "allowed_redirect_uris";
    let text = raw.trim();
    match Url::parse(text) {
        Ok(url) if private_use(&url) => {
            if text.len() > 2048 || text.chars().any(char::is_control) {
                return Err(ApiError::invalid(FIELD, "at most 2048 bytes"));
            }
            if url.fragment().is_some() || url.username() != "" || url.password().is_some() {
                return Err(ApiError::invalid(
                    FIELD,
                    "must not have a fragment or credentials",
                ));
            }
            Ok(text.to_string())
        }
        _ => check_url(FIELD, text, true).map_err(|_| {
            ApiError::invalid(
                FIELD,
                "must use https (http only on localhost or a loopback IP), or a native app's private-use scheme (com.example.app:/path)",
            )
        }),
    }
}

/// The allowed redirect URIs as stored: 1 to 20, each once, one per line.
pub(super) fn check_allowed(raw: &[String]) -> ApiResult<String> {
    if raw.is_empty() || raw.len() > MAX_URIS {
        return Err(ApiError::invalid(
            "allowed_redirect_uris",
            "list 1 to 20 URIs",
        ));
    }
    let mut uris: Vec<String> = Vec::with_capacity(raw.len());
    for uri in raw {
        let uri = check_one(uri)?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris.join("\n"))
}

/// A native app's loopback URI: a loopback IP registered without a port.
fn native_loopback(url: &Url) -> bool {
    loopback_ip(url) && url.port().is_none()
}

/// Whether `requested` is `allowed`: the same string, or for a native
/// app's loopback URI the same but for the port.
pub(super) fn matches(allowed: &str, requested: &str) -> bool {
    if allowed == requested {
        return true;
    }
    match (Url::parse(allowed), Url::parse(requested)) {
        (Ok(mut allowed), Ok(mut requested))
            if native_loopback(&allowed) && loopback_ip(&requested) =>
        {
            let ported = allowed.set_port(None).is_ok() && requested.set_port(None).is_ok();
            ported && allowed == requested
        }
        _ => false,
    }
}

/// Whether an allowed redirect URI belongs to a native app (which must
/// send its own PKCE challenge).
pub(super) fn is_native(allowed: &str) -> bool {
    Url::parse(allowed).is_ok_and(|url| private_use(&url) || native_loopback(&url))
}

/// A PKCE `code_challenge` of the client (S256 only): 43 to 128 base64url
/// characters (RFC 7636 §4.2).
pub(super) fn check_challenge(challenge: &str, method: Option<&str>) -> ApiResult<String> {
    if method != Some("S256") {
        return Err(ApiError::invalid("code_challenge_method", "must be S256"));
    }
    let valid = (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(ApiError::invalid(
            "code_challenge",
            "must be 43 to 128 base64url characters (S256 of the code verifier)",
        ));
    }
    Ok(challenge.to_string())
}

/// Whether `verifier` is the one `challenge` was made from (S256,
/// compared in constant time).
pub(super) fn verifier_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_web_redirect_uris() {
        let stored = check_allowed(&[
            "https://app.example/cb".into(),
            "com.example.app:/oauth2redirect".into(),
            "http://127.0.0.1/cb".into(),
            "http://[::1]/cb".into(),
        ])
        .unwrap();
        assert_eq!(stored.lines().count(), 4);
        for bad in [
            "http://app.example/cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "com.example.app:/cb#frag",
            "data:text/html,x",
        ] {
            assert!(check_allowed(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:53124/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:8080/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53124/other"
        ));
        assert!(!matches(
            "https://app.example/cb",
            "https://app.example:444/cb"
        ));
        assert!(!matches("com.example.app:/cb", "com.example.app:/cb2"));
        assert!(!matches(
            "http://127.0.0.1:5173/cb",
            "http://127.0.0.1:5174/cb"
        ));
        assert!(is_native("com.example.app:/oauth2redirect"));
        assert!(is_native("http://127.0.0.1/cb"));
        assert!(is_native("http://[::1]/cb"));
        assert!(
            !is_native("http://127.0.0.1:5173/cb"),
            "a development server's"
        );
        assert!(!is_native("https://app.example/cb"));
        assert!(!is_native("http://localhost/cb"));
    }

    #[test]
    fn pkce_s256_challenges_and_verifiers() {
        // A verifier and its S256 challenge (computed independently).
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWI2XJcM";
        let challenge = "_s3UeMjgKZf89VnMAezJaZQjB_Z9oJAoRRxytQPktDg";
        assert_eq!(check_challenge(challenge, Some("S256")).unwrap(), challenge);
        assert!(check_challenge(challenge, Some("plain")).is_err());
        assert!(check_challenge("short", Some("S256")).is_err());
        assert!(verifier_matches(challenge, verifier));
        assert!(!verifier_matches(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWI2XJcN"
        ));
        assert!(!verifier_matches(challenge, ""));
    }
}
