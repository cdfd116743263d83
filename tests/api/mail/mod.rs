//! Mail, read from a real SMTP server process (`crate::smtp`): the outbox
//! (retries, at least once), security notices, forgotten passwords,
//! invitations and verified sign-up.

mod invitations;
mod notices;
mod outbox;
mod password_reset;
mod signup;

use crate::smtp::{Mail, SmtpServer};
use crate::support::TestApp;

/// The token of a mail's link (`...#token=<token>`).
pub fn token_of(mail: &Mail) -> String {
    let link = mail
        .link()
        .unwrap_or_else(|| panic!("no link in: {}", mail.text));
    link.split("#token=").nth(1).expect("a token").to_string()
}

/// Runs the sender once and returns every mail `to` has received.
pub async fn mails_to(app: &TestApp, smtp: &SmtpServer, to: &str) -> Vec<Mail> {
    app.deliver().await;
    smtp.mailbox().to(to)
}

/// Runs the sender once and returns the one new mail to `to` (the test
/// fails when there is none or several since `before`).
pub async fn only_new_mail(app: &TestApp, smtp: &SmtpServer, to: &str, before: usize) -> Mail {
    let mails = mails_to(app, smtp, to).await;
    assert_eq!(
        mails.len(),
        before + 1,
        "expected one new mail to {to}: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    mails.last().unwrap().clone()
}
