//! The in-process executor: runs the steps of one run.
//!
//! * RUN_START is a conditional status change; a refusal (another worker got there first, the
//!   run was canceled) ends execution without running anything.
//! * Resources needed by the plan are built once, before any step; a failed build fails the
//!   steps that need it (not the worker).
//! * Steps run as soon as their upstream steps succeeded, at most K at once (K =
//!   [`ExecOptions::max_concurrent_steps`], else the job's `max_concurrent_steps`, else the
//!   number of CPUs). Each computation runs on its own OS thread inside `catch_unwind`; a
//!   dedicated thread (rather than the tokio blocking pool) means a step that ignores
//!   cancellation after a timeout can be abandoned without keeping the runtime from shutting
//!   down.
//! * Retries follow the asset's [`RetryPolicy`](crate::defs::RetryPolicy); timeouts cancel the
//!   step's token and fail the attempt.
//! * Cancellation: a background task polls the run status every
//!   [`ExecOptions::cancel_poll_interval`]; CANCELING (or [`Interrupt::trigger`] with
//!   [`execute_run_with_interrupt`], e.g. from a SIGTERM handler in the binary) cancels every running step, starts nothing new, waits for
//!   running steps (up to [`ExecOptions::cancel_grace`]) and ends the run as CANCELED.
//! * The worker heartbeat is recorded at start and every [`ExecOptions::heartbeat_interval`].

use super::compute_logs::ComputeLogManager;
use super::plan::ExecutionPlan;
use super::writer::{EventWriter, RunObserver};
use super::{blocking, ExecError, Result};
use crate::defs::{
    AssetDef, CancelToken, Definitions, MaterializeResult, Resource, StepContext,
    StepContextParams, StepLogger,
};
use crate::domain::{
    now_ts, ErrorInfo, EventData, EventType, LogLevel, Materialization, MetadataEntry,
    MetadataValue, NewEvent, Run, RunStatus,
};
use crate::storage::{Storage, StoreOutcome};
use std::collections::{BTreeMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

mod step;
use step::*;
#[cfg(test)]
mod tests;

/// Executor settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOptions {
    /// Steps executing at once; `None` = the job's `max_concurrent_steps`, else the CPU count.
    pub max_concurrent_steps: Option<usize>,
    /// How often the worker heartbeat is recorded.
    pub heartbeat_interval: Duration,
    /// How often the run status is read to notice a cancellation request.
    pub cancel_poll_interval: Duration,
    /// How long running steps get to stop after cancellation before they are abandoned.
    pub cancel_grace: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            max_concurrent_steps: None,
            heartbeat_interval: Duration::from_secs(5),
            cancel_poll_interval: Duration::from_millis(250),
            cancel_grace: Duration::from_secs(10),
        }
    }
}

/// A cancellation request from inside the worker process (SIGTERM/SIGINT handler). Cheap to
/// clone; triggering it is sticky.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<watch::Sender<bool>>);

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt(Arc::new(watch::Sender::new(false)))
    }
}

