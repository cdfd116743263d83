//! Opaque random tokens (refresh, MFA challenge, enrollment, recovery), their
//! storage hashes, and signed access tokens (EdDSA JWTs).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "lkr_";
/// Prefix of MFA challenge tokens (`mfa_token`).
pub const MFA_PREFIX: &str = "lkm_";
/// Prefix of enrollment tokens.
pub const ENROLLMENT_PREFIX: &str = "lke_";
/// Prefix of single sign-on login codes (`login_code`).
pub const SSO_LOGIN_PREFIX: &str = "lks_";
/// Prefix of single sign-on link tokens (`link_token`).
pub const SSO_LINK_PREFIX: &str = "lkl_";
/// Prefix of the tokens in invitation links.
pub const INVITATION_PREFIX: &str = "lki_";
/// Prefix of the tokens in password-reset links.
pub const PASSWORD_RESET_PREFIX: &str = "lkp_";
/// Prefix of the tokens in sign-up verification links.
pub const SIGNUP_PREFIX: &str = "lkv_";
/// Prefix of remembered-device tokens (`device_token`).
pub const DEVICE_PREFIX: &str = "lkd_";

/// A 256-bit random token with a type prefix.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Hex SHA-256: how every bearer secret is stored. The tokens carry 100+
/// bits of entropy, so a fast hash suffices and lookups stay indexed.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Crockford base32: no I, L, O, U, so a token read aloud stays unambiguous.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A recovery token: 25 Crockford base32 characters (125 bits) shown in five
/// groups, `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`.
pub fn recovery_token() -> String {
    let mut bytes = [0u8; 25];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CROCKFORD[(b & 31) as usize] as char)
        .collect();
    chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Canonical form of a typed recovery token: case, spaces and dashes ignored,
/// and the look-alikes O→0, I/L→1. `None` when it cannot be one.
pub fn normalize_recovery_token(input: &str) -> Option<String> {
    let mut out = String::with_capacity(25);
    for ch in input.chars() {
        let c = match ch.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if CROCKFORD.contains(&(c as u8)) && c.is_ascii() => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == 25).then_some(out)
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub acc: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sacc: Option<String>,
    pub role: String,
    pub amr: Vec<String>,
    pub aal: String,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    pub exp: i64,
    pub jti: String,
}

/// An Ed25519 key pair usable for signing.
///
/// The key pair is expanded once, here: `jsonwebtoken::encode` parses its
/// PKCS#8 key and derives the public key again on every call, which
/// doubled the Ed25519 work of each refresh and login. The compact JWS is
/// assembled here (RFC 7515: base64url of the header, of the claims, of
/// the signature over the first two); `jsonwebtoken` still does every
/// verification.
pub struct Signer {
    pub kid: String,
    key: SigningKey,
    /// The base64url of the header, the same for every token of this key.
    header: String,
}

impl Signer {
    pub fn from_secret(kid: String, secret: &[u8; 32]) -> Result<Self, serde_json::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        header.typ = Some("at+jwt".to_string());
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        Ok(Signer {
            kid,
            key: SigningKey::from_bytes(secret),
            header,
        })
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, serde_json::Error> {
        use ed25519_dalek::Signer as _;
        let claims = serde_json::to_vec(claims)?;
        let mut token = String::with_capacity(self.header.len() + claims.len() * 4 / 3 + 92);
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

/// A fresh Ed25519 key: (secret bytes, public key as base64url `x`).
pub fn generate_ed25519() -> ([u8; 32], String) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let public = SigningKey::from_bytes(&secret).verifying_key();
    (secret, URL_SAFE_NO_PAD.encode(public.as_bytes()))
}

/// A public key usable for verification.
pub struct Verifier {
    decoding: DecodingKey,
}

impl Verifier {
    pub fn from_x(x: &str) -> Option<Self> {
        DecodingKey::from_ed_components(x)
            .ok()
            .map(|decoding| Verifier { decoding })
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown key id")]
    UnknownKid(String),
    #[error("invalid signature or claims")]
    Invalid,
    #[error("expired or not yet valid")]
    Expired,
}

/// The `kid` of a token's header; only EdDSA headers are accepted.
pub fn header_kid(token: &str) -> Result<String, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenError::Invalid);
    }
    header.kid.ok_or(TokenError::Malformed)
}

/// Verifies signature (EdDSA only), `aud` and `iss`; `exp`/`nbf` are checked
/// against `now` (the service clock, injectable in tests).
pub fn verify(
    token: &str,
    key: &Verifier,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<AccessClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        .map_err(|_| TokenError::Invalid)?;
    let claims = data.claims;
    if claims.exp <= now || claims.nbf.is_some_and(|nbf| nbf > now) || claims.iat > now + 60 {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> AccessClaims {
        AccessClaims {
            iss: "Latchkey".into(),
            aud: "latchkey".into(),
            sub: "u".into(),
            sid: "s".into(),
            acc: "a".into(),
            sacc: None,
            role: "administrator".into(),
            amr: vec!["pwd".into()],
            aal: "aal1".into(),
            iat: now,
            nbf: None,
            exp: now + 900,
            jti: "j".into(),
        }
    }

    #[test]
    fn sign_gives_the_token_jsonwebtoken_gives() -> Result<(), Box<dyn std::error::Error>> {
        // Ed25519 is deterministic: the same key, header and claims give
        // the same bytes, so the hand-assembled JWS can be compared whole.
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let (secret, _) = generate_ed25519();
        let der = SigningKey::from_bytes(&secret).to_pkcs8_der()?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        header.typ = Some("at+jwt".into());
        let expected = jsonwebtoken::encode(
            &header,
            &claims(1000),
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )?;
        assert_eq!(
            Signer::from_secret("k1".into(), &secret)?.sign(&claims(1000))?,
            expected
        );
        Ok(())
    }

    #[test]
    fn sign_and_verify() {
        let (secret, x) = generate_ed25519();
        let signer = Signer::from_secret("k1".into(), &secret).unwrap();
        let verifier = Verifier::from_x(&x).unwrap();
        let token = signer.sign(&claims(1000)).unwrap();
        assert_eq!(header_kid(&token).unwrap(), "k1");
        assert_eq!(
            verify(&token, &verifier, "Latchkey", "latchkey", 1001).unwrap(),
            claims(1000)
        );
        assert_eq!(
            verify(&token, &verifier, "Latchkey", "other", 1001),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(&token, &verifier, "Other", "latchkey", 1001),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(&token, &verifier, "Latchkey", "latchkey", 1900),
            Err(TokenError::Expired)
        );
        let (_, other_x) = generate_ed25519();
        let other = Verifier::from_x(&other_x).unwrap();
        assert_eq!(
            verify(&token, &other, "Latchkey", "latchkey", 1001),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn recovery_tokens_normalize() {
        let token = recovery_token();
        assert_eq!(token.len(), 29);
        assert_eq!(token.matches('-').count(), 4);
        let canonical = normalize_recovery_token(&token).unwrap();
        assert_eq!(
            normalize_recovery_token(&token.to_lowercase()),
            Some(canonical.clone())
        );
        assert_eq!(
            normalize_recovery_token(&token.replace('-', " ")),
            Some(canonical.clone())
        );
        assert_eq!(normalize_recovery_token(&canonical), Some(canonical));
        assert_eq!(normalize_recovery_token("123456"), None);
        assert_eq!(
            normalize_recovery_token("ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ"),
            None
        );
    }

    #[test]
    fn sha256_hex_matches_known_value() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
