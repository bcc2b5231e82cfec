//! The process's allocator settings, shared by the server and the benchmarks that time what
//! the server does.

/// Each password check (Argon2id, m = 19 MiB) takes one big block. glibc raises its mmap
/// threshold after the first such block is freed and serves the next ones from per-thread heaps
/// that never shrink: a login storm left the server holding gigabytes. A fixed threshold keeps
/// big blocks on mmap, handed back to the system as soon as they are freed (each check then
/// gets fresh pages the kernel clears first, which a benchmark of checks must do alike).
///
/// Fixing the mmap threshold also pins the trim threshold at its default of 128 KiB, so the
/// heap was shrunk and grown again around every compressed answer (the encoder's tables are a
/// few hundred KiB): the trim threshold is set apart, at 16 MiB of free heap kept per arena.
pub fn return_big_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts the allocator's tuning; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    }
}

/// Hands the heap's free pages back to the system (after a start-up that filled caches it
/// has freed).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; nothing the program holds moves.
    unsafe {
        libc::malloc_trim(0);
    }
}
