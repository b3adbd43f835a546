//! Declarative automation, freshness, staleness and asset health: features this project does not
//! have. Assets carry no automation condition, no freshness policy and no evaluations, as in a
//! Dagster deployment without them.

#![allow(dead_code)]

use super::prelude::*;

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetConditionEvaluation {
    pub root_unique_id: String,
    pub evaluation_nodes: Vec<AssetConditionEvaluationNode>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetConditionEvaluationNode {
    UnpartitionedAssetConditionEvaluationNode(UnpartitionedAssetConditionEvaluationNode),
    PartitionedAssetConditionEvaluationNode(PartitionedAssetConditionEvaluationNode),
    SpecificPartitionAssetConditionEvaluationNode(SpecificPartitionAssetConditionEvaluationNode),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetConditionEvaluationRecord {
    pub id: ID,
    pub evaluation_id: ID,
    pub run_ids: Vec<String>,
    pub timestamp: f64,
    pub asset_key: Option<AssetKey>,
    pub num_requested: Option<i32>,
    pub start_timestamp: Option<f64>,
    pub end_timestamp: Option<f64>,
    pub is_legacy: bool,
    pub evaluation: AssetConditionEvaluation,
    pub evaluation_nodes: Vec<AutomationConditionEvaluationNode>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetConditionEvaluationRecords {
    pub records: Vec<AssetConditionEvaluationRecord>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetConditionEvaluationRecordsOrError {
    AssetConditionEvaluationRecords(AssetConditionEvaluationRecords),
    AutoMaterializeAssetEvaluationNeedsMigrationError(
        AutoMaterializeAssetEvaluationNeedsMigrationError,
    ),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetConditionEvaluationStatus {
    #[graphql(name = "TRUE")]
    True,
    #[graphql(name = "FALSE")]
    False,
    #[graphql(name = "SKIPPED")]
    Skipped,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetFreshnessInfo {
    pub current_lag_minutes: Option<f64>,
    pub current_minutes_late: Option<f64>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealth {
    pub asset_health: AssetHealthStatus,
    pub materialization_status: AssetHealthStatus,
    pub materialization_status_metadata: Option<AssetHealthMaterializationMeta>,
    pub asset_checks_status: AssetHealthStatus,
    pub asset_checks_status_metadata: Option<AssetHealthCheckMeta>,
    pub freshness_status: AssetHealthStatus,
    pub freshness_status_metadata: Option<AssetHealthFreshnessMeta>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthCheckDegradedMeta {
    pub num_failed_checks: i32,
    pub num_warning_checks: i32,
    pub total_num_checks: i32,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetHealthCheckMeta {
    AssetHealthCheckDegradedMeta(AssetHealthCheckDegradedMeta),
    AssetHealthCheckWarningMeta(AssetHealthCheckWarningMeta),
    AssetHealthCheckUnknownMeta(AssetHealthCheckUnknownMeta),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthCheckUnknownMeta {
    pub num_not_executed_checks: i32,
    pub total_num_checks: i32,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthCheckWarningMeta {
    pub num_warning_checks: i32,
    pub total_num_checks: i32,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthFreshnessMeta {
    pub last_materialized_timestamp: Option<f64>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthMaterializationDegradedNotPartitionedMeta {
    pub failed_run_id: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthMaterializationDegradedPartitionedMeta {
    pub num_failed_partitions: i32,
    pub num_missing_partitions: i32,
    pub total_num_partitions: i32,
    pub latest_failed_run_id: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthMaterializationHealthyPartitionedMeta {
    pub num_missing_partitions: i32,
    pub total_num_partitions: i32,
    pub latest_run_id: Option<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetHealthMaterializationMeta {
    AssetHealthMaterializationDegradedPartitionedMeta(
        AssetHealthMaterializationDegradedPartitionedMeta,
    ),
    AssetHealthMaterializationHealthyPartitionedMeta(
        AssetHealthMaterializationHealthyPartitionedMeta,
    ),
    AssetHealthMaterializationDegradedNotPartitionedMeta(
        AssetHealthMaterializationDegradedNotPartitionedMeta,
    ),
    AssetHealthMaterializationWarningPartitionedMeta(
        AssetHealthMaterializationWarningPartitionedMeta,
    ),
    AssetHealthMaterializationWarningNotPartitionedMeta(
        AssetHealthMaterializationWarningNotPartitionedMeta,
    ),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthMaterializationWarningNotPartitionedMeta {
    pub failed_run_id: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetHealthMaterializationWarningPartitionedMeta {
    pub num_up_for_retry_partitions: i32,
    pub num_missing_partitions: i32,
    pub total_num_partitions: i32,
    pub latest_run_id: Option<String>,
    pub latest_failed_run_id: Option<String>,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetHealthStatus {
    #[graphql(name = "HEALTHY")]
    Healthy,
    #[graphql(name = "WARNING")]
    Warning,
    #[graphql(name = "DEGRADED")]
    Degraded,
    #[graphql(name = "UNKNOWN")]
    Unknown,
    #[graphql(name = "NOT_APPLICABLE")]
    NotApplicable,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct AutoMaterializeAssetEvaluationNeedsMigrationError {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AutoMaterializeAssetEvaluationRecord {
    pub id: ID,
    pub evaluation_id: ID,
    pub timestamp: f64,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AutoMaterializeDecisionType {
    #[graphql(name = "MATERIALIZE")]
    Materialize,
    #[graphql(name = "SKIP")]
    Skip,
    #[graphql(name = "DISCARD")]
    Discard,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AutoMaterializePolicy {
    pub rules: Vec<AutoMaterializeRule>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AutoMaterializeRule {
    pub description: String,
    pub decision_type: AutoMaterializeDecisionType,
    pub class_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AutomationCondition {
    pub label: Option<String>,
    pub expanded_label: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AutomationConditionEvaluationNode {
    pub unique_id: String,
    pub user_label: Option<String>,
    pub expanded_label: Vec<String>,
    pub entity_key: EntityKey,
    pub start_timestamp: Option<f64>,
    pub end_timestamp: Option<f64>,
    pub num_true: Option<i32>,
    pub num_candidates: Option<i32>,
    pub is_partitioned: bool,
    pub child_unique_ids: Vec<String>,
    pub operator_type: String,
    pub since_metadata: Option<SinceConditionMetadata>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct BackfillPolicy {
    pub max_partitions_per_run: Option<i32>,
    pub description: String,
    pub policy_type: BackfillPolicyType,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum BackfillPolicyType {
    #[graphql(name = "SINGLE_RUN")]
    SingleRun,
    #[graphql(name = "MULTI_RUN")]
    MultiRun,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum ChangeReason {
    #[graphql(name = "NEW")]
    New,
    #[graphql(name = "CODE_VERSION")]
    CodeVersion,
    #[graphql(name = "DEPENDENCIES")]
    Dependencies,
    #[graphql(name = "PARTITIONS_DEFINITION")]
    PartitionsDefinition,
    #[graphql(name = "TAGS")]
    Tags,
    #[graphql(name = "METADATA")]
    Metadata,
    #[graphql(name = "REMOVED")]
    Removed,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct CronFreshnessPolicy {
    pub deadline_cron: String,
    pub lower_bound_delta_seconds: i32,
    pub timezone: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct FreshnessPolicy {
    pub maximum_lag_minutes: f64,
    pub cron_schedule: Option<String>,
    pub cron_schedule_timezone: Option<String>,
    pub last_evaluation_timestamp: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct FreshnessStatusInfo {
    pub freshness_status: AssetHealthStatus,
    pub freshness_status_metadata: Option<AssetHealthFreshnessMeta>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum InternalFreshnessPolicy {
    TimeWindowFreshnessPolicy(TimeWindowFreshnessPolicy),
    CronFreshnessPolicy(CronFreshnessPolicy),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct PartitionedAssetConditionEvaluationNode {
    pub unique_id: String,
    pub description: String,
    pub entity_key: EntityKey,
    pub start_timestamp: Option<f64>,
    pub end_timestamp: Option<f64>,
    pub num_true: Option<i32>,
    pub num_candidates: Option<i32>,
    pub child_unique_ids: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct SinceConditionMetadata {
    pub trigger_evaluation_id: Option<ID>,
    pub trigger_timestamp: Option<f64>,
    pub reset_evaluation_id: Option<ID>,
    pub reset_timestamp: Option<f64>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct SpecificPartitionAssetConditionEvaluationNode {
    pub unique_id: String,
    pub description: String,
    pub entity_key: EntityKey,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub status: AssetConditionEvaluationStatus,
    pub child_unique_ids: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct StaleCause {
    pub key: AssetKey,
    pub category: StaleCauseCategory,
    pub reason: String,
    pub dependency: Option<AssetKey>,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum StaleCauseCategory {
    #[graphql(name = "CODE")]
    Code,
    #[graphql(name = "DATA")]
    Data,
    #[graphql(name = "DEPENDENCIES")]
    Dependencies,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum StaleStatus {
    #[graphql(name = "MISSING")]
    Missing,
    #[graphql(name = "STALE")]
    Stale,
    #[graphql(name = "FRESH")]
    Fresh,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TimeWindowFreshnessPolicy {
    pub fail_window_seconds: i32,
    pub warn_window_seconds: Option<i32>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct UnpartitionedAssetConditionEvaluationNode {
    pub unique_id: String,
    pub description: String,
    pub entity_key: EntityKey,
    pub start_timestamp: Option<f64>,
    pub end_timestamp: Option<f64>,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub status: AssetConditionEvaluationStatus,
    pub child_unique_ids: Vec<String>,
}
