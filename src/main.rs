fn main() {
    limit_malloc_arenas();
    if let Err(e) = latchkey::cli::main() {
        eprintln!("latchkey: {e}");
        std::process::exit(1);
    }
}

/// glibc gives threads up to eight malloc arenas per core, and each keeps
/// what it once held: after a burst served by many blocking threads the
/// process stays large. One arena per core keeps the resident size near
/// what is in use (the threads that allocate most, the HTTP workers, are
/// one per core anyway). Set before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // SAFETY: mallopt only sets an allocator parameter; no thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
