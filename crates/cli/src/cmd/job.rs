//! `dagster job list|execute|launch`.

use crate::common::{self, bad_input, WorkspaceArgs};
use crate::output;
use anyhow::Result;
use clap::{Args, Subcommand};
use dagster_core::domain::{AssetKey, RunStatus};
use dagster_core::exec::{self, CreateRun, ExecContext, ExecOptions};
use dagster_core::instance::SchemaCheck;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum JobCommand {
    /// List the jobs of the code location.
    List {
        #[command(flatten)]
        ws: WorkspaceArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Execute a job in this process (no run coordinator, no daemon needed).
    Execute(ExecuteArgs),
    /// Create a run and submit it to the instance's run coordinator.
    Launch(LaunchArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// Job name.
    #[arg(short = 'j', long = "job")]
    pub job: String,
    /// Run config YAML files (merged in order).
    #[arg(short = 'c', long = "config")]
    pub config: Vec<PathBuf>,
    /// Run config as JSON.
    #[arg(long = "config-json")]
    pub config_json: Option<String>,
    /// Run tags as a JSON object.
    #[arg(long)]
    pub tags: Option<String>,
    #[command(flatten)]
    pub ws: WorkspaceArgs,
}

#[derive(Args)]
pub struct ExecuteArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Print every event, including captured-log and planning events.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Print no progress, only the final result.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Run id to use instead of a generated one.
    #[arg(long = "run-id")]
    pub run_id: Option<String>,
}

pub fn run(cmd: JobCommand) -> Result<ExitCode> {
    match cmd {
        JobCommand::List { ws, json } => list(&ws, json),
        JobCommand::Execute(a) => {
            let home = common::resolve_home()?;
            let loc = common::load_location(&a.run.ws, Some(&home.home))?;
            let req = request(&a.run, None, None)?;
            execute_in_process(&home, loc, req, a.verbose, a.quiet)
        }
        JobCommand::Launch(a) => launch(&a),
    }
}

fn list(ws: &WorkspaceArgs, json: bool) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    let loc = common::load_location(ws, Some(&home.home))?;
    if json {
        let jobs: Vec<serde_json::Value> = loc
            .defs
            .jobs
            .values()
            .map(|j| {
                serde_json::json!({
                    "name": j.name,
                    "description": j.description,
                    "assets": j.assets.iter().map(|k| k.to_user_string()).collect::<Vec<_>>(),
                    "tags": j.tags,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"location": loc.name, "jobs": jobs}))?
        );
    } else {
        for j in loc.defs.jobs.values() {
            println!("Job: {}", j.name);
            if let Some(d) = &j.description {
                println!("     Description: {d}");
            }
            let assets: Vec<String> = j.assets.iter().map(|k| k.to_user_string()).collect();
            println!("     Assets: {}", assets.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn request(
    a: &RunArgs,
    asset_selection: Option<Vec<AssetKey>>,
    run_id: Option<String>,
) -> Result<CreateRun> {
    let run_config = common::read_run_config(&a.config, a.config_json.as_deref())?;
    let tags = common::parse_tags(a.tags.as_deref())?;
    Ok(CreateRun {
        job_name: a.job.clone(),
        asset_selection,
        step_keys: None,
        run_config,
        tags,
        run_id,
        parent_run_id: None,
        root_run_id: None,
    })
}

/// Creates a run and executes it in this process with live progress. Exit 0 on SUCCESS, 1 otherwise.
pub fn execute_in_process(
    home: &common::HomeGuard,
    loc: common::Location,
    req: CreateRun,
    verbose: bool,
    quiet: bool,
) -> Result<ExitCode> {
    let inst = common::open_instance(&home.home, SchemaCheck::Normal)?;
    let run =
        exec::create_run(&*inst.storage, &loc.defs, req).map_err(|e| bad_input(e.to_string()))?;
    if !quiet {
        eprintln!(
            "Executing run {} of job {} ({})",
            run.run_id,
            run.job_name,
            inst.storage.describe()
        );
    }
    let observer: Option<Arc<dyn exec::RunObserver>> = if quiet {
        None
    } else {
        Some(Arc::new(output::ProgressPrinter { verbose }))
    };
    let ctx = ExecContext {
        storage: inst.storage.clone(),
        defs: Arc::new(loc.defs),
        compute_logs: inst.compute_logs.clone(),
        options: ExecOptions::default(),
        observer,
    };
    let rt = common::runtime()?;
    let storage = inst.storage.clone();
    let run_id = run.run_id.clone();
    let started = std::time::Instant::now();
    let status = rt.block_on(async {
        let cancel_storage = storage.clone();
        let cancel_id = run_id.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "Interrupted: cancelling run {cancel_id} (press Ctrl-C again to stop waiting)"
                );
                let _ = tokio::task::spawn_blocking(move || {
                    exec::request_cancel(&*cancel_storage, &cancel_id)
                })
                .await;
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        exec::execute_run(&ctx, &run_id).await
    })?;
    let secs = started.elapsed().as_secs_f64();
    println!("Run {} {} in {:.3} s", run.run_id, status.as_str(), secs);
    if status != RunStatus::Success {
        eprintln!("See its events with: dagster run show {}", run.run_id);
    }
    Ok(if status == RunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(common::EXIT_RUN_FAILED)
    })
}

fn launch(a: &LaunchArgs) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    let loc = common::load_location(&a.run.ws, Some(&home.home))?;
    let inst = common::open_instance(&home.home, SchemaCheck::Normal)?;
    let req = request(&a.run, None, a.run_id.clone())?;
    let run =
        exec::create_run(&*inst.storage, &loc.defs, req).map_err(|e| bad_input(e.to_string()))?;
    let launcher = inst.run_launcher(std::env::current_exe()?, false)?;
    let status = inst.run_submitter(launcher).submit(&run)?;
    match status {
        RunStatus::Queued => {
            println!(
                "Run {} QUEUED: the daemon (`dagster-daemon run`) launches it when the queue allows",
                run.run_id
            );
            let unattended = dagster_core::daemon_health::queue_unattended(
                &*inst.storage,
                &inst.config,
                dagster_core::domain::now_ts(),
            );
            if let Ok(Some(msg)) = unattended {
                eprintln!("warning: {msg}");
            }
        }
        RunStatus::Failure => {
            println!(
                "Run {} FAILURE: it could not be launched; see `dagster run show {}`",
                run.run_id, run.run_id
            );
            return Ok(ExitCode::from(common::EXIT_RUN_FAILED));
        }
        other => println!(
            "Run {} {}: launched in a run worker process",
            run.run_id,
            other.as_str()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
