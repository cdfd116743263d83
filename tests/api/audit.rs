//! `/api/v1/audit-events`: the account's audit log and its filters.

use crate::support::TestApp;

#[actix_web::test]
async fn audit_log_filters_by_time_and_rejects_unknown_types() {
    let app = TestApp::new().await;
    app.signup_and_login("ann@example.com").await;
    let before = app.clock.now();
    app.clock.advance(3600);
    let admin = app.login("ann@example.com").await;
    let since =
        (before + chrono::Duration::seconds(60)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = app
        .get(
            &format!("/api/v1/audit-events?type=login.succeeded&since={since}"),
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
    let r = app
        .get(
            &format!("/api/v1/audit-events?type=login.succeeded&until={since}"),
            &admin.token,
        )
        .await
        .ok(200);
    assert_eq!(r.body["total"], 1);
    app.get("/api/v1/audit-events?type=nope", &admin.token)
        .await
        .problem(422, "validation_failed");
    app.get("/api/v1/audit-events?since=yesterday", &admin.token)
        .await
        .problem(422, "validation_failed");
    let all = app.get("/api/v1/audit-events", &admin.token).await.ok(200);
    let first = &all.body["items"][0];
    for field in [
        "id",
        "type",
        "occurred_at",
        "actor_user_id",
        "target_user_id",
        "ip",
        "user_agent",
        "details",
    ] {
        assert!(first.get(field).is_some(), "{field}");
    }
}
