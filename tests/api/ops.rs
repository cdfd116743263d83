//! `/healthz`, `/readyz`, `/metrics`, `/api-docs/openapi.json`, `/swagger-ui/`,
//! and the error answers every route shares (over 500 lines: these are
//! the cross-cutting answers, one test each, none belonging to a route).

use actix_web::http::Method;
use actix_web::test as web_test;
use serde_json::json;

use crate::support::{TestApp, PASSWORD};

#[actix_web::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::new().await;
    let r = app.call(Method::GET, "/healthz", None, None).await.ok(200);
    assert_eq!(r.body["status"], "ok");
    let r = app.call(Method::GET, "/readyz", None, None).await.ok(200);
    assert_eq!(r.body["status"], "ready");
    app.login_raw("nobody@example.com", "wrong password!!")
        .await
        .problem(401, "invalid_credentials");
    let r = app.call(Method::GET, "/metrics", None, None).await.ok(200);
    assert!(r.content_type().starts_with("text/plain"));
    assert!(r.text.contains("http_requests_total"), "{}", r.text);
    assert!(
        r.text
            .contains("latchkey_password_logins_total{outcome=\"invalid_credentials\"}"),
        "{}",
        r.text
    );
    // Durations are histograms (buckets add up across nodes), not
    // summaries (per-node quantiles that cannot be combined).
    assert!(
        r.text
            .contains("# TYPE http_request_duration_seconds histogram")
            && r.text.contains("http_request_duration_seconds_bucket{"),
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn swagger_ui_and_openapi_are_served() {
    let app = TestApp::new().await;
    let r = app
        .call(Method::GET, "/swagger-ui/", None, None)
        .await
        .ok(200);
    assert!(r.text.contains("swagger"), "swagger html");
    let r = app
        .call(Method::GET, "/api-docs/openapi.json", None, None)
        .await
        .ok(200);
    assert_eq!(
        r.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for path in [
        "/api/v1/accounts",
        "/api/v1/sessions",
        "/api/v1/sessions/mfa",
        "/api/v1/sessions/refresh",
        "/api/v1/sessions/current",
        "/api/v1/me",
        "/api/v1/me/password",
        "/api/v1/me/sessions",
        "/api/v1/me/sessions/{id}",
        "/api/v1/me/mfa",
        "/api/v1/me/mfa/totp",
        "/api/v1/me/mfa/totp/verify",
        "/api/v1/me/mfa/recovery-token",
        "/api/v1/account",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/mfa/reset",
        "/api/v1/sub-accounts",
        "/api/v1/sub-accounts/{id}",
        "/api/v1/audit-events",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            r.body["paths"].get(path).is_some(),
            "{path} is not documented"
        );
    }
}

/// The committed `openapi/openapi.json` equals the served document.
#[test]
fn openapi_document_matches_the_committed_copy() {
    let served = serde_json::to_string_pretty(&latchkey::app::openapi()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("LATCHKEY_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi")).unwrap();
        std::fs::write(path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == served,
        "openapi/openapi.json is out of date; regenerate it with: LATCHKEY_BLESS=1 cargo test openapi_document"
    );
}

#[actix_web::test]
async fn unknown_routes_and_bad_bodies_are_problem_json() {
    let app = TestApp::new().await;
    app.call(Method::GET, "/nope", None, None)
        .await
        .problem(404, "not_found");
    app.call(Method::GET, "/api/v1/nope", None, None)
        .await
        .problem(404, "not_found");
    // Wrong content type, malformed JSON, an oversized body, deep nesting
    // (skipped without recursion, so it is just a wrong login).
    let srv = web_test::init_service(latchkey::app::build(app.state.clone())).await;
    let cases: Vec<(web_test::TestRequest, u16, &str)> = vec![
        (
            web_test::TestRequest::post()
                .uri("/api/v1/sessions")
                .insert_header(("content-type", "text/plain"))
                .set_payload("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            web_test::TestRequest::post()
                .uri("/api/v1/sessions")
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"email\":"),
            400,
            "bad_request",
        ),
        (
            web_test::TestRequest::post()
                .uri("/api/v1/sessions")
                .insert_header(("content-type", "application/json"))
                .set_payload(format!(
                    "{{\"email\":\"{}\",\"password\":\"x\"}}",
                    "a".repeat(70_000)
                )),
            413,
            "payload_too_large",
        ),
        (
            web_test::TestRequest::post()
                .uri("/api/v1/sessions")
                .insert_header(("content-type", "application/json"))
                .set_payload(
                    "{\"email\":\"a\",\"password\":\"b\",\"x\":".to_string()
                        + &"[".repeat(5000)
                        + &"]".repeat(5000)
                        + "}",
                ),
            // Deep nesting is no crash; the unknown field is refused.
            422,
            "validation_failed",
        ),
        (
            web_test::TestRequest::post()
                .uri("/api/v1/sessions")
                .insert_header(("content-type", "application/json"))
                .set_payload("[]"),
            422,
            "validation_failed",
        ),
        (
            web_test::TestRequest::post()
                .uri("/api/v1/sessions")
                .insert_header(("content-type", "application/json"))
                .set_payload(""),
            400,
            "bad_request",
        ),
    ];
    for (req, status, code) in cases {
        let res = web_test::call_service(
            &srv,
            req.peer_addr("127.0.0.1:1".parse().unwrap()).to_request(),
        )
        .await;
        crate::support::to_resp(res).await.problem(status, code);
    }
    let s = app.signup_and_login("ann@example.com").await;
    app.get("/api/v1/users/%ZZ", &s.token)
        .await
        .problem(404, "not_found");
    app.post("/api/v1/users", Some(&s.token), json!({"email": "e@x.io", "display_name": "E", "role": "emperor", "password": "long enough password"})).await.problem(422, "validation_failed");
}

#[actix_web::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::with(|c| c.cors_origins = vec!["https://app.example.com".into()]).await;
    let srv = web_test::init_service(latchkey::app::build(app.state.clone())).await;
    let req = web_test::TestRequest::default()
        .method(Method::OPTIONS)
        .uri("/api/v1/sessions")
        .insert_header(("origin", "https://app.example.com"))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header(("access-control-request-headers", "content-type"))
        .to_request();
    let res = web_test::call_service(&srv, req).await;
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    let req = web_test::TestRequest::default()
        .method(Method::OPTIONS)
        .uri("/api/v1/sessions")
        .insert_header(("origin", "https://evil.example.com"))
        .insert_header(("access-control-request-method", "POST"))
        .to_request();
    let res = web_test::call_service(&srv, req).await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn per_ip_rate_limit_on_unauthenticated_routes() {
    let app = TestApp::with(|c| c.ip_rate_limit = 3).await;
    for _ in 0..3 {
        app.login_raw("a@b.io", "wrong password!!")
            .await
            .problem(401, "invalid_credentials");
    }
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": "lkr_x"}),
        )
        .await
        .problem(429, "too_many_attempts");
    assert!(r.headers.get("retry-after").is_some());
    // Authenticated and operational routes are not limited.
    app.call(Method::GET, "/healthz", None, None).await.ok(200);
}

