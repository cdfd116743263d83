//! Housekeeping (`domain::housekeeping`, run every ten minutes by `serve`):
//! what it keeps matters as much as what it removes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use latchkey::domain::housekeeping;
use latchkey::store::schema::{audit_events, login_throttles};

use crate::support::{TestApp, PASSWORD};

const WRONG: &str = "wrong password!!";

fn purge(app: &TestApp) -> housekeeping::Purged {
    let mut conn = app.state.pool.get().unwrap();
    housekeeping::purge(&mut conn, app.clock.now_naive()).unwrap()
}

fn purge_audit(app: &TestApp) -> usize {
    let mut conn = app.state.pool.get().unwrap();
    housekeeping::purge_audit(&mut conn, app.clock.now_naive(), app.config.audit_retention).unwrap()
}

fn throttle_rows(app: &TestApp) -> i64 {
    let mut conn = app.state.pool.get().unwrap();
    login_throttles::table
        .count()
        .get_result(&mut **conn)
        .unwrap()
}

/// Audit events (older than `before`, when given).
fn audit_rows(app: &TestApp, before: Option<NaiveDateTime>) -> i64 {
    let mut conn = app.state.pool.get().unwrap();
    let mut query = audit_events::table.into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_events::occurred_at.lt(before));
    }
    query.count().get_result(&mut **conn).unwrap()
}

#[actix_web::test]
async fn failure_counters_are_kept_until_idle_for_a_day() {
    let app = TestApp::new().await;
    app.signup("ann@example.com").await;
    app.signup("bob@example.com").await;

    // Ann: five wrong passwords lock her email for 30 s.
    for _ in 0..5 {
        app.login_raw("ann@example.com", WRONG)
            .await
            .problem(401, "invalid_credentials");
    }
    app.login_raw("ann@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    // Ten minutes on the lock has ended, but the count must survive: the
    // next failure locks for twice as long, not from scratch.
    app.clock.advance(600);
    assert_eq!(purge(&app).throttles, 0);
    app.login_raw("ann@example.com", WRONG)
        .await
        .problem(401, "invalid_credentials");
    let locked = app
        .login_raw("ann@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    assert!(locked.retry_after() > 30, "doubled lock: {}", locked.text);

    // Bob: a slow guesser. His first failures are over a day old, his last
    // one is recent: his counter is in use and stays. Ann's has been idle
    // (no attempt, no lock) for a day by then and goes.
    for _ in 0..3 {
        app.login_raw("bob@example.com", WRONG)
            .await
            .problem(401, "invalid_credentials");
    }
    app.clock.advance(24 * 3600 - 60);
    app.login_raw("bob@example.com", WRONG)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(purge(&app).throttles, 0, "Ann's lock ended under a day ago");
    app.clock.advance(120);
    assert_eq!(throttle_rows(&app), 2);
    assert_eq!(purge(&app).throttles, 1);
    assert_eq!(throttle_rows(&app), 1);
    app.login_raw("bob@example.com", WRONG)
        .await
        .problem(401, "invalid_credentials");
    app.login_raw("bob@example.com", PASSWORD)
        .await
        .problem(429, "too_many_attempts");
    // Ann's count starts again from nothing.
    app.login("ann@example.com").await;

    // A day on, Ann's (a success, no lock) goes; Bob's lock ended less
    // than a day ago, so his stays for another half minute.
    app.clock.advance(24 * 3600);
    assert_eq!(purge(&app).throttles, 1);
    assert_eq!(throttle_rows(&app), 1);
    app.clock.advance(60);
    assert_eq!(purge(&app).throttles, 1);
    assert_eq!(throttle_rows(&app), 0);
}

#[actix_web::test]
async fn audit_events_are_kept_for_the_retention_period() {
    let app = TestApp::new().await;
    assert_eq!(
        app.config.audit_retention,
        std::time::Duration::from_secs(400 * 24 * 3600),
        "the default retention"
    );
    let retention = app.config.audit_retention.as_secs() as i64;
    app.signup_and_login("ann@example.com").await;
    let old = audit_rows(&app, None);
    assert!(old >= 1, "sign-up and login are audited");
    assert_eq!(purge_audit(&app), 0);

    // Just under the retention later, a second login; nothing is old enough.
    app.clock.advance(retention - 100);
    app.login("ann@example.com").await;
    let all = audit_rows(&app, None);
    assert!(all > old);
    assert_eq!(purge_audit(&app), 0);

    // Past the retention of the first events only: they go, the login of
    // 101 s ago stays.
    app.clock.advance(101);
    assert_eq!(purge_audit(&app), old as usize);
    assert_eq!(audit_rows(&app, None), all - old);
    let cutoff = app.clock.now_naive() - chrono::Duration::seconds(retention);
    assert_eq!(audit_rows(&app, Some(cutoff)), 0);

    // The newer ones go once they, too, are older than the retention.
    app.clock.advance(retention);
    assert_eq!(purge_audit(&app), (all - old) as usize);
    assert_eq!(audit_rows(&app, None), 0);
}
