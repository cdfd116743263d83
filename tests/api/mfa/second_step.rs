//! The second login step (`/api/v1/sessions/mfa`): single-use codes, the challenge's limits, the second-factor lockout, malformed input, races.

use serde_json::json;

use super::{challenges, race};
use crate::support::{TestApp, PASSWORD};

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

/// A code is taken as people type it: with spaces or a dash in the middle
/// (API.md: case, spaces and dashes ignored).
#[actix_web::test]
async fn a_code_typed_with_a_dash_or_spaces_is_accepted() {
    let app = TestApp::new().await;
    app.clock.freeze();
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    for typed in [
        |c: &str| format!("{}-{}", &c[..3], &c[3..]),
        |c: &str| format!(" {} {} ", &c[..3], &c[3..]),
    ] {
        app.next_step();
        let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
        let code = typed(&app.code(&secret, 0));
        let r = app
            .second_step(r.body["mfa_token"].as_str().unwrap(), &code)
            .await
            .ok(200);
        assert_eq!(r.body["status"], "authenticated", "{code:?}");
    }
}
