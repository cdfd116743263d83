//! The MFA rollout (API.md, *MFA rollout*): deadlines and their reminder
//! mails, MFA required of one user, the coverage report, remembered devices
//! (and every change that forgets them), step-up. The clock moves; nothing
//! sleeps.

use actix_web::http::Method;
use chrono::{Duration, SecondsFormat};
use serde_json::{json, Value};

use crate::authenticator::SoftKey;
use crate::mail::mails_to;
use crate::passkeys::register;
use crate::support::{amr_of, build_request, mfa_admin, to_resp, Resp, Session, TestApp, PASSWORD};

/// RFC 3339 for `days` from the test clock's now.
fn in_days(app: &TestApp, days: i64) -> String {
    (app.clock.now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn same_instant(a: &Value, b: &str) {
    let a =
        chrono::DateTime::parse_from_rfc3339(a.as_str().unwrap_or_else(|| panic!("{a}"))).unwrap();
    assert_eq!(a, chrono::DateTime::parse_from_rfc3339(b).unwrap());
}

#[actix_web::test]
async fn before_the_deadline_required_users_sign_in_and_are_told_from_it_they_enroll() {
    let app = TestApp::new().await;
    let (admin, secret) = mfa_admin(&app, "ann@example.com").await;
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let deadline = in_days(&app, 10);
    // A deadline belongs to a policy that is on.
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa_from": deadline}),
    )
    .await
    .problem(422, "validation_failed");
    let account = app
        .patch(
            "/api/v1/account",
            &admin.token,
            json!({"require_mfa": true, "require_mfa_from": deadline}),
        )
        .await
        .ok(200);
    same_instant(&account.body["require_mfa_from"], &deadline);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated", "{}", r.text);
    same_instant(&r.body["mfa"]["setup_due_at"], &deadline);
    let ed = Session::from_body(&r.body);
    let me = app.get("/api/v1/me", &ed.token).await.ok(200);
    assert_eq!(me.body["mfa"]["required"], true);
    assert_eq!(me.body["mfa"]["required_by"], "account");
    same_instant(&me.body["mfa"]["setup_due_at"], &deadline);
    // From the deadline on: enrollment first.
    app.clock.advance(10 * 24 * 3600);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required", "{}", r.text);
    let admin = app.login_mfa("ann@example.com", &secret).await;
    // Turning the policy off drops its deadline.
    let account = app
        .patch(
            "/api/v1/account",
            &admin.token,
            json!({"require_mfa": false}),
        )
        .await
        .ok(200);
    assert!(account.body["require_mfa_from"].is_null());
    // A sub-account's deadline binds its users the same way.
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Globex", "require_mfa": true, "require_mfa_from": in_days(&app, 2)}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "gus@globex.com", "editor", Some(&sub))
        .await;
    let r = app.login_raw("gus@globex.com", PASSWORD).await.ok(200);
    assert!(r.body["mfa"]["setup_due_at"].is_string(), "{}", r.text);
    app.clock.advance(2 * 24 * 3600 + 1);
    let r = app.login_raw("gus@globex.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    let admin = app.login_mfa("ann@example.com", &secret).await;
    let events = app
        .get(
            "/api/v1/audit-events?type=account.policy_changed",
            &admin.token,
        )
        .await
        .ok(200);
    assert!(events.body["items"][0]["details"]["require_mfa_from"].is_null());
}

fn send_reminders(app: &TestApp) -> usize {
    let mut conn = app.state.pool.get().unwrap();
    latchkey::domain::reminders::send_due(&mut conn, &app.config, app.clock.now_naive()).unwrap()
}

#[actix_web::test]
async fn reminders_go_seven_three_and_one_day_before_the_deadline_each_once() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let admin = app.signup_and_login("ann@example.com").await;
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    app.create_user(&admin, "fay@example.com", "editor", None)
        .await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true, "require_mfa_from": in_days(&app, 10)}),
    )
    .await
    .ok(200);
    // Fay enrolls: she gets no reminder. Ann (the admin) and Ed do.
    let fay = app.login("fay@example.com").await;
    app.enroll(&fay.token, None).await;
    assert_eq!(send_reminders(&app), 0, "ten days before: none yet");
    app.clock.advance(3 * 24 * 3600 + 60); // 7 days minus a minute left
    assert_eq!(send_reminders(&app), 2);
    assert_eq!(send_reminders(&app), 0, "each once");
    let mails = mails_to(&app, &smtp, "ed@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .subject
            .starts_with("Set up multi-factor authentication by"),
        "{}",
        mails[0].subject
    );
    assert!(
        mails[0].text.contains("7 days from now"),
        "{}",
        mails[0].text
    );
    app.clock.advance(4 * 24 * 3600); // 3 days left, less a minute
    assert_eq!(send_reminders(&app), 2);
    assert_eq!(mails_to(&app, &smtp, "ed@example.com").await.len(), 2);
    app.clock.advance(2 * 24 * 3600); // 1 day left
    assert_eq!(send_reminders(&app), 2);
    assert_eq!(send_reminders(&app), 0);
    let mails = mails_to(&app, &smtp, "ed@example.com").await;
    assert_eq!(mails.len(), 3);
    assert!(
        mails[2].text.contains("1 day from now"),
        "{}",
        mails[2].text
    );
    app.clock.advance(24 * 3600); // past the deadline: no more
    assert_eq!(send_reminders(&app), 0);
    assert!(mails_to(&app, &smtp, "fay@example.com")
        .await
        .iter()
        .all(|m| !m.subject.starts_with("Set up")));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'mfa.reminder_sent'"),
        6
    );
}

