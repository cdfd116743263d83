//! TOTP maths (RFC 6238 over RFC 4226: SHA1, 6 digits, 30 s steps), the Key
//! URI for authenticator apps and its QR code. Which steps were already used
//! is not decided here: that is the credential's `last_used_step` column.

use base64::Engine;
use image::{ImageEncoder, Luma};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Steps accepted either side of the current one (clock skew).
pub const SKEW_STEPS: i64 = 1;
/// Secret length: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// A fresh secret from the OS random number generator.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// Unpadded RFC 4648 base32, as authenticator apps expect for manual entry.
pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The time step that contains unix time `unix_seconds`.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

fn totp(secret: &[u8], digits: usize, step_seconds: u64) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, digits, 0, step_seconds, secret.to_vec())
}

/// The code of time step `step`.
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    let t = u64::try_from(step.max(0)).unwrap_or(0) * STEP_SECONDS as u64;
    totp(secret, DIGITS, STEP_SECONDS as u64).generate(t)
}

/// RFC 4226 HOTP value of `counter` with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: usize) -> String {
    // A TOTP whose step is one second turns unix time into the HOTP counter.
    totp(secret, digits, 1).generate(counter)
}

/// A code as typed ("123456", "123 456", "123-456") without its spaces and
/// dashes, when what remains is six digits; `None` otherwise (a recovery
/// token, or nothing a TOTP code could be).
pub fn compact_code(input: &str) -> Option<String> {
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit())).then_some(compact)
}

/// The step among `now_step - 1 ..= now_step + 1` whose code equals `code`,
/// comparing every candidate in constant time. The greatest matching step
/// wins, so consuming it also retires the others.
pub fn matching_step(secret: &[u8], code: &str, now_step: i64) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut found = None;
    for step in (now_step - SKEW_STEPS)..=(now_step + SKEW_STEPS) {
        let candidate = code_for_step(secret, step);
        if bool::from(candidate.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// Characters escaped in the label and issuer: everything but unreserved.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Key URI Format: `otpauth://totp/ISSUER:ACCOUNT?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let issuer_enc = utf8_percent_encode(issuer, URI_COMPONENT).to_string();
    let account_enc = utf8_percent_encode(account, URI_COMPONENT).to_string();
    format!(
        "otpauth://totp/{issuer_enc}:{account_enc}?secret={secret_b32}&issuer={issuer_enc}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )
}

fn qr(data: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()
}

/// The QR code of `data` as a `data:image/png;base64,...` URI; `None` when
/// `data` is too long for a QR code.
pub fn qr_png_data_uri(data: &str) -> Option<String> {
    let image = qr(data)?
        .render::<Luma<u8>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .ok()?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(png);
    Some(format!("data:image/png;base64,{encoded}"))
}

/// The QR code of `data` as SVG markup; `None` when `data` is too long.
pub fn qr_svg(data: &str) -> Option<String> {
    let markup = qr(data)?
        .render()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    Some(markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_are_taken_with_spaces_and_dashes() {
        for typed in ["123456", "123 456", "123-456", " 12-34 56 "] {
            assert_eq!(compact_code(typed).as_deref(), Some("123456"), "{typed:?}");
        }
        for other in ["12345", "1234567", "12a456", "ABCD-EFGH-IJKL", ""] {
            assert_eq!(compact_code(other), None, "{other:?}");
        }
    }

    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp(RFC_SECRET, counter as u64, 6),
                *want,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        // Published 8-digit values; the 6-digit code is their last six digits.
        let vectors: [(u64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (t, want) in vectors {
            assert_eq!(totp(RFC_SECRET, 8, 30).generate(t), want, "t={t}");
            assert_eq!(
                code_for_step(RFC_SECRET, step_at(t as i64)),
                want[2..],
                "t={t}"
            );
        }
    }

    #[test]
    fn skew_window_is_one_step() {
        let now = step_at(1_700_000_000);
        for delta in -1..=1 {
            let code = code_for_step(RFC_SECRET, now + delta);
            assert_eq!(matching_step(RFC_SECRET, &code, now), Some(now + delta));
        }
        for delta in [-3, -2, 2, 3] {
            let code = code_for_step(RFC_SECRET, now + delta);
            if (-1..=1).any(|d| code_for_step(RFC_SECRET, now + d) == code) {
                continue; // a 1-in-10^6 collision, not a window error
            }
            assert_eq!(matching_step(RFC_SECRET, &code, now), None, "delta {delta}");
        }
    }

    #[test]
    fn malformed_codes_never_match() {
        for code in ["", "12345", "1234567", "12345a", "１２３４５６", " 123456"] {
            assert_eq!(matching_step(RFC_SECRET, code, 1), None, "{code:?}");
        }
    }

    #[test]
    fn otpauth_uri_follows_key_uri_format() {
        let uri = otpauth_uri("Acme Corp", "ann+mfa@example.com", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Corp:ann%2Bmfa%40example.com?secret=JBSWY3DPEHPK3PXP\
             &issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn qr_codes_render_and_refuse_oversized_data() {
        let uri = otpauth_uri("Latchkey", "ann@example.com", "JBSWY3DPEHPK3PXP");
        assert!(qr_png_data_uri(&uri)
            .unwrap()
            .starts_with("data:image/png;base64,"));
        assert!(qr_svg(&uri).unwrap().contains("<svg"));
        assert_eq!(qr_png_data_uri(&"x".repeat(5000)), None);
        assert_eq!(qr_svg(&"x".repeat(5000)), None);
    }

    #[test]
    fn base32_secret_is_unpadded_and_160_bits() {
        let secret = generate_secret();
        assert_eq!(secret.len(), 20);
        let b32 = secret_base32(&secret);
        assert_eq!(b32.len(), 32);
        assert!(!b32.contains('='));
        assert_ne!(generate_secret(), secret);
    }
}
