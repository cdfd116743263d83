//! `/api/v1/account`, `/api/v1/users*`, `/api/v1/sub-accounts*`,
//! `/api/v1/audit-events`: policies, forced enrollment, Reset MFA, roles,
//! tenant isolation, and the operator CLI.

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::support::{Session, TestApp, PASSWORD};

/// An administrator with MFA (aal2 session) and their secret.
pub async fn mfa_admin(app: &TestApp, email: &str) -> (Session, String) {
    let s = app.signup_and_login(email).await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let mut aal2 = app.login_mfa(email, &secret).await;
    aal2.account_id = s.account_id;
    (aal2, secret)
}

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
    let session = &verified["session"];
    assert_eq!(session["status"], "authenticated");
    let token = session["access_token"].as_str().unwrap();
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

#[actix_web::test]
async fn users_can_be_listed_filtered_and_paged() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Globex", "require_mfa": true}),
        )
        .await
        .id();
    app.create_user(&admin, "ed@example.com", "editor", None)
        .await;
    app.create_user(&admin, "cat@example.com", "creator", None)
        .await;
    app.create_user(&admin, "gus@globex.com", "read_only", Some(&sub))
        .await;
    let all = app.get("/api/v1/users", &admin.token).await.ok(200);
    assert_eq!(all.body["total"], 4);
    let ann = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ann@example.com")
        .unwrap()
        .clone();
    assert_eq!(ann["mfa_enabled"], true);
    for field in [
        "id",
        "email",
        "display_name",
        "role",
        "sub_account_id",
        "disabled",
        "mfa_enabled",
        "mfa_required",
        "last_login_at",
        "created_at",
    ] {
        assert!(ann.get(field).is_some(), "{field}");
    }
    let total = |r: &crate::support::Resp| r.body["total"].as_i64().unwrap();
    assert_eq!(
        total(
            &app.get("/api/v1/users?mfa_enabled=false", &admin.token)
                .await
        ),
        3
    );
    assert_eq!(
        total(
            &app.get("/api/v1/users?mfa_enabled=true", &admin.token)
                .await
        ),
        1
    );
    assert_eq!(
        total(&app.get("/api/v1/users?role=editor", &admin.token).await),
        1
    );
    let gus = app
        .get(&format!("/api/v1/users?sub_account_id={sub}"), &admin.token)
        .await;
    assert_eq!(total(&gus), 1);
    assert_eq!(gus.body["items"][0]["mfa_required"], true);
    assert_eq!(
        total(&app.get("/api/v1/users?q=GLOBEX", &admin.token).await),
        1
    );
    assert_eq!(
        total(&app.get("/api/v1/users?q=%25", &admin.token).await),
        0,
        "LIKE wildcards are literal"
    );
    let page = app
        .get("/api/v1/users?per_page=2&page=2", &admin.token)
        .await
        .ok(200);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["total"], 4);
    app.get("/api/v1/users?per_page=101", &admin.token)
        .await
        .problem(422, "validation_failed");
    app.get("/api/v1/users?role=emperor", &admin.token)
        .await
        .problem(422, "validation_failed");
    app.get("/api/v1/users?mfa_enabled=maybe", &admin.token)
        .await
        .problem(422, "validation_failed");
}