#[actix_web::test]
async fn a_users_own_requirement_applies_at_once_and_turning_it_off_leaves_the_scopes() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let ed = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let user = app
        .patch(
            &format!("/api/v1/users/{ed}"),
            &admin.token,
            json!({"require_mfa": true}),
        )
        .await
        .ok(200);
    assert_eq!(user.body["require_mfa"], true);
    assert_eq!(user.body["mfa_required"], true);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    // With the account's deadline ahead too, the user's own rule applies.
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true, "require_mfa_from": in_days(&app, 5)}),
    )
    .await
    .ok(200);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    // Off for the user: the account's rule remains, with its deadline.
    app.patch(
        &format!("/api/v1/users/{ed}"),
        &admin.token,
        json!({"require_mfa": false}),
    )
    .await
    .ok(200);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated", "{}", r.text);
    let me = app
        .get("/api/v1/me", r.body["access_token"].as_str().unwrap())
        .await
        .ok(200);
    assert_eq!(me.body["mfa"]["required_by"], "account");
    let events = app
        .get(
            "/api/v1/audit-events?type=user.mfa_policy_changed",
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 2);
    // Only a holder of Reset MFA may require it of someone.
    let fay = app
        .create_user(&admin, "fay@example.com", "manager", None)
        .await;
    let fay_session = app.login("fay@example.com").await;
    app.patch(
        &format!("/api/v1/users/{ed}"),
        &fay_session.token,
        json!({"require_mfa": true}),
    )
    .await
    .problem(403, "forbidden");
    let _ = fay;
}

