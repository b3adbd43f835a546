//! The run loop: passes over the [loops](crate::loops), the leader and liveness leases, the
//! pause between passes (with wake-ups from Postgres notifications), backoff while the
//! database is unreachable, the workspace reload and SIGTERM/SIGINT.

use crate::config::DaemonConfig;
use crate::health::Health;
use crate::loops::{self, monitor, DaemonLoop, LoopContext, Pass};
use crate::workspace::Workspace;
use anyhow::{Context, Result};
use dagster_core::daemon_health::{MONITORING, SCHEDULER};
use dagster_core::domain::now_ts;
use dagster_core::exec::{RunLauncher, RunSubmitter};
use dagster_core::instance::{storage_backend, Instance};
use dagster_core::storage::notify::RunListener;
use dagster_core::storage::{Storage, StorageError};
use std::time::Duration;

/// kvs key of the leader lease: its holder runs the leader-only loops.
const LEADER_LEASE: &str = "daemon/leader";
/// Pause between passes while healthy (SQLite, or Postgres without a LISTEN connection).
const IDLE_POLL_SECONDS: f64 = 0.02;
/// Pause between passes on Postgres while the LISTEN connection is up.
const LISTEN_FALLBACK_POLL_SECONDS: f64 = 1.0;
/// Least time between the starts of two passes woken by notifications (`daemon_bench dequeue
/// postgres 2000 20`: 0 ms was slowest, 10 and 40 ms within noise of each other): while runs finish
/// back to back (each one a notification), one pass claims the slots several of them freed
/// instead of reading the queue once per finished run. A wake after a quiet spell is not
/// delayed.
const MIN_WOKEN_PASS_SPACING: Duration = Duration::from_millis(10);

/// One daemon process: its loops and what they run with.
pub struct Daemon {
    inst: Instance,
    runs: RunSubmitter,
    config: DaemonConfig,
    daemon_id: String,
    workspace: Workspace,
    loops: Vec<Box<dyn DaemonLoop>>,
    health: Health,
    leader: bool,
    last_lease: f64,
    last_alive: f64,
    /// A loop asked for another pass at once (the queue claimed a full batch).
    pass_again: bool,
}

impl Daemon {
    pub fn new(
        inst: Instance,
        launcher: RunLauncher,
        config: DaemonConfig,
        loops: Vec<Box<dyn DaemonLoop>>,
        workspace: Workspace,
    ) -> Self {
        let daemon_id = uuid::Uuid::new_v4().to_string();
        let health = Health::new(
            daemon_id.clone(),
            loops::daemon_types(&loops),
            config.heartbeat_interval,
        );
        Daemon {
            runs: RunSubmitter::new(inst.storage.clone(), launcher, config.coordinator),
            inst,
            config,
            daemon_id,
            workspace,
            loops,
            health,
            leader: false,
            last_lease: 0.0,
            last_alive: 0.0,
            pass_again: false,
        }
    }

    fn storage(&self) -> &dyn Storage {
        &*self.inst.storage
    }

    /// Renews the leader and liveness leases as due; returns whether this daemon became the
    /// leader, or `None` when the storage is unreachable (the pass stops there).
    fn renew_leases(&mut self, now: f64) -> Option<bool> {
        let ttl = self.config.lease_ttl;
        let mut became_leader = false;
        if now - self.last_lease >= ttl / 3.0 || !self.leader {
            match self
                .storage()
                .kv_try_lease(LEADER_LEASE, &self.daemon_id, now, ttl)
            {
                Ok(l) => {
                    if l && !self.leader {
                        tracing::info!("this daemon is now the leader (evaluates schedules)");
                        became_leader = true;
                    } else if !l && self.leader {
                        tracing::warn!("lost the leader lease; another daemon evaluates schedules");
                    }
                    self.leader = l;
                    self.last_lease = now;
                }
                Err(e) => {
                    self.leader = false;
                    let unreachable = matches!(e, StorageError::Connect { .. });
                    self.health
                        .record(SCHEDULER, "renewing the leader lease", &e.into());
                    if unreachable {
                        // Every other step would wait for a connection too: back off now.
                        return None;
                    }
                }
            }
        }
        if now - self.last_alive >= ttl / 3.0 {
            // This process's liveness lease: run monitoring (on any daemon) fails the runs
            // this daemon claimed but never launched once it has expired.
            let alive = monitor::alive_key(&self.daemon_id);
            match self
                .storage()
                .kv_try_lease(&alive, &self.daemon_id, now, ttl)
            {
                Ok(_) => self.last_alive = now,
                Err(e) => self
                    .health
                    .record(MONITORING, "renewing the liveness lease", &e.into()),
            }
        }
        Some(became_leader)
    }

