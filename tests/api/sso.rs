//! `/api/v1/identity-providers`, `/api/v1/sso/*` and `/api/v1/sessions/sso`
//! against a scripted provider whose ID tokens the tests sign (see `idp`):
//! every forgery refused, single use of flows and login codes, linking
//! inside the account only, and Latchkey's MFA policy on top of SSO.

use std::collections::HashMap;

use actix_web::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::idp::{self, IdpKey, MockIdp, CLIENT_ID, CLIENT_SECRET};
use crate::support::*;

pub const APP_CALLBACK: &str = "http://127.0.0.1:5173/sso/callback";

/// Connects `issuer` to the admin's account; `extra` fields override.
pub async fn connect(app: &TestApp, admin: &Session, issuer: &str, extra: Value) -> String {
    let mut body = json!({
        "name": "Corp IdP",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "allowed_redirect_uris": [APP_CALLBACK],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/api/v1/identity-providers", Some(&admin.token), body)
        .await
        .ok(201)
        .id()
}

/// The query of a redirect's `Location`.
pub fn location_query(r: &Resp) -> (String, HashMap<String, String>) {
    assert_eq!(r.status, 302, "expected a redirect: {}", r.text);
    let location = r.headers.get("location").unwrap().to_str().unwrap();
    let url = openidconnect::url::Url::parse(location).unwrap();
    let query = url.query_pairs().into_owned().collect();
    let mut base = url.clone();
    base.set_query(None);
    (base.to_string(), query)
}

/// `GET .../authorize`: the provider's query (state, nonce, PKCE challenge).
pub async fn authorize(app: &TestApp, provider: &str) -> HashMap<String, String> {
    let path = format!(
        "/api/v1/sso/{provider}/authorize?redirect_uri={}&state=client-xyz",
        percent(APP_CALLBACK)
    );
    let r = app.call(Method::GET, &path, None, None).await;
    location_query(&r).1
}

fn percent(s: &str) -> String {
    openidconnect::url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn callback(app: &TestApp, state: &str) -> HashMap<String, String> {
    let path = format!(
        "/api/v1/sso/callback?code=idp-code&state={}",
        percent(state)
    );
    let r = app.call(Method::GET, &path, None, None).await;
    let (base, query) = location_query(&r);
    assert_eq!(base, APP_CALLBACK);
    assert_eq!(
        query["state"], "client-xyz",
        "the client's state comes back"
    );
    query
}

/// One whole SSO round: authorize, the provider answers with the ID token
/// that `token(claims_with_nonce)` makes, callback. The client's query.
pub async fn round(
    app: &TestApp,
    idp: &MockIdp,
    provider: &str,
    token: impl FnOnce(&str) -> String,
) -> HashMap<String, String> {
    let q = authorize(app, provider).await;
    idp.answer(token(&q["nonce"]));
    callback(app, &q["state"]).await
}

pub fn now(app: &TestApp) -> i64 {
    app.clock.now().timestamp()
}

pub async fn exchange(app: &TestApp, code: &str) -> Resp {
    app.post("/api/v1/sessions/sso", None, json!({"login_code": code}))
        .await
}

/// [`exchange`], then the password proof a user with a password owes on
/// the first sign-in of a subject (`link_required`): the login answer.
pub async fn exchange_linking(app: &TestApp, code: &str) -> Resp {
    let r = exchange(app, code).await.ok(200);
    if r.body["status"] != "link_required" {
        return r;
    }
    app.post(
        "/api/v1/sessions/sso/link",
        None,
        json!({"link_token": r.body["link_token"], "password": PASSWORD}),
    )
    .await
}

/// The `amr` and `aal` of the current session of `token`.
pub async fn assurance(app: &TestApp, token: &str) -> (Value, String) {
    let list = app.get("/api/v1/me/sessions", token).await.ok(200);
    let current = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    (
        current["amr"].clone(),
        current["aal"].as_str().unwrap().into(),
    )
}

#[actix_web::test]
async fn providers_are_managed_by_sso_manage_with_the_secret_sealed() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("admin@corp.example").await;
    let r = app
        .post(
            "/api/v1/identity-providers",
            Some(&admin.token),
            json!({"name": "Okta", "issuer": "https://corp.okta.example", "client_id": "abc",
                   "client_secret": CLIENT_SECRET, "allowed_redirect_uris": [APP_CALLBACK],
                   "scopes": ["email"]}),
        )
        .await
        .ok(201);
    let id = r.id();
    assert!(r.body.get("client_secret").is_none(), "{}", r.text);
    assert!(!r.text.contains(CLIENT_SECRET));
    assert_eq!(r.body["scopes"], json!(["openid", "email"]));
    assert_eq!(r.body["trust_idp_mfa"], false);
    assert_eq!(r.body["jit_provisioning"], false, "JIT is off by default");
    assert_eq!(r.body["default_role"], "read_only");
    assert_eq!(
        r.body["callback_url"],
        "http://127.0.0.1:8080/api/v1/sso/callback"
    );
    assert!(!app.dump_table("identity_providers").contains(CLIENT_SECRET));
    // Same name again; bad fields.
    for (body, status, code) in [
        (
            json!({"name": "Okta", "issuer": "https://x.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK]}),
            409,
            "conflict",
        ),
        (
            json!({"name": "A", "issuer": "http://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK]}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "B", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": []}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "C", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": ["https://app.example/cb#x"]}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "D", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK], "default_role": "nope"}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "E", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK], "scopes": ["a b"]}),
            422,
            "validation_failed",
        ),
    ] {
        app.post("/api/v1/identity-providers", Some(&admin.token), body)
            .await
            .problem(status, code);
    }
    // A sub-account's provider hands out client roles only.
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    let r = app
        .post(
            "/api/v1/identity-providers",
            Some(&admin.token),
            json!({"name": "Client IdP", "issuer": "https://client.example", "client_id": "a", "client_secret": "s",
                   "allowed_redirect_uris": [APP_CALLBACK], "sub_account_id": sub, "default_role": "administrator"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "default_role");

    let path = format!("/api/v1/identity-providers/{id}");
    let r = app
        .patch(
            &path,
            &admin.token,
            json!({"trust_idp_mfa": true, "client_secret": "rotated-secret"}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["trust_idp_mfa"], true);
    assert!(!app
        .dump_table("identity_providers")
        .contains("rotated-secret"));
    let listed = app
        .get("/api/v1/identity-providers", &admin.token)
        .await
        .ok(200);
    assert_eq!(listed.body["total"], 1);

    // Another account sees nothing; a user without sso.manage is refused.
    let other = app.signup_and_login("admin@other.example").await;
    app.get(&path, &other.token).await.problem(404, "not_found");
    app.delete(&path, &other.token)
        .await
        .problem(404, "not_found");
    app.get("/api/v1/identity-providers/not-a-uuid", &admin.token)
        .await
        .problem(404, "not_found");
    app.create_user(&admin, "ed@corp.example", "editor", None)
        .await;
    let ed = app.login("ed@corp.example").await;
    app.get("/api/v1/identity-providers", &ed.token)
        .await
        .problem(403, "forbidden");

    app.delete(&path, &admin.token).await.ok(204);
    app.get(&path, &admin.token).await.problem(404, "not_found");
    let events = app
        .get("/api/v1/audit-events?per_page=100", &admin.token)
        .await
        .ok(200);
    let types: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "identity_provider.created",
        "identity_provider.updated",
        "identity_provider.deleted",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}

#[actix_web::test]
async fn sso_manage_cannot_provision_more_than_its_holder_holds() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("admin@corp.example").await;
    let role = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "SSO admin", "permissions": ["sso.manage"]}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "sam@corp.example", &role, None)
        .await;
    let sam = app.login("sam@corp.example").await;
    let body = |role: &str| {
        json!({"name": format!("IdP {role}"), "issuer": "https://idp.example", "client_id": "a",
               "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK], "jit_provisioning": true,
               "default_role": role})
    };
    app.post(
        "/api/v1/identity-providers",
        Some(&sam.token),
        body("administrator"),
    )
    .await
    .problem(403, "forbidden");
    let id = app
        .post(
            "/api/v1/identity-providers",
            Some(&sam.token),
            body("editor"),
        )
        .await
        .ok(201)
        .id();
    // A custom role in use as a default role cannot be deleted.
    let viewer = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Viewer", "permissions": []}),
        )
        .await
        .ok(201)
        .id();
    app.patch(
        &format!("/api/v1/identity-providers/{id}"),
        &admin.token,
        json!({"default_role": viewer}),
    )
    .await
    .ok(200);
    app.delete(&format!("/api/v1/roles/{viewer}"), &admin.token)
        .await
        .problem(409, "conflict");
}

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
async fn linking_is_by_verified_email_inside_the_providers_scope_only() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "cli@client.example", "editor", Some(&sub))
        .await;
    app.signup_and_login("admin@other.example").await;
    let sign = |sub: &'static str, email: &'static str, verified: bool| {
        let idp = &idp;
        let app = &app;
        move |nonce: &str| {
            let mut c = idp.claims(sub, email, nonce, now(app));
            c["email_verified"] = json!(verified);
            idp.key.sign("k1", &c)
        }
    };
    let error = |q: HashMap<String, String>| q.get("error").cloned().unwrap_or_default();
    // Unverified email: never linked.
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-ann", "ann@corp.example", false),
    )
    .await;
    assert_eq!(error(q), "email_not_verified");
    // Another account's user, a client user, a stranger: not found.
    for (sub, email) in [
        ("sub-x", "admin@other.example"),
        ("sub-c", "cli@client.example"),
        ("sub-s", "stranger@corp.example"),
    ] {
        let q = round(&app, &idp, &provider, sign(sub, email, true)).await;
        assert_eq!(error(q), "user_not_found", "{email}");
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE email = 'stranger@corp.example'"),
        0,
        "no JIT unless turned on"
    );
    // A verified email of the account links the subject...
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-ann", "ann@corp.example", true),
    )
    .await;
    let ann = Session::from_body(&exchange_linking(&app, &q["login_code"]).await.ok(200).body);
    // ...and the link holds whatever email the provider says later.
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-ann", "renamed@corp.example", false),
    )
    .await;
    let again = Session::from_body(&exchange(&app, &q["login_code"]).await.ok(200).body);
    assert_eq!(again.user_id, ann.user_id);
    // A disabled user is refused, and the client is not told why.
    app.patch(
        &format!("/api/v1/users/{}", ann.user_id),
        &admin.token,
        json!({"disabled": true}),
    )
    .await
    .ok(200);
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-ann", "ann@corp.example", true),
    )
    .await;
    assert_eq!(error(q), "user_not_found");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed' AND details LIKE '%user_disabled%'"),
        1
    );
}

