//! SQLite's one writer, with group commit.
//!
//! SQLite lets one connection write at a time. With every pool connection
//! writing for itself, the others wait in SQLite's busy handler, which
//! *sleeps* (1, 2, 5, … 100 ms) rather than queueing: under load a refresh
//! could wait a second for a lock that was free most of that time. And with
//! `synchronous = FULL` every commit is an fsync of its own.
//!
//! Here, write transactions of one process go through one connection,
//! taken in turn through a mutex (waiters wake as soon as it is free), and
//! share commits: each unit of work runs in a savepoint of the writer's
//! open transaction, and the last unit of a run of waiting ones commits for
//! all of them (at most [`MAX_BATCH`]). A unit's caller returns only after
//! the commit that holds its work, so `synchronous = FULL` keeps its
//! promise: what a client was told is done survives a power loss. A unit
//! that fails is rolled back to its savepoint alone; a failed commit fails
//! every unit of its batch.
//!
//! Reads stay on the pool's connections (WAL lets them run beside the
//! writer). Code that calls `write_tx` with no writer attached (the CLI, a
//! test calling the domain directly) opens its own `BEGIN IMMEDIATE`, as
//! before.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;

use super::{DbConn, Manager};

/// How often the checkpointer copies the WAL into the database file. Each
/// checkpoint ends with an fsync of the database file, and commits waiting
/// on their own fsync of the WAL meanwhile make the refresh tail: at 250 ms
/// the SQLite refresh p99 was 25 to 33 ms in `bench/run`, at 1 s 19 and
/// 24 ms. The WAL holds about a second of writes more in between (a few
/// MB at thousands of commits a second); durability does not depend on it.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Most units of work one commit holds.
pub const MAX_BATCH: usize = 64;

/// How many recent failed commits are remembered for their waiters.
const FAILURES_KEPT: usize = 64;

/// The writer of one SQLite database in this process.
pub struct Writer {
    manager: Manager,
    state: Mutex<State>,
    /// Threads waiting for `state` (a unit that finds none commits).
    waiting: AtomicUsize,
    done: Mutex<Done>,
    committed: Condvar,
}

struct State {
    conn: Option<DbConn>,
    /// The open batch: its number and how many units it holds.
    open: Option<(u64, usize)>,
    next_batch: u64,
}

struct Done {
    /// Every batch up to this one has been committed or has failed.
    through: u64,
    failed: VecDeque<(u64, String)>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

thread_local! {
    static ATTACHED: RefCell<Option<Arc<Writer>>> = const { RefCell::new(None) };
    static IN_UNIT: Cell<bool> = const { Cell::new(false) };
}

/// While alive, `write_tx` on this thread goes through `writer`.
pub struct Attached {
    previous: Option<Arc<Writer>>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ATTACHED.with(|a| *a.borrow_mut() = previous);
    }
}

/// Routes this thread's write transactions through `writer` (none: as
/// before) until the guard is dropped.
pub fn attach(writer: Option<&Arc<Writer>>) -> Attached {
    let previous = ATTACHED.with(|a| a.replace(writer.cloned()));
    Attached { previous }
}

/// The writer attached to this thread, unless this thread is already
/// inside one of its units (a nested `write_tx` stays on its connection).
pub(super) fn current() -> Option<Arc<Writer>> {
    if IN_UNIT.with(Cell::get) {
        return None;
    }
    ATTACHED.with(|a| a.borrow().clone())
}