#[actix_web::test]
async fn users_can_be_created_edited_disabled_and_deleted() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    app.post("/api/v1/users", Some(&admin.token), json!({"email": "ED@example.com", "display_name": "E", "role": "editor", "password": PASSWORD})).await.problem(409, "conflict");
    let ed = app.login("ed@example.com").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{ed_id}"),
            &admin.token,
            json!({"display_name": "Ed E.", "role": "manager"}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["display_name"], "Ed E.");
    assert_eq!(r.body["role"], "manager");
    let r = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(r.body["role"], "manager");
    // Disabling ends the sessions at once and blocks login.
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
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": ed.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    app.login_raw("ed@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.patch(
        &format!("/api/v1/users/{ed_id}"),
        &admin.token,
        json!({"disabled": false}),
    )
    .await
    .ok(200);
    let ed = app.login("ed@example.com").await;
    app.delete(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(204);
    app.get("/api/v1/me", &ed.token)
        .await
        .problem(401, "unauthorized");
    app.login_raw("ed@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    app.get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .problem(404, "not_found");
    for kind in ["user.created", "user.updated", "user.deleted"] {
        let r = app
            .get(
                &format!("/api/v1/audit-events?type={kind}&user_id={ed_id}"),
                &admin.token,
            )
            .await
            .ok(200);
        assert!(r.body["total"].as_i64().unwrap() >= 1, "{kind}");
        assert_eq!(r.body["items"][0]["actor_user_id"], admin.user_id.as_str());
    }
}

#[actix_web::test]
async fn the_last_active_administrator_cannot_be_removed() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let me = admin.user_id.clone();
    app.patch(
        &format!("/api/v1/users/{me}"),
        &admin.token,
        json!({"role": "editor"}),
    )
    .await
    .problem(409, "conflict");
    app.patch(
        &format!("/api/v1/users/{me}"),
        &admin.token,
        json!({"disabled": true}),
    )
    .await
    .problem(409, "conflict");
    app.delete(&format!("/api/v1/users/{me}"), &admin.token)
        .await
        .problem(409, "conflict");
    app.get("/api/v1/me", &admin.token).await.ok(200);
    assert_eq!(
        app.get("/api/v1/me", &admin.token).await.body["role"],
        "administrator"
    );
    // With a second administrator it works.
    app.create_user(&admin, "bob@example.com", "administrator", None)
        .await;
    app.patch(
        &format!("/api/v1/users/{me}"),
        &admin.token,
        json!({"role": "editor"}),
    )
    .await
    .ok(200);
}

