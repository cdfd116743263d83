//! Whom an action may touch (API.md, *Roles and permissions*): every
//! action on another user — change, disable, role, delete, Reset MFA,
//! signing in as them through an identity provider — is bounded by what the
//! actor (or the provider's ceiling) holds. The attack of issue 17: an
//! `sso.manage` holder's own provider vouches for an administrator's email.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::idp::MockIdp;
use crate::sso::{assurance, connect, edit_provider, exchange, now, round};
use crate::support::*;

async fn create_role(app: &TestApp, admin: &Session, name: &str, permissions: &[&str]) -> String {
    app.post(
        "/api/v1/roles",
        Some(&admin.token),
        json!({"name": name, "description": name, "permissions": permissions}),
    )
    .await
    .ok(201)
    .id()
}

/// A user of `role` with MFA, signed in at aal2.
async fn mfa_user(app: &TestApp, admin: &Session, email: &str, role: &str) -> (String, Session) {
    let id = app.create_user(admin, email, role, None).await;
    let s = app.login(email).await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    app.next_step();
    (id, app.login_mfa(email, &secret).await)
}

/// One sign-in through the mock provider as (`sub`, `email`) with `amr`:
/// the client's query (`login_code` or `error`).
async fn sso_as(
    app: &TestApp,
    idp: &MockIdp,
    provider: &str,
    sub: &str,
    email: &str,
    amr: Value,
) -> HashMap<String, String> {
    round(app, idp, provider, |nonce| {
        let mut claims = idp.claims(sub, email, nonce, now(app));
        claims["amr"] = amr;
        idp.key.sign("k1", &claims)
    })
    .await
}

fn failed_reasons(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed' AND details LIKE '%outside_ceiling%'")
}

#[actix_web::test]
async fn every_action_on_another_user_is_bounded_by_what_the_actor_holds() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let (admin, _) = mfa_admin(&app, "admin@corp.example").await;
    let help_desk = create_role(
        &app,
        &admin,
        "Help desk",
        &[
            "users.view",
            "users.manage",
            "users.reset_mfa",
            "sso.manage",
        ],
    )
    .await;
    let (_, hd) = mfa_user(&app, &admin, "hd@corp.example", &help_desk).await;
    let (ed, _) = mfa_user(&app, &admin, "ed@corp.example", "editor").await;
    let (boss, _) = mfa_user(&app, &admin, "boss@corp.example", "administrator").await;
    // The help desk connects a provider: its ceiling is the help desk's.
    let provider = connect(&app, &hd, &idp.issuer, json!({})).await;

    for (target, email, allowed) in [
        (&ed, "ed@corp.example", true),
        (&boss, "boss@corp.example", false),
    ] {
        let user = format!("/api/v1/users/{target}");
        let expect = |r: Resp, ok: u16| {
            if allowed {
                r.ok(ok);
            } else {
                r.problem(403, "forbidden");
            }
        };
        expect(
            app.patch(&user, &hd.token, json!({"display_name": "Renamed"}))
                .await,
            200,
        );
        expect(
            app.patch(&user, &hd.token, json!({"disabled": true})).await,
            200,
        );
        if allowed {
            app.patch(&user, &hd.token, json!({"disabled": false}))
                .await
                .ok(200);
        }
        expect(
            app.patch(&user, &hd.token, json!({"role": "lite"})).await,
            200,
        );
        // Signing in as them through the help desk's provider.
        let q = sso_as(
            &app,
            &idp,
            &provider,
            &format!("sub-{email}"),
            email,
            json!(["pwd"]),
        )
        .await;
        if allowed {
            assert!(q.contains_key("login_code"), "{q:?}");
        } else {
            assert_eq!(q["error"], "access_denied", "{q:?}");
        }
        expect(
            app.post(&format!("{user}/mfa/reset"), Some(&hd.token), json!({}))
                .await,
            204,
        );
        expect(app.delete(&user, &hd.token).await, 204);
    }
    // The administrator is untouched: still an administrator with MFA.
    let boss_row = app
        .get(&format!("/api/v1/users/{boss}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(boss_row.body["role"], "administrator");
    assert_eq!(boss_row.body["mfa_enabled"], true);
    assert_eq!(boss_row.body["display_name"], "boss@corp.example");
    assert_eq!(failed_reasons(&app), 1);
}

#[actix_web::test]
async fn a_help_desk_role_resets_an_editors_mfa_never_an_administrators() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "admin@corp.example").await;
    let help_desk = create_role(
        &app,
        &admin,
        "Help desk",
        &["users.view", "users.reset_mfa"],
    )
    .await;
    let (_, hd) = mfa_user(&app, &admin, "hd@corp.example", &help_desk).await;
    let (ed, _) = mfa_user(&app, &admin, "ed@corp.example", "editor").await;
    let (boss, _) = mfa_user(&app, &admin, "boss@corp.example", "administrator").await;
    app.post(
        &format!("/api/v1/users/{boss}/mfa/reset"),
        Some(&hd.token),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/api/v1/users/{ed}/mfa/reset"),
        Some(&hd.token),
        json!({}),
    )
    .await
    .ok(204);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM users WHERE id = '{boss}' AND mfa_enabled_at IS NOT NULL"
        )),
        1
    );
}

