//! The principal cache: access tokens already verified, with the session
//! context they were found to stand for, kept in the process so that an
//! authenticated request costs neither a signature check nor a query while
//! nothing it depends on has changed.
//!
//! **The rule.** A cached [`Principal`] is made of its session row, its
//! user row, the policies of the user's scope, the user's recovery-token
//! state and the user's custom role. Every unit of work that changes any of
//! these (a session revoked, upgraded or downgraded; a user changed,
//! disabled, deleted, signed in, given or stripped of factors, a password
//! changed; an account's or sub-account's policy, a sub-account deleted; a
//! custom role changed or deleted) calls [`changed`] inside its transaction.
//! That does two things:
//!
//! - **this node, at once:** the key is queued on the thread, and
//!   `AppState::db` drops the matching entries when the unit of work has
//!   returned (committed or not), before the answer is sent;
//! - **every other node, within a second:** on PostgreSQL the key is sent
//!   with `NOTIFY` in the same transaction (so only a committed change is
//!   announced) and each node's watcher thread, `LISTEN`ing on a connection
//!   of its own, drops the entries within its 50 ms poll. On SQLite the
//!   watcher reads `PRAGMA data_version` every 50 ms and clears the whole
//!   cache when any other connection — this process's pool, or the CLI's
//!   `reset-mfa` in another process — has committed anything.
//!
//! A cache that cannot be sure is not used: entries are served only while
//! the watcher has reported in within the last 500 ms (a dead listener
//! connection or a starved thread turns caching off rather than serving
//! stale entries), and on (re)connecting the watcher clears everything,
//! since notices sent while it was away are lost. An entry read from the
//! database is stored only if no change was applied while it was being
//! read (a generation counter), so a read racing a change cannot store the
//! state from before it. Time-based limits (token expiry, the session's
//! absolute and idle expiry, a retired signing key) are checked on every
//! hit; and every entry is read afresh after [`ENTRY_TTL`] whatever
//! happened, which bounds what a hand edit of the database can leave
//! behind.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::auth::Principal;
use super::keys::KeyRing;
use crate::store::changes;
use crate::store::{DatabaseTarget, DbConn};

/// Longest an entry is served without reading the database again.
pub const ENTRY_TTL: Duration = Duration::from_secs(10);
/// Entries are served only while the watcher reported in this recently.
pub const WATCHER_FRESHNESS: Duration = Duration::from_millis(500);
/// How often the watcher looks for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(50);
/// Most entries kept (each is a token and its session context, ~2 KiB).
pub const CAPACITY: usize = 4096;

/// What changed: everything cached for a user, or for a whole account.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A user's row, sessions, factors or recovery token.
    User(&'a str),
    /// An account's or sub-account's policy, or a custom role of it.
    Account(&'a str),
}

impl Change<'_> {
    fn key(self) -> String {
        match self {
            Change::User(id) => format!("u:{id}"),
            Change::Account(id) => format!("a:{id}"),
        }
    }
}

