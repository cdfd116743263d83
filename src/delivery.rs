//! The outbox's sender on this node: every second (and at once after a
//! full batch) it claims due messages (`domain::sending`), hands each to
//! the transport on a blocking thread, and records the outcome. Every node
//! runs one; PostgreSQL's `SKIP LOCKED` and SQLite's one writer keep two
//! senders off the same message, and the claim's lease brings back a
//! message whose sender died mid-send.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::sending::{self, NotDelivered};
use crate::error::{ApiError, ApiResult};
use crate::mail::{MailError, Transport};
use crate::state::AppState;

/// Messages one claim takes.
pub const BATCH: i64 = 20;
/// How often an idle sender looks for due messages.
pub const POLL: Duration = Duration::from_secs(1);

/// What one round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub retried: usize,
    pub given_up: usize,
    /// Claimed but not sent: too little of the lease left.
    pub left: usize,
}

impl Round {
    pub fn claimed(&self) -> usize {
        self.delivered + self.retried + self.given_up + self.left
    }
}

/// How long one SMTP operation may take: a quarter of the lease, so a
/// message started with more than that left of its lease is done (or
/// failed) before another sender may take it.
fn send_timeout(state: &AppState) -> Duration {
    (state.config.mail_lease / 4).max(Duration::from_secs(1))
}

/// The transport of this node's configuration.
pub fn transport(state: &AppState) -> Result<Arc<Transport>, MailError> {
    Transport::new(&state.config.mail, send_timeout(state)).map(Arc::new)
}

/// One round: claims due messages and sends them, one after another. A
/// message whose lease would run out during its send is left alone (it is
/// due again when the lease ends); one whose outcome cannot be recorded is
/// logged, and the round goes on.
pub async fn deliver_due(state: &AppState, transport: &Arc<Transport>) -> ApiResult<Round> {
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let batch = state
        .db(move |conn| sending::claim(conn, &config, now, BATCH))
        .await?;
    let mut round = Round {
        given_up: batch.given_up,
        ..Round::default()
    };
    count_given_up(batch.given_up);
    let timeout = chrono::Duration::from_std(send_timeout(state)).unwrap_or_default();
    for message in batch.messages {
        if state.clock.now_naive() + timeout >= message.row.next_attempt_at {
            round.left += 1;
            continue;
        }
        match deliver_one(state, transport, message).await {
            Ok(Outcome::Delivered) => round.delivered += 1,
            Ok(Outcome::Retried) => round.retried += 1,
            Ok(Outcome::GivenUp) => {
                count_given_up(1);
                round.given_up += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, "mail outcome not recorded; due again after its lease")
            }
        }
    }
    Ok(round)
}

fn count_given_up(n: usize) {
    if n > 0 {
        metrics::counter!("latchkey_mail_failed_total").increment(n as u64);
    }
}

enum Outcome {
    Delivered,
    Retried,
    GivenUp,
}

async fn deliver_one(
    state: &AppState,
    transport: &Arc<Transport>,
    message: sending::Claimed,
) -> ApiResult<Outcome> {
    let sender = transport.clone();
    let from = state.config.mail_from.clone();
    let to = message.recipient.clone();
    let bytes = message.bytes;
    let sent = actix_web::web::block(move || sender.send(&from, &to, &bytes))
        .await
        .map_err(ApiError::from)?;
    let now = state.clock.now_naive();
    let row = message.row;
    let (id, kind) = (row.id.clone(), row.kind.clone());
    match sent {
        Ok(()) => {
            let to = row.recipient.clone();
            state
                .db(move |conn| sending::delivered(conn, &row, now))
                .await?;
            tracing::info!(%id, %kind, %to, "mail sent");
            metrics::counter!("latchkey_mail_sent_total").increment(1);
            Ok(Outcome::Delivered)
        }
        Err(error) => {
            let error = error.to_string();
            let outcome = state
                .db(move |conn| sending::not_delivered(conn, &row, now, &error))
                .await?;
            Ok(match outcome {
                NotDelivered::RetryAt(at) => {
                    tracing::warn!(%id, %kind, retry_at = %at, "mail not sent; will retry");
                    metrics::counter!("latchkey_mail_retries_total").increment(1);
                    Outcome::Retried
                }
                NotDelivered::GivenUp => {
                    tracing::error!(%id, %kind, "mail given up after a day of retries");
                    Outcome::GivenUp
                }
            })
        }
    }
}

/// Runs this node's sender until the process ends.
pub fn spawn(state: AppState) -> Result<(), MailError> {
    let transport = transport(&state)?;
    tracing::info!(target = %Transport::describe(&state.config.mail), "mail sender started");
    if let crate::config::MailTarget::Files(dir) = &state.config.mail {
        tracing::warn!(
            dir = %dir.display(),
            "no LATCHKEY_SMTP_URL: mail (live links included) is written to files, not sent"
        );
    }
    actix_web::rt::spawn(async move {
        loop {
            match deliver_due(&state, &transport).await {
                Ok(round) if round.claimed() as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail sender round failed"),
            }
            actix_web::rt::time::sleep(POLL).await;
        }
    });
    Ok(())
}
