//! `/api/v1/accounts`, `/api/v1/sessions*`, `/api/v1/me`, `/api/v1/me/password`, `/api/v1/me/sessions*`.

use serde_json::json;

use crate::support::{TestApp, PASSWORD};

#[actix_web::test]
async fn signup_creates_account_and_administrator() {
    let app = TestApp::new().await;
    let r = app
        .post("/api/v1/accounts", None, json!({"account_name": " Acme IT ", "email": "  Ann@Example.COM ", "password": PASSWORD, "display_name": "Ann"}))
        .await
        .ok(201);
    assert_eq!(r.body["account"]["name"], "Acme IT");
    assert_eq!(r.body["account"]["require_mfa"], false);
    assert_eq!(r.body["user"]["email"], "ann@example.com");
    assert_eq!(r.body["user"]["role"], "administrator");
    assert_eq!(r.body["user"]["mfa_enabled"], false);
    assert!(r.body["user"].get("password_hash").is_none());
    // The same email again, in another case: 409, and no second account.
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "Other", "email": "ANN@example.com", "password": PASSWORD}),
    )
    .await
    .problem(409, "conflict");
}

#[actix_web::test]
async fn signup_validates_every_field() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/api/v1/accounts",
            None,
            json!({"account_name": "", "email": "not-an-email", "password": "short"}),
        )
        .await
        .problem(422, "validation_failed");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["account_name", "email", "password"]);
    let long = "x".repeat(1025);
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "A", "email": "a@b.io", "password": long}),
    )
    .await
    .problem(422, "validation_failed");
    let r = app
        .post(
            "/api/v1/accounts",
            None,
            json!({"account_name": "A", "password": PASSWORD}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "email");
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "A", "email": 5, "password": PASSWORD}),
    )
    .await
    .problem(422, "validation_failed");
}

#[actix_web::test]
async fn closed_signup_is_forbidden() {
    let app = TestApp::with(|c| c.signup_open = false).await;
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "A", "email": "a@b.io", "password": PASSWORD}),
    )
    .await
    .problem(403, "forbidden");
}

#[actix_web::test]
async fn login_without_mfa_returns_tokens_and_me_works() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    let r = app.login_raw(" ANN@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert!(r.body["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("lkr_"));
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let token = r.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", token).await.ok(200);
    assert_eq!(me.body["email"], "ann@example.com");
    assert_eq!(
        me.body["mfa"],
        json!({"enabled": false, "required": false, "required_by": null, "can_disable": false, "enabled_at": null, "recovery_token": {"active": false, "created_at": null}})
    );
    assert!(me.body["last_login_at"].is_string());
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
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["session_id"], s.session_id.as_str());
    assert_eq!(r.body["status"], "authenticated");
    let new_refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    let new_access = r.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, s.refresh);
    app.get("/api/v1/me", &new_access).await.ok(200);
    // The spent token again: 401, and the whole session is revoked.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": s.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": new_refresh}),
    )
    .await
    .problem(401, "unauthorized");
    app.get("/api/v1/me", &new_access)
        .await
        .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": "lkr_unknown"}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": ""}),
    )
    .await
    .problem(401, "unauthorized");
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
    let r = app.get("/api/v1/me/sessions", &a.token).await.ok(200);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["page"], 1);
    assert_eq!(r.body["per_page"], 50);
    let items = r.body["items"].as_array().unwrap();
    let current: Vec<bool> = items
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1);
    assert_eq!(items[0]["amr"], json!(["pwd"]));
    assert_eq!(items[0]["aal"], "aal1");
    assert_eq!(items[0]["ip"], "127.0.0.1");
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
    let r = app
        .get("/api/v1/me/sessions?page=2&per_page=1", &a.token)
        .await
        .ok(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(r.body["total"], 1);
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
async fn password_lockout_after_five_failures_doubles_and_resets() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    for _ in 0..5 {
        app.login_raw("ann@example.com", "wrong password!!")
            .await
            .problem(401, "invalid_credentials");
    }
    // Locked: even the right password gets 429 with Retry-After.
    let r = app
        .login_raw("ann@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    let first = r.retry_after();
    assert!((1..=30).contains(&first), "{first}");
    app.clock.advance(first);
    app.login_raw("ann@example.com", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    let r = app
        .login_raw("ann@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    let second = r.retry_after();
    assert!(second > first && second <= 60, "{first} then {second}");
    app.clock.advance(second);
    app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    // The success reset the count: four more failures do not lock.
    for _ in 0..4 {
        app.login_raw("ann@example.com", "wrong password!!")
            .await
            .problem(401, "invalid_credentials");
    }
    app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    // The lock never exceeds 15 minutes.
    for _ in 0..12 {
        let r = app.login_raw("ann@example.com", "wrong password!!").await;
        if r.status == 429 {
            let wait: i64 = r.retry_after();
            assert!(wait <= 900);
            app.clock.advance(wait);
        }
    }
    let r = app.login_raw("ann@example.com", PASSWORD).await;
    if r.status == 429 {
        let wait: i64 = r.retry_after();
        assert!(wait <= 900, "{wait}");
    }
}

#[actix_web::test]
async fn unknown_emails_are_locked_out_identically() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        app.login_raw("ghost@example.com", "wrong password!!")
            .await
            .problem(401, "invalid_credentials");
    }
    let r = app
        .login_raw("ghost@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    assert!(r.headers.get("retry-after").is_some());
}

#[actix_web::test]
async fn a_parallel_burst_cannot_exceed_the_password_budget() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    let srv = actix_web::test::init_service(latchkey::app::build(app.state.clone())).await;
    let requests = (0..50).map(|_| {
        let req = crate::support::build_request(
            actix_web::http::Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({"email": "ann@example.com", "password": "wrong password!!"})),
        )
        .to_request();
        actix_web::test::call_service(&srv, req)
    });
    let responses = futures::future::join_all(requests).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    let tried = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(tried, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 45);
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
async fn restart_keeps_accounts_sessions_and_signing_keys() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let kid = app.state.keys.signing_kid();
    // A new process on the same database and master key.
    let restarted = app.node();
    assert_eq!(restarted.keys.signing_kid(), kid);
    use crate::support::call_on;
    use actix_web::http::Method;
    call_on(&restarted, Method::GET, "/api/v1/me", Some(&s.token), None)
        .await
        .ok(200);
    call_on(
        &restarted,
        Method::POST,
        "/api/v1/sessions/refresh",
        None,
        Some(json!({"refresh_token": s.refresh})),
    )
    .await
    .ok(200);
    call_on(
        &restarted,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"email": "ann@example.com", "password": PASSWORD})),
    )
    .await
    .ok(200);
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
        }
    );
    let fresh = app.login("ann@example.com").await;
    assert_eq!(run(), Purged::default());
    app.get("/api/v1/me", &fresh.token).await.ok(200);
}

