//! `/api/v1/me/mfa*` and the second login step `/api/v1/sessions/mfa`.

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
    assert_eq!(verified["mfa"]["enabled"], true);
    assert_eq!(verified["mfa"]["can_disable"], true);
    assert_eq!(verified["mfa"]["recovery_token"]["active"], true);
    // The verifying session continues, now aal2, with fresh tokens.
    assert_eq!(verified["session"]["status"], "authenticated");
    assert_eq!(verified["session"]["session_id"], s.session_id.as_str());
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
async fn codes_are_single_use_and_skew_is_one_step() {
    let app = TestApp::new().await;
    // Offsets are counted from "now": a real step boundary passing between
    // computing a code and checking it would shift them by one.
    app.clock.freeze();
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    // Enrollment consumed the previous step; start clear of it.
    app.next_step();
    let challenge = || async {
        app.login_raw("ann@example.com", PASSWORD)
            .await
            .ok(200)
            .body["mfa_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // ±2 steps: refused.
    for offset in [-2, 2] {
        let code = app.code(&secret, offset);
        if (-1..=1).any(|d| app.code(&secret, d) == code) {
            continue;
        }
        let t = challenge().await;
        app.second_step(&t, &code)
            .await
            .problem(401, "mfa_code_invalid");
    }
    // −1, 0, +1: accepted once each, in rising order.
    for offset in [-1, 0, 1] {
        let t = challenge().await;
        let code = app.code(&secret, offset);
        app.second_step(&t, &code).await.ok(200);
    }
    // The +1 step consumed everything up to it: the current and previous
    // codes are now refused, with the same answer as a wrong code.
    for offset in [-1, 0, 1] {
        let t = challenge().await;
        let code = app.code(&secret, offset);
        let r = app
            .second_step(&t, &code)
            .await
            .problem(401, "mfa_code_invalid");
        assert_eq!(r.body["attempts_remaining"], 4);
    }
    let events = app
        .get("/api/v1/audit-events?type=mfa.replay_refused", &s.token)
        .await
        .ok(200);
    assert!(events.body["total"].as_i64().unwrap() >= 1);
}

#[actix_web::test]
async fn a_challenge_dies_after_five_wrong_codes_or_five_minutes() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let t = r.body["mfa_token"].as_str().unwrap().to_string();
    let wrong = if app.code(&secret, 0) == "999999" {
        "999998"
    } else {
        "999999"
    };
    for remaining in [4, 3, 2, 1, 0] {
        let r = app
            .second_step(&t, &wrong)
            .await
            .problem(401, "mfa_code_invalid");
        assert_eq!(r.body["attempts_remaining"], remaining);
    }
    let code = app.code(&secret, 0);
    app.second_step(&t, &code)
        .await
        .problem(401, "challenge_expired");
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    app.clock.advance(5 * 60 + 1);
    let code = app.code(&secret, 0);
    app.second_step(&r.body["mfa_token"], &code)
        .await
        .problem(401, "challenge_expired");
    app.second_step(&"lkm_nonsense", &code)
        .await
        .problem(401, "challenge_expired");
}

#[actix_web::test]
async fn ten_wrong_codes_across_challenges_lock_the_second_step() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let wrong = |c: &str| {
        if c == "424242" {
            "424243".to_string()
        } else {
            "424242".to_string()
        }
    };
    let mut spent = serde_json::Value::Null;
    for _ in 0..2 {
        let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
        for _ in 0..5 {
            let w = wrong(&app.code(&secret, 0));
            app.second_step(&r.body["mfa_token"], &w)
                .await
                .problem(401, "mfa_code_invalid");
        }
        spent = r.body["mfa_token"].clone();
    }
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let code = app.code(&secret, 0);
    let locked = app
        .second_step(&r.body["mfa_token"], &code)
        .await
        .problem(429, "too_many_attempts");
    let wait: i64 = locked.retry_after();
    assert!(wait > 14 * 60 && wait <= 15 * 60, "{wait}");
    // While locked, the locked user's dead challenge (five wrong codes) is
    // still just expired: the lock is only told for a live challenge.
    app.second_step(&spent, &code)
        .await
        .problem(401, "challenge_expired");
    app.clock.advance(wait);
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let code = app.code(&secret, 0);
    app.second_step(&r.body["mfa_token"], &code).await.ok(200);
}

