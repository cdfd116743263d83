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
}

impl Round {
    pub fn claimed(&self) -> usize {
        self.delivered + self.retried + self.given_up
    }
}

/// The transport of this node's configuration.
pub fn transport(state: &AppState) -> Result<Arc<Transport>, MailError> {
    // A send may take this long before the claim's lease could run out.
    let timeout = (state.config.mail_lease / 2).max(Duration::from_secs(1));
    Transport::new(&state.config.mail, timeout).map(Arc::new)
}

/// One round: claims due messages and sends them, one after another.
pub async fn deliver_due(state: &AppState, transport: &Arc<Transport>) -> ApiResult<Round> {
    let config = state.config.clone();
    let now = state.clock.now_naive();
    let claimed = state
        .db(move |conn| sending::claim(conn, &config, now, BATCH))
        .await?;
    let mut round = Round::default();
    for message in claimed {
        let sender = transport.clone();
        let from = state.config.mail_from.clone();
        let to = message.recipient.clone();
        let bytes = message.bytes;
        let sent = actix_web::web::block(move || sender.send(&from, &to, &bytes))
            .await
            .map_err(ApiError::from)?;
        let now = state.clock.now_naive();
        let row = message.row;
        match sent {
            Ok(()) => {
                let id = row.id.clone();
                state
                    .db(move |conn| sending::delivered(conn, &id, now))
                    .await?;
                tracing::info!(id = %row.id, kind = %row.kind, to = %row.recipient, "mail sent");
                metrics::counter!("latchkey_mail_sent_total").increment(1);
                round.delivered += 1;
            }
            Err(error) => {
                let error = error.to_string();
                let (id, kind) = (row.id.clone(), row.kind.clone());
                let outcome = state
                    .db(move |conn| sending::not_delivered(conn, &row, now, &error))
                    .await?;
                match outcome {
                    NotDelivered::RetryAt(at) => {
                        tracing::warn!(%id, %kind, retry_at = %at, "mail not sent; will retry");
                        metrics::counter!("latchkey_mail_retries_total").increment(1);
                        round.retried += 1;
                    }
                    NotDelivered::GivenUp => {
                        tracing::error!(%id, %kind, "mail given up after a day of retries");
                        metrics::counter!("latchkey_mail_failed_total").increment(1);
                        round.given_up += 1;
                    }
                }
            }
        }
    }
    Ok(round)
}

/// Runs this node's sender until the process ends.
pub fn spawn(state: AppState) -> Result<(), MailError> {
    let transport = transport(&state)?;
    tracing::info!(target = %Transport::describe(&state.config.mail), "mail sender started");
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
