//! Passkeys with a software authenticator (`crate::authenticator`):
//! registration and management, the second step, passwordless sign-in,
//! counters that go backwards, the phishing-resistant policy, and a
//! ceremony started on one node and finished on another.

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::authenticator::SoftKey;
use crate::support::{amr_of, mfa_admin, Resp, Session, Srv, TestApp, PASSWORD};

/// Registers `key` for the holder of `token` (a session or an enrollment
/// token); returns the answer.
pub(crate) async fn register(
    app: &TestApp,
    token: &str,
    key: &mut SoftKey,
    password: Option<&str>,
) -> Resp {
    let body = match password {
        Some(p) => json!({"password": p}),
        None => json!({}),
    };
    let options = app
        .post("/api/v1/me/mfa/passkeys/options", Some(token), body)
        .await
        .ok(200);
    assert_eq!(options.headers.get("cache-control").unwrap(), "no-store");
    let credential = key.register(&options.body).await;
    app.post(
        "/api/v1/me/mfa/passkeys",
        Some(token),
        json!({"name": "Laptop", "credential": credential}),
    )
    .await
}

/// Password, then the passkey: the second step's answer.
async fn login_with_passkey(app: &TestApp, email: &str, key: &mut SoftKey) -> Resp {
    let r = app.login_raw(email, PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required", "{}", r.text);
    answer(app, &r, key).await
}

/// Answers the second step of `pending` (an `mfa_required` answer) with
/// an assertion of `key`.
async fn answer(app: &TestApp, pending: &Resp, key: &mut SoftKey) -> Resp {
    let assertion = key.assert(&pending.body["passkey_options"]).await;
    app.post(
        "/api/v1/sessions/mfa",
        None,
        json!({"mfa_token": pending.body["mfa_token"], "passkey": assertion}),
    )
    .await
}

#[actix_web::test]
async fn a_first_passkey_turns_mfa_on_and_then_signs_in_as_the_second_factor() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut key = SoftKey::new();
    let r = register(&app, &s.token, &mut key, None).await.ok(201);
    assert_eq!(r.body["name"], "Laptop");
    assert!(r.body["recovery_token"].is_string(), "{}", r.text);
    // The session that registered it is now aal2 with a hardware key.
    let token = r.body["session"]["access_token"].as_str().unwrap();
    assert_eq!(amr_of(token), json!(["pwd", "hwk"]));
    let me = app.get("/api/v1/me", token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], true);
    let factors = app.get("/api/v1/me/mfa/factors", token).await.ok(200);
    assert!(factors.body["totp"].is_null());
    assert_eq!(factors.body["passkeys"][0]["name"], "Laptop");
    // The password now asks for the passkey, and only offers what she has.
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["methods"], json!(["recovery_token", "passkey"]));
    let assertion = key.assert(&r.body["passkey_options"]).await;
    let step = |assertion: Value| {
        let (app, token) = (&app, r.body["mfa_token"].clone());
        async move {
            app.post(
                "/api/v1/sessions/mfa",
                None,
                json!({"mfa_token": token, "passkey": assertion}),
            )
            .await
        }
    };
    let signed_in = step(assertion.clone()).await.ok(200);
    assert_eq!(
        amr_of(signed_in.body["access_token"].as_str().unwrap()),
        json!(["pwd", "hwk"])
    );
    // The same assertion again: the challenge is spent.
    step(assertion).await.problem(401, "challenge_expired");
    let factors = app
        .get(
            "/api/v1/me/mfa/factors",
            signed_in.body["access_token"].as_str().unwrap(),
        )
        .await;
    assert!(factors.body["passkeys"][0]["last_used_at"].is_string());
}