#[actix_web::test]
async fn coverage_counts_each_scope_in_json_and_csv() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true, "require_mfa_from": in_days(&app, 5)}),
    )
    .await
    .ok(200);
    // The account: Ann (TOTP), Ed (none, due), Fay (none, her own rule:
    // overdue), Gil (a passkey).
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let fay = app
        .create_user(&admin, "fay@example.com", "editor", None)
        .await;
    app.patch(
        &format!("/api/v1/users/{fay}"),
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    app.create_user(&admin, "gil@example.com", "editor", None)
        .await;
    let gil = app.login("gil@example.com").await;
    register(&app, &gil.token, &mut SoftKey::new(), None)
        .await
        .ok(201);
    // A sub-account requiring MFA at once, and a formula-like name.
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "=Globex", "require_mfa": true}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "gus@globex.com", "editor", Some(&sub))
        .await;
    app.create_user(&admin, "hal@globex.com", "editor", Some(&sub))
        .await;
    let empty = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Initech"}),
        )
        .await
        .ok(201)
        .id();
    let r = app.get("/api/v1/mfa-coverage", &admin.token).await.ok(200);
    let rows = r.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let account = &rows[0];
    assert_eq!(account["scope"], "account");
    assert_eq!(account["users"], 4);
    assert_eq!(account["enrolled"], 2);
    assert_eq!(
        account["by_method"],
        json!({"totp": 1, "passkey": 1, "sso_mfa": 0})
    );
    assert_eq!(account["due"], 1);
    assert_eq!(account["overdue"], 1);
    assert!(account["due_at"].is_string());
    let globex = &rows[1];
    assert_eq!(globex["sub_account_id"], sub);
    assert_eq!(
        (globex["users"].clone(), globex["enrolled"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(
        (globex["due"].clone(), globex["overdue"].clone()),
        (json!(0), json!(2))
    );
    assert!(globex["due_at"].is_null());
    assert_eq!(rows[2]["sub_account_id"], empty);
    assert_eq!(rows[2]["users"], 0);
    // The same rows as CSV; a name a spreadsheet would run is quoted.
    let srv = actix_web::test::init_service(latchkey::app::build(app.state.clone())).await;
    let req = build_request(
        Method::GET,
        "/api/v1/mfa-coverage",
        Some(&admin.token),
        None,
    )
    .insert_header(("accept", "text/csv"))
    .to_request();
    let csv = to_resp(actix_web::test::call_service(&srv, req).await)
        .await
        .ok(200);
    assert!(csv.content_type().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 4, "{}", csv.text);
    assert!(lines[0].starts_with("scope,sub_account_id,name,require_mfa"));
    assert!(lines[2].contains(",'=Globex,"), "{}", lines[2]);
    // Read by whoever lists users, nobody else.
    let viewer = app
        .create_user(&admin, "ro@example.com", "read_only", None)
        .await;
    let _ = viewer;
    let ro = app.login("ro@example.com").await;
    app.get("/api/v1/mfa-coverage", &ro.token)
        .await
        .problem(403, "forbidden");
}

/// Password and TOTP with "remember this device": the second step's answer.
async fn remembered(app: &TestApp, email: &str, secret: &str) -> Resp {
    let r = app.login_raw(email, PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required", "{}", r.text);
    let answer = app
        .post(
            "/api/v1/sessions/mfa",
            None,
            json!({"mfa_token": r.body["mfa_token"], "code": app.code(secret, 0), "remember_device": true}),
        )
        .await
        .ok(200);
    app.next_step();
    answer
}

async fn login_with_device(app: &TestApp, email: &str, device: &Value) -> Resp {
    app.post(
        "/api/v1/sessions",
        None,
        json!({"email": email, "password": PASSWORD, "device_token": device}),
    )
    .await
    .ok(200)
}

#[actix_web::test]
async fn a_remembered_device_skips_the_second_step_until_it_is_forgotten_and_must_step_up() {
    let app = TestApp::new().await;
    let (admin, secret) = mfa_admin(&app, "ann@example.com").await;
    // Off by default: nothing is remembered.
    let answer = remembered(&app, "ann@example.com", &secret).await;
    assert!(answer.body.get("device_token").is_none());
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"remember_device_days": 91}),
    )
    .await
    .problem(422, "validation_failed");
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"remember_device_days": 30}),
    )
    .await
    .ok(200);
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["remember_device_days"], 30);
    let answer = remembered(&app, "ann@example.com", &secret).await;
    let device = answer.body["device_token"].clone();
    assert!(device.as_str().unwrap().starts_with("lkd_"));
    // Stored hashed.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM remembered_devices WHERE token_hash = '{}'",
            device.as_str().unwrap()
        )),
        0
    );
    let r = login_with_device(&app, "ann@example.com", &device).await;
    assert_eq!(r.body["status"], "authenticated", "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(amr_of(&token), json!(["pwd", "dev"]));
    // A remembered-device session proved no factor now: it steps up.
    app.patch("/api/v1/account", &token, json!({"require_mfa": true}))
        .await
        .problem(403, "step_up_required");
    let options = app
        .post(
            "/api/v1/sessions/current/step-up/options",
            Some(&token),
            json!({}),
        )
        .await
        .ok(200);
    assert_eq!(options.body["methods"], json!(["totp"]));
    let stepped = app
        .post(
            "/api/v1/sessions/current/step-up",
            Some(&token),
            json!({"code": app.code(&secret, 0)}),
        )
        .await
        .ok(200);
    app.next_step();
    let token = stepped.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(amr_of(&token), json!(["pwd", "otp"]));
    app.patch("/api/v1/account", &token, json!({"require_mfa": true}))
        .await
        .ok(200);
    // The token is bound to its user.
    let bob = app
        .create_user(&admin, "bob@example.com", "editor", None)
        .await;
    let grant = app.login_raw("bob@example.com", PASSWORD).await.ok(200);
    let grant = grant.body["enrollment_token"].as_str().unwrap().to_string();
    let (bob_secret, _, _) = app.enroll(&grant, None).await;
    let r = login_with_device(&app, "bob@example.com", &device).await;
    assert_eq!(r.body["status"], "mfa_required");
    let _ = bob_secret;
    // Listed, and forgotten by its owner.
    let devices = app.get("/api/v1/me/devices", &token).await.ok(200);
    assert_eq!(devices.body["total"], 1);
    let id = devices.body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(devices.body["items"][0]["method"], "otp");
    app.delete(&format!("/api/v1/me/devices/{id}"), &token)
        .await
        .ok(204);
    app.delete(&format!("/api/v1/me/devices/{id}"), &token)
        .await
        .problem(404, "not_found");
    let r = login_with_device(&app, "ann@example.com", &device).await;
    assert_eq!(r.body["status"], "mfa_required");
    // Turning the setting off, or the days running out, forget them too.
    let device = remembered(&app, "ann@example.com", &secret).await.body["device_token"].clone();
    app.clock.advance(31 * 24 * 3600);
    let r = login_with_device(&app, "ann@example.com", &device).await;
    assert_eq!(r.body["status"], "mfa_required");
    let fresh = app.login_mfa("ann@example.com", &secret).await;
    let device = remembered(&app, "ann@example.com", &secret).await.body["device_token"].clone();
    app.patch(
        "/api/v1/account",
        &fresh.token,
        json!({"remember_device_days": 0}),
    )
    .await
    .ok(200);
    let r = login_with_device(&app, "ann@example.com", &device).await;
    assert_eq!(r.body["status"], "mfa_required");
    let events = app
        .get("/api/v1/audit-events?type=device.remembered", &fresh.token)
        .await
        .ok(200);
    assert_eq!(events.body["total"], 3);
    let _ = bob;
}

