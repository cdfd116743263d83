//! Transitions: what a session, token or challenge obtained *before* a change
//! (a new factor, MFA disabled or reset, a role changed) can still do *after*
//! it — plus the invariants that must hold when such changes race. One
//! file on purpose (over 500 lines): SECURITY.md's transitions table points
//! here, and reading every before/after side by side is the point.

use serde_json::{json, Value};

use crate::support::{Session, TestApp, PASSWORD};

/// Two sessions of one fresh administrator ("A" and "B").
async fn two_sessions(app: &TestApp, email: &str) -> (Session, Session) {
    let a = app.signup_and_login(email).await;
    let mut b = app.login(email).await;
    b.account_id = a.account_id.clone();
    (a, b)
}

/// The attack, step by step: an old aal1 session plus the password
/// must not reach a recovery token or a new secret once MFA is on.
#[actix_web::test]
async fn a_session_from_before_mfa_cannot_mint_factors_after_it() {
    let app = TestApp::new().await;
    let (a, b) = two_sessions(&app, "ann@example.com").await;
    let (secret, _, verified) = app.enroll(&b.token, None).await;
    // A ended with the new factor: its access and refresh tokens are dead.
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&a.token),
        json!({"password": PASSWORD}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/me/mfa/totp",
        Some(&a.token),
        json!({"password": PASSWORD}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": a.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    // B is the same session, now aal2, with fresh tokens in the answer.
    let session = &verified.session;
    assert_eq!(session.session_id, b.session_id);
    let fresh = session.access_token.as_str();
    assert_ne!(fresh, b.token);
    // B's refresh token from before the factor is no aal2 credential: only
    // the chain handed out with the factor continues.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": b.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    let listed = app.get("/api/v1/me/sessions", fresh).await.ok(200);
    assert_eq!(listed.body["total"], 1, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["aal"], "aal2");
    assert_eq!(listed.body["items"][0]["amr"], json!(["pwd", "otp"]));
    // The seed flow: right after enabling, a new recovery token in that session.
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(fresh),
        json!({"password": PASSWORD}),
    )
    .await
    .ok(201);
    let refreshed = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": session.refresh_token}),
        )
        .await
        .ok(200);
    assert_eq!(refreshed.body["session_id"], b.session_id.as_str());
    // The real user's codes still work.
    app.login_mfa("ann@example.com", &secret).await;
}

#[actix_web::test]
async fn a_new_factor_consumes_open_challenges_and_enrollment_tokens() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    // Two enrollment tokens; enrolling with the first kills the second.
    let first = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let second = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let first = first.body["enrollment_token"].as_str().unwrap().to_string();
    let second = second.body["enrollment_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (secret, _, _) = app.enroll(&first, None).await;
    app.post("/api/v1/me/mfa/totp", Some(&second), json!({}))
        .await
        .problem(401, "unauthorized");
    app.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&second),
        json!({"code": app.code(&secret, 0)}),
    )
    .await
    .problem(401, "unauthorized");

    // An open MFA challenge dies when the user re-enrolls.
    let ed = app.login_mfa("ed@example.com", &secret).await;
    let pending = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let mfa_token = pending.body["mfa_token"].as_str().unwrap().to_string();
    let (new_secret, _, _) = app.enroll(&ed.token, Some(PASSWORD)).await;
    app.second_step(&mfa_token, &app.code(&new_secret, 0))
        .await
        .problem(401, "challenge_expired");
}

/// Forges what a session from before this release may be: aal1 on a user
/// who has MFA (the state the attack left behind).
fn downgrade_session(app: &TestApp, session_id: &str) {
    app.sql(&format!(
        "UPDATE sessions SET amr = 'pwd' WHERE id = '{session_id}'"
    ));
}

