//! `dagster api execute-run <run_id>` and `dagster api run-worker`: the run worker processes
//! started by the run launcher. The worker itself is [`dagster_core::exec::worker`]; this
//! command parses the arguments, opens the instance and says how to load a run's code location
//! (its workspace flags, else the run's pipeline config tag and code location).

use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::defs::Definitions;
use dagster_core::domain::{Run, RunStatus};
use dagster_core::exec::{RunWorker, WorkerError, PIPELINE_CONFIG_TAG};
use dagster_core::instance::SchemaCheck;
use std::path::PathBuf;
use std::process::ExitCode;

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

pub fn run(cmd: ApiCommand) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    // A small pool: the worker needs at most a few connections at once (event writer,
    // heartbeat, cancellation poll; more wait briefly), and a burst of hundreds of workers
    // must not exhaust the database's connection limit.
    let opts = dagster_core::storage::OpenOptions {
        pool_size: WORKER_POOL_SIZE,
        ..Default::default()
    };
    // The process that created and launched the run opened this storage with the schema
    // check; skipping it here saves a write-locked transaction per worker start (SQLite:
    // `BEGIN IMMEDIATE`; Postgres: an advisory lock all workers would queue on).
    let inst = common::open_instance_with(&home.home, SchemaCheck::Unchecked, &opts)?;
    let rt = common::runtime()?;
    let worker = RunWorker::new(inst, home.home.clone());
    worker.cancel_current_on_signal(&rt, matches!(cmd, ApiCommand::RunWorker { .. }));
    match cmd {
        ApiCommand::ExecuteRun { run_id, ws } => {
            let status = worker
                .execute(&rt, &run_id, &mut |run| load_for(run, &ws, &home.home))
                .map_err(|e| match e {
                    WorkerError::RunNotFound { .. } => bad_input(e.to_string()),
                    WorkerError::Load(e) => e,
                    other => other.into(),
                })?;
            Ok(if status == RunStatus::Success {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(common::EXIT_RUN_FAILED)
            })
        }
        ApiCommand::RunWorker { ws } => {
            worker.serve(&rt, &mut |run| load_for(run, &ws, &home.home))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The definitions of `run`'s code location: the workspace flags if given, else the run's
/// pipeline config tag (and its code location name).
fn load_for(
    run: &Run,
    ws: &WorkspaceArgs,
    home: &dagster_core::config::home::DagsterHome,
) -> Result<Definitions> {
    let mut ws = ws.clone();
    if ws.workspace.is_empty() && ws.pipeline_config.is_none() {
        if let Some(p) = run.tags.get(PIPELINE_CONFIG_TAG) {
            ws.pipeline_config = Some(PathBuf::from(p));
        }
    }
    if ws.location.is_none() {
        ws.location = run.code_location.clone();
    }
    Ok(common::load_location(&ws, Some(home))?.defs)
}