/// The attack of issue 17, step by step: an `sso.manage` holder's own
/// provider (trusted for MFA) vouches for the administrator's email.
#[actix_web::test]
async fn an_sso_manager_cannot_sign_in_as_an_administrator_through_their_provider() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let (admin, _) = mfa_admin(&app, "admin@corp.example").await;
    // Variant 4: an administrator without MFA in an account requiring it.
    app.create_user(&admin, "admin2@corp.example", "administrator", None)
        .await;
    let sso_role = create_role(&app, &admin, "SSO operator", &["sso.manage"]).await;
    app.create_user(&admin, "op@corp.example", &sso_role, None)
        .await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    let op = app.login_raw("op@corp.example", PASSWORD).await.ok(200);
    assert_eq!(op.body["status"], "mfa_enrollment_required");
    let (secret, _, _) = app
        .enroll(op.body["enrollment_token"].as_str().unwrap(), None)
        .await;
    app.next_step();
    let op = app.login_mfa("op@corp.example", &secret).await;
    app.get("/api/v1/users", &op.token)
        .await
        .problem(403, "forbidden");
    let provider = connect(
        &app,
        &op,
        &idp.issuer,
        json!({"trust_idp_mfa": true, "name": "Op's IdP"}),
    )
    .await;
    for (sub, email) in [
        ("sub-admin", "admin@corp.example"),
        ("sub-admin2", "admin2@corp.example"),
    ] {
        let q = sso_as(&app, &idp, &provider, sub, email, json!(["mfa"])).await;
        assert_eq!(
            q.get("error").map(String::as_str),
            Some("access_denied"),
            "{email}: {q:?}"
        );
        assert!(!q.contains_key("login_code"));
    }
    assert_eq!(failed_reasons(&app), 2);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    // The op themself is within their own ceiling (and proves their
    // password once to link).
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-op",
        "op@corp.example",
        json!(["mfa"]),
    )
    .await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "link_required");
}

/// The ceiling follows whoever last set the provider's fields: an
/// administrator's provider reaches administrators until an `sso.manage`
/// holder edits it; links made before do not outlive that.
#[actix_web::test]
async fn the_ceiling_is_the_last_configurers_and_binds_existing_links() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let sso_role = create_role(&app, &admin, "SSO operator", &["sso.manage"]).await;
    app.create_user(&admin, "op@corp.example", &sso_role, None)
        .await;
    let op = app.login("op@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-admin",
        "admin@corp.example",
        json!(["pwd"]),
    )
    .await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "link_required");
    let r = app
        .post(
            "/api/v1/sessions/sso/link",
            None,
            json!({"link_token": r.body["link_token"], "password": PASSWORD}),
        )
        .await
        .ok(200);
    Session::from_body(&r.body);
    // The op renames the provider: its ceiling drops to theirs.
    edit_provider(&app, &op.token, &provider, json!({"name": "Renamed"})).await;
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-admin",
        "admin@corp.example",
        json!(["pwd"]),
    )
    .await;
    assert_eq!(q["error"], "access_denied");
    // The administrator saves it again: the ceiling is theirs again.
    edit_provider(&app, &admin.token, &provider, json!({"name": "Corp IdP"})).await;
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-admin",
        "admin@corp.example",
        json!(["pwd"]),
    )
    .await;
    let s = Session::from_body(&exchange(&app, &q["login_code"]).await.ok(200).body);
    assert_eq!(
        assurance(&app, &s.token).await,
        (json!(["sso"]), "aal1".into())
    );
}

