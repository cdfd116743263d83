//! One [`Config`], read from flags and environment variables (every flag has
//! its `LATCHKEY_*` variable) and validated once at start.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::crypto::seal::MasterKey;
use crate::store::DatabaseTarget;

/// Settings shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Listen address.
    #[arg(
        long,
        env = "LATCHKEY_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,
    /// `postgres://...` for PostgreSQL; a path or `sqlite://PATH` for SQLite
    /// (default: `<data dir>/latchkey.db`).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory of the SQLite file and of a generated master key.
    #[arg(
        long,
        env = "LATCHKEY_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Base64 of 32 bytes that encrypts secrets at rest (same on every node).
    #[arg(
        long,
        env = "LATCHKEY_MASTER_KEY",
        global = true,
        hide_env_values = true
    )]
    pub master_key: Option<String>,
    /// Issuer shown in authenticator apps and `iss` of tokens.
    #[arg(
        long,
        env = "LATCHKEY_ISSUER",
        default_value = "Latchkey",
        global = true
    )]
    pub issuer: String,
    /// `aud` of access tokens.
    #[arg(
        long,
        env = "LATCHKEY_AUDIENCE",
        default_value = "latchkey",
        global = true
    )]
    pub audience: String,
    /// `open` or `closed`: whether `POST /api/v1/accounts` is public.
    #[arg(long, env = "LATCHKEY_SIGNUP", default_value = "open", global = true)]
    pub signup: String,
    /// Comma-separated origins allowed for browser SPAs.
    #[arg(long, env = "LATCHKEY_CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,
    /// Requests per minute per client IP on unauthenticated routes (0 = off).
    #[arg(
        long,
        env = "LATCHKEY_IP_RATE_LIMIT",
        default_value_t = 120,
        global = true
    )]
    pub ip_rate_limit: u32,
    /// Comma-separated proxy addresses whose `X-Forwarded-For` is believed.
    #[arg(
        long,
        env = "LATCHKEY_TRUSTED_PROXIES",
        default_value = "",
        global = true
    )]
    pub trusted_proxies: String,
    /// Minutes of inactivity after which a session ends.
    #[arg(
        long,
        env = "LATCHKEY_SESSION_IDLE_MINUTES",
        default_value_t = 30,
        global = true
    )]
    pub session_idle_minutes: u64,
    /// Hours after sign-in at which a session ends regardless of activity.
    #[arg(
        long,
        env = "LATCHKEY_SESSION_MAX_HOURS",
        default_value_t = 12,
        global = true
    )]
    pub session_max_hours: u64,
    /// Database connections per process (default 32 on SQLite, where more
    /// waiting writers make larger group commits, and 16 on PostgreSQL).
    #[arg(long, env = "LATCHKEY_DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<u32>,
    /// Days an audit event is kept; older ones are purged.
    #[arg(
        long,
        env = "LATCHKEY_AUDIT_RETENTION_DAYS",
        default_value_t = 400,
        global = true
    )]
    pub audit_retention_days: u64,
    /// Lifetime of access tokens, in seconds.
    #[arg(
        long,
        env = "LATCHKEY_ACCESS_TTL_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub access_ttl_seconds: u64,
    /// Seconds between two readings of the signing keys by a running node
    /// (how fast `keys rotate` reaches it).
    #[arg(
        long,
        env = "LATCHKEY_KEY_REFRESH_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub key_refresh_seconds: u64,
    /// The address clients and identity providers reach this service at
    /// (the base of the SSO callback URL), e.g. `https://auth.example.com`;
    /// default `http://<bind>`.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// A build of the web app to serve at `/` (default: `web/dist` when it
    /// exists), so the whole product runs on one origin.
    #[arg(long, env = "LATCHKEY_WEB_DIR", global = true)]
    pub web_dir: Option<PathBuf>,
    /// Seconds a request to an identity provider may take.
    #[arg(
        long,
        env = "LATCHKEY_SSO_HTTP_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub sso_http_timeout_seconds: u64,
    /// Where mail goes: `smtp://[user:pass@]host:port` (STARTTLS when
    /// offered; `?tls=required` insists) or `smtps://` (implicit TLS).
    /// Unset: each message is written under `<data dir>/mail/` and logged.
    #[arg(long, env = "LATCHKEY_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// The sender of every message.
    #[arg(
        long,
        env = "LATCHKEY_MAIL_FROM",
        default_value = "Latchkey <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// The web app's base URL, for links in mail (default: the public URL,
    /// where `latchkey serve` serves the web app).
    #[arg(long, env = "LATCHKEY_APP_URL", global = true)]
    pub app_url: Option<String>,
    /// Seconds a claimed outgoing message is left to its sender before
    /// another sender may take it again (after a crash mid-send).
    #[arg(
        long,
        env = "LATCHKEY_MAIL_LEASE_SECONDS",
        default_value_t = 120,
        global = true
    )]
    pub mail_lease_seconds: u64,
    /// The WebAuthn relying party id (a domain; default: the host of the
    /// public URL). Passkeys are bound to it.
    #[arg(long, env = "LATCHKEY_WEBAUTHN_RP_ID", global = true)]
    pub webauthn_rp_id: Option<String>,
    /// Origins allowed to use passkeys, comma-separated (default: the
    /// public URL and the app URL).
    #[arg(
        long,
        env = "LATCHKEY_WEBAUTHN_ORIGINS",
        default_value = "",
        global = true
    )]
    pub webauthn_origins: String,
}

