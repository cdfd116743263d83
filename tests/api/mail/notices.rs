//! Security notices, one test per event the contract lists: each mail
//! names what happened, when, from which IP and browser, and what to do;
//! read from the SMTP server. Plus `/me`'s `mfa.reset_at`/`reset_by`.

use actix_web::http::Method;
use serde_json::json;

use super::{mails_to, only_new_mail};
use crate::smtp::{Mail, SmtpServer};
use crate::support::{mfa_admin, TestApp, PASSWORD};

/// What every notice says besides its event.
fn assert_notice(mail: &Mail, app: &TestApp, subject: &str) {
    assert_eq!(mail.subject, subject);
    let when = app.clock.now().format("%Y-%m-%d").to_string();
    // The HTML part escapes `/` too (`&#x2f;`).
    let html = mail.html.as_deref().unwrap_or("").replace("&#x2f;", "/");
    for part in [mail.text.as_str(), html.as_str()] {
        assert!(part.contains(&when), "when: {part}");
        assert!(part.contains("127.0.0.1"), "IP: {part}");
        assert!(part.contains("latchkey-tests/1.0"), "browser: {part}");
        assert!(part.contains("If this was not you"), "what to do: {part}");
    }
}

async fn with_smtp() -> (TestApp, SmtpServer) {
    TestApp::with_smtp(|_| {}).await
}

#[actix_web::test]
async fn enabling_mfa_sends_one_notice_not_two() {
    let (app, smtp) = with_smtp().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.enroll(&s.token, None).await;
    // The first recovery token comes with enrollment: no second mail.
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 0).await;
    assert_notice(&mail, &app, "Multi-factor authentication was turned on");
}

#[actix_web::test]
async fn disabling_mfa_sends_a_notice() {
    let (app, smtp) = with_smtp().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let aal2 = app.login_mfa("ann@example.com", &secret).await;
    app.call(
        Method::DELETE,
        "/api/v1/me/mfa",
        Some(&aal2.token),
        Some(json!({"password": PASSWORD, "code": app.code(&secret, 0)})),
    )
    .await
    .ok(204);
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 1).await;
    assert_notice(&mail, &app, "Multi-factor authentication was turned off");
}

#[actix_web::test]
async fn a_reset_by_an_administrator_names_them_and_me_says_so_until_enrolled_again() {
    let (app, smtp) = with_smtp().await;
    let (admin, _) = mfa_admin(&app, "ann@example.com").await;
    let ed_id = app
        .create_user(&admin, "ed@example.com", "editor", None)
        .await;
    let ed = app.login("ed@example.com").await;
    app.enroll(&ed.token, None).await;
    let before = mails_to(&app, &smtp, "ed@example.com").await.len();
    app.post(
        &format!("/api/v1/users/{ed_id}/mfa/reset"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .ok(204);
    let mail = only_new_mail(&app, &smtp, "ed@example.com", before).await;
    assert_notice(&mail, &app, "Your multi-factor authentication was reset");
    assert!(
        mail.text.contains("An administrator, ann,"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("set up MFA again at your next sign-in"));
    // At the next sign-in (password alone now), /me tells the app.
    let ed = app.login("ed@example.com").await;
    let me = app.get("/api/v1/me", &ed.token).await.ok(200);
    assert_eq!(me.body["mfa"]["reset_by"], "ann");
    assert!(me.body["mfa"]["reset_at"].is_string());
    // Enrolling again clears it.
    app.enroll(&ed.token, None).await;
    let me = app.get("/api/v1/me", &ed.token).await;
    assert!(me.body["mfa"]["reset_at"].is_null(), "{}", me.text);
    assert!(me.body["mfa"]["reset_by"].is_null());
}

#[actix_web::test]
async fn using_the_recovery_token_and_replacing_it_each_send_a_notice() {
    let (app, smtp) = with_smtp().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (_, recovery, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
    let signed_in = app
        .second_step(&r.body["mfa_token"], &recovery)
        .await
        .ok(200);
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 1).await;
    assert_notice(&mail, &app, "Your recovery token was used to sign in");
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(signed_in.body["access_token"].as_str().unwrap()),
        json!({"password": PASSWORD}),
    )
    .await
    .ok(201);
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 2).await;
    assert_notice(&mail, &app, "A new recovery token was created");
}

#[actix_web::test]
async fn changing_the_password_sends_a_notice() {
    let (app, smtp) = with_smtp().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.call(
        Method::PUT,
        "/api/v1/me/password",
        Some(&s.token),
        Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
    )
    .await
    .ok(204);
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 0).await;
    assert_notice(&mail, &app, "Your password was changed");
}

#[actix_web::test]
async fn a_locked_sign_in_sends_a_notice_for_passwords_and_for_codes() {
    let (app, smtp) = with_smtp().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.enroll(&s.token, None).await;
    for _ in 0..5 {
        app.login_raw("ann@example.com", "not the password at all")
            .await
            .problem(401, "invalid_credentials");
    }
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 1).await;
    assert_notice(&mail, &app, "Sign-in to your account was locked");
    assert!(mail.text.contains("someone may be guessing your password"));
    // The second step: ten wrong codes lock it, one notice.
    app.clock.advance(3600);
    let before = 2;
    let mut sent = 0;
    while sent < 10 {
        let r = app.login_raw("ann@example.com", PASSWORD).await.ok(200);
        for _ in 0..5 {
            if sent == 10 {
                break;
            }
            app.second_step(&r.body["mfa_token"], "000000").await;
            sent += 1;
        }
    }
    let mail = only_new_mail(&app, &smtp, "ann@example.com", before).await;
    assert_notice(&mail, &app, "Sign-in to your account was locked");
}

#[actix_web::test]
async fn html_parts_keep_what_users_typed_as_text() {
    let (app, smtp) = with_smtp().await;
    app.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "<b>Acme</b>", "email": "ann@example.com", "password": PASSWORD, "display_name": "<script>alert(1)</script>"}),
    )
    .await
    .ok(201);
    let s = app.login("ann@example.com").await;
    app.enroll(&s.token, None).await;
    let mail = only_new_mail(&app, &smtp, "ann@example.com", 0).await;
    let html = mail.html.clone().expect("an HTML part");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    assert!(!html.contains("<b>Acme</b>"), "{html}");
    // The text part is text: shown as typed.
    assert!(mail.text.contains("<script>alert(1)</script>"));
}

#[actix_web::test]
async fn linking_an_identity_provider_sends_a_notice_naming_it() {
    use crate::idp::MockIdp;
    use crate::sso::{connect, exchange, now, round};
    let (app, smtp) = with_smtp().await;
    let idp = MockIdp::start();
    let admin = app.signup_and_login("admin@corp.example").await;
    let provider = connect(&app, &admin, &idp.issuer, json!({"name": "Okta"})).await;
    app.create_user(&admin, "ann@corp.example", "editor", None)
        .await;
    let sign = |nonce: &str| {
        idp.key.sign(
            "k1",
            &idp.claims("sub-ann", "ann@corp.example", nonce, now(&app)),
        )
    };
    let q = round(&app, &idp, &provider, sign).await;
    let r = exchange(&app, &q["login_code"]).await.ok(200);
    app.post(
        "/api/v1/sessions/sso/link",
        None,
        json!({"link_token": r.body["link_token"], "password": PASSWORD}),
    )
    .await
    .ok(200);
    let mail = only_new_mail(&app, &smtp, "ann@corp.example", 0).await;
    assert_notice(
        &mail,
        &app,
        "An identity provider was linked to your account",
    );
    assert!(mail.text.contains("(Okta)"), "{}", mail.text);
}