impl Interrupt {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once triggered.
    pub async fn triggered(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// Everything the executor needs.
#[derive(Clone)]
pub struct ExecContext {
    pub storage: Arc<dyn Storage>,
    pub defs: Arc<Definitions>,
    pub compute_logs: ComputeLogManager,
    pub options: ExecOptions,
    pub observer: Option<Arc<dyn RunObserver>>,
}

impl ExecContext {
    pub fn new(
        storage: Arc<dyn Storage>,
        defs: Arc<Definitions>,
        compute_logs: ComputeLogManager,
    ) -> Self {
        ExecContext {
            storage,
            defs,
            compute_logs,
            options: ExecOptions::default(),
            observer: None,
        }
    }
}

/// Why the run stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    None,
    /// Someone set CANCELING (or forced a final status) in storage.
    Canceled,
    /// The in-process interrupt (signal).
    Interrupted,
    /// The engine cannot continue (events can no longer be stored).
    EngineError,
}

/// Executes a run to the end and returns its final status (as stored).
pub async fn execute_run(ctx: &ExecContext, run_id: &str) -> Result<RunStatus> {
    execute_run_with_interrupt(ctx, run_id, &Interrupt::new()).await
}

/// [`execute_run`] of a run the caller just read from storage (a run worker reads it to find
/// its code location): saves reading it again. Its status still decides, as stored: RUN_START
/// is conditional.
pub async fn execute_loaded_run(ctx: &ExecContext, run: Run) -> Result<RunStatus> {
    let span = tracing::info_span!("run", run.id = %run.run_id);
    let run_id = run.run_id.clone();
    execute_run_inner(ctx, &run_id, &Interrupt::new(), Some(run))
        .instrument(span)
        .await
}

/// [`execute_run`] that also stops when `interrupt` is triggered (e.g. by a SIGTERM/SIGINT
/// handler in the worker binary): RUN_CANCELING, then the run ends as CANCELED like a
/// cancellation through storage.
pub async fn execute_run_with_interrupt(
    ctx: &ExecContext,
    run_id: &str,
    interrupt: &Interrupt,
) -> Result<RunStatus> {
    let span = tracing::info_span!("run", run.id = %run_id);
    execute_run_inner(ctx, run_id, interrupt, None)
        .instrument(span)
        .await
}

async fn execute_run_inner(
    ctx: &ExecContext,
    run_id: &str,
    interrupt: &Interrupt,
    loaded: Option<Run>,
) -> Result<RunStatus> {
    let run = match loaded {
        Some(run) => run,
        None => {
            let storage = ctx.storage.clone();
            let id = run_id.to_string();
            blocking(move || Ok(storage.get_run(&id)?))
                .await?
                .ok_or_else(|| ExecError::RunNotFound(run_id.to_string()))?
        }
    };
    if run.status.is_finished() {
        return Err(ExecError::RunFinished {
            run_id: run.run_id,
            status: run.status,
        });
    }
    let writer = EventWriter::new(ctx.storage.clone(), ctx.observer.clone());
    let ev = Events {
        run_id: run.run_id.clone(),
        job_name: run.job_name.clone(),
    };

    if run.status == RunStatus::Canceling {
        // Canceled after launch, before this worker started: finish the cancellation.
        return cancel_before_start(ctx, &writer, &ev, &run).await;
    }
    if !RunStatus::Started
        .allowed_predecessors()
        .contains(&run.status)
    {
        return Err(ExecError::RunNotExecutable {
            run_id: run.run_id,
            status: run.status,
        });
    }

    let plan = match ExecutionPlan::for_run(&ctx.defs, &run) {
        Ok(p) => p,
        Err(e) => {
            return Err(
                fail_run(&writer, &ev, &run.job_name, e, "JOB_INITIALIZATION_FAILURE").await,
            )
        }
    };
    let job = ctx.defs.job(&run.job_name);
    let max_concurrent = ctx
        .options
        .max_concurrent_steps
        .or(job.as_ref().and_then(|j| j.max_concurrent_steps))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);

    let start = writer
        .write_now(ev.run(
            EventType::RunStart,
            &format!("Started execution of run for \"{}\".", run.job_name),
        ))
        .await;
    match start {
        Ok(outcome) if !outcome.rejected.is_empty() => {
            let status = outcome.rejected[0].2;
            if status == Some(RunStatus::Canceling) {
                // Canceled between loading the run and starting it: finish the cancellation.
                return cancel_before_start(ctx, &writer, &ev, &run).await;
            }
            let _ = writer.close().await;
            return match status {
                Some(s) => Ok(s),
                None => Err(ExecError::RunNotFound(run.run_id)),
            };
        }
        Ok(_) => {}
        Err(e) => {
            let _ = writer.close().await;
            return Err(e);
        }
    }

