//! `POST /api/v1/sessions`, `/api/v1/me`, logout and the sessions list: what a password gives, what it reveals (nothing), the password change, expiry, the audit of logins.

use serde_json::json;

use latchkey::domain::policy::Aal;
use latchkey::http::dto::{LoginResponse, MeResponse, Page, SessionResponse};

use crate::support::{TestApp, PASSWORD};

type Sessions = Page<SessionResponse>;

#[actix_web::test]
async fn login_without_mfa_returns_tokens_and_me_works() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    let r = app.login_raw(" ANN@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    // `status` and `token_type` are one-value enums: parsing checks them.
    let LoginResponse::Authenticated(tokens) = r.json() else {
        panic!("expected authenticated: {}", r.text);
    };
    assert_eq!(tokens.expires_in, 900);
    assert!(tokens.refresh_token.starts_with("lkr_"));
    let token = tokens.access_token.as_str();
    let me: MeResponse = app.get("/api/v1/me", token).await.ok(200).json();
    assert_eq!(me.user.email, "ann@example.com");
    assert_eq!(
        serde_json::to_value(&me.mfa).unwrap(),
        json!({"enabled": false, "required": false, "required_by": null, "setup_due_at": null, "can_disable": false, "enabled_at": null, "recovery_token": {"active": false, "created_at": null}, "reset_at": null, "reset_by": null, "methods": "any"})
    );
    assert!(me.user.last_login_at.is_some());
    // The hot path hashes nothing: no argon2 per authenticated request.
    let hashes = app.state.hasher.verifications();
    for _ in 0..3 {
        app.get("/api/v1/me", token).await.ok(200);
    }
    assert_eq!(app.state.hasher.verifications(), hashes);
}

#[actix_web::test]
async fn wrong_email_wrong_password_and_disabled_user_look_the_same() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let ed = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    app.patch(
        &format!("/api/v1/users/{ed}"),
        &admin.token,
        json!({"disabled": true}),
    )
    .await
    .ok(200);
    let a = app
        .login_raw("nobody@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let b = app
        .login_raw("ann@example.com", "wrong password here")
        .await
        .problem(401, "invalid_credentials");
    let c = app
        .login_raw("ed@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(a.body, b.body);
    assert_eq!(b.body, c.body);
    app.login_raw("", "")
        .await
        .problem(401, "invalid_credentials");
    app.login_raw("ann@example.com", &"x".repeat(5000))
        .await
        .problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn logout_revokes_access_token_at_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .ok(204);
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": s.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn me_requires_a_valid_bearer_token() {
    let app = TestApp::new().await;
    let r = app
        .call(actix_web::http::Method::GET, "/api/v1/me", None, None)
        .await
        .problem(401, "unauthorized");
    assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
    app.get("/api/v1/me", "garbage")
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/me", "eyJhbGciOiJub25lIn0.e30.")
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn sessions_can_be_listed_and_ended() {
    let app = TestApp::new().await;
    let a = app.signup_and_login("ann@example.com").await;
    let b = app.login("ann@example.com").await;
    let list: Sessions = app
        .get("/api/v1/me/sessions", &a.token)
        .await
        .ok(200)
        .json();
    assert_eq!((list.total, list.page, list.per_page), (2, 1, 50));
    assert_eq!(list.items.iter().filter(|s| s.current).count(), 1);
    assert_eq!(list.items[0].amr, ["pwd"]);
    assert_eq!(list.items[0].aal, Aal::Aal1);
    assert_eq!(list.items[0].ip.as_deref(), Some("127.0.0.1"));
    app.delete(&format!("/api/v1/me/sessions/{}", b.session_id), &a.token)
        .await
        .ok(204);
    app.get("/api/v1/me", &b.token)
        .await
        .problem(401, "unauthorized");
    app.delete(&format!("/api/v1/me/sessions/{}", b.session_id), &a.token)
        .await
        .problem(404, "not_found");
    // Another user's session is not found, not forbidden.
    let other = app.signup_and_login("bob@example.com").await;
    app.delete(
        &format!("/api/v1/me/sessions/{}", other.session_id),
        &a.token,
    )
    .await
    .problem(404, "not_found");
    app.get("/api/v1/me", &other.token).await.ok(200);
    app.get("/api/v1/me/sessions?per_page=0", &a.token)
        .await
        .problem(422, "validation_failed");
    app.get("/api/v1/me/sessions?page=abc", &a.token)
        .await
        .problem(422, "validation_failed");
    let r: Sessions = app
        .get("/api/v1/me/sessions?page=2&per_page=1", &a.token)
        .await
        .ok(200)
        .json();
    assert_eq!((r.items.len(), r.total), (0, 1));
}

#[actix_web::test]
async fn password_change_needs_the_current_password_and_ends_other_sessions() {
    let app = TestApp::new().await;
    let a = app.signup_and_login("ann@example.com").await;
    let b = app.login("ann@example.com").await;
    let new_password = "another long passphrase";
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&a.token),
        Some(json!({"current_password": "wrong wrong wrong", "new_password": new_password})),
    )
    .await
    .problem(403, "reauthentication_required");
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&a.token),
        Some(json!({"current_password": PASSWORD, "new_password": "short"})),
    )
    .await
    .problem(422, "validation_failed");
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&a.token),
        Some(json!({"current_password": PASSWORD, "new_password": new_password})),
    )
    .await
    .ok(204);
    app.get("/api/v1/me", &a.token).await.ok(200);
    app.get("/api/v1/me", &b.token)
        .await
        .problem(401, "unauthorized");
    app.login_raw("ann@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.login_raw("ann@example.com", new_password).await.ok(200);
}

