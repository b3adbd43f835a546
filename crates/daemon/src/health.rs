//! Heartbeats (compat doc §7.2): every daemon type of the loops this process runs heartbeats
//! with its errors of the last 300 s (at most 5), every `heartbeat_interval` seconds and at once
//! after an error. `liveness-check` reads them back.

use dagster_core::daemon_health::is_fresh;
use dagster_core::domain::{now_ts, ErrorInfo};
use dagster_core::storage::{DaemonHeartbeat, Storage};
use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;

/// At most this many recent errors per daemon type are reported.
const MAX_ERRORS: usize = 5;
/// Errors older than this many seconds are no longer reported.
const ERROR_WINDOW: f64 = 300.0;

/// Recent errors of one daemon type (≤ 5, from the last 300 s).
#[derive(Default)]
struct Errors(VecDeque<(f64, ErrorInfo)>);

impl Errors {
    fn push(&mut self, now: f64, e: ErrorInfo) {
        self.0.push_front((now, e));
        self.0.truncate(MAX_ERRORS);
    }
    fn current(&mut self, now: f64) -> Vec<ErrorInfo> {
        self.0.retain(|(t, _)| now - *t <= ERROR_WINDOW);
        self.0.iter().map(|(_, e)| e.clone()).collect()
    }
}

/// The heartbeat and error bookkeeping of one daemon process.
pub struct Health {
    daemon_id: String,
    /// The daemon types heartbeated, sorted ([`crate::loops::daemon_types`]).
    daemon_types: Vec<&'static str>,
    interval: f64,
    errors: BTreeMap<&'static str, Errors>,
    last_heartbeat: f64,
    /// Failures in the current pass (errors recorded, heartbeats not written).
    failures: u32,
}

impl Health {
    pub fn new(daemon_id: String, daemon_types: Vec<&'static str>, interval: f64) -> Self {
        Health {
            daemon_id,
            daemon_types,
            interval,
            errors: BTreeMap::new(),
            last_heartbeat: 0.0,
            failures: 0,
        }
    }

    /// A new pass starts: no failures yet.
    pub fn start_pass(&mut self) {
        self.failures = 0;
    }

    /// Whether anything failed in this pass (the daemon then backs off).
    pub fn pass_failed(&self) -> bool {
        self.failures > 0
    }

    /// Logs an error of `daemon` (a daemon type) and reports it with the next heartbeat, which
    /// is written at the end of this pass.
    pub fn record(&mut self, daemon: &'static str, what: &str, e: &anyhow::Error) {
        tracing::error!(daemon, error = %format!("{e:#}"), "{what} failed; retrying");
        self.errors
            .entry(daemon)
            .or_default()
            .push(now_ts(), ErrorInfo::from_anyhow(e));
        self.failures += 1;
        self.last_heartbeat = 0.0; // report the error at once
    }

    /// Writes one heartbeat per daemon type if the interval has passed (or an error was
    /// recorded); a failed write is counted as a failure and retried the next pass.
    pub fn heartbeat_if_due(&mut self, storage: &dyn Storage, now: f64) {
        if now - self.last_heartbeat < self.interval {
            return;
        }
        let mut ok = true;
        for &d in &self.daemon_types {
            let errors = self.errors.entry(d).or_default().current(now);
            let hb = DaemonHeartbeat {
                daemon_type: d.to_string(),
                daemon_id: self.daemon_id.clone(),
                timestamp: now,
                errors,
            };
            if let Err(e) = storage.add_heartbeat(&hb) {
                tracing::error!(error = %e, "writing the heartbeat failed; retrying");
                ok = false;
                self.failures += 1;
            }
        }
        if ok {
            self.last_heartbeat = now;
        }
    }
}

/// `dagster-daemon liveness-check`: prints each daemon type's state; success if every one has
/// a heartbeat at most one interval plus `tolerance` seconds old.
pub fn liveness_check(
    storage: &dyn Storage,
    daemon_types: &[&'static str],
    tolerance: f64,
) -> anyhow::Result<ExitCode> {
    let hbs = storage.heartbeats()?;
    let now = now_ts();
    let mut ok = true;
    for &d in daemon_types {
        match hbs.iter().find(|h| h.daemon_type == d) {
            Some(h) if is_fresh(Some(h), now, tolerance) => println!("{d}: healthy"),
            Some(h) => {
                ok = false;
                println!("{d}: last heartbeat {:.0} s ago", now - h.timestamp);
            }
            None => {
                ok = false;
                println!("{d}: no heartbeat");
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