    let heartbeat = tokio::spawn(heartbeat_loop(
        ctx.storage.clone(),
        run.run_id.clone(),
        ctx.options.heartbeat_interval,
    ));
    let (stop_tx, stop_rx) = watch::channel(Stop::None);
    let stop_tx = Arc::new(stop_tx);
    let poller = tokio::spawn(cancel_poll_loop(
        ctx.storage.clone(),
        run.run_id.clone(),
        ctx.options.cancel_poll_interval,
        interrupt.clone(),
        stop_tx.clone(),
        (writer.clone(), ev.clone()),
    ));

    let pid = std::process::id();
    writer.emit(
        ev.run(
            EventType::EngineEvent,
            &format!(
                "Executing steps in process (pid {pid}, max {max_concurrent} concurrent steps)."
            ),
        )
        .data(EventData::Engine {
            metadata: vec![
                MetadataEntry::new("pid", MetadataValue::Int(i64::from(pid))),
                MetadataEntry::new(
                    "step_keys",
                    MetadataValue::Text(format!("{:?}", plan.step_keys())),
                ),
            ],
            error: None,
        }),
    );

    let resources = build_resources(ctx, &plan, &writer, &ev).await;
    // Resources may block when dropped (pools closing, a client's own runtime shutting down),
    // which must not happen on an async worker: keep a handle and drop the last one below on
    // a blocking thread.
    let resources_handle = resources.clone();
    let env = Arc::new(StepEnv {
        ev: ev.clone(),
        writer: writer.clone(),
        compute_logs: ctx.compute_logs.clone(),
        run_config: run.run_config.clone(),
        resources,
        stop: stop_rx.clone(),
        cancel_grace: ctx.options.cancel_grace,
        kv: ctx.storage.clone(),
    });
    let result = schedule(ctx, &plan, env, max_concurrent, &stop_tx).await;
    let _ = tokio::task::spawn_blocking(move || drop(resources_handle)).await;

    poller.abort();
    heartbeat.abort();

    let stop = *stop_rx.borrow();
    let mut last = EventType::RunCanceled;
    let out = match result {
        // The engine itself failed (storage down): best effort.
        Err(e) => return Err(fail_run(&writer, &ev, &run.job_name, e, "RUN_EXCEPTION").await),
        Ok(summary) => {
            let finished = |t: EventType, message: &str| {
                writer.write_now(ev.run(t, message).level(LogLevel::Info))
            };
            if stop != Stop::None {
                let job = &run.job_name;
                finished(last, &format!("Execution of run for \"{job}\" canceled.")).await
            } else if summary.failed.is_empty() && summary.skipped.is_empty() {
                last = EventType::RunSuccess;
                let job = &run.job_name;
                finished(last, &format!("Finished execution of run for \"{job}\".")).await
            } else {
                let quoted: Vec<String> = summary.failed.iter().map(|k| format!("'{k}'")).collect();
                let msg = format!(
                    "Execution of run for \"{}\" failed. Steps failed: [{}].",
                    run.job_name,
                    quoted.join(", ")
                );
                last = EventType::RunFailure;
                writer
                    .write_now(
                        ev.run(EventType::RunFailure, &msg)
                            .level(LogLevel::Error)
                            .data(EventData::Failure {
                                error: ErrorInfo::new(msg.clone()),
                                reason: Some("STEP_FAILURE".into()),
                            }),
                    )
                    .await
            }
        }
    };
    finish(ctx, &writer, &run, last, out).await
}

/// Resolves the final status after the last lifecycle write (which storage may have refused),
/// flushes and stops the writer.
/// Finishes the cancellation of a run canceled before it started (RUN_CANCELED).
async fn cancel_before_start(
    ctx: &ExecContext,
    writer: &EventWriter,
    ev: &Events,
    run: &Run,
) -> Result<RunStatus> {
    let out = writer
        .write_now(ev.run(
            EventType::RunCanceled,
            "Run was canceled before it started.",
        ))
        .await;
    finish(ctx, writer, run, EventType::RunCanceled, out).await
}

