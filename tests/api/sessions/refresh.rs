//! `POST /api/v1/sessions/refresh`: rotation in place, reuse revokes, races, forgeries, tokens from before chains.

use serde_json::json;

use crate::support::TestApp;

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await
        .ok(200);
    assert_eq!(r.body["session_id"], s.session_id.as_str());
    assert_eq!(r.body["status"], "authenticated");
    let new_refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    let new_access = r.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, s.refresh);
    app.get("/api/v1/me", &new_access).await.ok(200);
    // The spent token again: 401, and the whole session is revoked.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": s.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": new_refresh}),
    )
    .await
    .problem(401, "unauthorized");
    app.get("/api/v1/me", &new_access)
        .await
        .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": "lkr_unknown"}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": ""}),
    )
    .await
    .problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_refresh_token_raced_twenty_times_rotates_once() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let srv = app.service().await;
    let requests = (0..20).map(|_| {
        srv.call(
            actix_web::http::Method::POST,
            "/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": s.refresh})),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    // At most one rotation wins. The others present a spent token, which
    // revokes the session; when that revocation lands before the winner
    // has read its session back, the winner is refused too rather than
    // handed tokens of a session that is over (both orders occur).
    let won = statuses.iter().filter(|s| **s == 200).count();
    assert!(won <= 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 20 - won);
    let generation = app.count(&format!(
        "SELECT refresh_generation AS n FROM sessions WHERE id = '{}'",
        s.session_id
    ));
    assert_eq!(generation, 2, "the token and exactly one successor");
    // Presented again while (or after) it was spent: the session is over.
    app.get("/api/v1/me", &s.token)
        .await
        .problem(401, "unauthorized");
}

#[actix_web::test]
async fn a_dead_sessions_refresh_token_is_refused_and_left_unspent() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .ok(204);
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": s.refresh}),
    )
    .await
    .problem(401, "unauthorized");
    let unspent = app.count(&format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE id = '{}' AND refresh_generation = 1 AND refresh_hash = '{}'",
        s.session_id,
        latchkey::crypto::tokens::sha256_hex(&s.refresh)
    ));
    assert_eq!(
        unspent, 1,
        "spending a dead session's token changes nothing"
    );
}

#[actix_web::test]
async fn the_short_rotation_takes_only_the_current_token_of_a_live_session() {
    use latchkey::crypto::tokens::sha256_hex;
    use latchkey::store::refresh_tokens::{rotate_if_live, Rotation, Step};
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let now = app.clock.now_naive();
    let cutoff = now - chrono::Duration::minutes(30);
    let mut conn = app.state.pool.get().unwrap();
    let sid = s.session_id.as_str();
    let step = |hash, next_hash, next_generation| Step {
        session_id: sid,
        hash,
        next_hash,
        next_generation,
    };
    let hash = sha256_hex(&s.refresh);
    let hash = hash.as_str();
    // Rotated, with the session context as the rotation left it.
    match rotate_if_live(&mut conn, step(hash, "next", 2), now, cutoff).unwrap() {
        Rotation::Rotated(Some(found)) => {
            assert_eq!(found.session.id, s.session_id);
            assert_eq!(found.session.last_used_at, now);
            assert_eq!(found.user.id, s.user_id);
            assert!(!found.account_requires_mfa);
            assert_eq!(found.sub_account_requires_mfa, None);
        }
        other => panic!("rotated expected: {other:?}"),
    }
    // Not the current token any more: declined (the full path handles reuse).
    assert!(matches!(
        rotate_if_live(&mut conn, step(hash, "other", 2), now, cutoff).unwrap(),
        Rotation::Skipped
    ));
    // The successor works once; after the session is revoked it is declined
    // and stays the current one.
    app.delete("/api/v1/sessions/current", &s.token)
        .await
        .ok(204);
    assert!(matches!(
        rotate_if_live(&mut conn, step("next", "third", 3), now, cutoff).unwrap(),
        Rotation::Skipped
    ));
    let current = app.count(&format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE id = '{}' AND refresh_hash = 'next' AND refresh_generation = 2",
        s.session_id
    ));
    assert_eq!(current, 1);
}