#[actix_web::test]
async fn another_passkey_needs_aal2_and_the_password_and_a_session_from_before_cannot() {
    let app = TestApp::new().await;
    let old = app.signup_and_login("ann@example.com").await;
    let s = app.login("ann@example.com").await;
    let mut key = SoftKey::new();
    register(&app, &s.token, &mut key, None).await.ok(201);
    // The aal1 session from before the first factor ended with it.
    app.post(
        "/api/v1/me/mfa/passkeys/options",
        Some(&old.token),
        json!({}),
    )
    .await
    .problem(401, "unauthorized");
    // An aal1 session now (password only, the second step skipped): 403.
    app.sql("UPDATE sessions SET amr = 'pwd'");
    let aal1 = app.login_raw("ann@example.com", PASSWORD).await;
    assert_eq!(aal1.body["status"], "mfa_required");
    // aal2 without the password: 403; with it: a second passkey.
    let aal2 = login_with_passkey(&app, "ann@example.com", &mut key)
        .await
        .ok(200)
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post("/api/v1/me/mfa/passkeys/options", Some(&aal2), json!({}))
        .await
        .problem(403, "reauthentication_required");
    let mut phone = SoftKey::new();
    let r = register(&app, &aal2, &mut phone, Some(PASSWORD))
        .await
        .ok(201);
    assert!(r.body.get("recovery_token").is_none());
    let factors = app.get("/api/v1/me/mfa/factors", &aal2).await.ok(200);
    assert_eq!(factors.body["passkeys"].as_array().unwrap().len(), 2);
    // A finish without live options (a second finish) is refused.
    let credential = phone
        .register(
            &app.post(
                "/api/v1/me/mfa/passkeys/options",
                Some(&aal2),
                json!({"password": PASSWORD}),
            )
            .await
            .ok(200)
            .body,
        )
        .await;
    let finish = |c: Value| {
        let (app, token) = (&app, aal2.clone());
        async move {
            app.post(
                "/api/v1/me/mfa/passkeys",
                Some(&token),
                json!({"name": "Again", "credential": c}),
            )
            .await
        }
    };
    finish(credential.clone()).await;
    finish(credential)
        .await
        .problem(409, "no_pending_enrollment");
}

#[actix_web::test]
async fn a_counter_that_goes_backwards_is_refused_and_audited_and_bad_assertions_lock() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut key = SoftKey::new();
    register(&app, &s.token, &mut key, None).await.ok(201);
    let copy = key.passkey().expect("a stored passkey");
    let admin = login_with_passkey(&app, "ann@example.com", &mut key)
        .await
        .ok(200);
    // A clone of the authenticator from before that use: its counter is behind.
    key.restore(copy);
    let r = login_with_passkey(&app, "ann@example.com", &mut key).await;
    r.problem(401, "mfa_code_invalid");
    let events = app
        .get(
            "/api/v1/audit-events?type=passkey.counter_regressed",
            admin.body["access_token"].as_str().unwrap(),
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1);
    // Tampered assertions count like wrong codes: ten lock the second step.
    let mut sent = 0;
    while sent < 10 {
        let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
        let mut assertion = key.assert(&r.body["passkey_options"]).await;
        assertion["response"]["signature"] = json!("AAAA");
        let answer = app
            .post(
                "/api/v1/sessions/mfa",
                None,
                json!({"mfa_token": r.body["mfa_token"], "passkey": assertion}),
            )
            .await;
        sent += 1;
        if sent < 9 {
            answer.problem(401, "mfa_code_invalid");
        }
    }
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    answer(&app, &r, &mut key)
        .await
        .problem(429, "too_many_attempts");
}

/// The counter is checked against the last accepted use, not against the
/// one the options were made with: a clone that answers a challenge opened
/// before the original's last use is still behind.
#[actix_web::test]
async fn a_counter_is_checked_against_the_last_use_even_for_a_challenge_opened_before_it() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut key = SoftKey::new();
    register(&app, &s.token, &mut key, None).await.ok(201);
    let first = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let second = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let copy = key.passkey().expect("a stored passkey");
    let admin = answer(&app, &first, &mut key).await.ok(200);
    // The clone signs the second challenge with the counter just used.
    key.restore(copy);
    answer(&app, &second, &mut key)
        .await
        .problem(401, "mfa_code_invalid");
    let events = app
        .get(
            "/api/v1/audit-events?type=passkey.counter_regressed",
            admin.body["access_token"].as_str().unwrap(),
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1, "{}", events.text);
}

