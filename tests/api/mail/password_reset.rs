//! Forgotten passwords: the same answer (and about the same time) for any
//! email, three mails an hour per address, a single-use 30-minute link, and
//! a reset that ends every session and challenge but leaves MFA on.

use std::time::Instant;

use serde_json::json;

use super::{mails_to, only_new_mail, token_of};
use crate::support::{TestApp, PASSWORD};

const NEW_PASSWORD: &str = "a brand new long password";

async fn ask(app: &TestApp, email: &str) {
    let r = app
        .post("/api/v1/password-resets", None, json!({"email": email}))
        .await
        .ok(202);
    assert_eq!(r.body, json!({"status": "accepted"}));
}

async fn confirm(app: &TestApp, token: &str) -> crate::support::Resp {
    app.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({"token": token, "password": NEW_PASSWORD}),
    )
    .await
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[actix_web::test]
async fn a_reset_leaves_mfa_on_and_ends_every_session_and_challenge() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, verified) = app.enroll(&s.token, None).await;
    let aal2 = verified.session.access_token;
    // An MFA challenge opened before the reset.
    let open = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let before = mails_to(&app, &smtp, "ann@example.com").await.len();
    ask(&app, "ANN@example.com ").await;
    let mail = only_new_mail(&app, &smtp, "ann@example.com", before).await;
    assert_eq!(mail.subject, "Reset your password for Acme ann@example.com");
    assert!(mail.text.contains("30 minutes"));
    assert!(mail.text.contains("stays on"), "{}", mail.text);
    let link = mail.link().unwrap();
    assert!(
        link.starts_with("http://127.0.0.1:8080/reset-password#token=lkp_"),
        "{link}"
    );
    let token = token_of(&mail);
    confirm(&app, &token).await.ok(204);
    // Every session and the open challenge ended.
    app.get("/api/v1/me", &aal2)
        .await
        .problem(401, "unauthorized");
    app.second_step(&open.body["mfa_token"], &app.code(&secret, 0))
        .await
        .problem(401, "challenge_expired");
    // The old password is gone; the new one still asks for the second factor.
    app.login_raw("ann@example.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let r = app.login_raw("ann@example.com", NEW_PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required", "{}", r.text);
    // The link worked once; a made-up one never did.
    confirm(&app, &token).await.problem(410, "link_expired");
    confirm(&app, "lkp_nothing")
        .await
        .problem(401, "link_invalid");
    // The user is told, and the audit log has it.
    let mail = only_new_mail(&app, &smtp, "ann@example.com", before + 1).await;
    assert_eq!(mail.subject, "Your password was reset");
}

#[actix_web::test]
async fn a_link_expires_after_thirty_minutes_and_dies_with_a_password_change() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    app.signup("ann@example.com").await;
    ask(&app, "ann@example.com").await;
    let first = token_of(&only_new_mail(&app, &smtp, "ann@example.com", 0).await);
    app.clock.advance(31 * 60);
    confirm(&app, &first).await.problem(410, "link_expired");
    ask(&app, "ann@example.com").await;
    let second = token_of(&only_new_mail(&app, &smtp, "ann@example.com", 1).await);
    let s = app.login("ann@example.com").await;
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&s.token),
        Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
    )
    .await
    .ok(204);
    confirm(&app, &second).await.problem(410, "link_expired");
}

#[actix_web::test]
async fn at_most_three_mails_an_hour_per_address_and_nothing_for_unknown_ones() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    app.signup("ann@example.com").await;
    for _ in 0..5 {
        ask(&app, "ann@example.com").await;
        ask(&app, "nobody@example.com").await;
    }
    assert_eq!(mails_to(&app, &smtp, "ann@example.com").await.len(), 3);
    assert!(smtp.mailbox().to("nobody@example.com").is_empty());
    app.clock.advance(3601);
    ask(&app, "ann@example.com").await;
    assert_eq!(mails_to(&app, &smtp, "ann@example.com").await.len(), 4);
}

#[actix_web::test]
async fn a_user_without_a_password_is_told_to_use_their_identity_provider() {
    let (app, smtp) = TestApp::with_smtp(|_| {}).await;
    app.signup("ann@example.com").await;
    app.sql(&format!(
        "UPDATE users SET password_hash = '{}' WHERE email = 'ann@example.com'",
        latchkey::crypto::password::NO_PASSWORD
    ));
    ask(&app, "ann@example.com").await;
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 0).await;
    assert_eq!(mail.subject, "How to sign in to Acme ann@example.com");
    assert!(mail.link().is_none());
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM password_resets"), 0);
}

/// The answer for a known and an unknown address takes about the same
/// time: medians of interleaved samples, each known address fresh (so each
/// sample does the whole work: a link, a queued mail).
#[actix_web::test]
async fn known_and_unknown_addresses_take_about_the_same_time() {
    let app = TestApp::new().await;
    let admin = app.signup_and_login("admin@example.com").await;
    const N: usize = 25;
    for i in 0..N {
        app.create_user(&admin, &format!("user{i}@example.com"), "editor", None)
            .await;
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..N {
        let start = Instant::now();
        ask(&app, &format!("user{i}@example.com")).await;
        known.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        ask(&app, &format!("ghost{i}@example.com")).await;
        unknown.push(start.elapsed().as_secs_f64());
    }
    assert_eq!(app.mail_pending(), N as i64);
    let (known, unknown) = (median(known), median(unknown));
    let (fast, slow) = (known.min(unknown), known.max(unknown));
    assert!(
        slow - fast < 0.002 || slow / fast < 1.5,
        "medians differ: known {known:.6}s, unknown {unknown:.6}s"
    );
}