/// Refreshes `token` and returns the new refresh and access tokens.
async fn rotate(app: &TestApp, token: &str) -> (String, String) {
    let r = app
        .post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": token}),
        )
        .await
        .ok(200);
    (
        r.body["refresh_token"].as_str().unwrap().to_string(),
        r.body["access_token"].as_str().unwrap().to_string(),
    )
}

fn reuse_revocations(app: &TestApp, session_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'session.revoked' \
         AND details LIKE '%refresh_token_reuse%' AND details LIKE '%{session_id}%'"
    ))
}

#[actix_web::test]
async fn any_earlier_token_of_the_chain_presented_again_revokes_the_session() {
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let (t1, _) = rotate(&app, &s.refresh).await;
    let (t2, _) = rotate(&app, &t1).await;
    let (t3, access) = rotate(&app, &t2).await;
    // Two generations back: still one this server issued, used before.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": t1}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": t3}),
    )
    .await
    .problem(401, "unauthorized");
    app.get("/api/v1/me", &access)
        .await
        .problem(401, "unauthorized");
    assert_eq!(reuse_revocations(&app, &s.session_id), 1);
}

#[actix_web::test]
async fn a_forged_refresh_token_naming_a_session_is_refused_and_revokes_nothing() {
    use base64::Engine;
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    let other = app.login("ann@example.com").await;
    let sid = &s.session_id;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let secret_of = |token: &str| token.rsplit('.').next().unwrap().to_string();
    let forged = [
        // Made up, for an earlier, the current and a later generation.
        format!("lkr_{sid}.0.{}", b64(&[0; 32])),
        format!("lkr_{sid}.1.{}", b64(&[1; 32])),
        format!("lkr_{sid}.5.{}", b64(&[2; 32])),
        // The session's real secret under another generation, and another
        // session's real token relabelled with this session's id.
        format!("lkr_{sid}.0.{}", secret_of(&s.refresh)),
        format!("lkr_{sid}.1.{}", secret_of(&other.refresh)),
        // Not a refresh token's shape at all.
        format!("lkr_{sid}.1"),
        format!("lkr_{sid}.01.{}", secret_of(&s.refresh)),
        format!("lkr_{sid}.1.{}", &secret_of(&s.refresh)[1..]),
    ];
    for token in &forged {
        app.post(
            "/api/v1/sessions/refresh",
            None,
            json!({"refresh_token": token}),
        )
        .await
        .problem(401, "unauthorized");
    }
    // The session lives on: its real token still rotates, once.
    app.get("/api/v1/me", &s.token).await.ok(200);
    rotate(&app, &s.refresh).await;
    assert_eq!(reuse_revocations(&app, sid), 0);
}

#[actix_web::test]
async fn a_refresh_token_from_before_chains_rotates_once_into_the_sessions_chain() {
    use base64::Engine;
    use latchkey::crypto::tokens::sha256_hex;
    let app = TestApp::new().await;
    let s = app.signup_and_login("ann@example.com").await;
    // A token as the server issued them before chains: `lkr_` and 32
    // random bytes, one row of refresh_tokens; the session row has none.
    let legacy = format!(
        "lkr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32])
    );
    app.sql(&format!(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, spent_at) \
         VALUES ('{}', '{}', CURRENT_TIMESTAMP, NULL)",
        sha256_hex(&legacy),
        s.session_id
    ));
    app.sql(&format!(
        "UPDATE sessions SET refresh_hash = NULL, refresh_generation = 0, refresh_chain_start = 0 WHERE id = '{}'",
        s.session_id
    ));
    let (chained, _) = rotate(&app, &legacy).await;
    assert!(
        chained.starts_with(&format!("lkr_{}.1.", s.session_id)),
        "{chained}"
    );
    let (next, access) = rotate(&app, &chained).await;
    app.get("/api/v1/me", &access).await.ok(200);
    // The spent legacy token again: the theft signal, as before chains.
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": legacy}),
    )
    .await
    .problem(401, "unauthorized");
    app.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": next}),
    )
    .await
    .problem(401, "unauthorized");
    assert_eq!(reuse_revocations(&app, &s.session_id), 1);
}
