//! Single sign-on end to end against a real OpenID provider: the certified
//! `oidc-provider` npm package (`tests/oidc-provider/`, its fixed client and
//! users), driven through its login form as a browser would, with
//! Latchkey's MFA policy on top. Needs Node.js; installs the provider's
//! packages (`npm ci`) on first use.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::sso::{edit_provider, location_query, APP_CALLBACK};
use crate::support::*;

/// Latchkey's callback as `TestApp`'s configuration names it.
const LATCHKEY_CALLBACK: &str = "http://127.0.0.1:8080/api/v1/sso/callback";

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// `npm ci` once per checkout (tests of this binary share it).
fn ensure_installed() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = provider_dir();
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js 20) is needed for the SSO end-to-end tests");
    assert!(status.success(), "npm ci in tests/oidc-provider failed");
}

/// The provider process; it exits when its stdin closes (on drop, or if
/// the test process dies).
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    fn start() -> Provider {
        ensure_installed();
        let mut child = Command::new("node")
            .arg(provider_dir().join("server.mjs"))
            .args(["--port", "0", "--redirect-uri", LATCHKEY_CALLBACK])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (Node.js 20) is needed for the SSO end-to-end tests");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Keep reading what it prints later (a closed pipe would kill it).
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("oidc-provider did not start: {line:?}"))
            .to_string();
        Provider { child, issuer }
    }

    /// Signs `login` in at the provider, from the authorization URL that
    /// Latchkey redirected to, as a browser would: the login form, then
    /// redirects until the provider sends the browser to Latchkey's
    /// callback. Returns that callback's path and query.
    fn sign_in(&self, authorization_url: &str, login: &str) -> String {
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        let mut cookies: HashMap<String, String> = HashMap::new();
        let mut url = authorization_url.to_string();
        let mut form_posted = false;
        for _ in 0..10 {
            if url.starts_with(LATCHKEY_CALLBACK) {
                return url["http://127.0.0.1:8080".len()..].to_string();
            }
            let jar = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let response = if url.contains("/interaction/") && !form_posted {
                // The login page: check it, then post its form.
                let page = agent.get(&url).set("cookie", &jar).call().unwrap();
                collect(&mut cookies, &page);
                let html = page.into_string().unwrap();
                assert!(html.contains("name=\"login\""), "login form: {html}");
                form_posted = true;
                let jar = cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                agent
                    .post(&format!("{}/login", url.trim_end_matches('/')))
                    .set("cookie", &jar)
                    .send_form(&[("login", login), ("password", "password")])
                    .unwrap()
            } else {
                agent.get(&url).set("cookie", &jar).call().unwrap()
            };
            collect(&mut cookies, &response);
            assert!(
                (300..400).contains(&response.status()),
                "{url}: {} {}",
                response.status(),
                response.into_string().unwrap_or_default()
            );
            let location = response.header("location").unwrap().to_string();
            url = if location.starts_with('/') {
                format!("{}{location}", self.issuer)
            } else {
                location
            };
        }
        panic!("the provider never sent the browser back");
    }
}

