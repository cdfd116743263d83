//! Pure cryptographic functions: no I/O, no clock, no database. RFC test
//! vectors live next to the code they check.

pub mod password;
pub mod refresh;
pub mod seal;
pub mod tokens;
pub mod totp;

/// HMAC-SHA256 keyed by a 32-byte key. A key shorter than SHA-256's
/// 64-byte block is zero-padded by HMAC's own definition (RFC 2104), so
/// padding it here is the same MAC without the fallible constructor.
pub(crate) fn hmac_sha256(key: &[u8; 32]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::digest::KeyInit;
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    hmac::Hmac::<sha2::Sha256>::new(&block.into())
}
