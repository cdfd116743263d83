//! The principal cache (`domain::principals`): a principal answered from
//! the cache is dropped at once by every change that the contract says is
//! honoured at once. Each test first makes sure the token's principal is
//! cached, then changes something through the API and asks again.

use serde_json::json;

use crate::support::{mfa_admin, Session, TestApp, PASSWORD};

/// Asks `GET /api/v1/me` with `token` until its principal stays in the
/// cache across a watcher poll (on SQLite the watcher clears the cache
/// after commits it has not seen yet, such as the login's own).
pub async fn cached(app: &TestApp, token: &str) {
    for _ in 0..100 {
        app.get("/api/v1/me", token).await.ok(200);
        std::thread::sleep(latchkey::domain::principals::WATCH_INTERVAL * 2);
        if app.state.principals.holds(token) {
            return;
        }
    }
    panic!("the principal was never cached");
}

/// `GET /api/v1/me` with `token` answers 200 until it answers 401, which
/// must happen within a second: the contract's bound for a change made by
/// another process.
pub async fn refused_within_a_second(app: &TestApp, token: &str) {
    let start = std::time::Instant::now();
    loop {
        let r = app.get("/api/v1/me", token).await;
        if r.status == 401 {
            return;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still accepted {:?} after the change",
            start.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

async fn admin_and_user(app: &TestApp, role: &str) -> (Session, String, Session) {
    let admin = app.signup_and_login("ann@example.com").await;
    let id = app.create_user(&admin, "ed@example.com", role, None).await;
    let ed = app.login("ed@example.com").await;
    (admin, id, ed)
}

#[actix_web::test]
async fn a_revoked_session_is_refused_at_once() {
    let app = TestApp::new().await;
    let one = app.signup_and_login("ann@example.com").await;
    let two = app.login("ann@example.com").await;
    cached(&app, &two.token).await;
    app.delete(
        &format!("/api/v1/me/sessions/{}", two.session_id),
        &one.token,
    )
    .await
    .ok(204);
    app.get("/api/v1/me", &two.token)
        .await
        .problem(401, "unauthorized");
    // Signing out, and a refresh token presented twice, likewise.
    cached(&app, &one.token).await;
    app.delete("/api/v1/sessions/current", &one.token)
        .await
        .ok(204);
    app.get("/api/v1/me", &one.token)
        .await
        .problem(401, "unauthorized");
    let three = app.login("ann@example.com").await;
    cached(&app, &three.token).await;
    let body = json!({"refresh_token": three.refresh});
    app.post("/api/v1/sessions/refresh", None, body.clone())
        .await
        .ok(200);
    app.post("/api/v1/sessions/refresh", None, body)
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/me", &three.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_disabled_or_deleted_user_is_refused_at_once() {
    let app = TestApp::new().await;
    let (admin, ed_id, ed) = admin_and_user(&app, "editor").await;
    cached(&app, &ed.token).await;
    app.patch(
        &format!("/api/v1/users/{ed_id}"),
        &admin.token,
        json!({"disabled": true}),
    )
    .await
    .ok(200);
    app.get("/api/v1/me", &ed.token)
        .await
        .problem(401, "unauthorized");

    let id = app
        .create_user(&admin, "flo@example.com", "editor", None)
        .await;
    let flo = app.login("flo@example.com").await;
    cached(&app, &flo.token).await;
    app.delete(&format!("/api/v1/users/{id}"), &admin.token)
        .await
        .ok(204);
    app.get("/api/v1/me", &flo.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_changed_role_counts_from_the_next_request() {
    let app = TestApp::new().await;
    let (admin, ed_id, ed) = admin_and_user(&app, "manager").await;
    cached(&app, &ed.token).await;
    app.get("/api/v1/users", &ed.token).await.ok(200);
    app.patch(
        &format!("/api/v1/users/{ed_id}"),
        &admin.token,
        json!({"role": "read_only"}),
    )
    .await
    .ok(200);
    let me = app.get("/api/v1/me", &ed.token).await.ok(200);
    assert_eq!(me.body["role"], "read_only");
    app.get("/api/v1/users", &ed.token)
        .await
        .problem(403, "forbidden");
}

#[actix_web::test]
async fn a_custom_role_changed_counts_from_the_next_request() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let role = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Viewers", "description": "list users", "permissions": ["users.view"]}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "vi@example.com", &role, None).await;
    let vi = app.login("vi@example.com").await;
    cached(&app, &vi.token).await;
    app.get("/api/v1/users", &vi.token).await.ok(200);
    app.patch(
        &format!("/api/v1/roles/{role}"),
        &admin.token,
        json!({"permissions": ["audit.view"]}),
    )
    .await
    .ok(200);
    app.get("/api/v1/users", &vi.token)
        .await
        .problem(403, "forbidden");
}

#[actix_web::test]
async fn an_mfa_reset_ends_the_cached_sessions_at_once() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    cached(&app, &ed.token).await;
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(204);
    app.get("/api/v1/me", &ed.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn own_mfa_and_policy_changes_show_at_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    cached(&app, &s.token).await;
    // MFA enabled from this session: the same token now stands for aal2.
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], true);
    assert_eq!(me.body["mfa"]["recovery_token"]["active"], true);
    // The account's policy turned on: shown on the next request.
    cached(&app, &s.token).await;
    app.patch("/api/v1/account", &s.token, json!({"require_mfa": true}))
        .await
        .ok(200);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["required"], true);
    assert_eq!(me.body["mfa"]["required_by"], "account");
    app.patch("/api/v1/account", &s.token, json!({"require_mfa": false}))
        .await
        .ok(200);
    // MFA disabled: shown at once, and the session is aal1 again.
    cached(&app, &s.token).await;
    app.call(
        actix_web::http::Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": app.code(&secret, 0)})),
    )
    .await
    .ok(204);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], false);
}

#[actix_web::test]
async fn a_password_change_ends_the_other_cached_sessions_at_once() {
    let app = TestApp::new().await;
    let one = app.signup_and_login("ann@example.com").await;
    let two = app.login("ann@example.com").await;
    cached(&app, &two.token).await;
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&one.token),
        Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
    )
    .await
    .ok(204);
    app.get("/api/v1/me", &two.token)
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/me", &one.token).await.ok(200);
}

#[actix_web::test]
async fn an_expired_or_idle_session_is_refused_from_the_cache_too() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    cached(&app, &s.token).await;
    // Past the session's idle limit (30 minutes): no request has touched it.
    app.clock.advance(31 * 60);
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
}
