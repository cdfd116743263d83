//! Audit events: written inside the transaction of the change they record.

use diesel::QueryResult;

pub use super::events::*;
use super::Ctx;
use crate::store::audit::{self as audit_store, AuditEvent};
use crate::store::DbConn;

/// Records `event`, and queues the security notice it gets, if any
/// (`notices`), in the caller's transaction.
pub fn record(conn: &mut DbConn, ctx: &Ctx, event: Event<'_>) -> QueryResult<()> {
    super::notices::queue_for(conn, ctx, &event)?;
    audit_store::insert(
        conn,
        &AuditEvent {
            id: super::new_id(),
            account_id: event.account_id.map(String::from),
            event_type: event.kind.as_str().to_string(),
            occurred_at: ctx.now,
            actor_user_id: event.actor.map(String::from),
            target_user_id: event.target.map(String::from),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            details: event.details.to_string(),
        },
    )
}