async fn finish(
    ctx: &ExecContext,
    writer: &EventWriter,
    run: &Run,
    last: EventType,
    out: Result<StoreOutcome>,
) -> Result<RunStatus> {
    let result = match out {
        Err(e) => Err(e),
        Ok(outcome) => match refusal_of(&outcome, last) {
            None => match RunStatus::from_event(last) {
                Some(s) => Ok(s),
                None => reload_status(ctx, &run.run_id).await,
            },
            Some(Some(RunStatus::Canceling)) => {
                // Cancellation was requested just as the run ended: finish it as canceled.
                let ev = Events {
                    run_id: run.run_id.clone(),
                    job_name: run.job_name.clone(),
                };
                let msg = format!("Execution of run for \"{}\" canceled.", run.job_name);
                match writer
                    .write_now(ev.run(EventType::RunCanceled, &msg).level(LogLevel::Info))
                    .await
                {
                    Ok(o) if refusal_of(&o, EventType::RunCanceled).is_none() => {
                        Ok(RunStatus::Canceled)
                    }
                    Ok(_) => reload_status(ctx, &run.run_id).await,
                    Err(e) => Err(e),
                }
            }
            Some(Some(status)) => Ok(status),
            Some(None) => Err(ExecError::RunNotFound(run.run_id.clone())),
        },
    };
    let closed = writer.close().await;
    let status = result?;
    closed?;
    Ok(status)
}

/// The current status reported with a refusal of an event of type `t`, if it was refused.
fn refusal_of(outcome: &StoreOutcome, t: EventType) -> Option<Option<RunStatus>> {
    outcome
        .rejected
        .iter()
        .find(|r| r.1 == t.name() || r.1 == t.stored_value())
        .map(|r| r.2)
}

async fn reload_status(ctx: &ExecContext, run_id: &str) -> Result<RunStatus> {
    let storage = ctx.storage.clone();
    let id = run_id.to_string();
    let run = blocking(move || Ok(storage.get_run(&id)?)).await?;
    run.map(|r| r.status)
        .ok_or_else(|| ExecError::RunNotFound(run_id.to_string()))
}

/// Event constructors for one run.
#[derive(Debug, Clone)]
struct Events {
    run_id: String,
    job_name: String,
}

impl Events {
    fn run(&self, t: EventType, message: &str) -> NewEvent {
        NewEvent::new(&self.run_id, &self.job_name, Some(t), message)
    }
    fn step(&self, t: EventType, step_key: &str, message: &str) -> NewEvent {
        NewEvent::new(&self.run_id, &self.job_name, Some(t), message).step(step_key)
    }
}

/// Best-effort RUN_FAILURE for an error of the engine itself; returns the error.
async fn fail_run(
    writer: &EventWriter,
    ev: &Events,
    job_name: &str,
    e: ExecError,
    reason: &str,
) -> ExecError {
    let failure = ev
        .run(
            EventType::RunFailure,
            &format!("Execution of run for \"{job_name}\" failed: {e}"),
        )
        .level(LogLevel::Error)
        .data(EventData::Failure {
            error: ErrorInfo::from_error(&e),
            reason: Some(reason.into()),
        });
    let _ = writer.write_now(failure).await;
    let _ = writer.close().await;
    e
}

async fn heartbeat_loop(storage: Arc<dyn Storage>, run_id: String, interval: Duration) {
    let pid = std::process::id();
    loop {
        let s = storage.clone();
        let id = run_id.clone();
        if let Err(e) = blocking(move || Ok(s.record_worker_heartbeat(&id, pid, now_ts())?)).await {
            tracing::warn!(run.id = %run_id, error = %e, "recording the worker heartbeat failed");
        }
        tokio::time::sleep(interval.max(Duration::from_millis(10))).await;
    }
}

