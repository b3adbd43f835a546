//! The GraphQL schema (juniper): `Query`, `Mutation` and `Subscription` roots, which only
//! delegate to the area modules: [`runs`], [`runs_feed`], [`backfills`], [`logs`], [`assets`],
//! [`instance`], [`instigators`], [`workspace`], [`launch`], [`subscriptions`] (types shared by
//! several areas are in [`types`]). Storage calls are blocking and run on actix's blocking pool
//! (`web::block`), never on an async worker.

pub mod assets;
pub mod backfills;
#[macro_use]
mod interface;
pub mod instance;
pub mod instigators;
pub mod launch;
pub mod logs;
pub mod runs;
pub mod runs_feed;
pub mod subscriptions;
pub mod types;
pub mod workspace;

use crate::state::{self, AppState};
use actix_web::web;
use juniper::{
    graphql_object, GraphQLInputObject, GraphQLScalar, RootNode, Scalar, ScalarValue, ID,
};
use std::sync::Arc;
use types::*;

/// Per-request (and per-websocket-connection) context.
#[derive(Clone)]
pub struct Ctx {
    pub state: Arc<AppState>,
}

impl juniper::Context for Ctx {}

pub type Schema = RootNode<Query, Mutation, subscriptions::Subscription>;

pub fn schema() -> Schema {
    Schema::new(Query, Mutation, subscriptions::Subscription)
}

