//! Backfills: the `PartitionBackfill` entry of the runs feed, its `BulkActionStatus` and
//! `PartitionSet`, and the lookups `partitionBackfillOrError(backfillId)` /
//! `partitionBackfillsOrError(status, cursor, limit, filters)`.
//!
//! There are no backfills here yet: nothing launches or stores one. The types exist so that
//! the UI's documents naming them validate (the runs page's `... on PartitionBackfill`
//! fragment, `InstanceWarningQuery`'s list of requested backfills, the re-execution dialog's
//! backfill status check). `PartitionBackfill` and `PartitionSet` hold an uninhabited value,
//! so none can be built and their resolvers are unreachable; a lookup by id answers
//! `BackfillNotFoundError` and a list is empty.
//!
//! Field names, types and nullability are Dagster's (the partition types are in
//! [`super::partitions`]).

#[allow(unused_imports)]
use super::prelude::*;
use super::runs::{AssetCheckHandle, RepositoryOrigin, Run};
use super::runs_feed::RunsFeedEntryValue;
use super::types::{AssetKey, ErrorValue, PipelineTag, PythonError, RunStatus};
use super::Ctx;
use juniper::{graphql_object, GraphQLEnum, GraphQLInputObject, GraphQLObject, GraphQLUnion, ID};
use std::convert::Infallible;

/// `enum BulkActionStatus`: the state of a backfill.
#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum BulkActionStatus {
    Requested,
    Completed,
    Failed,
    Canceled,
    Canceling,
    CompletedSuccess,
    CompletedFailed,
    Failing,
}

/// `input BulkActionsFilter` of `partitionBackfillsOrError`.
#[derive(GraphQLInputObject, Debug, Clone, Default)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct BulkActionsFilter {
    pub statuses: Option<Vec<BulkActionStatus>>,
    pub created_before: Option<f64>,
    pub created_after: Option<f64>,
    pub selector_id: Option<String>,
}

/// `type PartitionBackfill implements RunsFeedEntry`. Never constructed: there are no
/// backfills yet (see the module doc).
#[derive(Debug, Clone)]
pub struct PartitionBackfill(Infallible);

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = RunsFeedEntryValue)]
impl PartitionBackfill {
    fn id(&self) -> ID {
        match self.0 {}
    }
    /// The status of the backfill as a run status.
    fn run_status(&self) -> RunStatus {
        match self.0 {}
    }
    fn creation_time(&self) -> f64 {
        match self.0 {}
    }
    /// Same as `timestamp` (for the `RunsFeedEntry` interface).
    fn start_time(&self) -> Option<f64> {
        match self.0 {}
    }
    /// Same as `endTimestamp` (for the `RunsFeedEntry` interface).
    fn end_time(&self) -> Option<f64> {
        match self.0 {}
    }
    fn tags(&self) -> Vec<PipelineTag> {
        match self.0 {}
    }
    fn job_name(&self) -> Option<String> {
        match self.0 {}
    }
    fn asset_selection(&self) -> Option<Vec<AssetKey>> {
        match self.0 {}
    }
    fn asset_check_selection(&self) -> Option<Vec<AssetCheckHandle>> {
        match self.0 {}
    }
    fn status(&self) -> BulkActionStatus {
        match self.0 {}
    }
    fn partition_names(&self) -> Option<Vec<String>> {
        match self.0 {}
    }
    fn is_valid_serialization(&self) -> bool {
        match self.0 {}
    }
    fn num_partitions(&self) -> Option<i32> {
        match self.0 {}
    }
    fn num_cancelable(&self) -> i32 {
        match self.0 {}
    }
    #[graphql(name = "fromFailure")]
    fn is_from_failure(&self) -> bool {
        match self.0 {}
    }
    fn reexecution_steps(&self) -> Option<Vec<String>> {
        match self.0 {}
    }
    fn partition_set_name(&self) -> Option<String> {
        match self.0 {}
    }
    fn timestamp(&self) -> f64 {
        match self.0 {}
    }
    fn end_timestamp(&self) -> Option<f64> {
        match self.0 {}
    }
    fn partition_set(&self) -> Option<PartitionSet> {
        match self.0 {}
    }
    fn runs(&self, limit: Option<i32>) -> Vec<Run> {
        let _ = limit;
        match self.0 {}
    }
    fn unfinished_runs(&self, limit: Option<i32>) -> Vec<Run> {
        let _ = limit;
        match self.0 {}
    }
    fn cancelable_runs(&self, limit: Option<i32>) -> Vec<Run> {
        let _ = limit;
        match self.0 {}
    }
    fn error(&self) -> Option<PythonError> {
        match self.0 {}
    }
    fn is_asset_backfill(&self) -> bool {
        match self.0 {}
    }
    fn has_cancel_permission(&self) -> bool {
        match self.0 {}
    }
    fn has_resume_permission(&self) -> bool {
        match self.0 {}
    }
    fn user(&self) -> Option<String> {
        match self.0 {}
    }
    fn title(&self) -> Option<String> {
        match self.0 {}
    }
    fn description(&self) -> Option<String> {
        match self.0 {}
    }
    fn partition_statuses(&self) -> Option<PartitionStatuses> {
        match self.0 {}
    }
    fn partitions_targeted_for_asset_key(
        &self,
        asset_key: Option<AssetKeyInput>,
    ) -> Option<AssetBackfillTargetPartitions> {
        let _ = asset_key;
        match self.0 {}
    }
    fn asset_backfill_data(&self) -> Option<AssetBackfillData> {
        match self.0 {}
    }
    fn log_events(&self, cursor: Option<String>) -> InstigationEventConnection {
        let _ = cursor;
        match self.0 {}
    }
}

