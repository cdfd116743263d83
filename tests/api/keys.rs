//! `latchkey keys rotate` against a running `latchkey serve` process (a
//! fresh SQLite file): the rotation reaches the node without a restart and
//! without a token naming the new key; a token of the previous key stays
//! valid through its key's grace, and no longer.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::process::Server;
use crate::support::PASSWORD;

/// Access-token lifetime of the test server: long enough for the old token
/// to outlive the test, so only its key's retirement can refuse it.
const ACCESS_TTL: i64 = 60;
/// The grace of a retired key: the token lifetime plus
/// `domain::keys::RETIRED_KEY_SLACK`.
const GRACE: i64 = ACCESS_TTL + 60;

/// The `kid` of a JWT's header.
fn kid_of(token: &str) -> String {
    part(token, 0)["kid"].as_str().unwrap().to_string()
}

/// Header (0) or claims (1) of a JWT.
fn part(token: &str, i: usize) -> Value {
    let text = token.split('.').nth(i).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn published_kids(server: &Server) -> Vec<String> {
    let (status, jwks) = server.call("GET", "/.well-known/jwks.json", None, None);
    assert_eq!(status, 200);
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    kids.sort();
    kids
}

fn login(server: &Server) -> Value {
    let (status, body) = server.post(
        "/api/v1/sessions",
        None,
        json!({"email": "ann@example.com", "password": PASSWORD}),
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn me(server: &Server, token: &str) -> u16 {
    server.call("GET", "/api/v1/me", Some(token), None).0
}

/// Polls `done` until it holds or `limit` has passed; how long it took.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn key_rotation_reaches_a_running_node_and_retired_keys_stop_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("keys.db").to_string_lossy().to_string();
    let (_, master_key) = latchkey::crypto::seal::MasterKey::generate();
    let mut server = Server::spawn_with_env(
        &url,
        &master_key,
        dir.path(),
        &[
            ("LATCHKEY_ACCESS_TTL_SECONDS", "60"),
            ("LATCHKEY_KEY_REFRESH_SECONDS", "1"),
        ],
    );
    server.wait_ready();
    let (status, _) = server.post(
        "/api/v1/accounts",
        None,
        json!({"account_name": "Acme", "email": "ann@example.com", "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let first = login(&server);
    assert_eq!(first["expires_in"], ACCESS_TTL);
    let old_token = first["access_token"].as_str().unwrap().to_string();
    let claims = part(&old_token, 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        ACCESS_TTL
    );
    let old_kid = kid_of(&old_token);
    assert_eq!(published_kids(&server), std::slice::from_ref(&old_kid));

    // The operator rotates from another process, on the same database.
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &url)
        .env("LATCHKEY_MASTER_KEY", &master_key)
        .env("LATCHKEY_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let new_kid = stdout
        .strip_prefix("new signing key ")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("unexpected output: {stdout}"))
        .to_string();
    assert_ne!(new_kid, old_kid);

    // Within 30 s (the refresh is every second here) the node publishes
    // both keys and signs with the new one. Nothing in between showed it a
    // token of the new key, which would have made it reload at once.
    let mut both = vec![old_kid.clone(), new_kid.clone()];
    both.sort();
    wait_until(Duration::from_secs(30), || published_kids(&server) == both)
        .expect("the rotation did not reach the running node within 30 s");
    let new_token = login(&server)["access_token"].as_str().unwrap().to_string();
    assert_eq!(kid_of(&new_token), new_kid);
    assert_eq!(me(&server, &new_token), 200);
    // The token of the retired key stays valid.
    assert_eq!(me(&server, &old_token), 200);

    // The test cannot wait out a grace of two minutes: it moves the old
    // key's retirement back in the database instead, to 6 s short of the
    // grace. After two refreshes the key is still usable...
    let pool = latchkey::store::connect(&latchkey::store::DatabaseTarget::parse(&url), 1).unwrap();
    let retire_at = |retired: chrono::NaiveDateTime| {
        use latchkey::store::schema::signing_keys;
        let mut conn = pool.get().unwrap();
        let n = diesel::update(signing_keys::table.find(&old_kid))
            .set(signing_keys::retired_at.eq(Some(retired)))
            .execute(&mut **conn)
            .unwrap();
        assert_eq!(n, 1);
    };
    let shifted = Instant::now();
    retire_at(chrono::Utc::now().naive_utc() - chrono::Duration::seconds(GRACE - 6));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        me(&server, &old_token),
        200,
        "dropped before its grace ended"
    );
    assert_eq!(published_kids(&server), both);

    // ...and the first refresh after the grace drops it, from verification
    // and from the JWKS, while the token itself has not expired yet.
    wait_until(Duration::from_secs(30), || {
        published_kids(&server) == [new_kid.clone()]
    })
    .expect("the retired key is still published after its grace");
    assert!(shifted.elapsed() >= Duration::from_secs(6));
    assert_eq!(me(&server, &old_token), 401);
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(me(&server, &new_token), 200);
    server.kill();
}