/// `scalar RunConfigData`: a YAML (or JSON) string. The HTTP layer turns an object given for
/// `runConfigData` in the variables into its JSON text first (juniper scalars only take
/// scalar input), so both the UI's YAML string and the Python client's object work.
#[derive(GraphQLScalar, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
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
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetKeyInput {
    pub path: Vec<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetCheckHandleInput {
    pub asset_key: AssetKeyInput,
    pub name: String,
}

/// `JobOrPipelineSelector`; location and repository names are optional here (Dagster requires
/// them): the job is then looked up in every loaded location.
#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
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
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ExecutionTag {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ExecutionMetadata {
    pub tags: Option<Vec<ExecutionTag>>,
    pub root_run_id: Option<String>,
    pub parent_run_id: Option<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ExecutionParams {
    pub selector: JobOrPipelineSelector,
    pub run_config_data: Option<RunConfigData>,
    pub mode: Option<String>,
    pub execution_metadata: Option<ExecutionMetadata>,
    pub step_keys: Option<Vec<String>>,
    pub preset: Option<String>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
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

pub struct Query;

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Query {
    /// The Dagster version this server is compatible with.
    fn version() -> &'static str {
        crate::VERSION
    }

    async fn run_or_error(ctx: &Ctx, run_id: ID) -> RunOrError {
        runs::run_or_error(ctx, run_id.to_string()).await
    }

    async fn pipeline_run_or_error(ctx: &Ctx, run_id: ID) -> RunOrError {
        runs::run_or_error(ctx, run_id.to_string()).await
    }

    /// Newest first; `cursor` = run id of the last run of the previous page.
    async fn runs_or_error(
        ctx: &Ctx,
        filter: Option<runs::RunsFilterInput>,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> RunsOrError {
        runs::runs_or_error(ctx, filter, cursor, limit).await
    }

    async fn pipeline_runs_or_error(
        ctx: &Ctx,
        filter: Option<runs::RunsFilterInput>,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> RunsOrError {
        runs::runs_or_error(ctx, filter, cursor, limit).await
    }

    /// The runs page: runs newest first (`ROOTS`: not part of a backfill; `RUNS`: all;
    /// `BACKFILLS`: none, there are no backfills). `cursor` is the `cursor` of the previous
    /// page.
    async fn runs_feed_or_error(
        ctx: &Ctx,
        limit: i32,
        cursor: Option<String>,
        view: runs_feed::RunsFeedView,
        filter: Option<runs::RunsFilterInput>,
    ) -> runs_feed::RunsFeedConnectionOrError {
        runs_feed::runs_feed_or_error(ctx, limit, cursor, filter, view).await
    }

    /// How many entries `runsFeedOrError` has for this view and filter.
    async fn runs_feed_count_or_error(
        ctx: &Ctx,
        view: runs_feed::RunsFeedView,
        filter: Option<runs::RunsFilterInput>,
    ) -> runs_feed::RunsFeedCountOrError {
        runs_feed::runs_feed_count_or_error(ctx, view, filter).await
    }

    /// A backfill by id. There are no backfills, so always `BackfillNotFoundError`.
    fn partition_backfill_or_error(backfill_id: String) -> backfills::PartitionBackfillOrError {
        backfills::partition_backfill_or_error(backfill_id)
    }

    /// Backfills, newest first. There are no backfills, so always the empty list.
    fn partition_backfills_or_error(
        status: Option<backfills::BulkActionStatus>,
        cursor: Option<String>,
        limit: Option<i32>,
        filters: Option<backfills::BulkActionsFilter>,
    ) -> backfills::PartitionBackfillsOrError {
        let _ = (status, cursor, limit, filters);
        backfills::partition_backfills_or_error()
    }

    /// The distinct tag keys of all runs (hidden `.dagster/*` keys left out).
    async fn run_tag_keys_or_error(ctx: &Ctx) -> Option<runs_feed::RunTagKeysOrError> {
        Some(runs_feed::run_tag_keys_or_error(ctx).await)
    }

    /// The distinct values of run tags, per key.
    async fn run_tags_or_error(
        ctx: &Ctx,
        tag_keys: Option<Vec<String>>,
        value_prefix: Option<String>,
        limit: Option<i32>,
    ) -> Option<runs_feed::RunTagsOrError> {
        Some(runs_feed::run_tags_or_error(ctx, tag_keys, value_prefix, limit).await)
    }

    /// A run's events after `afterCursor` (exclusive), ascending, in pages (the
    /// `pipelineRunLogs` subscription pushes them instead).
    async fn logs_for_run(
        ctx: &Ctx,
        run_id: ID,
        after_cursor: Option<String>,
        limit: Option<i32>,
    ) -> logs::EventConnectionOrError {
        logs::logs_for_run(ctx, run_id.to_string(), after_cursor, limit).await
    }

    async fn captured_logs(
        ctx: &Ctx,
        log_key: Vec<String>,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> Result<logs::CapturedLogs, PythonError> {
        logs::captured_logs(ctx, log_key, cursor, limit).await
    }

    fn captured_logs_metadata(
        ctx: &Ctx,
        log_key: Vec<String>,
    ) -> Result<logs::CapturedLogsMetadata, PythonError> {
        logs::captured_logs_metadata(ctx, &log_key)
    }

    fn asset_nodes(
        ctx: &Ctx,
        group: Option<assets::AssetGroupSelector>,
        pipeline: Option<assets::PipelineSelector>,
        asset_keys: Option<Vec<AssetKeyInput>>,
        load_materializations: Option<bool>,
    ) -> Vec<assets::AssetNode> {
        let _ = load_materializations; // materializations are resolved when selected
        assets::asset_nodes(ctx, group, pipeline, asset_keys)
    }

    fn asset_node_or_error(ctx: &Ctx, asset_key: AssetKeyInput) -> assets::AssetNodeOrError {
        assets::asset_node_or_error(ctx, asset_key)
    }

    async fn asset_or_error(
        ctx: &Ctx,
        asset_key: AssetKeyInput,
    ) -> Result<assets::AssetOrError, PythonError> {
        assets::asset_or_error(ctx, asset_key).await
    }

    async fn assets_or_error(
        ctx: &Ctx,
        prefix: Option<Vec<String>>,
        asset_keys: Option<Vec<AssetKeyInput>>,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> assets::AssetsOrError {
        assets::assets_or_error(ctx, prefix, asset_keys, cursor, limit).await
    }

    async fn assets_latest_info(
        ctx: &Ctx,
        asset_keys: Vec<AssetKeyInput>,
    ) -> Result<Vec<assets::AssetLatestInfo>, PythonError> {
        assets::assets_latest_info(ctx, asset_keys).await
    }

    fn instance() -> instance::InstanceInfo {
        instance::InstanceInfo
    }

    fn permissions(ctx: &Ctx) -> Vec<instance::Permission> {
        instance::permissions(ctx)
    }

    fn workspace_or_error(ctx: &Ctx) -> workspace::WorkspaceOrError {
        workspace::workspace_or_error(ctx)
    }

    fn location_statuses_or_error(ctx: &Ctx) -> workspace::WorkspaceLocationStatusEntriesOrError {
        workspace::location_statuses(ctx)
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
    ) -> Option<WorkspaceLocationEntryOrError> {
        ctx.state
            .locations()
            .into_iter()
            .find(|e| e.name == name)
            .map(|e| {
                WorkspaceLocationEntryOrError::WorkspaceLocationEntry(WorkspaceLocationEntry(e))
            })
    }
}

pub struct Mutation;

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Mutation {
    async fn launch_pipeline_execution(
        ctx: &Ctx,
        execution_params: ExecutionParams,
    ) -> LaunchRunResult {
        launch::launch(ctx, execution_params).await
    }

    async fn launch_run(ctx: &Ctx, execution_params: ExecutionParams) -> LaunchRunResult {
        launch::launch(ctx, execution_params).await
    }

    async fn launch_run_reexecution(
        ctx: &Ctx,
        execution_params: Option<ExecutionParams>,
        reexecution_params: Option<launch::ReexecutionParams>,
    ) -> LaunchRunReexecutionResult {
        launch::reexecute(ctx, execution_params, reexecution_params)
            .await
            .into()
    }

    async fn launch_pipeline_reexecution(
        ctx: &Ctx,
        execution_params: Option<ExecutionParams>,
        reexecution_params: Option<launch::ReexecutionParams>,
    ) -> LaunchRunReexecutionResult {
        launch::reexecute(ctx, execution_params, reexecution_params)
            .await
            .into()
    }

    async fn delete_run(ctx: &Ctx, run_id: String) -> launch::DeletePipelineRunResult {
        launch::delete_run(ctx, run_id).await
    }

    async fn delete_pipeline_run(ctx: &Ctx, run_id: String) -> launch::DeletePipelineRunResult {
        launch::delete_run(ctx, run_id).await
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
            return R::RepositoryLocationNotFound(launch::location_not_found(
                &repository_location_name,
            ));
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
                None => R::RepositoryLocationNotFound(launch::location_not_found(
                    &repository_location_name,
                )),
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
            R::RepositoryLocationNotFound(launch::location_not_found(&repository_location_name))
        }
    }

    async fn terminate_run(
        ctx: &Ctx,
        run_id: String,
        terminate_policy: Option<TerminateRunPolicy>,
    ) -> TerminateRunResult {
        launch::terminate(ctx, run_id, terminate_policy).await
    }

    async fn terminate_pipeline_execution(
        ctx: &Ctx,
        run_id: String,
        terminate_policy: Option<TerminateRunPolicy>,
    ) -> TerminateRunResult {
        launch::terminate(ctx, run_id, terminate_policy).await
    }

    async fn terminate_runs(
        ctx: &Ctx,
        run_ids: Vec<String>,
        terminate_policy: Option<TerminateRunPolicy>,
    ) -> TerminateRunsResultOrError {
        let mut results = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            results.push(launch::terminate(ctx, id, terminate_policy).await);
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
