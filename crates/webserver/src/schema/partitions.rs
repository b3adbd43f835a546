//! Partitions, partition sets and asset backfills: this project's assets and jobs are
//! unpartitioned, so there are no partition sets and no partition keys, as in a Dagster
//! deployment without partitions.

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AddDynamicPartitionResult {
    AddDynamicPartitionSuccess(AddDynamicPartitionSuccess),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
    DuplicateDynamicPartitionError(DuplicateDynamicPartitionError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AddDynamicPartitionSuccess {
    pub partitions_def_name: String,
    pub partition_key: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetBackfillData {
    pub asset_backfill_statuses: Vec<AssetBackfillStatus>,
    pub root_targeted_partitions: Option<AssetBackfillTargetPartitions>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct AssetBackfillPreviewParams {
    pub partition_names: Vec<String>,
    pub asset_selection: Vec<AssetKeyInput>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetBackfillStatus {
    AssetPartitionsStatusCounts(AssetPartitionsStatusCounts),
    UnpartitionedAssetStatus(UnpartitionedAssetStatus),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetBackfillTargetPartitions {
    pub ranges: Option<Vec<PartitionKeyRange>>,
    pub partition_keys: Option<Vec<String>>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetPartitionRange {
    pub asset_key: AssetKey,
    pub partition_range: Option<PartitionRange>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetPartitionStatuses {
    DefaultPartitionStatuses(DefaultPartitionStatuses),
    MultiPartitionStatuses(MultiPartitionStatuses),
    TimePartitionStatuses(TimePartitionStatuses),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetPartitions {
    pub asset_key: AssetKey,
    pub partitions: Option<AssetBackfillTargetPartitions>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetPartitionsStatusCounts {
    pub asset_key: AssetKey,
    pub num_partitions_targeted: i32,
    pub num_partitions_in_progress: i32,
    pub num_partitions_materialized: i32,
    pub num_partitions_failed: i32,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum CancelBackfillResult {
    CancelBackfillSuccess(CancelBackfillSuccess),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct CancelBackfillSuccess {
    pub backfill_id: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DefaultPartitionStatuses {
    pub materialized_partitions: Vec<String>,
    pub failed_partitions: Vec<String>,
    pub materializing_partitions: Vec<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum DeleteDynamicPartitionsResult {
    DeleteDynamicPartitionsSuccess(DeleteDynamicPartitionsSuccess),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
    UnsupportedOperationError(UnsupportedOperationError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DeleteDynamicPartitionsSuccess {
    pub partitions_def_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DimensionDefinitionType {
    pub name: String,
    pub r#type: PartitionDefinitionType,
    pub dynamic_partitions_definition_name: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DimensionPartitionKeys {
    pub name: String,
    pub partition_keys: Vec<String>,
    pub r#type: PartitionDefinitionType,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct DuplicateDynamicPartitionError {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DynamicPartitionRequest {
    pub partition_keys: Option<Vec<String>>,
    pub partitions_def_name: String,
    pub r#type: DynamicPartitionsRequestType,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DynamicPartitionsRequestResult {
    pub partition_keys: Option<Vec<String>>,
    pub partitions_def_name: String,
    pub r#type: DynamicPartitionsRequestType,
    pub skipped_partition_keys: Vec<String>,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum DynamicPartitionsRequestType {
    #[graphql(name = "ADD_PARTITIONS")]
    AddPartitions,
    #[graphql(name = "DELETE_PARTITIONS")]
    DeletePartitions,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct LaunchBackfillParams {
    pub selector: Option<PartitionSetSelector>,
    pub partition_names: Option<Vec<String>>,
    pub partitions_by_assets: Option<Vec<Option<PartitionsByAssetSelector>>>,
    pub reexecution_steps: Option<Vec<String>>,
    pub asset_selection: Option<Vec<AssetKeyInput>>,
    pub from_failure: Option<bool>,
    pub all_partitions: Option<bool>,
    pub tags: Option<Vec<ExecutionTag>>,
    pub force_synchronous_submission: Option<bool>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub run_config_data: Option<RunConfigData>,
}

launch_result_union! {
    pub enum LaunchBackfillResult {
        LaunchBackfillSuccess,
        PartitionSetNotFoundError,
        PartitionKeysNotFoundError,
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct LaunchBackfillSuccess {
    pub backfill_id: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct MaterializedPartitionRangeStatuses2D {
    pub primary_dim_start_key: String,
    pub primary_dim_end_key: String,
    pub primary_dim_start_time: Option<f64>,
    pub primary_dim_end_time: Option<f64>,
    pub secondary_dim: PartitionStatus1D,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct MultiPartitionStatuses {
    pub ranges: Vec<MaterializedPartitionRangeStatuses2D>,
    pub primary_dimension_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Partition {
    pub name: String,
    pub solid_selection: Option<Vec<String>>,
    pub mode: String,
    pub run_config_or_error: PartitionRunConfigOrError,
    pub tags_or_error: PartitionTagsOrError,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionDefinition {
    pub description: String,
    pub r#type: PartitionDefinitionType,
    pub dimension_types: Vec<DimensionDefinitionType>,
    pub name: Option<String>,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum PartitionDefinitionType {
    #[graphql(name = "TIME_WINDOW")]
    TimeWindow,
    #[graphql(name = "STATIC")]
    Static,
    #[graphql(name = "MULTIPARTITIONED")]
    Multipartitioned,
    #[graphql(name = "DYNAMIC")]
    Dynamic,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionKeyConnection {
    pub results: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionKeyRange {
    pub start: String,
    pub end: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionKeys {
    pub partition_keys: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct PartitionKeysNotFoundError {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionRange {
    pub start: String,
    pub end: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct PartitionRangeSelector {
    pub start: String,
    pub end: String,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum PartitionRangeStatus {
    #[graphql(name = "MATERIALIZING")]
    Materializing,
    #[graphql(name = "MATERIALIZED")]
    Materialized,
    #[graphql(name = "FAILED")]
    Failed,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionRunConfig {
    pub yaml: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionRunConfigOrError {
    PartitionRunConfig(PartitionRunConfig),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct PartitionSetNotFoundError {
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionSetOrError {
    PartitionSet(PartitionSet),
    PartitionSetNotFoundError(PartitionSetNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct PartitionSetSelector {
    pub partition_set_name: String,
    pub repository_selector: RepositorySelector,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionSets {
    pub results: Vec<PartitionSet>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionSetsOrError {
    PartitionSets(PartitionSets),
    PipelineNotFoundError(PipelineNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionStats {
    pub num_materialized: i32,
    pub num_partitions: i32,
    pub num_failed: i32,
    pub num_materializing: i32,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionStatus {
    pub id: String,
    pub partition_name: String,
    pub run_id: Option<String>,
    pub run_status: Option<RunStatus>,
    pub run_duration: Option<f64>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionStatus1D {
    TimePartitionStatuses(TimePartitionStatuses),
    DefaultPartitionStatuses(DefaultPartitionStatuses),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionStatuses {
    pub results: Vec<PartitionStatus>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionStatusesOrError {
    PartitionStatuses(PartitionStatuses),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionTags {
    pub results: Vec<PipelineTag>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionTagsAndConfig {
    pub name: String,
    pub run_config_or_error: PartitionRunConfigOrError,
    pub tags_or_error: PartitionTagsOrError,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionTagsOrError {
    PartitionTags(PartitionTags),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct Partitions {
    pub results: Vec<Partition>,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct PartitionsByAssetSelector {
    pub asset_key: AssetKeyInput,
    pub partitions: Option<PartitionsSelector>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum PartitionsOrError {
    Partitions(Partitions),
    PythonError(PythonError),
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct PartitionsSelector {
    pub range: Option<PartitionRangeSelector>,
    pub ranges: Option<Vec<PartitionRangeSelector>>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ResumeBackfillResult {
    ResumeBackfillSuccess(ResumeBackfillSuccess),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ResumeBackfillSuccess {
    pub backfill_id: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TimePartitionRangeStatus {
    pub start_time: f64,
    pub end_time: f64,
    pub start_key: String,
    pub end_key: String,
    pub status: PartitionRangeStatus,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TimePartitionStatuses {
    pub ranges: Vec<TimePartitionRangeStatus>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct UnpartitionedAssetStatus {
    pub asset_key: AssetKey,
    pub in_progress: bool,
    pub materialized: bool,
    pub failed: bool,
}

/// What a dynamic partition mutation answers for a definition the repository does not have
/// (every name here), as Dagster does.
pub fn no_dynamic_partitions_def(ctx: &Ctx, name: &str) -> UnauthorizedError {
    let _ = ctx;
    UnauthorizedError {
        message: format!(
            "The repository does not contain a dynamic partitions definition with the name {name}."
        ),
    }
}

impl From<UnauthorizedError> for AddDynamicPartitionResult {
    fn from(e: UnauthorizedError) -> Self {
        AddDynamicPartitionResult::UnauthorizedError(e)
    }
}

impl From<UnauthorizedError> for DeleteDynamicPartitionsResult {
    fn from(e: UnauthorizedError) -> Self {
        DeleteDynamicPartitionsResult::UnauthorizedError(e)
    }
}
