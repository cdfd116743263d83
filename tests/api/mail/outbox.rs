//! The outbox: nothing lost while the SMTP server is down, retries with
//! backoff, given up after a day (audited), and the file sink of the
//! embedded default. The crash between handing a message over and marking
//! it sent is in `process.rs` (it needs a real process to kill).

use serde_json::json;

use crate::smtp::{Mode, SmtpServer};
use crate::support::{TestApp, PASSWORD};

#[actix_web::test]
async fn notices_queued_while_the_smtp_server_is_down_all_arrive_once_it_is_back() {
    let (app, mut smtp) = TestApp::with_smtp(|_| {}).await;
    let mailbox = smtp.mailbox().clone();
    let port = smtp.port();
    smtp.stop();
    // Three notices: MFA on, a new recovery token, the password changed.
    let s = app.signup_and_login("ann@example.com").await;
    let (_, _, verified) = app.enroll(&s.token, None).await;
    let token = verified.session.access_token;
    app.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&token),
        json!({"password": PASSWORD}),
    )
    .await
    .ok(201);
    app.call(
        actix_web::http::Method::PUT,
        "/api/v1/me/password",
        Some(&token),
        Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
    )
    .await
    .ok(204);
    assert_eq!(app.mail_pending(), 3);
    // The server is down: every attempt fails and is retried later.
    let round = app.deliver().await;
    assert_eq!((round.delivered, round.retried), (0, 3));
    assert_eq!(app.mail_pending(), 3);
    // Not due again before the backoff.
    assert_eq!(app.deliver().await.claimed(), 0);
    let _smtp = SmtpServer::start_with(&mailbox, Some(port), Mode::Normal);
    app.clock.advance(10);
    let round = app.deliver().await;
    assert_eq!((round.delivered, round.retried), (3, 0));
    let subjects: Vec<String> = mailbox
        .to("ann@example.com")
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    for expected in [
        "Multi-factor authentication was turned on",
        "A new recovery token was created",
        "Your password was changed",
    ] {
        assert!(
            subjects.iter().any(|s| s == expected),
            "{expected}: {subjects:?}"
        );
    }
    assert_eq!(app.mail_pending(), 0);
    // Sent rows keep no link and are not sent again.
    assert_eq!(app.deliver().await.claimed(), 0);
}

#[actix_web::test]
async fn retries_back_off_and_a_message_is_given_up_after_a_day_audited() {
    let (app, mut smtp) = TestApp::with_smtp(|_| {}).await;
    smtp.stop();
    app.signup("ann@example.com").await;
    app.post(
        "/api/v1/password-resets",
        None,
        json!({"email": "ann@example.com"}),
    )
    .await
    .ok(202);
    // The first attempt fails; the waits before each next one: 10 s, then
    // doubling up to 5 minutes.
    assert_eq!(app.deliver().await.retried, 1);
    let mut waits = Vec::new();
    for _ in 0..7 {
        let mut waited = 0;
        loop {
            app.clock.advance(5);
            waited += 5;
            if app.deliver().await.retried == 1 {
                break;
            }
        }
        waits.push(waited);
    }
    assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
    // A day on, the next failure gives it up.
    app.clock.advance(24 * 3600);
    let round = app.deliver().await;
    assert_eq!(round.given_up, 1, "{round:?}");
    assert_eq!(app.mail_pending(), 0);
    let admin = app.login("ann@example.com").await;
    let events = app
        .get("/api/v1/audit-events?type=mail.failed", &admin.token)
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1, "{}", events.text);
    assert_eq!(events.body["items"][0]["details"]["kind"], "password_reset");
    // The given-up row keeps no link.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE link IS NOT NULL"),
        0
    );
    let metrics = app
        .call(actix_web::http::Method::GET, "/metrics", None, None)
        .await;
    assert!(
        metrics.text.contains("latchkey_mail_failed_total"),
        "{}",
        metrics.text
    );
}

#[actix_web::test]
async fn without_smtp_mail_lands_as_eml_files_in_the_data_dir() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    app.post(
        "/api/v1/password-resets",
        None,
        json!({"email": "ann@example.com"}),
    )
    .await
    .ok(202);
    assert_eq!(app.deliver().await.delivered, 1);
    let dir = app.config.data_dir.join("mail");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: ann@example.com"), "{eml}");
    assert!(eml.contains("Subject: Reset your password"), "{eml}");
    assert!(eml.contains("multipart/alternative"));
}

/// At least once, with a real process: the SMTP server takes the message
/// but holds its reply; Latchkey is killed (SIGKILL) before it can mark
/// the message sent. After a restart the message is sent again (the same
/// Message-ID), never lost. On PostgreSQL too when
/// `LATCHKEY_TEST_DATABASE_URL` is set.
#[test]
fn a_message_handed_over_before_a_crash_is_sent_again() {
    use std::time::Duration;

    use crate::process::Server;
    use crate::smtp::Mailbox;

    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let (url, name) = crate::support::pg_database(&admin);
            (url, Some((admin, name)))
        }
        _ => (
            dir.path().join("mail.db").to_string_lossy().to_string(),
            None,
        ),
    };
    let (_, key) = latchkey::crypto::seal::MasterKey::generate();
    let mailbox = Mailbox::new();
    let mut smtp = SmtpServer::start_with(&mailbox, None, Mode::Hold);
    let env = [
        ("LATCHKEY_SMTP_URL", smtp.url()),
        ("LATCHKEY_MAIL_LEASE_SECONDS", "8".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::spawn_with_env(&url, &key, dir.path(), &env);
    server.wait_ready();
    let (status, _) = server.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "Acme", "email": "ann@example.com", "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let (status, _) = server.post(
        "/api/v1/password-resets",
        None,
        json!({"email": "ann@example.com"}),
    );
    assert_eq!(status, 202);
    // The server has the message; its "250 OK" never comes.
    let first = mailbox.wait_for(1, Duration::from_secs(20));
    server.kill();
    smtp.stop();
    let _smtp = SmtpServer::start_with(&mailbox, Some(smtp.port()), Mode::Normal);
    let mut restarted = Server::spawn_with_env(&url, &key, dir.path(), &env);
    restarted.wait_ready();
    let both = mailbox.wait_for(2, Duration::from_secs(30));
    assert_eq!(both.len(), 2, "sent again once, not more");
    let message_id = |raw: &str| {
        raw.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .map(str::to_string)
    };
    assert_eq!(message_id(&first[0].raw), message_id(&both[1].raw));
    assert!(message_id(&first[0].raw).is_some());
    assert_eq!(first[0].subject, both[1].subject);
    assert_eq!(
        first[0].link(),
        both[1].link(),
        "the same link, still valid"
    );
    drop(restarted);
    if let Some((admin, name)) = pg {
        use diesel::{Connection, RunQueryDsl};
        if let Ok(mut conn) = diesel::PgConnection::establish(&admin) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}