async fn passwordless(app: &TestApp, key: &mut SoftKey) -> Resp {
    let options = app
        .post("/api/v1/sessions/passkey/options", None, json!({}))
        .await
        .ok(200);
    let ceremony = options.body["ceremony_id"].clone();
    let assertion = key.assert(&options.body).await;
    app.post(
        "/api/v1/sessions/passkey",
        None,
        json!({"ceremony_id": ceremony, "credential": assertion}),
    )
    .await
}

#[actix_web::test]
async fn a_discoverable_passkey_signs_in_without_a_password() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut key = SoftKey::new();
    register(&app, &s.token, &mut key, None).await.ok(201);
    let r = passwordless(&app, &mut key).await.ok(200);
    assert_eq!(r.body["status"], "authenticated");
    assert_eq!(r.body["user"]["email"], "ann@example.com");
    assert_eq!(
        amr_of(r.body["access_token"].as_str().unwrap()),
        json!(["hwk", "user"])
    );
    // A ceremony works once.
    let options = app
        .post("/api/v1/sessions/passkey/options", None, json!({}))
        .await
        .ok(200);
    let assertion = key.assert(&options.body).await;
    let body = json!({"ceremony_id": options.body["ceremony_id"], "credential": assertion});
    app.post("/api/v1/sessions/passkey", None, body.clone())
        .await
        .ok(200);
    app.post("/api/v1/sessions/passkey", None, body)
        .await
        .problem(401, "invalid_credentials");
    // A disabled user's passkey signs nobody in.
    app.sql("UPDATE users SET disabled = TRUE");
    passwordless(&app, &mut key)
        .await
        .problem(401, "invalid_credentials");
    app.sql("UPDATE users SET disabled = FALSE");
    // Another origin (a phishing site relaying the ceremony) is refused.
    let mut phished = SoftKey::at("http://localhost:9999", true);
    phished.restore(key.passkey().unwrap());
    passwordless(&app, &mut phished)
        .await
        .problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn a_ceremony_started_on_one_node_finishes_on_another() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let b = latchkey::state::AppState::open(app.config.clone(), app.clock.clone()).unwrap();
    let node_b = Srv::new(&b).await;
    let mut key = SoftKey::new();
    let options = app
        .post("/api/v1/me/mfa/passkeys/options", Some(&s.token), json!({}))
        .await
        .ok(200);
    let credential = key.register(&options.body).await;
    let r = node_b
        .call(
            Method::POST,
            "/api/v1/me/mfa/passkeys",
            Some(&s.token),
            Some(json!({"name": "Laptop", "credential": credential})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let options = app
        .post("/api/v1/sessions/passkey/options", None, json!({}))
        .await
        .ok(200);
    let assertion = key.assert(&options.body).await;
    let r = node_b
        .call(
            Method::POST,
            "/api/v1/sessions/passkey",
            None,
            Some(json!({"ceremony_id": options.body["ceremony_id"], "credential": assertion})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The second step's request is kept with the MFA challenge: node B
    // finishes what node A started, once.
    let pending = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let assertion = key.assert(&pending.body["passkey_options"]).await;
    let finish = || {
        node_b.call(
            Method::POST,
            "/api/v1/sessions/mfa",
            None,
            Some(json!({"mfa_token": pending.body["mfa_token"], "passkey": assertion})),
        )
    };
    let r = finish().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        amr_of(r.body["access_token"].as_str().unwrap()),
        json!(["pwd", "hwk"])
    );
    finish().await.problem(401, "challenge_expired");
}

#[actix_web::test]
async fn phishing_resistant_accounts_refuse_codes_and_make_totp_users_add_a_passkey() {
    let app = TestApp::new().await;
    let (admin, admin_secret) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"mfa_methods": "phishing_resistant"}),
    )
    .await
    .ok(200);
    // Ann has TOTP only: the password gives an enrollment grant, which
    // registers a passkey (and TOTP enrollment is not offered to her).
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required", "{}", r.text);
    let grant = r.body["enrollment_token"].as_str().unwrap().to_string();
    app.post("/api/v1/me/mfa/totp", Some(&grant), json!({}))
        .await
        .problem(401, "unauthorized");
    let mut key = SoftKey::new();
    let r = register(&app, &grant, &mut key, None).await.ok(201);
    let token = r.body["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = app.get("/api/v1/me", &token).await.ok(200);
    assert_eq!(me.body["mfa"]["methods"], "phishing_resistant");
    // From now on only the passkey is offered, and a code is refused.
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["methods"], json!(["passkey"]));
    app.second_step(&r.body["mfa_token"], &app.code(&admin_secret, 0))
        .await
        .problem(403, "phishing_resistant_required");
    login_with_passkey(&app, "ann@example.com", &mut key)
        .await
        .ok(200);
}

