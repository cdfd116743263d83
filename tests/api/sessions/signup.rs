//! `POST /api/v1/accounts`: sign-up, its checks, closed sign-up; the data surviving a restart.

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
    let app = TestApp::with(|c| c.signup = latchkey::config::SignupMode::Closed).await;
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "A", "email": "a@b.io", "password": PASSWORD}),
    )
    .await
    .problem(403, "forbidden");
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