#[actix_web::test]
async fn managing_mfa_needs_an_aal2_session_and_the_password() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, verified) = app.enroll(&s.token, None).await;
    let token = verified.session.access_token;
    downgrade_session(&app, &s.session_id);
    for (path, body) in [
        ("/api/v1/me/mfa/totp", json!({"password": PASSWORD})),
        (
            "/api/v1/me/mfa/recovery-token",
            json!({"password": PASSWORD}),
        ),
    ] {
        app.post(path, Some(&token), body)
            .await
            .problem(403, "mfa_required_for_action");
    }
    let r = app
        .call(
            actix_web::http::Method::DELETE,
            "/api/v1/me/mfa",
            Some(&token),
            Some(json!({"password": PASSWORD, "code": app.code(&secret, 0)})),
        )
        .await;
    r.problem(403, "mfa_required_for_action");
    assert_eq!(
        app.get("/api/v1/me", &token).await.body["mfa"]["enabled"],
        true
    );
    // At aal2 the password is still needed.
    let aal2 = app.login_mfa("ann@example.com", &secret).await;
    app.post("/api/v1/me/mfa/totp", Some(&aal2.token), json!({}))
        .await
        .problem(403, "reauthentication_required");
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&aal2.token),
        json!({}),
    )
    .await
    .problem(403, "reauthentication_required");
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&aal2.token),
        json!({"password": PASSWORD}),
    )
    .await
    .ok(201);
}

#[actix_web::test]
async fn wrong_password_rechecks_count_toward_the_login_lockout() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let wrong = json!({"current_password": "not the password at all", "new_password": "another long password"});
    for _ in 0..5 {
        app.call(
            actix_web::http::Method::PUT,
            "/api/v1/me/password",
            Some(&s.token),
            Some(wrong.clone()),
        )
        .await
        .problem(403, "reauthentication_required");
    }
    // Locked now: the right password too, on this route and at login.
    let right = json!({"current_password": PASSWORD, "new_password": "another long password"});
    let r = app
        .call(
            actix_web::http::Method::PUT,
            "/api/v1/me/password",
            Some(&s.token),
            Some(right),
        )
        .await
        .problem(429, "too_many_attempts");
    assert!(r.retry_after() >= 1);
    app.login_raw("ann@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    let events = app
        .get(
            "/api/v1/audit-events?type=reauthentication.failed",
            &s.token,
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 5, "{}", events.text);
    // The lock ends; the right password works and resets the count.
    app.clock.advance(3600);
    app.login("ann@example.com").await;
}

/// Wrong codes on fresh challenges until the second step locks (429).
async fn wrong_codes_until_locked(app: &TestApp, email: &str) -> (usize, Value) {
    let mut sent = 0;
    loop {
        let r = app.login_raw(email, PASSWORD).await.ok(200);
        let token = r.body["mfa_token"].as_str().unwrap().to_string();
        for _ in 0..5 {
            let r = app.second_step(&token, "000000").await;
            if r.status == 429 {
                return (sent, r.body);
            }
            r.problem(401, "mfa_code_invalid");
            sent += 1;
            assert!(sent <= 40, "never locked");
        }
    }
}

#[actix_web::test]
async fn the_second_factor_lock_escalates_and_only_a_correct_code_clears_it() {
    let app = TestApp::new().await;
    app.clock.freeze();
    let (admin, admin_secret) = crate::support::mfa_admin(&app, "ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    let (secret, _, _) = app.enroll(&ed.token, None).await;
    // A code that would be right is useless while the wrong ones pile up.
    let (sent, first) = wrong_codes_until_locked(&app, "ed@example.com").await;
    assert_eq!(sent, 10);
    assert_eq!(first["retry_after"], 15 * 60);
    let user = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200);
    assert!(user.body["mfa_locked_until"].is_string(), "{}", user.text);
    // The lock ends, the count does not: ten more wrong codes, twice as long.
    app.clock.advance(15 * 60 + 1);
    let (sent, second) = wrong_codes_until_locked(&app, "ed@example.com").await;
    assert_eq!(sent, 10);
    assert_eq!(second["retry_after"], 30 * 60);
    app.clock.advance(30 * 60 + 1);
    let (_, third) = wrong_codes_until_locked(&app, "ed@example.com").await;
    assert_eq!(third["retry_after"], 60 * 60);
    // A correct code after the lock clears the count.
    app.clock.advance(60 * 60 + 1);
    app.login_mfa("ed@example.com", &secret).await;
    let (sent, again) = wrong_codes_until_locked(&app, "ed@example.com").await;
    assert_eq!(sent, 10);
    assert_eq!(again["retry_after"], 15 * 60);
    // Reset MFA clears it as well (and the lock is no longer shown). The
    // administrator's session went idle meanwhile: sign in again.
    let admin = app.login_mfa("ann@example.com", &admin_secret).await;
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(204);
    let user = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200);
    assert!(user.body["mfa_locked_until"].is_null(), "{}", user.text);
}