#[actix_web::test]
async fn a_refresh_token_raced_twenty_times_rotates_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let srv = app.service().await;
    let requests = (0..20).map(|_| {
        srv.call(
            actix_web::http::Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": s.refresh})),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    // At most one rotation wins. The others present a spent token, which
    // revokes the session; when that revocation lands before the winner
    // has read its session back, the winner is refused too rather than
    // handed tokens of a session that is over (both orders occur).
    let won = statuses.iter().filter(|s| **s == 200).count();
    assert!(won <= 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 20 - won);
    let generation = app.count(&format!(
        "SELECT refresh_generation AS n FROM sessions WHERE id = '{}'",
        s.session_id
    ));
    assert_eq!(generation, 2, "the token and exactly one successor");
    // Presented again while (or after) it was spent: the session is over.
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_dead_sessions_refresh_token_is_refused_and_left_unspent() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .ok(204);
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": s.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    let unspent = app.count(&format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE id = '{}' AND refresh_generation = 1 AND refresh_hash = '{}'",
        s.session_id,
        latchkey::crypto::tokens::sha256_hex(&s.refresh)
    ));
    assert_eq!(
        unspent, 1,
        "spending a dead session's token changes nothing"
    );
}

#[actix_web::test]
async fn the_short_rotation_takes_only_the_current_token_of_a_live_session() {
    use latchkey::crypto::tokens::sha256_hex;
    use latchkey::store::refresh_tokens::{rotate_if_live, Rotation, Step};
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let now = app.clock.now_naive();
    let cutoff = now - chrono::Duration::minutes(30);
    let mut conn = app.state.pool.get().unwrap();
    let sid = s.session_id.as_str();
    let step = |hash, next_hash, next_generation| Step {
        session_id: sid,
        hash,
        next_hash,
        next_generation,
    };
    let hash = sha256_hex(&s.refresh);
    let hash = hash.as_str();
    // Rotated, with the session context as the rotation left it.
    match rotate_if_live(&mut conn, step(hash, "next", 2), now, cutoff).unwrap() {
        Rotation::Rotated(Some(found)) => {
            assert_eq!(found.session.id, s.session_id);
            assert_eq!(found.session.last_used_at, now);
            assert_eq!(found.user.id, s.user_id);
            assert!(!found.account_requires_mfa);
            assert_eq!(found.sub_account_requires_mfa, None);
        }
        other => panic!("rotated expected: {other:?}"),
    }
    // Not the current token any more: declined (the full path handles reuse).
    assert!(matches!(
        rotate_if_live(&mut conn, step(hash, "other", 2), now, cutoff).unwrap(),
        Rotation::Skipped
    ));
    // The successor works once; after the session is revoked it is declined
    // and stays the current one.
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .ok(204);
    assert!(matches!(
        rotate_if_live(&mut conn, step("next", "third", 3), now, cutoff).unwrap(),
        Rotation::Skipped
    ));
    let current = app.count(&format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE id = '{}' AND refresh_hash = 'next' AND refresh_generation = 2",
        s.session_id
    ));
    assert_eq!(current, 1);
}

