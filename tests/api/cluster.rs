//! Two `latchkey serve` processes on one PostgreSQL database (run when
//! `LATCHKEY_TEST_DATABASE_URL` is set, as `.ci/run` does).

use serde_json::json;

use crate::process::{code_now, Server};
use crate::support::PASSWORD;

fn fresh_pg_database() -> Option<(String, String, String)> {
    let admin = std::env::var("LATCHKEY_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    use diesel::{Connection, RunQueryDsl};
    let name = format!("latchkey_cluster_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::PgConnection::establish(&admin).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .unwrap();
    let base = &admin[..admin.rfind('/').unwrap()];
    Some((format!("{base}/{name}"), admin.clone(), name))
}

fn drop_database(admin: &str, name: &str) {
    use diesel::{Connection, RunQueryDsl};
    if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

/// Races `n` copies of a request across both nodes; returns the statuses.
fn race(nodes: [&Server; 2], n: usize, path: &str, bodies: Vec<serde_json::Value>) -> Vec<u16> {
    assert_eq!(bodies.len(), n);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let node = nodes[i % 2];
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    node.post(path, None, body).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Eight logins, alternating nodes, then all eight challenges answered at
/// once with the same `code`, again alternating nodes.
fn race_second_step(nodes: [&Server; 2], login: &serde_json::Value, code: &str) -> Vec<u16> {
    let tokens: Vec<serde_json::Value> = (0..8)
        .map(|i| nodes[i % 2].post("/api/v1/sessions", None, login.clone()).1["mfa_token"].clone())
        .collect();
    let bodies = tokens
        .iter()
        .map(|t| json!({"mfa_token": t, "code": code}))
        .collect();
    race(nodes, 8, "/api/v1/sessions/mfa", bodies)
}

/// `GET /api/v1/me` with `token` on `node` answers 200 until it answers 401,
/// which must happen within a second (the contract's bound for a change
/// made on another node).
fn refused_within_a_second(node: &Server, token: &str) {
    let start = std::time::Instant::now();
    loop {
        let status = node.call("GET", "/api/v1/me", Some(token), None).0;
        if status == 401 {
            return;
        }
        assert_eq!(status, 200);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still accepted {:?} after the change",
            start.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn two_nodes_share_one_database() {
    let Some((url, admin, name)) = fresh_pg_database() else {
        eprintln!("two_nodes_share_one_database: LATCHKEY_TEST_DATABASE_URL not set; skipped (the PostgreSQL run of .ci/run covers it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = latchkey::crypto::seal::MasterKey::generate();
    // Both start at the same moment on an empty database: migrations and the
    // first signing key must not race.
    let mut a = Server::spawn(&url, &key, dir.path());
    let mut b = Server::spawn(&url, &key, dir.path());
    a.wait_ready();
    b.wait_ready();
    let (_, jwks_a) = a.call("GET", "/.well-known/jwks.json", None, None);
    let (_, jwks_b) = b.call("GET", "/.well-known/jwks.json", None, None);
    assert_eq!(
        jwks_a["keys"].as_array().unwrap().len(),
        1,
        "one signing key, created once"
    );
    assert_eq!(jwks_a, jwks_b);

    // Sign-up on A, MFA enrollment on B.
    let (status, _) = a.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "Acme", "email": "ann@example.com", "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let login = json!({"email": "ann@example.com", "password": PASSWORD});
    let (_, s) = a.post("/api/v1/sessions", None, login.clone());
    let token = s["access_token"].as_str().unwrap().to_string();
    let (status, enroll) = b.post("/api/v1/me/mfa/totp", Some(&token), json!({}));
    assert_eq!(status, 201);
    let secret = enroll["secret"].as_str().unwrap().to_string();
    let (status, verified) = a.post(
        "/api/v1/me/mfa/totp/verify",
        Some(&token),
        json!({"code": code_now(&secret, 0)}),
    );
    assert_eq!(status, 200, "{verified}");
    let recovery = verified["recovery_token"].as_str().unwrap().to_string();

    // A login started on node A completes on node B.
    let (_, c) = a.post("/api/v1/sessions", None, login.clone());
    assert_eq!(c["status"], "mfa_required");
    let (status, done) = b.post(
        "/api/v1/sessions/mfa",
        None,
        json!({"mfa_token": c["mfa_token"], "code": recovery}),
    );
    assert_eq!(status, 200, "{done}");
    let refresh = done["refresh_token"].as_str().unwrap().to_string();
    let aal2 = done["access_token"].as_str().unwrap().to_string();

    // A refresh token spent on A is refused on B (and, being a reuse, ends
    // the session on both).
    let (status, _) = a.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": refresh}),
    );
    assert_eq!(status, 200);
    let (status, _) = b.post(
        "/api/v1/sessions/refresh",
        None,
        json!({"refresh_token": refresh}),
    );
    assert_eq!(status, 401);
    assert_eq!(a.call("GET", "/api/v1/me", Some(&aal2), None).0, 401);

    // The same recovery token raced across both nodes is used once.
    let s2 = {
        let (_, c) = b.post("/api/v1/sessions", None, login.clone());
        let (status, d) = a.post(
            "/api/v1/sessions/mfa",
            None,
            json!({"mfa_token": c["mfa_token"], "code": code_now(&secret, 1)}),
        );
        assert_eq!(status, 200, "{d}");
        d["access_token"].as_str().unwrap().to_string()
    };
    let (status, r) = b.post(
        "/api/v1/me/mfa/recovery-token",
        Some(&s2),
        json!({"password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let recovery = r["recovery_token"].as_str().unwrap().to_string();
    let statuses = race_second_step([&a, &b], &login, &recovery);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );

    // The same TOTP code raced across both nodes wins once. The +1 step was
    // used above, so wait for a step no login has consumed yet.
    let step_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 30
    };
    let first = step_now();
    while step_now() < first + 1 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let code = code_now(&secret, 1);
    let statuses = race_second_step([&a, &b], &login, &code);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );

    // The password lockout counts failures from both nodes together.
    let wrong = json!({"email": "ann@example.com", "password": "wrong password!!"});
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(node.post("/api/v1/sessions", None, wrong.clone()).0, 401);
    }
    assert_eq!(b.post("/api/v1/sessions", None, login.clone()).0, 429);
    assert_eq!(a.post("/api/v1/sessions", None, login).0, 429);

    // What one node changes, the other honours within a second although it
    // holds the principal in its cache (asked twice: the second answer is
    // the cached one). A user disabled on B, signed in on A:
    let (status, bob) = b.post(
        "/api/v1/users",
        Some(&s2),
        json!({"email": "bob@example.com", "display_name": "Bob", "role": "editor", "password": PASSWORD}),
    );
    assert_eq!(status, 201, "{bob}");
    let bob_login = json!({"email": "bob@example.com", "password": PASSWORD});
    let (_, bob_session) = a.post("/api/v1/sessions", None, bob_login);
    let bob_token = bob_session["access_token"].as_str().unwrap().to_string();
    for _ in 0..2 {
        assert_eq!(a.call("GET", "/api/v1/me", Some(&bob_token), None).0, 200);
    }
    let path = format!("/api/v1/users/{}", bob["id"].as_str().unwrap());
    let (status, _) = b.call("PATCH", &path, Some(&s2), Some(json!({"disabled": true})));
    assert_eq!(status, 200);
    refused_within_a_second(&a, &bob_token);

    // A session revoked on B, cached on A.
    for _ in 0..2 {
        assert_eq!(a.call("GET", "/api/v1/me", Some(&s2), None).0, 200);
    }
    assert_eq!(
        b.call("DELETE", "/api/v1/sessions/current", Some(&s2), None)
            .0,
        204
    );
    refused_within_a_second(&a, &s2);

    a.kill();
    b.kill();
    drop_database(&admin, &name);
}