/// A base URL setting (`name`): http(s), no query or fragment, without a
/// trailing slash; `None` when unset or empty.
fn base_url(name: &str, value: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(url) = value.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let url = url.trim_end_matches('/');
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(['?', '#'])
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if !valid {
        return Err(ConfigError(format!(
            "{name} must be an http(s) URL without query or fragment"
        )));
    }
    Ok(Some(url.to_string()))
}

/// The host of an http(s) URL (the default WebAuthn relying party id).
fn host_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    host.to_ascii_lowercase()
}

/// An IP address as a URL spells it (`[::1]` for IPv6).
fn ip_in_url(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// How accounts are created with `POST /api/v1/accounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupMode {
    /// Anyone, at once (201).
    Open,
    /// Nobody (403).
    Closed,
    /// Anyone, once the email's owner follows a link (202).
    Verify,
}

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTarget {
    /// An SMTP relay URL as lettre reads it (`tls=opportunistic` added to a
    /// plain `smtp://` URL without `tls`).
    Smtp(String),
    /// `.eml` files in this directory (the embedded default).
    Files(PathBuf),
}

/// The SMTP URL as lettre takes it: `smtp://` without `tls` means STARTTLS
/// when the server offers it (API.md), which lettre spells `opportunistic`.
fn smtp_target(url: &str) -> Result<MailTarget, ConfigError> {
    let url = url.trim();
    let plain = url.starts_with("smtp://");
    if !plain && !url.starts_with("smtps://") {
        return Err(ConfigError(
            "LATCHKEY_SMTP_URL must start with smtp:// or smtps://".into(),
        ));
    }
    let url = if plain && !url.contains("tls=") {
        // With credentials, STARTTLS is insisted on: a server that does not
        // offer it (or an attacker stripping it) must not get the password
        // in clear.
        let has_credentials = url["smtp://".len()..]
            .split(['/', '?'])
            .next()
            .is_some_and(|authority| authority.contains('@'));
        let tls = if has_credentials {
            "required"
        } else {
            "opportunistic"
        };
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}tls={tls}")
    } else {
        url.to_string()
    };
    lettre::SmtpTransport::from_url(&url)
        .map_err(|e| ConfigError(format!("LATCHKEY_SMTP_URL: {e}")))?;
    Ok(MailTarget::Smtp(url))
}

