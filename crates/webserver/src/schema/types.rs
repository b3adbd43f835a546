//! GraphQL object types, interfaces and unions, with Dagster's type names (compat doc §2.4,
//! §3.3) so the official client's fragments validate.
#![allow(dead_code)] // union members and error types that exist so the schema matches Dagster's

use super::assets::AssetNotFoundError;
use super::backfills::BackfillNotFoundError;
use super::instigators::{ScheduleNotFoundError, SensorNotFoundError};
#[allow(unused_imports)]
use super::prelude::*;
use super::runs::{Run, Runs};
use super::Ctx;
use dagster_core::defs::Definitions;
use dagster_core::domain::{ErrorInfo, RunStatus as DomainStatus};
use juniper::{graphql_object, GraphQLEnum, GraphQLObject, GraphQLUnion, ID};
use std::sync::Arc;

pub const REPOSITORY_NAME: &str = "__repository__";

// ---------------------------------------------------------------------------------------------
// Interfaces

interface! {
    /// `interface Error { message: String! }`
    pub enum ErrorValue: "Error" {
        fields {
            "message": String,
        }
        for [
            AssetCheckNeedsAgentUpgradeError,
            AssetCheckNeedsMigrationError,
            AssetCheckNeedsUserCodeUpgrade,
            AssetCheckNotFoundError,
            AssetNotFoundError,
            AutoMaterializeAssetEvaluationNeedsMigrationError,
            BackfillNotFoundError,
            ConflictingExecutionParamsError,
            DagsterTypeNotFoundError,
            DuplicateDynamicPartitionError,
            ErrorChainLink,
            GraphNotFoundError,
            InstigationStateNotFoundError,
            InvalidPipelineRunsFilterError,
            InvalidSubsetError,
            ModeNotFoundError,
            NoModeProvidedError,
            PartitionKeysNotFoundError,
            PartitionSetNotFoundError,
            PipelineNotFoundError,
            PipelineSnapshotNotFoundError,
            PresetNotFoundError,
            PythonError,
            ReloadNotSupported,
            RepositoryLocationNotFound,
            RepositoryNotFoundError,
            ResourceNotFoundError,
            RunConflict,
            RunGroupNotFoundError,
            RunNotFoundError,
            ScheduleNotFoundError,
            SensorNotFoundError,
            SolidStepStatusUnavailableError,
            UnauthorizedError,
            UnsupportedOperationError,
        ]
    }
}

interface! {
    pub enum PipelineRunNotFoundErrorValue: "PipelineRunNotFoundError" implements [ErrorValue] {
        fields {
            "runId": String,
            "message": String,
        }
        for [
            RunNotFoundError,
        ]
    }
}

interface! {
    pub enum PipelineRunConflictValue: "PipelineRunConflict" {
        fields {
            "message": String,
        }
        for [
            RunConflict,
        ]
    }
}

interface! {
    pub enum LaunchPipelineRunSuccessValue: "LaunchPipelineRunSuccess" {
        fields {
            "run": Run,
        }
        for [
            LaunchRunSuccess,
        ]
    }
}

interface! {
    pub enum PipelineConfigValidationInvalidValue: "PipelineConfigValidationInvalid" {
        fields {
            "pipelineName": String,
            "errors": Vec<PipelineConfigValidationErrorValue>,
        }
        for [
            RunConfigValidationInvalid,
        ]
    }
}

interface! {
    pub enum PipelineConfigValidationErrorValue: "PipelineConfigValidationError" {
        fields {
            "message": String,
            "path": Vec<String>,
            "stack": EvaluationStack,
            "reason": EvaluationErrorReason,
        }
        for [
            FieldNotDefinedConfigError,
            FieldsNotDefinedConfigError,
            MissingFieldConfigError,
            MissingFieldsConfigError,
            RuntimeMismatchConfigError,
            SelectorTypeConfigError,
        ]
    }
}

