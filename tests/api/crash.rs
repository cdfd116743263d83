//! SIGKILL in the middle of a sign-up/login/enroll load on SQLite: after a
//! restart the database is intact and every token behaves as before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::{Connection, RunQueryDsl};
use serde_json::json;

use crate::process::{code_now, Server};
use crate::support::PASSWORD;

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[test]
fn sigkill_under_load_leaves_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let url = db.to_string_lossy().to_string();
    let (_, key) = latchkey::crypto::seal::MasterKey::generate();
    let mut server = Server::spawn(&url, &key, dir.path());
    server.wait_ready();
    let server = Arc::new(Mutex::new(server));
    let base = server.lock().unwrap().base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    // (access token, refresh token) pairs issued before the kill.
    let issued = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, issued, base) = (stop.clone(), issued.clone(), base.clone());
            std::thread::spawn(move || {
                let client = |method: &str,
                              path: &str,
                              token: Option<&str>,
                              body: serde_json::Value|
                 -> Option<(u16, serde_json::Value)> {
                    let mut req = ureq::request(method, &format!("{base}{path}"))
                        .timeout(Duration::from_secs(5));
                    if let Some(t) = token {
                        req = req.set("authorization", &format!("Bearer {t}"));
                    }
                    match req.send_json(body) {
                        Ok(r) => Some((r.status(), r.into_json().unwrap_or_default())),
                        Err(ureq::Error::Status(s, r)) => {
                            Some((s, r.into_json().unwrap_or_default()))
                        }
                        Err(_) => None,
                    }
                };
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let email = format!("w{w}-{i}@example.com");
                    let Some((201, _)) = client(
                        "POST",
                        "/api/v1/accounts",
                        None,
                        json!({"account_name": email, "email": email, "password": PASSWORD}),
                    ) else {
                        continue;
                    };
                    let Some((200, s)) = client(
                        "POST",
                        "/api/v1/sessions",
                        None,
                        json!({"email": email, "password": PASSWORD}),
                    ) else {
                        continue;
                    };
                    let token = s["access_token"].as_str().unwrap_or_default().to_string();
                    let slot = {
                        let mut issued = issued.lock().unwrap();
                        issued.push((
                            token.clone(),
                            s["refresh_token"].as_str().unwrap_or_default().to_string(),
                        ));
                        issued.len() - 1
                    };
                    let Some((201, e)) =
                        client("POST", "/api/v1/me/mfa/totp", Some(&token), json!({}))
                    else {
                        continue;
                    };
                    let secret = e["secret"].as_str().unwrap_or_default().to_string();
                    // A verified factor restarts the session's refresh chain:
                    // from then on its tokens are the ones verify handed out.
                    if let Some((200, v)) = client(
                        "POST",
                        "/api/v1/me/mfa/totp/verify",
                        Some(&token),
                        json!({"code": code_now(&secret, 0)}),
                    ) {
                        issued.lock().unwrap()[slot] = (
                            v["session"]["access_token"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                            v["session"]["refresh_token"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        );
                    }
                }
            })
        })
        .collect();
    // Let the load run for 2.5 s and until a few logins have gone through
    // (a busy machine is slower; the kill must still land mid-load).
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2500)
        || (issued.lock().unwrap().len() < 4 && started.elapsed() < Duration::from_secs(30))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    server.lock().unwrap().kill(); // SIGKILL mid-load
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let issued = issued.lock().unwrap().clone();
    assert!(issued.len() >= 4, "the load ran ({} logins)", issued.len());

    // The file passes integrity_check, and no account lacks its administrator.
    {
        let mut conn = diesel::SqliteConnection::establish(&url).unwrap();
        let check: Vec<One> =
            diesel::sql_query("SELECT integrity_check AS value FROM pragma_integrity_check")
                .load(&mut conn)
                .unwrap();
        assert_eq!(
            check.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
            ["ok"]
        );
        let orphans: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.account_id = a.id AND u.role = 'administrator')").get_result(&mut conn).unwrap();
        assert_eq!(orphans.n, 0, "half-created accounts");
        let half_enabled: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM users u WHERE (u.mfa_enabled_at IS NULL) <> NOT EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.status = 'active')").get_result(&mut conn).unwrap();
        assert_eq!(half_enabled.n, 0, "MFA flag and active secret disagree");
        let keys: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM signing_keys")
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(keys.n, 1);
    }

    // Restarted, every token issued before the kill still works.
    let mut restarted = Server::spawn(&url, &key, dir.path());
    restarted.wait_ready();
    for (access, refresh) in issued.iter().take(10) {
        assert_eq!(
            restarted.call("GET", "/api/v1/me", Some(access), None).0,
            200
        );
        assert_eq!(
            restarted
                .post(
                    "/api/v1/sessions/refresh",
                    None,
                    json!({"refresh_token": refresh})
                )
                .0,
            200
        );
        assert_eq!(
            restarted
                .post(
                    "/api/v1/sessions/refresh",
                    None,
                    json!({"refresh_token": refresh})
                )
                .0,
            401,
            "spent"
        );
    }
}
