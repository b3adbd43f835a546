//! The launcher's pool of reusable run workers, driven with a stand-in worker: a shell script
//! that speaks the `dagster api run-worker` protocol (reads a run id per line on stdin, writes
//! it back when "finished") without executing anything. What is tested is the pool: reuse,
//! `max_runs_per_worker`, idle expiry, and that a dead worker is not handed a run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // tests: a failed unwrap is a failed test; sleeps run on plain threads

use dagster_core::config::instance::WorkerReuse;
use dagster_core::exec::DefaultRunLauncher;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn stand_in_worker(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("fake-dagster");
    std::fs::write(
        &path,
        "#!/bin/sh\n# called as: fake-dagster api run-worker\nwhile read id; do echo \"$id\"; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty()
        && stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
}

fn launcher(
    dir: &std::path::Path,
    max_runs_per_worker: u64,
    max_idle_workers: u64,
    idle_timeout_seconds: u64,
) -> DefaultRunLauncher {
    DefaultRunLauncher::new(stand_in_worker(dir), dir.join("home")).with_worker_reuse(WorkerReuse {
        max_runs_per_worker,
        max_idle_workers,
        idle_timeout_seconds,
    })
}

/// Hands `run` to the pool and waits until its worker finished it and is the one idle worker.
fn run_until_idle(l: &DefaultRunLauncher, run: &str) -> u32 {
    let pid = l.spawn(run).unwrap();
    wait_until(&format!("the worker to finish {run}"), || {
        l.pooled_workers() == (1, 0)
    });
    pid
}

#[test]
fn an_idle_worker_takes_the_next_run_until_max_runs_per_worker() {
    let dir = tempfile::tempdir().unwrap();
    let l = launcher(dir.path(), 2, 4, 60);
    let first = run_until_idle(&l, "run-1");
    // Each run gets its own log file, created by the launcher for a new worker.
    assert!(dir.path().join("home/history/run-1/worker.log").is_file());
    let second = l.spawn("run-2").unwrap();
    assert_eq!(second, first, "the idle worker is reused");
    // Its second run was its last: it is not kept and exits.
    wait_until("the worker to leave the pool", || {
        l.pooled_workers() == (0, 0)
    });
    wait_until("the worker to exit", || !alive(first));
    let third = l.spawn("run-3").unwrap();
    assert_ne!(third, first, "a new worker after max_runs_per_worker");
    wait_until("the worker to finish run-3", || {
        l.pooled_workers() == (1, 0)
    });
    // Two runs at once: the idle worker takes one, a new worker the other.
    let a = l.spawn("run-4").unwrap();
    let b = l.spawn("run-5").unwrap();
    assert_eq!(a, third);
    assert_ne!(b, third);
}

#[test]
fn idle_workers_expire_and_dead_ones_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let l = launcher(dir.path(), 100, 1, 0);
    let pid = run_until_idle(&l, "run-1");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(l.expire_idle_workers(), 1);
    wait_until("the expired worker to exit", || !alive(pid));

    // A worker killed while idle is not handed a run: a new one is started.
    let l = launcher(dir.path(), 100, 1, 60);
    let pid = run_until_idle(&l, "run-2");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the killed worker to leave the pool", || {
        l.pooled_workers() == (0, 0)
    });
    let next = l.spawn("run-3").unwrap();
    assert_ne!(next, pid);
}
