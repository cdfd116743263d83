//! Password hashing: argon2id, OWASP parameters (m=19456 KiB, t=2, p=1),
//! PHC strings.
//!
//! Every hash runs on one of a fixed set of argon2 threads (one per core),
//! each reusing one block buffer: memory for argon2 is bounded by
//! `cores × 19 MiB` however many requests wait, and a busy thread does not
//! fault 19 MiB of fresh pages in for every hash. [`hash`] and [`verify`]
//! block their caller until the pool has answered; callers run them on a
//! blocking thread (see `state::Hasher`).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Shortest and longest accepted password, in bytes.
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// argon2 memory per hash, in KiB (= 1 KiB blocks).
pub const MEMORY_KIB: u32 = 19_456;

/// A thread idle this long gives its buffer back to the system.
const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// Capacity of a buffer, in blocks: above glibc's largest dynamic mmap
/// threshold (32 MiB), so the buffer is always its own mapping and freeing
/// it returns the memory instead of raising the threshold (which would put
/// the next buffer in a per-thread arena that keeps it). Only the blocks in
/// use are touched, so only those count in RSS.
const BUFFER_CAPACITY_BLOCKS: usize = 33 * 1024;

/// Hashing failed: the argon2 threads are gone or a job of theirs panicked,
/// or argon2 refused its input. A server error, never a wrong password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

impl From<argon2::Error> for HashError {
    fn from(e: argon2::Error) -> Self {
        HashError(e.to_string())
    }
}

impl From<argon2::password_hash::Error> for HashError {
    fn from(e: argon2::password_hash::Error) -> Self {
        HashError(e.to_string())
    }
}

fn params() -> Result<Params, HashError> {
    Ok(Params::new(MEMORY_KIB, 2, 1, None)?)
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The argon2 threads and their queue.
struct Pool {
    jobs: Mutex<Sender<Job>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            // A thread that cannot start leaves the others; with none, the
            // queue has no receiver and every job runs on its caller.
            if let Err(e) = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(&rx))
            {
                tracing::warn!(error = %e, "cannot start an argon2 thread");
            }
        }
        Pool {
            jobs: Mutex::new(tx),
        }
    })
}

/// Nice value of the argon2 threads. Under a login flood they take what
/// the cores have left after the HTTP workers, so `/healthz` and token
/// checks stay quick; on an otherwise idle machine they run at full speed.
const NICE: libc::c_int = 10;

#[cfg(target_os = "linux")]
fn lower_priority() {
    // Linux applies a nice value per thread (the id `setpriority` takes for
    // PRIO_PROCESS may be a thread id). Failing is harmless: full priority.
    // SAFETY: two syscalls about the calling thread, no memory involved.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

fn worker(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    let mut buffer: Vec<Block> = Vec::new();
    loop {
        let next = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv_timeout(IDLE_RELEASE)
        };
        match next {
            Ok(job) => {
                // A panicking job drops its reply (its caller sees the
                // panic); the thread and its buffer carry on.
                let run = std::panic::AssertUnwindSafe(|| job(&mut buffer));
                if std::panic::catch_unwind(run).is_err() {
                    buffer = Vec::new();
                }
            }
            Err(RecvTimeoutError::Timeout) => buffer = Vec::new(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Runs `f` with a block buffer on an argon2 thread and waits for it.
fn on_pool<T: Send + 'static>(
    f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Result<T, HashError> {
    let (reply_tx, reply_rx) = mpsc::channel();
    let job: Job = Box::new(move |buffer| {
        let _ = reply_tx.send(f(buffer));
    });
    let sent = pool()
        .jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job);
    // The pool lives as long as the process; were its threads all gone,
    // the job runs here instead.
    if let Err(mpsc::SendError(job)) = sent {
        job(&mut Vec::new());
    }
    reply_rx
        .recv()
        .map_err(|_| HashError("the argon2 job panicked".into()))
}

/// The first `blocks` blocks of `buffer`, grown (zeroed) when it is smaller.
fn blocks_of(buffer: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if buffer.len() < blocks {
        if buffer.capacity() < blocks {
            *buffer = Vec::with_capacity(blocks.max(BUFFER_CAPACITY_BLOCKS));
        }
        buffer.resize(blocks, Block::default());
    }
    &mut buffer[..blocks]
}

/// argon2id with our parameters into a PHC string, using `buffer`.
fn hash_with(
    password: &[u8],
    salt: &SaltString,
    buffer: &mut Vec<Block>,
) -> Result<String, HashError> {
    let params = params()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let blocks = blocks_of(buffer, params.block_count());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2
            .hash_password_into_with_memory(password, salt_raw, out, &mut *blocks)
            .map_err(Into::into)
    })?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string())
}

