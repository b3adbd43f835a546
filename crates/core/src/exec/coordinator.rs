//! Run coordinators (what happens when a run is submitted) and cancellation requests.
//!
//! * `Default`: RUN_STARTING, then the launcher spawns the worker at once.
//! * `Queued`: RUN_ENQUEUED; the queue daemon later calls [`start_run`] respecting
//!   `max_concurrent_runs` and tag limits.
//!
//! Every status change is a conditional write in storage (see
//! [`RunStatus::allowed_predecessors`]), so a run canceled while queued is never started and a
//! run started by one process is not started again by another.

use super::launcher::RunLauncher;
use super::{ExecError, Result};
use crate::domain::{ErrorInfo, EventData, EventType, LogLevel, NewEvent, Run, RunStatus};
use crate::storage::{Storage, StoreOutcome};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Which run coordinator an instance uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoordinatorKind {
    /// Launch immediately.
    Default,
    /// Enqueue; the queue daemon launches.
    #[default]
    Queued,
}

/// Where created runs go: the instance's storage, its run coordinator and its launcher, owned
/// together. Schedules, sensors, run retries, the GraphQL API and the CLI submit through one,
/// and the queue daemon starts the runs it dequeues through one.
#[derive(Clone)]
pub struct RunSubmitter {
    storage: Arc<dyn Storage>,
    launcher: RunLauncher,
    coordinator: CoordinatorKind,
}

impl std::fmt::Debug for RunSubmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSubmitter")
            .field("storage", &self.storage.describe())
            .field("launcher", &self.launcher)
            .field("coordinator", &self.coordinator)
            .finish()
    }
}