/// The web app's build to serve: the one named (it must hold an
/// `index.html`), else `web/dist` when a build is there.
fn web_dir(named: Option<&std::path::Path>) -> Result<Option<PathBuf>, ConfigError> {
    match named {
        Some(dir) if dir.join("index.html").is_file() => Ok(Some(dir.to_path_buf())),
        Some(dir) => Err(ConfigError(format!(
            "LATCHKEY_WEB_DIR {} holds no index.html (build the web app: cd web && npm ci && npm run build)",
            dir.display()
        ))),
        None => {
            let default = PathBuf::from("web/dist");
            Ok(default.join("index.html").is_file().then_some(default))
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub database: DatabaseTarget,
    pub data_dir: PathBuf,
    /// The web app's build served at `/`, if any.
    pub web_dir: Option<PathBuf>,
    pub master_key: MasterKey,
    pub issuer: String,
    pub audience: String,
    pub signup: SignupMode,
    pub cors_origins: Vec<String>,
    pub ip_rate_limit: u32,
    pub trusted_proxies: Vec<IpAddr>,
    pub access_ttl: Duration,
    pub session_idle: Duration,
    pub session_max: Duration,
    pub mfa_challenge_ttl: Duration,
    pub enrollment_ttl: Duration,
    pub pending_enrollment_ttl: Duration,
    pub db_pool_size: u32,
    pub audit_retention: Duration,
    pub key_refresh: Duration,
    /// Base URL of this service, without a trailing slash.
    pub public_url: String,
    /// How long an SSO authorization flow may take (10 minutes).
    pub sso_flow_ttl: Duration,
    /// How long an SSO login code lives (60 seconds).
    pub sso_login_code_ttl: Duration,
    /// How long a link token (`link_required`) lives.
    pub sso_link_ttl: Duration,
    /// Timeout of one request to an identity provider.
    pub sso_http_timeout: Duration,
    /// The web app's base URL, for links in mail, without a trailing slash.
    pub app_url: String,
    /// Where outgoing mail goes.
    pub mail: MailTarget,
    /// The sender of every message.
    pub mail_from: lettre::message::Mailbox,
    /// How long a sender holds a claimed message (longer than a send's
    /// timeout); after a crash the message is due again then.
    pub mail_lease: Duration,
    /// The WebAuthn relying party id.
    pub webauthn_rp_id: String,
    /// Origins allowed to use passkeys.
    pub webauthn_origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

const DAY: u64 = 24 * 3600;

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Config {
    /// Validates the arguments; reads or creates the master key.
    pub fn from_args(args: &ConfigArgs) -> Result<Config, ConfigError> {
        let database = DatabaseTarget::parse(
            &args
                .database_url
                .clone()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| {
                    args.data_dir
                        .join("latchkey.db")
                        .to_string_lossy()
                        .into_owned()
                }),
        );
        let master_key = match &args.master_key {
            Some(text) if !text.trim().is_empty() => MasterKey::from_base64(text)
                .map_err(|e| ConfigError(format!("LATCHKEY_MASTER_KEY: {e}")))?,
            _ => load_or_create_master_key(&args.data_dir)?,
        };
        let signup = match args.signup.trim() {
            "open" => SignupMode::Open,
            "closed" => SignupMode::Closed,
            "verify" => SignupMode::Verify,
            other => {
                return Err(ConfigError(format!(
                    "LATCHKEY_SIGNUP must be open, closed or verify, not {other:?}"
                )))
            }
        };
        let mail = match args.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => smtp_target(url)?,
            None => MailTarget::Files(args.data_dir.join("mail")),
        };
        let mail_from: lettre::message::Mailbox = args
            .mail_from
            .parse()
            .map_err(|e| ConfigError(format!("LATCHKEY_MAIL_FROM: {e}")))?;
        if !(1..=3600).contains(&args.mail_lease_seconds) {
            return Err(ConfigError(
                "LATCHKEY_MAIL_LEASE_SECONDS must be 1 to 3600".into(),
            ));
        }
        let trusted_proxies = split_list(&args.trusted_proxies)
            .map(|p| {
                p.parse().map_err(|_| {
                    ConfigError(format!(
                        "LATCHKEY_TRUSTED_PROXIES: {p:?} is not an IP address"
                    ))
                })
            })
            .collect::<Result<Vec<IpAddr>, _>>()?;
        if args.issuer.contains(':') || args.issuer.trim().is_empty() || args.issuer.len() > 100 {
            return Err(ConfigError(
                "LATCHKEY_ISSUER must be 1 to 100 bytes and contain no ':'".into(),
            ));
        }
        if args.session_idle_minutes == 0 || args.session_max_hours == 0 {
            return Err(ConfigError("session lifetimes must be positive".into()));
        }
        // A century is "forever" in practice; more is a typo (and could
        // overflow the duration arithmetic).
        if !(1..=36_500).contains(&args.audit_retention_days) {
            return Err(ConfigError(
                "LATCHKEY_AUDIT_RETENTION_DAYS must be 1 to 36500".into(),
            ));
        }
        if !(1..=DAY).contains(&args.access_ttl_seconds) {
            return Err(ConfigError(
                "LATCHKEY_ACCESS_TTL_SECONDS must be 1 to 86400".into(),
            ));
        }
        // A rotation must reach every node within 30 s (and a retired key's
        // grace, `domain::keys::RETIRED_KEY_SLACK`, counts on it).
        if !(1..=30).contains(&args.key_refresh_seconds) {
            return Err(ConfigError(
                "LATCHKEY_KEY_REFRESH_SECONDS must be 1 to 30".into(),
            ));
        }
        let public_url = base_url("LATCHKEY_PUBLIC_URL", args.public_url.as_deref())?
            .unwrap_or_else(|| format!("http://{}", args.bind));
        let app_url =
            base_url("LATCHKEY_APP_URL", args.app_url.as_deref())?.unwrap_or(public_url.clone());
        // WebAuthn takes a domain, never an IP address: a service reached
        // at an IP (the default 127.0.0.1) offers passkeys at `localhost`.
        let as_domain = |url: &str| match host_of(url).parse::<IpAddr>() {
            Ok(ip) => url.replacen(&ip_in_url(ip), "localhost", 1),
            Err(_) => url.to_string(),
        };
        let webauthn_rp_id = match args.webauthn_rp_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => id.to_ascii_lowercase(),
            _ => host_of(&as_domain(&public_url)),
        };
        let mut webauthn_origins: Vec<String> = split_list(&args.webauthn_origins)
            .map(|o| o.trim_end_matches('/').to_string())
            .collect();
        if webauthn_origins.is_empty() {
            for url in [&public_url, &app_url] {
                let origin = as_domain(url);
                if !webauthn_origins.contains(&origin) {
                    webauthn_origins.push(origin);
                }
            }
        }
        for origin in &webauthn_origins {
            if base_url("LATCHKEY_WEBAUTHN_ORIGINS", Some(origin))?.is_none() {
                return Err(ConfigError(
                    "LATCHKEY_WEBAUTHN_ORIGINS: an empty origin".into(),
                ));
            }
        }
        if !(1..=120).contains(&args.sso_http_timeout_seconds) {
            return Err(ConfigError(
                "LATCHKEY_SSO_HTTP_TIMEOUT_SECONDS must be 1 to 120".into(),
            ));
        }
        let db_pool_size = args
            .db_pool_size
            .unwrap_or(match &database {
                DatabaseTarget::Sqlite(_) => 32,
                DatabaseTarget::Postgres(_) => 16,
            })
            .max(1);
        Ok(Config {
            bind: args.bind.clone(),
            database,
            data_dir: args.data_dir.clone(),
            web_dir: web_dir(args.web_dir.as_deref())?,
            master_key,
            issuer: args.issuer.clone(),
            audience: args.audience.clone(),
            signup,
            cors_origins: split_list(&args.cors_origins).map(String::from).collect(),
            ip_rate_limit: args.ip_rate_limit,
            trusted_proxies,
            access_ttl: Duration::from_secs(args.access_ttl_seconds),
            session_idle: Duration::from_secs(args.session_idle_minutes * 60),
            session_max: Duration::from_secs(args.session_max_hours * 3600),
            mfa_challenge_ttl: Duration::from_secs(5 * 60),
            enrollment_ttl: Duration::from_secs(10 * 60),
            pending_enrollment_ttl: Duration::from_secs(10 * 60),
            db_pool_size,
            audit_retention: Duration::from_secs(args.audit_retention_days * DAY),
            key_refresh: Duration::from_secs(args.key_refresh_seconds),
            sso_flow_ttl: Duration::from_secs(10 * 60),
            sso_login_code_ttl: Duration::from_secs(60),
            sso_link_ttl: Duration::from_secs(10 * 60),
            sso_http_timeout: Duration::from_secs(args.sso_http_timeout_seconds),
            app_url,
            public_url,
            mail,
            mail_from,
            mail_lease: Duration::from_secs(args.mail_lease_seconds),
            webauthn_rp_id,
            webauthn_origins,
        })
    }

    /// Defaults for a given database and key (tests, tools).
    pub fn with_database(database: DatabaseTarget, master_key: MasterKey) -> Config {
        Config {
            bind: "127.0.0.1:0".into(),
            database,
            data_dir: PathBuf::from("./data"),
            web_dir: None,
            master_key,
            issuer: "Latchkey".into(),
            audience: "latchkey".into(),
            signup: SignupMode::Open,
            cors_origins: Vec::new(),
            ip_rate_limit: 0,
            trusted_proxies: Vec::new(),
            access_ttl: Duration::from_secs(15 * 60),
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 3600),
            mfa_challenge_ttl: Duration::from_secs(5 * 60),
            enrollment_ttl: Duration::from_secs(10 * 60),
            pending_enrollment_ttl: Duration::from_secs(10 * 60),
            db_pool_size: 8,
            audit_retention: Duration::from_secs(400 * DAY),
            key_refresh: Duration::from_secs(10),
            public_url: "http://127.0.0.1:8080".into(),
            sso_flow_ttl: Duration::from_secs(10 * 60),
            sso_login_code_ttl: Duration::from_secs(60),
            sso_link_ttl: Duration::from_secs(10 * 60),
            sso_http_timeout: Duration::from_secs(10),
            app_url: "http://127.0.0.1:8080".into(),
            mail: MailTarget::Files(PathBuf::from("./data/mail")),
            mail_from: "Latchkey <no-reply@localhost>".parse().expect("a mailbox"),
            mail_lease: Duration::from_secs(120),
            webauthn_rp_id: "localhost".into(),
            webauthn_origins: vec!["http://localhost:8080".into()],
        }
    }
}