/// Verifies `password` against the PHC string `phc` (any argon2 variant and
/// parameters it names), using `buffer`; the comparison is constant-time.
fn verify_with(password: &[u8], phc: &str, buffer: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let blocks = blocks_of(buffer, params.block_count());
    let computed = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password, salt_raw, out, &mut *blocks)
            .map_err(Into::into)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|computed| computed == expected)
}

/// Hashes a password into a PHC string with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let password = password.as_bytes().to_vec();
    on_pool(move |buffer| hash_with(&password, &SaltString::generate(&mut OsRng), buffer))?
}

/// The stored "hash" of a user who has no password (provisioned by single
/// sign-on): no password verifies against it.
pub const NO_PASSWORD: &str = "!no-password";

/// A hash verified against when there is no real hash to check, so the
/// answer costs the same time either way: our parameters, a random salt
/// and a random output, which no password is known to give (and the
/// answer against it is discarded anyway).
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$7/cuTQ4pzvjR/ytZKzFdHw$E2KxEY0W61T3MMR52A4S3Rb5CgQ9YTIiOteBY2oCPF4"
}

/// Verifies a password against a PHC string (constant time inside argon2).
/// A malformed stored hash (or [`NO_PASSWORD`]) verifies as false, after the
/// same argon2 work as a real one.
pub fn verify(password: &str, phc: &str) -> Result<bool, HashError> {
    // A stored hash that does not parse costs the same argon2 work as one
    // that does (against the dummy hash), and verifies as false.
    let usable = PasswordHash::new(phc).is_ok();
    let target = if usable { phc } else { dummy_hash() }.to_string();
    let password = password.as_bytes().to_vec();
    let matched = on_pool(move |buffer| verify_with(&password, &target, buffer))?;
    Ok(usable && matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn hash_then_verify() -> TestResult {
        let phc = hash("correct horse battery")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &phc)?);
        assert!(!verify("correct horse batterz", &phc)?);
        assert!(!verify("x", "not a phc string")?);
        Ok(())
    }

    #[test]
    fn the_dummy_hash_costs_what_ours_cost() -> TestResult {
        let dummy = PasswordHash::new(dummy_hash())?;
        let (theirs, ours) = (Params::try_from(&dummy)?, params()?);
        assert_eq!(
            (theirs.m_cost(), theirs.t_cost(), theirs.p_cost()),
            (ours.m_cost(), ours.t_cost(), ours.p_cost())
        );
        assert_eq!(Algorithm::try_from(dummy.algorithm)?, Algorithm::Argon2id);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            Some(Params::DEFAULT_OUTPUT_LEN)
        );
        assert!(!verify("", dummy_hash())?);
        Ok(())
    }

    #[test]
    fn agrees_with_the_argon2_crate_both_ways() -> TestResult {
        let salt = SaltString::generate(&mut OsRng);
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params()?)
            .hash_password(b"correct horse battery", &salt)?
            .to_string();
        let mut buffer = Vec::new();
        assert_eq!(
            hash_with(b"correct horse battery", &salt, &mut buffer)?,
            reference
        );
        // Other parameters and variants than ours still verify (a smaller
        // buffer in use, then a larger one again).
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(1024, 1, 1, None)?,
        )
        .hash_password(b"correct horse battery", &salt)?
        .to_string();
        assert!(verify_with(b"correct horse battery", &other, &mut buffer));
        assert!(!verify_with(b"correct horse batterz", &other, &mut buffer));
        let ours = hash("correct horse battery")?;
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &PasswordHash::new(&ours)?)
            .is_ok());
        assert!(verify_with(
            b"correct horse battery",
            &reference,
            &mut buffer
        ));
        Ok(())
    }
}