async fn cancel_poll_loop(
    storage: Arc<dyn Storage>,
    run_id: String,
    interval: Duration,
    interrupt: Interrupt,
    stop: Arc<watch::Sender<Stop>>,
    (writer, ev): (EventWriter, Events),
) {
    let interval = interval.max(Duration::from_millis(5));
    loop {
        tokio::select! {
            _ = interrupt.triggered() => {
                tracing::info!(run.id = %run_id, "termination signal received; canceling the run");
                writer.emit(
                    ev.run(EventType::RunCanceling, "Received termination signal; terminating execution.")
                        .level(LogLevel::Info),
                );
                set_stop(&stop, Stop::Interrupted);
                return;
            }
            _ = tokio::time::sleep(interval) => {}
        }
        let s = storage.clone();
        let id = run_id.clone();
        match blocking(move || Ok(s.get_run(&id)?)).await {
            Ok(Some(run)) if run.status == RunStatus::Canceling || run.status.is_finished() => {
                tracing::info!(run.id = %run_id, status = %run.status, "run cancellation noticed");
                set_stop(&stop, Stop::Canceled);
                return;
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(run.id = %run_id, "run deleted while executing; stopping");
                set_stop(&stop, Stop::Canceled);
                return;
            }
            Err(e) => tracing::warn!(run.id = %run_id, error = %e, "reading the run status failed"),
        }
    }
}

/// Records the first reason to stop; later ones do not overwrite it.
fn set_stop(stop: &watch::Sender<Stop>, why: Stop) {
    stop.send_if_modified(|s| {
        if *s == Stop::None {
            *s = why;
            true
        } else {
            false
        }
    });
}

type ResourceMap = BTreeMap<String, std::result::Result<Arc<dyn Resource>, ErrorInfo>>;

/// Builds every resource the plan's assets require, once. Failures are kept per resource.
async fn build_resources(
    ctx: &ExecContext,
    plan: &ExecutionPlan,
    writer: &EventWriter,
    ev: &Events,
) -> ResourceMap {
    let mut names: Vec<String> = Vec::new();
    for s in &plan.steps {
        if let Some(a) = ctx.defs.assets.get(&s.asset_key) {
            for r in &a.required_resources {
                if !names.contains(r) {
                    names.push(r.clone());
                }
            }
        }
    }
    let mut out = ResourceMap::new();
    if names.is_empty() {
        return out;
    }
    let list = names.join(", ");
    writer.emit(ev.run(
        EventType::ResourceInitStarted,
        &format!("Starting initialization of resources [{list}]."),
    ));
    let started = Instant::now();
    for name in names {
        let built = build_resource(ctx, &name).await;
        out.insert(name, built);
    }
    let failed: Vec<(&String, &ErrorInfo)> = out
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| (n, e)))
        .collect();
    if failed.is_empty() {
        writer.emit(ev.run(
            EventType::ResourceInitSuccess,
            &format!(
                "Finished initialization of resources [{list}] in {} ms.",
                started.elapsed().as_millis()
            ),
        ));
    } else {
        for (name, error) in failed {
            writer.emit(
                ev.run(
                    EventType::ResourceInitFailure,
                    &format!("Initialization of resource `{name}` failed."),
                )
                .level(LogLevel::Error)
                .data(EventData::Engine {
                    metadata: Vec::new(),
                    error: Some(error.clone()),
                }),
            );
        }
    }
    out
}