/// A device token of `email`'s, from a second step with TOTP.
async fn device_of(app: &TestApp, email: &str, secret: &str) -> Value {
    let token = remembered(app, email, secret).await.body["device_token"].clone();
    assert!(token.is_string());
    token
}

/// The device no longer skips anything, and no device is left.
async fn forgotten(app: &TestApp, email: &str, device: &Value) {
    let r = login_with_device(app, email, device).await;
    if r.body["status"] == "authenticated" {
        let token = r.body["access_token"].as_str().unwrap();
        assert_ne!(amr_of(token), json!(["pwd", "dev"]), "{}", r.text);
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM remembered_devices"), 0);
}

#[actix_web::test]
async fn every_password_or_factor_change_forgets_the_remembered_devices() {
    let app = TestApp::new().await;
    let (admin, admin_secret) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"remember_device_days": 30}),
    )
    .await
    .ok(200);
    let ed = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let s = app.login("ed@example.com").await;
    let (mut secret, _, _) = app.enroll(&s.token, None).await;
    let email = "ed@example.com";

    // A password change.
    let device = device_of(&app, email, &secret).await;
    let s = app.login_mfa(email, &secret).await;
    app.call(
        Method::PUT,
        "/api/v1/me/password",
        Some(&s.token),
        Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
    )
    .await
    .ok(204);
    app.sql("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = 'ann@example.com') WHERE email = 'ed@example.com'");
    forgotten(&app, email, &device).await;

    // A new TOTP secret.
    let device = device_of(&app, email, &secret).await;
    let s = app.login_mfa(email, &secret).await;
    secret = app.enroll(&s.token, Some(PASSWORD)).await.0;
    forgotten(&app, email, &device).await;

    // A passkey removed.
    let s = app.login_mfa(email, &secret).await;
    let passkey = register(&app, &s.token, &mut SoftKey::new(), Some(PASSWORD))
        .await
        .ok(201)
        .id();
    let device = device_of(&app, email, &secret).await;
    let s = app.login_mfa(email, &secret).await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/me/mfa/passkeys/{passkey}"),
        Some(&s.token),
        Some(json!({"password": PASSWORD})),
    )
    .await
    .ok(204);
    forgotten(&app, email, &device).await;

    // One device forgotten by an administrator (who steps up for it).
    let device = device_of(&app, email, &secret).await;
    let admin = app.login_mfa("ann@example.com", &admin_secret).await;
    let list = app
        .get(&format!("/api/v1/users/{ed}/devices"), &admin.token)
        .await
        .ok(200);
    assert_eq!(list.body["total"], 1);
    let id = list.body["items"][0]["id"].as_str().unwrap().to_string();
    app.delete(&format!("/api/v1/users/{ed}/devices/{id}"), &admin.token)
        .await
        .ok(204);
    forgotten(&app, email, &device).await;

    // MFA disabled.
    let device = device_of(&app, email, &secret).await;
    let s = app.login_mfa(email, &secret).await;
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": app.code(&secret, 0)})),
    )
    .await
    .ok(204);
    app.next_step();
    forgotten(&app, email, &device).await;

    // Reset MFA by an administrator.
    let s = app.login(email).await;
    secret = app.enroll(&s.token, None).await.0;
    let device = device_of(&app, email, &secret).await;
    let admin = app.login_mfa("ann@example.com", &admin_secret).await;
    app.post(
        &format!("/api/v1/users/{ed}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(204);
    forgotten(&app, email, &device).await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'device.revoked'"),
        6
    );
}

