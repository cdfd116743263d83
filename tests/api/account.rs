//! `/api/v1/account`: the account's settings and its Require-MFA policy.

use serde_json::json;

use crate::support::{mfa_admin, TestApp, PASSWORD};

#[actix_web::test]
async fn account_policy_can_be_read_and_changed_by_admins_and_managers() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let r = app.get("/api/v1/account", &admin.token).await.ok(200);
    assert_eq!(r.body["require_mfa"], false);
    assert_eq!(r.body["id"], admin.account_id.as_str());
    let r = app
        .patch(
            "/api/v1/account",
            &admin.token,
            json!({"name": "Acme Renamed", "require_mfa": true}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["name"], "Acme Renamed");
    assert_eq!(r.body["require_mfa"], true);
    app.create_user(&admin, "mia@example.com", "manager", None)
        .await;
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": false}),
    )
    .await
    .ok(200);
    let mia = app.login("mia@example.com").await;
    let r = app
        .patch("/api/v1/account", &mia.token, json!({"require_mfa": true}))
        .await
        .ok(200);
    assert_eq!(r.body["require_mfa"], true);
    app.patch("/api/v1/account", &admin.token, json!({"name": ""}))
        .await
        .problem(422, "validation_failed");
    let events = app
        .get(
            "/api/v1/audit-events?type=account.policy_changed",
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 3);
}

#[actix_web::test]
async fn turning_a_policy_off_disables_nobody_and_sessions_survive_turning_it_on() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
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
    // Existing sessions keep working; the next login must enroll.
    app.get("/api/v1/me", &ed.token).await.ok(200);
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": false}),
    )
    .await
    .ok(200);
    let me = app.get("/api/v1/me", &admin.token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], true);
    assert_eq!(me.body["mfa"]["required"], false);
}