thread_local! {
    static PENDING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records that `change` happened in the current unit of work: announced to
/// other nodes on commit, applied to this node's cache when the unit of
/// work returns. Call it inside the transaction that makes the change.
pub fn changed(conn: &mut DbConn, change: Change<'_>) -> QueryResult<()> {
    let key = change.key();
    changes::notify(conn, &key)?;
    PENDING.with(|p| p.borrow_mut().push(key));
    Ok(())
}

/// The changes recorded on this thread since the last call.
pub fn take_pending() -> Vec<String> {
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

struct Entry {
    kid: String,
    principal: Arc<Principal>,
    stored: Instant,
}

/// Verified tokens and their principals, in this process.
pub struct PrincipalCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped by every invalidation; a read that began under another value
    /// is not stored.
    generation: AtomicU64,
    /// When the watcher last reported in, in ms after `started`.
    watcher_seen_ms: AtomicU64,
    started: Instant,
}

impl Default for PrincipalCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PrincipalCache {
    pub fn new() -> Self {
        PrincipalCache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            watcher_seen_ms: AtomicU64::new(u64::MAX),
            started: Instant::now(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The watcher reported in within [`WATCHER_FRESHNESS`].
    fn trusted(&self) -> bool {
        let seen = self.watcher_seen_ms.load(Ordering::Acquire);
        seen != u64::MAX
            && self.elapsed_ms().saturating_sub(seen) < WATCHER_FRESHNESS.as_millis() as u64
    }

    /// The watcher reports in; returns how long it had been away (ms).
    fn beat(&self) -> u64 {
        let now = self.elapsed_ms();
        let before = self.watcher_seen_ms.swap(now, Ordering::AcqRel);
        now.saturating_sub(if before == u64::MAX { now } else { before })
    }

    /// Read before the database is, and handed back to [`Self::store`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The principal for `token` if a live entry holds it: stored within
    /// [`ENTRY_TTL`], its signing key still verifying, the token not
    /// expired, the session not past its absolute or idle expiry.
    pub fn lookup(
        &self,
        token: &str,
        keys: &KeyRing,
        now: NaiveDateTime,
        idle_cutoff: NaiveDateTime,
    ) -> Option<Arc<Principal>> {
        if !self.trusted() {
            count_miss("untrusted");
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = entries.get(token) else {
            count_miss("absent");
            return None;
        };
        let unix = now.and_utc().timestamp();
        let (claims, session) = (&entry.principal.claims, &entry.principal.session);
        let live = entry.stored.elapsed() < ENTRY_TTL
            && claims.exp > unix
            && claims.nbf.is_none_or(|nbf| nbf <= unix)
            && claims.iat <= unix + 60
            && session.is_live(now, idle_cutoff)
            && keys.verifies(&entry.kid);
        if !live {
            count_miss("expired");
            return None;
        }
        Some(Arc::clone(&entry.principal))
    }

    /// Stores what was just read for `token`, unless a change was applied
    /// since `generation` was read (the read may predate it).
    pub fn store(&self, token: &str, kid: String, principal: &Arc<Principal>, generation: u64) {
        if !self.trusted() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| e.stored.elapsed() < ENTRY_TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            token.to_string(),
            Entry {
                kid,
                principal: Arc::clone(principal),
                stored: Instant::now(),
            },
        );
    }

    /// Drops the entries a change key (`u:ID`, `a:ID`) names; anything
    /// else drops them all.
    pub fn invalidate(&self, key: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        match key.split_once(':') {
            Some(("u", id)) => entries.retain(|_, e| e.principal.user.id != id),
            Some(("a", id)) => entries.retain(|_, e| e.principal.user.account_id != id),
            _ => entries.clear(),
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether an entry for `token` is held (for tests: that a request
    /// after this one would be answered from the cache).
    pub fn holds(&self, token: &str) -> bool {
        self.entries
            .read()
            .map(|e| e.contains_key(token))
            .unwrap_or(false)
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Warns when the watcher reported in too late for the cache to be
/// trusted meanwhile (`gap_ms` since its previous report; `check`: this
/// poll's own round trip), which turns caching off until it does.
fn report_gap(gap_ms: u64, check: Duration) {
    if gap_ms >= WATCHER_FRESHNESS.as_millis() as u64 {
        tracing::warn!(
            gap_ms,
            check_ms = check.as_millis() as u64,
            "principal cache: the watcher was late; caching was off meanwhile"
        );
    }
}

/// Counts a lookup the cache could not answer, by why: the token is not
/// held, its entry is past a limit, or the watcher has not reported in
/// (`untrusted`: every authenticated request then costs a signature check
/// and a query). A hit costs nothing here.
fn count_miss(reason: &'static str) {
    metrics::counter!("latchkey_principal_cache_misses_total", "reason" => reason).increment(1);
}

/// Starts the thread that applies other nodes' changes to `cache` (see the
/// module documentation); it ends when the cache is dropped.
pub fn spawn_watcher(cache: &Arc<PrincipalCache>, target: &DatabaseTarget) -> std::io::Result<()> {
    let weak = Arc::downgrade(cache);
    let target = target.clone();
    std::thread::Builder::new()
        .name("principal-watcher".into())
        .spawn(move || match target {
            DatabaseTarget::Postgres(url) => watch_postgres(&weak, &url),
            DatabaseTarget::Sqlite(path) => watch_sqlite(&weak, &path),
        })
        .map(drop)
}

/// Pings the listener connection every this many polls.
const PING_EVERY: u32 = 10;
/// Wait before reconnecting a watcher that lost its connection.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

fn watch_postgres(weak: &Weak<PrincipalCache>, url: &str) {
    let mut listener: Option<changes::Listener> = None;
    let mut polls = 0u32;
    loop {
        let Some(cache) = weak.upgrade() else { return };
        let conn = match &mut listener {
            Some(conn) => conn,
            None => match changes::Listener::open(url) {
                Ok(conn) => {
                    // Notices sent before LISTEN are lost: start empty.
                    cache.clear();
                    listener.insert(conn)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "principal cache: cannot listen; caching off");
                    drop(cache);
                    std::thread::sleep(RECONNECT_DELAY);
                    continue;
                }
            },
        };
        polls = polls.wrapping_add(1);
        let began = Instant::now();
        let checked = if polls.is_multiple_of(PING_EVERY) {
            conn.ping()
        } else {
            Ok(())
        };
        match checked.and_then(|()| conn.received()) {
            Ok(keys) => {
                for key in keys {
                    cache.invalidate(&key);
                }
                report_gap(cache.beat(), began.elapsed());
            }
            Err(e) => {
                tracing::warn!(error = %e, "principal cache: listener lost; reconnecting");
                listener = None;
                cache.clear();
            }
        }
        drop(cache);
        std::thread::sleep(WATCH_INTERVAL);
    }
}

fn watch_sqlite(weak: &Weak<PrincipalCache>, path: &std::path::Path) {
    let mut watcher: Option<(changes::Watcher, i64)> = None;
    loop {
        let Some(cache) = weak.upgrade() else { return };
        let began = Instant::now();
        let outcome = match &mut watcher {
            None => changes::Watcher::open(path).and_then(|mut conn| {
                let version = conn.data_version()?;
                cache.clear();
                watcher = Some((conn, version));
                Ok(())
            }),
            Some((conn, seen)) => conn.data_version().map(|version| {
                if version != *seen {
                    *seen = version;
                    cache.clear();
                }
            }),
        };
        match outcome {
            Ok(()) => report_gap(cache.beat(), began.elapsed()),
            Err(e) => {
                tracing::warn!(error = %e, "principal cache: cannot watch the database; caching off");
                watcher = None;
            }
        }
        drop(cache);
        std::thread::sleep(WATCH_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves the watcher's last report `ms` into the past (a cache made
    /// `ms` ago, so the clock allows it).
    fn reported_ago(cache: &mut PrincipalCache, ms: u64) {
        cache.started -= Duration::from_millis(ms);
        cache.watcher_seen_ms.store(0, Ordering::Release);
    }

    #[test]
    fn the_cache_is_trusted_only_while_its_watcher_reports_in() {
        let mut cache = PrincipalCache::new();
        // No watcher yet: nothing is served, nothing stored.
        assert!(!cache.trusted());
        assert_eq!(cache.beat(), 0, "a first report");
        assert!(cache.trusted());
        let fresh = WATCHER_FRESHNESS.as_millis() as u64;
        reported_ago(&mut cache, fresh - 100);
        assert!(cache.trusted());
        reported_ago(&mut cache, fresh + 1);
        assert!(!cache.trusted(), "a silent watcher turns the cache off");
        assert!(cache.beat() > fresh, "the report says how long it was away");
        assert!(cache.trusted());
    }
}
