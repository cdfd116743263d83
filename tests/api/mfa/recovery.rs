//! The one-time recovery token: signs in once, leaves MFA on, regenerated at will; secrets never stored in clear.

use serde_json::json;

use super::{challenges, race};
use crate::support::{TestApp, PASSWORD};

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