interface! {
    pub enum PipelineRunValue: "PipelineRun" {
        fields {
            "id": ID,
            "runId": String,
            "status": RunStatus,
            "pipelineName": String,
            "jobName": String,
            "solidSelection": Option<Vec<String>>,
            "stepKeysToExecute": Option<Vec<String>>,
            "runConfigYaml": String,
            "mode": String,
            "tags": Vec<PipelineTag>,
            "rootRunId": Option<String>,
            "parentRunId": Option<String>,
            "canTerminate": bool,
            "assets": Vec<Asset>,
            "pipelineSnapshotId": Option<String>,
            "repositoryOrigin": Option<RepositoryOrigin>,
        }
        for [
            Run,
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone)]
pub struct PythonError {
    pub message: String,
    pub class_name: Option<String>,
    pub stack: Vec<String>,
    pub cause: Option<Box<PythonError>>,
}

impl PythonError {
    pub fn new(message: impl Into<String>) -> Self {
        PythonError {
            message: message.into(),
            class_name: None,
            stack: Vec::new(),
            cause: None,
        }
    }

    pub fn from_info(e: &ErrorInfo) -> Self {
        PythonError {
            message: e.message.clone(),
            class_name: e.class_name.clone(),
            stack: e.stack.clone(),
            cause: e.cause.as_deref().map(|c| Box::new(Self::from_info(c))),
        }
    }