#[actix_web::test]
async fn changes_on_others_need_a_factor_proven_in_the_last_ten_minutes() {
    let app = TestApp::new().await;
    let (admin, secret) = mfa_admin(&app, "ann@example.com").await;
    let ed = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Globex"}),
        )
        .await
        .ok(201)
        .id();
    app.clock.advance(11 * 60);
    // Reading is fine; changing others' MFA, roles, policies is not.
    app.get("/api/v1/users", &admin.token).await.ok(200);
    app.get("/api/v1/roles", &admin.token).await.ok(200);
    let refusals = [
        app.post(
            &format!("/api/v1/users/{ed}/mfa/reset"),
            Some(&admin.token),
            json!({}),
        )
        .await,
        app.patch(
            &format!("/api/v1/users/{ed}"),
            &admin.token,
            json!({"role": "manager"}),
        )
        .await,
        app.patch(
            &format!("/api/v1/users/{ed}"),
            &admin.token,
            json!({"require_mfa": true}),
        )
        .await,
        app.post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Help desk", "permissions": ["users.view"]}),
        )
        .await,
        app.patch(
            "/api/v1/account",
            &admin.token,
            json!({"require_mfa": true}),
        )
        .await,
        app.patch(
            &format!("/api/v1/sub-accounts/{sub}"),
            &admin.token,
            json!({"require_mfa": true}),
        )
        .await,
    ];
    for r in refusals {
        r.problem(403, "step_up_required");
    }
    // Renaming is not a policy change, nor is a value sent as it is.
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"name": "Acme 2", "require_mfa": false, "remember_device_days": 0}),
    )
    .await
    .ok(200);
    app.patch(
        &format!("/api/v1/users/{ed}"),
        &admin.token,
        json!({"display_name": "Ed", "role": "editor", "require_mfa": false}),
    )
    .await
    .ok(200);
    // A recovery token does not step up; a wrong code counts and fails.
    app.post(
        "/api/v1/sessions/current/step-up",
        Some(&admin.token),
        json!({"code": "ABCD-EFGH-JKLM-NPQR"}),
    )
    .await
    .problem(422, "validation_failed");
    app.post(
        "/api/v1/sessions/current/step-up",
        Some(&admin.token),
        json!({"code": "000000"}),
    )
    .await
    .problem(401, "mfa_code_invalid");
    let stepped = app
        .post(
            "/api/v1/sessions/current/step-up",
            Some(&admin.token),
            json!({"code": app.code(&secret, 0)}),
        )
        .await
        .ok(200);
    app.next_step();
    assert_eq!(stepped.body["session_id"], admin.session_id);
    // The refresh token from before the step-up is done.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": admin.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    let token = stepped.body["access_token"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/users/{ed}/mfa/reset"),
        Some(&token),
        json!({}),
    )
    .await
    .ok(204);
    app.patch(
        &format!("/api/v1/users/{ed}"),
        &token,
        json!({"role": "manager"}),
    )
    .await
    .ok(200);
    let events = app
        .get("/api/v1/audit-events?type=session.stepped_up", &token)
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1);
    assert_eq!(events.body["items"][0]["details"]["method"], "otp");
    // Ten minutes on, again.
    app.clock.advance(10 * 60 + 1);
    app.patch("/api/v1/account", &token, json!({"require_mfa": true}))
        .await
        .problem(403, "step_up_required");
}

