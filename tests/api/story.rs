//! The IT Glue story, end to end, on its own.

use actix_web::http::Method;
use serde_json::json;

use crate::support::{mfa_admin, TestApp, PASSWORD};

/// The IT Glue story, end to end.
#[actix_web::test]
async fn the_whole_it_glue_story() {
    let app = TestApp::new().await;
    // The administrator enables MFA from Edit Profile and turns on Require MFA.
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    // An editor is forced to enroll at login.
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    let (secret, recovery, verified) = app
        .enroll(r.body["enrollment_token"].as_str().unwrap(), None)
        .await;
    let ed = verified.session.access_token;
    let list = app
        .get("/api/v1/users?mfa_enabled=false", &admin.token)
        .await;
    assert_eq!(list.body["total"], 0, "no open padlocks left");
    // Normal logins use the phone.
    app.login_mfa("ed@example.com", &secret).await;
    // The editor loses the phone and signs in with the recovery token; MFA stays on.
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    let done = app
        .second_step(&r.body["mfa_token"], &recovery)
        .await
        .ok(200);
    assert_eq!(done.body["recovery_token_used"], true);
    let me = app
        .get("/api/v1/me", done.body["access_token"].as_str().unwrap())
        .await
        .ok(200);
    assert_eq!(me.body["mfa"]["enabled"], true);
    // Policy on: the editor cannot disable MFA.
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&ed),
        Some(json!({"password": PASSWORD, "code": "123456"})),
    )
    .await
    .problem(403, "mfa_enforced");
    // Later the editor has lost both: neither the old token nor a guess works.
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["methods"], json!(["totp"]));
    app.second_step(&r.body["mfa_token"], &recovery)
        .await
        .problem(401, "mfa_code_invalid");
    // The administrator resets the editor's MFA.
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(204);
    // The editor enrolls again at next login, with a new secret.
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    let (new_secret, _, verified) = app
        .enroll(r.body["enrollment_token"].as_str().unwrap(), None)
        .await;
    assert_ne!(new_secret, secret);
    assert!(!verified.session.access_token.is_empty());
    app.login_mfa("ed@example.com", &new_secret).await;
    let types: Vec<String> = app
        .get(
            &format!("/api/v1/audit-events?user_id={ed_id}&per_page=100"),
            &admin.token,
        )
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    for kind in [
        "user.created",
        "mfa.enabled",
        "recovery_token.generated",
        "recovery_token.used",
        "mfa.challenge_failed",
        "mfa.reset",
        "login.succeeded",
    ] {
        assert!(
            types.iter().any(|t| t == kind),
            "{kind} missing from {types:?}"
        );
    }
}
