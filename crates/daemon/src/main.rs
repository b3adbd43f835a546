//! `dagster-daemon`: the background process of the deployment.
//!
//! One loop runs the daemon types (each heartbeats with its recent errors, compat §7.2). It
//! sleeps 20 ms between passes on SQLite; on Postgres a `LISTEN` connection
//! ([`RunListener`]) wakes it when a run becomes QUEUED or CANCELING, with a 1 s poll as the
//! fallback (20 ms while that connection is down).
//!
//! * `QUEUED_RUN_COORDINATOR` ([`queue`]): every pass, so a new QUEUED run is picked up within
//!   milliseconds. Priority, FIFO, `max_concurrent_runs`, tag limits; each claim is the
//!   conditional QUEUED → STARTING transition in storage, safe with several daemons.
//! * `MONITORING` ([`monitor`]): every 2 s: dead workers, start/cancel timeouts, max runtime.
//! * `EVENT_LOG_CONSUMER` ([`retry`], with `run_retries.enabled`): every 2 s on the leader,
//!   re-executes failed runs their `dagster/max_retries` allows.
//! * `SENSOR`: every second on the leader; each RUNNING sensor ticks when its
//!   `minimum_interval_seconds` passed (`dagster_core::instigator::sensor`).
//! * `SCHEDULER`: at each minute boundary (a plain "sleep until the next minute" wake-up: the
//!   database decides which ticks exist, so no cron-scheduler library is needed to wake us),
//!   only on the daemon holding the leader lease (`KvStore::kv_try_lease`, TTL 15 s, renewed
//!   every 5 s), so a standby takes over within ~15 s of the leader dying. A FAILURE tick is
//!   retried while `scheduler.max_tick_retries` allows.
//! * Tick retention ([`retention`]): hourly on the leader.
//!
//! The workspace is reloaded every 60 s; a broken one is logged and the previous definitions
//! are kept. A failing pass is logged and retried (with backoff while the database is
//! unreachable); it never ends the process. SIGTERM/SIGINT: the pass in flight finishes, the
//! lease is released, exit 0.

mod monitor;
mod queue;
mod retention;
mod retry;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dagster_core::config::home::DagsterHome;
use dagster_core::config::instance::RunCoordinatorConfig;
use dagster_core::domain::{now_ts, ErrorInfo};
use dagster_core::exec::DefaultRunLauncher;
use dagster_core::instance::{storage_backend, Instance};
use dagster_core::storage::notify::RunListener;
use dagster_core::storage::{DaemonHeartbeat, Storage, StorageError};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use dagster_core::daemon_health::{
    required_daemons, EVENT_LOG_CONSUMER, HEARTBEAT_INTERVAL_SECONDS, MONITORING,
    QUEUED_RUN_COORDINATOR, SCHEDULER, SENSOR,
};
use dagster_core::logging::{LogFormat, LOG_FORMATS};
const LEADER_LEASE: &str = "daemon/leader";
/// Leader lease TTL (`DAGSTER_DAEMON_LEASE_TTL_SECONDS` overrides it, e.g. in tests); it is
/// renewed every third of the TTL.
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
const LEASE_TTL: f64 = 15.0;
const RELOAD_SECONDS: f64 = 60.0;
const MAX_ERRORS: usize = 5;
const ERROR_WINDOW: f64 = 300.0;

#[derive(Parser)]
#[command(name = "dagster-daemon", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon until SIGTERM/SIGINT.
    Run {
        /// Workspace file(s) (default: $DAGSTER_HOME/workspace.yaml): schedules come from here.
        #[arg(short = 'w', long = "workspace")]
        workspace: Vec<std::path::PathBuf>,
        /// Pipeline config file instead of a workspace.
        #[arg(short = 'f', long = "pipeline-config")]
        pipeline_config: Option<std::path::PathBuf>,
        #[arg(long = "log-level", default_value = "info")]
        log_level: String,
        /// How log lines are written: colored (text), json (one object per line) or rich.
        #[arg(long = "log-format", default_value = "colored", value_parser = clap::builder::PossibleValuesParser::new(LOG_FORMATS))]
        log_format: String,
    },
    /// Exit 0 if every required daemon has a recent heartbeat.
    LivenessCheck,
    /// Delete every daemon heartbeat.
    Wipe,
    /// Heartbeat debugging.
    #[command(subcommand)]
    Debug(DebugCmd),
}

