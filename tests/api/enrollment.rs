//! Forced enrollment: the enrollment token a Require-MFA policy hands out
//! at login opens only `/api/v1/me/mfa/totp*`, and expires.

use actix_web::http::Method;
use serde_json::json;

use crate::support::{TestApp, PASSWORD};

#[actix_web::test]
async fn enrollment_token_opens_only_the_enrollment_endpoints() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["expires_in"], 600);
    assert!(r.body.get("access_token").is_none());
    let enroll = r.body["enrollment_token"].as_str().unwrap().to_string();
    let forbidden: Vec<(Method, String)> = vec![
        (Method::GET, "/api/v1/me".into()),
        (Method::GET, "/api/v1/me/sessions".into()),
        (Method::DELETE, "/api/v1/sessions/current".into()),
        (Method::POST, "/api/v1/me/mfa/recovery-token".into()),
        (Method::DELETE, "/api/v1/me/mfa".into()),
        (Method::PUT, "/api/v1/me/password".into()),
        (Method::GET, "/api/v1/users".into()),
        (Method::POST, "/api/v1/users".into()),
        (Method::GET, format!("/api/v1/users/{ed_id}")),
        (Method::PATCH, format!("/api/v1/users/{ed_id}")),
        (Method::DELETE, format!("/api/v1/users/{ed_id}")),
        (Method::POST, format!("/api/v1/users/{ed_id}/mfa/reset")),
        (Method::GET, "/api/v1/account".into()),
        (Method::PATCH, "/api/v1/account".into()),
        (Method::GET, "/api/v1/sub-accounts".into()),
        (Method::POST, "/api/v1/sub-accounts".into()),
        (Method::GET, "/api/v1/sub-accounts/x".into()),
        (Method::PATCH, "/api/v1/sub-accounts/x".into()),
        (Method::DELETE, "/api/v1/sub-accounts/x".into()),
        (Method::GET, "/api/v1/audit-events".into()),
    ];
    for (method, path) in forbidden {
        let body = if method == Method::GET || method == Method::DELETE && !path.ends_with("/mfa") {
            None
        } else {
            Some(json!({}))
        };
        let r = app.call(method.clone(), &path, Some(&enroll), body).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "mfa_enrollment_required"),
            "{method} {path}: {}",
            r.text
        );
    }
    // Not a refresh token either.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": enroll}),
    )
    .await
    .problem(401, "unauthorized");
    // An access token is not an enrollment token's substitute the other way:
    // the enrollment endpoints accept both, but only the grant yields a session.
    let (secret, recovery, verified) = app.enroll(&enroll, None).await;
    assert!(!recovery.is_empty());
    // The type says `authenticated`: the answer parsed as one.
    let token = &verified.session.access_token;
    let sessions = app.get("/api/v1/me/sessions", token).await.ok(200);
    assert_eq!(sessions.body["items"][0]["aal"], "aal2");
    assert_eq!(sessions.body["items"][0]["amr"], json!(["pwd", "otp"]));
    // The grant is spent.
    app.post("/api/v1/me/mfa/totp", Some(&enroll), json!({}))
        .await
        .problem(401, "unauthorized");
    app.login_mfa("ed@example.com", &secret).await;
}

#[actix_web::test]
async fn enrollment_tokens_expire() {
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
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let enroll = r.body["enrollment_token"].as_str().unwrap();
    app.clock.advance(601);
    app.post("/api/v1/me/mfa/totp", Some(enroll), json!({}))
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/me", enroll)
        .await
        .problem(401, "unauthorized");
}