#[actix_web::test]
async fn reset_mfa_and_deleting_the_last_passkey_remove_every_factor() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    let mut key = SoftKey::new();
    register(&app, &ed.token, &mut key, None).await.ok(201);
    let passwordless_session = passwordless(&app, &mut key).await.ok(200);
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(204);
    // The passkey is gone, its sessions too.
    app.get(
        "/api/v1/me",
        passwordless_session.body["access_token"].as_str().unwrap(),
    )
    .await
    .problem(401, "unauthorized");
    passwordless(&app, &mut key)
        .await
        .problem(401, "invalid_credentials");
    let users = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(users.body["mfa_enabled"], false);
    // Deleting the last passkey turns MFA off (password and aal2 needed).
    let ed = app.login("ed@example.com").await;
    let mut key = SoftKey::new();
    let r = register(&app, &ed.token, &mut key, None).await.ok(201);
    let aal2 = r.body["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = r.body["id"].as_str().unwrap().to_string();
    let delete = |password: &'static str| {
        let (app, aal2, id) = (&app, aal2.clone(), id.clone());
        async move {
            app.call(
                Method::DELETE,
                &format!("/api/v1/me/mfa/passkeys/{id}"),
                Some(&aal2),
                Some(json!({"password": password})),
            )
            .await
        }
    };
    delete("not the password at all")
        .await
        .problem(403, "reauthentication_required");
    delete(PASSWORD).await.ok(204);
    let me = app.get("/api/v1/me", &aal2).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], false);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated");
    let _ = Session::from_body;
}

