//! Persistence: one diesel code base over SQLite and PostgreSQL.
//!
//! [`DbConn`] is a `MultiConnection` enum; the backend is chosen from the
//! database URL once, at start. Store modules hold plain query functions and
//! never decide policy. Where SQL must differ between the backends, the store
//! matches on the inner connection, here and nowhere else.

pub mod accounts;
pub mod audit;
pub mod challenges;
pub mod changes;
pub mod coverage;
pub mod devices;
pub mod invitations;
pub mod keys;
pub mod mail_tokens;
pub mod outbox;
pub mod passkeys;
pub mod recovery;
pub mod refresh_tokens;
pub mod reminders;
pub mod roles;
pub mod schema;
pub mod sessions;
pub mod sso;
pub mod sub_accounts;
pub mod throttles;
pub mod totp;
pub mod types;
pub mod users;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock that serializes start-up work
/// (migrations, first signing key) between nodes starting at the same time.
const STARTUP_LOCK_KEY: i64 = 0x4c41_5443_484b_4559; // "LATCHKEY"

/// A database connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which backend a database URL selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseTarget {
    /// `postgres://` / `postgresql://` select PostgreSQL; `sqlite://PATH` or a
    /// bare path select SQLite.
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseTarget::Postgres(url.to_string())
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            DatabaseTarget::Sqlite(PathBuf::from(path))
        }
    }

    /// A description safe to log (no password).
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(p) => format!("sqlite {}", p.display()),
            DatabaseTarget::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or("");
                let host = host.strip_prefix("postgres://").unwrap_or(host);
                let host = host.strip_prefix("postgresql://").unwrap_or(host);
                format!("postgresql {host}")
            }
        }
    }
}

/// r2d2 manager that opens the configured backend and applies SQLite pragmas.
#[derive(Clone, Debug)]
pub struct Manager {
    target: DatabaseTarget,
}

/// A pool connection rested longer than this is pinged before it is handed
/// out; one in steady use is not (the ping would be a round trip per
/// request on PostgreSQL).
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pool connection, with what its last use says about it: it is pinged
/// on checkout only when it rested longer than [`PING_AFTER_IDLE`] or its
/// last unit of work failed on a database error ([`PoolConn::suspect`]),
/// so a connection the server dropped costs at most the one request that
/// found it, and is replaced at its next checkout.
pub struct PoolConn {
    conn: DbConn,
    returned: Instant,
    suspect: bool,
}

impl PoolConn {
    /// Its last use failed on a database error: ping it before it serves again.
    pub fn suspect(&mut self) {
        self.suspect = true;
    }
}

impl std::ops::Deref for PoolConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

impl Manager {
    /// A new connection to the target (the pool's, the writer's, the
    /// checkpointer's).
    pub fn open(&self) -> Result<DbConn, r2d2::Error> {
        match &self.target {
            DatabaseTarget::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseTarget::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; busy_timeout makes
                // writers queue instead of failing; FULL sync keeps a consumed
                // one-time credential consumed across a power loss. A small
                // page cache per connection (512 KiB; the OS caches the file
                // too) keeps a pool of 32 within the memory budget.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 15000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -512;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConn, r2d2::Error> {
        Ok(PoolConn {
            conn: self.open()?,
            returned: Instant::now(),
            suspect: false,
        })
    }

    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), r2d2::Error> {
        if conn.suspect || conn.returned.elapsed() >= PING_AFTER_IDLE {
            conn.conn.ping().map_err(r2d2::Error::QueryError)?;
            conn.suspect = false;
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        conn.returned = Instant::now();
        conn.conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// Opens a pool; for SQLite the parent directory is created.
pub fn connect(target: &DatabaseTarget, max_size: u32) -> Result<Pool, StoreError> {
    if let DatabaseTarget::Sqlite(path) = target {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .build(Manager {
            target: target.clone(),
        })
        .map_err(|e| StoreError(format!("cannot open {}: {e}", target.describe())))
}

/// The one writer of an SQLite database for this process (see [`writer`]);
/// none for PostgreSQL.
pub fn open_writer(target: &DatabaseTarget) -> Result<Option<Arc<writer::Writer>>, StoreError> {
    if !matches!(target, DatabaseTarget::Sqlite(_)) {
        return Ok(None);
    }
    let writer = Arc::new(writer::Writer::new(Manager {
        target: target.clone(),
    }));
    writer::Writer::spawn_checkpointer(&writer)
        .map_err(|e| StoreError(format!("WAL checkpointer: {e}")))?;
    Ok(Some(writer))
}

/// A start-up or operator error of the store (not a request error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Runs `f` while holding the start-up lock: a PostgreSQL advisory lock, so
/// that nodes starting together migrate and create keys one at a time.
pub fn with_startup_lock<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let is_pg = matches!(conn, DbConn::Postgres(_));
    if is_pg {
        diesel::sql_query(format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
            .execute(conn)
            .map_err(|e| StoreError(format!("advisory lock: {e}")))?;
    }
    let result = f(conn);
    if is_pg {
        let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
            .execute(conn);
    }
    result
}

/// Applies pending embedded migrations for the connection's backend.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, StoreError> {
    let applied = match conn {
        DbConn::Postgres(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| StoreError(format!("migration failed: {e}")))
}

/// Runs `f` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the
/// write lock is taken up front and a read-then-write unit can never fail with
/// a stale snapshot — on the process's one writer connection, with group
/// commit, when the thread has it attached (see [`writer`]); on PostgreSQL a
/// plain `BEGIN` (row locks taken by the first conditional UPDATE serialize
/// the contenders).
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if matches!(conn, DbConn::Sqlite(_)) {
        if let Some(writer) = writer::current() {
            return writer.run(f);
        }
    }
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            let committed = match conn {
                DbConn::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
                DbConn::Postgres(c) => AnsiTransactionManager::commit_transaction(c),
            };
            if let Err(e) = committed {
                rollback(conn);
                return Err(e.into());
            }
            Ok(value)
        }
        Err(e) => {
            rollback(conn);
            Err(e)
        }
    }
}

fn rollback(conn: &mut DbConn) {
    let result = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        DbConn::Postgres(c) => AnsiTransactionManager::rollback_transaction(c),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// True when a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// One round trip to the database.
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(drop)
}
