//! Housekeeping: removes rows that can no longer matter, so the tables a
//! login touches stay small. Safe to run on every node at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::store::schema::{
    login_challenges, login_throttles, refresh_tokens, sessions, totp_credentials,
};
use crate::store::totp::STATUS_PENDING;
use crate::store::DbConn;

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
    let challenges =
        diesel::delete(login_challenges::table.filter(login_challenges::expires_at.lt(day_ago)))
            .execute(conn)?;
    let pending_enrollments = diesel::delete(
        totp_credentials::table
            .filter(totp_credentials::status.eq(STATUS_PENDING))
            .filter(totp_credentials::expires_at.lt(day_ago)),
    )
    .execute(conn)?;
    let dead_sessions = sessions::table
        .filter(
            sessions::revoked_at
                .lt(day_ago)
                .or(sessions::expires_at.lt(day_ago)),
        )
        .select(sessions::id);
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(dead_sessions)))
        .execute(conn)?;
    let sessions = diesel::delete(
        sessions::table.filter(
            sessions::revoked_at
                .lt(day_ago)
                .or(sessions::expires_at.lt(day_ago)),
        ),
    )
    .execute(conn)?;
    let throttles = diesel::delete(
        login_throttles::table
            .filter(login_throttles::updated_at.lt(day_ago))
            .filter(
                login_throttles::locked_until
                    .is_null()
                    .or(login_throttles::locked_until.lt(now)),
            ),
    )
    .execute(conn)?;
    Ok(Purged {
        challenges,
        pending_enrollments,
        sessions,
        throttles,
    })
}
