//! `/api/v1/permissions` and `/api/v1/roles*`: roles made of named
//! permissions, custom roles per account, read per request, and the
//! last-holder guard over `roles.manage` + `users.manage`.

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::support::{mfa_admin, Session, TestApp, PASSWORD};

async fn create_role(app: &TestApp, admin: &Session, name: &str, permissions: &[&str]) -> String {
    app.post(
        "/api/v1/roles",
        Some(&admin.token),
        json!({"name": name, "description": format!("{name} role"), "permissions": permissions}),
    )
    .await
    .ok(201)
    .id()
}

#[actix_web::test]
async fn permissions_are_listed_with_their_built_in_holders() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let r = app.get("/api/v1/permissions", &s.token).await.ok(200);
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "account.manage",
            "account.policy",
            "users.view",
            "users.manage",
            "users.reset_mfa",
            "sub_accounts.manage",
            "audit.view",
            "roles.manage",
            "sso.manage"
        ]
    );
    assert_eq!(r.body["total"], 9);
    for p in r.body["items"].as_array().unwrap() {
        assert!(!p["description"].as_str().unwrap().is_empty());
        assert!(p["built_in_roles"]
            .as_array()
            .unwrap()
            .contains(&json!("administrator")));
    }
    let view = &r.body["items"][2];
    assert_eq!(view["built_in_roles"], json!(["administrator", "manager"]));
}