async fn build_resource(
    ctx: &ExecContext,
    name: &str,
) -> std::result::Result<Arc<dyn Resource>, ErrorInfo> {
    let def = ctx.defs.resources.get(name).cloned().ok_or_else(|| {
        ErrorInfo::new(format!("resource `{name}` is not defined")).with_class("MissingResource")
    })?;
    let ty = ctx
        .defs
        .registry
        .resource_types
        .get(&def.type_name)
        .cloned()
        .ok_or_else(|| {
            ErrorInfo::new(format!(
                "resource `{name}` has unknown type `{}`",
                def.type_name
            ))
            .with_class("MissingResource")
        })?;
    let name = name.to_string();
    let joined = tokio::task::spawn_blocking(move || {
        catch_unwind(AssertUnwindSafe(|| ty.build(&def))).map_err(|p| panic_message(p.as_ref()))
    })
    .await;
    match joined {
        Ok(Ok(Ok(r))) => Ok(r),
        Ok(Ok(Err(e))) => {
            let cause = ErrorInfo::from_anyhow(&e);
            let mut info = ErrorInfo::new(format!("resource `{name}` failed to initialize"))
                .with_class("ResourceInitError");
            info.cause = Some(Box::new(cause));
            Err(info)
        }
        Ok(Err(panic)) => Err(ErrorInfo::new(format!(
            "resource `{name}` panicked while initializing: {panic}"
        ))
        .with_class("Panic")),
        Err(e) => Err(ErrorInfo::new(format!(
            "resource `{name}` initialization did not complete: {e}"
        ))),
    }
}

/// Shared by every step task of a run.
struct StepEnv {
    ev: Events,
    writer: EventWriter,
    compute_logs: ComputeLogManager,
    run_config: serde_json::Value,
    resources: ResourceMap,
    stop: watch::Receiver<Stop>,
    cancel_grace: Duration,
    /// Instance key-value state offered to step bodies (e.g. sync cursors).
    kv: Arc<dyn crate::storage::KvStore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Waiting,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

#[derive(Debug, Default)]
struct Summary {
    /// Failed steps, in plan order.
    failed: Vec<String>,
    /// Skipped steps (downstream of a failure), in plan order.
    skipped: Vec<String>,
}

/// Runs the plan: starts ready steps up to the limit, reacts to completions and cancellation.
async fn schedule(
    ctx: &ExecContext,
    plan: &ExecutionPlan,
    env: Arc<StepEnv>,
    max_concurrent: usize,
    stop_tx: &watch::Sender<Stop>,
) -> Result<Summary> {
    let mut stop = stop_tx.subscribe();
    let n = plan.steps.len();
    let index: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.as_str(), i))
        .collect();
    let mut waiting_on: Vec<usize> = plan.steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in plan.steps.iter().enumerate() {
        for d in &s.deps {
            if let Some(&j) = index.get(d.as_str()) {
                dependents[j].push(i);
            }
        }
    }
    let mut state = vec![StepState::Waiting; n];
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
    let mut running: JoinSet<(usize, bool)> = JoinSet::new();
    let mut stopping = *stop.borrow() != Stop::None;
    let mut engine_error: Option<ExecError> = None;

    loop {
        if !stopping {
            while running.len() < max_concurrent {
                let Some(i) = ready.pop_front() else { break };
                let step = &plan.steps[i];
                let Some(asset) = ctx.defs.assets.get(&step.asset_key).cloned() else {
                    // The plan was built from these definitions; cannot happen.
                    state[i] = StepState::Failed;
                    continue;
                };
                state[i] = StepState::Running;
                let env = env.clone();
                let key = step.key.clone();
                let span = tracing::info_span!("step", step.key = %key);
                running.spawn(async move { (i, run_step(env, key, asset).await) }.instrument(span));
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { continue };
                let (i, ok) = match joined {
                    Ok(r) => r,
                    Err(e) => {
                        // A step task itself panicked/was aborted: the engine is broken.
                        tracing::error!(error = %e, "a step task failed; stopping the run");
                        engine_error.get_or_insert(ExecError::Engine(format!("step task failed: {e}")));
                        stopping = true;
                        set_stop(stop_tx, Stop::EngineError);
                        continue;
                    }
                };
                if ok {
                    state[i] = StepState::Succeeded;
                    for &j in &dependents[i] {
                        waiting_on[j] -= 1;
                        if waiting_on[j] == 0 && state[j] == StepState::Waiting {
                            ready.push_back(j);
                        }
                    }
                } else {
                    state[i] = StepState::Failed;
                    // When the run is stopping, downstream steps are skipped below with the
                    // cancellation as the reason.
                    if !env.stopped() {
                        skip_downstream(plan, &env, &dependents, &mut state, i);
                    }
                }
                if env.writer.has_failed() && !stopping {
                    tracing::error!("storing events failed; stopping the run");
                    stopping = true;
                    engine_error.get_or_insert(ExecError::Engine("storing events failed; execution stopped".into()));
                    set_stop(stop_tx, Stop::EngineError);
                }
            }
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() != Stop::None {
                    stopping = true;
                }
            }
        }
    }

    // Steps that never started because the run stopped.
    let why = match *stop.borrow() {
        Stop::Canceled | Stop::Interrupted => "the run was canceled",
        Stop::EngineError | Stop::None => "execution was interrupted",
    };
    for (i, s) in plan.steps.iter().enumerate() {
        if state[i] == StepState::Waiting {
            state[i] = StepState::Skipped;
            env.writer.emit(
                env.ev
                    .step(
                        EventType::StepSkipped,
                        &s.key,
                        &format!("Skipped execution of step \"{}\": {why}.", s.key),
                    )
                    .level(LogLevel::Info),
            );
        }
    }
    if env.writer.has_failed() && engine_error.is_none() {
        engine_error = Some(ExecError::Engine(
            "storing events failed; execution stopped".into(),
        ));
    }
    if let Some(e) = engine_error {
        // Prefer the storage error that stopped the writer, if there is one.
        return Err(match env.writer.flush().await {
            Err(storage_error) => storage_error,
            Ok(_) => e,
        });
    }
    let with_state = |want: StepState| -> Vec<String> {
        plan.steps
            .iter()
            .enumerate()
            .filter(|(i, _)| state[*i] == want)
            .map(|(_, s)| s.key.clone())
            .collect()
    };
    Ok(Summary {
        failed: with_state(StepState::Failed),
        skipped: with_state(StepState::Skipped),
    })
}

