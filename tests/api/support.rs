//! `TestApp`: the real application in-process on a fresh database — a temp
//! SQLite file, or a fresh PostgreSQL database when
//! `LATCHKEY_TEST_DATABASE_URL` is set — with an injectable clock. (Over
//! 500 lines: the one harness every test module shares.)

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::http::Method;
use actix_web::test;
use diesel::{Connection, RunQueryDsl};
use latchkey::clock::Clock;
use latchkey::config::{Config, MailTarget};
use latchkey::crypto::seal::MasterKey;
use latchkey::crypto::totp;
use latchkey::delivery::{self, Round};
use latchkey::http::dto::{
    AuthenticatedResponse, EnrollmentResponse, LoginResponse, SignupResponse, UserResponse,
    VerifyEnrollmentResponse,
};
use latchkey::state::AppState;
use latchkey::store::DatabaseTarget;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::smtp::SmtpServer;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub state: AppState,
    pub clock: Clock,
    pub config: Config,
    pub master_key_b64: String,
    srv: Srv,
    pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

type Call =
    dyn Fn(Method, String, Option<String>, Option<Value>) -> Pin<Box<dyn Future<Output = Resp>>>;

/// The app of one state, initialised once and called many times (also
/// concurrently: `call` only borrows it).
#[derive(Clone)]
pub struct Srv(Rc<Call>);

impl Srv {
    pub async fn new(state: &AppState) -> Srv {
        let srv = Rc::new(test::init_service(latchkey::app::build(state.clone())).await);
        Srv(Rc::new(move |method, path, token, body| {
            let srv = srv.clone();
            Box::pin(async move {
                let req = build_request(method, &path, token.as_deref(), body).to_request();
                to_resp(test::call_service(&*srv, req).await).await
            })
        }))
    }

    pub fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> impl Future<Output = Resp> {
        (self.0)(method, path.to_string(), token.map(String::from), body)
    }
}

/// A response: status, headers and the body parsed as JSON (Null if empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The body as the API's own response type `T`. The body must be exactly
    /// `T`: serializing the value again gives the same JSON, so a field the
    /// DTO lacks, a missing one or another spelling fails the test.
    #[track_caller]
    pub fn json<T: DeserializeOwned + Serialize>(&self) -> T {
        let value: T = serde_json::from_value(self.body.clone()).unwrap_or_else(|e| {
            panic!(
                "not a {}: {e}; body: {}",
                std::any::type_name::<T>(),
                self.text
            )
        });
        assert_eq!(
            serde_json::to_value(&value).unwrap(),
            self.body,
            "the body is not exactly a {}",
            std::any::type_name::<T>()
        );
        value
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The `Retry-After` header in seconds.
    pub fn retry_after(&self) -> i64 {
        self.headers
            .get("retry-after")
            .expect("Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The `id` of a created or returned object.
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_string()
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Asserts a success status, returns self.
    #[track_caller]
    pub fn ok(self, status: u16) -> Self {
        assert!(status < 400, "ok() is for successes; use problem()");
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json answer with `status` and `code`, returns self.
    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(self.code(), code, "unexpected code; body: {}", self.text);
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "problem content type: {}",
            self.content_type()
        );
        self
    }
}

/// A signed-in user of a test.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub refresh: String,
    pub session_id: String,
    pub user_id: String,
    pub account_id: String,
}

impl Session {
    pub fn from_body(body: &Value) -> Session {
        assert_eq!(body["status"], "authenticated", "{body}");
        let tokens: AuthenticatedResponse =
            serde_json::from_value(body.clone()).expect("an authenticated answer");
        Session::from(tokens)
    }
}

impl From<AuthenticatedResponse> for Session {
    fn from(tokens: AuthenticatedResponse) -> Session {
        Session {
            token: tokens.access_token,
            refresh: tokens.refresh_token,
            session_id: tokens.session_id,
            user_id: tokens.user.id,
            account_id: String::new(),
        }
    }
}

