//! The GraphQL schema (juniper): `Query`, `Mutation` and `Subscription` roots, which only
//! delegate to the area modules: [`runs`], [`runs_feed`], [`backfills`], [`logs`], [`assets`],
//! [`instance`], [`instigators`], [`workspace`], [`launch`], [`subscriptions`] (types shared by
//! several areas are in [`types`]). Storage calls are blocking and run on actix's blocking pool
//! (`web::block`), never on an async worker.

#![allow(clippy::enum_variant_names, clippy::large_enum_variant)] // GraphQL unions are named by their members

mod inputs;
#[macro_use]
mod interface;
pub mod asset_catalog;
pub mod assets;
pub mod automation;
pub mod backfills;
pub mod captured_logs;
pub mod checks;
pub mod components;
pub mod config_types;
pub mod dagster_types;
pub mod event_enums;
pub mod events;
pub mod instance;
pub mod instigator_ticks;
pub mod instigators;
pub mod launch;
pub mod logs;
pub mod metadata;
pub mod misc;
pub mod partitions;
pub mod pipeline_lookups;
pub mod pipelines;
pub mod resources;
pub mod runs;
pub mod runs_feed;
pub mod subscriptions;
pub mod types;
pub mod workspace;

use crate::state::{self, AppState};
use actix_web::web;
pub use inputs::*;
use juniper::{graphql_object, RootNode, ID};
use std::sync::Arc;
use types::*;

/// Everything the area modules name, for their `use super::prelude::*`.
pub mod prelude {
    pub use super::asset_catalog::*;
    pub use super::assets::*;
    pub use super::automation::*;
    pub use super::backfills::*;
    pub use super::checks::*;
    pub use super::components::*;
    pub use super::config_types::*;
    pub use super::events::*;
    pub use super::instigator_ticks::*;
    pub use super::instigators::*;
    pub use super::logs::*;
    pub use super::metadata::*;
    pub use super::misc::*;
    pub use super::partitions::*;
    pub use super::pipelines::*;
    pub use super::resources::*;
    pub use super::runs::*;
    pub use super::types::*;
    pub use super::workspace::*;
    pub use super::{
        blocking, AssetKeyInput, Ctx, ExecutionTag, GenericScalar, JsonSchema, RepositorySelector,
        RunConfigData,
    };
    pub use juniper::{
        graphql_object, GraphQLEnum, GraphQLInputObject, GraphQLObject, GraphQLUnion, ID,
    };
}

/// `scalar GenericScalar`: any JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct GenericScalar(pub serde_json::Value);

/// `scalar JsonSchema`: a JSON schema document.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema(pub serde_json::Value);