/// Marks every (transitive) downstream step of a failed step as skipped.
fn skip_downstream(
    plan: &ExecutionPlan,
    env: &StepEnv,
    dependents: &[Vec<usize>],
    state: &mut [StepState],
    failed: usize,
) {
    let failed_key = &plan.steps[failed].key;
    let mut queue: VecDeque<(usize, usize)> =
        dependents[failed].iter().map(|&j| (j, failed)).collect();
    while let Some((j, because)) = queue.pop_front() {
        if state[j] != StepState::Waiting {
            continue;
        }
        state[j] = StepState::Skipped;
        let key = &plan.steps[j].key;
        let msg = if because == failed {
            format!("Skipped execution of step \"{key}\": upstream step \"{failed_key}\" failed.")
        } else {
            format!(
                "Skipped execution of step \"{key}\": upstream step \"{}\" was skipped because step \"{failed_key}\" failed.",
                plan.steps[because].key
            )
        };
        env.writer.emit(
            env.ev
                .step(EventType::StepSkipped, key, &msg)
                .level(LogLevel::Info),
        );
        queue.extend(dependents[j].iter().map(|&k| (k, j)));
    }
}

impl StepEnv {
    fn stopped(&self) -> bool {
        *self.stop.borrow() != Stop::None || self.writer.has_failed()
    }

    fn emit(&self, e: NewEvent) {
        self.writer.emit(e);
    }
}

/// Writes plain log events (event type none) for a step's `ctx.log` calls.
struct EventLogger {
    ev: Events,
    writer: EventWriter,
}

impl StepLogger for EventLogger {
    fn log(&self, step_key: &str, level: LogLevel, message: &str) {
        self.writer.emit(
            NewEvent::new(&self.ev.run_id, &self.ev.job_name, None, message)
                .step(step_key)
                .level(level),
        );
    }
}
