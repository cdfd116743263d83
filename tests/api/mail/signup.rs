//! Verified sign-up (`LATCHKEY_SIGNUP=verify`): 202 whatever the email, in
//! about the same time; the link creates the account; the owner of a taken
//! address is told someone tried.

use std::time::Instant;

use latchkey::config::SignupMode;
use serde_json::json;

use super::{only_new_mail, token_of};
use crate::support::{TestApp, PASSWORD};

async fn sign_up(app: &TestApp, email: &str) -> crate::support::Resp {
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "Globex", "email": email, "password": PASSWORD}),
    )
    .await
}

#[actix_web::test]
async fn a_verified_sign_up_creates_the_account_from_the_link() {
    let (app, smtp) = TestApp::with_smtp(|c| c.signup = SignupMode::Verify).await;
    let r = sign_up(&app, "gus@globex.com").await.ok(202);
    assert_eq!(r.body, json!({"status": "verification_sent"}));
    // Nothing exists before the link comes back.
    app.login_raw("gus@globex.com", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    let mail = only_new_mail(&app, &smtp, "gus@globex.com", 0).await;
    assert_eq!(mail.subject, "Confirm your email to create Globex");
    assert!(mail.link().unwrap().contains("/verify-signup#token=lkv_"));
    let token = token_of(&mail);
    let r = app
        .post("/api/v1/accounts/verify", None, json!({"token": token}))
        .await
        .ok(201);
    assert_eq!(r.body["account"]["name"], "Globex");
    assert_eq!(r.body["user"]["role"], "administrator");
    app.login("gus@globex.com").await;
    app.post("/api/v1/accounts/verify", None, json!({"token": token}))
        .await
        .problem(410, "link_expired");
    app.post("/api/v1/accounts/verify", None, json!({"token": "lkv_no"}))
        .await
        .problem(401, "link_invalid");
}

#[actix_web::test]
async fn a_newer_request_replaces_the_older_link_and_closing_sign_up_stops_both() {
    let (app, smtp) = TestApp::with_smtp(|c| c.signup = SignupMode::Verify).await;
    sign_up(&app, "gus@globex.com").await.ok(202);
    let first = token_of(&only_new_mail(&app, &smtp, "gus@globex.com", 0).await);
    sign_up(&app, "gus@globex.com").await.ok(202);
    let mail = only_new_mail(&app, &smtp, "gus@globex.com", 1).await;
    assert!(mail.text.contains("127.0.0.1"), "the requester is named");
    let second = token_of(&mail);
    app.post("/api/v1/accounts/verify", None, json!({"token": first}))
        .await
        .problem(410, "link_expired");
    let mut app = app;
    app.state = {
        let mut config = (*app.state.config).clone();
        config.signup = SignupMode::Closed;
        let mut state = app.state.clone();
        state.config = std::sync::Arc::new(config);
        state
    };
    let _ = &mut app;
    latchkey::domain::signup::verify_signup(
        &mut app.state.pool.get().unwrap(),
        &app.state.config,
        &second,
        &latchkey::domain::Ctx::at(app.clock.now_naive()),
    )
    .map(|_| ())
    .expect_err("closed sign-up creates no account");
}

#[actix_web::test]
async fn a_taken_address_gets_the_same_answer_and_its_owner_a_warning() {
    let (app, smtp) = TestApp::with_smtp(|c| c.signup = SignupMode::Verify).await;
    existing_account(&app, "ann@example.com");
    let r = sign_up(&app, "ANN@example.com").await.ok(202);
    assert_eq!(r.body, json!({"status": "verification_sent"}));
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 0).await;
    assert_eq!(
        mail.subject,
        "Someone tried to sign up with your email address"
    );
    assert!(mail.link().is_none());
    assert!(mail.text.contains("127.0.0.1"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts"), 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM signup_requests"), 0);
}

/// An account made directly (sign-up over the API mails a link instead).
fn existing_account(app: &TestApp, email: &str) {
    latchkey::domain::signup::create_account(
        &mut app.state.pool.get().unwrap(),
        latchkey::domain::signup::NewAccount {
            account_name: format!("Account of {email}"),
            email: email.into(),
            display_name: "Owner".into(),
            password_hash: latchkey::crypto::password::NO_PASSWORD.into(),
        },
        &latchkey::domain::Ctx::at(app.clock.now_naive()),
    )
    .unwrap();
}

#[actix_web::test]
async fn taken_and_free_addresses_take_about_the_same_time() {
    let app = TestApp::with(|c| c.signup = SignupMode::Verify).await;
    const N: usize = 9;
    for i in 0..N {
        existing_account(&app, &format!("taken{i}@example.com"));
    }
    let (mut taken, mut free) = (Vec::new(), Vec::new());
    for i in 0..N {
        let start = Instant::now();
        sign_up(&app, &format!("taken{i}@example.com"))
            .await
            .ok(202);
        taken.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        sign_up(&app, &format!("free{i}@example.com")).await.ok(202);
        free.push(start.elapsed().as_secs_f64());
    }
    taken.sort_by(f64::total_cmp);
    free.sort_by(f64::total_cmp);
    let (taken, free) = (taken[N / 2], free[N / 2]);
    let (fast, slow) = (taken.min(free), taken.max(free));
    assert!(
        slow / fast < 1.25,
        "medians differ: taken {taken:.4}s, free {free:.4}s"
    );
    assert_eq!(app.mail_pending(), 2 * N as i64);
}
