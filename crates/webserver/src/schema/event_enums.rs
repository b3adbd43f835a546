//! The enums of run events (`LogLevel`, `DagsterEventType`, `ErrorSource`, the materialization
//! failure reasons), moved out of [`super::logs`], which re-exports them.

use dagster_core::domain::{EventType, LogLevel as DomainLevel};
use juniper::GraphQLEnum;

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum LogLevel {
    Critical,
    // `Error` would clash with the `Error` associated type of juniper's input traits.
    #[graphql(name = "ERROR")]
    Err,
    Info,
    Warning,
    Debug,
}

impl From<DomainLevel> for LogLevel {
    fn from(l: DomainLevel) -> Self {
        match l {
            DomainLevel::Debug => LogLevel::Debug,
            DomainLevel::Info => LogLevel::Info,
            DomainLevel::Warning => LogLevel::Warning,
            DomainLevel::Error => LogLevel::Err,
            DomainLevel::Critical => LogLevel::Critical,
        }
    }
}

/// Dagster's full `DagsterEventType` enum.
#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum DagsterEventType {
    StepOutput,
    StepInput,
    StepFailure,
    StepStart,
    StepSuccess,
    StepSkipped,
    StepWorkerStarting,
    StepWorkerStarted,
    ResourceInitStarted,
    ResourceInitSuccess,
    ResourceInitFailure,
    StepUpForRetry,
    StepRestarted,
    AssetMaterialization,
    AssetMaterializationPlanned,
    AssetFailedToMaterialize,
    AssetObservation,
    StepExpectationResult,
    AssetCheckEvaluationPlanned,
    AssetCheckEvaluation,
    AssetHealthChanged,
    AssetWiped,
    RunEnqueued,
    RunDequeued,
    RunStarting,
    RunStart,
    RunSuccess,
    RunFailure,
    RunCanceling,
    RunCanceled,
    RunSuspended,
    RunResumed,
    PipelineEnqueued,
    PipelineDequeued,
    PipelineStarting,
    PipelineStart,
    PipelineSuccess,
    PipelineFailure,
    PipelineCanceling,
    PipelineCanceled,
    ObjectStoreOperation,
    AssetStoreOperation,
    LoadedInput,
    HandledOutput,
    EngineEvent,
    HookCompleted,
    HookErrored,
    HookSkipped,
    AlertStart,
    AlertSuccess,
    AlertFailure,
    LogsCaptured,
    FreshnessStateEvaluation,
    FreshnessStateChange,
    CodeLocationUpdated,
}

impl From<EventType> for DagsterEventType {
    fn from(t: EventType) -> Self {
        use DagsterEventType as D;
        match t {
            EventType::RunEnqueued => D::RunEnqueued,
            EventType::RunDequeued => D::RunDequeued,
            EventType::RunStarting => D::RunStarting,
            EventType::RunStart => D::RunStart,
            EventType::RunSuccess => D::RunSuccess,
            EventType::RunFailure => D::RunFailure,
            EventType::RunCanceling => D::RunCanceling,
            EventType::RunCanceled => D::RunCanceled,
            EventType::RunSuspended => D::RunSuspended,
            EventType::RunResumed => D::RunResumed,
            EventType::StepStart => D::StepStart,
            EventType::StepSuccess => D::StepSuccess,
            EventType::StepFailure => D::StepFailure,
            EventType::StepSkipped => D::StepSkipped,
            EventType::StepInput => D::StepInput,
            EventType::StepOutput => D::StepOutput,
            EventType::StepUpForRetry => D::StepUpForRetry,
            EventType::StepRestarted => D::StepRestarted,
            EventType::StepWorkerStarting => D::StepWorkerStarting,
            EventType::StepWorkerStarted => D::StepWorkerStarted,
            EventType::ResourceInitStarted => D::ResourceInitStarted,
            EventType::ResourceInitSuccess => D::ResourceInitSuccess,
            EventType::ResourceInitFailure => D::ResourceInitFailure,
            EventType::LoadedInput => D::LoadedInput,
            EventType::HandledOutput => D::HandledOutput,
            EventType::AssetMaterialization => D::AssetMaterialization,
            EventType::AssetMaterializationPlanned => D::AssetMaterializationPlanned,
            EventType::AssetFailedToMaterialize => D::AssetFailedToMaterialize,
            EventType::AssetObservation => D::AssetObservation,
            EventType::EngineEvent => D::EngineEvent,
            EventType::LogsCaptured => D::LogsCaptured,
        }
    }
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum ErrorSource {
    FrameworkError,
    UserCodeError,
    UnexpectedError,
    Interrupt,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetMaterializationFailureReason {
    FailedToMaterialize,
    UpstreamFailedToMaterialize,
    RunTerminated,
    Unknown,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum AssetMaterializationFailureType {
    Failed,
    Skipped,
}