#[actix_web::test]
async fn recovery_token_signs_in_once_and_leaves_mfa_enabled() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (_, recovery, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    // Lower case, spaces instead of dashes: still the token.
    let typed = recovery.to_lowercase().replace('-', " ");
    let done = app.second_step(&r.body["mfa_token"], &typed).await.ok(200);
    assert_eq!(done.body["recovery_token_used"], true);
    let token = done.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], true);
    assert_eq!(me.body["mfa"]["recovery_token"]["active"], false);
    let sessions = app.get("/api/v1/me/sessions", token).await.ok(200);
    let current = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["amr"], json!(["pwd", "rec"]));
    assert_eq!(current["aal"], "aal2");
    // Second use: refused like a wrong code; methods no longer offer it.
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["methods"], json!(["totp"]));
    app.second_step(&r.body["mfa_token"], &recovery)
        .await
        .problem(401, "mfa_code_invalid");
    let used = app
        .get("/api/v1/audit-events?type=recovery_token.used", token)
        .await
        .ok(200);
    assert_eq!(used.body["total"], 1);
}

#[actix_web::test]
async fn regenerating_the_recovery_token_kills_the_previous_one() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&s.token),
        json!({"password": PASSWORD}),
    )
    .await
    .problem(409, "mfa_not_enabled");
    let (_, first, _) = app.enroll(&s.token, None).await;
    app.post("/api/v1/me/mfa/recovery-token", Some(&s.token), json!({}))
        .await
        .problem(403, "reauthentication_required");
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&s.token),
        json!({"password": "wrong wrong wrong"}),
    )
    .await
    .problem(403, "reauthentication_required");
    let r = app
        .post(
            "/api/v1/me/mfa/recovery-token",
            Some(&s.token),
            json!({"password": PASSWORD}),
        )
        .await
        .ok(201);
    let second = r.body["recovery_token"].as_str().unwrap().to_string();
    assert!(r.body["created_at"].is_string());
    assert_ne!(first, second);
    let c = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    app.second_step(&c.body["mfa_token"], &first)
        .await
        .problem(401, "mfa_code_invalid");
    app.second_step(&c.body["mfa_token"], &second).await.ok(200);
}

#[actix_web::test]
async fn disable_checks_password_then_code_and_removes_factors() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": "123456"})),
    )
    .await
    .problem(409, "mfa_not_enabled");
    let (secret, recovery, _) = app.enroll(&s.token, None).await;
    let code = app.code(&secret, 0);
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"code": code})),
    )
    .await
    .problem(403, "reauthentication_required");
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": "wrong wrong wrong", "code": code})),
    )
    .await
    .problem(403, "reauthentication_required");
    let wrong = if code == "000001" { "000002" } else { "000001" };
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": wrong})),
    )
    .await
    .problem(401, "mfa_code_invalid");
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": code})),
    )
    .await
    .ok(204);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["enabled"], false);
    assert_eq!(me.body["mfa"]["recovery_token"]["active"], false);
    app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    // With the recovery token instead of a code.
    let (_, recovery2, _) = app.enroll(&s.token, None).await;
    assert_ne!(recovery, recovery2);
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": recovery2})),
    )
    .await
    .ok(204);
    let disabled = app
        .get("/api/v1/audit-events?type=mfa.disabled", &s.token)
        .await
        .ok(200);
    assert_eq!(disabled.body["total"], 2);
}

#[actix_web::test]
async fn disable_is_refused_while_a_policy_requires_mfa() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    app.patch("/api/v1/account", &s.token, json!({"require_mfa": true}))
        .await
        .ok(200);
    let me = app.get("/api/v1/me", &s.token).await.ok(200);
    assert_eq!(me.body["mfa"]["required"], true);
    assert_eq!(me.body["mfa"]["required_by"], "account");
    assert_eq!(me.body["mfa"]["can_disable"], false);
    // Enforced comes first: even without a password.
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"code": "000000"})),
    )
    .await
    .problem(403, "mfa_enforced");
    let code = app.code(&secret, 0);
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&s.token),
        Some(json!({"password": PASSWORD, "code": code})),
    )
    .await
    .problem(403, "mfa_enforced");
    assert_eq!(
        app.get("/api/v1/me", &s.token).await.body["mfa"]["enabled"],
        true
    );
}

