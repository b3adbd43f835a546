//! `dagster api execute-run <run_id>`: the run worker process started by the run launcher.

use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::domain::RunStatus;
use dagster_core::exec::{self, ExecContext, ExecOptions, PIPELINE_CONFIG_TAG};
use dagster_core::instance::SchemaCheck;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum ApiCommand {
    /// Execute an existing run (created by `job launch`, the webserver or the daemon).
    #[command(name = "execute-run", alias = "execute_run")]
    ExecuteRun {
        run_id: String,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
}

/// Storage connections of one run worker.
const WORKER_POOL_SIZE: u32 = 2;

pub fn run(cmd: ApiCommand) -> Result<ExitCode> {
    let ApiCommand::ExecuteRun { run_id, mut ws } = cmd;
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
    let run = inst.storage.get_run(&run_id)?.ok_or_else(|| {
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
    let loc = match common::load_location(&ws, Some(&home.home)) {
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
    let rt = common::runtime()?;
    let storage = inst.storage.clone();
    let status = rt.block_on(async {
        let cancel_id = run_id.clone();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            tracing::warn!(run.id = %cancel_id, "received termination signal: cancelling the run");
            let _ =
                tokio::task::spawn_blocking(move || exec::request_cancel(&*storage, &cancel_id))
                    .await;
        });
        exec::execute_run(&ctx, &run_id).await
    })?;
    Ok(if status == RunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(common::EXIT_RUN_FAILED)
    })
}
