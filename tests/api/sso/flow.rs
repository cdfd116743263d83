//! The authorization flow: PKCE, single use, forged ID tokens refused,
//! key rotation, redirect URIs, a provider that is down, changes of the
//! provider, two nodes.

use std::collections::HashMap;

use actix_web::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::idp::{self, IdpKey, MockIdp, CLIENT_ID};

#[actix_web::test]
async fn the_flow_uses_pkce_s256_and_basic_auth_and_signs_in_once() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;

    let q = authorize(&app, &provider).await;
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["redirect_uri"],
        "http://127.0.0.1:8080/api/v1/sso/callback"
    );
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert!(q["state"].len() >= 16 && q["nonce"].len() >= 16);
    idp.answer(idp.key.sign(
        "k1",
        &idp.claims("sub-ann", "ann@corp.example", &q["nonce"], now(&app)),
    ));
    let back = callback(&app, &q["state"]).await;
    let code = back.get("login_code").expect("a login code").clone();
    {
        let script = idp.script.lock().unwrap();
        let (form, auth) = script.token_requests.last().unwrap();
        let verifier = &form["code_verifier"];
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, q["code_challenge"], "PKCE S256");
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "idp-code");
        assert!(auth.as_deref().unwrap().starts_with("Basic "));
    }
    // The state is spent: a replayed callback goes back with flow_expired,
    // and never reaches the provider.
    let requests = idp.script.lock().unwrap().token_requests.len();
    let replay = callback(&app, &q["state"]).await;
    assert_eq!(replay["error"], "flow_expired");
    assert_eq!(idp.script.lock().unwrap().token_requests.len(), requests);
    // An unknown state has nowhere to go back to.
    app.call(
        Method::GET,
        "/api/v1/sso/callback?code=x&state=forged",
        None,
        None,
    )
    .await
    .problem(400, "bad_request");

    // The login code signs in once (Ann proves her password to link).
    let r = exchange_linking(&app, &code).await.ok(200);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let s = Session::from_body(&r.body);
    let (amr, aal) = assurance(&app, &s.token).await;
    assert_eq!((amr, aal.as_str()), (json!(["sso"]), "aal1"));
    exchange(&app, &code)
        .await
        .problem(401, "invalid_credentials");
    exchange(&app, "lks_forged")
        .await
        .problem(401, "invalid_credentials");

    // A login code lives 60 seconds; a flow 10 minutes.
    let back = round(&app, &idp, &provider, |nonce| {
        idp.key.sign(
            "k1",
            &idp.claims("sub-ann", "ann@corp.example", nonce, now(&app)),
        )
    })
    .await;
    app.clock.advance(61);
    exchange(&app, &back["login_code"])
        .await
        .problem(401, "invalid_credentials");
    let q = authorize(&app, &provider).await;
    app.clock.advance(601);
    idp.answer(idp.key.sign(
        "k1",
        &idp.claims("sub-ann", "ann@corp.example", &q["nonce"], now(&app)),
    ));
    assert_eq!(callback(&app, &q["state"]).await["error"], "flow_expired");
    let audit = app
        .count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_succeeded'");
    assert_eq!(audit, 2);
}