#[actix_web::test]
async fn a_help_desk_role_lists_users_and_resets_mfa_and_nothing_else() {
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let help_desk = create_role(
        &app,
        &admin,
        "Help desk",
        &["users.view", "users.reset_mfa"],
    )
    .await;
    app.create_user(&admin, "hal@example.com", &help_desk, None)
        .await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    app.enroll(&ed.token, None).await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    // Without MFA the help desk may list users but not reset.
    let hal = app.login("hal@example.com").await;
    let me = app.get("/api/v1/me", &hal.token).await.ok(200);
    assert_eq!(me.body["role"], help_desk.as_str());
    app.get("/api/v1/users", &hal.token).await.ok(200);
    let reset = format!("/api/v1/users/{ed_id}/mfa/reset");
    app.post(&reset, Some(&hal.token), json!({}))
        .await
        .problem(403, "mfa_required_for_action");
    // With MFA and an aal2 session it resets.
    let (secret, _, _) = app.enroll(&hal.token, None).await;
    let hal = app.login_mfa("hal@example.com", &secret).await;
    app.post(&reset, Some(&hal.token), json!({})).await.ok(204);
    // Everything else is 403.
    let role_path = format!("/api/v1/roles/{help_desk}");
    let idp = crate::sso::connect(&app, &admin, "https://idp.example", json!({})).await;
    let idp_path = format!("/api/v1/identity-providers/{idp}");
    let denied: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/account".into(), None),
        (
            Method::PATCH,
            "/api/v1/account".into(),
            Some(json!({"require_mfa": true})),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(
                json!({"email": "x@example.com", "display_name": "X", "role": "editor", "password": PASSWORD}),
            ),
        ),
        (Method::GET, format!("/api/v1/users/{ed_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{ed_id}"),
            Some(json!({"role": "lite"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{ed_id}"), None),
        (Method::GET, "/api/v1/sub-accounts".into(), None),
        (
            Method::POST,
            "/api/v1/sub-accounts".into(),
            Some(json!({"name": "Y", "require_mfa": false})),
        ),
        (Method::GET, format!("/api/v1/sub-accounts/{sub}"), None),
        (
            Method::PATCH,
            format!("/api/v1/sub-accounts/{sub}"),
            Some(json!({"require_mfa": true})),
        ),
        (Method::DELETE, format!("/api/v1/sub-accounts/{sub}"), None),
        (Method::GET, "/api/v1/audit-events".into(), None),
        (Method::GET, "/api/v1/roles".into(), None),
        (
            Method::POST,
            "/api/v1/roles".into(),
            Some(json!({"name": "Z", "permissions": []})),
        ),
        (Method::GET, role_path.clone(), None),
        (
            Method::PATCH,
            role_path.clone(),
            Some(json!({"permissions": ["roles.manage"]})),
        ),
        (Method::DELETE, role_path.clone(), None),
        (Method::GET, "/api/v1/identity-providers".into(), None),
        (
            Method::POST,
            "/api/v1/identity-providers".into(),
            Some(
                json!({"name": "I", "issuer": "https://idp.example", "client_id": "c", "client_secret": "s", "allowed_redirect_uris": ["https://app.example/cb"]}),
            ),
        ),
        (Method::GET, idp_path.clone(), None),
        (
            Method::PATCH,
            idp_path.clone(),
            Some(json!({"trust_idp_mfa": true})),
        ),
        (Method::DELETE, idp_path.clone(), None),
    ];
    for (method, path, body) in denied {
        let r = app
            .call(method.clone(), &path, Some(&hal.token), body)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "forbidden"),
            "{method} {path}: {}",
            r.text
        );
    }
}

#[actix_web::test]
async fn a_changed_role_takes_effect_on_the_next_request_and_a_role_in_use_stays() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let viewers = create_role(&app, &admin, "Viewers", &["users.view", "audit.view"]).await;
    let vic_id = app
        .create_user(&admin, "vic@example.com", &viewers, None)
        .await;
    let vic = app.login("vic@example.com").await;
    app.get("/api/v1/users", &vic.token).await.ok(200);
    app.get("/api/v1/audit-events", &vic.token).await.ok(200);
    // Same token, next request: the role's new permissions decide.
    let role_path = format!("/api/v1/roles/{viewers}");
    let r = app
        .patch(
            &role_path,
            &admin.token,
            json!({"permissions": ["audit.view"]}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["permissions"], json!(["audit.view"]));
    app.get("/api/v1/users", &vic.token)
        .await
        .problem(403, "forbidden");
    app.get("/api/v1/audit-events", &vic.token).await.ok(200);
    // In use: 409; once nobody holds it, it goes.
    app.delete(&role_path, &admin.token)
        .await
        .problem(409, "conflict");
    app.patch(
        &format!("/api/v1/users/{vic_id}"),
        &admin.token,
        json!({"role": "editor"}),
    )
    .await
    .ok(200);
    app.delete(&role_path, &admin.token).await.ok(204);
    app.get(&role_path, &admin.token)
        .await
        .problem(404, "not_found");
    let listed = app.get("/api/v1/roles", &admin.token).await.ok(200);
    assert_eq!(listed.body["total"], 0);
}

#[actix_web::test]
async fn roles_are_validated_and_scoped_to_their_account() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let other = app.signup_and_login("zoe@example.com").await;
    let theirs = create_role(&app, &other, "Auditors", &["audit.view"]).await;
    for (body, field) in [
        (
            json!({"name": "X", "permissions": ["users.view", "root"]}),
            "permissions",
        ),
        (json!({"name": "Administrator", "permissions": []}), "name"),
        (json!({"name": "", "permissions": []}), "name"),
    ] {
        let r = app
            .post("/api/v1/roles", Some(&admin.token), body)
            .await
            .problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.text);
    }
    create_role(&app, &admin, "Auditors", &["audit.view"]).await;
    app.post(
        "/api/v1/roles",
        Some(&admin.token),
        json!({"name": "Auditors", "permissions": []}),
    )
    .await
    .problem(409, "conflict");
    // Another account's role: not found, and not assignable.
    app.get(&format!("/api/v1/roles/{theirs}"), &admin.token)
        .await
        .problem(404, "not_found");
    for role in [
        theirs.as_str(),
        "superuser",
        "00000000-0000-4000-8000-000000000000",
    ] {
        let r = app
            .post(
                "/api/v1/users",
                Some(&admin.token),
                json!({"email": "x@example.com", "display_name": "X", "role": role, "password": PASSWORD}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "role");
    }
    // Client users hold only the client roles, never a custom one.
    let mine = create_role(&app, &admin, "Readers", &[]).await;
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    app.post(
        "/api/v1/users",
        Some(&admin.token),
        json!({"email": "c@client.example", "display_name": "C", "role": mine, "password": PASSWORD, "sub_account_id": sub}),
    )
    .await
    .problem(422, "validation_failed");
    app.get("/api/v1/users?role=superuser", &admin.token)
        .await
        .problem(422, "validation_failed");
    let r = app
        .get(&format!("/api/v1/users?role={mine}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(r.body["total"], 0);
}

#[actix_web::test]
async fn the_account_keeps_a_user_who_manages_users_and_roles() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let owners = create_role(&app, &admin, "Owners", &["users.manage", "roles.manage"]).await;
    let bob_id = app
        .create_user(&admin, "bob@example.com", &owners, None)
        .await;
    // Bob's custom role keeps the account manageable: Ann may step down.
    app.patch(
        &format!("/api/v1/users/{}", admin.user_id),
        &admin.token,
        json!({"role": "editor"}),
    )
    .await
    .ok(200);
    let bob = app.login("bob@example.com").await;
    // Taking roles.manage from the last holder's role, or the role from him: 409.
    let owners_path = format!("/api/v1/roles/{owners}");
    app.patch(
        &owners_path,
        &bob.token,
        json!({"permissions": ["users.manage"]}),
    )
    .await
    .problem(409, "conflict");
    app.patch(
        &format!("/api/v1/users/{bob_id}"),
        &bob.token,
        json!({"role": "editor"}),
    )
    .await
    .problem(409, "conflict");
    app.patch(
        &format!("/api/v1/users/{bob_id}"),
        &bob.token,
        json!({"disabled": true}),
    )
    .await
    .problem(409, "conflict");
    // Two holders demoting each other at once: one wins, never both.
    let carl_id = app
        .create_user(&bob, "carl@example.com", &owners, None)
        .await;
    let carl = app.login("carl@example.com").await;
    let srv = app.service().await;
    let demote = |by: &Session, target: &str| {
        srv.call(
            Method::PATCH,
            &format!("/api/v1/users/{target}"),
            Some(&by.token),
            Some(json!({"role": "editor"})),
        )
    };
    let (a, b) = futures::future::join(demote(&bob, &carl_id), demote(&carl, &bob_id)).await;
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert!(
        statuses == [200, 409] || statuses == [200, 403],
        "{statuses:?}"
    );
    let keepers = app.count(&format!(
        "SELECT COUNT(*) AS n FROM users u WHERE u.disabled = FALSE AND (u.role = 'administrator' OR u.role IN (SELECT id FROM roles WHERE permissions LIKE '%roles.manage%' AND permissions LIKE '%users.manage%')) AND u.account_id = '{}'",
        admin.account_id
    ));
    assert_eq!(keepers, 1);
}

/// No escalation: a role holder hands out, and acts on users holding, only
/// permissions they hold themselves.
#[actix_web::test]
async fn nobody_grants_more_than_they_hold() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let user_admins =
        create_role(&app, &admin, "User admins", &["users.view", "users.manage"]).await;
    let role_admins = create_role(&app, &admin, "Role admins", &["roles.manage"]).await;
    let bob_id = app
        .create_user(&admin, "bob@example.com", &user_admins, None)
        .await;
    app.create_user(&admin, "rae@example.com", &role_admins, None)
        .await;
    let bob = app.login("bob@example.com").await;
    let rae = app.login("rae@example.com").await;
    // Bob manages users, but cannot make anyone (himself included) more
    // powerful than he is, nor touch an administrator.
    app.patch(
        &format!("/api/v1/users/{bob_id}"),
        &bob.token,
        json!({"role": "administrator"}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        "/api/v1/users",
        Some(&bob.token),
        json!({"email": "x@example.com", "display_name": "X", "role": "manager", "password": PASSWORD}),
    )
    .await
    .problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/users/{}", admin.user_id),
        &bob.token,
        json!({"disabled": true}),
    )
    .await
    .problem(403, "forbidden");
    app.delete(&format!("/api/v1/users/{}", admin.user_id), &bob.token)
        .await
        .problem(403, "forbidden");
    app.post(
        "/api/v1/users",
        Some(&bob.token),
        json!({"email": "ed@example.com", "display_name": "Ed", "role": "editor", "password": PASSWORD}),
    )
    .await
    .ok(201);
    // Rae manages roles, but cannot put into one (her own included) what
    // she does not hold.
    app.post(
        "/api/v1/roles",
        Some(&rae.token),
        json!({"name": "Everything", "permissions": ["users.manage"]}),
    )
    .await
    .problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/roles/{role_admins}"),
        &rae.token,
        json!({"permissions": ["roles.manage", "sso.manage"]}),
    )
    .await
    .problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/roles/{user_admins}"),
        &rae.token,
        json!({"name": "Renamed"}),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        "/api/v1/roles",
        Some(&rae.token),
        json!({"name": "Role admins 2", "permissions": ["roles.manage"]}),
    )
    .await
    .ok(201);
}

