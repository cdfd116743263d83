//! Secrets at rest: AES-256-GCM under the master key. A sealed value is
//! `base64(nonce || ciphertext+tag)`; the associated data binds it to its
//! purpose and row, so a sealed secret copied to another row fails to open.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The 32-byte key that encrypts secrets at rest.
#[derive(Clone)]
pub struct MasterKey(Key<Aes256Gcm>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("master key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("sealed value is malformed or was sealed with another key")]
    Open,
    #[error("encryption failed")]
    Seal,
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(*Key::<Aes256Gcm>::from_slice(&bytes))
    }

    /// Parses base64 (standard, padded or not) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| SealError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// A key of its own for `purpose` (HMAC-SHA256 of the purpose under the
    /// master key), so that no two uses share key material.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = super::hmac_sha256(&self.0.into());
        mac.update(b"latchkey/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A fresh random key.
    pub fn generate() -> (Self, String) {
        let key = Aes256Gcm::generate_key(OsRng);
        let text = STANDARD.encode(key);
        (MasterKey(key), text)
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<String, SealError> {
        let cipher = Aes256Gcm::new(&self.0);
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, SealError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SealError::Open)?;
        if raw.len() < 12 + 16 {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = raw.split_at(12);
        Aes256Gcm::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() -> Result<(), SealError> {
        let (key, text) = MasterKey::generate();
        let sealed = key.seal(b"secret", "totp:1")?;
        assert_ne!(sealed, key.seal(b"secret", "totp:1")?, "nonces differ");
        assert_eq!(key.open(&sealed, "totp:1")?, b"secret");
        assert_eq!(key.open(&sealed, "totp:2"), Err(SealError::Open));
        let same = MasterKey::from_base64(&text)?;
        assert_eq!(same.open(&sealed, "totp:1")?, b"secret");
        let (other, _) = MasterKey::generate();
        assert_eq!(other.open(&sealed, "totp:1"), Err(SealError::Open));
        assert_eq!(key.open("bm90IHNlYWxlZA==", "x"), Err(SealError::Open));
        Ok(())
    }

    #[test]
    fn rejects_bad_keys() {
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            MasterKey::from_base64("***").unwrap_err(),
            SealError::BadKey
        );
    }
}