/// `type PartitionSet`: a job's partitions, the target of a job backfill. Only reachable
/// through a `PartitionBackfill`, so never constructed either.
#[derive(Debug, Clone)]
pub struct PartitionSet(Infallible);

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl PartitionSet {
    fn id(&self) -> ID {
        match self.0 {}
    }
    fn name(&self) -> String {
        match self.0 {}
    }
    fn pipeline_name(&self) -> String {
        match self.0 {}
    }
    fn solid_selection(&self) -> Option<Vec<String>> {
        match self.0 {}
    }
    fn mode(&self) -> String {
        match self.0 {}
    }
    fn repository_origin(&self) -> RepositoryOrigin {
        match self.0 {}
    }
    fn has_launch_backfill_permission(&self) -> bool {
        match self.0 {}
    }
    fn has_cancel_backfill_permission(&self) -> bool {
        match self.0 {}
    }
    fn backfills(&self, cursor: Option<String>, limit: Option<i32>) -> Vec<PartitionBackfill> {
        let _ = (cursor, limit);
        match self.0 {}
    }
    fn partitions_or_error(
        &self,
        cursor: Option<String>,
        limit: Option<i32>,
        reverse: Option<bool>,
    ) -> PartitionsOrError {
        let _ = (cursor, limit, reverse);
        match self.0 {}
    }
    fn partition(&self, partition_name: String) -> Option<Partition> {
        let _ = partition_name;
        match self.0 {}
    }
    fn partition_statuses_or_error(&self) -> PartitionStatusesOrError {
        match self.0 {}
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct BackfillNotFoundError {
    pub message: String,
    pub backfill_id: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
#[allow(
    dead_code,
    reason = "members of Dagster's union that no lookup can return yet"
)]
pub enum PartitionBackfillOrError {
    PartitionBackfill(PartitionBackfill),
    BackfillNotFoundError(BackfillNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct PartitionBackfills {
    pub results: Vec<PartitionBackfill>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
#[allow(
    dead_code,
    reason = "a member of Dagster's union that the empty list never needs"
)]
pub enum PartitionBackfillsOrError {
    PartitionBackfills(PartitionBackfills),
    PythonError(PythonError),
}

/// `partitionBackfillOrError(backfillId)`: no backfill exists, so any id is not found
/// (Dagster's message).
pub fn partition_backfill_or_error(backfill_id: String) -> PartitionBackfillOrError {
    PartitionBackfillOrError::BackfillNotFoundError(BackfillNotFoundError {
        message: format!("Backfill {backfill_id} could not be found."),
        backfill_id,
    })
}

/// `partitionBackfillsOrError(status, cursor, limit, filters)`: always the empty list.
pub fn partition_backfills_or_error() -> PartitionBackfillsOrError {
    PartitionBackfillsOrError::PartitionBackfills(PartitionBackfills {
        results: Vec::new(),
    })
}

/// What a backfill mutation answers for an id it does not know (every id here), as
/// Dagster's `No backfill found for id`.
pub fn no_backfill(backfill_id: &str) -> PythonError {
    PythonError::new(format!("No backfill found for id: {backfill_id}"))
}