pub fn pg_database(admin_url: &str) -> (String, String) {
    let name = format!("latchkey_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::PgConnection::establish(admin_url)
        .expect("LATCHKEY_TEST_DATABASE_URL must be reachable");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .expect("create test database");
    let base = match admin_url.rfind('/') {
        Some(i) if i > "postgres://".len() => &admin_url[..i],
        _ => admin_url,
    };
    (format!("{base}/{name}"), name)
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with(|_| {}).await
    }

    /// A test app whose configuration `adjust` may change first.
    pub async fn with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let (target, pg) = match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let (db_url, name) = pg_database(&url);
                (DatabaseTarget::Postgres(db_url), Some((url, name)))
            }
            _ => (DatabaseTarget::Sqlite(dir.path().join("test.db")), None),
        };
        let (key, master_key_b64) = MasterKey::generate();
        let mut config = Config::with_database(target, key);
        config.data_dir = dir.path().to_path_buf();
        config.mail = MailTarget::Files(dir.path().join("mail"));
        adjust(&mut config);
        let clock = Clock::default();
        let state = AppState::open(config.clone(), clock.clone()).expect("open test app");
        let srv = Srv::new(&state).await;
        TestApp {
            srv,
            state,
            clock,
            config,
            master_key_b64,
            pg,
            _dir: dir,
        }
    }

    /// A test app whose mail goes to a real SMTP server, started for it.
    pub async fn with_smtp(adjust: impl FnOnce(&mut Config)) -> (TestApp, SmtpServer) {
        let smtp = SmtpServer::start();
        let url = smtp.url();
        let app = TestApp::with(|c| {
            c.mail = MailTarget::Smtp(url);
            adjust(c);
        })
        .await;
        (app, smtp)
    }

    /// One round of this node's mail sender (what `latchkey serve` runs
    /// every second): due messages are claimed and handed over.
    pub async fn deliver(&self) -> Round {
        let transport = delivery::transport(&self.state).expect("mail transport");
        delivery::deliver_due(&self.state, &transport)
            .await
            .expect("a delivery round")
    }

    /// The `outbox` rows not yet sent nor given up.
    pub fn mail_pending(&self) -> i64 {
        self.count("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// On PostgreSQL: the server's URL (as given) and the test database's name.
    pub fn pg_admin(&self) -> Option<(&str, &str)> {
        self.pg
            .as_ref()
            .map(|(url, name)| (url.as_str(), name.as_str()))
    }

    /// Another server process ("node") on the same database and clock.
    pub fn node(&self) -> AppState {
        AppState::open(self.config.clone(), self.clock.clone()).expect("open second node")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.srv.call(method, path, token, body).await
    }

    /// The app, to send several requests at once.
    pub async fn service(&self) -> Srv {
        self.srv.clone()
    }

    /// Runs raw SQL (to forge a state a test needs, e.g. legacy data).
    pub fn sql(&self, sql: &str) {
        let mut conn = self.state.pool.get().unwrap();
        diesel::sql_query(sql).execute(&mut **conn).unwrap();
        // A hand edit bypasses the domain's change notices: what the node
        // cached must not outlive it (see `domain::principals`).
        self.state.principals.clear();
    }

    /// The `n` column of a `SELECT COUNT(*) AS n ...`.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.state.pool.get().unwrap();
        diesel::sql_query(sql)
            .get_result::<N>(&mut **conn)
            .unwrap()
            .n
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// The second login step with `code` (a TOTP code or recovery token).
    pub async fn second_step(
        &self,
        mfa_token: &(impl serde::Serialize + ?Sized),
        code: &(impl serde::Serialize + ?Sized),
    ) -> Resp {
        self.post(
            "/api/v1/sessions/mfa",
            None,
            json!({"mfa_token": mfa_token, "code": code}),
        )
        .await
    }

    /// Signs up a new account; returns (account id, administrator id).
    pub async fn signup(&self, email: &str) -> (String, String) {
        let r = self
            .post("/api/v1/accounts", None, json!({"account_name": format!("Acme {email}"), "email": email, "password": PASSWORD}))
            .await
            .ok(201)
            .json::<SignupResponse>();
        (r.account.id, r.user.id)
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Resp {
        self.post(
            "/api/v1/sessions",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Password login of a user without MFA.
    pub async fn login(&self, email: &str) -> Session {
        match self.login_raw(email, PASSWORD).await.ok(200).json() {
            LoginResponse::Authenticated(tokens) => Session::from(tokens),
            other => panic!("expected authenticated, got {other:?}"),
        }
    }

    /// A new account and its signed-in administrator.
    pub async fn signup_and_login(&self, email: &str) -> Session {
        let (account_id, _) = self.signup(email).await;
        let mut s = self.login(email).await;
        s.account_id = account_id;
        s
    }

    /// The code of the current step (plus `offset` steps) for a base32 secret.
    pub fn code(&self, secret_b32: &str, offset: i64) -> String {
        let secret = data_encoding::BASE32_NOPAD
            .decode(secret_b32.as_bytes())
            .unwrap();
        let step = totp::step_at(self.clock.now().timestamp());
        totp::code_for_step(&secret, step + offset)
    }

    /// Moves to the next TOTP step so a fresh code can be used.
    pub fn next_step(&self) {
        self.clock.advance(totp::STEP_SECONDS);
    }

    /// Enrolls TOTP with `token` (access or enrollment); returns
    /// (secret, recovery token, verify response).
    pub async fn enroll(
        &self,
        token: &str,
        password: Option<&str>,
    ) -> (String, String, VerifyEnrollmentResponse) {
        let body = match password {
            Some(p) => json!({"password": p}),
            None => json!({}),
        };
        let start = self
            .post("/api/v1/me/mfa/totp", Some(token), body)
            .await
            .ok(201);
        let secret = start.json::<EnrollmentResponse>().secret;
        let code = self.code(&secret, 0);
        let verify: VerifyEnrollmentResponse = self
            .post(
                "/api/v1/me/mfa/totp/verify",
                Some(token),
                json!({"code": code}),
            )
            .await
            .ok(200)
            .json();
        self.next_step();
        (secret, verify.recovery_token.clone(), verify)
    }

    /// Password then TOTP: an aal2 session of a user with MFA.
    pub async fn login_mfa(&self, email: &str, secret: &str) -> Session {
        let LoginResponse::MfaRequired(challenge) =
            self.login_raw(email, PASSWORD).await.ok(200).json()
        else {
            panic!("expected mfa_required");
        };
        let code = self.code(secret, 0);
        let tokens: AuthenticatedResponse = self
            .second_step(&challenge.mfa_token, &code)
            .await
            .ok(200)
            .json();
        self.next_step();
        Session::from(tokens)
    }

    /// Creates a user in the admin's account; returns the user id.
    pub async fn create_user(
        &self,
        admin: &Session,
        email: &str,
        role: &str,
        sub_account_id: Option<&str>,
    ) -> String {
        let r = self
            .post(
                "/api/v1/users",
                Some(&admin.token),
                json!({"email": email, "display_name": email, "role": role, "password": PASSWORD, "sub_account_id": sub_account_id}),
            )
            .await
            .ok(201);
        r.json::<UserResponse>().id
    }

    /// Every text value stored in a table, for at-rest scans.
    pub fn dump_table(&self, table: &str) -> String {
        use diesel::sql_types::Text;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            row: String,
        }
        let mut conn = self.state.pool.get().unwrap();
        let sql = if self.is_postgres() {
            format!("SELECT CAST(t.* AS TEXT) AS row FROM {table} t")
        } else {
            let cols: Vec<String> = {
                #[derive(diesel::QueryableByName)]
                struct Col {
                    #[diesel(sql_type = Text)]
                    name: String,
                }
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                    .load::<Col>(&mut **conn)
                    .unwrap()
                    .into_iter()
                    .map(|c| format!("COALESCE(CAST({} AS TEXT), '')", c.name))
                    .collect()
            };
            format!("SELECT {} AS row FROM {table}", cols.join(" || '|' || "))
        };
        diesel::sql_query(sql)
            .load::<Row>(&mut **conn)
            .unwrap()
            .into_iter()
            .map(|r| r.row)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One request against the app of `state`.
pub async fn call_on(
    state: &AppState,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let srv = test::init_service(latchkey::app::build(state.clone())).await;
    let req = build_request(method, path, token, body).to_request();
    to_resp(test::call_service(&srv, req).await).await
}

pub fn build_request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> test::TestRequest {
    let mut req = test::TestRequest::default()
        .method(method)
        .uri(path)
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .insert_header(("user-agent", "latchkey-tests/1.0"));
    if let Some(token) = token {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    if let Some(body) = body {
        req = req.set_json(body);
    }
    req
}

pub async fn to_resp<B: actix_web::body::MessageBody>(
    res: actix_web::dev::ServiceResponse<B>,
) -> Resp {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

impl TestApp {
    /// What must hold of the database after any test, whatever it did
    /// through the API: checked when the app is dropped (unless the test
    /// already failed). Returns the broken ones.
    fn broken_invariants(&self) -> Vec<String> {
        let mut broken = Vec::new();
        // A live session listing a second factor of Latchkey's belongs to
        // a user who has one now (disable and reset drop or end them).
        let n = self.count(
            "SELECT COUNT(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.revoked_at IS NULL AND u.mfa_enabled_at IS NULL
               AND (s.amr LIKE '% otp%' OR s.amr LIKE '% rec%' OR s.amr LIKE '% hwk%')",
        );
        if n > 0 {
            broken.push(format!(
                "{n} live session(s) list a second factor their user no longer has"
            ));
        }
        // Every account keeps an active user who may manage users and
        // roles (a built-in administrator or a custom role holding both).
        let n = self.count(
            "SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (
                SELECT 1 FROM users u LEFT JOIN roles r ON r.id = u.role
                WHERE u.account_id = a.id AND u.disabled = FALSE
                  AND (u.role = 'administrator'
                       OR (r.permissions LIKE '%users.manage%' AND r.permissions LIKE '%roles.manage%')))",
        );
        if n > 0 {
            broken.push(format!(
                "{n} account(s) without an active user who manages users and roles"
            ));
        }
        // No bearer secret is stored in clear: tokens are kept as hashes.
        for table in [
            "sessions",
            "login_challenges",
            "recovery_tokens",
            "refresh_tokens",
            "outbox",
            "invitations",
            "password_resets",
            "signup_requests",
        ] {
            let dump = self.dump_table(table);
            for prefix in [
                "lkr_", "lkm_", "lke_", "lks_", "lkl_", "lki_", "lkp_", "lkv_",
            ] {
                if dump.contains(prefix) {
                    broken.push(format!("{table} holds a {prefix} token in clear"));
                }
            }
        }
        broken
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let broken = if std::thread::panicking() {
            Vec::new()
        } else {
            self.broken_invariants()
        };
        if let Some((admin_url, name)) = &self.pg {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
        assert!(broken.is_empty(), "database invariants broken: {broken:?}");
    }
}

/// An administrator with MFA (an aal2 session) and their secret.
pub async fn mfa_admin(app: &TestApp, email: &str) -> (Session, String) {
    let s = app.signup_and_login(email).await;
    let (secret, _, _) = app.enroll(&s.token, None).await;
    let mut aal2 = app.login_mfa(email, &secret).await;
    aal2.account_id = s.account_id;
    (aal2, secret)
}

/// The `amr` claim of an access token (read without checking it: the
/// server's answer is what is under test).
pub fn amr_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["amr"].clone()
}
