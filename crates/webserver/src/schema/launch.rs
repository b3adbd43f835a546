//! Launching and stopping runs: `launchRun` / `launchPipelineExecution`,
//! `launchRunReexecution` / `launchPipelineReexecution`, `terminateRun(s)`, `deleteRun`.
//! Every entry point answers `UnauthorizedError` in `--read-only` mode.

#[allow(unused_imports)]
use super::prelude::*;
use super::runs::Run;
use super::types::*;
use super::{blocking, with_storage, Ctx, ExecutionParams, ExecutionTag};
use actix_web::web;
use dagster_core::domain::{
    AssetKey as DomainAssetKey, EventType, LogLevel, NewEvent, RunStatus as DomainStatus,
};
use dagster_core::exec::{self, CreateRun, ExecError, ReexecutionStrategy as CoreStrategy};
use juniper::{GraphQLEnum, GraphQLInputObject, GraphQLObject, GraphQLUnion};
use std::collections::BTreeMap;

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum ReexecutionStrategy {
    FromAssetFailure,
    FromFailure,
    AllSteps,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ReexecutionParams {
    pub parent_run_id: String,
    pub strategy: ReexecutionStrategy,
    /// Tags upserted over the parent's tags.
    pub extra_tags: Option<Vec<ExecutionTag>>,
    /// `false`: do not copy the parent's tags.
    pub use_parent_run_tags: Option<bool>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct DeletePipelineRunSuccess {
    pub run_id: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum DeletePipelineRunResult {
    DeletePipelineRunSuccess(DeletePipelineRunSuccess),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
    RunNotFoundError(RunNotFoundError),
}

pub(super) fn location_not_found(name: &str) -> RepositoryLocationNotFound {
    RepositoryLocationNotFound {
        message: format!("Location {name} does not exist in workspace"),
    }
}

fn pipeline_not_found(job: &str, repo: &str, location: &str, message: String) -> LaunchRunResult {
    LaunchRunResult::PipelineNotFoundError(PipelineNotFoundError {
        message,
        pipeline_name: job.to_string(),
        repository_name: repo.to_string(),
        repository_location_name: location.to_string(),
    })
}

fn config_invalid(job: &str, message: String) -> LaunchRunResult {
    let reason = if message.contains("unknown key") || message.contains("no step") {
        EvaluationErrorReason::FieldNotDefined
    } else {
        EvaluationErrorReason::RuntimeTypeMismatch
    };
    let error = match reason {
        EvaluationErrorReason::FieldNotDefined => {
            PipelineConfigValidationErrorValue::FieldNotDefinedConfigError(
                FieldNotDefinedConfigError {
                    message,
                    path: Vec::new(),
                    stack: EvaluationStack::default(),
                    reason,
                    field_name: String::new(),
                },
            )
        }
        _ => PipelineConfigValidationErrorValue::RuntimeMismatchConfigError(
            RuntimeMismatchConfigError {
                message,
                path: Vec::new(),
                stack: EvaluationStack::default(),
                reason,
                value_rep: None,
            },
        ),
    };
    LaunchRunResult::RunConfigValidationInvalid(RunConfigValidationInvalid {
        pipeline_name: job.to_string(),
        errors: vec![error],
    })
}

/// `launchRun` / `launchPipelineExecution`: create the run and submit it through the
/// instance's run coordinator (queued: RUN_ENQUEUED only; default: launch a worker).
pub(super) async fn launch(ctx: &Ctx, params: ExecutionParams) -> LaunchRunResult {
    type R = LaunchRunResult;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let sel = params.selector;
    let Some(job) = sel.job_name.clone().or(sel.pipeline_name.clone()) else {
        return R::ConflictingExecutionParamsError(ConflictingExecutionParamsError {
            message: "the selector names no job: give jobName or pipelineName".into(),
        });
    };
    if let (Some(a), Some(b)) = (&sel.job_name, &sel.pipeline_name) {
        if a != b {
            return R::ConflictingExecutionParamsError(ConflictingExecutionParamsError {
                message: format!("jobName `{a}` and pipelineName `{b}` differ"),
            });
        }
    }
    if let Some(p) = &params.preset {
        return R::PresetNotFoundError(PresetNotFoundError {
            message: format!("Preset {p} not found in pipeline {job}."),
            preset: p.clone(),
        });
    }
    let repo = sel
        .repository_name
        .clone()
        .unwrap_or_else(|| REPOSITORY_NAME.into());
    let loc_name = sel.repository_location_name.clone().unwrap_or_default();
    if repo != REPOSITORY_NAME {
        return pipeline_not_found(
            &job,
            &repo,
            &loc_name,
            format!("Could not find repository {repo} in location {loc_name}: code locations have one repository, `{REPOSITORY_NAME}`"),
        );
    }
    let entries = ctx.state.locations();
    let defs = match &sel.repository_location_name {
        Some(name) => match entries.iter().find(|e| &e.name == name) {
            None => {
                return pipeline_not_found(
                    &job,
                    &repo,
                    name,
                    format!("Location {name} does not exist in workspace"),
                )
            }
            Some(e) => match &e.defs {
                Ok(d) => d.clone(),
                Err(m) => {
                    return R::PythonError(PythonError {
                        message: format!("code location {name} failed to load: {m}"),
                        class_name: Some("DagsterUserCodeLoadError".into()),
                        stack: Vec::new(),
                        cause: None,
                    })
                }
            },
        },
        None => {
            let found: Vec<_> = entries
                .iter()
                .filter_map(|e| e.defs.as_ref().ok())
                .filter(|d| d.job(&job).is_some())
                .collect();
            match found.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return pipeline_not_found(
                        &job,
                        &repo,
                        "",
                        format!("Could not find Pipeline {job} in any loaded code location"),
                    )
                }
                _ => {
                    return R::ConflictingExecutionParamsError(ConflictingExecutionParamsError {
                        message: format!(
                        "job {job} exists in several code locations: give repositoryLocationName"
                    ),
                    })
                }
            }
        }
    };
    let location = defs.location_name.clone();
    if defs.job(&job).is_none() {
        return pipeline_not_found(
            &job,
            &repo,
            &location,
            format!("Could not find Pipeline {location}.{REPOSITORY_NAME}.{job}"),
        );
    }
    let run_config = match params.run_config_data.as_ref().map(|c| c.0.trim()) {
        None | Some("") => serde_json::json!({}),
        Some(text) => match serde_yaml::from_str::<serde_json::Value>(text) {
            Ok(v) => v,
            Err(e) => return config_invalid(&job, format!("run config is not valid YAML: {e}")),
        },
    };
    let mut tags = BTreeMap::new();
    let mut parent_run_id = None;
    let mut root_run_id = None;
    if let Some(meta) = params.execution_metadata {
        for t in meta.tags.unwrap_or_default() {
            tags.insert(t.key, t.value);
        }
        parent_run_id = meta.parent_run_id;
        root_run_id = meta.root_run_id;
    }
    let asset_selection = sel
        .asset_selection
        .filter(|s| !s.is_empty())
        .map(|s| s.into_iter().map(|k| DomainAssetKey(k.path)).collect());
    let step_keys = params
        .step_keys
        .filter(|s| !s.is_empty())
        .or(sel.solid_selection.filter(|s| !s.is_empty()));
    let req = CreateRun {
        job_name: job.clone(),
        asset_selection,
        step_keys,
        run_config,
        tags,
        run_id: None,
        parent_run_id,
        root_run_id,
    };
    create_and_submit(ctx, defs, req, &repo, &location).await
}

/// Stores the run and submits it through the instance's run coordinator; maps core errors to
/// the `LaunchRunResult` members Dagster uses.
async fn create_and_submit(
    ctx: &Ctx,
    defs: std::sync::Arc<dagster_core::defs::Definitions>,
    req: CreateRun,
    repo: &str,
    location: &str,
) -> LaunchRunResult {
    type R = LaunchRunResult;
    let job = req.job_name.clone();
    let st = ctx.state.clone();
    let res = web::block(move || {
        let storage = st.instance.storage.as_ref();
        let run = exec::create_run(storage, &defs, req)?;
        let status = st.runs.submit(&run)?;
        if status == dagster_core::domain::RunStatus::Queued {
            warn_if_no_daemon(storage, &st.instance.config, &run.run_id);
        }
        Ok::<_, ExecError>(storage.get_run(&run.run_id)?.unwrap_or(run))
    })
    .await;
    match res {
        Ok(Ok(run)) => R::LaunchRunSuccess(LaunchRunSuccess { run: Run::new(run) }),
        Ok(Err(e)) => match e {
            ExecError::UnknownJob { .. } => pipeline_not_found(&job, repo, location, e.to_string()),
            ExecError::UnknownStepKey { step_key, .. } => R::InvalidStepError(InvalidStepError {
                invalid_step_key: step_key,
            }),
            ExecError::UnknownAsset { .. }
            | ExecError::AssetNotInJob { .. }
            | ExecError::EmptyStepSelection { .. } => R::InvalidSubsetError(InvalidSubsetError {
                message: e.to_string(),
            }),
            ExecError::InvalidRunConfig { message, .. } => config_invalid(&job, message),
            other => R::PythonError(PythonError::from_error(&other)),
        },
        Err(e) => R::PythonError(PythonError::new(format!("blocking task failed: {e}"))),
    }
}

/// Logs a warning when a run was queued and no daemon is there to start it (at most once a
/// minute: every launch would repeat it).
fn warn_if_no_daemon(
    storage: &dyn dagster_core::storage::Storage,
    config: &dagster_core::config::instance::InstanceConfig,
    run_id: &str,
) {
    static LAST_WARNING: std::sync::Mutex<f64> = std::sync::Mutex::new(f64::NEG_INFINITY);
    let now = crate::state::now();
    let Ok(mut last) = LAST_WARNING.lock() else {
        return;
    };
    if now - *last < 60.0 {
        return;
    }
    if let Ok(Some(msg)) = dagster_core::daemon_health::queue_unattended(storage, config, now) {
        *last = now;
        tracing::warn!(run.id = %run_id, "run queued, but {msg}");
    }
}

/// `launchRunReexecution` / `launchPipelineReexecution`: a new run of the parent's job
/// (`FROM_FAILURE`: the steps that did not succeed; `ALL_STEPS`: all of them) with
/// `dagster/parent_run_id` and `dagster/root_run_id`, through core's re-execution.
/// `executionParams` (the older form) may name the parent in `executionMetadata.parentRunId`
/// and the steps to run in `stepKeys` (the UI's "Selected step" and "From selected").
pub(super) async fn reexecute(
    ctx: &Ctx,
    execution_params: Option<ExecutionParams>,
    reexecution_params: Option<ReexecutionParams>,
) -> LaunchRunResult {
    type R = LaunchRunResult;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    // The UI's "Selected step" / "From selected" send the older form with `stepKeys`.
    let mut step_keys = None;
    let params = match (reexecution_params, execution_params) {
        (Some(p), _) => p,
        (None, Some(e)) => {
            step_keys = e.step_keys.filter(|k| !k.is_empty());
            let meta = e.execution_metadata.unwrap_or(super::ExecutionMetadata {
                tags: None,
                root_run_id: None,
                parent_run_id: None,
            });
            let Some(parent_run_id) = meta.parent_run_id else {
                return R::ConflictingExecutionParamsError(ConflictingExecutionParamsError {
                    message: "executionParams.executionMetadata.parentRunId is required for a re-execution".into(),
                });
            };
            ReexecutionParams {
                parent_run_id,
                strategy: ReexecutionStrategy::AllSteps,
                extra_tags: meta.tags,
                use_parent_run_tags: Some(true),
            }
        }
        (None, None) => {
            return R::ConflictingExecutionParamsError(ConflictingExecutionParamsError {
                message:
                    "give reexecutionParams (or executionParams with executionMetadata.parentRunId)"
                        .into(),
            })
        }
    };
    let strategy = match params.strategy {
        ReexecutionStrategy::AllSteps => CoreStrategy::AllSteps,
        // Asset failure = step failure here: one step per asset.
        ReexecutionStrategy::FromFailure | ReexecutionStrategy::FromAssetFailure => {
            CoreStrategy::FromFailure
        }
    };
    let parent_id = params.parent_run_id.clone();
    let parent = with_storage(&ctx.state, move |s| s.get_run(&parent_id)).await;
    let parent = match parent {
        Ok(Some(p)) => p,
        Ok(None) => {
            return R::PythonError(PythonError {
                message: format!("Run {} could not be found.", params.parent_run_id),
                class_name: Some("DagsterRunNotFoundError".into()),
                stack: Vec::new(),
                cause: None,
            })
        }
        Err(e) => return R::PythonError(e),
    };
    let location = parent.code_location.clone().unwrap_or_default();
    let entries = ctx.state.locations();
    let defs = entries
        .iter()
        .filter_map(|e| e.defs.as_ref().ok())
        .find(|d| {
            d.location_name == location
                || (location.is_empty() && d.job(&parent.job_name).is_some())
        })
        .cloned();
    let Some(defs) = defs else {
        return pipeline_not_found(
            &parent.job_name,
            REPOSITORY_NAME,
            &location,
            format!("Could not find Pipeline {location}.{REPOSITORY_NAME}.{}: its code location is not loaded", parent.job_name),
        );
    };
    let st = ctx.state.clone();
    let req = blocking(move || {
        exec::reexecution_request(st.instance.storage.as_ref(), &parent, strategy)
            .map_err(|e| PythonError::from_error(&e))
    })
    .await;
    let mut req = match req {
        Ok(r) => r,
        Err(e) => return R::PythonError(e),
    };
    if step_keys.is_some() {
        req.step_keys = step_keys;
    }
    if params.use_parent_run_tags == Some(false) {
        req.tags
            .retain(|k, _| k.starts_with("dagster/") || k.starts_with(".dagster/"));
    }
    for t in params.extra_tags.unwrap_or_default() {
        req.tags.insert(t.key, t.value);
    }
    let loc = defs.location_name.clone();
    create_and_submit(ctx, defs, req, REPOSITORY_NAME, &loc).await
}

/// `deleteRun`: the run row, its tags, its events and its captured compute logs.
pub(super) async fn delete_run(ctx: &Ctx, run_id: String) -> DeletePipelineRunResult {
    type R = DeletePipelineRunResult;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let st = ctx.state.clone();
    let id = run_id.clone();
    let res = blocking(move || {
        let deleted = st
            .instance
            .storage
            .delete_run(&id)
            .map_err(|e| PythonError::from_error(&e))?;
        if deleted {
            st.instance
                .compute_logs
                .delete_run(&id)
                .map_err(|e| PythonError::from_error(&e))?;
        }
        Ok(deleted)
    })
    .await;
    match res {
        Ok(true) => R::DeletePipelineRunSuccess(DeletePipelineRunSuccess { run_id }),
        Ok(false) => R::RunNotFoundError(RunNotFoundError::new(&run_id)),
        Err(e) => R::PythonError(e),
    }
}

/// `terminateRun`: `request_cancel` (QUEUED → CANCELED at once, STARTED → CANCELING); with
/// `MARK_AS_CANCELED_IMMEDIATELY` any unfinished run is marked CANCELED (its worker notices the
/// final status and stops).
pub(super) async fn terminate(
    ctx: &Ctx,
    run_id: String,
    policy: Option<TerminateRunPolicy>,
) -> TerminateRunResult {
    type R = TerminateRunResult;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let force = policy == Some(TerminateRunPolicy::MarkAsCanceledImmediately);
    let st = ctx.state.clone();
    let id = run_id.clone();
    let res = web::block(move || {
        let storage = st.instance.storage.as_ref();
        let Some(run) = storage.get_run(&id)? else {
            return Ok(None);
        };
        let outcome = if force && !run.status.is_finished() {
            let mut events = Vec::new();
            if run.status != DomainStatus::Canceling {
                events.push(
                    NewEvent::new(&id, &run.job_name, Some(EventType::RunCanceling), "Sending run termination request.")
                        .level(LogLevel::Info),
                );
            }
            events.push(
                NewEvent::new(
                    &id,
                    &run.job_name,
                    Some(EventType::RunCanceled),
                    "This pipeline was forcibly marked as canceled from outside the execution context. The computational resources created by the run may not have been fully cleaned up.",
                )
                .level(LogLevel::Info),
            );
            let o = storage.store_events(&events)?;
            if o.rejected.is_empty() {
                Ok(DomainStatus::Canceled)
            } else {
                let now = storage.get_run(&id)?.map_or(run.status, |r| r.status);
                Err(ExecError::CannotCancel {
                    run_id: id.clone(),
                    status: now,
                })
            }
        } else {
            exec::request_cancel(storage, &id)
        };
        let after = storage.get_run(&id)?.unwrap_or(run);
        Ok::<_, ExecError>(Some((after, outcome)))
    })
    .await;
    match res {
        Ok(Ok(None)) => R::RunNotFoundError(RunNotFoundError::new(&run_id)),
        Ok(Ok(Some((run, Ok(_))))) => {
            R::TerminateRunSuccess(TerminateRunSuccess { run: Run::new(run) })
        }
        Ok(Ok(Some((run, Err(ExecError::RunNotFound(_)))))) => {
            let _ = run;
            R::RunNotFoundError(RunNotFoundError::new(&run_id))
        }
        Ok(Ok(Some((run, Err(e))))) => R::TerminateRunFailure(TerminateRunFailure {
            run: Run::new(run),
            message: e.to_string(),
        }),
        Ok(Err(e)) => R::PythonError(PythonError::from_error(&e)),
        Err(e) => R::PythonError(PythonError::new(format!("blocking task failed: {e}"))),
    }
}