#[test]
fn the_second_factor_lock_doubles_up_to_a_day() {
    use latchkey::domain::lockout::second_factor_lock_seconds;
    assert_eq!(second_factor_lock_seconds(9), None);
    assert_eq!(second_factor_lock_seconds(10), Some(15 * 60));
    assert_eq!(second_factor_lock_seconds(11), None);
    assert_eq!(second_factor_lock_seconds(20), Some(30 * 60));
    assert_eq!(second_factor_lock_seconds(30), Some(60 * 60));
    assert_eq!(second_factor_lock_seconds(80), Some(24 * 60 * 60));
    assert_eq!(second_factor_lock_seconds(10_000), Some(24 * 60 * 60));
}

#[actix_web::test]
async fn client_users_hold_only_client_roles() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    for role in ["administrator", "manager"] {
        let r = app
            .post(
                "/api/v1/users",
                Some(&admin.token),
                json!({"email": format!("{role}@client.example"), "display_name": "X", "role": role, "password": PASSWORD, "sub_account_id": sub}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "role", "{}", r.text);
    }
    let ed = app
        .create_user(&admin, "ed@client.example", "editor", Some(&sub))
        .await;
    for role in ["administrator", "manager"] {
        app.patch(
            &format!("/api/v1/users/{ed}"),
            &admin.token,
            json!({"role": role}),
        )
        .await
        .problem(422, "validation_failed");
    }
    for role in ["creator", "lite", "read_only", "editor"] {
        app.patch(
            &format!("/api/v1/users/{ed}"),
            &admin.token,
            json!({"role": role}),
        )
        .await
        .ok(200);
    }
}

