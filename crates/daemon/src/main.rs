//! `dagster-daemon`: the background process of the deployment.
//!
//! The daemon is a list of loops ([`loops::all_loops`], one module each under `loops/`), run in
//! passes by one thread ([`daemon`]). Each loop is a [`loops::DaemonLoop`]: its name, the daemon
//! type it heartbeats as, when it is due, whether only the leader runs it. The daemon types
//! heartbeated (each with its recent errors, compat §7.2, [`health`]) and checked by
//! `liveness-check` are those of the list. It sleeps 20 ms between passes on SQLite; on
//! Postgres a `LISTEN` connection ([`RunListener`](dagster_core::storage::notify::RunListener))
//! wakes it when a run becomes QUEUED or CANCELING, with a 1 s poll as the fallback (20 ms
//! while that connection is down).
//!
//! * `QUEUED_RUN_COORDINATOR` ([`loops::queue`]): every pass, so a new QUEUED run is picked up
//!   within milliseconds. Priority, FIFO, `max_concurrent_runs`, tag limits; each claim is the
//!   conditional QUEUED → STARTING transition in storage, safe with several daemons.
//! * `MONITORING` ([`loops::monitor`]): every 2 s: dead workers, start/cancel timeouts, max
//!   runtime.
//! * `EVENT_LOG_CONSUMER` ([`loops::retry`], with `run_retries.enabled`): every 2 s on the
//!   leader (in the monitoring passes), re-executes failed runs their `dagster/max_retries`
//!   allows.
//! * `SENSOR` ([`loops::sensors`]): every second on the leader; each RUNNING sensor ticks when
//!   its `minimum_interval_seconds` passed (`dagster_core::instigator::sensor`).
//! * `SCHEDULER` ([`loops::schedules`]): at each minute boundary (a plain "sleep until the next
//!   minute" wake-up: the database decides which ticks exist, so no cron-scheduler library is
//!   needed to wake us), only on the daemon holding the leader lease
//!   (`KvStore::kv_try_lease`, TTL 15 s, renewed every 5 s), so a standby takes over within
//!   ~15 s of the leader dying. A FAILURE tick is retried while `scheduler.max_tick_retries`
//!   allows.
//! * Tick retention ([`loops::retention`], as `SCHEDULER`): hourly on the leader.
//!
//! The settings (`dagster.yaml`, environment tunables such as
//! `DAGSTER_DAEMON_LEASE_TTL_SECONDS`) are read once at start ([`config`]). The workspace is
//! reloaded every 60 s ([`workspace`]); a broken one is logged and the previous definitions
//! are kept. A failing pass is logged and retried (with backoff while the database is
//! unreachable); it never ends the process. SIGTERM/SIGINT: the pass in flight finishes, the
//! lease is released, exit 0.

mod config;
mod daemon;
mod health;
mod loops;
mod workspace;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::DaemonConfig;
use dagster_core::config::home::DagsterHome;
use dagster_core::instance::Instance;
use dagster_core::logging::{LogFormat, LOG_FORMATS};
use dagster_core::storage::StorageError;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    let config = DaemonConfig::from_env(&inst.config);
    let types = loops::daemon_types(&loops::all_loops(&config));
    health::liveness_check(&*inst.storage, &types, config.heartbeat_tolerance)
}

fn run(
    log_level: &str,
    log_format: LogFormat,
    workspace_files: Vec<PathBuf>,
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
    let config = DaemonConfig::from_env(&inst.config);
    let loops = loops::all_loops(&config);
    tracing::info!(
        "Instance is configured with the following daemons: {:?}",
        loops::daemon_types(&loops)
    );
    tracing::debug!(
        loops = ?loops.iter().map(|l| l.name()).collect::<Vec<_>>(),
        "daemon loops"
    );
    let exe = std::env::current_exe()?;
    let dagster_bin = exe
        .parent()
        .map(|p| p.join("dagster"))
        .context("locating the dagster binary")?;
    // `run_launcher`: worker processes (reused per its config: the queue's runs, and runs
    // launched otherwise: run retries, sensors and schedules without a queue), or containers.
    let launcher = inst
        .run_launcher(dagster_bin, true)
        .context("starting the run launcher")?;
    // A broken workspace does not stop the daemon (the queue and monitoring do not need it):
    // it is logged and loaded again every 60 s.
    let workspace = workspace::Workspace::load(&inst.home, workspace_files, pipeline_config);
    daemon::Daemon::new(inst, launcher, config, loops, workspace).run(&rt)?;
    Ok(ExitCode::SUCCESS)
}