/// Reads `<data dir>/master.key`, or creates it (mode 0600) on first start.
fn load_or_create_master_key(dir: &Path) -> Result<MasterKey, ConfigError> {
    let path = dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        return MasterKey::from_base64(&text)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ConfigError(format!("cannot create {}: {e}", dir.display())))?;
    let (key, text) = MasterKey::generate();
    write_private(&path, &text)
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    tracing::warn!(path = %path.display(), "generated a new master key; back it up, and give every node the same LATCHKEY_MASTER_KEY");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn config(flags: &[&str]) -> Result<Config, ConfigError> {
        let (_, key) = MasterKey::generate();
        let mut argv = vec!["latchkey", "--master-key", &key];
        argv.extend_from_slice(flags);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        Config::from_args(&cli.config)
    }

    #[test]
    fn lifetimes_and_intervals_are_bounded() {
        let c = config(&[]).unwrap();
        assert_eq!(c.access_ttl, Duration::from_secs(900));
        assert_eq!(c.key_refresh, Duration::from_secs(10));
        assert_eq!(c.audit_retention, Duration::from_secs(400 * DAY));
        let c = config(&[
            "--access-ttl-seconds=5",
            "--key-refresh-seconds=30",
            "--audit-retention-days=1",
        ])
        .unwrap();
        assert_eq!(c.access_ttl, Duration::from_secs(5));
        assert_eq!(c.key_refresh, Duration::from_secs(30));
        assert_eq!(c.audit_retention, Duration::from_secs(DAY));
        for bad in [
            "--access-ttl-seconds=0",
            "--access-ttl-seconds=86401",
            "--key-refresh-seconds=0",
            "--key-refresh-seconds=31",
            "--audit-retention-days=0",
            "--audit-retention-days=36501",
        ] {
            assert!(config(&[bad]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn mail_settings_pick_the_transport_and_refuse_nonsense() {
        let c = config(&["--data-dir=/tmp/lk"]).unwrap();
        assert_eq!(c.mail, MailTarget::Files("/tmp/lk/mail".into()));
        assert_eq!(c.app_url, c.public_url);
        assert_eq!(c.signup, SignupMode::Open);
        let smtp = |url: &str| match config(&[&format!("--smtp-url={url}")]).map(|c| c.mail) {
            Ok(MailTarget::Smtp(url)) => Ok(url),
            other => Err(format!("{other:?}")),
        };
        // STARTTLS when offered (API.md), which lettre calls opportunistic.
        assert_eq!(
            smtp("smtp://mail:1025").unwrap(),
            "smtp://mail:1025?tls=opportunistic"
        );
        assert_eq!(
            smtp("smtp://u:p@mail:587?tls=required").unwrap(),
            "smtp://u:p@mail:587?tls=required"
        );
        assert_eq!(smtp("smtps://mail").unwrap(), "smtps://mail");
        assert_eq!(
            smtp("smtp://u:p@mail:587").unwrap(),
            "smtp://u:p@mail:587?tls=required",
            "credentials never go in clear"
        );
        assert!(smtp("http://mail").is_err());
        assert!(config(&["--mail-from=not an address"]).is_err());
        assert!(config(&["--app-url=ftp://x"]).is_err());
        assert!(config(&["--app-url=https://app.example/#x"]).is_err());
        // Passkeys need a domain: an IP becomes localhost.
        let c = config(&["--bind=127.0.0.1:9000"]).unwrap();
        assert_eq!(c.webauthn_rp_id, "localhost");
        assert_eq!(c.webauthn_origins, ["http://localhost:9000"]);
        let c = config(&[
            "--public-url=https://auth.example.com",
            "--app-url=https://app.example.com",
        ])
        .unwrap();
        assert_eq!(c.webauthn_rp_id, "auth.example.com");
        assert_eq!(
            c.webauthn_origins,
            ["https://auth.example.com", "https://app.example.com"]
        );
        let c = config(&["--app-url=https://app.example/", "--signup=verify"]).unwrap();
        assert_eq!(c.app_url, "https://app.example");
        assert_eq!(c.signup, SignupMode::Verify);
        assert!(config(&["--signup=maybe"]).is_err());
        assert!(config(&["--mail-lease-seconds=0"]).is_err());
    }
}
