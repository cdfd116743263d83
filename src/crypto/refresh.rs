//! Refresh tokens: `lkr_{session_id}.{generation}.{secret}`.
//!
//! A session's refresh tokens form a chain; each refresh spends the current
//! one and hands out the next generation. The session row holds only the
//! SHA-256 of its current token (see `store::refresh_tokens`), so a refresh
//! updates that row in place instead of inserting a row per token.
//!
//! The secret is 16 random bytes followed by a 16-byte tag: HMAC-SHA256,
//! under a key derived from the master key, of the session id, the
//! generation and the random bytes. The tag is not what makes a token
//! valid (only the stored hash does); it is what tells an earlier token of
//! the chain, one this server really issued, from a forgery naming a
//! session id someone has seen (in an access token's `sid`, say). Presenting
//! the first again is a theft signal and revokes the session; the second is
//! refused and changes nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;
use rand::RngCore;

use super::seal::MasterKey;
use super::tokens::REFRESH_PREFIX;

const RANDOM_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// The key that tags refresh tokens.
pub struct RefreshKey([u8; 32]);

impl RefreshKey {
    pub fn new(master: &MasterKey) -> Self {
        RefreshKey(master.derive("refresh-token-tag/v1"))
    }

    fn tag(&self, session_id: &str, generation: i64, random: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = super::hmac_sha256(&self.0);
        mac.update(session_id.as_bytes());
        mac.update(b".");
        mac.update(generation.to_string().as_bytes());
        mac.update(b".");
        mac.update(random);
        mac
    }

    /// A new token for `generation` of the chain of `session_id`.
    pub fn issue(&self, session_id: &str, generation: i64) -> String {
        let mut secret = [0u8; RANDOM_LEN + TAG_LEN];
        rand::rngs::OsRng.fill_bytes(&mut secret[..RANDOM_LEN]);
        let tag = self
            .tag(session_id, generation, &secret[..RANDOM_LEN])
            .finalize()
            .into_bytes();
        secret[RANDOM_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        format!(
            "{REFRESH_PREFIX}{session_id}.{generation}.{}",
            URL_SAFE_NO_PAD.encode(secret)
        )
    }

    /// Whether this server issued `token` (the tag, compared in constant
    /// time). Says nothing of whether it is still the current one.
    pub fn issued(&self, token: &Chained<'_>) -> bool {
        let (random, tag) = token.secret.split_at(RANDOM_LEN);
        self.tag(token.session_id, token.generation, random)
            .verify_truncated_left(tag)
            .is_ok()
    }
}

/// A refresh token taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Chained<'a> {
    pub session_id: &'a str,
    pub generation: i64,
    secret: [u8; RANDOM_LEN + TAG_LEN],
}

/// What a presented refresh token is.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// A token of a session's chain.
    Chained(Chained<'a>),
    /// A token from before chains (`lkr_` and 43 characters of base64url:
    /// no dots), found by its hash in the `refresh_tokens` table.
    Legacy,
    /// Anything else.
    Malformed,
}

/// Takes a presented refresh token apart (no key needed, nothing checked
/// but its shape).
pub fn parse(token: &str) -> Presented<'_> {
    let Some(rest) = token.strip_prefix(REFRESH_PREFIX) else {
        return Presented::Malformed;
    };
    if !rest.contains('.') {
        return if rest.len() == 43 && URL_SAFE_NO_PAD.decode(rest).is_ok() {
            Presented::Legacy
        } else {
            Presented::Malformed
        };
    }
    let mut parts = rest.splitn(3, '.');
    let (Some(session_id), Some(generation), Some(secret)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Presented::Malformed;
    };
    let id_ok = (1..=64).contains(&session_id.len())
        && session_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    // Digits only, no sign, no leading zero: one spelling per generation,
    // so the hash of the stored token is the only one that matches.
    let generation_ok = (1..=18).contains(&generation.len())
        && generation.bytes().all(|b| b.is_ascii_digit())
        && (generation == "0" || !generation.starts_with('0'));
    let Ok(generation) = generation.parse::<i64>() else {
        return Presented::Malformed;
    };
    let mut bytes = [0u8; RANDOM_LEN + TAG_LEN];
    let secret_ok = secret.len() == 43
        && matches!(URL_SAFE_NO_PAD.decode_slice(secret, &mut bytes), Ok(n) if n == bytes.len());
    if !(id_ok && generation_ok && secret_ok) {
        return Presented::Malformed;
    }
    Presented::Chained(Chained {
        session_id,
        generation,
        secret: bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> RefreshKey {
        RefreshKey::new(&MasterKey::from_bytes([byte; 32]))
    }

    fn chained(token: &str) -> Chained<'_> {
        match parse(token) {
            Presented::Chained(c) => c,
            other => panic!("{token}: {other:?}"),
        }
    }

    #[test]
    fn an_issued_token_names_its_session_and_generation_and_carries_our_tag() {
        let sid = "0f8b2a3c-1d4e-4f5a-9b6c-7d8e9f0a1b2c";
        let token = key(1).issue(sid, 7);
        assert!(token.starts_with(&format!("lkr_{sid}.7.")), "{token}");
        assert!(token.len() < 200, "within the route's length limit");
        let c = chained(&token);
        assert_eq!((c.session_id, c.generation), (sid, 7));
        assert!(key(1).issued(&c));
        // Another master key, another generation or another session: not ours.
        assert!(!key(2).issued(&c));
        let moved = token.replacen(".7.", ".8.", 1);
        assert!(!key(1).issued(&chained(&moved)));
        let other = token.replacen("0f8b", "1f8b", 1);
        assert!(!key(1).issued(&chained(&other)));
        // Two tokens of one generation differ (random part).
        assert_ne!(token, key(1).issue(sid, 7));
    }

    #[test]
    fn a_forged_secret_is_not_ours() {
        let sid = "s-1";
        let token = key(1).issue(sid, 0);
        let forged = format!("lkr_{sid}.0.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert!(key(1).issued(&chained(&token)));
        assert!(!key(1).issued(&chained(&forged)));
    }

    #[test]
    fn shapes() {
        let legacy = format!("lkr_{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(parse(&legacy), Presented::Legacy);
        let secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
        for bad in [
            String::new(),
            "lkr_".into(),
            "lkr_unknown".into(),
            format!("lkm_s.1.{secret}"),
            format!("lkr_.1.{secret}"),
            format!("lkr_s..{secret}"),
            format!("lkr_s.01.{secret}"),
            format!("lkr_s.-1.{secret}"),
            format!("lkr_s.+1.{secret}"),
            format!("lkr_s.1.{secret}x"),
            format!("lkr_s.1.{}", &secret[1..]),
            format!("lkr_s.1.{secret}.x"),
            format!("lkr_s'x.1.{secret}"),
            format!("lkr_s.99999999999999999999.{secret}"),
        ] {
            assert_eq!(parse(&bad), Presented::Malformed, "{bad}");
        }
        assert_eq!(chained(&format!("lkr_s.0.{secret}")).generation, 0);
    }
}