/// Transitions: a session from before a passkey was deleted ends with it
/// (it may have been proven with that key); the deleting session goes on.
#[actix_web::test]
async fn deleting_a_passkey_ends_the_sessions_from_before() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut laptop = SoftKey::new();
    let r = register(&app, &s.token, &mut laptop, None).await.ok(201);
    let first = r.body["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut phone = SoftKey::new();
    let r = register(&app, &first, &mut phone, Some(PASSWORD))
        .await
        .ok(201);
    let phone_id = r.body["id"].as_str().unwrap().to_string();
    // A session signed in with the phone, before it is deleted.
    let before = login_with_passkey(&app, "ann@example.com", &mut phone)
        .await
        .ok(200);
    let before = before.body["access_token"].as_str().unwrap().to_string();
    app.get("/api/v1/me", &before).await.ok(200);
    // A second step and a step-up opened before the deletion, their
    // options naming the phone.
    let pending = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let phone_step_up = app
        .post(
            "/api/v1/sessions/current/step-up/options",
            Some(&first),
            json!({}),
        )
        .await
        .ok(200);
    app.call(
        Method::DELETE,
        &format!("/api/v1/me/mfa/passkeys/{phone_id}"),
        Some(&first),
        Some(json!({"password": PASSWORD})),
    )
    .await
    .ok(204);
    app.get("/api/v1/me", &before)
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/me", &first).await.ok(200);
    // The deleted passkey opens nothing any more; the other one still does.
    // Deleting spent the second steps opened before it.
    answer(&app, &pending, &mut phone)
        .await
        .problem(401, "challenge_expired");
    // A step-up whose options named the phone, opened before the deletion
    // by the session that deleted it: the signature still verifies against
    // those options, the deleted passkey records no use.
    let step = phone.assert(&phone_step_up.body["passkey_options"]).await;
    let r = app
        .post(
            "/api/v1/sessions/current/step-up",
            Some(&first),
            json!({"passkey": step}),
        )
        .await;
    r.problem(401, "mfa_code_invalid");
    let regressed = app
        .get(
            "/api/v1/audit-events?type=passkey.counter_regressed",
            &first,
        )
        .await
        .ok(200);
    assert_eq!(regressed.body["total"], 0, "a deleted key is no clone");
    passwordless(&app, &mut phone)
        .await
        .problem(401, "invalid_credentials");
    passwordless(&app, &mut laptop).await.ok(200);
    // The user was told about both changes.
    let kinds: Vec<String> = app
        .get("/api/v1/audit-events?type=passkey.removed", &first)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(kinds.len(), 1, "{kinds:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE vars LIKE '%passkey_removed%'"),
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE vars LIKE '%passkey_added%'"),
        1
    );
}

/// Under `phishing_resistant`, a required user without MFA is offered the
/// passkey alone and cannot set up TOTP; a refused assertion leaves the
/// challenge for another try, as a wrong code does.
#[actix_web::test]
async fn a_new_user_under_phishing_resistant_sets_up_a_passkey_and_may_retry_an_assertion() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true, "mfa_methods": "phishing_resistant"}),
    )
    .await
    .ok(200);
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    assert_eq!(r.body["methods"], json!(["passkey"]));
    let grant = r.body["enrollment_token"].as_str().unwrap().to_string();
    app.post("/api/v1/me/mfa/totp", Some(&grant), json!({}))
        .await
        .problem(403, "phishing_resistant_required");
    let mut key = SoftKey::new();
    register(&app, &grant, &mut key, None).await.ok(201);
    // A refused assertion, then the right one, on the same challenge.
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let mut bad = key.assert(&r.body["passkey_options"]).await;
    bad["response"]["signature"] = json!("AAAA");
    let send = |assertion: Value| {
        let (app, token) = (&app, r.body["mfa_token"].clone());
        async move {
            app.post(
                "/api/v1/sessions/mfa",
                None,
                json!({"mfa_token": token, "passkey": assertion}),
            )
            .await
        }
    };
    let refused = send(bad).await.problem(401, "mfa_code_invalid");
    assert_eq!(refused.body["attempts_remaining"], 4);
    let good = key.assert(&r.body["passkey_options"]).await;
    send(good).await.ok(200);
    // A malformed assertion names its field.
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    app.post(
        "/api/v1/sessions/mfa",
        None,
        json!({"mfa_token": r.body["mfa_token"], "passkey": {"id": 1}}),
    )
    .await
    .problem(422, "validation_failed");
}