#[actix_web::test]
async fn reset_mfa_needs_an_administrator_who_has_mfa_now() {
    let app = TestApp::new().await;
    let (admin, secret) = crate::support::mfa_admin(&app, "ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    app.enroll(&ed.token, None).await;
    // The administrator turns their own MFA off: their aal2 session drops.
    app.call(
        actix_web::http::Method::DELETE,
        "/api/v1/me/mfa",
        Some(&admin.token),
        Some(json!({"password": PASSWORD, "code": app.code(&secret, 0)})),
    )
    .await
    .ok(204);
    let sessions = app.get("/api/v1/me/sessions", &admin.token).await.ok(200);
    for s in sessions.body["items"].as_array().unwrap() {
        assert_eq!(s["aal"], "aal1", "{}", sessions.text);
    }
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .problem(403, "mfa_required_for_action");
    let ed_now = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(ed_now.body["mfa_enabled"], true);
}

/// `n` administrators of one account, signed in; the first signed up.
async fn administrators(app: &TestApp, n: usize) -> Vec<Session> {
    let first = app.signup_and_login("admin0@example.com").await;
    let mut admins = vec![first.clone()];
    for i in 1..n {
        let email = format!("admin{i}@example.com");
        app.create_user(&first, &email, "administrator", None).await;
        let mut s = app.login(&email).await;
        s.account_id = first.account_id.clone();
        admins.push(s);
    }
    admins
}

fn active_administrators(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM users WHERE role = 'administrator' AND disabled = FALSE")
}

#[actix_web::test]
async fn two_administrators_demoting_each_other_at_once_leave_one() {
    let app = TestApp::new().await;
    let admins = administrators(&app, 2).await;
    let srv = app.service().await;
    let demote = |by: &Session, target: &Session| {
        srv.call(
            actix_web::http::Method::PATCH,
            &format!("/api/v1/users/{}", target.user_id),
            Some(&by.token),
            Some(json!({"role": "editor"})),
        )
    };
    let (a, b) = futures::future::join(
        demote(&admins[0], &admins[1]),
        demote(&admins[1], &admins[0]),
    )
    .await;
    let mut statuses = [a.status, b.status];
    statuses.sort();
    // One wins; the other is no longer an administrator (403) or would
    // leave none (409).
    assert!(
        statuses == [200, 403] || statuses == [200, 409],
        "{statuses:?}"
    );
    assert_eq!(active_administrators(&app), 1);
}

#[actix_web::test]
async fn twenty_administrators_stepping_down_at_once_leave_one() {
    let app = TestApp::new().await;
    let admins = administrators(&app, 20).await;
    let srv = app.service().await;
    let calls = admins.iter().map(|s| {
        srv.call(
            actix_web::http::Method::PATCH,
            &format!("/api/v1/users/{}", s.user_id),
            Some(&s.token),
            Some(json!({"role": "editor"})),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(active_administrators(&app), 1);
}

#[actix_web::test]
async fn enrollment_start_and_verify_races_never_leave_mfa_without_a_secret() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let srv = app.service().await;
    let mut token = s.token.clone();
    for _ in 0..8 {
        let start = app
            .post(
                "/api/v1/me/mfa/totp",
                Some(&token),
                json!({"password": PASSWORD}),
            )
            .await
            .ok(201);
        let code = app.code(start.body["secret"].as_str().unwrap(), 0);
        let verify = srv.call(
            actix_web::http::Method::POST,
            "/api/v1/me/mfa/totp/verify",
            Some(&token),
            Some(json!({"code": code})),
        );
        let restart = srv.call(
            actix_web::http::Method::POST,
            "/api/v1/me/mfa/totp",
            Some(&token),
            Some(json!({"password": PASSWORD})),
        );
        let (verify, _) = futures::future::join(verify, restart).await;
        if let Some(t) = verify.body["session"]["access_token"].as_str() {
            token = t.to_string();
        }
        let enabled = app.count("SELECT COUNT(*) AS n FROM users WHERE mfa_enabled_at IS NOT NULL");
        let active =
            app.count("SELECT COUNT(*) AS n FROM totp_credentials WHERE status = 'active'");
        assert_eq!(
            enabled, active,
            "MFA enabled exactly when a secret is active"
        );
        app.next_step();
    }
}

#[actix_web::test]
async fn bad_ids_are_404_in_paths_and_422_in_filters() {
    let app = TestApp::new().await;
    let (admin, _) = crate::support::mfa_admin(&app, "ann@example.com").await;
    for bad in [
        "not-a-uuid",
        "%00",
        "1%00",
        "'%20OR%201=1",
        "00000000-0000-0000-0000-00000000000",
    ] {
        for path in [
            format!("/api/v1/users/{bad}"),
            format!("/api/v1/sub-accounts/{bad}"),
        ] {
            app.get(&path, &admin.token).await.problem(404, "not_found");
        }
        app.delete(&format!("/api/v1/me/sessions/{bad}"), &admin.token)
            .await
            .problem(404, "not_found");
        app.post(
            &format!("/api/v1/users/{bad}/mfa/reset"),
            Some(&admin.token),
            json!({}),
        )
        .await
        .problem(404, "not_found");
        app.patch(
            &format!("/api/v1/users/{bad}"),
            &admin.token,
            json!({"display_name": "x"}),
        )
        .await
        .problem(404, "not_found");
        for filter in [
            format!("/api/v1/users?sub_account_id={bad}"),
            format!("/api/v1/audit-events?user_id={bad}"),
        ] {
            app.get(&filter, &admin.token)
                .await
                .problem(422, "validation_failed");
        }
    }
    app.get("/api/v1/users?q=a%00b", &admin.token)
        .await
        .problem(422, "validation_failed");
    app.login_raw("ann\u{0}@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn every_response_carrying_a_token_or_secret_is_no_store() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let mut seen = Vec::new();
    let mut check = |what: &str, r: &crate::support::Resp| {
        let cc = r
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(cc, "no-store", "{what}: {}", r.text);
        seen.push(what.to_string());
    };
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    check("login authenticated", &r);
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": admin.refresh}),
        )
        .await
        .ok(200);
    check("refresh", &r);
    let start = app
        .post("/api/v1/me/mfa/totp", Some(&admin.token), json!({}))
        .await
        .ok(201);
    check("enrollment start", &start);
    let secret = start.body["secret"].as_str().unwrap().to_string();
    let verify = app
        .post(
            "/api/v1/me/mfa/totp/verify",
            Some(&admin.token),
            json!({"code": app.code(&secret, 0)}),
        )
        .await
        .ok(200);
    check("enrollment verify", &verify);
    app.next_step();
    let token = verify.body["session"]["access_token"].as_str().unwrap();
    let r = app
        .post(
            "/api/v1/me/mfa/recovery-token",
            Some(token),
            json!({"password": PASSWORD}),
        )
        .await
        .ok(201);
    check("recovery token", &r);
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    check("login mfa_required", &r);
    let r = app
        .second_step(r.body["mfa_token"].as_str().unwrap(), &app.code(&secret, 0))
        .await
        .ok(200);
    check("second step", &r);
    app.patch("/api/v1/account", token, json!({"require_mfa": true}))
        .await
        .ok(200);
    app.create_user(
        &Session {
            token: token.to_string(),
            ..admin.clone()
        },
        "ed@example.com",
        "editor",
        None,
    )
    .await;
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    check("login mfa_enrollment_required", &r);
    let r = app.login_raw("ed@example.com", "wrong password here").await;
    check("a refusal", &r);
    assert_eq!(seen.len(), 9);
}

/// Legacy data: client users holding account roles, from before the rule.
/// The migration demotes them to editor, each with an audit event.
#[actix_web::test]
async fn the_migration_demotes_client_administrators_and_managers() {
    use diesel::{Connection, RunQueryDsl};
    use diesel_migrations::{FileBasedMigrations, MigrationHarness};
    use latchkey::store::{DatabaseTarget, DbConn};
    let dir = tempfile::tempdir().unwrap();
    let target = match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => DatabaseTarget::Postgres(crate::support::pg_database(&url).0),
        _ => DatabaseTarget::Sqlite(dir.path().join("legacy.db")),
    };
    let pool = latchkey::store::connect(&target, 1).unwrap();
    let mut conn = pool.get().unwrap();
    // The schema as the first release left it: only the first migration.
    let folder = |backend: &str| {
        FileBasedMigrations::from_path(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend),
        )
        .unwrap()
    };
    match &mut **conn {
        DbConn::Sqlite(c) => drop(c.run_next_migration(folder("sqlite")).unwrap()),
        DbConn::Postgres(c) => drop(c.run_next_migration(folder("postgres")).unwrap()),
    }
    let now = "2026-11-30 12:00:00";
    let ids = [
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
        "33333333-3333-4333-8333-333333333333",
        "44444444-4444-4444-8444-444444444444",
    ];
    let sql = format!(
        "INSERT INTO accounts (id, name, require_mfa, created_at) VALUES ('acc', 'Acme', FALSE, '{now}');
         INSERT INTO sub_accounts (id, account_id, name, require_mfa, created_at) VALUES ('sub', 'acc', 'Client', FALSE, '{now}');
         INSERT INTO users (id, account_id, sub_account_id, email, display_name, role, password_hash, disabled, mfa_failures, created_at, updated_at) VALUES
           ('{}', 'acc', NULL, 'owner@acme.example', 'Owner', 'administrator', 'x', FALSE, 0, '{now}', '{now}'),
           ('{}', 'acc', 'sub', 'boss@client.example', 'Boss', 'administrator', 'x', FALSE, 0, '{now}', '{now}'),
           ('{}', 'acc', 'sub', 'mgr@client.example', 'Mgr', 'manager', 'x', FALSE, 0, '{now}', '{now}'),
           ('{}', 'acc', 'sub', 'ed@client.example', 'Ed', 'lite', 'x', FALSE, 0, '{now}', '{now}');",
        ids[0], ids[1], ids[2], ids[3]
    );
    match &mut **conn {
        DbConn::Sqlite(c) => diesel::connection::SimpleConnection::batch_execute(c, &sql).unwrap(),
        DbConn::Postgres(c) => {
            diesel::connection::SimpleConnection::batch_execute(c, &sql).unwrap()
        }
    }
    latchkey::store::run_migrations(&mut conn).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        email: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        role: String,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT email, role FROM users ORDER BY email")
        .load(&mut **conn)
        .unwrap();
    let roles: Vec<(String, String)> = rows.into_iter().map(|r| (r.email, r.role)).collect();
    assert_eq!(
        roles,
        [
            ("boss@client.example", "editor"),
            ("ed@client.example", "lite"),
            ("mgr@client.example", "editor"),
            ("owner@acme.example", "administrator"),
        ]
        .map(|(e, r)| (e.to_string(), r.to_string()))
    );
    #[derive(diesel::QueryableByName)]
    struct Event {
        #[diesel(sql_type = diesel::sql_types::Text)]
        target_user_id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        details: String,
    }
    let events: Vec<Event> = diesel::sql_query(
        "SELECT target_user_id, details FROM audit_events WHERE event_type = 'user.updated' ORDER BY target_user_id",
    )
    .load(&mut **conn)
    .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].target_user_id, ids[1]);
    assert_eq!(events[1].target_user_id, ids[2]);
    let details: Value = serde_json::from_str(&events[1].details).unwrap();
    assert_eq!(details["previous_role"], "manager");
    assert_eq!(details["role"], "editor");
    drop(conn);
    if let DatabaseTarget::Postgres(url) = &target {
        let admin = std::env::var("LATCHKEY_TEST_DATABASE_URL").unwrap();
        let name = url.rsplit('/').next().unwrap().to_string();
        let mut c = diesel::PgConnection::establish(&admin).unwrap();
        drop(pool);
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c);
    }
}

