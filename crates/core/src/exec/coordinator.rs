//! Run coordinators (what happens when a run is submitted) and cancellation requests.
//!
//! * `Default`: RUN_STARTING, then the launcher spawns the worker at once.
//! * `Queued`: RUN_ENQUEUED; the queue daemon later calls [`start_run`] respecting
//!   `max_concurrent_runs` and tag limits.
//!
//! Every status change is a conditional write in storage (see
//! [`RunStatus::allowed_predecessors`]), so a run canceled while queued is never started and a
//! run started by one process is not started again by another.

use super::launcher::DefaultRunLauncher;
use super::{ExecError, Result};
use crate::domain::{ErrorInfo, EventData, EventType, LogLevel, NewEvent, Run, RunStatus};
use crate::storage::{Storage, StoreOutcome};

/// Which run coordinator an instance uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoordinatorKind {
    /// Launch immediately.
    Default,
    /// Enqueue; the queue daemon launches.
    #[default]
    Queued,
}

/// Submits a created run. Returns its status afterwards (QUEUED, STARTING, or FAILURE when the
/// launch failed).
pub fn submit_run(
    storage: &dyn Storage,
    launcher: &DefaultRunLauncher,
    coordinator: CoordinatorKind,
    run: &Run,
) -> Result<RunStatus> {
    match coordinator {
        CoordinatorKind::Queued => {
            let ev = NewEvent::new(&run.run_id, &run.job_name, Some(EventType::RunEnqueued), "")
                .level(LogLevel::Debug);
            check_refused(storage.store_events(&[ev])?, &run.run_id)?;
            Ok(RunStatus::Queued)
        }
        CoordinatorKind::Default => start_run(storage, launcher, run),
    }
}

/// Writes RUN_STARTING and launches the worker. A launch error is recorded on the run
/// (ENGINE_EVENT + RUN_FAILURE) and reported as status FAILURE, not as an error. Used by the
/// default coordinator and by the queue daemon when it dequeues a run.
pub fn start_run(
    storage: &dyn Storage,
    launcher: &DefaultRunLauncher,
    run: &Run,
) -> Result<RunStatus> {
    check_refused(storage.store_events(&[starting_event(run)])?, &run.run_id)?;
    launch_claimed(storage, launcher, run)
}

fn starting_event(run: &Run) -> NewEvent {
    NewEvent::new(&run.run_id, &run.job_name, Some(EventType::RunStarting), "")
        .level(LogLevel::Debug)
}

/// [`start_run`] for several runs (the queue daemon's pass): every RUN_STARTING is written in
/// ONE transaction (each still conditional, so a run claimed by another daemon or canceled
/// meanwhile is refused), then the claimed runs are launched one by one. Returns, per run in
/// input order, its status afterwards or why it was not claimed.
pub fn start_runs(
    storage: &dyn Storage,
    launcher: &DefaultRunLauncher,
    runs: &[Run],
) -> Result<Vec<Result<RunStatus>>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let events: Vec<NewEvent> = runs.iter().map(starting_event).collect();
    let outcome = storage.store_events(&events)?;
    Ok(runs
        .iter()
        .map(
            |run| match outcome.rejected.iter().find(|(id, _, _)| *id == run.run_id) {
                Some((_, event, status)) => Err(ExecError::StatusRefused {
                    run_id: run.run_id.clone(),
                    event: event.clone(),
                    status: status
                        .map_or_else(|| "missing".to_string(), |s| s.as_str().to_string()),
                }),
                None => launch_claimed(storage, launcher, run),
            },
        )
        .collect())
}

/// Launches the worker of a run already moved to STARTING.
fn launch_claimed(
    storage: &dyn Storage,
    launcher: &DefaultRunLauncher,
    run: &Run,
) -> Result<RunStatus> {
    match launcher.launch(storage, run) {
        Ok(_pid) => Ok(RunStatus::Starting),
        Err(e) => {
            tracing::error!(run.id = %run.run_id, error = %e, "launching the run worker failed");
            let error = ErrorInfo::from_error(&e).with_class("LaunchError");
            let engine = NewEvent::new(
                &run.run_id,
                &run.job_name,
                Some(EventType::EngineEvent),
                "Caught an error while launching the run; marking the run as failed.",
            )
            .level(LogLevel::Error)
            .data(EventData::Engine {
                metadata: Vec::new(),
                error: Some(error.clone()),
            });
            let failure = NewEvent::new(
                &run.run_id,
                &run.job_name,
                Some(EventType::RunFailure),
                format!("This run failed to launch: {e}"),
            )
            .level(LogLevel::Error)
            .data(EventData::Failure {
                error,
                reason: Some("JOB_INITIALIZATION_FAILURE".into()),
            });
            let outcome = storage.store_events(&[engine, failure])?;
            if let Some((_, _, status)) = outcome.rejected.first() {
                return Ok(status.unwrap_or(RunStatus::Failure));
            }
            Ok(RunStatus::Failure)
        }
    }
}

/// Requests cancellation of a run. QUEUED / NOT_STARTED / SUSPENDED runs (no worker) are
/// canceled at once (RUN_CANCELING then RUN_CANCELED); STARTING / STARTED runs move to
/// CANCELING and their worker finishes them. Returns the status afterwards; any other status
/// is an error naming it.
pub fn request_cancel(storage: &dyn Storage, run_id: &str) -> Result<RunStatus> {
    let run = storage
        .get_run(run_id)?
        .ok_or_else(|| ExecError::RunNotFound(run_id.to_string()))?;
    let canceling = || {
        NewEvent::new(
            run_id,
            &run.job_name,
            Some(EventType::RunCanceling),
            "Sending run termination request.",
        )
        .level(LogLevel::Info)
    };
    match run.status {
        RunStatus::Queued | RunStatus::NotStarted | RunStatus::Suspended => {
            let canceled = NewEvent::new(
                run_id,
                &run.job_name,
                Some(EventType::RunCanceled),
                "This run has been marked as canceled from outside the execution context.",
            )
            .level(LogLevel::Info);
            let outcome = storage.store_events(&[canceling(), canceled])?;
            if outcome.rejected.is_empty() {
                Ok(RunStatus::Canceled)
            } else {
                current_status_error(storage, &run)
            }
        }
        RunStatus::Starting | RunStatus::Started => {
            let outcome = storage.store_events(&[canceling()])?;
            if outcome.rejected.is_empty() {
                Ok(RunStatus::Canceling)
            } else {
                current_status_error(storage, &run)
            }
        }
        status => Err(ExecError::CannotCancel {
            run_id: run_id.to_string(),
            status,
        }),
    }
}

/// After a refused transition: the run moved meanwhile; report its current status.
fn current_status_error(storage: &dyn Storage, run: &Run) -> Result<RunStatus> {
    let now = storage
        .get_run(&run.run_id)?
        .ok_or_else(|| ExecError::RunNotFound(run.run_id.clone()))?;
    Err(ExecError::CannotCancel {
        run_id: run.run_id.clone(),
        status: now.status,
    })
}

fn check_refused(outcome: StoreOutcome, run_id: &str) -> Result<()> {
    match outcome.rejected.into_iter().next() {
        None => Ok(()),
        Some((_, event, status)) => Err(ExecError::StatusRefused {
            run_id: run_id.to_string(),
            event,
            status: status.map_or_else(|| "missing".to_string(), |s| s.as_str().to_string()),
        }),
    }
}
