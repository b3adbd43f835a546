//! The global allocator and how it gives memory back (issue 14; figures in docs/BENCHMARKS.md,
//! "Webserver memory under expensive GraphQL requests", from scripts/bench_webserver_memory.sh).
//!
//! jemalloc by default (feature `jemalloc`), with settings built in through
//! `JEMALLOC_SYS_WITH_MALLOC_CONF` in `.cargo/config.toml`: one arena, thread caches only for
//! objects up to 1 KiB, and freed pages given back to the system at once (decay 0). An idle
//! thread never empties its cache by itself, so each HTTP worker also flushes its cache (and
//! purges, for decay times set from outside) once a second while requests come in
//! ([`return_freed_memory_after_requests`]).
//!
//! 1,000 expensive requests, 16 at a time, 2 cores: 10 MB of anonymous memory left 10 s after
//! (4 MB idle; the rest of the 33 MB RSS is the binary's own code and data pages), against 59 MB with glibc malloc (its per-thread arenas keep it; `malloc_trim`
//! would need `unsafe`, which this workspace forbids) and 36 MB with jemalloc's own defaults
//! (8 arenas, 32 KiB thread caches, 10 s decay: the idle caches alone held 55 MB); peak RSS
//! 73–87 MB against 90 MB and 119–152 MB. The price is CPU on large answers: 11–12 s for the
//! burst against 7.5 s with a 250 ms decay (which leaves 20 MB behind). mimalloc (feature
//! `mimalloc`) kept the most.

use std::time::Duration;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this binary was built with, for the start-up log.
pub const NAME: &str = if cfg!(feature = "jemalloc") {
    "jemalloc"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "glibc malloc"
};

/// Every `period` in which requests were admitted (`admitted()` changed), and once more after
/// they stop: flushes the calling thread's cache and gives the pages freed since back to the
/// system ([`flush_thread_cache`], [`purge`]). Runs on each HTTP worker thread.
pub async fn return_freed_memory_after_requests(admitted: impl Fn() -> u64, period: Duration) {
    let mut seen = admitted();
    let mut dirty = false;
    loop {
        tokio::time::sleep(period).await;
        let now = admitted();
        if now != seen || dirty {
            // One more round after the last change: what the last requests freed.
            dirty = now != seen;
            seen = now;
            flush_thread_cache();
            purge();
            tracing::trace!(thread = ?std::thread::current().name(), "freed memory returned");
        }
    }
}

/// Returns the objects cached by the calling thread (jemalloc's tcache) to their arena, by
/// turning its cache off and on again (`thread.tcache.enabled`). An idle thread never does it
/// on its own. Without jemalloc: nothing.
pub fn flush_thread_cache() {
    #[cfg(feature = "jemalloc")]
    {
        use tikv_jemalloc_ctl::{Access, AsName};
        let name = "thread.tcache.enabled\0".name();
        if name.write(false).is_ok() {
            let _ = name.write(true);
        }
    }
}

/// Gives the free pages of every jemalloc arena back to the system now. jemalloc purges an
/// arena when its decay time is set to 0, so each arena's decay times are set to 0 and back
/// (`arena.<i>.dirty_decay_ms`, `…muzzy_decay_ms`; an arena not created yet answers an error and
/// is passed over). Without jemalloc: nothing.
pub fn purge() {
    #[cfg(feature = "jemalloc")]
    {
        use tikv_jemalloc_ctl::{Access, AsName};
        let Ok(arenas) = tikv_jemalloc_ctl::arenas::narenas::read() else {
            return;
        };
        for i in 0..arenas {
            for kind in ["dirty", "muzzy"] {
                let key = format!("arena.{i}.{kind}_decay_ms\0");
                let name = key.name();
                if let Ok(ms) = Access::<isize>::read(name) {
                    if ms != 0 && name.write(0isize).is_ok() {
                        let _ = name.write(ms);
                    }
                }
            }
        }
    }
}

#[cfg(all(test, feature = "jemalloc"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tikv_jemalloc_ctl::{Access, AsName};

    /// The settings of `.cargo/config.toml` are built in (a build outside this workspace, or a
    /// changed variable name, would silently fall back to jemalloc's defaults).
    #[test]
    fn built_in_settings_apply() {
        let narenas: u32 = "opt.narenas\0".name().read().unwrap();
        let tcache_max: usize = "opt.tcache_max\0".name().read().unwrap();
        let dirty: isize = "opt.dirty_decay_ms\0".name().read().unwrap();
        assert_eq!((narenas, tcache_max, dirty), (1, 1024, 0));
        let big = vec![1u8; 8 << 20];
        drop(big);
        flush_thread_cache();
        purge();
        let enabled: bool = "thread.tcache.enabled\0".name().read().unwrap();
        assert!(enabled, "the thread cache is on again after the flush");
    }
}
