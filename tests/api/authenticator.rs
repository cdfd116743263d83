//! A software passkey authenticator for the tests (1Password's `passkey`
//! crate: a CTAP2 authenticator behind a WebAuthn client), speaking the
//! JSON a browser would: it takes the server's options as JSON and answers
//! with the credential as JSON.

use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use passkey::types::Passkey;
use serde_json::Value;
use url::Url;

/// The origin of the test app's relying party (`Config::with_database`).
pub const ORIGIN: &str = "http://localhost:8080";

/// A user who is there and verified (PIN, fingerprint), or only present.
struct Person {
    verifies: bool,
}

#[async_trait::async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification: verification && self.verifies,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(self.verifies)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

type Inner =
    Client<Option<Passkey>, Person, RustCryptoBackend, public_suffix::PublicSuffixList, ()>;

/// One authenticator holding (at most) one passkey.
pub struct SoftKey {
    client: Inner,
    origin: Url,
}

impl SoftKey {
    /// An authenticator that verifies its user, at [`ORIGIN`].
    pub fn new() -> SoftKey {
        SoftKey::at(ORIGIN, true)
    }

    /// An authenticator at `origin` whose user is verified or only present.
    pub fn at(origin: &str, verifies: bool) -> SoftKey {
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            None,
            Person { verifies },
            RustCryptoBackend,
        );
        authenticator.set_make_credentials_with_signature_counter(true);
        SoftKey {
            client: Client::new(authenticator).allows_insecure_localhost(true),
            origin: Url::parse(origin).unwrap(),
        }
    }

    /// Answers creation options (`{"publicKey": ...}` as the server sent
    /// them) with a new credential, as JSON.
    pub async fn register(&mut self, options: &Value) -> Value {
        let request: CredentialCreationOptions =
            serde_json::from_value(options.clone()).expect("creation options");
        let created = self
            .client
            .register(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator registers");
        browser_json(serde_json::to_value(created).unwrap())
    }

    /// Answers request options with an assertion, as JSON.
    pub async fn assert(&mut self, options: &Value) -> Value {
        let mut options = options.clone();
        if let Some(object) = options.as_object_mut() {
            object.remove("ceremony_id");
        }
        let request: CredentialRequestOptions =
            serde_json::from_value(options).expect("request options");
        let asserted = self
            .client
            .authenticate(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator asserts");
        browser_json(serde_json::to_value(asserted).unwrap())
    }

    /// The stored passkey (to clone an authenticator, counter and all).
    pub fn passkey(&self) -> Option<Passkey> {
        self.client.authenticator().store().clone()
    }

    /// Puts a passkey (an earlier copy) back in.
    pub fn restore(&mut self, passkey: Passkey) {
        *self.client.authenticator_mut().store_mut() = Some(passkey);
    }
}

/// The credential as a browser's client sends it: binary fields as
/// base64url strings (the `passkey` crate writes byte arrays).
fn browser_json(value: Value) -> Value {
    use base64::Engine;
    match value {
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| i.as_u64().is_some_and(|n| n <= 255)) =>
        {
            let bytes: Vec<u8> = items.iter().map(|i| i.as_u64().unwrap() as u8).collect();
            Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(browser_json).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, browser_json(v))).collect())
        }
        other => other,
    }
}
