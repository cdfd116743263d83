//! Deadline reminders: a required user without MFA gets a mail 7, 3 and 1
//! days before their scope's "Require MFA" deadline, each once (a row per
//! reminder, claimed by one INSERT, queued in the same transaction). A
//! deadline set closer than 7 days sends the nearest reminder only. Run by
//! every node's housekeeping loop; any node may send, none sends twice.

use chrono::{Duration, NaiveDateTime};

use super::audit::{self, Event};
use super::outbox::{self, Outgoing};
use super::{Ctx, MfaMethods};
use crate::config::Config;
use crate::error::ApiResult;
use crate::mail::{Template, Vars};
use crate::store::reminders as reminder_store;
use crate::store::{accounts, write_tx, DbConn};

/// The reminders, in days before the deadline.
pub const DAYS_BEFORE: [i32; 3] = [7, 3, 1];

/// Which reminder is due `left` before a deadline: the nearest of
/// [`DAYS_BEFORE`] that `left` is within (none past the deadline or more
/// than 7 days before it).
pub fn due_reminder(left: Duration) -> Option<i32> {
    if left <= Duration::zero() {
        return None;
    }
    DAYS_BEFORE
        .iter()
        .rev()
        .copied()
        .find(|d| left <= Duration::days(i64::from(*d)))
}

/// Queues every reminder due at `now`; returns how many.
pub fn send_due(conn: &mut DbConn, config: &Config, now: NaiveDateTime) -> ApiResult<usize> {
    let until = now + Duration::days(7);
    let mut scopes: Vec<(String, Option<String>, NaiveDateTime, String)> = Vec::new();
    for (id, _, deadline, methods) in reminder_store::accounts_due(conn, now, until)? {
        scopes.push((id, None, deadline, methods));
    }
    for (id, account_id, deadline, methods) in reminder_store::sub_accounts_due(conn, now, until)? {
        scopes.push((account_id, Some(id), deadline, methods));
    }
    let ctx = Ctx::at(now);
    let mut sent = 0;
    for (account_id, sub_account_id, deadline, methods) in scopes {
        let Some(days) = due_reminder(deadline - now) else {
            continue;
        };
        let Some(account) = accounts::find(conn, &account_id)? else {
            continue;
        };
        let methods = MfaMethods::parse(&methods)
            .unwrap_or_default()
            .max(account.mfa_methods);
        let users =
            reminder_store::unenrolled_in_scope(conn, &account_id, sub_account_id.as_deref())?;
        for user in users {
            let queued = write_tx(conn, |conn| -> ApiResult<bool> {
                if reminder_store::claim(conn, &user.id, deadline, days, now)? == 0 {
                    return Ok(false);
                }
                let left = deadline - now;
                let vars = Vars {
                    account_name: account.name.clone(),
                    display_name: user.display_name.clone(),
                    link: config.app_url.clone(),
                    when: outbox::when(deadline),
                    expires: in_words(left),
                    role: methods.as_str().to_string(),
                    ..Vars::default()
                };
                outbox::queue_notice(
                    conn,
                    &ctx,
                    Outgoing {
                        template: Template::MfaReminder,
                        to: &user.email,
                        account_id: Some(&user.account_id),
                        vars,
                        link: None,
                    },
                )?;
                audit::record(
                    conn,
                    &ctx,
                    Event {
                        kind: audit::MFA_REMINDER_SENT,
                        account_id: Some(&user.account_id),
                        actor: None,
                        target: Some(&user.id),
                        details: serde_json::json!({
                            "deadline": deadline.and_utc(),
                            "days_before": days,
                            "sub_account_id": sub_account_id,
                        }),
                    },
                )?;
                Ok(true)
            })?;
            sent += usize::from(queued);
        }
    }
    Ok(sent)
}

/// "7 days", "1 day", "5 hours": rounded up, as a reminder "7 days
/// before" reads.
fn in_words(left: Duration) -> String {
    let plural = |n: i64, unit: &str| match n {
        1 => format!("1 {unit}"),
        n => format!("{n} {unit}s"),
    };
    let hours = (left.num_minutes() + 59) / 60;
    match hours {
        h if h <= 23 => plural(h.max(1), "hour"),
        h => plural((h + 23) / 24, "day"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_reminder_is_due_and_none_outside_the_week() {
        let h = Duration::hours;
        assert_eq!(due_reminder(h(24 * 8)), None);
        assert_eq!(due_reminder(h(24 * 7)), Some(7));
        assert_eq!(due_reminder(h(24 * 4)), Some(7));
        assert_eq!(due_reminder(h(24 * 3)), Some(3));
        assert_eq!(due_reminder(h(30)), Some(3));
        assert_eq!(due_reminder(h(24)), Some(1));
        assert_eq!(due_reminder(h(1)), Some(1));
        assert_eq!(due_reminder(h(0)), None);
        assert_eq!(in_words(h(30)), "2 days");
        assert_eq!(in_words(h(24)), "1 day");
        assert_eq!(in_words(h(24 * 7) - Duration::minutes(1)), "7 days");
        assert_eq!(in_words(h(5)), "5 hours");
    }
}
