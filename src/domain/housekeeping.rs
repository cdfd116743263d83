//! Housekeeping: removes rows that can no longer matter, so the tables a
//! login touches stay small. Safe to run on every node at once.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use crate::store::{challenges, sessions, throttles, totp, DbConn};

/// How many rows each purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub challenges: usize,
    pub pending_enrollments: usize,
    pub sessions: usize,
    pub throttles: usize,
}

/// Deletes challenges and pending enrollments a day past their expiry,
/// sessions (with their refresh tokens) ended or expired over a day ago, and
/// password-failure counters idle for a day that no longer lock anything.
pub fn purge(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Purged> {
    let day_ago = now - Duration::days(1);
    Ok(Purged {
        challenges: challenges::purge_expired(conn, day_ago)?,
        pending_enrollments: totp::purge_expired_pending(conn, day_ago)?,
        sessions: sessions::purge_dead(conn, day_ago)?,
        throttles: throttles::purge_idle(conn, day_ago, now)?,
    })
}