#[actix_web::test]
async fn idle_and_absolute_session_expiry() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    // Refreshing keeps an active session alive past the idle limit...
    app.clock.advance(20 * 60);
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await
        .ok(200);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    // ...but 31 idle minutes end it.
    app.clock.advance(31 * 60);
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": refresh}),
    )
    .await
    .problem(401, "unauthorized");
    // The absolute limit (12 h) ends even an active session.
    let s = app.login("ann@example.com").await;
    let mut refresh = s.refresh.clone();
    for _ in 0..26 {
        app.clock.advance(28 * 60);
        let r = app
            .post(
                "/api/v1/sessions/refresh",
                None,
                json!({"refresh_token": refresh}),
            )
            .await;
        if r.status != 200 {
            assert_eq!(r.code(), "unauthorized");
            return;
        }
        refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    }
    panic!("session outlived its absolute lifetime");
}

#[actix_web::test]
async fn audit_records_logins() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.login_raw("ann@example.com", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    let r = app
        .get("/api/v1/audit-events?type=login.failed", &s.token)
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0]["target_user_id"], s.user_id.as_str());
    assert_eq!(r.body["items"][0]["ip"], "127.0.0.1");
    let r = app
        .get("/api/v1/audit-events?type=login.succeeded", &s.token)
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
}

#[actix_web::test]
async fn unknown_emails_cost_the_same_password_hash() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    let hashes = || app.state.hasher.verifications();
    let before = hashes();
    app.login_raw("ann@example.com", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(hashes() - before, 1, "a known email verifies one hash");
    let before = hashes();
    app.login_raw("ghost@example.com", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(
        hashes() - before,
        1,
        "an unknown email verifies one (dummy) hash too"
    );
    // ...and writes the same one audit event, tied to no account.
    let events = app.dump_table("audit_events");
    assert_eq!(events.matches("wrong_password").count(), 1);
    assert_eq!(events.matches("unknown_email").count(), 1);
    let before = hashes();
    app.login_raw("not an email", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(hashes() - before, 1, "so does a malformed one");
}

#[actix_web::test]
async fn housekeeping_purges_only_dead_rows() {
    use latchkey::domain::housekeeping::{purge, Purged};
    let app = TestApp::new().await;
    let live = app.signup_and_login("ann@example.com").await;
    let dead = app.login("ann@example.com").await;
    app.delete("/api/v1/sessions/current", &dead.token)
        .await
        .ok(204);
    app.login_raw("ghost@example.com", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    app.post("/api/v1/me/mfa/totp", Some(&live.token), json!({}))
        .await
        .ok(201);
    let run = || {
        let mut conn = app.state.pool.get().unwrap();
        purge(&mut conn, app.clock.now_naive()).unwrap()
    };
    // Nothing is old enough yet.
    assert_eq!(run(), Purged::default());
    app.get("/api/v1/me", &live.token).await.ok(200);
    // Two days on: the ended and the expired session, the idle counter and
    // the abandoned enrollment go (throttle rows: ann's and the ghost's).
    app.clock.advance(2 * 24 * 3600);
    assert_eq!(
        run(),
        Purged {
            challenges: 0,
            pending_enrollments: 1,
            sessions: 2,
            throttles: 2,
            sso_flows: 0,
            mail_links: 0,
            outbox: 0,
            devices: 0,
        }
    );
    let fresh = app.login("ann@example.com").await;
    assert_eq!(run(), Purged::default());
    app.get("/api/v1/me", &fresh.token).await.ok(200);
}
