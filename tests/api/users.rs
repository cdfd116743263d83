//! `/api/v1/users*`: the user list with MFA state, user management, roles,
//! tenant isolation and Reset MFA.

use actix_web::http::Method;
use serde_json::{json, Value};

use latchkey::http::dto::{Page, UserResponse};
use latchkey::store::types::{Role, RoleRef};

use crate::support::{mfa_admin, TestApp, PASSWORD};

type Users = Page<UserResponse>;

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
    // Every row is exactly a `UserResponse` (`json` checks the round trip).
    let all: Users = app.get("/api/v1/users", &admin.token).await.ok(200).json();
    assert_eq!(all.total, 4);
    let ann = all
        .items
        .iter()
        .find(|u| u.email == "ann@example.com")
        .unwrap();
    assert!(ann.mfa_enabled);
    assert!(ann.last_login_at.is_some());
    let total = |r: &crate::support::Resp| r.json::<Users>().total;
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
    assert!(gus.json::<Users>().items[0].mfa_required);
    assert_eq!(
        total(&app.get("/api/v1/users?q=GLOBEX", &admin.token).await),
        1
    );
    assert_eq!(
        total(&app.get("/api/v1/users?q=%25", &admin.token).await),
        0,
        "LIKE wildcards are literal"
    );
    let page: Users = app
        .get("/api/v1/users?per_page=2&page=2", &admin.token)
        .await
        .ok(200)
        .json();
    assert_eq!((page.items.len(), page.page, page.total), (2, 2, 4));
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
    let edited: UserResponse = app
        .patch(
            &format!("/api/v1/users/{ed_id}"),
            &admin.token,
            json!({"display_name": "Ed E.", "role": "manager"}),
        )
        .await
        .ok(200)
        .json();
    assert_eq!(edited.display_name, "Ed E.");
    assert_eq!(edited.role, RoleRef::BuiltIn(Role::Manager));
    let read: UserResponse = app
        .get(&format!("/api/v1/users/{ed_id}"), &admin.token)
        .await
        .ok(200)
        .json();
    assert_eq!(read.role, edited.role);
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
    let idp = crate::sso::connect(&app, &admin, "https://idp.example", json!({})).await;
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
        (Method::GET, "/api/v1/identity-providers".into(), None),
        (
            Method::POST,
            "/api/v1/identity-providers".into(),
            Some(
                json!({"name": "I", "issuer": "https://idp.example", "client_id": "c", "client_secret": "s", "allowed_redirect_uris": ["https://app.example/cb"]}),
            ),
        ),
        (
            Method::GET,
            format!("/api/v1/identity-providers/{idp}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/identity-providers/{idp}"),
            Some(json!({"trust_idp_mfa": true})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/identity-providers/{idp}"),
            None,
        ),
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