#[actix_web::test]
async fn just_in_time_provisioning_creates_a_user_without_a_password() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(
        &app,
        &admin,
        &idp.issuer,
        json!({"jit_provisioning": true, "default_role": "creator"}),
    )
    .await;
    let q = round(&app, &idp, &provider, |n| {
        idp.key.sign(
            "k1",
            &idp.claims("sub-new", "New.Person@Corp.example", n, now(&app)),
        )
    })
    .await;
    let s = Session::from_body(&exchange(&app, &q["login_code"]).await.ok(200).body);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["email"], "new.person@corp.example");
    assert_eq!(me.body["role"], "creator");
    assert_eq!(me.body["display_name"], "Idp User");
    // No password signs this user in.
    app.login_raw("new.person@corp.example", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.login_raw("new.person@corp.example", "!no-password")
        .await
        .problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn latchkeys_mfa_policy_applies_on_top_of_sso() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let (admin, _) = mfa_admin(&app, "admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    for email in ["ann@corp.example", "bob@corp.example"] {
        app.create_user(&admin, email, "editor", None).await;
    }
    let sign = |sub: &'static str, email: &'static str, amr: Value| {
        let (idp, app) = (&idp, &app);
        move |nonce: &str| {
            let mut c = idp.claims(sub, email, nonce, now(app));
            c["amr"] = amr;
            idp.key.sign("k1", &c)
        }
    };
    // No policy, no local MFA: aal1, even when the provider did MFA
    // (not trusted for it).
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-ann", "ann@corp.example", json!(["pwd", "mfa"])),
    )
    .await;
    let r = exchange_linking(&app, &q["login_code"]).await.ok(200);
    let ann = Session::from_body(&r.body);
    assert_eq!(
        assurance(&app, &ann.token).await,
        (json!(["sso"]), "aal1".into())
    );
    // Bob has MFA of Latchkey's: the SSO asks for his code, then aal2.
    let bob = app.login("bob@corp.example").await;
    let (secret, _, _) = app.enroll(&bob.token, None).await;
    app.next_step();
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-bob", "bob@corp.example", json!(["pwd", "mfa"])),
    )
    .await;
    let r = exchange_linking(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required", "{}", r.text);
    let mfa_token = r.body["mfa_token"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/api/v1/sessions/mfa",
            None,
            json!({"mfa_token": mfa_token, "code": app.code(&secret, 0)}),
        )
        .await
        .ok(200);
    let bob_aal2 = Session::from_body(&r.body);
    assert_eq!(
        assurance(&app, &bob_aal2.token).await,
        (json!(["sso", "otp"]), "aal2".into())
    );
    // Trusted for MFA: the provider's MFA gives aal2 at once, for Bob too.
    app.patch(
        &format!("/api/v1/identity-providers/{provider}"),
        &admin.token,
        json!({"trust_idp_mfa": true}),
    )
    .await
    .ok(200);
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-bob", "bob@corp.example", json!(["pwd", "otp"])),
    )
    .await;
    let r = exchange_linking(&app, &q["login_code"]).await.ok(200);
    let s = Session::from_body(&r.body);
    assert_eq!(
        assurance(&app, &s.token).await,
        (json!(["sso", "mfa"]), "aal2".into())
    );
    // ...but not without an MFA method in its amr.
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-bob", "bob@corp.example", json!(["pwd"])),
    )
    .await;
    let r = exchange_linking(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required");
    // Require MFA for the account: Ann (no MFA) must enroll; the session
    // she gets from the enrollment is sso + otp.
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-ann", "ann@corp.example", json!(["pwd"])),
    )
    .await;
    let r = exchange_linking(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required", "{}", r.text);
    let enrollment = r.body["enrollment_token"].as_str().unwrap().to_string();
    let (_, _, verified) = app.enroll(&enrollment, None).await;
    let s = Session::from_body(&verified["session"]);
    assert_eq!(
        assurance(&app, &s.token).await,
        (json!(["sso", "otp"]), "aal2".into())
    );
    // With the provider trusted and its MFA done, enforced MFA is met too.
    let q = round(
        &app,
        &idp,
        &provider,
        sign("sub-new", "carl@corp.example", json!(["hwk"])),
    )
    .await;
    assert_eq!(q["error"], "user_not_found");
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

/// The first sign-in of a user with a password proves it once
/// (`link_required`, `POST /sessions/sso/link`): wrong passwords count on
/// the login lockout, the token is spent by the right one, the link is
/// audited, belongs to its provider and ends when the provider's issuer or
/// client changes.
#[actix_web::test]
async fn an_existing_user_proves_their_password_once_to_link() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let sign = |nonce: &str| {
        idp.key.sign(
            "k1",
            &idp.claims("sub-ann", "ann@corp.example", nonce, now(&app)),
        )
    };
    let q = round(&app, &idp, &provider, sign).await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "link_required");
    assert_eq!(r.body["email"], "ann@corp.example");
    assert_eq!(r.body["expires_in"], 600);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let token = r.body["link_token"].as_str().unwrap().to_string();
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    let link = |password: &str| {
        let (app, token) = (&app, token.clone());
        let password = password.to_string();
        async move {
            app.post(
                "/api/v1/sessions/sso/link",
                None,
                json!({"link_token": token, "password": password}),
            )
            .await
        }
    };
    // Four wrong passwords: 401 each, the token stays...
    for _ in 0..4 {
        link("not the password at all")
            .await
            .problem(401, "invalid_credentials");
    }
    // ...and they count on Ann's login lockout: one more wrong login locks.
    app.login_raw("ann@corp.example", "wrong password again")
        .await
        .problem(401, "invalid_credentials");
    app.login_raw("ann@corp.example", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    let locked = link(PASSWORD).await.problem(429, "too_many_attempts");
    assert!(locked.retry_after() < 600, "the lock ends before the token");
    app.clock.advance(locked.retry_after());
    let r = link(PASSWORD).await.ok(200);
    let ann = Session::from_body(&r.body);
    assert_eq!(
        assurance(&app, &ann.token).await,
        (json!(["sso"]), "aal1".into())
    );
    // Spent once it succeeded.
    link(PASSWORD).await.problem(401, "invalid_credentials");
    let r = app
        .get(
            "/api/v1/audit-events?type=sso.identity_linked",
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1, "{}", r.text);
    let details = &r.body["items"][0]["details"];
    assert_eq!(details["provider"], provider.as_str());
    assert_eq!(details["issuer"], idp.issuer.as_str());
    assert_eq!(details["sub"], "sub-ann");
    assert_eq!(details["email"], "ann@corp.example");
    // Linked: the next sign-in goes straight through.
    let q = round(&app, &idp, &provider, sign).await;
    let again = Session::from_body(&exchange(&app, &q["login_code"]).await.ok(200).body);
    assert_eq!(again.user_id, ann.user_id);

    // Links belong to their provider: a sub-account's provider of the same
    // issuer does not sign Ann (an account user) in through her link.
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    let client_provider = connect(
        &app,
        &admin,
        &idp.issuer,
        json!({"name": "Client IdP", "sub_account_id": sub}),
    )
    .await;
    let q = round(&app, &idp, &client_provider, sign).await;
    assert_eq!(q["error"], "user_not_found", "{q:?}");

    // Another client at the provider is another provider: the link ends.
    app.patch(
        &format!("/api/v1/identity-providers/{provider}"),
        &admin.token,
        json!({"client_id": "another-client"}),
    )
    .await
    .ok(200);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    app.patch(
        &format!("/api/v1/identity-providers/{provider}"),
        &admin.token,
        json!({"client_id": CLIENT_ID}),
    )
    .await
    .ok(200);
    let q = round(&app, &idp, &provider, sign).await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "link_required");
}