/// A sub-account's own `mfa_methods` binds its users (the stricter of the
/// account's and the sub-account's applies), not the account's own.
#[actix_web::test]
async fn a_sub_account_can_let_only_passkeys_count_for_its_users() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Globex", "require_mfa": true, "mfa_methods": "phishing_resistant"}),
        )
        .await
        .ok(201);
    assert_eq!(sub.body["mfa_methods"], "phishing_resistant");
    let sub = sub.id();
    app.create_user(&admin, "gus@globex.com", "editor", Some(&sub))
        .await;
    let r = app.login_raw("gus@globex.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    assert_eq!(r.body["methods"], json!(["passkey"]));
    // The account's own users are not bound by it.
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    let me = app.get("/api/v1/me", &ed.token).await.ok(200);
    assert_eq!(me.body["mfa"]["methods"], "any");
    // Turning it back to `any` lets the authenticator app count again.
    app.patch(
        &format!("/api/v1/sub-accounts/{sub}"),
        &admin.token,
        json!({"mfa_methods": "any"}),
    )
    .await
    .ok(200);
    let r = app.login_raw("gus@globex.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["methods"], json!(["totp", "passkey"]));
}

/// Where only passkeys count no code is handed out (a recovery token would
/// be refused at sign-in), and while MFA is required the last passkey
/// stays: a TOTP secret left behind does not count.
#[actix_web::test]
async fn where_only_passkeys_count_no_recovery_token_is_issued_and_the_last_passkey_stays() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true, "mfa_methods": "phishing_resistant"}),
    )
    .await
    .ok(200);
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required", "{}", r.text);
    let grant = r.body["enrollment_token"].as_str().unwrap().to_string();
    let mut key = SoftKey::new();
    let r = register(&app, &grant, &mut key, None).await.ok(201);
    assert!(r.body.get("recovery_token").is_none(), "{}", r.text);
    let first = r.id();
    let token = r.body["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&token),
        json!({"password": PASSWORD}),
    )
    .await
    .problem(403, "phishing_resistant_required");
    let me = app.get("/api/v1/me", &token).await.ok(200);
    assert_eq!(me.body["mfa"]["recovery_token"]["active"], false);
    // Her TOTP secret is still there, but it does not count here.
    let delete = |id: String| {
        let (app, token) = (&app, token.clone());
        async move {
            app.call(
                Method::DELETE,
                &format!("/api/v1/me/mfa/passkeys/{id}"),
                Some(&token),
                Some(json!({"password": PASSWORD})),
            )
            .await
        }
    };
    delete(first.clone()).await.problem(403, "mfa_enforced");
    // With a second passkey the first may go.
    let mut spare = SoftKey::new();
    register(&app, &token, &mut spare, Some(PASSWORD))
        .await
        .ok(201);
    delete(first).await.ok(204);
    login_with_passkey(&app, "ann@example.com", &mut spare)
        .await
        .ok(200);
}

/// A passwordless session that deletes the last passkey (with the
/// password, as deleting needs) goes on as a password session at aal1: it
/// neither ends without a word nor keeps a factor that is gone.
#[actix_web::test]
async fn a_passwordless_session_deleting_the_last_passkey_goes_on_with_the_password() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut key = SoftKey::new();
    let id = register(&app, &s.token, &mut key, None).await.ok(201).id();
    let pl = passwordless(&app, &mut key).await.ok(200);
    let (token, refresh) = (
        pl.body["access_token"].as_str().unwrap().to_string(),
        pl.body["refresh_token"].clone(),
    );
    app.call(
        Method::DELETE,
        &format!("/api/v1/me/mfa/passkeys/{id}"),
        Some(&token),
        Some(json!({"password": PASSWORD})),
    )
    .await
    .ok(204);
    let me = app.get("/api/v1/me", &token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], false);
    let fresh = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await
        .ok(200);
    assert_eq!(
        amr_of(fresh.body["access_token"].as_str().unwrap()),
        json!(["pwd"])
    );
    let sessions = app.get("/api/v1/me/sessions", &token).await.ok(200);
    let current = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["aal"], "aal1");
}

/// An app learns where passkeys work before offering them.
#[actix_web::test]
async fn the_relying_party_is_public() {
    let app = TestApp::new().await;
    let r = app
        .call(Method::GET, "/api/v1/passkeys/relying-party", None, None)
        .await
        .ok(200);
    assert_eq!(r.body["id"], "localhost");
    assert_eq!(
        r.body["origins"],
        json!([crate::authenticator::ORIGIN]),
        "{}",
        r.text
    );
}