#[actix_web::test]
async fn non_admin_roles_get_403_on_every_admin_route() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let target = app
        .create_user(&admin, "t@example.com", "editor", None)
        .await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "S"}),
        )
        .await
        .id();
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/account".into(), None),
        (
            Method::PATCH,
            "/api/v1/account".into(),
            Some(json!({"require_mfa": true})),
        ),
        (Method::GET, "/api/v1/users".into(), None),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(
                json!({"email": "n@example.com", "display_name": "N", "role": "editor", "password": PASSWORD}),
            ),
        ),
        (Method::GET, format!("/api/v1/users/{target}"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{target}"),
            Some(json!({"role": "administrator"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{target}"), None),
        (
            Method::POST,
            format!("/api/v1/users/{target}/mfa/reset"),
            None,
        ),
        (Method::GET, "/api/v1/sub-accounts".into(), None),
        (
            Method::POST,
            "/api/v1/sub-accounts".into(),
            Some(json!({"name": "X"})),
        ),
        (Method::GET, format!("/api/v1/sub-accounts/{sub}"), None),
        (
            Method::PATCH,
            format!("/api/v1/sub-accounts/{sub}"),
            Some(json!({"require_mfa": true})),
        ),
        (Method::DELETE, format!("/api/v1/sub-accounts/{sub}"), None),
        (Method::GET, "/api/v1/audit-events".into(), None),
    ];
    for role in ["read_only", "lite", "editor", "creator"] {
        let email = format!("{role}@example.com");
        app.create_user(&admin, &email, role, None).await;
        let s = app.login(&email).await;
        for (method, path, body) in &routes {
            let r = app
                .call(method.clone(), path, Some(&s.token), body.clone())
                .await;
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden"),
                "{role}: {method} {path}"
            );
        }
    }
    // A manager may change policies and sub-accounts, but not users, resets or the audit log.
    app.create_user(&admin, "mia@example.com", "manager", None)
        .await;
    let mia = app.login("mia@example.com").await;
    for (method, path, body) in &routes {
        let r = app
            .call(method.clone(), path, Some(&mia.token), body.clone())
            .await;
        let manager_may = path.contains("/account") && !path.contains("/accounts")
            || path.contains("/sub-accounts")
            || (*method == Method::GET && path == "/api/v1/users");
        if manager_may {
            assert!(r.status < 400, "manager: {method} {path}: {}", r.text);
        } else {
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden"),
                "manager: {method} {path}"
            );
        }
    }
    // Nothing changed for the target.
    assert_eq!(
        app.get(&format!("/api/v1/users/{target}"), &admin.token)
            .await
            .body["role"],
        "editor"
    );
}

#[actix_web::test]
async fn another_accounts_rows_are_not_found_and_never_listed() {
    let app = TestApp::new().await;
    let (acme, _) = mfa_admin(&app, "ann@acme.com").await;
    let (globex, _) = mfa_admin(&app, "gil@globex.com").await;
    let victim = app
        .create_user(&globex, "victim@globex.com", "editor", None)
        .await;
    let gsub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&globex.token),
            json!({"name": "G-client"}),
        )
        .await
        .id();
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/users/{victim}"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{victim}"),
            Some(json!({"disabled": true})),
        ),
        (Method::DELETE, format!("/api/v1/users/{victim}"), None),
        (
            Method::POST,
            format!("/api/v1/users/{victim}/mfa/reset"),
            None,
        ),
        (Method::GET, format!("/api/v1/sub-accounts/{gsub}"), None),
        (
            Method::PATCH,
            format!("/api/v1/sub-accounts/{gsub}"),
            Some(json!({"require_mfa": true})),
        ),
        (Method::DELETE, format!("/api/v1/sub-accounts/{gsub}"), None),
    ] {
        let r = app
            .call(method.clone(), &path, Some(&acme.token), body)
            .await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{method} {path}");
    }
    // A user may not be placed in another account's sub-account.
    app.post("/api/v1/users", Some(&acme.token), json!({"email": "x@acme.com", "display_name": "X", "role": "editor", "password": PASSWORD, "sub_account_id": gsub}))
        .await
        .problem(422, "validation_failed");
    let users = app.get("/api/v1/users?per_page=100", &acme.token).await;
    assert!(users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["email"].as_str().unwrap().ends_with("@acme.com")));
    let subs = app.get("/api/v1/sub-accounts", &acme.token).await;
    assert_eq!(subs.body["total"], 0);
    let events = app
        .get(
            &format!("/api/v1/audit-events?user_id={victim}"),
            &acme.token,
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 0);
    let events = app
        .get("/api/v1/audit-events?per_page=100", &acme.token)
        .await;
    assert!(events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor_user_id"] != globex.user_id.as_str()));
    // The victim is untouched.
    let r = app
        .get(&format!("/api/v1/users/{victim}"), &globex.token)
        .await
        .ok(200);
    assert_eq!(r.body["disabled"], false);
}

#[actix_web::test]
async fn reset_mfa_needs_an_aal2_administrator_and_ends_the_users_sessions() {
    let app = TestApp::new().await;
    let (admin, admin_secret) = mfa_admin(&app, "ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed0 = app.login("ed@example.com").await;
    let (ed_secret, _, _) = app.enroll(&ed0.token, None).await;
    let ed = app.login_mfa("ed@example.com", &ed_secret).await;
    // An aal1 administrator (password only) cannot reset.
    app.create_user(&admin, "bob@example.com", "administrator", None)
        .await;
    let bob = app.login("bob@example.com").await;
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&bob.token),
        json!({}),
    )
    .await
    .problem(403, "mfa_required_for_action");
    // A manager cannot either, even with aal2.
    app.create_user(&admin, "mia@example.com", "manager", None)
        .await;
    let mia0 = app.login("mia@example.com").await;
    let (mia_secret, _, _) = app.enroll(&mia0.token, None).await;
    let mia = app.login_mfa("mia@example.com", &mia_secret).await;
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&mia.token),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(
        app.get("/api/v1/me", &ed.token).await.body["mfa"]["enabled"],
        true
    );
    // The aal2 administrator can.
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
    app.get("/api/v1/me", &ed0.token)
        .await
        .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": ed.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    let r = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(r.body["mfa_enabled"], false);
    let events = app
        .get(
            &format!("/api/v1/audit-events?type=mfa.reset&user_id={ed_id}"),
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1);
    assert_eq!(
        events.body["items"][0]["actor_user_id"],
        admin.user_id.as_str()
    );
    assert_eq!(events.body["items"][0]["target_user_id"], ed_id.as_str());
    // Without a policy the user signs in with the password alone again.
    let r = app.login_raw("ed@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "authenticated");
    let _ = admin_secret;
}

