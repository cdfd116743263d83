//! The outbox, queueing side: mail is queued in the transaction of the
//! change that causes it, so a change and its message commit or vanish
//! together. `sending` takes it from there (docs/ARCHITECTURE.md).

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::Ctx;
use crate::config::Config;
use crate::error::ApiResult;
use crate::mail::{Template, Vars};
use crate::store::outbox::{self as outbox_store, OutboxRow};
use crate::store::DbConn;

/// A message to queue.
pub struct Outgoing<'a> {
    pub template: Template,
    pub to: &'a str,
    pub account_id: Option<&'a str>,
    pub vars: Vars,
    /// A link with a token (a secret): sealed at rest, dropped once sent.
    pub link: Option<String>,
}

/// Queues `message`, inside the caller's transaction.
pub fn queue(
    conn: &mut DbConn,
    config: &Config,
    ctx: &Ctx,
    message: Outgoing<'_>,
) -> ApiResult<()> {
    let id = super::new_id();
    let link = match &message.link {
        Some(link) => Some(config.master_key.seal(link.as_bytes(), &id)?),
        None => None,
    };
    Ok(queue_row(conn, ctx, id, message, link)?)
}

/// Queues a message without a link (a notice): needs no key.
pub fn queue_notice(conn: &mut DbConn, ctx: &Ctx, message: Outgoing<'_>) -> QueryResult<()> {
    debug_assert!(message.link.is_none(), "a link must be sealed: use queue");
    queue_row(conn, ctx, super::new_id(), message, None)
}

fn queue_row(
    conn: &mut DbConn,
    ctx: &Ctx,
    id: String,
    message: Outgoing<'_>,
    link: Option<String>,
) -> QueryResult<()> {
    // Plain strings: serializing cannot fail.
    let vars = serde_json::to_string(&message.vars).unwrap_or_else(|_| "{}".into());
    outbox_store::insert(
        conn,
        &OutboxRow {
            id,
            account_id: message.account_id.map(String::from),
            kind: message.template.name().to_string(),
            recipient: message.to.to_string(),
            vars,
            link,
            created_at: ctx.now,
            next_attempt_at: ctx.now,
            attempts: 0,
            last_error: None,
            sent_at: None,
            failed_at: None,
        },
    )
}

/// Counts one more mail under `key` (say `reset:ann@example.com`) in the
/// current `window` and says whether it stays within `limit`. One atomic
/// count on both backends (`store::throttles::count_in_window`); the key
/// is stored hashed.
pub fn within_quota(
    conn: &mut DbConn,
    key: &str,
    limit: i32,
    window: chrono::Duration,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let key = crate::crypto::tokens::sha256_hex(&format!("mail:{key}"));
    Ok(crate::store::throttles::count_in_window(conn, &key, now, now + window)? <= limit)
}

/// How a time reads in mail: `2026-12-04 14:32 UTC`.
pub fn when(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
