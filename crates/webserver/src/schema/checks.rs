//! Asset checks. This project has no asset checks yet, so every asset has none
//! (`AssetChecks { checks: [] }`), as Dagster answers for a deployment without checks; the
//! types exist for the UI's queries.

#![allow(dead_code)]

use super::prelude::*;

/// An asset check: none exists here, so none is ever built.
#[derive(Debug, Clone)]
pub struct AssetCheck(std::convert::Infallible);

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
impl AssetCheck {
    fn name(&self) -> String {
        match self.0 {}
    }
    fn asset_key(&self) -> AssetKey {
        match self.0 {}
    }
    fn description(&self) -> Option<String> {
        match self.0 {}
    }
    fn job_names(&self) -> Vec<String> {
        match self.0 {}
    }
    fn execution_for_latest_materialization(&self) -> Option<AssetCheckExecution> {
        match self.0 {}
    }
    fn can_execute_individually(&self) -> AssetCheckCanExecuteIndividually {
        match self.0 {}
    }
    fn blocking(&self) -> bool {
        match self.0 {}
    }
    fn automation_condition(&self) -> Option<AutomationCondition> {
        match self.0 {}
    }
    fn partition_definition(&self) -> Option<PartitionDefinition> {
        match self.0 {}
    }
    fn partition_keys_by_dimension(
        &self,
        start_idx: Option<i32>,
        end_idx: Option<i32>,
    ) -> Vec<DimensionPartitionKeys> {
        let _ = (start_idx, end_idx);
        match self.0 {}
    }
    fn partition_statuses(&self) -> Option<AssetCheckPartitionStatuses> {
        match self.0 {}
    }
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetCheckCanExecuteIndividually {
    #[graphql(name = "CAN_EXECUTE")]
    CanExecute,
    #[graphql(name = "REQUIRES_MATERIALIZATION")]
    RequiresMaterialization,
    #[graphql(name = "NEEDS_USER_CODE_UPGRADE")]
    NeedsUserCodeUpgrade,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckDefaultPartitionStatuses {
    pub succeeded_partitions: Vec<String>,
    pub failed_partitions: Vec<String>,
    pub in_progress_partitions: Vec<String>,
    pub skipped_partitions: Vec<String>,
    pub execution_failed_partitions: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckEvaluation {
    pub timestamp: f64,
    pub check_name: String,
    pub asset_key: AssetKey,
    pub target_materialization: Option<AssetCheckEvaluationTargetMaterializationData>,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub severity: AssetCheckSeverity,
    pub description: Option<String>,
    pub partition: Option<String>,
    pub success: bool,
}

absent_event!(AssetCheckEvaluationEvent [StepEventValue] { evaluation: AssetCheckEvaluation });

absent_event!(AssetCheckEvaluationPlannedEvent [StepEventValue] {});

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckEvaluationTargetMaterializationData {
    pub run_id: String,
    pub timestamp: f64,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckExecution {
    pub id: String,
    pub run_id: String,
    pub status: AssetCheckExecutionResolvedStatus,
    pub evaluation: Option<AssetCheckEvaluation>,
    pub timestamp: f64,
    pub step_key: Option<String>,
    pub run: Option<Run>,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetCheckExecutionResolvedStatus {
    #[graphql(name = "IN_PROGRESS")]
    InProgress,
    #[graphql(name = "SUCCEEDED")]
    Succeeded,
    #[graphql(name = "FAILED")]
    Failed,
    #[graphql(name = "EXECUTION_FAILED")]
    ExecutionFailed,
    #[graphql(name = "SKIPPED")]
    Skipped,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckMultiPartitionRangeStatuses {
    pub primary_dim_start_key: String,
    pub primary_dim_end_key: String,
    pub primary_dim_start_time: Option<f64>,
    pub primary_dim_end_time: Option<f64>,
    pub secondary_dim: AssetCheckPartitionStatus1D,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckMultiPartitionStatuses {
    pub ranges: Vec<AssetCheckMultiPartitionRangeStatuses>,
    pub primary_dimension_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct AssetCheckNeedsAgentUpgradeError {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct AssetCheckNeedsMigrationError {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct AssetCheckNeedsUserCodeUpgrade {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = [ErrorValue])]
pub struct AssetCheckNotFoundError {
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetCheckOrError {
    AssetCheck(AssetCheck),
    AssetCheckNotFoundError(AssetCheckNotFoundError),
    AssetCheckNeedsMigrationError(AssetCheckNeedsMigrationError),
    AssetCheckNeedsUserCodeUpgrade(AssetCheckNeedsUserCodeUpgrade),
    AssetCheckNeedsAgentUpgradeError(AssetCheckNeedsAgentUpgradeError),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetCheckPartitionRangeStatus {
    #[graphql(name = "SUCCEEDED")]
    Succeeded,
    #[graphql(name = "FAILED")]
    Failed,
    #[graphql(name = "IN_PROGRESS")]
    InProgress,
    #[graphql(name = "SKIPPED")]
    Skipped,
    #[graphql(name = "EXECUTION_FAILED")]
    ExecutionFailed,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetCheckPartitionStatus1D {
    AssetCheckTimePartitionStatuses(AssetCheckTimePartitionStatuses),
    AssetCheckDefaultPartitionStatuses(AssetCheckDefaultPartitionStatuses),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetCheckPartitionStatuses {
    AssetCheckDefaultPartitionStatuses(AssetCheckDefaultPartitionStatuses),
    AssetCheckMultiPartitionStatuses(AssetCheckMultiPartitionStatuses),
    AssetCheckTimePartitionStatuses(AssetCheckTimePartitionStatuses),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetCheckSeverity {
    #[graphql(name = "WARN")]
    Warn,
    #[graphql(name = "ERROR")]
    Failure,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckTimePartitionRangeStatus {
    pub start_time: f64,
    pub end_time: f64,
    pub start_key: String,
    pub end_key: String,
    pub status: AssetCheckPartitionRangeStatus,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetCheckTimePartitionStatuses {
    pub ranges: Vec<AssetCheckTimePartitionRangeStatus>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct AssetChecks {
    pub checks: Vec<AssetCheck>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum AssetChecksOrError {
    AssetChecks(AssetChecks),
    AssetCheckNeedsMigrationError(AssetCheckNeedsMigrationError),
    AssetCheckNeedsUserCodeUpgrade(AssetCheckNeedsUserCodeUpgrade),
    AssetCheckNeedsAgentUpgradeError(AssetCheckNeedsAgentUpgradeError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ReportAssetCheckEvaluationResult {
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
    ReportAssetCheckEvaluationsSuccess(ReportAssetCheckEvaluationsSuccess),
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ReportAssetCheckEvaluationsParams {
    pub asset_key: AssetKeyInput,
    pub check_name: String,
    pub passed: bool,
    pub severity: Option<AssetCheckSeverity>,
    pub serialized_metadata: Option<String>,
    pub partition_keys: Option<Vec<Option<String>>>,
    pub description: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct ReportAssetCheckEvaluationsSuccess {
    pub asset_key: AssetKey,
}