/// A user provisioned by one provider has no password to prove: a second
/// provider (an `sso.manage` holder's own) vouching for their email does
/// not take them over, whatever their role.
#[actix_web::test]
async fn a_second_provider_cannot_claim_a_user_another_provider_signs_in() {
    let app = TestApp::new().await;
    let corp = MockIdp::start();
    let rogue = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let corp_provider = connect(
        &app,
        &admin,
        &corp.issuer,
        json!({"jit_provisioning": true, "default_role": "editor"}),
    )
    .await;
    let q = sso_as(
        &app,
        &corp,
        &corp_provider,
        "sub-jo",
        "jo@corp.example",
        json!(["pwd"]),
    )
    .await;
    Session::from_body(&exchange(&app, &q["login_code"]).await.ok(200).body);
    let sso_role = create_role(&app, &admin, "SSO operator", &["sso.manage"]).await;
    app.create_user(&admin, "op@corp.example", &sso_role, None)
        .await;
    let op = app.login("op@corp.example").await;
    let rogue_provider = connect(&app, &op, &rogue.issuer, json!({"name": "Rogue"})).await;
    let q = sso_as(
        &app,
        &rogue,
        &rogue_provider,
        "attacker",
        "jo@corp.example",
        json!(["pwd"]),
    )
    .await;
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("user_not_found"),
        "{q:?}"
    );
    // Ending the corporate provider's links (another client, and back)
    // frees nobody for the taking.
    for client in ["another-client", crate::idp::CLIENT_ID] {
        edit_provider(
            &app,
            &op.token,
            &corp_provider,
            json!({"client_id": client}),
        )
        .await;
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    let q = sso_as(
        &app,
        &rogue,
        &rogue_provider,
        "attacker",
        "jo@corp.example",
        json!(["pwd"]),
    )
    .await;
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("user_not_found"),
        "{q:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed' AND details LIKE '%no_password_to_prove%'"),
        2
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
}

/// A flow started under a provider's old settings does not finish under
/// its new ones (say, a redirect URI withdrawn), and an MFA challenge an
/// SSO sign-in led to dies with a change of the provider.
#[actix_web::test]
async fn what_a_provider_started_does_not_outlive_a_change_of_it() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let (admin, secret) = mfa_admin(&app, "admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    // Linked first (password proven once).
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-admin",
        "admin@corp.example",
        json!(["pwd"]),
    )
    .await;
    let r = crate::sso::exchange_linking(&app, &q["login_code"])
        .await
        .ok(200);
    assert_eq!(r.body["status"], "mfa_required");
    // A flow in progress when the provider changes.
    let started = crate::sso::authorize(&app, &provider).await;
    edit_provider(&app, &admin.token, &provider, json!({"name": "Renamed"})).await;
    idp.answer(idp.key.sign(
        "k1",
        &idp.claims(
            "sub-admin",
            "admin@corp.example",
            &started["nonce"],
            now(&app),
        ),
    ));
    let back = crate::sso::callback(&app, &started["state"]).await;
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("flow_expired"),
        "{back:?}"
    );
    // An MFA challenge from an SSO sign-in, then the provider changes.
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-admin",
        "admin@corp.example",
        json!(["pwd"]),
    )
    .await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required");
    edit_provider(
        &app,
        &admin.token,
        &provider,
        json!({"trust_idp_mfa": false}),
    )
    .await;
    app.next_step();
    app.second_step(r.body["mfa_token"].as_str().unwrap(), &app.code(&secret, 0))
        .await
        .problem(401, "challenge_expired");
}

/// A link token does not outlive a change of its provider.
#[actix_web::test]
async fn a_link_token_dies_with_a_change_of_its_provider() {
    let app = TestApp::new().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
    let q = sso_as(
        &app,
        &idp,
        &provider,
        "sub-admin",
        "admin@corp.example",
        json!(["pwd"]),
    )
    .await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    assert_eq!(r.body["status"], "link_required");
    edit_provider(
        &app,
        &admin.token,
        &provider,
        json!({"trust_idp_mfa": true}),
    )
    .await;
    app.post(
        "/api/v1/sessions/sso/link",
        None,
        json!({"link_token": r.body["link_token"], "password": PASSWORD}),
    )
    .await
    .problem(401, "invalid_credentials");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
}
