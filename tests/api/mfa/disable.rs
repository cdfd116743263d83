//! Disabling MFA (`DELETE /api/v1/me/mfa`): the order of its checks, and never while a policy requires it.

use actix_web::http::Method;
use serde_json::json;

use crate::support::{TestApp, PASSWORD};

#[actix_web::test]
async fn disable_checks_password_then_code_and_removes_factors() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": "123456"})),
    )
    .await
    .problem(409, "mfa_not_enabled");
    let (secret, recovery, _) = app.enroll(&s.token, None).await;
    let code = app.code(&secret, 0);
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"code": code})),
    )
    .await
    .problem(403, "reauthentication_required");
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": "wrong wrong wrong", "code": code})),
    )
    .await
    .problem(403, "reauthentication_required");
    let wrong = if code == "000001" { "000002" } else { "000001" };
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": wrong})),
    )
    .await
    .problem(401, "mfa_code_invalid");
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": code})),
    )
    .await
    .ok(204);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], false);
    assert_eq!(me.body["mfa"]["recovery_token"]["active"], false);
    app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    // With the recovery token instead of a code.
    let (_, recovery2, _) = app.enroll(&s.token, None).await;
    assert_ne!(recovery, recovery2);
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": recovery2})),
    )
    .await
    .ok(204);
    let disabled = app
        .get("/api/v1/audit-events?type=mfa.disabled", &s.token)
        .await
        .ok(200);
    assert_eq!(disabled.body["total"], 2);
}

#[actix_web::test]
async fn disable_is_refused_while_a_policy_requires_mfa() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    app.patch("/api/v1/account", &s.token, json!({"require_mfa": true}))
        .await
        .ok(200);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["required"], true);
    assert_eq!(me.body["mfa"]["required_by"], "account");
    assert_eq!(me.body["mfa"]["can_disable"], false);
    // Enforced comes first: even without a password.
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"code": "000000"})),
    )
    .await
    .problem(403, "mfa_enforced");
    let code = app.code(&secret, 0);
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": code})),
    )
    .await
    .problem(403, "mfa_enforced");
    assert_eq!(
        app.get("/api/v1/me", &s.token).await.body["mfa"]["enabled"],
        true
    );
}