/// Every URL the relying party contacts obeys the issuer's rule (https;
/// http only on loopback): a discovery document naming a plain-http
/// endpoint elsewhere is refused before anything is sent there.
#[actix_web::test]
async fn every_endpoint_a_provider_names_obeys_the_url_rule() {
    for endpoint in ["token_endpoint", "jwks_uri", "userinfo_endpoint"] {
        let app = TestApp::new().await;
        let idp = MockIdp::start();
        let admin = app.signup_and_login("admin@corp.example").await;
        let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
        // `.invalid` never resolves: nothing could be sent there anyway.
        idp.script
            .lock()
            .unwrap()
            .endpoints
            .insert(endpoint, format!("http://idp.invalid/{endpoint}"));
        let path = format!(
            "/api/v1/sso/{provider}/authorize?redirect_uri={}",
            percent(APP_CALLBACK)
        );
        let r = app.call(Method::GET, &path, None, None).await;
        r.problem(502, "identity_provider_unavailable");
        let script = idp.script.lock().unwrap();
        assert_eq!(script.jwks_fetches, 0, "{endpoint}");
        assert!(script.token_requests.is_empty(), "{endpoint}");
    }
}

/// Native apps (RFC 8252): a private-use scheme or loopback redirect URI,
/// and the app's own PKCE pair on the login code, so that another app that
/// intercepts the redirect cannot spend it.
#[actix_web::test]
async fn native_apps_bind_the_login_code_to_their_own_pkce_pair() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let native = "com.example.app:/oauth2redirect";
    let provider = connect(
        &app,
        &admin,
        &idp.issuer,
        json!({"allowed_redirect_uris": [native, "http://127.0.0.1/cb"], "jit_provisioning": true}),
    )
    .await;
    // A verifier and its S256 challenge (computed independently).
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWI2XJcM";
    let challenge = "_s3UeMjgKZf89VnMAezJaZQjB_Z9oJAoRRxytQPktDg";
    let authorize = |redirect: &str, pkce: bool| {
        let mut path = format!(
            "/api/v1/sso/{provider}/authorize?redirect_uri={}",
            percent(redirect)
        );
        if pkce {
            path.push_str(&format!(
                "&code_challenge={challenge}&code_challenge_method=S256"
            ));
        }
        path
    };
    // Without its own challenge a native app is refused.
    for redirect in [native, "http://127.0.0.1:53124/cb"] {
        let r = app
            .call(Method::GET, &authorize(redirect, false), None, None)
            .await;
        let r = r.problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "code_challenge");
    }
    let r = app
        .call(
            Method::GET,
            &format!(
                "{}&code_challenge={challenge}&code_challenge_method=plain",
                authorize(native, false)
            ),
            None,
            None,
        )
        .await;
    r.problem(422, "validation_failed");
    // A loopback port is any port; the path must match.
    let r = app
        .call(
            Method::GET,
            &authorize("http://127.0.0.1:53124/other", true),
            None,
            None,
        )
        .await;
    r.problem(422, "validation_failed");
    for redirect in [native, "http://127.0.0.1:53124/cb"] {
        let r = app
            .call(Method::GET, &authorize(redirect, true), None, None)
            .await;
        let q = location_query(&r).1;
        idp.answer(idp.key.sign(
            "k1",
            &idp.claims("sub-new", "new@corp.example", &q["nonce"], now(&app)),
        ));
        let r = app
            .call(
                Method::GET,
                &format!("/api/v1/sso/callback?code=c&state={}", percent(&q["state"])),
                None,
                None,
            )
            .await;
        let (base, back) = location_query(&r);
        assert_eq!(base, redirect, "back to the very URI the app asked for");
        let code = back["login_code"].clone();
        // The interceptor has the code but not the verifier.
        for body in [
            json!({"login_code": code}),
            json!({"login_code": code, "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWI2XJcN"}),
        ] {
            app.post("/api/v1/sessions/sso", None, body)
                .await
                .problem(401, "invalid_credentials");
        }
        let r = app
            .post(
                "/api/v1/sessions/sso",
                None,
                json!({"login_code": code, "code_verifier": verifier}),
            )
            .await
            .ok(200);
        assert_eq!(r.body["status"], "authenticated", "{}", r.text);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed' AND details LIKE '%code_verifier_mismatch%'"),
        4
    );
    // Private-use schemes in reverse-DNS form only.
    for bad in ["myapp:/cb", "javascript:alert(1)"] {
        app.patch(
            &format!("/api/v1/identity-providers/{provider}"),
            &admin.token,
            json!({"allowed_redirect_uris": [bad]}),
        )
        .await
        .problem(422, "validation_failed");
    }
}
