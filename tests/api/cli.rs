//! The operator CLI: `create-account` and the break-glass `reset-mfa`.

use serde_json::Value;

use crate::support::{TestApp, PASSWORD};

/// The CLI succeeded; else its exit status (a signal shows there) and both
/// outputs.
fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let url = match &app.config.database {
        latchkey::store::DatabaseTarget::Sqlite(p) => p.to_string_lossy().to_string(),
        latchkey::store::DatabaseTarget::Postgres(u) => u.clone(),
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("LATCHKEY_DATA_DIR", &app.config.data_dir)
        .env("LATCHKEY_MASTER_KEY", app_master_key(app))
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn app_master_key(app: &TestApp) -> String {
    app.master_key_b64.clone()
}

#[actix_web::test]
async fn operator_cli_creates_accounts_and_resets_a_sole_administrators_mfa() {
    let app = TestApp::new().await;
    let out = run_cli(
        &app,
        &[
            "create-account",
            "--name",
            "Solo Ltd",
            "--email",
            "solo@example.com",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_success(&out);
    let s = app.login("solo@example.com").await;
    let (_, _, _) = app.enroll(&s.token, None).await;
    let r = app.login_raw("solo@example.com", PASSWORD).await.ok(200);
    assert_eq!(r.body["status"], "mfa_required");
    // Phone and recovery token lost: the operator resets. The server has
    // the session's principal cached; the CLI is another process, so the
    // server honours the reset within a second.
    crate::principals::cached(&app, &s.token).await;
    let out = run_cli(&app, &["reset-mfa", "--email", "Solo@Example.com"], "");
    assert_success(&out);
    crate::principals::refused_within_a_second(&app, &s.token).await;
    let s = app.login("solo@example.com").await;
    let events = app
        .get("/api/v1/audit-events?type=mfa.reset", &s.token)
        .await
        .ok(200);
    assert_eq!(events.body["total"], 1);
    assert_eq!(events.body["items"][0]["actor_user_id"], Value::Null);
    assert_eq!(events.body["items"][0]["details"]["by"], "operator");
    let out = run_cli(&app, &["reset-mfa", "--email", "nobody@example.com"], "");
    assert!(!out.status.success());
    // Migrations are already applied; `migrate` is idempotent.
    let out = run_cli(&app, &["migrate"], "");
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("0 migration(s) applied"));
    // `keys rotate`: a new signing key; the running node keeps accepting the
    // tokens it issued and picks the new key up from the database.
    let old_kid = app.state.keys.signing_kid();
    let out = run_cli(&app, &["keys", "rotate"], "");
    assert_success(&out);
    app.get("/api/v1/me", &s.token).await.ok(200);
    let restarted = app.node();
    assert_ne!(restarted.keys.signing_kid(), old_kid);
    let kids = restarted
        .keys
        .jwks()
        .into_iter()
        .map(|k| k.kid)
        .collect::<Vec<_>>();
    assert!(kids.contains(&old_kid) && kids.len() == 2, "{kids:?}");
    let out = run_cli(
        &app,
        &["create-account", "--name", "X", "--email", "x@example.com"],
        "short\n",
    );
    assert!(!out.status.success(), "short passwords are refused");
}