/// An enrollment token or MFA challenge obtained with the old password is
/// dead once the password changes.
#[actix_web::test]
async fn a_password_change_ends_what_the_old_password_opened() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    // Someone else with Ed's password gets an enrollment token...
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let grant = r.body["enrollment_token"].as_str().unwrap().to_string();
    // ...Ed (in a session from before the policy) changes the password...
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&ed.token),
        Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
    )
    .await
    .ok(204);
    // ...and the token is dead: no factor can be planted with it.
    app.post("/api/v1/me/mfa/totp", Some(&grant), json!({}))
        .await
        .problem(401, "unauthorized");

    // The same for an MFA challenge of a user with MFA.
    let (secret, _, verified) = app.enroll(&admin.token, None).await;
    let token = verified.session.access_token.as_str();
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let challenge = r.body["mfa_token"].as_str().unwrap().to_string();
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(token),
        Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
    )
    .await
    .ok(204);
    app.second_step(&challenge, &app.code(&secret, 0))
        .await
        .problem(401, "challenge_expired");
}

/// The claims of an access token (not verified: the server made it).
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `amr` and `aal` are one fact: once MFA is disabled (or reset), a
/// session from before lists no second factor, in its refreshed token and
/// in the sessions list alike.
#[actix_web::test]
async fn amr_and_aal_agree_after_mfa_is_disabled_or_reset() {
    let app = TestApp::new().await;
    app.signup_and_login("ann@example.com").await;
    let s = app.login("ann@example.com").await;
    let (secret, _, verified) = app.enroll(&s.token, None).await;
    let refresh = verified.session.refresh_token.as_str();
    let token = verified.session.access_token.as_str();
    assert_eq!(claims(token)["amr"], json!(["pwd", "otp"]));
    assert_eq!(claims(token)["aal"], "aal2");
    app.next_step();
    app.call(
        actix_web::http::Method::DELETE,
        "/api/v1/me/mfa",
        Some(token),
        Some(json!({"password": PASSWORD, "code": app.code(&secret, 0)})),
    )
    .await
    .ok(204);
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await
        .ok(200);
    let token = r.body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["amr"], json!(["pwd"]));
    assert_eq!(claims(token)["aal"], "aal1");
    let list = app.get("/api/v1/me/sessions", token).await.ok(200);
    let current = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        (current["amr"].clone(), current["aal"].clone()),
        (json!(["pwd"]), json!("aal1"))
    );
    // No stored session lists a second factor once the user has none.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM sessions WHERE amr LIKE '% %' AND revoked_at IS NULL"),
        0
    );
}