#[actix_web::test]
async fn forwarded_for_is_honoured_only_from_trusted_proxies() {
    let app = TestApp::with(|c| {
        c.ip_rate_limit = 2;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let srv = web_test::init_service(latchkey::app::build(app.state.clone())).await;
    // Every attempt for another email, so the per-email lockout stays out of it.
    let email = || format!("{}@example.com", uuid::Uuid::new_v4());
    let login = |xff: &str| {
        web_test::TestRequest::post()
            .uri("/api/v1/sessions")
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", xff.to_string()))
            .set_json(json!({"email": email(), "password": "wrong password!!"}))
            .to_request()
    };
    // Two clients behind the trusted proxy have separate budgets.
    for xff in [
        "198.51.100.1",
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.2",
    ] {
        assert_eq!(web_test::call_service(&srv, login(xff)).await.status(), 401);
    }
    assert_eq!(
        web_test::call_service(&srv, login("198.51.100.1"))
            .await
            .status(),
        429
    );
    // An untrusted peer's X-Forwarded-For is ignored.
    let spoof = |xff: &str| {
        web_test::TestRequest::post()
            .uri("/api/v1/sessions")
            .peer_addr("203.0.113.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", xff.to_string()))
            .set_json(json!({"email": email(), "password": "wrong password!!"}))
            .to_request()
    };
    assert_eq!(
        web_test::call_service(&srv, spoof("10.0.0.1"))
            .await
            .status(),
        401
    );
    assert_eq!(
        web_test::call_service(&srv, spoof("10.0.0.2"))
            .await
            .status(),
        401
    );
    assert_eq!(
        web_test::call_service(&srv, spoof("10.0.0.3"))
            .await
            .status(),
        429
    );
}

#[actix_web::test]
async fn oversize_unicode_and_control_characters_are_refused_cleanly() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases = [
        json!({"account_name": "x".repeat(201), "email": "b@example.com", "password": "long enough password"}),
        json!({"account_name": "Tab\tName", "email": "b@example.com", "password": "long enough password"}),
        json!({"account_name": "B", "email": long_email, "password": "long enough password"}),
        json!({"account_name": "B", "email": "b@example.com", "password": "p".repeat(1025)}),
        json!({"account_name": "B", "email": "b\u{0}@example.com", "password": "long enough password"}),
        json!({"account_name": "B", "email": "b@example.com", "password": "nul\u{0} inside password"}),
    ];
    for body in cases {
        app.post("/api/v1/accounts", None, body.clone())
            .await
            .problem(422, "validation_failed");
    }
    // Unicode names are fine.
    let r = app.post("/api/v1/accounts", None, json!({"account_name": "Zürich Ärzte 東京", "email": "z@example.com", "password": "long enough password"})).await.ok(201);
    assert_eq!(r.body["account"]["name"], "Zürich Ärzte 東京");
    app.post(
        "/api/v1/sub-accounts",
        Some(&admin.token),
        json!({"name": "\u{7}bell"}),
    )
    .await
    .problem(422, "validation_failed");
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"name": "n".repeat(201)}),
    )
    .await
    .problem(422, "validation_failed");
    app.second_step(&"x".repeat(60_000), &"123456")
        .await
        .problem(401, "challenge_expired");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": "lkr_".to_string() + &"x".repeat(60_000)}),
    )
    .await
    .problem(401, "unauthorized");
    app.get(
        &format!("/api/v1/users?q={}", "q".repeat(300)),
        &admin.token,
    )
    .await
    .problem(422, "validation_failed");
    app.get(&format!("/api/v1/users/{}", "i".repeat(5000)), &admin.token)
        .await
        .problem(404, "not_found");
}

