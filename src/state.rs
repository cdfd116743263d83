//! Shared application state: configuration, the pool, the clock, the signing
//! key ring and the bounded password hasher.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::web;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::password;
use crate::domain::keys::KeyRing;
use crate::domain::principals::{self, PrincipalCache};
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::RateLimiter;
use crate::store::{self, DbConn, Pool, StoreError};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    /// Verified tokens and their sessions (see `domain::principals`).
    pub principals: Arc<PrincipalCache>,
    /// SQLite's one writer connection, with group commit (see `store::writer`).
    pub writer: Option<Arc<store::writer::Writer>>,
    /// Units of database work in progress, at most the pool's size.
    pub db_permits: Arc<Semaphore>,
    pub hasher: Arc<Hasher>,
    pub limiter: Arc<RateLimiter>,
    /// The OpenID Connect relying party (providers' metadata cached).
    pub oidc: Arc<crate::oidc::Oidc>,
}

impl AppState {
    /// Opens the database, applies migrations and makes sure a signing key
    /// exists (serialized across nodes), then loads the key ring.
    pub fn open(config: Config, clock: Clock) -> Result<AppState, StoreError> {
        let pool = store::connect(&config.database, config.db_pool_size)?;
        let mut conn = pool
            .get()
            .map_err(|e| StoreError(format!("database: {e}")))?;
        let keys = store::with_startup_lock(&mut conn, |conn| {
            store::run_migrations(conn)?;
            KeyRing::load_or_create(conn, &config, clock.now_naive())
        })?;
        drop(conn);
        let limiter = RateLimiter::new(config.ip_rate_limit);
        let oidc = Arc::new(crate::oidc::Oidc::new(config.sso_http_timeout).map_err(StoreError)?);
        // A wrong WebAuthn setting stops the start, not a sign-in later.
        crate::domain::passkeys::relying_party(&config).map_err(StoreError)?;
        let writer = store::open_writer(&config.database)?;
        let db_permits = Arc::new(Semaphore::new(config.db_pool_size as usize));
        let principals = Arc::new(PrincipalCache::new());
        principals::spawn_watcher(&principals, &config.database)
            .map_err(|e| StoreError(format!("principal cache watcher: {e}")))?;
        Ok(AppState {
            config: Arc::new(config),
            pool,
            clock,
            keys: Arc::new(keys),
            principals,
            writer,
            db_permits,
            hasher: Arc::new(Hasher::new()),
            limiter: Arc::new(limiter),
            oidc,
        })
    }

    /// Runs one unit of database work on a blocking thread. The changes it
    /// recorded (see `domain::principals::changed`) are applied to this
    /// node's principal cache before it returns, committed or not.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> ApiResult<T> + Send + 'static,
    {
        // One blocking thread per pool connection at most: a flood of
        // requests waits here, as futures, rather than as threads parked in
        // the pool (each one a stack and, with glibc, a share of an arena).
        let _permit = self
            .db_permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal(format!("database permits closed: {e}")))?;
        let pool = self.pool.clone();
        let cache = self.principals.clone();
        let writer = self.writer.clone();
        web::block(move || {
            let result = pool.get().map_err(ApiError::from).and_then(|mut conn| {
                let _writer = store::writer::attach(writer.as_ref());
                let result = f(&mut conn);
                if matches!(result, Err(ApiError::Internal(_))) {
                    conn.suspect();
                }
                result
            });
            for key in principals::take_pending() {
                cache.invalidate(&key);
            }
            result
        })
        .await?
    }
}

/// Argon2 on blocking threads, at most one hash per core at a time (each
/// holds ~19 MiB), so a login flood queues instead of exhausting memory.
pub struct Hasher {
    permits: Semaphore,
    verifications: AtomicU64,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        // Computed now so the first unknown-email login is not slower.
        let _ = password::dummy_hash();
        Hasher {
            permits: Semaphore::new(cores),
            verifications: AtomicU64::new(0),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal(format!("hasher closed: {e}")))?;
        Ok(web::block(f).await?)
    }

    /// One of the per-core permits, for work that runs argon2 itself on a
    /// blocking thread (the domain's password re-check): hold it while the
    /// unit of work runs.
    pub async fn permit(&self) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal(format!("hasher closed: {e}")))
    }

    /// Password verifications started so far (each costs one argon2 hash).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move || password::hash(&password))
            .await?
            .map_err(ApiError::internal)
    }

    /// Verifies against `phc`, or against the dummy hash when there is no
    /// user (always false then).
    pub async fn verify(&self, password: String, phc: Option<String>) -> ApiResult<bool> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.run(move || match phc {
            Some(phc) => password::verify(&password, &phc),
            None => password::verify(&password, password::dummy_hash()).map(|_| false),
        })
        .await?
        .map_err(ApiError::internal)
    }
}
