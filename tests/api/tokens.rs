//! Access tokens: JWKS verification independent of our JWT library, and
//! every forged or misused token refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};

use actix_web::http::Method;

use crate::support::{call_on, TestApp, PASSWORD};

fn parts(token: &str) -> (Value, Value, Vec<u8>, String) {
    let mut it = token.split('.');
    let (h, p, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    let payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (
        header,
        payload,
        URL_SAFE_NO_PAD.decode(s).unwrap(),
        format!("{h}.{p}"),
    )
}

fn encode(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[actix_web::test]
async fn access_token_verifies_with_only_the_jwks() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .ok(200);
    let (header, claims, signature, signed) = parts(&s.token);
    assert_eq!(header["alg"], "EdDSA");
    let key = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = VerifyingKey::from_bytes(&x).unwrap();
    let sig = Signature::from_slice(&signature).unwrap();
    public
        .verify(signed.as_bytes(), &sig)
        .expect("signature verifies with the JWKS key");
    assert_eq!(claims["iss"], "Latchkey");
    assert_eq!(claims["aud"], "latchkey");
    assert_eq!(claims["sub"], s.user_id.as_str());
    assert_eq!(claims["sid"], s.session_id.as_str());
    assert_eq!(claims["acc"], s.account_id.as_str());
    assert_eq!(claims["role"], "administrator");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["aal"], "aal1");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].is_string());
    // After logout the same, still unexpired token is refused.
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .ok(204);
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn forged_and_misused_tokens_are_refused() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (header, claims, signature, _) = parts(&s.token);
    let sig = URL_SAFE_NO_PAD.encode(&signature);
    let with = |h: &Value, c: &Value| format!("{}.{}.{}", encode(h), encode(c), sig);
    let mut forged = Vec::new();
    // alg none, no signature.
    forged.push(format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT"})),
        encode(&claims)
    ));
    // HS256 "signed" with the public key as HMAC secret.
    {
        use hmac::{Hmac, Mac};
        let jwks = app
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        let x = jwks.body["keys"][0]["x"].as_str().unwrap().to_string();
        let h = encode(&json!({"alg": "HS256", "kid": header["kid"]}));
        let input = format!("{h}.{}", encode(&claims));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(x.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        forged.push(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        ));
    }
    // Unknown kid, tampered claims, wrong audience and issuer.
    let mut h = header.clone();
    h["kid"] = json!("unknown-kid");
    forged.push(with(&h, &claims));
    let mut c = claims.clone();
    c["role"] = json!("administrator");
    c["sub"] = json!("someone-else");
    forged.push(with(&header, &c));
    let mut c = claims.clone();
    c["aud"] = json!("other");
    forged.push(with(&header, &c));
    let mut c = claims.clone();
    c["iss"] = json!("Other");
    forged.push(with(&header, &c));
    forged.push(s.token[..s.token.len() - 4].to_string());
    forged.push(s.refresh.clone());
    let mfa = {
        let (_, _, _) = app.enroll(&s.token, None).await;
        app.login_raw("ann@example.com", PASSWORD).await.body["mfa_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    forged.push(mfa);
    for token in forged {
        let r = app
            .get("/api/v1/me", &token)
            .await
            .problem(401, "unauthorized");
        assert!(r.content_type().starts_with("application/problem+json"));
    }
    app.get("/api/v1/me", &s.token).await.ok(200);
}

#[actix_web::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.clock.advance(901);
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
    app.clock.advance(-901 - 120);
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn key_rotation_keeps_old_tokens_valid_and_publishes_both_keys() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let old_kid = app.state.keys.signing_kid();
    let mut conn = app.state.pool.get().unwrap();
    let new_kid =
        latchkey::domain::keys::rotate(&mut conn, &app.config.master_key, app.clock.now_naive())
            .unwrap();
    drop(conn);
    // A node started after the rotation signs with the new key...
    let node_b = app.node();
    assert_eq!(node_b.keys.signing_kid(), new_kid);
    let r = call_on(
        &node_b,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"email": "ann@example.com", "password": PASSWORD})),
    )
    .await
    .ok(200);
    let new_token = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(parts(&new_token).0["kid"], new_kid.as_str());
    // ...a node started before accepts that token (it reloads on an unknown kid)...
    app.get("/api/v1/me", &new_token).await.ok(200);
    // ...and the token signed with the previous key stays valid on both.
    app.get("/api/v1/me", &s.token).await.ok(200);
    call_on(&node_b, Method::GET, "/api/v1/me", Some(&s.token), None)
        .await
        .ok(200);
    let jwks = call_on(&node_b, Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .ok(200);
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    // Once every token of the old key has expired, it is no longer published.
    app.clock.advance(16 * 60 + 1);
    let node_c = app.node();
    let jwks = call_on(&node_c, Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .ok(200);
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str()]);
}