fn collect(cookies: &mut HashMap<String, String>, response: &ureq::Response) {
    for header in response.all("set-cookie") {
        if let Some((name, rest)) = header.split_once('=') {
            let value = rest.split(';').next().unwrap_or("");
            cookies.insert(name.trim().to_string(), value.to_string());
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SSO sign-in of `login` with `provider_id`: what the web app's
/// callback page gets (`login_code` or `error`).
async fn sso(
    app: &TestApp,
    idp: &Provider,
    provider_id: &str,
    login: &str,
) -> HashMap<String, String> {
    let path = format!(
        "/api/v1/sso/{provider_id}/authorize?redirect_uri={}&state=web-state",
        openidconnect::url::form_urlencoded::byte_serialize(APP_CALLBACK.as_bytes())
            .collect::<String>()
    );
    let r = app.call(Method::GET, &path, None, None).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let authorization = r.headers.get("location").unwrap().to_str().unwrap();
    assert!(authorization.starts_with(&idp.issuer), "{authorization}");
    let callback = idp.sign_in(authorization, login);
    let r = app.call(Method::GET, &callback, None, None).await;
    let (base, query) = location_query(&r);
    assert_eq!(base, APP_CALLBACK);
    assert_eq!(query["state"], "web-state");
    query
}

async fn login_code(app: &TestApp, query: &HashMap<String, String>) -> Value {
    let code = query
        .get("login_code")
        .unwrap_or_else(|| panic!("no login code: {query:?}"));
    let r = app
        .post("/api/v1/sessions/sso", None, json!({"login_code": code}))
        .await
        .ok(200)
        .body;
    if r["status"] != "link_required" {
        return r;
    }
    // The first sign-in of a user with a password: they prove it once.
    app.post(
        "/api/v1/sessions/sso/link",
        None,
        json!({"link_token": r["link_token"], "password": PASSWORD}),
    )
    .await
    .ok(200)
    .body
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[actix_web::test]
async fn sso_through_a_real_openid_provider_with_mfa_on_top() {
    let idp = Provider::start();
    let app = TestApp::new().await;
    let (admin, _) = mfa_admin(&app, "admin@corp.example").await;
    for email in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        app.create_user(&admin, email, "editor", None).await;
    }
    let provider = app
        .post(
            "/api/v1/identity-providers",
            Some(&admin.token),
            json!({"name": "Corp", "issuer": idp.issuer, "client_id": "latchkey",
                   "client_secret": "latchkey-test-secret", "allowed_redirect_uris": [APP_CALLBACK]}),
        )
        .await
        .ok(201)
        .id();

    // No policy: signed in at aal1, amr ["sso"].
    let alice = login_code(&app, &sso(&app, &idp, &provider, "alice@example.com").await).await;
    assert_eq!(alice["status"], "authenticated", "{alice}");
    let token = claims(alice["access_token"].as_str().unwrap());
    assert_eq!(
        (token["amr"].clone(), token["aal"].clone()),
        (json!(["sso"]), json!("aal1"))
    );
    app.get("/api/v1/me", alice["access_token"].as_str().unwrap())
        .await
        .ok(200);
    // Alice has a password: her first sign-in proved it once (the link is
    // audited); the second goes straight through, linking nothing again.
    let again = login_code(&app, &sso(&app, &idp, &provider, "alice@example.com").await).await;
    assert_eq!(again["status"], "authenticated");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.identity_linked' AND details LIKE '%sub-alice%'"),
        1
    );

    // The provider does not vouch for Carol's email.
    let carol = sso(&app, &idp, &provider, "carol@example.com").await;
    assert_eq!(carol["error"], "email_not_verified");
    // Dave has no user here, and JIT is off.
    let dave = sso(&app, &idp, &provider, "dave@example.com").await;
    assert_eq!(dave["error"], "user_not_found");

    // Bob has Latchkey MFA: the provider's MFA is not trusted, so he is
    // asked for his code; then aal2.
    let bob = app.login("bob@example.com").await;
    let (secret, _, _) = app.enroll(&bob.token, None).await;
    let r = login_code(&app, &sso(&app, &idp, &provider, "bob@example.com").await).await;
    assert_eq!(r["status"], "mfa_required", "{r}");
    let r = app
        .post(
            "/api/v1/sessions/mfa",
            None,
            json!({"mfa_token": r["mfa_token"], "code": app.code(&secret, 0)}),
        )
        .await
        .ok(200);
    let token = claims(r.body["access_token"].as_str().unwrap());
    assert_eq!(
        (token["amr"].clone(), token["aal"].clone()),
        (json!(["sso", "otp"]), json!("aal2"))
    );

    // Trusted for MFA: Bob's ID token says amr mfa, so aal2 at once.
    edit_provider(
        &app,
        &admin.token,
        &provider,
        json!({"trust_idp_mfa": true}),
    )
    .await;
    let r = login_code(&app, &sso(&app, &idp, &provider, "bob@example.com").await).await;
    assert_eq!(r["status"], "authenticated", "{r}");
    let token = claims(r["access_token"].as_str().unwrap());
    assert_eq!(
        (token["amr"].clone(), token["aal"].clone()),
        (json!(["sso", "mfa"]), json!("aal2"))
    );

    // Require MFA for the account: Alice (no MFA; her provider login was a
    // password only) must enroll at this login.
    app.patch(
        "/api/v1/account",
        &admin.token,
        json!({"require_mfa": true}),
    )
    .await
    .ok(200);
    let r = login_code(&app, &sso(&app, &idp, &provider, "alice@example.com").await).await;
    assert_eq!(r["status"], "mfa_enrollment_required", "{r}");

    let events = app
        .count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_succeeded'");
    assert_eq!(events, 5, "alice three times, bob twice");
    let failed =
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE event_type = 'sso.login_failed'");
    assert_eq!(failed, 2);
}