fn sqlite(conn: &mut DbConn) -> &mut SqliteConnection {
    match conn {
        DbConn::Sqlite(c) => c,
        DbConn::Postgres(_) => unreachable!("the writer is opened for SQLite only"),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Writer {
    pub fn new(manager: Manager) -> Writer {
        Writer {
            manager,
            state: Mutex::new(State {
                conn: None,
                open: None,
                next_batch: 1,
            }),
            waiting: AtomicUsize::new(0),
            done: Mutex::new(Done {
                through: 0,
                failed: VecDeque::new(),
            }),
            committed: Condvar::new(),
        }
    }

    /// Starts the thread that checkpoints the WAL (`PASSIVE`: it never
    /// blocks the writer or readers) every [`CHECKPOINT_INTERVAL`], the
    /// writer's own automatic checkpoints being off. It ends with the writer.
    pub fn spawn_checkpointer(writer: &Arc<Writer>) -> std::io::Result<()> {
        let weak = Arc::downgrade(writer);
        let manager = writer.manager.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut conn = None;
                while weak.strong_count() > 0 {
                    std::thread::sleep(CHECKPOINT_INTERVAL);
                    if conn.is_none() {
                        conn = manager.open().ok();
                    }
                    if let Some(DbConn::Sqlite(c)) = conn.as_mut() {
                        if let Err(e) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                            tracing::warn!(error = %e, "WAL checkpoint failed");
                            conn = None;
                        }
                    }
                }
            })
            .map(drop)
    }

    /// Runs `f` as one unit of work of a write transaction; returns once the
    /// transaction holding it is committed.
    pub fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<DieselError>,
    {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let batch = self.begin(&mut state)?;
        let Some(conn) = state.conn.as_mut() else {
            // `begin` opens it or fails; never reached.
            return Err(E::from(DieselError::BrokenTransactionManager));
        };
        // The unit's savepoint (the batch's transaction is depth 1).
        let outcome = match AnsiTransactionManager::begin_transaction(sqlite(conn)) {
            Ok(()) => {
                IN_UNIT.with(|u| u.set(true));
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
                IN_UNIT.with(|u| u.set(false));
                let ended = match &ran {
                    Ok(Ok(_)) => AnsiTransactionManager::commit_transaction(sqlite(conn)),
                    _ => AnsiTransactionManager::rollback_transaction(sqlite(conn)),
                };
                match (ran, ended) {
                    (Ok(Ok(value)), Ok(())) => Ok(Ok(value)),
                    (Ok(Ok(_)), Err(e)) => {
                        let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
                        Ok(Err(E::from(e)))
                    }
                    (Ok(Err(e)), _) => Ok(Err(e)),
                    (Err(panic), _) => Err(panic),
                }
            }
            Err(e) => Ok(Err(E::from(e))),
        };
        if let Some((_, units)) = state.open.as_mut() {
            *units += 1;
        }
        let full = state.open.is_some_and(|(_, units)| units >= MAX_BATCH);
        if full || self.waiting.load(Ordering::SeqCst) == 0 {
            self.commit(&mut state);
        }
        drop(state);
        let value = match outcome {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => return Err(e),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        self.wait_for(batch).map_err(E::from)?;
        Ok(value)
    }

    /// The open batch, opening the connection and the transaction if needed.
    fn begin(&self, state: &mut State) -> Result<u64, DieselError> {
        if let Some((batch, _)) = state.open {
            return Ok(batch);
        }
        if state.conn.is_none() {
            let mut conn = self.manager.open().map_err(|e| {
                DieselError::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection,
                    Box::new(e.to_string()),
                )
            })?;
            // Checkpoints run on the checkpointer's connection, not inside a
            // commit that clients wait for.
            // It writes every page, so it keeps a larger cache (4 MiB).
            sqlite(&mut conn)
                .batch_execute("PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -4096;")?;
            state.conn = Some(conn);
        }
        let Some(conn) = state.conn.as_mut() else {
            return Err(DieselError::BrokenTransactionManager);
        };
        let conn = sqlite(conn);
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN IMMEDIATE") {
            // A connection whose transaction state is in doubt is replaced.
            state.conn = None;
            return Err(e);
        }
        let batch = state.next_batch;
        state.next_batch += 1;
        state.open = Some((batch, 0));
        Ok(batch)
    }

    /// Commits the open batch and wakes its waiters.
    fn commit(&self, state: &mut State) {
        let Some((batch, units)) = state.open.take() else {
            return;
        };
        let started = std::time::Instant::now();
        let result = match state.conn.as_mut() {
            Some(DbConn::Sqlite(conn)) => AnsiTransactionManager::commit_transaction(conn),
            _ => Err(DieselError::BrokenTransactionManager),
        };
        metrics::histogram!("latchkey_sqlite_commit_units").record(units as f64);
        metrics::histogram!("latchkey_sqlite_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        let mut done = lock(&self.done);
        if let Err(e) = result {
            tracing::error!(error = %e, batch, "group commit failed");
            if let Some(DbConn::Sqlite(conn)) = state.conn.as_mut() {
                let _ = AnsiTransactionManager::rollback_transaction(conn);
            }
            state.conn = None;
            done.failed.push_back((batch, e.to_string()));
            while done.failed.len() > FAILURES_KEPT {
                done.failed.pop_front();
            }
        }
        done.through = batch;
        self.committed.notify_all();
    }

    /// Waits until `batch` is committed; its error if the commit failed.
    fn wait_for(&self, batch: u64) -> Result<(), DieselError> {
        let mut done = lock(&self.done);
        while done.through < batch {
            done = self.committed.wait(done).unwrap_or_else(|p| p.into_inner());
        }
        match done.failed.iter().find(|(b, _)| *b == batch) {
            Some((_, e)) => Err(DieselError::DatabaseError(
                diesel::result::DatabaseErrorKind::Unknown,
                Box::new(e.clone()),
            )),
            None => Ok(()),
        }
    }
}
