//! The GraphQL schema (juniper): `Query` and `Mutation` roots. Storage calls are blocking and
//! run on actix's blocking pool (`web::block`), never on an async worker.

pub mod instigators;
pub mod types;

use crate::state::{self, AppState};
use actix_web::web;
use dagster_core::domain::{
    AssetKey as DomainAssetKey, EventType, LogLevel, NewEvent, RunStatus as DomainStatus,
    RunsFilter,
};
use dagster_core::exec::{self, CreateRun, ExecError};
use juniper::{
    graphql_object, EmptySubscription, GraphQLInputObject, GraphQLScalar, RootNode, Scalar,
    ScalarValue, ID,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use types::*;

/// Per-request context.
pub struct Ctx {
    pub state: Arc<AppState>,
}

impl juniper::Context for Ctx {}

pub type Schema = RootNode<Query, Mutation, EmptySubscription<Ctx>>;

pub fn schema() -> Schema {
    Schema::new(Query, Mutation, EmptySubscription::new())
}

/// `scalar RunConfigData`: a YAML (or JSON) string. The HTTP layer turns an object given for
/// `runConfigData` in the variables into its JSON text first (juniper scalars only take
/// scalar input), so both the UI's YAML string and the Python client's object work.
#[derive(GraphQLScalar, Debug, Clone)]
#[graphql(name = "RunConfigData", with = Self, parse_token(String))]
pub struct RunConfigData(pub String);

impl RunConfigData {
    fn to_output<S: ScalarValue>(&self) -> S {
        S::from_displayable(&self.0)
    }
    fn from_input(v: &Scalar<impl ScalarValue>) -> Result<Self, Box<str>> {
        v.try_to_string()
            .map(RunConfigData)
            .ok_or_else(|| format!("Expected a YAML string or an object, found: {v}").into())
    }
}

#[derive(GraphQLInputObject, Debug, Clone)]
pub struct AssetKeyInput {
    pub path: Vec<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
pub struct AssetCheckHandleInput {
    pub asset_key: AssetKeyInput,
    pub name: String,
}

/// `JobOrPipelineSelector`; location and repository names are optional here (Dagster requires
/// them): the job is then looked up in every loaded location.
#[derive(GraphQLInputObject, Debug, Clone)]
pub struct JobOrPipelineSelector {
    pub pipeline_name: Option<String>,
    pub job_name: Option<String>,
    pub repository_name: Option<String>,
    pub repository_location_name: Option<String>,
    pub solid_selection: Option<Vec<String>>,
    pub asset_selection: Option<Vec<AssetKeyInput>>,
    pub asset_check_selection: Option<Vec<AssetCheckHandleInput>>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
pub struct ExecutionTag {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
pub struct ExecutionMetadata {
    pub tags: Option<Vec<ExecutionTag>>,
    pub root_run_id: Option<String>,
    pub parent_run_id: Option<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
pub struct ExecutionParams {
    pub selector: JobOrPipelineSelector,
    pub run_config_data: Option<RunConfigData>,
    pub mode: Option<String>,
    pub execution_metadata: Option<ExecutionMetadata>,
    pub step_keys: Option<Vec<String>>,
    pub preset: Option<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
pub struct RepositorySelector {
    pub repository_name: String,
    pub repository_location_name: String,
}

/// Runs a blocking closure on the blocking pool; a pool failure becomes a `PythonError`.
async fn blocking<T, F>(f: F) -> Result<T, PythonError>
where
    F: FnOnce() -> Result<T, PythonError> + Send + 'static,
    T: Send + 'static,
{
    match web::block(f).await {
        Ok(r) => r,
        Err(e) => Err(PythonError::new(format!("blocking task failed: {e}"))),
    }
}

async fn get_run(state: &Arc<AppState>, run_id: String) -> RunOrError {
    let st = state.clone();
    let id = run_id.clone();
    let res = blocking(move || {
        st.instance
            .storage
            .get_run(&id)
            .map_err(|e| PythonError::from_error(&e))
    })
    .await;
    match res {
        Ok(Some(r)) => RunOrError::Run(Run::new(r)),
        Ok(None) => RunOrError::RunNotFoundError(RunNotFoundError::new(&run_id)),
        Err(e) => RunOrError::PythonError(e),
    }
}

pub struct Query;

#[graphql_object]
#[graphql(context = Ctx)]
impl Query {
    /// The Dagster version this server is compatible with.
    fn version() -> &'static str {
        crate::VERSION
    }

    async fn run_or_error(ctx: &Ctx, run_id: ID) -> RunOrError {
        get_run(&ctx.state, run_id.to_string()).await
    }

    async fn pipeline_run_or_error(ctx: &Ctx, run_id: ID) -> RunOrError {
        get_run(&ctx.state, run_id.to_string()).await
    }

    /// Newest first; `cursor` = run id of the last run of the previous page.
    async fn runs_or_error(ctx: &Ctx, cursor: Option<String>, limit: Option<i32>) -> RunsOrError {
        let st = ctx.state.clone();
        let limit = limit.map(|l| l.clamp(0, 1000) as usize);
        let res = blocking(move || {
            let filter = RunsFilter::default();
            let runs = st
                .instance
                .storage
                .list_runs(&filter, cursor.as_deref(), limit)
                .map_err(|e| PythonError::from_error(&e))?;
            let count = st
                .instance
                .storage
                .count_runs(&filter)
                .map_err(|e| PythonError::from_error(&e))?;
            Ok((runs, count))
        })
        .await;
        match res {
            Ok((runs, count)) => RunsOrError::Runs(Runs {
                results: runs.into_iter().map(Run::new).collect(),
                count: Some(i32::try_from(count).unwrap_or(i32::MAX)),
            }),
            Err(e) => RunsOrError::PythonError(e),
        }
    }

    /// Loaded repositories (one `__repository__` per code location that loaded).
    fn repositories_or_error(
        ctx: &Ctx,
        repository_selector: Option<RepositorySelector>,
    ) -> RepositoriesOrError {
        let entries = ctx.state.locations();
        if let Some(sel) = repository_selector {
            let found = entries.iter().find(|e| {
                e.name == sel.repository_location_name && sel.repository_name == REPOSITORY_NAME
            });
            return match found.map(|e| &e.defs) {
                Some(Ok(defs)) => RepositoriesOrError::RepositoryConnection(RepositoryConnection {
                    nodes: vec![Repository {
                        location: sel.repository_location_name.clone(),
                        defs: defs.clone(),
                    }],
                }),
                _ => RepositoriesOrError::RepositoryNotFoundError(RepositoryNotFoundError {
                    message: format!(
                        "Could not find a repository named {}@{}",
                        sel.repository_name, sel.repository_location_name
                    ),
                    repository_name: sel.repository_name,
                    repository_location_name: sel.repository_location_name,
                }),
            };
        }
        RepositoriesOrError::RepositoryConnection(RepositoryConnection {
            nodes: entries
                .into_iter()
                .filter_map(|e| {
                    e.defs.ok().map(|defs| Repository {
                        location: e.name,
                        defs,
                    })
                })
                .collect(),
        })
    }

    fn workspace_location_entry_or_error(
        ctx: &Ctx,
        name: String,
    ) -> Option<WorkspaceLocationEntry> {
        ctx.state
            .locations()
            .into_iter()
            .find(|e| e.name == name)
            .map(WorkspaceLocationEntry)
    }
}

pub struct Mutation;

#[graphql_object]
#[graphql(context = Ctx)]
impl Mutation {
    async fn launch_pipeline_execution(
        ctx: &Ctx,
        execution_params: ExecutionParams,
    ) -> LaunchRunResult {
        launch(ctx, execution_params).await
    }

    async fn launch_run(ctx: &Ctx, execution_params: ExecutionParams) -> LaunchRunResult {
        launch(ctx, execution_params).await
    }

    /// Re-reads the workspace / pipeline config.
    async fn reload_repository_location(
        ctx: &Ctx,
        repository_location_name: String,
    ) -> ReloadRepositoryLocationMutationResult {
        type R = ReloadRepositoryLocationMutationResult;
        if ctx.state.read_only {
            return R::UnauthorizedError(UnauthorizedError::new());
        }
        let before = ctx.state.locations();
        if !before.iter().any(|e| e.name == repository_location_name) {
            return R::RepositoryLocationNotFound(location_not_found(&repository_location_name));
        }
        let st = ctx.state.clone();
        let res = blocking(move || {
            let entries = state::load(&st.sources, &before);
            st.set_locations(entries.clone());
            Ok(entries)
        })
        .await;
        match res {
            Ok(entries) => match entries
                .into_iter()
                .find(|e| e.name == repository_location_name)
            {
                Some(e) => R::WorkspaceLocationEntry(WorkspaceLocationEntry(e)),
                None => {
                    R::RepositoryLocationNotFound(location_not_found(&repository_location_name))
                }
            },
            Err(e) => R::PythonError(e),
        }
    }

    /// There is no separate code server to shut down: answers success for a known location.
    fn shutdown_repository_location(
        ctx: &Ctx,
        repository_location_name: String,
    ) -> ShutdownRepositoryLocationMutationResult {
        type R = ShutdownRepositoryLocationMutationResult;
        if ctx.state.read_only {
            return R::UnauthorizedError(UnauthorizedError::new());
        }
        if ctx
            .state
            .locations()
            .iter()
            .any(|e| e.name == repository_location_name)
        {
            R::ShutdownRepositoryLocationSuccess(ShutdownRepositoryLocationSuccess {
                repository_location_name,
            })
        } else {
            R::RepositoryLocationNotFound(location_not_found(&repository_location_name))
        }
    }

    async fn terminate_run(
        ctx: &Ctx,
        run_id: String,
        terminate_policy: Option<TerminateRunPolicy>,
    ) -> TerminateRunResult {
        terminate(ctx, run_id, terminate_policy).await
    }

    async fn terminate_pipeline_execution(
        ctx: &Ctx,
        run_id: String,
        terminate_policy: Option<TerminateRunPolicy>,
    ) -> TerminateRunResult {
        terminate(ctx, run_id, terminate_policy).await
    }

    async fn terminate_runs(
        ctx: &Ctx,
        run_ids: Vec<String>,
        terminate_policy: Option<TerminateRunPolicy>,
    ) -> TerminateRunsResultOrError {
        let mut results = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            results.push(terminate(ctx, id, terminate_policy).await);
        }
        TerminateRunsResultOrError::TerminateRunsResult(TerminateRunsResult {
            terminate_run_results: results,
        })
    }

    // Schedule and sensor mutations: see `instigators`.

    async fn start_schedule(
        ctx: &Ctx,
        schedule_selector: instigators::ScheduleSelector,
    ) -> instigators::ScheduleMutationResult {
        instigators::start_schedule(ctx, schedule_selector).await
    }

    async fn stop_running_schedule(
        ctx: &Ctx,
        id: Option<String>,
        schedule_origin_id: Option<String>,
        schedule_selector_id: Option<String>,
    ) -> instigators::ScheduleMutationResult {
        instigators::stop_running_schedule(ctx, id, schedule_origin_id, schedule_selector_id).await
    }

    async fn reset_schedule(
        ctx: &Ctx,
        schedule_selector: instigators::ScheduleSelector,
    ) -> instigators::ScheduleMutationResult {
        instigators::reset_schedule(ctx, schedule_selector).await
    }

    async fn start_sensor(
        ctx: &Ctx,
        sensor_selector: instigators::SensorSelector,
    ) -> instigators::SensorOrError {
        instigators::start_sensor(ctx, sensor_selector).await
    }

    async fn set_sensor_cursor(
        ctx: &Ctx,
        cursor: Option<String>,
        sensor_selector: instigators::SensorSelector,
    ) -> instigators::SensorOrError {
        instigators::set_sensor_cursor(ctx, cursor, sensor_selector).await
    }

    async fn stop_sensor(
        ctx: &Ctx,
        id: Option<String>,
        job_origin_id: Option<String>,
        job_selector_id: Option<String>,
    ) -> instigators::StopSensorMutationResultOrError {
        instigators::stop_sensor(ctx, id, job_origin_id, job_selector_id).await
    }

    async fn reset_sensor(
        ctx: &Ctx,
        sensor_selector: instigators::SensorSelector,
    ) -> instigators::SensorOrError {
        instigators::reset_sensor(ctx, sensor_selector).await
    }
}

fn location_not_found(name: &str) -> RepositoryLocationNotFound {
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
            PipelineConfigValidationErrorIfaceValue::FieldNotDefinedConfigError(
                FieldNotDefinedConfigError {
                    message,
                    path: Vec::new(),
                    stack: EvaluationStack::default(),
                    reason,
                    field_name: String::new(),
                },
            )
        }
        _ => PipelineConfigValidationErrorIfaceValue::RuntimeMismatchConfigError(
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
async fn launch(ctx: &Ctx, params: ExecutionParams) -> LaunchRunResult {
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
    let st = ctx.state.clone();
    let res = web::block(move || {
        let storage = st.instance.storage.as_ref();
        let run = exec::create_run(storage, &defs, req)?;
        exec::submit_run(storage, &st.launcher, st.instance.coordinator_kind(), &run)?;
        Ok::<_, ExecError>(storage.get_run(&run.run_id)?.unwrap_or(run))
    })
    .await;
    match res {
        Ok(Ok(run)) => R::LaunchRunSuccess(LaunchRunSuccess { run: Run::new(run) }),
        Ok(Err(e)) => match e {
            ExecError::UnknownJob { .. } => {
                pipeline_not_found(&job, &repo, &location, e.to_string())
            }
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

/// `terminateRun`: `request_cancel` (QUEUED → CANCELED at once, STARTED → CANCELING); with
/// `MARK_AS_CANCELED_IMMEDIATELY` any unfinished run is marked CANCELED (its worker notices the
/// final status and stops).
async fn terminate(
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
