//! `audit_events`: append-only record of security-relevant events.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_events;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub account_id: Option<String>,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    pub target_user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: String,
}

#[derive(Default, Clone, Debug)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, event: &AuditEvent) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)
        .map(drop)
}

fn filtered<'a>(
    account_id: &'a str,
    f: &'a AuditFilter,
) -> audit_events::BoxedQuery<'a, super::MultiBackend> {
    let mut query = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .into_boxed();
    if let Some(user) = &f.user_id {
        query = query.filter(
            audit_events::actor_user_id
                .eq(user)
                .or(audit_events::target_user_id.eq(user)),
        );
    }
    if let Some(t) = &f.event_type {
        query = query.filter(audit_events::event_type.eq(t));
    }
    if let Some(since) = f.since {
        query = query.filter(audit_events::occurred_at.ge(since));
    }
    if let Some(until) = f.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    query
}

/// Events of one account, newest first.
pub fn list(
    conn: &mut DbConn,
    account_id: &str,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<AuditEvent>, i64)> {
    let items = filtered(account_id, filter)
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(AuditEvent::as_select())
        .load(conn)?;
    let total = filtered(account_id, filter).count().get_result(conn)?;
    Ok((items, total))
}

/// Deletes the events that occurred before `before`; returns how many.
pub fn purge_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(audit_events::table.filter(audit_events::occurred_at.lt(before))).execute(conn)
}
