//! Input rules shared by every endpoint: emails, passwords, names.

use crate::crypto::password;
use crate::error::{ApiError, FieldError};

pub const MAX_EMAIL: usize = 254;
pub const MAX_NAME: usize = 200;

/// Collects field errors so one 422 can name them all.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn email(&mut self, field: &str, raw: &str) -> String {
        match normalize_email(raw) {
            Ok(email) => email,
            Err(message) => {
                self.add(field, message);
                String::new()
            }
        }
    }

    pub fn password(&mut self, field: &str, raw: &str) {
        if let Err(message) = check_password(raw) {
            self.add(field, message);
        }
    }

    pub fn name(&mut self, field: &str, raw: &str) -> String {
        match check_name(raw) {
            Ok(name) => name,
            Err(message) => {
                self.add(field, message);
                String::new()
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// Trimmed, lower-cased, one `@` with text on both sides, no spaces or
/// control characters, at most 254 bytes.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("is required");
    }
    if email.len() > MAX_EMAIL {
        return Err("must be at most 254 bytes");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters");
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(email)
        }
        _ => Err("is not a valid email address"),
    }
}

pub fn check_password(raw: &str) -> Result<(), &'static str> {
    if raw.len() < password::MIN_LEN {
        Err("must be at least 12 bytes")
    } else if raw.len() > password::MAX_LEN {
        Err("must be at most 1024 bytes")
    } else if raw.contains('\0') {
        Err("must not contain NUL characters")
    } else {
        Ok(())
    }
}

/// A display or organization name: trimmed, 1..=200 characters, no control characters.
/// Invisible format characters a name could use to disguise itself in mail
/// or in a list (bidirectional overrides, zero-width characters, line and
/// paragraph separators).
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

pub fn check_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        Err("is required")
    } else if name.chars().count() > MAX_NAME {
        Err("must be at most 200 characters")
    } else if name.chars().any(|c| c.is_control() || is_format(c)) {
        Err("must not contain control or direction-changing characters")
    } else {
        Ok(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email("  Ann@Example.COM "),
            Ok("ann@example.com".into())
        );
        for bad in [
            "", "ann", "@x", "ann@", "a b@x", "a@b@c", "a@.x", "a\u{0}@x",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@x.io", "a".repeat(260))).is_err());
    }

    #[test]
    fn passwords_and_names() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(12)).is_ok());
        assert!(check_password(&"x".repeat(1025)).is_err());
        assert_eq!(check_name("  Acme "), Ok("Acme".into()));
        assert!(check_name(" ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"é".repeat(201)).is_err());
    }
}
