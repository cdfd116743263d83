//! `/api/v1/sub-accounts*`: client organizations with their own MFA policy.

use serde_json::json;

use crate::support::{TestApp, PASSWORD};

#[actix_web::test]
async fn sub_accounts_have_their_own_policy() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let r = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Globex", "require_mfa": true}),
        )
        .await
        .ok(201);
    assert_eq!(r.body["user_count"], 0);
    assert_eq!(r.body["require_mfa"], true);
    let globex = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Initech"}),
        )
        .await
        .ok(201);
    let initech = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["require_mfa"], false);
    app.create_user(&admin, "gus@globex.com", "read_only", Some(&globex))
        .await;
    app.create_user(&admin, "ian@initech.com", "read_only", Some(&initech))
        .await;
    // The account policy (off) does not cover Globex users; Globex's (on) does.
    let r = app.login_raw("gus@globex.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_enrollment_required");
    let r = app.login_raw("ian@initech.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated");
    // And the account policy does not cover sub-account users.
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    let r = app.login_raw("ian@initech.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated");
    let ian_token = r.body["access_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/me", &ian_token).await.ok(200);
    assert_eq!(me.body["mfa"]["required"], false);
    app.patch(
        &format!("/api/v1/sub-accounts/{initech}"),
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    let me = app.get("/api/v1/me", &ian_token).await.ok(200);
    assert_eq!(me.body["mfa"]["required_by"], "sub_account");
    let list = app.get("/api/v1/sub-accounts", &admin.token).await.ok(200);
    assert_eq!(list.body["total"], 2);
    assert!(list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["user_count"] == 1));
    let r = app
        .get(&format!("/api/v1/sub-accounts/{globex}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(r.body["user_count"], 1);
    // A sub-account with users cannot be deleted; an empty one can.
    app.delete(&format!("/api/v1/sub-accounts/{globex}"), &admin.token)
        .await
        .problem(409, "conflict");
    let empty = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Empty"}),
        )
        .await
        .ok(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/api/v1/sub-accounts/{empty}"), &admin.token)
        .await
        .ok(204);
    app.get(&format!("/api/v1/sub-accounts/{empty}"), &admin.token)
        .await
        .problem(404, "not_found");
    for kind in [
        "sub_account.created",
        "sub_account.policy_changed",
        "sub_account.deleted",
    ] {
        let r = app
            .get(&format!("/api/v1/audit-events?type={kind}"), &admin.token)
            .await
            .ok(200);
        assert!(r.body["total"].as_i64().unwrap() >= 1, "{kind}");
    }
    app.post("/api/v1/users", Some(&admin.token), json!({"email": "x@y.io", "display_name": "X", "role": "editor", "password": PASSWORD, "sub_account_id": "nope"}))
        .await
        .problem(422, "validation_failed");
}