/// Refreshes `token` and returns the new refresh and access tokens.
async fn rotate(app: &TestApp, token: &str) -> (String, String) {
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": token}),
        )
        .await
        .ok(200);
    (
        r.body["refresh_token"].as_str().unwrap().to_string(),
        r.body["access_token"].as_str().unwrap().to_string(),
    )
}

fn reuse_revocations(app: &TestApp, session_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'session.revoked' \
         AND details LIKE '%refresh_token_reuse%' AND details LIKE '%{session_id}%'"
    ))
}

#[actix_web::test]
async fn any_earlier_token_of_the_chain_presented_again_revokes_the_session() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (t1, _) = rotate(&app, &s.refresh).await;
    let (t2, _) = rotate(&app, &t1).await;
    let (t3, access) = rotate(&app, &t2).await;
    // Two generations back: still one this server issued, used before.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": t1}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": t3}),
    )
    .await
    .problem(401, "unauthorized");
    app.get("/api/v1/me", &access)
        .await
        .problem(401, "unauthorized");
    assert_eq!(reuse_revocations(&app, &s.session_id), 1);
}

#[actix_web::test]
async fn a_forged_refresh_token_naming_a_session_is_refused_and_revokes_nothing() {
    use base64::Engine;
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let other = app.login("ann@example.com").await;
    let sid = &s.session_id;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let secret_of = |token: &str| token.rsplit('.').next().unwrap().to_string();
    let forged = [
        // Made up, for an earlier, the current and a later generation.
        format!("lkr_{sid}.0.{}", b64(&[0; 32])),
        format!("lkr_{sid}.1.{}", b64(&[1; 32])),
        format!("lkr_{sid}.5.{}", b64(&[2; 32])),
        // The session's real secret under another generation, and another
        // session's real token relabelled with this session's id.
        format!("lkr_{sid}.0.{}", secret_of(&s.refresh)),
        format!("lkr_{sid}.1.{}", secret_of(&other.refresh)),
        // Not a refresh token's shape at all.
        format!("lkr_{sid}.1"),
        format!("lkr_{sid}.01.{}", secret_of(&s.refresh)),
        format!("lkr_{sid}.1.{}", &secret_of(&s.refresh)[1..]),
    ];
    for token in &forged {
        app.post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": token}),
        )
        .await
        .problem(401, "unauthorized");
    }
    // The session lives on: its real token still rotates, once.
    app.get("/api/v1/me", &s.token).await.ok(200);
    rotate(&app, &s.refresh).await;
    assert_eq!(reuse_revocations(&app, sid), 0);
}

#[actix_web::test]
async fn a_refresh_token_from_before_chains_rotates_once_into_the_sessions_chain() {
    use base64::Engine;
    use latchkey::crypto::tokens::sha256_hex;
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    // A token as the server issued them before chains: `lkr_` and 32
    // random bytes, one row of refresh_tokens; the session row has none.
    let legacy = format!(
        "lkr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32])
    );
    app.sql(&format!(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, spent_at) \
         VALUES ('{}', '{}', CURRENT_TIMESTAMP, NULL)",
        sha256_hex(&legacy),
        s.session_id
    ));
    app.sql(&format!(
        "UPDATE sessions SET refresh_hash = NULL, refresh_generation = 0, refresh_chain_start = 0 WHERE id = '{}'",
        s.session_id
    ));
    let (chained, _) = rotate(&app, &legacy).await;
    assert!(
        chained.starts_with(&format!("lkr_{}.1.", s.session_id)),
        "{chained}"
    );
    let (next, access) = rotate(&app, &chained).await;
    app.get("/api/v1/me", &access).await.ok(200);
    // The spent legacy token again: the theft signal, as before chains.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": legacy}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": next}),
    )
    .await
    .problem(401, "unauthorized");
    assert_eq!(reuse_revocations(&app, &s.session_id), 1);
}