#[derive(Subcommand)]
enum DebugCmd {
    /// Print the stored heartbeats as JSON.
    HeartbeatDump,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run {
            log_level,
            log_format,
            workspace,
            pipeline_config,
        } => run(
            &log_level,
            log_format.parse().unwrap_or_default(),
            workspace,
            pipeline_config,
        ),
        Cmd::LivenessCheck => liveness(),
        Cmd::Wipe => open().and_then(|i| {
            i.storage.wipe_heartbeats()?;
            println!("Daemon heartbeats wiped.");
            Ok(ExitCode::SUCCESS)
        }),
        Cmd::Debug(DebugCmd::HeartbeatDump) => open().and_then(|i| {
            println!(
                "{}",
                serde_json::to_string_pretty(&i.storage.heartbeats()?)?
            );
            Ok(ExitCode::SUCCESS)
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn open() -> Result<Instance> {
    let home = DagsterHome::from_env()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .context("DAGSTER_HOME must be set for dagster-daemon")?;
    Ok(Instance::open(home)?)
}

/// Opens the instance; while the database is unreachable, retries with backoff (up to 30 s)
/// until it answers or SIGTERM/SIGINT arrives (`None`). Configuration errors end the process.
async fn open_with_retry() -> Result<Option<Instance>> {
    use dagster_core::instance::InstanceError;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut wait = 1.0_f64;
    loop {
        match open() {
            Ok(i) => return Ok(Some(i)),
            Err(e)
                if e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<InstanceError>(),
                        Some(InstanceError::Storage(StorageError::Connect { .. }))
                    )
                }) =>
            {
                tracing::error!(error = %format!("{e:#}"), "cannot reach the storage; retrying in {wait:.0} s");
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
            _ = term.recv() => return Ok(None),
            _ = tokio::signal::ctrl_c() => return Ok(None),
        }
        wait = (wait * 2.0).min(30.0);
    }
}

fn liveness() -> Result<ExitCode> {
    let inst = open()?;
    let tolerance: f64 = std::env::var("DAGSTER_DAEMON_HEARTBEAT_TOLERANCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(dagster_core::daemon_health::HEARTBEAT_TOLERANCE_SECONDS);
    let hbs = inst.storage.heartbeats()?;
    let now = now_ts();
    let mut ok = true;
    for d in required_daemons(&inst.config) {
        match hbs.iter().find(|h| h.daemon_type == d) {
            Some(h) if dagster_core::daemon_health::is_fresh(Some(h), now, tolerance) => {
                println!("{d}: healthy")
            }
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

/// Loads the workspace; errors are returned as text (logged by the caller).
fn load_workspace(
    files: &[PathBuf],
    pipeline_config: Option<&Path>,
) -> std::result::Result<Vec<(String, dagster_core::defs::Definitions)>, String> {
    if files.is_empty() && pipeline_config.is_none() {
        return Ok(Vec::new());
    }
    match dagster_core::defs::locations::load_locations(
        files,
        pipeline_config,
        dagster_pipeline::load_with_env,
    ) {
        Ok(l) => {
            for w in &l.warnings {
                tracing::warn!("{w}");
            }
            Ok(l.locations)
        }
        Err(e) => Err(e.to_string()),
    }
}

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

struct Daemon {
    inst: Instance,
    launcher: DefaultRunLauncher,
    daemon_id: String,
    daemons: Vec<&'static str>,
    files: Vec<PathBuf>,
    pipeline_config: Option<PathBuf>,
    locations: Vec<(String, dagster_core::defs::Definitions)>,
    last_reload: f64,
    errors: BTreeMap<&'static str, Errors>,
    last_hb: f64,
    leader: bool,
    last_lease: f64,
    last_alive: f64,
    /// The last queue pass claimed a full batch.
    backlog: bool,
    next_schedule: f64,
    last_monitor: f64,
    last_sensors: f64,
    last_purge: f64,
    failures: u32,
    lease_ttl: f64,
}

impl Daemon {
    fn storage(&self) -> &dyn Storage {
        &*self.inst.storage
    }

    fn record(&mut self, daemon: &'static str, what: &str, e: &anyhow::Error) {
        tracing::error!(daemon, error = %format!("{e:#}"), "{what} failed; retrying");
        self.errors
            .entry(daemon)
            .or_default()
            .push(now_ts(), ErrorInfo::from_anyhow(e));
        self.failures += 1;
        self.last_hb = 0.0; // report the error at once
    }

    /// One pass of every daemon type that is due.
    fn pass(&mut self) {
        let now = now_ts();
        self.failures = 0;
        if now - self.last_reload >= RELOAD_SECONDS {
            self.last_reload = now;
            match load_workspace(&self.files, self.pipeline_config.as_deref()) {
                Ok(l) => self.locations = l,
                Err(e) => tracing::error!(
                    "the workspace has errors; keeping the previous definitions:\n{e}"
                ),
            }
        }
        if now - self.last_lease >= self.lease_ttl / 3.0 || !self.leader {
            match self
                .storage()
                .kv_try_lease(LEADER_LEASE, &self.daemon_id, now, self.lease_ttl)
            {
                Ok(l) => {
                    if l && !self.leader {
                        tracing::info!("this daemon is now the leader (evaluates schedules)");
                        self.next_schedule = now;
                    } else if !l && self.leader {
                        tracing::warn!("lost the leader lease; another daemon evaluates schedules");
                    }
                    self.leader = l;
                    self.last_lease = now;
                }
                Err(e) => {
                    self.leader = false;
                    let unreachable = matches!(e, StorageError::Connect { .. });
                    self.record(SCHEDULER, "renewing the leader lease", &e.into());
                    if unreachable {
                        // Every other step would wait for a connection too: back off now.
                        return;
                    }
                }
            }
        }
        if now - self.last_alive >= self.lease_ttl / 3.0 {
            // This process's liveness lease: run monitoring (on any daemon) fails the runs
            // this daemon claimed but never launched once it has expired.
            let alive = monitor::alive_key(&self.daemon_id);
            match self
                .storage()
                .kv_try_lease(&alive, &self.daemon_id, now, self.lease_ttl)
            {
                Ok(_) => self.last_alive = now,
                Err(e) => self.record(MONITORING, "renewing the liveness lease", &e.into()),
            }
        }
        let expired = self.launcher.expire_idle_workers();
        if expired > 0 {
            tracing::debug!(expired, "stopped idle run workers");
        }
        if let RunCoordinatorConfig::Queued(q) = &self.inst.config.run_coordinator {
            let q = q.clone();
            match queue::dequeue_iteration(self.storage(), &q, &self.launcher, &self.daemon_id) {
                // A full batch: more runs may be waiting; pass again at once.
                Ok(n) => self.backlog = n >= queue::MAX_CLAIMS_PER_PASS,
                Err(e) => {
                    self.backlog = false;
                    self.record(QUEUED_RUN_COORDINATOR, "queued run coordinator pass", &e);
                }
            }
        }
        if now - self.last_monitor >= 2.0 {
            if self.leader && self.inst.config.run_retries.enabled {
                let cfg = self.inst.config.run_retries.clone();
                if let Err(e) = retry::retry_iteration(
                    self.storage(),
                    &cfg,
                    &self.launcher,
                    self.inst.coordinator_kind(),
                    &self.locations,
                ) {
                    self.record(EVENT_LOG_CONSUMER, "run retries pass", &e);
                }
            }
            self.last_monitor = now;
            let s = monitor::MonitorSettings::from_config(&self.inst.config.run_monitoring);
            if let Err(e) = monitor::monitor_iteration(self.storage(), &s, now) {
                self.record(MONITORING, "run monitoring pass", &e);
            }
        }
        if self.leader && now - self.last_purge >= retention::PURGE_INTERVAL_SECONDS {
            self.last_purge = now;
            if let Err(e) =
                retention::purge_iteration(self.storage(), &self.inst.config.retention, now)
            {
                self.record(SCHEDULER, "purging old ticks (retention)", &e);
            }
            if let Err(e) = retention::purge_dead_daemon_leases(self.storage(), now) {
                self.record(MONITORING, "deleting liveness leases of dead daemons", &e);
            }
        }
        if self.leader && now >= self.next_schedule {
            let opts = dagster_core::instigator::schedule::ScheduleOptions {
                max_tick_retries: self.inst.config.scheduler.max_tick_retries,
            };
            let results = dagster_core::instigator::schedule::evaluate_all(
                &self.inst.run_submitter(self.launcher.clone()),
                &self.locations,
                now,
                &opts,
            );
            let mut failed = false;
            for (name, r) in results {
                match r {
                    Ok(ticks) => {
                        for t in ticks {
                            // A failed tick with retries left is evaluated again in 5 s.
                            failed |= t.status == "FAILURE" && opts.max_tick_retries > 0;
                            tracing::info!(schedule = %name, tick = t.tick_id, status = %t.status, runs = ?t.run_ids, "schedule tick at {}", dagster_core::instigator::schedule::iso_utc(t.scheduled_time));
                        }
                    }
                    Err(e) => {
                        failed = true;
                        let e = anyhow::Error::new(e).context(format!("schedule `{name}`"));
                        self.record(SCHEDULER, "scheduler pass", &e);
                    }
                }
            }
            // Next minute boundary (+1 ms like Dagster); after an error (or a failed tick that
            // may be retried) again in 5 s.
            self.next_schedule = if failed {
                now + 5.0
            } else {
                (now / 60.0).floor() * 60.0 + 60.001
            };
        }
        // Sensors: every second on the leader; each sensor runs when its
        // minimum_interval_seconds has passed.
        if self.leader && now - self.last_sensors >= 1.0 {
            self.last_sensors = now;
            let results = dagster_core::instigator::sensor::evaluate_all(
                &self.inst.run_submitter(self.launcher.clone()),
                &self.locations,
                now,
            );
            for (name, r) in results {
                match r {
                    Ok(Some(t)) if t.status == "FAILURE" => {
                        let e = anyhow::anyhow!(
                            "sensor `{name}`: tick {} failed (see `dagster sensor logs`)",
                            t.tick_id
                        );
                        self.record(SENSOR, "sensor tick", &e);
                    }
                    Ok(Some(t)) => {
                        tracing::info!(sensor = %name, tick = t.tick_id, status = %t.status, runs = ?t.run_ids, skip_reason = ?t.skip_reason, "sensor tick")
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let e = anyhow::Error::new(e).context(format!("sensor `{name}`"));
                        self.record(SENSOR, "sensor pass", &e);
                    }
                }
            }
        }
        let hb_interval = std::env::var("DAGSTER_DAEMON_HEARTBEAT_INTERVAL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(HEARTBEAT_INTERVAL_SECONDS);
        if now - self.last_hb >= hb_interval {
            let mut ok = true;
            for d in self.daemons.clone() {
                let errors = self.errors.entry(d).or_default().current(now);
                let hb = DaemonHeartbeat {
                    daemon_type: d.to_string(),
                    daemon_id: self.daemon_id.clone(),
                    timestamp: now,
                    errors,
                };
                if let Err(e) = self.inst.storage.add_heartbeat(&hb) {
                    tracing::error!(error = %e, "writing the heartbeat failed; retrying");
                    ok = false;
                    self.failures += 1;
                }
            }
            if ok {
                self.last_hb = now;
            }
        }
    }
}

fn run(
    log_level: &str,
    log_format: LogFormat,
    workspace: Vec<PathBuf>,
    pipeline_config: Option<PathBuf>,
) -> Result<ExitCode> {
    dagster_core::logging::init(log_level, "info", log_format, true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let Some(inst) = rt.block_on(open_with_retry())? else {
        return Ok(ExitCode::SUCCESS);
    };
    inst.home.check_writable()?;
    for w in &inst.warnings {
        tracing::warn!("{w}");
    }
    let daemons = required_daemons(&inst.config);
    tracing::info!(
        "Instance is configured with the following daemons: {:?}",
        daemons
    );
    let exe = std::env::current_exe()?;
    let dagster_bin = exe
        .parent()
        .map(|p| p.join("dagster"))
        .context("locating the dagster binary")?;
    // The queue's runs go to reusable workers (`run_launcher.config`); runs launched otherwise
    // (run retries, sensors and schedules without a queue) too.
    let launcher = DefaultRunLauncher::new(dagster_bin, inst.home.root().to_path_buf())
        .with_worker_reuse(inst.config.run_launcher.worker_reuse());
    let mut files = workspace;
    if files.is_empty() && pipeline_config.is_none() {
        let cwd = PathBuf::from("workspace.yaml");
        let default = inst.home.workspace_yaml();
        if cwd.is_file() {
            files.push(cwd);
        } else if default.is_file() {
            files.push(default);
        } else {
            tracing::warn!("no workspace (-w, -f, ./workspace.yaml or $DAGSTER_HOME/workspace.yaml): no schedules or sensors are evaluated");
        }
    }
    // A broken workspace does not stop the daemon (the queue and monitoring do not need it):
    // it is logged and loaded again every 60 s.
    let locations = load_workspace(&files, pipeline_config.as_deref()).unwrap_or_else(|e| {
        tracing::error!(
            "the workspace has errors; schedules and sensors wait for a fixed one:\n{e}"
        );
        Vec::new()
    });
    let mut d = Daemon {
        inst,
        launcher,
        daemon_id: uuid::Uuid::new_v4().to_string(),
        daemons,
        files,
        pipeline_config,
        locations,
        last_reload: now_ts(),
        errors: BTreeMap::new(),
        last_hb: 0.0,
        leader: false,
        last_lease: 0.0,
        last_alive: 0.0,
        backlog: false,
        next_schedule: 0.0,
        last_monitor: 0.0,
        last_sensors: 0.0,
        last_purge: 0.0,
        failures: 0,
        lease_ttl: std::env::var("DAGSTER_DAEMON_LEASE_TTL_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|t| *t >= 1.0)
            .unwrap_or(LEASE_TTL),
    };
    // Postgres: a LISTEN connection wakes the loop as soon as a run is QUEUED or CANCELING.
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let waker = wake.clone();
    let listener = RunListener::spawn(&storage_backend(&d.inst.config), move || waker.notify_one())
        .context("starting the LISTEN thread")?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut backoff = 0.1_f64;
        loop {
            let pass_started = std::time::Instant::now();
            d.pass();
            // While the database is unreachable, back off up to 30 s. Else poll every 20 ms
            // (SQLite, or Postgres while the LISTEN connection is down), so a queued run starts
            // within ~20 ms (an idle pass is two indexed queries); with LISTEN, a notification
            // wakes the loop at once and the poll is a 1 s fallback. Never past the next minute
            // boundary on the leader.
            let sleep = if d.failures > 0 {
                backoff = (backoff * 2.0).min(30.0);
                backoff
            } else {
                if backoff > 0.1 {
                    tracing::info!("the storage answers again");
                }
                backoff = 0.1;
                let poll = if d.backlog {
                    0.0
                } else if listener.as_ref().is_some_and(RunListener::is_connected) {
                    LISTEN_FALLBACK_POLL_SECONDS
                } else {
                    IDLE_POLL_SECONDS
                };
                if d.leader {
                    poll.min((d.next_schedule - now_ts()).max(0.0))
                } else {
                    poll
                }
            };
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
    // Every claimed run was launched by the pass that claimed it: nothing is left to orphan.
    if let Err(e) = d
        .storage()
        .kv_release_lease(&monitor::alive_key(&d.daemon_id), &d.daemon_id)
    {
        tracing::warn!(error = %e, "could not release the liveness lease; it expires in {} s", d.lease_ttl);
    }
    if d.leader {
        if let Err(e) = d.storage().kv_release_lease(LEADER_LEASE, &d.daemon_id) {
            tracing::warn!(error = %e, "could not release the leader lease; it expires in {} s", d.lease_ttl);
        }
    }
    Ok(ExitCode::SUCCESS)
}