    /// One pass: the workspace reload and the leases as due, every loop that is due, then the
    /// heartbeats as due.
    fn pass(&mut self) {
        let now = now_ts();
        self.health.start_pass();
        self.workspace.reload_if_due(now);
        let Some(became_leader) = self.renew_leases(now) else {
            return;
        };
        let expired = self.runs.launcher().expire_idle_workers();
        if expired > 0 {
            tracing::debug!(expired, "stopped idle run workers");
        }
        let mut ctx = LoopContext {
            pass: Pass {
                now,
                leader: self.leader,
                became_leader,
            },
            daemon_id: &self.daemon_id,
            instance: &self.inst,
            runs: &self.runs,
            locations: self.workspace.locations(),
            health: &mut self.health,
            pass_again: false,
        };
        loops::run_due(&mut self.loops, &mut ctx);
        self.pass_again = ctx.pass_again;
        self.health.heartbeat_if_due(&*self.inst.storage, now);
    }

    /// How long to sleep after a pass (`listening`: the Postgres LISTEN connection is up);
    /// doubles `backoff` after a failed pass and resets it after a good one.
    fn pause(&self, backoff: &mut f64, listening: bool) -> f64 {
        // While the database is unreachable, back off up to 30 s. Else poll every 20 ms
        // (SQLite, or Postgres while the LISTEN connection is down), so a queued run starts
        // within ~20 ms (an idle pass is two indexed queries); with LISTEN, a notification
        // wakes the loop at once and the poll is a 1 s fallback. Never past the time a loop
        // wants to run at (the scheduler's next minute boundary on the leader).
        if self.health.pass_failed() {
            *backoff = (*backoff * 2.0).min(30.0);
            return *backoff;
        }
        if *backoff > 0.1 {
            tracing::info!("the storage answers again");
        }
        *backoff = 0.1;
        let poll = if self.pass_again {
            0.0
        } else if listening {
            LISTEN_FALLBACK_POLL_SECONDS
        } else {
            IDLE_POLL_SECONDS
        };
        match loops::wake_by(&self.loops, self.leader) {
            Some(t) => poll.min((t - now_ts()).max(0.0)),
            None => poll,
        }
    }

    /// Passes until SIGTERM/SIGINT, then releases the leases. A failing pass is logged and
    /// retried; it never ends the process.
    pub fn run(mut self, rt: &tokio::runtime::Runtime) -> Result<()> {
        // Postgres: a LISTEN connection wakes the loop as soon as a run is QUEUED or CANCELING.
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let waker = wake.clone();
        let listener = RunListener::spawn(&storage_backend(&self.inst.config), move || {
            waker.notify_one()
        })
        .context("starting the LISTEN thread")?;
        rt.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let mut backoff = 0.1_f64;
            loop {
                let pass_started = std::time::Instant::now();
                self.pass();
                let listening = listener.as_ref().is_some_and(RunListener::is_connected);
                let sleep = self.pause(&mut backoff, listening);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(sleep)) => {}
                    _ = wake.notified() => {
                        let since = pass_started.elapsed();
                        if since < MIN_WOKEN_PASS_SPACING {
                            tokio::time::sleep(MIN_WOKEN_PASS_SPACING - since).await;
                        }
                    }
                    _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                    _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted: shutting down"); break; }
                }
            }
            anyhow::Ok(())
        })?;
        self.release_leases();
        Ok(())
    }

    /// Every claimed run was launched by the pass that claimed it: nothing is left to orphan.
    fn release_leases(&self) {
        let ttl = self.config.lease_ttl;
        if let Err(e) = self
            .storage()
            .kv_release_lease(&monitor::alive_key(&self.daemon_id), &self.daemon_id)
        {
            tracing::warn!(error = %e, "could not release the liveness lease; it expires in {ttl} s");
        }
        if self.leader {
            if let Err(e) = self
                .storage()
                .kv_release_lease(LEADER_LEASE, &self.daemon_id)
            {
                tracing::warn!(error = %e, "could not release the leader lease; it expires in {ttl} s");
            }
        }
    }
}
