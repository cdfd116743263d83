//! The per-email password lockout: doubling, shared by unknown emails, not outrun by a burst.

use serde_json::json;

use crate::support::{TestApp, PASSWORD};

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