/// Pool connections are pinged on checkout only after a rest or a failed
/// use (no round trip per request): when PostgreSQL drops them all, each
/// costs at most the one request that finds it, and the pool replaces it.
#[actix_web::test]
async fn pool_connections_the_database_dropped_are_replaced() {
    use diesel::{Connection, RunQueryDsl};
    let app = TestApp::new().await;
    let Some((admin_url, db)) = app.pg_admin() else {
        eprintln!("pool_connections_the_database_dropped_are_replaced: PostgreSQL only; skipped");
        return;
    };
    let s = app.signup_and_login("dropped@example.com").await;
    // A route that reads the database on every call (the session list).
    let sessions = "/api/v1/me/sessions";
    for _ in 0..5 {
        app.get(sessions, &s.token).await.ok(200);
    }
    let mut admin = diesel::PgConnection::establish(admin_url).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        _ended: bool,
    }
    let ended = diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) AS _ended FROM pg_stat_activity \
         WHERE datname = '{db}' AND pid <> pg_backend_pid()"
    ))
    .load::<Ended>(&mut admin)
    .unwrap();
    assert!(!ended.is_empty(), "the pool had connections to drop");
    let mut failed = 0;
    for _ in 0..ended.len() + 5 {
        let r = app.get(sessions, &s.token).await;
        if r.status == 500 {
            assert_eq!(r.body["code"], "internal_error", "{}", r.body);
            failed += 1;
        } else {
            r.ok(200);
        }
    }
    assert!(
        failed <= ended.len(),
        "{failed} failures for {} dropped connections",
        ended.len()
    );
    for _ in 0..20 {
        app.get(sessions, &s.token).await.ok(200);
    }
}

/// Swagger UI (and every other answer) is never sniffed nor framed.
#[actix_web::test]
async fn html_and_json_answers_carry_nosniff_and_frame_ancestors() {
    let app = TestApp::new().await;
    for path in [
        "/swagger-ui/",
        "/swagger-ui/index.html",
        "/healthz",
        "/api/v1/me",
    ] {
        let r = app.call(Method::GET, path, None, None).await;
        assert_eq!(
            r.headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.headers
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap()),
            Some("frame-ancestors 'none'"),
            "{path}"
        );
    }
}

