//! The outbox, sending side: a sender on any node claims due messages,
//! renders them and hands them over (`delivery` runs the loop). At least
//! once: a claim holds a message for `mail_lease`, so a sender that dies
//! mid-send leaves it due again; a failed attempt is retried with backoff,
//! and after a day the message is given up (audited `mail.failed`).

use chrono::{Duration, NaiveDateTime};

use super::audit::{self, Event};
use super::Ctx;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::mail::{self, Template, Vars};
use crate::store::outbox::{self as outbox_store, OutboxRow};
use crate::store::{write_tx, DbConn};

/// The first retry comes this long after a failed attempt; each further
/// one waits twice as long, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::seconds(10);
pub const MAX_BACKOFF: Duration = Duration::minutes(5);
/// After this long a message that could not be sent is given up.
pub const GIVE_UP_AFTER: Duration = Duration::hours(24);

/// A claimed message, rendered and ready to hand over.
pub struct Claimed {
    pub id: String,
    pub recipient: String,
    pub bytes: Vec<u8>,
    pub row: OutboxRow,
}

/// What a claim took: messages to hand over, and how many it gave up
/// instead (unrenderable, or due for a day already: a sender died with
/// them claimed, round after round).
pub struct Batch {
    pub messages: Vec<Claimed>,
    pub given_up: usize,
}

/// Claims up to `limit` due messages for this sender (held for
/// `config.mail_lease`) and renders them.
pub fn claim(
    conn: &mut DbConn,
    config: &Config,
    now: NaiveDateTime,
    limit: i64,
) -> ApiResult<Batch> {
    let lease = Duration::from_std(config.mail_lease).unwrap_or(Duration::minutes(2));
    let rows = write_tx(conn, |conn| {
        Ok::<_, ApiError>(outbox_store::claim_due(conn, now, now + lease, limit)?)
    })?;
    let mut batch = Batch {
        messages: Vec::with_capacity(rows.len()),
        given_up: 0,
    };
    for row in rows {
        if now >= row.created_at + GIVE_UP_AFTER {
            give_up(conn, &row, now, "not sent within a day")?;
            batch.given_up += 1;
            continue;
        }
        match render(config, &row) {
            Ok(bytes) => batch.messages.push(Claimed {
                id: row.id.clone(),
                recipient: row.recipient.clone(),
                bytes,
                row,
            }),
            Err(e) => {
                give_up(conn, &row, now, &e.to_string())?;
                batch.given_up += 1;
            }
        }
    }
    Ok(batch)
}

fn render(config: &Config, row: &OutboxRow) -> Result<Vec<u8>, mail::MailError> {
    let template = Template::from_name(&row.kind)
        .ok_or_else(|| mail::MailError(format!("no template {}", row.kind)))?;
    let mut vars: Vars =
        serde_json::from_str(&row.vars).map_err(|e| mail::MailError(e.to_string()))?;
    if let Some(sealed) = &row.link {
        let link = config
            .master_key
            .open(sealed, &row.id)
            .map_err(|e| mail::MailError(e.to_string()))?;
        vars.link = String::from_utf8(link).map_err(|e| mail::MailError(e.to_string()))?;
    }
    let rendered = mail::render(template, &vars)?;
    mail::compose(&row.id, &config.mail_from, &row.recipient, &rendered)
}

/// The server holds the message (claimed as attempt `row.attempts`).
pub fn delivered(conn: &mut DbConn, row: &OutboxRow, now: NaiveDateTime) -> ApiResult<()> {
    write_tx(conn, |conn| {
        Ok::<_, ApiError>(outbox_store::mark_sent(conn, &row.id, row.attempts, now)?)
    })?;
    Ok(())
}

/// What became of a message that was not delivered.
#[derive(Debug, PartialEq, Eq)]
pub enum NotDelivered {
    RetryAt(NaiveDateTime),
    GivenUp,
}

/// The wait before the retry that follows attempt `attempts` (1, 2, ...).
pub fn backoff(attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    (FIRST_BACKOFF * 2_i32.pow(doublings)).min(MAX_BACKOFF)
}

/// Not delivered this time: retried after [`backoff`], or given up once
/// it is [`GIVE_UP_AFTER`] old.
pub fn not_delivered(
    conn: &mut DbConn,
    row: &OutboxRow,
    now: NaiveDateTime,
    error: &str,
) -> ApiResult<NotDelivered> {
    if now >= row.created_at + GIVE_UP_AFTER {
        give_up(conn, row, now, error)?;
        return Ok(NotDelivered::GivenUp);
    }
    let next = now + backoff(row.attempts);
    write_tx(conn, |conn| {
        Ok::<_, ApiError>(outbox_store::retry_at(
            conn,
            &row.id,
            row.attempts,
            next,
            error,
        )?)
    })?;
    Ok(NotDelivered::RetryAt(next))
}

fn give_up(conn: &mut DbConn, row: &OutboxRow, now: NaiveDateTime, error: &str) -> ApiResult<()> {
    write_tx(conn, |conn| {
        if outbox_store::mark_failed(conn, &row.id, row.attempts, now, error)? == 1 {
            audit::record(
                conn,
                &Ctx::at(now),
                Event {
                    kind: audit::MAIL_FAILED,
                    account_id: row.account_id.as_deref(),
                    actor: None,
                    target: None,
                    details: serde_json::json!({
                        "message_id": row.id,
                        "kind": row.kind,
                        "attempts": row.attempts,
                        "error": error,
                    }),
                },
            )?;
        }
        Ok(())
    })
}

/// Messages waiting to be sent.
pub fn pending(conn: &mut DbConn) -> ApiResult<i64> {
    Ok(outbox_store::pending(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_within_ten_seconds_and_double_up_to_five_minutes() {
        let waits: Vec<i64> = (1..=8).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(0).num_seconds(), 10);
        assert_eq!(backoff(i32::MAX).num_seconds(), 300);
    }
}