#[actix_web::test]
async fn secrets_and_tokens_are_never_stored_in_clear() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, recovery, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let mfa_token = r.body["mfa_token"].as_str().unwrap().to_string();
    let canonical = recovery.replace('-', "");
    let secret_bytes = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let secret_hex: String = secret_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&secret_bytes)
    };
    for table in [
        "accounts",
        "sub_accounts",
        "users",
        "sessions",
        "refresh_tokens",
        "login_challenges",
        "totp_credentials",
        "recovery_tokens",
        "signing_keys",
        "audit_events",
        "login_throttles",
    ] {
        let dump = app.dump_table(table);
        for needle in [
            &secret,
            &secret_hex,
            &secret_b64,
            &recovery,
            &canonical,
            &mfa_token,
            &s.refresh,
            &PASSWORD.to_string(),
        ] {
            assert!(
                !dump.contains(needle.as_str()),
                "{table} holds a secret in clear"
            );
        }
    }
    assert!(
        app.dump_table("totp_credentials").len() > 10,
        "the scan reads the rows"
    );
}

/// Sends the same body 20 times at once; returns the statuses.
async fn race(app: &TestApp, path: &str, bodies: Vec<serde_json::Value>) -> Vec<u16> {
    let srv = actix_web::test::init_service(latchkey::app::build(app.state.clone())).await;
    let calls = bodies.into_iter().map(|body| {
        let req = build_request(Method::POST, path, None, Some(body)).to_request();
        actix_web::test::call_service(&srv, req)
    });
    futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect()
}

async fn challenges(app: &TestApp, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
        out.push(r.body["mfa_token"].as_str().unwrap().to_string());
    }
    out
}

#[actix_web::test]
async fn twenty_concurrent_uses_of_one_recovery_token_win_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (_, recovery, _) = app.enroll(&s.token, None).await;
    let tokens = challenges(&app, 20).await;
    let bodies = tokens
        .iter()
        .map(|t| json!({"mfa_token": t, "code": recovery}))
        .collect();
    let statuses = race(&app, "/api/v1/sessions/mfa", bodies).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    // The losers are wrong codes: the first ten count, then the user is locked.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        9,
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn twenty_concurrent_uses_of_one_totp_code_win_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let tokens = challenges(&app, 20).await;
    let code = app.code(&secret, 0);
    let bodies = tokens
        .iter()
        .map(|t| json!({"mfa_token": t, "code": code}))
        .collect();
    let statuses = race(&app, "/api/v1/sessions/mfa", bodies).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    // The same challenge raced with the same code: also once (after the
    // lockout that the 19 replays caused has passed).
    app.clock.advance(15 * 60);
    let t = challenges(&app, 1).await.remove(0);
    let code = app.code(&secret, 0);
    let statuses = race(
        &app,
        "/api/v1/sessions/mfa",
        (0..20)
            .map(|_| json!({"mfa_token": t, "code": code}))
            .collect(),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn twenty_concurrent_wrong_codes_cannot_exceed_the_lockout_budget() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let tokens = challenges(&app, 20).await;
    let wrong = if app.code(&secret, 0) == "111111" {
        "222222"
    } else {
        "111111"
    };
    let bodies = tokens
        .iter()
        .map(|t| json!({"mfa_token": t, "code": wrong}))
        .collect();
    let statuses = race(&app, "/api/v1/sessions/mfa", bodies).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        10,
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn malformed_second_step_input_is_a_clean_error() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (_, _, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    for code in [
        "",
        "12345",
        "１２３４５６",
        &"9".repeat(10_000),
        "\u{0}\u{1}",
    ] {
        app.second_step(&r.body["mfa_token"], &code)
            .await
            .problem(401, "mfa_code_invalid");
    }
    app.post(
        "/api/v1/sessions/mfa",
        None,
        json!({"mfa_token": r.body["mfa_token"]}),
    )
    .await
    .problem(422, "validation_failed");
    app.second_step(&7, &"123456")
        .await
        .problem(422, "validation_failed");
}

#[actix_web::test]
async fn concurrent_wrong_codes_cannot_overdraw_one_challenge() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let t = challenges(&app, 1).await.remove(0);
    let wrong = if app.code(&secret, 0) == "333333" {
        "444444"
    } else {
        "333333"
    };
    let statuses = race(
        &app,
        "/api/v1/sessions/mfa",
        (0..12)
            .map(|_| json!({"mfa_token": t, "code": wrong}))
            .collect(),
    )
    .await;
    // Exactly five wrong codes are judged; the rest find the challenge dead.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        12,
        "{statuses:?}"
    );
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let me = app
        .second_step(&r.body["mfa_token"], &app.code(&secret, 0))
        .await;
    assert_eq!(
        me.status, 200,
        "only five failures were counted against the user: {}",
        me.text
    );
    let failed = app
        .get("/api/v1/audit-events?type=mfa.challenge_failed", &s.token)
        .await
        .ok(200);
    assert_eq!(failed.body["total"], 5);
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