#[actix_web::test]
async fn a_passkey_steps_a_session_up_and_only_a_passkey_where_only_passkeys_count() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let mut key = SoftKey::new();
    let r = register(&app, &s.token, &mut key, None).await.ok(201);
    let token = r.body["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.advance(11 * 60);
    app.patch(
        "/api/v1/account",
        &token,
        json!({"mfa_methods": "phishing_resistant"}),
    )
    .await
    .problem(403, "step_up_required");
    let options = app
        .post(
            "/api/v1/sessions/current/step-up/options",
            Some(&token),
            json!({}),
        )
        .await
        .ok(200);
    assert_eq!(options.body["methods"], json!(["passkey"]));
    let assertion = key.assert(&options.body["passkey_options"]).await;
    let stepped = app
        .post(
            "/api/v1/sessions/current/step-up",
            Some(&token),
            json!({"passkey": assertion.clone()}),
        )
        .await
        .ok(200);
    // The ceremony is spent.
    let token = stepped.body["access_token"].as_str().unwrap().to_string();
    app.post(
        "/api/v1/sessions/current/step-up",
        Some(&token),
        json!({"passkey": assertion}),
    )
    .await
    .problem(401, "challenge_expired");
    app.patch(
        "/api/v1/account",
        &token,
        json!({"mfa_methods": "phishing_resistant"}),
    )
    .await
    .ok(200);
    // A code is no step-up where only passkeys count.
    app.post(
        "/api/v1/sessions/current/step-up",
        Some(&token),
        json!({"code": "123456"}),
    )
    .await
    .problem(403, "phishing_resistant_required");
}