impl RunSubmitter {
    pub fn new(
        storage: Arc<dyn Storage>,
        launcher: impl Into<RunLauncher>,
        coordinator: CoordinatorKind,
    ) -> Self {
        RunSubmitter {
            storage,
            launcher: launcher.into(),
            coordinator,
        }
    }

    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    pub fn storage_arc(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub fn launcher(&self) -> &RunLauncher {
        &self.launcher
    }

    pub fn coordinator(&self) -> CoordinatorKind {
        self.coordinator
    }

    /// Submits a created run through the instance's coordinator (see [`submit_run`]).
    pub fn submit(&self, run: &Run) -> Result<RunStatus> {
        submit_run(&*self.storage, &self.launcher, self.coordinator, run)
    }

    /// Starts a run now, whatever the coordinator (see [`start_run`]).
    pub fn start(&self, run: &Run) -> Result<RunStatus> {
        start_run(&*self.storage, &self.launcher, run)
    }
}

/// Submits a created run. Returns its status afterwards (QUEUED, STARTING, or FAILURE when the
/// launch failed).
pub fn submit_run(
    storage: &dyn Storage,
    launcher: &RunLauncher,
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
pub fn start_run(storage: &dyn Storage, launcher: &RunLauncher, run: &Run) -> Result<RunStatus> {
    let mut results = start_runs(
        storage,
        launcher,
        std::slice::from_ref(run),
        &BTreeMap::new(),
    )?;
    results
        .pop()
        .unwrap_or_else(|| Err(ExecError::RunNotFound(run.run_id.clone())))
}

/// RUN_STARTING, which also tags the run with the launcher's host and `claim_tags`.
fn starting_event(
    launcher: &RunLauncher,
    run: &Run,
    claim_tags: &BTreeMap<String, String>,
) -> NewEvent {
    let mut tags = launcher.starting_tags();
    tags.extend(claim_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    NewEvent::new(&run.run_id, &run.job_name, Some(EventType::RunStarting), "")
        .level(LogLevel::Debug)
        .with_run_tags(tags)
}

/// [`start_run`] for several runs (the queue daemon's pass), with two transactions in all:
///
/// 1. every RUN_STARTING in ONE transaction (each still conditional on the run's status, so a
///    run claimed by another daemon or canceled meanwhile is refused), setting the worker host
///    tag and `claim_tags` (the queue daemon names itself) on each claimed run;
/// 2. the claimed runs' workers are spawned one after the other without waiting for them;
/// 3. every "Started process for run (pid: N)" ENGINE_EVENT in ONE transaction (a failed
///    spawn writes its run's failure in that batch instead).
///
/// Returns, per run in input order, its status afterwards or why it was not claimed.
pub fn start_runs(
    storage: &dyn Storage,
    launcher: &RunLauncher,
    runs: &[Run],
    claim_tags: &BTreeMap<String, String>,
) -> Result<Vec<Result<RunStatus>>> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let events: Vec<NewEvent> = runs
        .iter()
        .map(|r| starting_event(launcher, r, claim_tags))
        .collect();
    let outcome = storage.store_events(&events)?;
    let mut results: Vec<Result<RunStatus>> = Vec::with_capacity(runs.len());
    let mut launched: Vec<NewEvent> = Vec::new();
    // The runs whose spawn failed (their RUN_FAILURE is in `launched`).
    let mut failures: Vec<usize> = Vec::new();
    let refused = |run: &Run| {
        outcome
            .rejected
            .iter()
            .find(|(id, _, _)| *id == run.run_id)
            .map(|(_, event, status)| (event.clone(), *status))
    };
    let spawned = spawn_all(storage, launcher, runs, |r| refused(r).is_none());
    for ((i, run), spawn) in runs.iter().enumerate().zip(spawned) {
        if let Some((event, status)) = refused(run) {
            results.push(Err(ExecError::StatusRefused {
                run_id: run.run_id.clone(),
                event,
                status: status.map_or_else(|| "missing".to_string(), |s| s.as_str().to_string()),
            }));
            continue;
        }
        match spawn {
            Some(Ok(started)) => {
                launched.push(started);
                results.push(Ok(RunStatus::Starting));
            }
            None => continue, // refused above
            Some(Err(e)) => {
                tracing::error!(run.id = %run.run_id, error = %e, "launching the run worker failed");
                let [engine, failure] = launch_failure_events(run, &e);
                launched.extend([engine, failure]);
                failures.push(i);
                results.push(Ok(RunStatus::Failure));
            }
        }
    }
    let written = storage.store_events(&launched)?;
    for i in failures {
        // The run moved on meanwhile (e.g. canceled): report where it is.
        if let Some((_, _, status)) = written
            .rejected
            .iter()
            .find(|(id, ..)| *id == runs[i].run_id)
        {
            results[i] = Ok(status.unwrap_or(RunStatus::Failure));
        }
    }
    Ok(results)
}

/// Spawns the workers of the runs `wanted` accepts, on up to [`SPAWN_THREADS`] threads at once:
/// a spawn waits until the new process has exec'd, which on a busy machine means waiting for
/// the child to be scheduled, so one thread spawning a burst of workers in turn would be paced
/// by the CPU contention of the workers it already started. Results are in `runs` order
/// (`None` for the runs not wanted), each the launcher's "started" event, stamped when the
/// worker was started.
fn spawn_all(
    storage: &dyn Storage,
    launcher: &RunLauncher,
    runs: &[Run],
    wanted: impl Fn(&Run) -> bool + Sync,
) -> Vec<Option<Result<NewEvent>>> {
    let mut out: Vec<Option<Result<NewEvent>>> = Vec::with_capacity(runs.len());
    out.resize_with(runs.len(), || None);
    let threads = SPAWN_THREADS.min(runs.len()).max(1);
    let chunk = runs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (slots, part) in out.chunks_mut(chunk).zip(runs.chunks(chunk)) {
            let wanted = &wanted;
            scope.spawn(move || {
                for (slot, run) in slots.iter_mut().zip(part) {
                    if wanted(run) {
                        *slot = Some(launcher.spawn(storage, run));
                    }
                }
            });
        }
    });
    out
}

/// Threads spawning run workers at once in [`start_runs`].
const SPAWN_THREADS: usize = 8;

/// The ENGINE_EVENT and RUN_FAILURE recording that a claimed run's worker could not start.
fn launch_failure_events(run: &Run, e: &ExecError) -> [NewEvent; 2] {
    let error = ErrorInfo::from_error(e).with_class("LaunchError");
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
    let failure = NewEvent::run_failure(
        &run.run_id,
        &run.job_name,
        format!("This run failed to launch: {e}"),
        error,
        "JOB_INITIALIZATION_FAILURE",
    );
    [engine, failure]
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
