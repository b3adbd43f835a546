//! `dagster-daemon`: the background process of the deployment.
//!
//! This first version runs the queued run coordinator loop (dequeue QUEUED runs up to
//! `max_concurrent_runs`, highest `dagster/priority` first, FIFO within a priority; each claim
//! is a conditional QUEUED → STARTING transition in storage, so two daemons never launch the
//! same run) and writes its heartbeat. Schedules, sensors, run monitoring and tag concurrency
//! limits are built in their own work item. `liveness-check` exits 0 when every daemon this
//! process runs has a fresh heartbeat.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dagster_core::config::home::DagsterHome;
use dagster_core::config::instance::RunCoordinatorConfig;
use dagster_core::domain::{now_ts, tags, RunStatus, RunsFilter};
use dagster_core::exec::DefaultRunLauncher;
use dagster_core::instance::Instance;
use dagster_core::storage::DaemonHeartbeat;
use std::process::ExitCode;
use std::time::Duration;

const QUEUED_RUN_COORDINATOR: &str = "QUEUED_RUN_COORDINATOR";
const HEARTBEAT_INTERVAL_SECONDS: f64 = 30.0;

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
        /// Workspace file(s) (accepted for compatibility; runs carry their code location).
        #[arg(short = 'w', long = "workspace")]
        workspace: Vec<std::path::PathBuf>,
        /// Pipeline config file instead of a workspace.
        #[arg(short = 'f', long = "pipeline-config")]
        pipeline_config: Option<std::path::PathBuf>,
        #[arg(long = "log-level", default_value = "info")]
        log_level: String,
    },
    /// Exit 0 if every required daemon has a recent heartbeat.
    LivenessCheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run { log_level, .. } => run(&log_level),
        Cmd::LivenessCheck => liveness(),
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

fn required_daemons(inst: &Instance) -> Vec<&'static str> {
    match inst.config.run_coordinator {
        RunCoordinatorConfig::Queued(_) => vec![QUEUED_RUN_COORDINATOR],
        _ => vec![],
    }
}

fn liveness() -> Result<ExitCode> {
    let inst = open()?;
    let tolerance: f64 = std::env::var("DAGSTER_DAEMON_HEARTBEAT_TOLERANCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800.0);
    let hbs = inst.storage.heartbeats()?;
    let now = now_ts();
    let mut ok = true;
    for d in required_daemons(&inst) {
        match hbs.iter().find(|h| h.daemon_type == d) {
            Some(h) if now <= h.timestamp + HEARTBEAT_INTERVAL_SECONDS + tolerance => {
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

fn run(log_level: &str) -> Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_new(log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let inst = open()?;
    for w in &inst.warnings {
        tracing::warn!("{w}");
    }
    let daemons = required_daemons(&inst);
    tracing::info!(
        "Instance is configured with the following daemons: {:?}",
        daemons
    );
    let exe = std::env::current_exe()?;
    let dagster_bin = exe
        .parent()
        .map(|p| p.join("dagster"))
        .context("locating the dagster binary")?;
    let launcher = DefaultRunLauncher::new(dagster_bin, inst.home.root().to_path_buf());
    let daemon_id = uuid::Uuid::new_v4().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut last_hb = 0.0;
        let interval = match &inst.config.run_coordinator {
            RunCoordinatorConfig::Queued(q) => Duration::from_secs(q.dequeue_interval_seconds.clamp(1, 3600)),
            _ => Duration::from_secs(5),
        };
        loop {
            let mut errors = Vec::new();
            if !daemons.is_empty() {
                if let Err(e) = dequeue_iteration(&inst, &launcher) {
                    tracing::error!(error = %format!("{e:#}"), "queued run coordinator iteration failed; retrying");
                    errors.push(dagster_core::domain::ErrorInfo::from_anyhow(&e));
                }
            }
            if now_ts() - last_hb >= HEARTBEAT_INTERVAL_SECONDS || !errors.is_empty() {
                for d in &daemons {
                    let hb = DaemonHeartbeat { daemon_type: d.to_string(), daemon_id: daemon_id.clone(), timestamp: now_ts(), errors: errors.clone() };
                    if let Err(e) = inst.storage.add_heartbeat(&hb) {
                        tracing::error!(error = %e, "writing the heartbeat failed; retrying");
                    }
                }
                last_hb = now_ts();
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted: shutting down"); break; }
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// One pass of the queued run coordinator.
fn dequeue_iteration(inst: &Instance, launcher: &DefaultRunLauncher) -> Result<()> {
    let RunCoordinatorConfig::Queued(q) = &inst.config.run_coordinator else {
        return Ok(());
    };
    let active = inst.storage.count_runs(&RunsFilter {
        statuses: Some(RunStatus::ACTIVE.to_vec()),
        ..Default::default()
    })?;
    let capacity = if q.max_concurrent_runs < 0 {
        i64::MAX
    } else {
        q.max_concurrent_runs - active
    };
    if capacity <= 0 {
        return Ok(());
    }
    let mut queued = inst.storage.list_runs(
        &RunsFilter {
            statuses: Some(vec![RunStatus::Queued]),
            ..Default::default()
        },
        None,
        None,
    )?;
    queued.reverse(); // oldest first
    queued.sort_by_key(|r| {
        std::cmp::Reverse(
            r.tags
                .get(tags::PRIORITY)
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(0),
        )
    });
    for run in queued
        .into_iter()
        .take(usize::try_from(capacity).unwrap_or(usize::MAX))
    {
        match dagster_core::exec::start_run(&*inst.storage, launcher, &run) {
            Ok(status) => {
                tracing::info!(run.id = %run.run_id, job.name = %run.job_name, status = %status, "dequeued run")
            }
            Err(e) => tracing::error!(run.id = %run.run_id, error = %e, "launch failed"),
        }
    }
    Ok(())
}
