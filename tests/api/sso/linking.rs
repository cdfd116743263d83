//! Whom a sign-in reaches: linking by verified email in the provider's
//! scope, the password proven once, just-in-time provisioning, Latchkey's
//! MFA policy on top.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;
use crate::idp::{MockIdp, CLIENT_ID};

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
    edit_provider(
        &app,
        &admin.token,
        &provider,
        json!({"client_id": "another-client"}),
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    edit_provider(
        &app,
        &admin.token,
        &provider,
        json!({"client_id": CLIENT_ID}),
    )
    .await;
    let q = round(&app, &idp, &provider, sign).await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "link_required");
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
    edit_provider(
        &app,
        &admin.token,
        &provider,
        json!({"trust_idp_mfa": true}),
    )
    .await;
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
    let s = Session::from(verified.session);
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
