//! The command line: `serve` (default), `migrate`, `create-account`,
//! `reset-mfa`, `keys rotate`.

use std::io::{BufRead, IsTerminal};

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{Config, ConfigArgs};
use crate::domain::{self, signup, validate, Ctx};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;

#[derive(Parser, Debug)]
#[command(
    name = "latchkey",
    version,
    about = "Multi-factor authentication service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create an account with its first administrator. The password is read
    /// from standard input (one line) or prompted for; never a flag.
    CreateAccount {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Break-glass: reset the MFA of a user (e.g. the sole administrator who
    /// lost both phone and recovery token). Audited as the operator.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Create a new signing key; tokens signed with the previous key stay
    /// valid until they expire.
    Rotate,
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn read_password() -> Result<String, Box<dyn std::error::Error>> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password for the administrator: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    validate::check_password(&password).map_err(|m| format!("password {m}"))?;
    Ok(password)
}

fn operator_ctx(clock: &Clock) -> Ctx {
    Ctx {
        now: clock.now_naive(),
        ip: None,
        user_agent: Some("latchkey-cli".into()),
    }
}

pub fn main() -> CliResult {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = Config::from_args(&cli.config)?;
    let clock = Clock::default();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, clock),
        Command::Migrate => {
            let pool = store::connect(&config.database, 1)?;
            let mut conn = pool.get()?;
            let applied = store::with_startup_lock(&mut conn, store::run_migrations)?;
            println!(
                "{applied} migration(s) applied to {}",
                config.database.describe()
            );
            Ok(())
        }
        Command::CreateAccount {
            name,
            email,
            display_name,
        } => {
            let state = AppState::open(config, clock.clone())?;
            let mut checks = validate::Checks::default();
            let account_name = checks.name("name", &name);
            let email = checks.email("email", &email);
            let display_name = checks.name(
                "display_name",
                display_name
                    .as_deref()
                    .unwrap_or(email.split('@').next().unwrap_or("admin")),
            );
            checks.finish().map_err(|e| format!("{e:?}"))?;
            let password = read_password()?;
            let hash = crate::crypto::password::hash(&password).map_err(|e| e.to_string())?;
            let mut conn = state.pool.get()?;
            let (account, user) = signup::create_account(
                &mut conn,
                signup::NewAccount {
                    account_name,
                    email,
                    display_name,
                    password_hash: hash,
                },
                &operator_ctx(&clock),
            )
            .map_err(|e| e.problem().detail)?;
            println!(
                "account {} created; administrator {} ({})",
                account.id, user.email, user.id
            );
            Ok(())
        }
        Command::ResetMfa { email } => {
            let state = AppState::open(config, clock.clone())?;
            let email = validate::normalize_email(&email)?;
            let mut conn = state.pool.get()?;
            let user = domain::admin::operator_reset_mfa(&mut conn, &email, &operator_ctx(&clock))
                .map_err(|e| match e {
                    ApiError::NotFound => "no user with that email".to_string(),
                    other => format!("{other}"),
                })?;
            println!("MFA of {} reset; their sessions ended. They enroll again at next login if MFA is required.", user.email);
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let state = AppState::open(config.clone(), clock.clone())?;
            let mut conn = state.pool.get()?;
            let kid = domain::keys::rotate(&mut conn, &config.master_key, clock.now_naive())?;
            println!("new signing key {kid}; previous keys verify until their tokens expire");
            Ok(())
        }
    }
}

/// Purges dead rows and queues the deadline reminders that are due, every
/// ten minutes (see `domain::housekeeping`, `domain::reminders`).
fn spawn_housekeeping(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            let now = state.clock.now_naive();
            let retention = state.config.audit_retention;
            let config = state.config.clone();
            match state
                .db(move |conn| {
                    let purged = domain::housekeeping::purge(conn, now)?;
                    let audit_events = domain::housekeeping::purge_audit(conn, now, retention)?;
                    let reminders = domain::reminders::send_due(conn, &config, now)?;
                    Ok((purged, audit_events, reminders))
                })
                .await
            {
                Ok((purged, audit_events, reminders)) => {
                    tracing::debug!(?purged, audit_events, reminders, "housekeeping")
                }
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
        }
    });
}

/// Re-reads the signing keys every `LATCHKEY_KEY_REFRESH_SECONDS`, so that a
/// `keys rotate` (here or on another node) reaches this node: it signs with
/// the new key, its JWKS lists it, and keys retired past their grace stop
/// verifying (see `domain::keys`).
fn spawn_key_refresh(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(state.config.key_refresh);
        // The first tick is now, and the ring was loaded at start.
        every.tick().await;
        loop {
            every.tick().await;
            let keys = state.keys.clone();
            let now = state.clock.now_naive();
            let before = keys.signing_kid();
            match state
                .db(move |conn| keys.refresh(conn, now).map_err(ApiError::internal))
                .await
            {
                Ok(()) => {
                    let kid = state.keys.signing_kid();
                    if kid != before {
                        tracing::info!(%kid, "signing with a new key");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "signing keys not refreshed"),
            }
        }
    });
}

fn serve(config: Config, clock: Clock) -> CliResult {
    let bind = config.bind.clone();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    actix_web::rt::System::new().block_on(async move {
        let state = AppState::open(config, clock)?;
        tracing::info!(%bind, database = %state.config.database.describe(), "latchkey serving");
        spawn_housekeeping(state.clone());
        spawn_key_refresh(state.clone());
        crate::delivery::spawn(state.clone()).map_err(|e| format!("{e}"))?;
        actix_web::HttpServer::new(move || crate::app::build(state.clone()))
            .workers(workers)
            .bind(&bind)?
            .run()
            .await?;
        Ok(())
    })
}