#[actix_web::test]
async fn audit_log_filters_by_time_and_rejects_unknown_types() {
    let app = TestApp::new().await;
    app.signup_and_login("ann@example.com").await;
    let before = app.clock.now();
    app.clock.advance(3600);
    let admin = app.login("ann@example.com").await;
    let since =
        (before + chrono::Duration::seconds(60)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = app
        .get(
            &format!("/api/v1/audit-events?type=login.succeeded&since={since}"),
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
    let r = app
        .get(
            &format!("/api/v1/audit-events?type=login.succeeded&until={since}"),
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
    app.get("/api/v1/audit-events?type=nope", &admin.token)
        .await
        .problem(422, "validation_failed");
    app.get("/api/v1/audit-events?since=yesterday", &admin.token)
        .await
        .problem(422, "validation_failed");
    let all = app.get("/api/v1/audit-events", &admin.token).await.ok(200);
    let first = &all.body["items"][0];
    for field in [
        "id",
        "type",
        "occurred_at",
        "actor_user_id",
        "target_user_id",
        "ip",
        "user_agent",
        "details",
    ] {
        assert!(first.get(field).is_some(), "{field}");
    }
}

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
    let ed = verified["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
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
    assert_eq!(verified["session"]["status"], "authenticated");
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

fn run_cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let url = match &app.config.database {
        latchkey::store::DatabaseTarget::Sqlite(p) => p.to_string_lossy().to_string(),
        latchkey::store::DatabaseTarget::Postgres(u) => u.clone(),
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("LATCHKEY_DATA_DIR", &app.config.data_dir)
        .env("LATCHKEY_MASTER_KEY", app_master_key(app))
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn app_master_key(app: &TestApp) -> String {
    app.master_key_b64.clone()
}

#[actix_web::test]
async fn operator_cli_creates_accounts_and_resets_a_sole_administrators_mfa() {
    let app = TestApp::new().await;
    let out = run_cli(
        &app,
        &[
            "create-account",
            "--name",
            "Solo Ltd",
            "--email",
            "solo@example.com",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = app.login("solo@example.com").await;
    let (_, _, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("solo@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required");
    // Phone and recovery token lost: the operator resets.
    let out = run_cli(&app, &["reset-mfa", "--email", "Solo@Example.com"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
    let s = app.login("solo@example.com").await;
    let events = app
        .get("/api/v1/audit-events?type=mfa.reset", &s.token)
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1);
    assert_eq!(events.body["items"][0]["actor_user_id"], Value::Null);
    assert_eq!(events.body["items"][0]["details"]["by"], "operator");
    let out = run_cli(&app, &["reset-mfa", "--email", "nobody@example.com"], "");
    assert!(!out.status.success());
    // Migrations are already applied; `migrate` is idempotent.
    let out = run_cli(&app, &["migrate"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("0 migration(s) applied"));
    // `keys rotate`: a new signing key; the running node keeps accepting the
    // tokens it issued and picks the new key up from the database.
    let old_kid = app.state.keys.signing_kid();
    let out = run_cli(&app, &["keys", "rotate"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.get("/api/v1/me", &s.token).await.ok(200);
    let restarted = app.node();
    assert_ne!(restarted.keys.signing_kid(), old_kid);
    let kids = restarted
        .keys
        .jwks()
        .into_iter()
        .map(|k| k.kid)
        .collect::<Vec<_>>();
    assert!(kids.contains(&old_kid) && kids.len() == 2, "{kids:?}");
    let out = run_cli(
        &app,
        &["create-account", "--name", "X", "--email", "x@example.com"],
        "short\n",
    );
    assert!(!out.status.success(), "short passwords are refused");
}