    pub fn from_error(e: &(dyn std::error::Error + 'static)) -> Self {
        Self::from_info(&ErrorInfo::from_error(e))
    }
}

/// A `PythonError` returned where Dagster's schema has no error member becomes a GraphQL
/// error of that field.
impl<S: juniper::ScalarValue> juniper::IntoFieldError<S> for PythonError {
    fn into_field_error(self) -> juniper::FieldError<S> {
        juniper::FieldError::new(self.message, juniper::Value::null())
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
impl PythonError {
    fn message(&self) -> &str {
        &self.message
    }
    fn class_name(&self) -> Option<&str> {
        self.class_name.as_deref()
    }
    fn stack(&self) -> &[String] {
        &self.stack
    }
    fn cause(&self) -> Option<PythonError> {
        self.cause.as_deref().cloned()
    }
    fn causes(&self) -> Vec<PythonError> {
        let mut out = Vec::new();
        let mut c = self.cause.as_deref();
        while let Some(e) = c {
            out.push(e.clone());
            c = e.cause.as_deref();
        }
        out
    }
    fn error_chain(&self) -> Vec<ErrorChainLink> {
        self.causes()
            .into_iter()
            .map(|error| ErrorChainLink {
                message: error.message.clone(),
                error,
                is_explicit_link: true,
            })
            .collect()
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct ErrorChainLink {
    pub message: String,
    pub error: PythonError,
    pub is_explicit_link: bool,
}

macro_rules! message_error {
    ($name:ident) => {
        #[derive(GraphQLObject, Debug, Clone)]
        #[graphql(scalar = juniper::DefaultScalarValue)]
        #[graphql(context = Ctx, impl = ErrorValue)]
        pub struct $name {
            pub message: String,
        }
    };
}

message_error!(RepositoryLocationNotFound);
message_error!(ReloadNotSupported);
message_error!(ConflictingExecutionParamsError);
message_error!(InvalidSubsetError);

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct UnauthorizedError {
    pub message: String,
}

impl UnauthorizedError {
    pub fn new() -> Self {
        UnauthorizedError {
            message: "Authorization failed".into(),
        }
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = [ErrorValue, PipelineRunConflictValue])]
pub struct RunConflict {
    pub message: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = [PipelineRunNotFoundErrorValue, ErrorValue])]
pub struct RunNotFoundError {
    pub run_id: String,
    pub message: String,
}

impl RunNotFoundError {
    pub fn new(run_id: &str) -> Self {
        RunNotFoundError {
            run_id: run_id.to_string(),
            message: format!("Pipeline run {run_id} could not be found."),
        }
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct PipelineNotFoundError {
    pub message: String,
    pub pipeline_name: String,
    pub repository_name: String,
    pub repository_location_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct RepositoryNotFoundError {
    pub message: String,
    pub repository_name: String,
    pub repository_location_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct PresetNotFoundError {
    pub message: String,
    pub preset: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct NoModeProvidedError {
    pub message: String,
    pub pipeline_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct InvalidStepError {
    pub invalid_step_key: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct InvalidOutputError {
    pub step_key: String,
    pub invalid_output_name: String,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum EvaluationErrorReason {
    RuntimeTypeMismatch,
    MissingRequiredField,
    MissingRequiredFields,
    FieldNotDefined,
    FieldsNotDefined,
    SelectorFieldError,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct EvaluationStackPathEntry {
    pub field_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct EvaluationStackListItemEntry {
    pub list_index: i32,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum EvaluationStackEntry {
    EvaluationStackPathEntry(EvaluationStackPathEntry),
    EvaluationStackListItemEntry(EvaluationStackListItemEntry),
    EvaluationStackMapKeyEntry(EvaluationStackMapKeyEntry),
    EvaluationStackMapValueEntry(EvaluationStackMapValueEntry),
}

#[derive(GraphQLObject, Debug, Clone, Default)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct EvaluationStack {
    pub entries: Vec<EvaluationStackEntry>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = PipelineConfigValidationErrorValue)]
pub struct RuntimeMismatchConfigError {
    pub message: String,
    pub path: Vec<String>,
    pub stack: EvaluationStack,
    pub reason: EvaluationErrorReason,
    pub value_rep: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = PipelineConfigValidationErrorValue)]
pub struct FieldNotDefinedConfigError {
    pub message: String,
    pub path: Vec<String>,
    pub stack: EvaluationStack,
    pub reason: EvaluationErrorReason,
    pub field_name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = PipelineConfigValidationInvalidValue)]
pub struct RunConfigValidationInvalid {
    pub pipeline_name: String,
    pub errors: Vec<PipelineConfigValidationErrorValue>,
}

// ---------------------------------------------------------------------------------------------
// Runs

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum RunStatus {
    Queued,
    NotStarted,
    Managed,
    Starting,
    Started,
    Suspended,
    Success,
    Failure,
    Canceling,
    Canceled,
}

impl From<DomainStatus> for RunStatus {
    fn from(s: DomainStatus) -> Self {
        match s {
            DomainStatus::Queued => RunStatus::Queued,
            DomainStatus::NotStarted => RunStatus::NotStarted,
            DomainStatus::Managed => RunStatus::Managed,
            DomainStatus::Starting => RunStatus::Starting,
            DomainStatus::Started => RunStatus::Started,
            DomainStatus::Suspended => RunStatus::Suspended,
            DomainStatus::Success => RunStatus::Success,
            DomainStatus::Failure => RunStatus::Failure,
            DomainStatus::Canceling => RunStatus::Canceling,
            DomainStatus::Canceled => RunStatus::Canceled,
        }
    }
}

#[derive(GraphQLObject, Debug, Clone, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct PipelineTag {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLObject, Debug, Clone, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct AssetKey {
    pub path: Vec<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunOrError {
    Run(Run),
    RunNotFoundError(RunNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = ErrorValue)]
pub struct InvalidPipelineRunsFilterError {
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunsOrError {
    Runs(Runs),
    InvalidPipelineRunsFilterError(InvalidPipelineRunsFilterError),
    PythonError(PythonError),
}

// ---------------------------------------------------------------------------------------------
// Launch

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = LaunchPipelineRunSuccessValue)]
pub struct LaunchRunSuccess {
    pub run: Run,
}

launch_result_union! {
    pub enum LaunchRunResult {
        LaunchRunSuccess,
    }
}

// ---------------------------------------------------------------------------------------------
// Terminate

interface! {
    pub enum TerminatePipelineExecutionSuccessValue: "TerminatePipelineExecutionSuccess" {
        fields {
            "run": Run,
        }
        for [
            TerminateRunSuccess,
        ]
    }
}

interface! {
    pub enum TerminatePipelineExecutionFailureValue: "TerminatePipelineExecutionFailure" {
        fields {
            "run": Run,
            "message": String,
        }
        for [
            TerminateRunFailure,
        ]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = TerminatePipelineExecutionSuccessValue)]
pub struct TerminateRunSuccess {
    pub run: Run,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = TerminatePipelineExecutionFailureValue)]
pub struct TerminateRunFailure {
    pub run: Run,
    pub message: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum TerminateRunResult {
    TerminateRunSuccess(TerminateRunSuccess),
    TerminateRunFailure(TerminateRunFailure),
    RunNotFoundError(RunNotFoundError),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct TerminateRunsResult {
    pub terminate_run_results: Vec<TerminateRunResult>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum TerminateRunsResultOrError {
    TerminateRunsResult(TerminateRunsResult),
    PythonError(PythonError),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum TerminateRunPolicy {
    SafeTerminate,
    MarkAsCanceledImmediately,
}

// ---------------------------------------------------------------------------------------------
// Workspace

/// The graphs of a location's jobs: the asset job (when there are assets) and the declared ones.
pub fn job_graphs(location: &str, defs: &Arc<Definitions>) -> Vec<Arc<JobGraph>> {
    let mut names: Vec<String> = Vec::new();
    if !defs.assets.is_empty() {
        names.push(dagster_core::defs::ASSET_JOB_NAME.to_string());
    }
    names.extend(defs.jobs.keys().cloned());
    names
        .iter()
        .filter_map(|n| defs.job(n))
        .map(|j| JobGraph::new(location, defs.clone(), j))
        .collect()
}

#[derive(Debug, Clone)]
pub struct Repository {
    pub location: String,
    pub defs: Arc<Definitions>,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Repository {
    fn id(&self) -> ID {
        ID::new(format!("{}:{}", self.location, REPOSITORY_NAME))
    }
    fn name(&self) -> &str {
        REPOSITORY_NAME
    }
    fn location(&self) -> RepositoryLocation {
        RepositoryLocation {
            name: self.location.clone(),
            defs: self.defs.clone(),
        }
    }
    fn pipelines(&self) -> Vec<Pipeline> {
        job_graphs(&self.location, &self.defs)
            .into_iter()
            .map(Pipeline)
            .collect()
    }
    fn jobs(&self) -> Vec<Job> {
        job_graphs(&self.location, &self.defs)
            .into_iter()
            .map(Job)
            .collect()
    }
    fn origin(&self) -> super::runs::RepositoryOrigin {
        super::runs::RepositoryOrigin {
            location: self.location.clone(),
        }
    }
    fn display_metadata(&self) -> Vec<super::runs::RepositoryMetadata> {
        Vec::new()
    }
    fn schedules(&self) -> Vec<super::workspace::Schedule> {
        super::workspace::schedules_of(&self.location, &self.defs)
    }
    fn sensors(
        &self,
        sensor_type: Option<super::workspace::SensorType>,
    ) -> Vec<super::workspace::Sensor> {
        super::workspace::sensors_of(&self.location, &self.defs)
            .into_iter()
            .filter(|s| sensor_type.is_none_or(|t| s.kind() == t))
            .collect()
    }
    fn asset_nodes(&self) -> Vec<super::assets::AssetNode> {
        super::workspace::asset_nodes_of(&self.defs)
    }
    fn asset_groups(&self) -> Vec<super::workspace::AssetGroup> {
        super::workspace::asset_groups_of(&self.location, &self.defs)
    }
    /// Resources, config values redacted.
    fn all_top_level_resource_details(&self) -> Vec<super::workspace::ResourceDetails> {
        super::workspace::resources_of(&self.location, &self.defs)
    }
    /// Jobs are unpartitioned: no partition sets.
    fn partition_sets(&self) -> Vec<PartitionSet> {
        Vec::new()
    }
    fn used_solids(&self) -> Vec<UsedSolid> {
        used_solids(&self.location, &self.defs)
    }
    fn used_solid(&self, name: String) -> Option<UsedSolid> {
        used_solids(&self.location, &self.defs)
            .into_iter()
            .find(|u| match &u.definition {
                ISolidDefinitionValue::SolidDefinition(d) => {
                    d.graph.ops.get(d.op).is_some_and(|o| o.name == name)
                }
                ISolidDefinitionValue::CompositeSolidDefinition(_) => false,
            })
    }
    /// Dagster's manifest of assets defined outside Python: none here.
    fn asset_manifest(&self) -> Option<GenericScalar> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct RepositoryLocation {
    pub name: String,
    pub defs: Arc<Definitions>,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl RepositoryLocation {
    fn id(&self) -> ID {
        ID::new(&self.name)
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn is_reload_supported(&self) -> bool {
        true
    }
    fn environment_path(&self) -> Option<String> {
        None
    }
    fn server_id(&self) -> Option<String> {
        None
    }
    fn dagster_library_versions(&self) -> Option<Vec<DagsterLibraryVersion>> {
        Some(vec![DagsterLibraryVersion {
            name: "dagster".into(),
            version: crate::VERSION.into(),
        }])
    }
    fn repositories(&self) -> Vec<Repository> {
        vec![Repository {
            location: self.name.clone(),
            defs: self.defs.clone(),
        }]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct DagsterLibraryVersion {
    pub name: String,
    pub version: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RepositoryLocationOrLoadError {
    RepositoryLocation(RepositoryLocation),
    PythonError(PythonError),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum RepositoryLocationLoadStatus {
    Loading,
    Loaded,
}

#[derive(Debug, Clone)]
pub struct WorkspaceLocationEntry(pub crate::state::LocationEntry);

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl WorkspaceLocationEntry {
    fn id(&self) -> ID {
        ID::new(&self.0.name)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    fn location_or_load_error(&self) -> Option<RepositoryLocationOrLoadError> {
        Some(match &self.0.defs {
            Ok(defs) => RepositoryLocationOrLoadError::RepositoryLocation(RepositoryLocation {
                name: self.0.name.clone(),
                defs: defs.clone(),
            }),
            Err(message) => RepositoryLocationOrLoadError::PythonError(PythonError {
                message: message.clone(),
                class_name: Some("DagsterUserCodeLoadError".into()),
                stack: Vec::new(),
                cause: None,
            }),
        })
    }
    fn load_status(&self) -> RepositoryLocationLoadStatus {
        RepositoryLocationLoadStatus::Loaded
    }
    fn updated_timestamp(&self) -> f64 {
        self.0.updated
    }
    fn version_key(&self) -> String {
        format!("{}", self.0.updated)
    }
    fn display_metadata(&self) -> Vec<super::runs::RepositoryMetadata> {
        Vec::new()
    }
    fn permissions(ctx: &Ctx) -> Vec<super::instance::Permission> {
        super::instance::permissions(ctx)
    }
    /// Definitions come from the location's pipeline config, read by this process (Dagster's
    /// code server case).
    fn definitions_source(&self) -> DefinitionsSource {
        DefinitionsSource::CodeServer
    }
    fn defs_state_info(&self) -> Option<DefsStateInfo> {
        None
    }
    fn feature_flags(&self) -> Vec<FeatureFlag> {
        Vec::new()
    }
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum WorkspaceLocationEntryOrError {
    WorkspaceLocationEntry(WorkspaceLocationEntry),
    PythonError(PythonError),
}

launch_result_union! {
    /// `LaunchRunReexecutionResult`: the members of `LaunchRunResult`.
    pub enum LaunchRunReexecutionResult {
        LaunchRunSuccess,
    }
}

impl From<LaunchRunResult> for LaunchRunReexecutionResult {
    fn from(r: LaunchRunResult) -> Self {
        use LaunchRunReexecutionResult as X;
        use LaunchRunResult as L;
        match r {
            L::LaunchRunSuccess(v) => X::LaunchRunSuccess(v),
            L::InvalidStepError(v) => X::InvalidStepError(v),
            L::InvalidOutputError(v) => X::InvalidOutputError(v),
            L::RunConfigValidationInvalid(v) => X::RunConfigValidationInvalid(v),
            L::PipelineNotFoundError(v) => X::PipelineNotFoundError(v),
            L::RunConflict(v) => X::RunConflict(v),
            L::UnauthorizedError(v) => X::UnauthorizedError(v),
            L::PythonError(v) => X::PythonError(v),
            L::InvalidSubsetError(v) => X::InvalidSubsetError(v),
            L::PresetNotFoundError(v) => X::PresetNotFoundError(v),
            L::ConflictingExecutionParamsError(v) => X::ConflictingExecutionParamsError(v),
            L::NoModeProvidedError(v) => X::NoModeProvidedError(v),
        }
    }
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum ReloadRepositoryLocationMutationResult {
    WorkspaceLocationEntry(WorkspaceLocationEntry),
    ReloadNotSupported(ReloadNotSupported),
    RepositoryLocationNotFound(RepositoryLocationNotFound),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ShutdownRepositoryLocationSuccess {
    pub repository_location_name: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum ShutdownRepositoryLocationMutationResult {
    ShutdownRepositoryLocationSuccess(ShutdownRepositoryLocationSuccess),
    RepositoryLocationNotFound(RepositoryLocationNotFound),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RepositoryConnection {
    pub nodes: Vec<Repository>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RepositoriesOrError {
    RepositoryConnection(RepositoryConnection),
    RepositoryNotFoundError(RepositoryNotFoundError),
    PythonError(PythonError),
}
