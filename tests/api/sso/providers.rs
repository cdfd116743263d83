//! `/api/v1/identity-providers`: managed by `sso.manage` with the secret
//! sealed; what they may hand out; every URL they name obeys the rule.

use actix_web::http::Method;
use serde_json::json;

use super::*;
use crate::idp::{MockIdp, CLIENT_SECRET};

#[actix_web::test]
async fn providers_are_managed_by_sso_manage_with_the_secret_sealed() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("admin@corp.example").await;
    let r = app
        .post(
            "/api/v1/identity-providers",
            Some(&admin.token),
            json!({"name": "Okta", "issuer": "https://corp.okta.example", "client_id": "abc",
                   "client_secret": CLIENT_SECRET, "allowed_redirect_uris": [APP_CALLBACK],
                   "scopes": ["email"]}),
        )
        .await
        .ok(201);
    let id = r.id();
    assert!(r.body.get("client_secret").is_none(), "{}", r.text);
    assert!(!r.text.contains(CLIENT_SECRET));
    assert_eq!(r.body["scopes"], json!(["openid", "email"]));
    assert_eq!(r.body["trust_idp_mfa"], false);
    assert_eq!(r.body["jit_provisioning"], false, "JIT is off by default");
    assert_eq!(r.body["default_role"], "read_only");
    assert_eq!(
        r.body["callback_url"],
        "http://127.0.0.1:8080/api/v1/sso/callback"
    );
    assert!(!app.dump_table("identity_providers").contains(CLIENT_SECRET));
    // Same name again; bad fields.
    for (body, status, code) in [
        (
            json!({"name": "Okta", "issuer": "https://x.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK]}),
            409,
            "conflict",
        ),
        (
            json!({"name": "A", "issuer": "http://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK]}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "B", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": []}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "C", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": ["https://app.example/cb#x"]}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "D", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK], "default_role": "nope"}),
            422,
            "validation_failed",
        ),
        (
            json!({"name": "E", "issuer": "https://idp.example", "client_id": "a", "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK], "scopes": ["a b"]}),
            422,
            "validation_failed",
        ),
    ] {
        app.post("/api/v1/identity-providers", Some(&admin.token), body)
            .await
            .problem(status, code);
    }
    // A sub-account's provider hands out client roles only.
    let sub = app
        .post(
            "/api/v1/sub-accounts",
            Some(&admin.token),
            json!({"name": "Client", "require_mfa": false}),
        )
        .await
        .ok(201)
        .id();
    let r = app
        .post(
            "/api/v1/identity-providers",
            Some(&admin.token),
            json!({"name": "Client IdP", "issuer": "https://client.example", "client_id": "a", "client_secret": "s",
                   "allowed_redirect_uris": [APP_CALLBACK], "sub_account_id": sub, "default_role": "administrator"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "default_role");

    let path = format!("/api/v1/identity-providers/{id}");
    let r = app
        .patch(
            &path,
            &admin.token,
            json!({"trust_idp_mfa": true, "client_secret": "rotated-secret"}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["trust_idp_mfa"], true);
    assert!(!app
        .dump_table("identity_providers")
        .contains("rotated-secret"));
    let listed = app
        .get("/api/v1/identity-providers", &admin.token)
        .await
        .ok(200);
    assert_eq!(listed.body["total"], 1);

    // Another account sees nothing; a user without sso.manage is refused.
    let other = app.signup_and_login("admin@other.example").await;
    app.get(&path, &other.token).await.problem(404, "not_found");
    app.delete(&path, &other.token)
        .await
        .problem(404, "not_found");
    app.get("/api/v1/identity-providers/not-a-uuid", &admin.token)
        .await
        .problem(404, "not_found");
    app.create_user(&admin, "ed@corp.example", "editor", None)
        .await;
    let ed = app.login("ed@corp.example").await;
    app.get("/api/v1/identity-providers", &ed.token)
        .await
        .problem(403, "forbidden");

    app.delete(&path, &admin.token).await.ok(204);
    app.get(&path, &admin.token).await.problem(404, "not_found");
    let events = app
        .get("/api/v1/audit-events?per_page=100", &admin.token)
        .await
        .ok(200);
    let types: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "identity_provider.created",
        "identity_provider.updated",
        "identity_provider.deleted",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}

#[actix_web::test]
async fn sso_manage_cannot_provision_more_than_its_holder_holds() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("admin@corp.example").await;
    let role = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "SSO admin", "permissions": ["sso.manage"]}),
        )
        .await
        .ok(201)
        .id();
    app.create_user(&admin, "sam@corp.example", &role, None)
        .await;
    let sam = app.login("sam@corp.example").await;
    let body = |role: &str| {
        json!({"name": format!("IdP {role}"), "issuer": "https://idp.example", "client_id": "a",
               "client_secret": "s", "allowed_redirect_uris": [APP_CALLBACK], "jit_provisioning": true,
               "default_role": role})
    };
    app.post(
        "/api/v1/identity-providers",
        Some(&sam.token),
        body("administrator"),
    )
    .await
    .problem(403, "forbidden");
    let id = app
        .post(
            "/api/v1/identity-providers",
            Some(&sam.token),
            body("editor"),
        )
        .await
        .ok(201)
        .id();
    // A custom role in use as a default role cannot be deleted.
    let viewer = app
        .post(
            "/api/v1/roles",
            Some(&admin.token),
            json!({"name": "Viewer", "permissions": []}),
        )
        .await
        .ok(201)
        .id();
    edit_provider(&app, &admin.token, &id, json!({"default_role": viewer})).await;
    app.delete(&format!("/api/v1/roles/{viewer}"), &admin.token)
        .await
        .problem(409, "conflict");
}

/// Every URL the relying party contacts obeys the issuer's rule (https;
/// http only on loopback): a discovery document naming a plain-http
/// endpoint elsewhere is refused before anything is sent there.
#[actix_web::test]
async fn every_endpoint_a_provider_names_obeys_the_url_rule() {
    for endpoint in ["token_endpoint", "jwks_uri", "userinfo_endpoint"] {
        let app = TestApp::new().await;
        let idp = MockIdp::start();
        let admin = app.signup_and_login("admin@corp.example").await;
        let provider = connect(&app, &admin, &idp.issuer, json!({})).await;
        // `.invalid` never resolves: nothing could be sent there anyway.
        idp.script
            .lock()
            .unwrap()
            .endpoints
            .insert(endpoint, format!("http://idp.invalid/{endpoint}"));
        let path = format!(
            "/api/v1/sso/{provider}/authorize?redirect_uri={}",
            percent(APP_CALLBACK)
        );
        let r = app.call(Method::GET, &path, None, None).await;
        r.problem(502, "identity_provider_unavailable");
        let script = idp.script.lock().unwrap();
        assert_eq!(script.jwks_fetches, 0, "{endpoint}");
        assert!(script.token_requests.is_empty(), "{endpoint}");
    }
}
