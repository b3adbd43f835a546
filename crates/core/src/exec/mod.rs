//! Run execution: plan, executor (in-process steps, bounded concurrency, retries, timeouts,
//! cancellation through storage, worker heartbeats), compute logs, batched event writing,
//! run launcher and run coordinators, re-execution.
//!
//! How a run travels through this module:
//!
//! 1. [`create_run`] validates a job (and optional asset/step selection) against the
//!    [`Definitions`](crate::defs::Definitions), stores the run as NOT_STARTED and writes one
//!    ASSET_MATERIALIZATION_PLANNED per planned asset.
//! 2. [`submit_run`] hands it to a run coordinator: `Queued` writes RUN_ENQUEUED (the queue
//!    daemon dequeues it later through [`start_run`]), `Default` writes RUN_STARTING and
//!    spawns a worker process with the [`DefaultRunLauncher`] (`dagster api execute-run <id>`).
//! 3. The worker calls [`execute_run`]: RUN_START (a conditional status change, so two workers
//!    never run the same run), then the steps of the [`ExecutionPlan`] concurrently (bounded),
//!    each with LOGS_CAPTURED, STEP_START, STEP_OUTPUT, ASSET_MATERIALIZATION, STEP_SUCCESS (or
//!    STEP_FAILURE / STEP_UP_FOR_RETRY / STEP_SKIPPED), then RUN_SUCCESS / RUN_FAILURE /
//!    RUN_CANCELED. Events go through the batching [`EventWriter`].
//! 4. [`request_cancel`] moves a run to CANCELING; the worker notices it within
//!    [`ExecOptions::cancel_poll_interval`] and finishes the run as CANCELED.
//!
//! Errors: [`ExecError`] (thiserror, non-exhaustive). Failures of user code never surface
//! here: they become STEP_FAILURE events and a FAILURE run status.

pub mod compute_logs;
pub mod coordinator;
pub mod docker;
pub mod executor;
pub mod launcher;
pub mod plan;
pub mod run;
pub mod worker;
pub mod writer;

pub use compute_logs::{ComputeLogError, ComputeLogManager, LogChunk, LogStream};
pub use coordinator::{
    request_cancel, start_run, start_runs, submit_run, CoordinatorKind, RunSubmitter,
};
pub use docker::DockerRunLauncher;
pub use executor::{
    execute_loaded_run, execute_run, execute_run_with_interrupt, ExecContext, ExecOptions,
    Interrupt,
};
pub use launcher::{DefaultRunLauncher, RunLauncher};
pub use plan::{ExecutionPlan, PlanStep};
pub use run::{
    create_run, fail_run_before_start, reexecution_request, run_step_history, CreateRun,
    ReexecutionStrategy, RunStepHistory, PIPELINE_CONFIG_TAG,
};
pub use worker::{RunWorker, WorkerError};
pub use writer::{EventWriter, RunObserver};

use crate::domain::RunStatus;
use crate::storage::StorageError;

/// Errors of run creation, planning, launching and execution.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    #[error("job `{job}` not found in code location `{location}`")]
    UnknownJob { job: String, location: String },
    #[error("asset `{asset}` in the asset selection of job `{job}` does not exist")]
    UnknownAsset { job: String, asset: String },
    #[error("asset `{asset}` in the asset selection is not part of job `{job}`")]
    AssetNotInJob { job: String, asset: String },
    #[error("step `{step_key}` in the step selection is not part of the plan of job `{job}`")]
    UnknownStepKey { job: String, step_key: String },
    #[error("the step selection for job `{job}` is empty")]
    EmptyStepSelection { job: String },
    #[error("assets `{first}` and `{second}` of job `{job}` both map to step key `{step_key}`")]
    DuplicateStepKey {
        job: String,
        step_key: String,
        first: String,
        second: String,
    },
    #[error("job `{job}` has a dependency cycle among steps [{}]", steps.join(", "))]
    Cycle { job: String, steps: Vec<String> },
    #[error("invalid run tag `{key}` = {value:?}: expected {expected}")]
    InvalidTag {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("invalid run config for job `{job}`: {message}")]
    InvalidRunConfig { job: String, message: String },
    #[error("run {0} not found")]
    RunNotFound(String),
    #[error("run {run_id} has already finished with status {status}")]
    RunFinished { run_id: String, status: RunStatus },
    #[error("run {run_id} cannot be executed: its status is {status} (another worker owns it)")]
    RunNotExecutable { run_id: String, status: RunStatus },
    #[error("run {run_id} cannot be re-executed: {reason}")]
    NotReexecutable { run_id: String, reason: String },
    /// Same wording as Dagster's `terminateRun` error.
    #[error("Run {run_id} could not be terminated due to having status {status}.")]
    CannotCancel { run_id: String, status: RunStatus },
    #[error("{event} for run {run_id} was refused: the run is {status}")]
    StatusRefused {
        run_id: String,
        event: String,
        status: String,
    },
    #[error("cannot launch a worker for run {run_id} ({executable}): {source}")]
    Launch {
        run_id: String,
        executable: String,
        #[source]
        source: std::io::Error,
    },
    /// A Docker Engine API call of the DockerRunLauncher failed.
    #[error("{what}: {detail}")]
    Container { what: String, detail: String },
    #[error("cannot signal process group {pid}: {message}")]
    Signal { pid: u32, message: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    ComputeLog(#[from] ComputeLogError),
    #[error("storage error while executing: {0}")]
    Storage(#[from] StorageError),
    #[error("the event writer has stopped; events can no longer be stored")]
    WriterClosed,
    /// A failure of the engine itself (a task that panicked or was cancelled).
    #[error("execution engine error: {0}")]
    Engine(String),
}

pub type Result<T, E = ExecError> = std::result::Result<T, E>;

/// Runs a blocking storage call on the blocking thread pool, carrying the current tracing span.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(f)).await {
        Ok(r) => r,
        Err(e) => Err(ExecError::Engine(format!("blocking task failed: {e}"))),
    }
}