/// A JSON value as a juniper output value.
pub fn json_to_value(v: &serde_json::Value) -> juniper::Value {
    use juniper::Value;
    match v {
        serde_json::Value::Null => Value::null(),
        serde_json::Value::Bool(b) => Value::scalar(*b),
        serde_json::Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => Value::scalar(i),
            None => Value::scalar(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::scalar(s.clone()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::object(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

fn input_to_json(v: &juniper::InputValue) -> serde_json::Value {
    use juniper::InputValue as I;
    match v {
        I::Null | I::Variable(_) | I::Enum(_) => match v {
            I::Enum(e) => serde_json::Value::String(e.clone()),
            _ => serde_json::Value::Null,
        },
        I::Scalar(s) => serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
        I::List(l) => serde_json::Value::Array(l.iter().map(|x| input_to_json(&x.item)).collect()),
        I::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| (k.item.clone(), input_to_json(&v.item)))
                .collect(),
        ),
    }
}

macro_rules! json_scalar {
    ($t:ident, $name:literal) => {
        impl juniper::GraphQLType<juniper::DefaultScalarValue> for $t {
            fn name(_: &()) -> Option<juniper::ArcStr> {
                Some(juniper::ArcStr::from($name))
            }
            fn meta(
                info: &(),
                registry: &mut juniper::Registry<juniper::DefaultScalarValue>,
            ) -> juniper::meta::MetaType<juniper::DefaultScalarValue> {
                registry.build_scalar_type::<Self>(info).into_meta()
            }
        }
        impl juniper::GraphQLValue<juniper::DefaultScalarValue> for $t {
            type Context = ();
            type TypeInfo = ();
            fn type_name(&self, info: &()) -> Option<juniper::ArcStr> {
                <Self as juniper::GraphQLType<juniper::DefaultScalarValue>>::name(info)
            }
            fn resolve(
                &self,
                _info: &(),
                _selection: Option<&[juniper::Selection<'_, juniper::DefaultScalarValue>]>,
                _executor: &juniper::Executor<'_, '_, (), juniper::DefaultScalarValue>,
            ) -> juniper::ExecutionResult<juniper::DefaultScalarValue> {
                Ok(json_to_value(&self.0))
            }
        }
        impl juniper::GraphQLValueAsync<juniper::DefaultScalarValue> for $t {
            fn resolve_async<'a>(
                &'a self,
                info: &'a (),
                selection: Option<&'a [juniper::Selection<'_, juniper::DefaultScalarValue>]>,
                executor: &'a juniper::Executor<'_, '_, (), juniper::DefaultScalarValue>,
            ) -> juniper::BoxFuture<'a, juniper::ExecutionResult<juniper::DefaultScalarValue>> {
                let r = juniper::GraphQLValue::resolve(self, info, selection, executor);
                Box::pin(async move { r })
            }
        }
        impl juniper::ToInputValue<juniper::DefaultScalarValue> for $t {
            fn to_input_value(&self) -> juniper::InputValue {
                juniper::InputValue::scalar(self.0.to_string())
            }
        }
        impl juniper::FromInputValue<juniper::DefaultScalarValue> for $t {
            type Error = String;
            fn from_input_value(v: &juniper::InputValue) -> Result<Self, String> {
                Ok($t(input_to_json(v)))
            }
        }
        impl juniper::ParseScalarValue<juniper::DefaultScalarValue> for $t {
            fn from_str(
                value: juniper::ScalarToken<'_>,
            ) -> juniper::ParseScalarResult<juniper::DefaultScalarValue> {
                <String as juniper::ParseScalarValue<juniper::DefaultScalarValue>>::from_str(value)
            }
        }
        impl juniper::marker::IsInputType<juniper::DefaultScalarValue> for $t {}
        impl juniper::marker::IsOutputType<juniper::DefaultScalarValue> for $t {}
        impl juniper::macros::reflect::BaseType<juniper::DefaultScalarValue> for $t {
            const NAME: juniper::macros::reflect::Type = $name;
        }
        impl juniper::macros::reflect::BaseSubTypes<juniper::DefaultScalarValue> for $t {
            const NAMES: juniper::macros::reflect::Types = &[$name];
        }
        impl juniper::macros::reflect::WrappedType<juniper::DefaultScalarValue> for $t {
            const VALUE: juniper::macros::reflect::WrappedValue = 1;
        }
    };
}
json_scalar!(GenericScalar, "GenericScalar");
json_scalar!(JsonSchema, "JsonSchema");

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

/// Runs a blocking closure on the blocking pool; a pool failure becomes a `PythonError`.
pub async fn blocking<T, F>(f: F) -> Result<T, PythonError>
where
    F: FnOnce() -> Result<T, PythonError> + Send + 'static,
    T: Send + 'static,
{
    match web::block(f).await {
        Ok(r) => r,
        Err(e) => Err(PythonError::new(format!("blocking task failed: {e}"))),
    }
}

/// Runs `f` on the instance's storage on the blocking pool; a storage error becomes a
/// `PythonError`.
pub async fn with_storage<T, F>(state: &Arc<AppState>, f: F) -> Result<T, PythonError>
where
    F: FnOnce(&dyn dagster_core::storage::Storage) -> dagster_core::storage::Result<T>
        + Send
        + 'static,
    T: Send + 'static,
{
    let st = state.clone();
    blocking(move || f(&*st.instance.storage).map_err(|e| PythonError::from_error(&e))).await
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

    // --- Jobs, graphs, run config (see `pipelines`, `config_types`)

    fn pipeline_or_error(
        ctx: &Ctx,
        params: assets::PipelineSelector,
    ) -> pipelines::PipelineOrError {
        pipelines::pipeline_or_error(ctx, &params)
    }

    fn pipeline_snapshot_or_error(
        ctx: &Ctx,
        snapshot_id: Option<String>,
        active_pipeline_selector: Option<assets::PipelineSelector>,
    ) -> pipelines::PipelineSnapshotOrError {
        pipelines::pipeline_snapshot_or_error(ctx, snapshot_id, active_pipeline_selector)
    }

    fn graph_or_error(
        ctx: &Ctx,
        selector: Option<pipelines::GraphSelector>,
    ) -> pipelines::GraphOrError {
        pipelines::graph_or_error(ctx, selector)
    }

    async fn run_group_or_error(ctx: &Ctx, run_id: ID) -> pipelines::RunGroupOrError {
        pipelines::run_group_or_error(ctx, run_id.to_string()).await
    }

    fn run_config_schema_or_error(
        ctx: &Ctx,
        selector: assets::PipelineSelector,
        mode: Option<String>,
    ) -> config_types::RunConfigSchemaOrError {
        use config_types::RunConfigSchemaOrError as R;
        if let Some(m) = mode.filter(|m| m != "default") {
            return R::ModeNotFoundError(pipelines::ModeNotFoundError {
                message: format!("Mode {m} not found in pipeline {}", selector.pipeline_name),
                mode: m,
            });
        }
        match pipelines::find_job(
            ctx,
            &selector.repository_location_name,
            &selector.repository_name,
            &selector.pipeline_name,
        ) {
            Ok(g) => R::RunConfigSchema(config_types::RunConfigSchema::new(
                g.defs.clone(),
                g.job.clone(),
            )),
            Err(e) => R::PipelineNotFoundError(e),
        }
    }

    fn is_pipeline_config_valid(
        ctx: &Ctx,
        pipeline: assets::PipelineSelector,
        mode: String,
        run_config_data: Option<RunConfigData>,
    ) -> config_types::PipelineConfigValidationResult {
        let _ = mode;
        match pipelines::find_job(
            ctx,
            &pipeline.repository_location_name,
            &pipeline.repository_name,
            &pipeline.pipeline_name,
        ) {
            Ok(g) => config_types::validate_job_config(&g.defs, &g.job, run_config_data.as_ref()),
            Err(e) => config_types::PipelineConfigValidationResult::PipelineNotFoundError(e),
        }
    }

    fn repository_or_error(
        ctx: &Ctx,
        repository_selector: RepositorySelector,
    ) -> misc::RepositoryOrError {
        misc::repository_or_error(ctx, repository_selector)
    }

    // --- Resources (see `resources`)

    fn resources_or_error(
        ctx: &Ctx,
        pipeline_selector: assets::PipelineSelector,
    ) -> resources::ResourcesOrError {
        resources::resources_or_error(ctx, &pipeline_selector)
    }

    fn top_level_resource_details_or_error(
        ctx: &Ctx,
        resource_selector: resources::ResourceSelector,
    ) -> resources::ResourceDetailsOrError {
        resources::top_level_resource_details_or_error(ctx, resource_selector)
    }

    // --- Schedules and sensors (see `instigator_ticks`)

    fn schedule_or_error(
        ctx: &Ctx,
        schedule_selector: instigators::ScheduleSelector,
    ) -> instigator_ticks::ScheduleOrError {
        instigator_ticks::schedule_or_error(ctx, &schedule_selector)
    }

    fn sensor_or_error(
        ctx: &Ctx,
        sensor_selector: instigators::SensorSelector,
    ) -> instigators::SensorOrError {
        instigator_ticks::sensor_or_error(ctx, &sensor_selector)
    }

    async fn instigation_state_or_error(
        ctx: &Ctx,
        instigation_selector: instigator_ticks::InstigationSelector,
        id: Option<String>,
    ) -> instigator_ticks::InstigationStateOrError {
        instigator_ticks::instigation_state_or_error(ctx, instigation_selector, id).await
    }

    /// The asset daemon's ticks: there is no asset daemon here.
    fn auto_materialize_ticks(
        day_range: Option<i32>,
        day_offset: Option<i32>,
        limit: Option<i32>,
        cursor: Option<String>,
        statuses: Option<Vec<instigators::InstigationTickStatus>>,
        before_timestamp: Option<f64>,
        after_timestamp: Option<f64>,
    ) -> Vec<instigators::InstigationTick> {
        let _ = (
            day_range,
            day_offset,
            limit,
            cursor,
            statuses,
            before_timestamp,
            after_timestamp,
        );
        Vec::new()
    }

    // --- The asset catalog (see `asset_catalog`)

    async fn asset_records_or_error(
        ctx: &Ctx,
        prefix: Option<Vec<String>>,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> asset_catalog::AssetRecordsOrError {
        asset_catalog::asset_records_or_error(ctx, prefix, cursor, limit).await
    }

    fn asset_node_definition_collisions(
        ctx: &Ctx,
        asset_keys: Vec<AssetKeyInput>,
    ) -> Vec<asset_catalog::AssetNodeDefinitionCollision> {
        asset_catalog::asset_node_definition_collisions(ctx, asset_keys)
    }

    /// Assets that must be materialized together with the given ones (multi-assets): each
    /// asset here is its own step, so none.
    fn asset_node_additional_required_keys(asset_keys: Vec<AssetKeyInput>) -> Vec<AssetKey> {
        let _ = asset_keys;
        Vec::new()
    }

    // --- Features this deployment does not have: Dagster's answers for a deployment without
    // them (no checks, partitions, automation evaluations, components, defs state, NUX).

    fn asset_check_executions(
        asset_key: AssetKeyInput,
        check_name: String,
        partition: Option<String>,
        limit: i32,
        cursor: Option<String>,
    ) -> Vec<checks::AssetCheckExecution> {
        let _ = (asset_key, check_name, partition, limit, cursor);
        Vec::new()
    }

    fn asset_backfill_preview(
        params: partitions::AssetBackfillPreviewParams,
    ) -> Vec<partitions::AssetPartitions> {
        let _ = params;
        Vec::new()
    }

    fn asset_condition_evaluation_for_partition(
        asset_key: Option<AssetKeyInput>,
        evaluation_id: ID,
        partition: String,
    ) -> Option<automation::AssetConditionEvaluation> {
        let _ = (asset_key, evaluation_id, partition);
        None
    }

    fn asset_condition_evaluation_records_or_error(
        asset_key: Option<AssetKeyInput>,
        asset_check_key: Option<AssetCheckHandleInput>,
        asset_job_key: Option<asset_catalog::AssetJobKeyInput>,
        limit: i32,
        cursor: Option<String>,
    ) -> Option<automation::AssetConditionEvaluationRecordsOrError> {
        let _ = (asset_key, asset_check_key, asset_job_key, limit, cursor);
        Some(
            automation::AssetConditionEvaluationRecordsOrError::AssetConditionEvaluationRecords(
                automation::AssetConditionEvaluationRecords {
                    records: Vec::new(),
                },
            ),
        )
    }

    fn true_partitions_for_automation_condition_evaluation_node(
        asset_key: Option<AssetKeyInput>,
        asset_job_key: Option<asset_catalog::AssetJobKeyInput>,
        evaluation_id: ID,
        node_unique_id: Option<String>,
    ) -> Vec<String> {
        let _ = (asset_key, asset_job_key, evaluation_id, node_unique_id);
        Vec::new()
    }

    fn partition_set_or_error(
        repository_selector: RepositorySelector,
        partition_set_name: Option<String>,
    ) -> partitions::PartitionSetOrError {
        let _ = repository_selector;
        let name = partition_set_name.unwrap_or_default();
        partitions::PartitionSetOrError::PartitionSetNotFoundError(
            partitions::PartitionSetNotFoundError {
                message: format!(
                    "Partition set {name} could not be found: nothing is partitioned here"
                ),
            },
        )
    }

    fn partition_sets_or_error(
        repository_selector: RepositorySelector,
        pipeline_name: String,
    ) -> partitions::PartitionSetsOrError {
        let _ = (repository_selector, pipeline_name);
        partitions::PartitionSetsOrError::PartitionSets(partitions::PartitionSets {
            results: Vec::new(),
        })
    }

    fn app_managed_components_for_location_or_error(
        location_name: String,
    ) -> components::AppManagedComponentsOrError {
        components::AppManagedComponentsOrError::AppManagedComponents(
            components::AppManagedComponents {
                location_name,
                components: Vec::new(),
            },
        )
    }

    fn components_for_location_or_error(location_name: String) -> components::ComponentsOrError {
        components::ComponentsOrError::Components(components::Components {
            location_name,
            components: Vec::new(),
        })
    }

    fn component_types_for_location_or_error(
        ctx: &Ctx,
        location_name: String,
    ) -> components::ComponentTypesOrError {
        if !ctx
            .state
            .locations()
            .iter()
            .any(|e| e.name == location_name)
        {
            return components::ComponentTypesOrError::RepositoryLocationNotFound(
                launch::location_not_found(&location_name),
            );
        }
        components::ComponentTypesOrError::ComponentTypes(components::ComponentTypes {
            location_name,
            component_types: Vec::new(),
        })
    }

    fn latest_defs_state_info() -> Option<components::DefsStateInfo> {
        None
    }

    /// The first-visit notice is never shown.
    fn should_show_nux() -> bool {
        false
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

    fn schedule_dry_run(
        ctx: &Ctx,
        selector_data: instigators::ScheduleSelector,
        timestamp: Option<f64>,
    ) -> instigator_ticks::ScheduleDryRunResult {
        instigator_ticks::schedule_dry_run(ctx, selector_data, timestamp)
    }

    async fn sensor_dry_run(
        ctx: &Ctx,
        selector_data: instigators::SensorSelector,
        cursor: Option<String>,
    ) -> instigator_ticks::SensorDryRunResult {
        instigator_ticks::sensor_dry_run(ctx, selector_data, cursor).await
    }

    /// Launches each run as `launchRun` does; the results in the same order.
    async fn launch_multiple_runs(
        ctx: &Ctx,
        execution_params_list: Vec<ExecutionParams>,
    ) -> misc::LaunchMultipleRunsResultOrError {
        let mut results = Vec::with_capacity(execution_params_list.len());
        for p in execution_params_list {
            results.push(launch::launch(ctx, p).await);
        }
        misc::LaunchMultipleRunsResultOrError::LaunchMultipleRunsResult(
            misc::LaunchMultipleRunsResult {
                launch_multiple_runs_result: results,
            },
        )
    }

    /// Re-reads every code location.
    async fn reload_workspace(ctx: &Ctx) -> misc::ReloadWorkspaceMutationResult {
        misc::reload_workspace(ctx).await
    }

    async fn wipe_assets(
        ctx: &Ctx,
        asset_partition_ranges: Vec<partitions::PartitionsByAssetSelector>,
    ) -> asset_catalog::AssetWipeMutationResult {
        asset_catalog::wipe_assets(ctx, asset_partition_ranges).await
    }

    async fn report_runless_asset_events(
        ctx: &Ctx,
        event_params: asset_catalog::ReportRunlessAssetEventsParams,
    ) -> asset_catalog::ReportRunlessAssetEventsResult {
        asset_catalog::report_runless_asset_events(ctx, event_params).await
    }

    /// Telemetry is off: nothing is recorded.
    fn log_telemetry(
        action: String,
        client_id: String,
        client_time: String,
        metadata: String,
    ) -> misc::LogTelemetryMutationResult {
        let _ = (client_id, client_time, metadata);
        misc::LogTelemetryMutationResult::LogTelemetrySuccess(misc::LogTelemetrySuccess { action })
    }

    fn set_nux_seen() -> bool {
        true
    }

    /// Recorded for `instance.autoMaterializePaused`; there is no asset daemon to pause.
    async fn set_auto_materialize_paused(ctx: &Ctx, paused: bool) -> Result<bool, PythonError> {
        misc::set_auto_materialize_paused(ctx, paused).await
    }

    /// Op concurrency pools are not supported here (`instance.supportsConcurrencyLimits` is
    /// false): nothing is set.
    fn set_concurrency_limit(concurrency_key: String, limit: i32) -> bool {
        let _ = (concurrency_key, limit);
        false
    }

    /// No pool has a limit to delete.
    fn delete_concurrency_limit(concurrency_key: String) -> bool {
        let _ = concurrency_key;
        false
    }

    /// No run holds pool slots.
    fn free_concurrency_slots(run_id: String, step_key: Option<String>) -> bool {
        let _ = (run_id, step_key);
        true
    }

    // Partitions, backfills, asset checks and components do not exist here; these answer as
    // Dagster does for a name it does not know.

    fn add_dynamic_partition(
        ctx: &Ctx,
        partition_key: String,
        partitions_def_name: String,
        repository_selector: RepositorySelector,
    ) -> partitions::AddDynamicPartitionResult {
        let _ = (partition_key, repository_selector);
        partitions::no_dynamic_partitions_def(ctx, &partitions_def_name).into()
    }

    fn delete_dynamic_partitions(
        ctx: &Ctx,
        partition_keys: Vec<String>,
        partitions_def_name: String,
        repository_selector: RepositorySelector,
        wipe_materializations: Option<bool>,
    ) -> partitions::DeleteDynamicPartitionsResult {
        let _ = (partition_keys, repository_selector, wipe_materializations);
        partitions::no_dynamic_partitions_def(ctx, &partitions_def_name).into()
    }

    fn launch_partition_backfill(
        backfill_params: partitions::LaunchBackfillParams,
    ) -> partitions::LaunchBackfillResult {
        let _ = backfill_params;
        partitions::LaunchBackfillResult::PythonError(PythonError::new(
            "Nothing here is partitioned: a backfill has no partitions to launch. Launch the job or materialize the assets instead.",
        ))
    }

    fn reexecute_partition_backfill(
        reexecution_params: Option<launch::ReexecutionParams>,
    ) -> partitions::LaunchBackfillResult {
        let id = reexecution_params
            .map(|p| p.parent_run_id)
            .unwrap_or_default();
        partitions::LaunchBackfillResult::PythonError(backfills::no_backfill(&id))
    }

    fn cancel_partition_backfill(backfill_id: String) -> partitions::CancelBackfillResult {
        partitions::CancelBackfillResult::PythonError(backfills::no_backfill(&backfill_id))
    }

    fn resume_partition_backfill(backfill_id: String) -> partitions::ResumeBackfillResult {
        partitions::ResumeBackfillResult::PythonError(backfills::no_backfill(&backfill_id))
    }

    fn report_asset_check_evaluations(
        event_params: checks::ReportAssetCheckEvaluationsParams,
    ) -> checks::ReportAssetCheckEvaluationResult {
        checks::ReportAssetCheckEvaluationResult::PythonError(PythonError::new(format!(
            "Asset {} has no check named {}: asset checks are not supported by this deployment",
            dagster_core::domain::AssetKey(event_params.asset_key.path.clone()).to_user_string(),
            event_params.check_name
        )))
    }

    fn set_app_managed_component(
        attributes: String,
        component_id: String,
        component_type: String,
        location_name: String,
    ) -> components::SetAppManagedComponentResult {
        let _ = (attributes, component_type);
        components::SetAppManagedComponentResult::PythonError(components::unsupported(
            &location_name,
            &component_id,
        ))
    }

    fn delete_app_managed_component(
        component_id: String,
        location_name: String,
    ) -> components::DeleteAppManagedComponentResult {
        components::DeleteAppManagedComponentResult::PythonError(components::unsupported(
            &location_name,
            &component_id,
        ))
    }

    fn refresh_component_state(
        defs_state_key: String,
        location_name: String,
    ) -> components::RefreshComponentStateResult {
        components::RefreshComponentStateResult::RefreshComponentStateError(
            components::RefreshComponentStateError {
                message: format!("Code location {location_name} has no component state `{defs_state_key}` to refresh: components are not supported by this deployment"),
                location_name,
                defs_state_key,
            },
        )
    }
}
