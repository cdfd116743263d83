//! Mail as a service builds it: the messages (templates in
//! `templates/mail/`, rendered with minijinja: text and HTML, the HTML
//! escaped) and the transports (SMTP through lettre, or `.eml` files).
//! What to send and when is the domain's (`domain::outbox`); the loop that
//! sends is `delivery`.

mod templates;

use lettre::address::Envelope;
use lettre::message::{header::ContentType, Mailbox, Message, MultiPart, SinglePart};
use lettre::Transport as _;

use crate::config::MailTarget;
pub use templates::{render, Rendered, Template, Vars};

/// A complete message, ready to hand over: RFC 5322 bytes. `id` makes the
/// Message-ID, the same on every attempt, so a message delivered twice
/// (at least once) is one message to a mail client.
pub fn compose(
    id: &str,
    from: &Mailbox,
    to: &str,
    rendered: &Rendered,
) -> Result<Vec<u8>, MailError> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| MailError(format!("recipient: {e}")))?;
    let domain = from.email.domain();
    let message = Message::builder()
        .message_id(Some(format!("<{id}@{domain}>")))
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(rendered.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(rendered.html.clone()),
                ),
        )
        .map_err(|e| MailError(e.to_string()))?;
    Ok(message.formatted())
}

#[derive(Debug, thiserror::Error)]
#[error("mail: {0}")]
pub struct MailError(pub String);

/// Where messages are handed over.
pub enum Transport {
    Smtp(Box<lettre::SmtpTransport>),
    Files(lettre::FileTransport),
}

impl Transport {
    /// The transport of `target`; SMTP sends time out after `timeout`.
    pub fn new(target: &MailTarget, timeout: std::time::Duration) -> Result<Transport, MailError> {
        match target {
            MailTarget::Smtp(url) => {
                let smtp = lettre::SmtpTransport::from_url(url)
                    .map_err(|e| MailError(e.to_string()))?
                    .timeout(Some(timeout))
                    .build();
                Ok(Transport::Smtp(Box::new(smtp)))
            }
            MailTarget::Files(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| MailError(format!("{}: {e}", dir.display())))?;
                Ok(Transport::Files(lettre::FileTransport::new(dir)))
            }
        }
    }

    /// Hands one message over; `Ok` once the server (or the file) holds it.
    pub fn send(&self, from: &Mailbox, to: &str, message: &[u8]) -> Result<(), MailError> {
        let to = to
            .parse()
            .map_err(|e| MailError(format!("recipient: {e}")))?;
        let envelope = Envelope::new(Some(from.email.clone()), vec![to])
            .map_err(|e| MailError(e.to_string()))?;
        match self {
            Transport::Smtp(smtp) => smtp
                .send_raw(&envelope, message)
                .map(drop)
                .map_err(|e| MailError(e.to_string())),
            Transport::Files(files) => files
                .send_raw(&envelope, message)
                .map(drop)
                .map_err(|e| MailError(e.to_string())),
        }
    }

    /// Where messages go, for the log (no credentials).
    pub fn describe(target: &MailTarget) -> String {
        match target {
            MailTarget::Smtp(url) => {
                let host = url.rsplit('@').next().unwrap_or(url);
                let host = host.split("://").last().unwrap_or(host);
                format!("smtp {}", host.split('?').next().unwrap_or(host))
            }
            MailTarget::Files(dir) => format!("files in {}", dir.display()),
        }
    }
}