#[actix_web::test]
async fn forged_and_stale_id_tokens_are_refused() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let other_key = IdpKey::new("k1", 9);
    type Forge = Box<dyn Fn(&MockIdp, &str, i64) -> String>;
    let claims = |idp: &MockIdp, nonce: &str, now: i64| {
        idp.claims("sub-ann", "ann@corp.example", nonce, now)
    };
    let cases: Vec<(&str, Forge)> = vec![
        (
            "wrong issuer",
            Box::new(move |idp, n, t| {
                let mut c = claims(idp, n, t);
                c["iss"] = json!("http://127.0.0.1:1");
                idp.key.sign("k1", &c)
            }),
        ),
        (
            "wrong audience",
            Box::new(move |idp, n, t| {
                let mut c = claims(idp, n, t);
                c["aud"] = json!("someone-else");
                idp.key.sign("k1", &c)
            }),
        ),
        (
            "bad signature",
            Box::new(move |idp, n, t| other_key.sign("k1", &claims(idp, n, t))),
        ),
        (
            "alg none",
            Box::new(move |idp, n, t| idp::unsigned(&claims(idp, n, t))),
        ),
        (
            "HS256 keyed with the client secret",
            Box::new(move |idp, n, t| idp::hmac_with_client_secret(&claims(idp, n, t))),
        ),
        (
            "expired",
            Box::new(move |idp, n, t| {
                let mut c = claims(idp, n, t - 3600);
                c["exp"] = json!(t - 600);
                idp.key.sign("k1", &c)
            }),
        ),
        (
            "wrong nonce",
            Box::new(move |idp, _, t| idp.key.sign("k1", &claims(idp, "another-nonce", t))),
        ),
        (
            "no nonce",
            Box::new(move |idp, n, t| {
                let mut c = claims(idp, n, t);
                c.as_object_mut().unwrap().remove("nonce");
                idp.key.sign("k1", &c)
            }),
        ),
    ];
    for (name, forge) in &cases {
        let back = round(&app, &idp, &provider, |nonce| forge(&idp, nonce, now(&app))).await;
        assert_eq!(
            back.get("error").map(String::as_str),
            Some("invalid_id_token"),
            "{name}: {back:?}"
        );
        assert!(!back.contains_key("login_code"), "{name}");
    }
    let failed = app.count(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed' AND details LIKE '%invalid_id_token%'",
    );
    assert_eq!(failed, cases.len() as i64);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    // A token response that is not even a JWT: the provider is broken.
    let back = round(&app, &idp, &provider, |_| "not.a.jwt".to_string()).await;
    assert_eq!(back["error"], "identity_provider_unavailable");
    // The provider refusing the code, or returning with an error.
    idp.script.lock().unwrap().token_error = Some("invalid_grant");
    let q = authorize(&app, &provider).await;
    assert_eq!(callback(&app, &q["state"]).await["error"], "access_denied");
    idp.script.lock().unwrap().token_error = None;
    let q = authorize(&app, &provider).await;
    let path = format!(
        "/api/v1/sso/callback?error=access_denied&state={}",
        percent(&q["state"])
    );
    let r = app.call(Method::GET, &path, None, None).await;
    assert_eq!(location_query(&r).1["error"], "access_denied");
    // A response naming another issuer (mix-up) is refused before any
    // code is exchanged.
    let q = authorize(&app, &provider).await;
    let path = format!(
        "/api/v1/sso/callback?code=c&iss={}&state={}",
        percent("https://evil.example"),
        percent(&q["state"])
    );
    let r = app.call(Method::GET, &path, None, None).await;
    assert_eq!(location_query(&r).1["error"], "invalid_id_token");
    // And the right token still works.
    let back = round(&app, &idp, &provider, |n| {
        idp.key.sign("k1", &claims(&idp, n, now(&app)))
    })
    .await;
    assert!(back.contains_key("login_code"), "{back:?}");
}

#[actix_web::test]
async fn a_rotated_provider_key_is_fetched_on_an_unknown_kid() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let claims = |nonce: &str| idp.claims("sub-ann", "ann@corp.example", nonce, now(&app));
    let back = round(&app, &idp, &provider, |n| idp.key.sign("k1", &claims(n))).await;
    assert!(back.contains_key("login_code"));
    let fetches = idp.script.lock().unwrap().jwks_fetches;
    let rotated = IdpKey::new("k2", 11);
    idp.script.lock().unwrap().jwks = vec![rotated.jwk()];
    let back = round(&app, &idp, &provider, |n| rotated.sign("k2", &claims(n))).await;
    assert!(back.contains_key("login_code"), "{back:?}");
    assert_eq!(idp.script.lock().unwrap().jwks_fetches, fetches + 1);
}