/// A custom role's id (and every other UUID in a body) has one spelling:
/// the canonical one the API answers with. Any other is 422, so no user
/// holds a role that `DELETE /roles/{id}` and `?role=` do not see.
#[actix_web::test]
async fn ids_in_bodies_are_canonical_or_refused() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let role = create_role(&app, &admin, "Help desk", &["users.view"]).await;
    let uuid = uuid::Uuid::parse_str(&role).unwrap();
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    let spellings = [
        role.to_uppercase(),
        format!("{{{role}}}"),
        uuid.simple().to_string(),
        format!("urn:uuid:{role}"),
    ];
    for (i, spelling) in spellings.iter().enumerate() {
        let email = format!("u{i}@example.com");
        let r = app
            .post(
                "/api/v1/users",
                Some(&admin.token),
                json!({"email": email, "display_name": "U", "role": spelling, "password": PASSWORD}),
            )
            .await
            .problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "role", "{spelling}");
        app.get(
            &format!(
                "/api/v1/users?role={}",
                spelling.replace('{', "%7B").replace('}', "%7D")
            ),
            &admin.token,
        )
        .await
        .problem(422, "validation_failed");
    }
    let r = app
        .post(
            "/api/v1/users",
            Some(&admin.token),
            json!({"email": "c@example.com", "display_name": "C", "role": "editor", "password": PASSWORD, "sub_account_id": sub.to_uppercase()}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "sub_account_id");
    let id = app.create_user(&admin, "ok@example.com", &role, None).await;
    let r = app
        .get(&format!("/api/v1/users?role={role}"), &admin.token)
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    // The role is in use: it cannot go.
    app.delete(&format!("/api/v1/roles/{role}"), &admin.token)
        .await
        .problem(409, "conflict");
}
