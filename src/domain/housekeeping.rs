//! Housekeeping: removes rows that can no longer matter, so the tables a
//! login touches stay small. Safe to run on every node at once.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use crate::store::{
    audit, challenges, devices, mail_tokens, outbox, sessions, sso, throttles, totp, DbConn,
};

/// How many rows each purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub challenges: usize,
    pub pending_enrollments: usize,
    pub sessions: usize,
    pub throttles: usize,
    pub sso_flows: usize,
    pub mail_links: usize,
    pub outbox: usize,
    pub devices: usize,
}

/// Deletes challenges (login codes included), SSO flows, pending
/// enrollments and password-reset and sign-up links a day past their
/// expiry, messages sent or given up a week ago,
/// sessions (with their refresh tokens) ended or expired over a day ago, and
/// idle password-failure counters.
///
/// A failure counter goes once nothing has happened to it for a day: no
/// attempt counted in that day (`updated_at`) and no lock in force in it
/// (`locked_until`). Not as soon as its lock ends: the count is what doubles
/// the next lock, and forgetting it would hand a guesser five fresh attempts
/// after every lock. A counter in use, however old its first failure, stays.
pub fn purge(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Purged> {
    let day_ago = now - Duration::days(1);
    Ok(Purged {
        challenges: challenges::purge_expired(conn, day_ago)?,
        pending_enrollments: totp::purge_expired_pending(conn, day_ago)?,
        sessions: sessions::purge_dead(conn, day_ago)?,
        throttles: throttles::purge_idle(conn, day_ago)?,
        sso_flows: sso::purge_expired_flows(conn, day_ago)?,
        mail_links: mail_tokens::purge(conn, day_ago)?,
        outbox: outbox::purge_done(conn, now - Duration::days(7))?,
        devices: devices::purge_expired(conn, now)?,
    })
}

/// Deletes audit events older than `retention` (`LATCHKEY_AUDIT_RETENTION_DAYS`);
/// returns how many. Apart from [`purge`], which only removes rows that can no
/// longer matter: this one is a retention policy, a setting of the operator.
pub fn purge_audit(
    conn: &mut DbConn,
    now: NaiveDateTime,
    retention: std::time::Duration,
) -> QueryResult<usize> {
    let retention = Duration::from_std(retention).unwrap_or(Duration::MAX);
    match now.checked_sub_signed(retention) {
        Some(cutoff) => audit::purge_before(conn, cutoff),
        None => Ok(0),
    }
}
