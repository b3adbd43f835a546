//! The run worker processes started by the run launcher:
//! * `dagster api execute-run <run_id>`: executes one run and exits;
//! * `dagster api run-worker` (the queue daemon's reusable workers): executes the runs whose
//!   ids it reads from stdin, one at a time, and writes each id back on stdout once that run is
//!   finished; exits at end of input. Its storage connection stays open between runs. For each
//!   run, stdout and stderr (its log output, and that of any child process) are redirected to
//!   the run's `history/<run_id>/worker.log`, and stdin to `/dev/null`; the protocol uses
//!   duplicates of the original descriptors.

use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::{Context, Result};
use clap::Subcommand;
use dagster_core::domain::RunStatus;
use dagster_core::exec::{self, ExecContext, ExecOptions, PIPELINE_CONFIG_TAG};
use dagster_core::instance::{Instance, SchemaCheck};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

#[derive(Subcommand)]
pub enum ApiCommand {
    /// Execute an existing run (created by `job launch`, the webserver or the daemon).
    #[command(name = "execute-run", alias = "execute_run")]
    ExecuteRun {
        run_id: String,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
    /// Execute runs whose ids arrive on stdin, one at a time (the daemon's reusable workers).
    #[command(name = "run-worker", hide = true)]
    RunWorker {
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
}

/// Storage connections of one run worker.
const WORKER_POOL_SIZE: u32 = 2;

/// The run this process executes now (for the termination signal handler).
type Current = Arc<Mutex<Option<String>>>;

pub fn run(cmd: ApiCommand) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    // A small pool: the worker needs at most a few connections at once (event writer,
    // heartbeat, cancellation poll; more wait briefly), and a burst of hundreds of workers
    // must not exhaust the database's connection limit.
    let opts = dagster_core::storage::OpenOptions {
        pool_size: WORKER_POOL_SIZE,
        min_idle: 0,
        ..Default::default()
    };
    // The process that created and launched the run opened this storage with the schema
    // check; skipping it here saves a write-locked transaction per worker start (SQLite:
    // `BEGIN IMMEDIATE`; Postgres: an advisory lock all workers would queue on).
    let inst = common::open_instance_with(&home.home, SchemaCheck::Unchecked, &opts)?;
    let rt = common::runtime()?;
    let current: Current = Arc::new(Mutex::new(None));
    let storage = inst.storage.clone();
    let on_signal = current.clone();
    let reusable = matches!(cmd, ApiCommand::RunWorker { .. });
    rt.spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        let run = on_signal.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match run {
            Some(run_id) => {
                tracing::warn!(run.id = %run_id, "received termination signal: cancelling the run");
                let _ =
                    tokio::task::spawn_blocking(move || exec::request_cancel(&*storage, &run_id))
                        .await;
            }
            // An idle reusable worker has nothing to finish.
            None if reusable => std::process::exit(0),
            None => {}
        }
    });
    match cmd {
        ApiCommand::ExecuteRun { run_id, ws } => {
            let status = execute_one(&inst, &home.home, &rt, &current, &run_id, ws)?;
            Ok(if status == RunStatus::Success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(common::EXIT_RUN_FAILED)
            })
        }
        ApiCommand::RunWorker { ws } => serve(&inst, &home.home, &rt, &current, ws),
    }
}

/// The `run-worker` loop.
fn serve(
    inst: &Instance,
    home: &dagster_core::config::home::DagsterHome,
    rt: &tokio::runtime::Runtime,
    current: &Current,
    ws: WorkspaceArgs,
) -> Result<ExitCode> {
    use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout};
    use std::os::fd::AsFd;
    // Close-on-exec duplicates: a step's child process must not hold the protocol pipes (the
    // launcher learns that this worker died from the end of its stdout).
    let input = std::fs::File::from(
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("duplicating stdin")?,
    );
    let mut output = std::fs::File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("duplicating stdout")?,
    );
    let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
    dup2_stdin(&null).context("redirecting stdin")?;
    for line in std::io::BufReader::new(input).lines() {
        let line = line.context("reading the next run id")?;
        let run_id = line.trim();
        if run_id.is_empty() {
            continue;
        }
        let log_path = home.worker_log_path(run_id)?;
        match open_log(&log_path) {
            Ok(log) => {
                let _ = std::io::stderr().flush();
                dup2_stdout(&log).context("redirecting stdout")?;
                dup2_stderr(&log).context("redirecting stderr")?;
            }
            Err(e) => {
                tracing::warn!(run.id = run_id, error = %e, path = %log_path.display(), "cannot open the run's worker log; its output goes to the previous one")
            }
        }
        match execute_one(inst, home, rt, current, run_id, ws.clone()) {
            Ok(status) => tracing::info!(run.id = run_id, status = %status, "run finished"),
            Err(e) => tracing::error!(run.id = run_id, error = format!("{e:#}"), "run failed"),
        }
        let _ = std::io::stderr().flush();
        // The launcher closes our stdin when it wants no more runs from this process.
        if writeln!(output, "{run_id}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Executes one run that a launcher started (status STARTING).
fn execute_one(
    inst: &Instance,
    home: &dagster_core::config::home::DagsterHome,
    rt: &tokio::runtime::Runtime,
    current: &Current,
    run_id: &str,
    mut ws: WorkspaceArgs,
) -> Result<RunStatus> {
    // From here on a termination signal cancels this run.
    *current.lock().unwrap_or_else(|p| p.into_inner()) = Some(run_id.to_string());
    let status = execute_current(inst, home, rt, run_id, &mut ws);
    *current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    status
}

fn execute_current(
    inst: &Instance,
    home: &dagster_core::config::home::DagsterHome,
    rt: &tokio::runtime::Runtime,
    run_id: &str,
    ws: &mut WorkspaceArgs,
) -> Result<RunStatus> {
    let run = inst.storage.get_run(run_id)?.ok_or_else(|| {
        bad_input(format!(
            "run {run_id} not found in {}",
            inst.storage.describe()
        ))
    })?;
    if ws.workspace.is_empty() && ws.pipeline_config.is_none() {
        if let Some(p) = run.tags.get(PIPELINE_CONFIG_TAG) {
            ws.pipeline_config = Some(PathBuf::from(p));
        }
    }
    if ws.location.is_none() {
        ws.location = run.code_location.clone();
    }
    let loc = match common::load_location(ws, Some(home)) {
        Ok(l) => l,
        Err(e) => {
            // The run cannot start: record why in its event log rather than leaving it STARTING.
            let err = dagster_core::domain::ErrorInfo::from_anyhow(&e);
            exec::fail_run_before_start(&*inst.storage, &run, err)?;
            return Err(e);
        }
    };
    let ctx = ExecContext {
        storage: inst.storage.clone(),
        defs: Arc::new(loc.defs),
        compute_logs: inst.compute_logs.clone(),
        options: ExecOptions::default(),
        observer: None,
    };
    Ok(rt.block_on(exec::execute_loaded_run(&ctx, run))?)
}
