//! TOTP enrollment from the profile (`/api/v1/me/mfa/totp*`): the secret, its URI and QR codes, verification, re-enrollment, several devices.

use actix_web::http::Method;
use serde_json::json;

use crate::support::{build_request, TestApp, PASSWORD};

#[actix_web::test]
async fn enrollment_shows_secret_uri_and_qr_codes_that_decode_to_the_uri() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann+mfa@example.com").await;
    let r = app
        .post("/api/v1/me/mfa/totp", Some(&s.token), json!({}))
        .await
        .ok(201);
    let secret = r.body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160-bit secret, unpadded base32");
    assert!(!secret.contains('='));
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("otpauth://totp/Latchkey:ann%2Bmfa%40example.com?secret={secret}&issuer=Latchkey&algorithm=SHA1&digits=6&period=30")
    );
    // The PNG decodes to exactly the URI.
    let png = r.body["qr_code_png"]
        .as_str()
        .unwrap()
        .strip_prefix("data:image/png;base64,")
        .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png)
        .unwrap();
    let image = image::load_from_memory(&bytes).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, uri);
    // The SVG is well-formed SVG.
    let svg = r.body["qr_code_svg"].as_str().unwrap();
    let doc = roxmltree::Document::parse(svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(r.body["expires_at"].is_string());
    // Not enabled until verified.
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], false);
}

#[actix_web::test]
async fn verify_enables_mfa_and_login_then_needs_the_second_factor() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, recovery, verified) = app.enroll(&s.token, None).await;
    assert!(verified.mfa.enabled);
    assert!(verified.mfa.can_disable);
    assert!(verified.mfa.recovery_token.active);
    // The verifying session continues, now aal2, with fresh tokens.
    assert_eq!(verified.session.session_id, s.session_id);
    let parts: Vec<&str> = recovery.split('-').collect();
    assert_eq!(parts.len(), 5);
    assert!(parts.iter().all(|p| p.len() == 5));
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa_enabled"], true);
    assert!(me.body["mfa"]["enabled_at"].is_string());
    // Password alone no longer yields tokens.
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required");
    assert!(r.body.get("access_token").is_none());
    assert_eq!(r.body["expires_in"], 300);
    assert_eq!(r.body["methods"], json!(["totp", "recovery_token"]));
    let code = app.code(&secret, 0);
    let done = app.second_step(&r.body["mfa_token"], &code).await.ok(200);
    assert_eq!(done.body["status"], "authenticated");
    assert_eq!(done.body["recovery_token_used"], false);
    let token = done.body["access_token"].as_str().unwrap();
    let sessions = app.get("/api/v1/me/sessions", token).await.ok(200);
    let current = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["amr"], json!(["pwd", "otp"]));
    assert_eq!(current["aal"], "aal2");
    // The challenge is spent.
    app.next_step();
    let code = app.code(&secret, 0);
    app.second_step(&r.body["mfa_token"], &code)
        .await
        .problem(401, "challenge_expired");
}

#[actix_web::test]
async fn a_wrong_code_leaves_the_pending_enrollment_and_none_pending_is_409() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&s.token),
        json!({"code": "123456"}),
    )
    .await
    .problem(409, "no_pending_enrollment");
    let r = app
        .post("/api/v1/me/mfa/totp", Some(&s.token), json!({}))
        .await
        .ok(201);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let wrong = if app.code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    app.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&s.token),
        json!({"code": wrong}),
    )
    .await
    .problem(401, "mfa_code_invalid");
    assert_eq!(
        app.get("/api/v1/me", &s.token).await.body["mfa"]["enabled"],
        false
    );
    let code = app.code(&secret, 0);
    app.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&s.token),
        json!({"code": code}),
    )
    .await
    .ok(200);
    // Pending enrollments expire after 10 minutes.
    let r = app
        .post(
            "/api/v1/me/mfa/totp",
            Some(&s.token),
            json!({"password": PASSWORD}),
        )
        .await
        .ok(201);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    app.clock.advance(11 * 60);
    let code = app.code(&secret, 0);
    app.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&s.token),
        json!({"code": code}),
    )
    .await
    .problem(409, "no_pending_enrollment");
}

#[actix_web::test]
async fn re_enrollment_needs_the_password_and_retires_the_old_secret() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (old_secret, _, _) = app.enroll(&s.token, None).await;
    app.post("/api/v1/me/mfa/totp", Some(&s.token), json!({}))
        .await
        .problem(403, "reauthentication_required");
    app.post(
        "/api/v1/me/mfa/totp",
        Some(&s.token),
        json!({"password": "wrong wrong wrong"}),
    )
    .await
    .problem(403, "reauthentication_required");
    // A pending re-enrollment does not disturb the active secret.
    let r = app
        .post(
            "/api/v1/me/mfa/totp",
            Some(&s.token),
            json!({"password": PASSWORD}),
        )
        .await
        .ok(201);
    let new_secret = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    let still_old = app.login_mfa("ann@example.com", &old_secret).await;
    let code = app.code(&new_secret, 0);
    app.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&still_old.token),
        json!({"code": code}),
    )
    .await
    .ok(200);
    app.next_step();
    // Now the old secret's codes fail and the new one's work.
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let old_code = app.code(&old_secret, 0);
    app.second_step(&r.body["mfa_token"], &old_code)
        .await
        .problem(401, "mfa_code_invalid");
    let new_code = app.code(&new_secret, 0);
    app.second_step(&r.body["mfa_token"], &new_code)
        .await
        .ok(200);
}

#[actix_web::test]
async fn two_devices_scanning_the_same_qr_both_work() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    // "Phone A" and "phone B" hold the same secret: either one's code signs in.
    let phone_a = secret.clone();
    let phone_b = secret;
    app.login_mfa("ann@example.com", &phone_a).await;
    app.login_mfa("ann@example.com", &phone_b).await;
}

#[actix_web::test]
async fn concurrent_verifications_of_one_enrollment_enable_it_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let start = app
        .post("/api/v1/me/mfa/totp", Some(&s.token), json!({}))
        .await
        .ok(201);
    let code = app.code(start.body["secret"].as_str().unwrap(), 0);
    let srv = actix_web::test::init_service(latchkey::app::build(app.state.clone())).await;
    let calls = (0..10).map(|_| {
        let req = build_request(
            Method::POST,
            "/api/v1/me/mfa/totp/verify",
            Some(&s.token),
            Some(json!({"code": code})),
        )
        .to_request();
        actix_web::test::call_service(&srv, req)
    });
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "the others find nothing pending: {statuses:?}"
    );
    let enabled = app
        .get("/api/v1/audit-events?type=mfa.enabled", &s.token)
        .await
        .ok(200);
    assert_eq!(enabled.body["total"], 1);
}