/// A field the operation does not know is 422, never silently dropped
/// (a misspelled policy field must not look like a setting that holds).
#[actix_web::test]
async fn unknown_body_fields_are_refused() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let r = app
        .patch(
            "/api/v1/account",
            &admin.token,
            json!({"require_mfa": true, "require_mfa_form": "2027-01-01T00:00:00Z"}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        r.body["errors"][0]["field"], "require_mfa_form",
        "{}",
        r.text
    );
    let r = app.get("/api/v1/account", &admin.token).await.ok(200);
    assert_eq!(r.body["require_mfa"], false, "nothing was changed");
    app.post(
        "/api/v1/sessions",
        None,
        json!({"email": "ann@example.com", "password": PASSWORD, "remember": true}),
    )
    .await
    .problem(422, "validation_failed");
}

/// Typed clients get unions, not `string`: `Problem.code` and the
/// permission names are enums in the OpenAPI document.
#[test]
fn error_codes_and_permissions_are_enums_in_the_document() {
    let doc = serde_json::to_value(latchkey::app::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Problem"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in [
        "invalid_credentials",
        "mfa_code_invalid",
        "forbidden",
        "validation_failed",
        "too_many_attempts",
        "step_up_required",
        "identity_provider_unavailable",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
    assert_eq!(schemas["Permission"]["enum"].as_array().unwrap().len(), 9);
    assert_eq!(
        schemas["RoleResponse"]["properties"]["permissions"]["items"]["$ref"],
        "#/components/schemas/Permission"
    );
}

/// With a build of the web app, the server serves it at `/` (one origin,
/// no CORS): assets cached for good, pages revalidated, any app path gets
/// `index.html`; the API's paths stay the API's.
#[actix_web::test]
async fn the_web_app_is_served_on_the_servers_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Latchkey</title>",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)").unwrap();
    let web = dir.path().to_path_buf();
    let app = TestApp::with(move |c| c.web_dir = Some(web)).await;
    let header = |r: &crate::support::Resp, name: &str| {
        r.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    for path in ["/", "/account/users", "/sso/callback"] {
        let r = app.call(Method::GET, path, None, None).await.ok(200);
        assert!(r.text.contains("<title>Latchkey</title>"), "{path}");
        assert!(
            header(&r, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert_eq!(
            header(&r, "content-security-policy"),
            "frame-ancestors 'none'"
        );
    }
    let r = app
        .call(Method::GET, "/assets/app-1a2b.js", None, None)
        .await
        .ok(200);
    assert!(header(&r, "content-type").contains("javascript"));
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    // The API's paths are never the app.
    app.call(Method::GET, "/api/v1/nothing-here", None, None)
        .await
        .problem(404, "not_found");
    app.call(Method::GET, "/api/v1/me", None, None)
        .await
        .problem(401, "unauthorized");
    app.call(Method::GET, "/healthz", None, None).await.ok(200);
    app.call(Method::POST, "/account/users", None, Some(json!({})))
        .await
        .problem(404, "not_found");
    // Without a build, `/` is simply not found.
    let plain = TestApp::new().await;
    plain
        .call(Method::GET, "/", None, None)
        .await
        .problem(404, "not_found");
}

/// The invariants `TestApp` checks when dropped do fail a test that leaves
/// them broken (here, by hand: every administrator disabled).
#[actix_web::test]
async fn a_test_that_breaks_a_database_invariant_fails() {
    let app = TestApp::new().await;
    app.signup_and_login("ann@example.com").await;
    app.sql("UPDATE users SET disabled = TRUE");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(app)));
    assert!(
        dropped.is_err(),
        "an account without a keeper must fail the test"
    );
}

/// `Resp::json` reads a body as the API's own type and fails a test whose
/// body is not exactly that type: an extra field, a missing one.
#[actix_web::test]
async fn a_body_that_is_not_exactly_its_dto_fails_the_typed_read() {
    use latchkey::http::dto::UserResponse;
    let app = TestApp::new().await;
    let admin = app.signup_and_login("ann@example.com").await;
    let r = app
        .get(&format!("/api/v1/users/{}", admin.user_id), &admin.token)
        .await
        .ok(200);
    assert_eq!(r.json::<UserResponse>().id, admin.user_id);
    for change in ["extra", "missing"] {
        let mut r = app
            .get(&format!("/api/v1/users/{}", admin.user_id), &admin.token)
            .await
            .ok(200);
        let body = r.body.as_object_mut().unwrap();
        match change {
            "extra" => body.insert("password_hash".into(), json!("x")),
            _ => body.remove("mfa_required"),
        };
        let read =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.json::<UserResponse>()));
        assert!(read.is_err(), "a body with a field {change} must fail");
    }
}