#[actix_web::test]
async fn only_allowed_redirect_uris_and_a_provider_that_is_down_is_a_clear_502() {
    let app = TestApp::with(|c| c.sso_http_timeout = std::time::Duration::from_secs(1)).await;
    let admin = app.signup_and_login("admin@corp.example").await;
    // Nothing listens on port 1; the other port accepts and never answers.
    let down = connect(&app, &admin, "http://127.0.0.1:1", json!({"name": "Down"})).await;
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung = connect(
        &app,
        &admin,
        &format!("http://{}", silent.local_addr().unwrap()),
        json!({"name": "Hung"}),
    )
    .await;
    for bad in [
        "https://evil.example/steal",
        "http://127.0.0.1:5173/sso/callback/",
        "http://127.0.0.1:5173/sso/callback?x=1",
        "",
    ] {
        let path = format!("/api/v1/sso/{down}/authorize?redirect_uri={}", percent(bad));
        let r = app
            .call(Method::GET, &path, None, None)
            .await
            .problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "redirect_uri", "{bad}");
    }
    let long_state = "s".repeat(300);
    let path = format!(
        "/api/v1/sso/{down}/authorize?redirect_uri={}&state={long_state}",
        percent(APP_CALLBACK)
    );
    app.call(Method::GET, &path, None, None)
        .await
        .problem(422, "validation_failed");
    let path = format!(
        "/api/v1/sso/{}/authorize?redirect_uri={}",
        uuid::Uuid::new_v4(),
        percent(APP_CALLBACK)
    );
    app.call(Method::GET, &path, None, None)
        .await
        .problem(404, "not_found");
    for provider in [down, hung] {
        let started = std::time::Instant::now();
        let path = format!(
            "/api/v1/sso/{provider}/authorize?redirect_uri={}",
            percent(APP_CALLBACK)
        );
        app.call(Method::GET, &path, None, None)
            .await
            .problem(502, "identity_provider_unavailable");
        // Bounded by the timeout, not a hang (generous: a loaded machine).
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
    // The public list a sign-in page shows.
    let account = app.get("/api/v1/account", &admin.token).await.ok(200).id();
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/sso/providers?account_id={account}"),
            None,
            None,
        )
        .await
        .ok(200);
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Down", "Hung"]);
    assert!(r.body["items"][0].get("client_id").is_none());
    app.call(
        Method::GET,
        "/api/v1/sso/providers?account_id=x",
        None,
        None,
    )
    .await
    .problem(422, "validation_failed");
}

#[actix_web::test]
async fn a_login_code_does_not_outlive_a_change_of_its_provider() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({"trust_idp_mfa": true})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let sign = |nonce: &str| {
        let mut c = idp.claims("sub-ann", "ann@corp.example", nonce, now(&app));
        c["amr"] = json!(["mfa"]);
        idp.key.sign("k1", &c)
    };
    // A code that would sign in at aal2 (trusted MFA)...
    let trusted = round(&app, &idp, &provider, sign).await;
    // ...dies when the trust is withdrawn.
    let path = format!("/api/v1/identity-providers/{provider}");
    app.patch(&path, &admin.token, json!({"trust_idp_mfa": false}))
        .await
        .ok(200);
    exchange(&app, &trusted["login_code"])
        .await
        .problem(401, "invalid_credentials");
    // A code of a provider that is then disconnected dies with it.
    let code = round(&app, &idp, &provider, sign).await;
    app.delete(&path, &admin.token).await.ok(204);
    exchange(&app, &code["login_code"])
        .await
        .problem(401, "invalid_credentials");
    // A password change or a disabled user ends open login codes too.
    let provider = connect(&app, &admin, &idp.issuer, json!({"name": "Again"})).await;
    let code = round(&app, &idp, &provider, sign).await;
    let ann = app.login("ann@corp.example").await;
    app.call(
        Method::PUT,
        "/api/v1/me/password",
        Some(&ann.token),
        Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
    )
    .await
    .ok(204);
    exchange(&app, &code["login_code"])
        .await
        .problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn a_flow_started_on_one_node_finishes_on_another_once() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let node_b = Srv::new(&app.node()).await;
    let q = authorize(&app, &provider).await;
    idp.answer(idp.key.sign(
        "k1",
        &idp.claims("sub-ann", "ann@corp.example", &q["nonce"], now(&app)),
    ));
    let path = format!("/api/v1/sso/callback?code=c&state={}", percent(&q["state"]));
    // Both nodes get the same callback at once: one login code, one
    // flow_expired.
    let (a, b) = futures::join!(
        app.call(Method::GET, &path, None, None),
        node_b.call(Method::GET, &path, None, None)
    );
    let mut answers: Vec<HashMap<String, String>> =
        [a, b].iter().map(|r| location_query(r).1).collect();
    answers.sort_by_key(|q| q.contains_key("login_code"));
    assert_eq!(answers[0]["error"], "flow_expired", "{answers:?}");
    let code = &answers[1]["login_code"];
    // The login code made on one node is spent on the other (and the
    // link token it gives, on the first node again).
    let r = node_b
        .call(
            Method::POST,
            "/api/v1/sessions/sso",
            None,
            Some(json!({"login_code": code})),
        )
        .await
        .ok(200);
    assert_eq!(r.body["status"], "link_required");
    let r = app
        .post(
            "/api/v1/sessions/sso/link",
            None,
            json!({"link_token": r.body["link_token"], "password": PASSWORD}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["status"], "authenticated");
    exchange(&app, code)
        .await
        .problem(401, "invalid_credentials");
}
