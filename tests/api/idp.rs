//! A scripted OpenID provider for the ID-token tests: a real HTTP server
//! (discovery, key set, token endpoint) on a loopback port, whose ID tokens
//! the test signs itself, right or wrong, with Ed25519 keys it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "latchkey-test";
pub const CLIENT_SECRET: &str = "idp-client-secret-for-tests";

/// A signing key of the provider.
#[derive(Clone)]
pub struct IdpKey {
    pub kid: String,
    key: SigningKey,
}

impl IdpKey {
    pub fn new(kid: &str, seed: u8) -> IdpKey {
        IdpKey {
            kid: kid.into(),
            key: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
        })
    }

    /// `claims` signed with this key (EdDSA), under `kid`.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let der = self.key.to_pkcs8_der().unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
    }
}

/// A token with `alg: none` and no signature.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// An HS256 token keyed with the client secret (what a confused verifier
/// would accept).
pub fn hmac_with_client_secret(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[derive(Default)]
pub struct Script {
    /// `issuer` the discovery document claims (default: the real one).
    pub claimed_issuer: Option<String>,
    pub jwks: Vec<Value>,
    /// What the token endpoint answers next: the ID token, or an error.
    pub id_token: Option<String>,
    pub token_error: Option<&'static str>,
    /// Form bodies and `Authorization` headers the token endpoint got.
    pub token_requests: Vec<(HashMap<String, String>, Option<String>)>,
    pub jwks_fetches: usize,
    /// Endpoints the discovery document names instead of its own.
    pub endpoints: HashMap<&'static str, String>,
}

pub struct MockIdp {
    pub issuer: String,
    pub script: Arc<Mutex<Script>>,
    pub key: IdpKey,
    handle: actix_web::dev::ServerHandle,
}

async fn discovery(base: web::Data<String>, script: web::Data<Arc<Mutex<Script>>>) -> HttpResponse {
    let base = base.as_str();
    let script = script.lock().unwrap();
    let issuer = script
        .claimed_issuer
        .clone()
        .unwrap_or_else(|| base.to_string());
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    });
    for (name, url) in &script.endpoints {
        document[*name] = json!(url);
    }
    HttpResponse::Ok().json(document)
}

async fn jwks(script: web::Data<Arc<Mutex<Script>>>) -> HttpResponse {
    let mut script = script.lock().unwrap();
    script.jwks_fetches += 1;
    HttpResponse::Ok().json(json!({"keys": script.jwks}))
}

async fn token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    script: web::Data<Arc<Mutex<Script>>>,
) -> HttpResponse {
    let mut script = script.lock().unwrap();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    script.token_requests.push((form.into_inner(), auth));
    if let Some(error) = script.token_error {
        return HttpResponse::BadRequest().json(json!({"error": error}));
    }
    match &script.id_token {
        Some(id_token) => HttpResponse::Ok().json(json!({
            "access_token": "idp-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        })),
        None => HttpResponse::BadRequest().json(json!({"error": "invalid_grant"})),
    }
}

impl MockIdp {
    /// Starts the provider on a free loopback port, in a thread of its own.
    pub fn start() -> MockIdp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = IdpKey::new("k1", 7);
        let script = Arc::new(Mutex::new(Script {
            jwks: vec![key.jwk()],
            ..Script::default()
        }));
        let (tx, rx) = std::sync::mpsc::channel();
        let (base, shared) = (issuer.clone(), script.clone());
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(base.clone()))
                        .app_data(web::Data::new(shared.clone()))
                        .route(
                            "/.well-known/openid-configuration",
                            web::get().to(discovery),
                        )
                        .route("/jwks", web::get().to(jwks))
                        .route("/token", web::post().to(token))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            })
        });
        MockIdp {
            issuer,
            script,
            key,
            handle: rx.recv().unwrap(),
        }
    }

    /// Claims of a valid ID token for `sub` with `nonce`, at `now`.
    pub fn claims(&self, sub: &str, email: &str, nonce: &str, now: i64) -> Value {
        json!({
            "iss": self.issuer, "aud": CLIENT_ID, "sub": sub, "nonce": nonce,
            "iat": now, "exp": now + 300, "auth_time": now,
            "email": email, "email_verified": true, "name": "Idp User",
        })
    }

    /// The next token response carries `id_token`.
    pub fn answer(&self, id_token: String) {
        self.script.lock().unwrap().id_token = Some(id_token);
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(handle.stop(false));
        });
    }
}
