//! Run logs (compat doc §3.4, §3.5): `logsForRun(runId, afterCursor, limit)` with the
//! `DagsterRunEvent` union (one member per event type we write, `LogMessageEvent` for plain log
//! lines), the `MessageEvent` / `StepEvent` / `DisplayableEvent` / `MarkerEvent` / `ErrorEvent` /
//! `RunEvent` interfaces, `MetadataEntry` implementations, and captured stdout/stderr
//! (`capturedLogs`, `capturedLogsMetadata`).
//!
//! Cursors are Dagster's: base64 of `{"type": "STORAGE_ID", "value": <event storage id>}`.
//! The same types and cursors serve the `pipelineRunLogs` / `capturedLogs` subscriptions
//! ([`super::subscriptions`]).

#[allow(unused_imports)]
use super::prelude::*;
use super::runs::{step_stats, RunStepStats};
use super::types::*;
use super::{with_storage, Ctx};
use base64::Engine as _;
use dagster_core::domain::{
    EventData, EventRecord, EventType, MetadataEntry as DomainEntry, MetadataValue,
};
use dagster_core::exec::ComputeLogManager;
use juniper::{graphql_object, GraphQLObject, GraphQLUnion};
use std::sync::Arc;

pub use super::captured_logs::*;
pub use super::event_enums::*;

/// Default and largest page of `logsForRun`.
pub const DEFAULT_EVENTS_PAGE: usize = 1000;
pub const MAX_EVENTS_PAGE: usize = 10_000;
/// Largest chunk of a captured log returned at once (bytes).
pub const MAX_LOG_CHUNK: usize = 4 * 1024 * 1024;

/// `{"type": "STORAGE_ID", "value": id}` in base64, as Dagster's event cursors.
pub fn encode_cursor(storage_id: i64) -> String {
    let json = format!("{{\"type\": \"STORAGE_ID\", \"value\": {storage_id}}}");
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// Parses an event cursor: Dagster's base64 form, or a bare storage id.
pub fn decode_cursor(cursor: &str) -> Result<i64, String> {
    let c = cursor.trim();
    if let Ok(n) = c.parse::<i64>() {
        return Ok(n);
    }
    let bad = || {
        format!("invalid event cursor {c:?}: expected base64 of {{\"type\": \"STORAGE_ID\", \"value\": <id>}}")
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(c)
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("value")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(bad)
}

/// Event timestamps are strings of integer milliseconds.
fn millis(ts: f64) -> String {
    format!("{}", (ts * 1000.0) as i64)
}

// ---------------------------------------------------------------------------------------------
// Metadata entries

interface! {
    pub enum MetadataEntryValue: "MetadataEntry" {
        fields {
            "label": String,
            "description": Option<String>,
        }
        for [
            AssetMetadataEntry,
            BoolMetadataEntry,
            CodeReferencesMetadataEntry,
            FloatMetadataEntry,
            IntMetadataEntry,
            JobMetadataEntry,
            JsonMetadataEntry,
            MarkdownMetadataEntry,
            NotebookMetadataEntry,
            NullMetadataEntry,
            PathMetadataEntry,
            PipelineRunMetadataEntry,
            PoolMetadataEntry,
            PythonArtifactMetadataEntry,
            TableColumnLineageMetadataEntry,
            TableMetadataEntry,
            TableSchemaMetadataEntry,
            TextMetadataEntry,
            TimestampMetadataEntry,
            UrlMetadataEntry,
        ]
    }
}

macro_rules! metadata_entry {
    ($name:ident { $($field:ident : $ty:ty),* }) => {
        #[derive(GraphQLObject, Debug, Clone)]
        #[graphql(scalar = juniper::DefaultScalarValue)]
        #[graphql(context = Ctx, impl = MetadataEntryValue)]
        pub struct $name {
            pub label: String,
            pub description: Option<String>,
            $(pub $field: $ty),*
        }
    };
}

metadata_entry!(TextMetadataEntry { text: String });
metadata_entry!(IntMetadataEntry {
    int_value: Option<i32>,
    int_repr: String
});
metadata_entry!(FloatMetadataEntry {
    float_value: Option<f64>,
    float_repr: String
});
metadata_entry!(BoolMetadataEntry {
    bool_value: Option<bool>
});
metadata_entry!(JsonMetadataEntry {
    json_string: String
});
metadata_entry!(PathMetadataEntry { path: String });
metadata_entry!(UrlMetadataEntry { url: String });
metadata_entry!(MarkdownMetadataEntry { md_str: String });
metadata_entry!(TimestampMetadataEntry { timestamp: f64 });

/// Our typed metadata as Dagster's `MetadataEntry` implementations.
pub fn metadata_entries(entries: &[DomainEntry]) -> Vec<MetadataEntryValue> {
    entries
        .iter()
        .map(|e| {
            let label = e.label.clone();
            let description = None;
            match &e.value {
                MetadataValue::Text(t) => TextMetadataEntry {
                    label,
                    description,
                    text: t.clone(),
                }
                .into(),
                MetadataValue::Int(v) => IntMetadataEntry {
                    label,
                    description,
                    int_value: i32::try_from(*v).ok(),
                    int_repr: v.to_string(),
                }
                .into(),
                MetadataValue::Float(v) => FloatMetadataEntry {
                    label,
                    description,
                    float_value: v.is_finite().then_some(*v),
                    float_repr: float_repr(*v),
                }
                .into(),
                MetadataValue::Bool(v) => BoolMetadataEntry {
                    label,
                    description,
                    bool_value: Some(*v),
                }
                .into(),
                MetadataValue::Json(v) => JsonMetadataEntry {
                    label,
                    description,
                    json_string: v.to_string(),
                }
                .into(),
                MetadataValue::Path(p) => PathMetadataEntry {
                    label,
                    description,
                    path: p.clone(),
                }
                .into(),
                MetadataValue::Url(u) => UrlMetadataEntry {
                    label,
                    description,
                    url: u.clone(),
                }
                .into(),
                MetadataValue::Markdown(m) => MarkdownMetadataEntry {
                    label,
                    description,
                    md_str: m.clone(),
                }
                .into(),
                MetadataValue::Timestamp(t) => TimestampMetadataEntry {
                    label,
                    description,
                    timestamp: *t,
                }
                .into(),
            }
        })
        .collect()
}

fn float_repr(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// Event interfaces

interface! {
    pub enum MessageEventValue: "MessageEvent" {
        fields {
            "runId": String,
            "message": String,
            "timestamp": String,
            "level": LogLevel,
            "stepKey": Option<String>,
            "solidHandleID": Option<String>,
            "eventType": Option<DagsterEventType>,
        }
        for [
            AlertFailureEvent,
            AlertStartEvent,
            AlertSuccessEvent,
            AssetCheckEvaluationEvent,
            AssetCheckEvaluationPlannedEvent,
            AssetMaterializationPlannedEvent,
            EngineEvent,
            ExecutionStepFailureEvent,
            ExecutionStepInputEvent,
            ExecutionStepOutputEvent,
            ExecutionStepRestartEvent,
            ExecutionStepSkippedEvent,
            ExecutionStepStartEvent,
            ExecutionStepSuccessEvent,
            ExecutionStepUpForRetryEvent,
            FailedToMaterializeEvent,
            HandledOutputEvent,
            HealthChangedEvent,
            HookCompletedEvent,
            HookErroredEvent,
            HookSkippedEvent,
            LoadedInputEvent,
            LogMessageEvent,
            LogsCapturedEvent,
            MaterializationEvent,
            ObjectStoreOperationEvent,
            ObservationEvent,
            ResourceInitFailureEvent,
            ResourceInitStartedEvent,
            ResourceInitSuccessEvent,
            RunCanceledEvent,
            RunCancelingEvent,
            RunDequeuedEvent,
            RunEnqueuedEvent,
            RunFailureEvent,
            RunResumedEvent,
            RunStartEvent,
            RunStartingEvent,
            RunSuccessEvent,
            RunSuspendedEvent,
            StepExpectationResultEvent,
            StepWorkerStartedEvent,
            StepWorkerStartingEvent,
        ]
    }
}

interface! {
    pub enum StepEventValue: "StepEvent" {
        fields {
            "stepKey": Option<String>,
            "solidHandleID": Option<String>,
        }
        for [
            AssetCheckEvaluationEvent,
            AssetCheckEvaluationPlannedEvent,
            EngineEvent,
            ExecutionStepFailureEvent,
            ExecutionStepInputEvent,
            ExecutionStepOutputEvent,
            ExecutionStepRestartEvent,
            ExecutionStepSkippedEvent,
            ExecutionStepStartEvent,
            ExecutionStepSuccessEvent,
            ExecutionStepUpForRetryEvent,
            FailedToMaterializeEvent,
            HandledOutputEvent,
            HealthChangedEvent,
            HookCompletedEvent,
            HookErroredEvent,
            HookSkippedEvent,
            LoadedInputEvent,
            MaterializationEvent,
            ObjectStoreOperationEvent,
            ObservationEvent,
            ResourceInitFailureEvent,
            ResourceInitStartedEvent,
            ResourceInitSuccessEvent,
            StepExpectationResultEvent,
            StepWorkerStartedEvent,
            StepWorkerStartingEvent,
        ]
    }
}

interface! {
    pub enum DisplayableEventValue: "DisplayableEvent" {
        fields {
            "label": Option<String>,
            "description": Option<String>,
            "metadataEntries": Vec<MetadataEntryValue>,
        }
        for [
            EngineEvent,
            ExecutionStepOutputEvent,
            ExpectationResult,
            FailedToMaterializeEvent,
            FailureMetadata,
            HandledOutputEvent,
            HealthChangedEvent,
            LoadedInputEvent,
            MaterializationEvent,
            ObjectStoreOperationResult,
            ObservationEvent,
            ResourceInitFailureEvent,
            ResourceInitStartedEvent,
            ResourceInitSuccessEvent,
            StepWorkerStartedEvent,
            StepWorkerStartingEvent,
            TypeCheck,
        ]
    }
}

interface! {
    pub enum MarkerEventValue: "MarkerEvent" {
        fields {
            "markerStart": Option<String>,
            "markerEnd": Option<String>,
        }
        for [
            EngineEvent,
            ResourceInitFailureEvent,
            ResourceInitStartedEvent,
            ResourceInitSuccessEvent,
            StepWorkerStartedEvent,
            StepWorkerStartingEvent,
        ]
    }
}

interface! {
    pub enum ErrorEventValue: "ErrorEvent" {
        fields {
            "error": Option<PythonError>,
        }
        for [
            EngineEvent,
            ExecutionStepFailureEvent,
            ExecutionStepUpForRetryEvent,
            HookErroredEvent,
            ResourceInitFailureEvent,
            RunCanceledEvent,
            RunFailureEvent,
        ]
    }
}

interface! {
    pub enum RunEventValue: "RunEvent" {
        fields {
            "pipelineName": String,
        }
        for [
            AlertFailureEvent,
            AlertStartEvent,
            AlertSuccessEvent,
            AssetMaterializationPlannedEvent,
            RunCanceledEvent,
            RunCancelingEvent,
            RunDequeuedEvent,
            RunEnqueuedEvent,
            RunFailureEvent,
            RunResumedEvent,
            RunStartEvent,
            RunStartingEvent,
            RunSuccessEvent,
            RunSuspendedEvent,
        ]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = DisplayableEventValue)]
pub struct TypeCheck {
    pub label: Option<String>,
    pub description: Option<String>,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub success: bool,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = DisplayableEventValue)]
pub struct FailureMetadata {
    pub label: Option<String>,
    pub description: Option<String>,
    pub metadata_entries: Vec<MetadataEntryValue>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = DisplayableEventValue)]
pub struct ExpectationResult {
    pub label: Option<String>,
    pub description: Option<String>,
    pub metadata_entries: Vec<MetadataEntryValue>,
    pub success: bool,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct EventTag {
    pub key: String,
    pub value: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct AssetLineageInfo {
    pub asset_key: AssetKey,
    pub partitions: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct LogRetrievalShellCommand {
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

// Helpers over a stored event, shared by every event type.

fn ev_error(r: &EventRecord) -> Option<PythonError> {
    match &r.event.data {
        EventData::Failure { error, .. } => Some(PythonError::from_info(error)),
        EventData::Engine { error, .. } => error.as_ref().map(PythonError::from_info),
        EventData::Retry { error, .. } => error.as_ref().map(PythonError::from_info),
        _ => None,
    }
}

fn ev_metadata(r: &EventRecord) -> Vec<MetadataEntryValue> {
    match &r.event.data {
        EventData::Asset(m) => metadata_entries(&m.metadata),
        EventData::Engine { metadata, .. } => metadata_entries(metadata),
        _ => Vec::new(),
    }
}

fn ev_description(r: &EventRecord) -> Option<String> {
    match &r.event.data {
        EventData::Asset(m) => m.description.clone(),
        _ => None,
    }
}

fn ev_asset_key(r: &EventRecord) -> Option<AssetKey> {
    r.event.asset_key().map(AssetKey::from)
}

fn ev_output_name(r: &EventRecord) -> String {
    match &r.event.data {
        EventData::Output { output_name } => output_name.clone(),
        _ => "result".into(),
    }
}

fn ev_marker(r: &EventRecord, start: bool) -> Option<String> {
    let t = r.event.event_type?;
    let (s, e) = match t {
        EventType::ResourceInitStarted => (true, false),
        EventType::ResourceInitSuccess | EventType::ResourceInitFailure => (false, true),
        EventType::StepWorkerStarting => (true, false),
        EventType::StepWorkerStarted => (false, true),
        _ => (false, false),
    };
    let key = match t {
        EventType::ResourceInitStarted
        | EventType::ResourceInitSuccess
        | EventType::ResourceInitFailure => "resources",
        _ => "step_process_start",
    };
    ((start && s) || (!start && e)).then(|| key.to_string())
}

/// Declares one event object type over a stored event: the `MessageEvent` fields, plus the
/// fields of the optional interfaces (`+step`, `+display`, `+marker`, `+error`, `+run`), plus
/// its own fields.
macro_rules! event_object {
    (@acc $name:ident [$($i:ty),*] {$($body:tt)*} +step $($rest:tt)*) => {
        event_object!(@acc $name [$($i),*] {$($body)*} $($rest)*);
    };
    (@acc $name:ident [$($i:ty),*] {$($body:tt)*} +display $($rest:tt)*) => {
        event_object!(@acc $name [$($i),*] {$($body)*
            fn label(&self) -> Option<String> {
                self.0.event.asset_key().map(|k| k.to_user_string())
            }
            fn description(&self) -> Option<String> {
                ev_description(&self.0)
            }
            fn metadata_entries(&self) -> Vec<MetadataEntryValue> {
                ev_metadata(&self.0)
            }
        } $($rest)*);
    };
    (@acc $name:ident [$($i:ty),*] {$($body:tt)*} +marker $($rest:tt)*) => {
        event_object!(@acc $name [$($i),*] {$($body)*
            fn marker_start(&self) -> Option<String> {
                ev_marker(&self.0, true)
            }
            fn marker_end(&self) -> Option<String> {
                ev_marker(&self.0, false)
            }
        } $($rest)*);
    };
    (@acc $name:ident [$($i:ty),*] {$($body:tt)*} +error $($rest:tt)*) => {
        event_object!(@acc $name [$($i),*] {$($body)*
            fn error(&self) -> Option<PythonError> {
                ev_error(&self.0)
            }
        } $($rest)*);
    };
    (@acc $name:ident [$($i:ty),*] {$($body:tt)*} +run $($rest:tt)*) => {
        event_object!(@acc $name [$($i),*] {$($body)*
            fn pipeline_name(&self) -> &str {
                &self.0.event.job_name
            }
        } $($rest)*);
    };
    (@acc $name:ident [$($i:ty),*] {$($body:tt)*} { $($extra:tt)* }) => {
        #[derive(Debug, Clone)]
        pub struct $name(pub Arc<EventRecord>);

        impl $name {
            #[allow(dead_code)] // used for some types only
            pub fn new(r: Arc<EventRecord>) -> Self {
                $name(r)
            }
        }

        #[graphql_object]
        #[graphql(scalar = juniper::DefaultScalarValue)]
        #[graphql(context = Ctx, impl = [$($i),*])]
        impl $name {
            fn run_id(&self) -> &str {
                &self.0.event.run_id
            }
            fn message(&self) -> &str {
                &self.0.event.message
            }
            /// Unix milliseconds.
            fn timestamp(&self) -> String {
                millis(self.0.event.timestamp)
            }
            fn level(&self) -> LogLevel {
                self.0.event.level.into()
            }
            fn step_key(&self) -> Option<&str> {
                self.0.event.step_key.as_deref()
            }
            #[graphql(name = "solidHandleID")]
            fn solid_handle_id(&self) -> Option<&str> {
                self.0.event.step_key.as_deref()
            }
            fn event_type(&self) -> Option<DagsterEventType> {
                self.0.event.event_type.map(Into::into)
            }
            $($body)*
            $($extra)*
        }
    };
    ($name:ident : [$($i:ty),*] $($rest:tt)*) => {
        event_object!(@acc $name [$($i),*] {} $($rest)*);
    };
}

type M = MessageEventValue;
type S = StepEventValue;
type D = DisplayableEventValue;
type K = MarkerEventValue;
type E = ErrorEventValue;
type R = RunEventValue;

event_object!(ExecutionStepStartEvent: [M, S] +step {});
event_object!(ExecutionStepSuccessEvent: [M, S] +step {});
event_object!(ExecutionStepSkippedEvent: [M, S] +step {});
event_object!(ExecutionStepRestartEvent: [M, S] +step {});
event_object!(ExecutionStepFailureEvent: [M, S, E] +step +error {
    fn error_source(&self) -> Option<ErrorSource> {
        match &self.0.event.data {
            EventData::Failure { reason: Some(r), .. } => Some(match r.as_str() {
                "FRAMEWORK_ERROR" => ErrorSource::FrameworkError,
                "UNEXPECTED_ERROR" => ErrorSource::UnexpectedError,
                "INTERRUPT" => ErrorSource::Interrupt,
                _ => ErrorSource::UserCodeError,
            }),
            _ => Some(ErrorSource::UserCodeError),
        }
    }
    fn failure_metadata(&self) -> Option<FailureMetadata> {
        None
    }
});
event_object!(ExecutionStepInputEvent: [M, S] +step {
    fn input_name(&self) -> String {
        ev_output_name(&self.0)
    }
    fn type_check(&self) -> TypeCheck {
        TypeCheck { label: None, description: None, metadata_entries: Vec::new(), success: true }
    }
});
event_object!(ExecutionStepOutputEvent: [M, S, D] +step +display {
    fn output_name(&self) -> String {
        ev_output_name(&self.0)
    }
    fn type_check(&self) -> TypeCheck {
        TypeCheck { label: None, description: None, metadata_entries: Vec::new(), success: true }
    }
});
event_object!(ExecutionStepUpForRetryEvent: [M, S, E] +step +error {
    fn seconds_to_wait(&self) -> Option<f64> {
        match &self.0.event.data {
            EventData::Retry { wait_seconds, .. } => *wait_seconds,
            _ => None,
        }
    }
});
event_object!(StepWorkerStartingEvent: [M, D, S, K] +step +display +marker {});
event_object!(StepWorkerStartedEvent: [M, D, S, K] +step +display +marker {});
event_object!(ResourceInitStartedEvent: [M, D, S, K] +step +display +marker {});
event_object!(ResourceInitSuccessEvent: [M, D, S, K] +step +display +marker {});
event_object!(ResourceInitFailureEvent: [M, D, S, K, E] +step +display +marker +error {});
event_object!(RunEnqueuedEvent: [M, R] +run {});
event_object!(RunDequeuedEvent: [M, R] +run {});
event_object!(RunStartingEvent: [M, R] +run {});
event_object!(RunStartEvent: [M, R] +run {});
event_object!(RunSuccessEvent: [M, R] +run {});
event_object!(RunCancelingEvent: [M, R] +run {});
event_object!(RunSuspendedEvent: [M, R] +run {});
event_object!(RunResumedEvent: [M, R] +run {});
event_object!(RunFailureEvent: [M, R, E] +run +error {});
event_object!(RunCanceledEvent: [M, R, E] +run +error {});
event_object!(HandledOutputEvent: [M, S, D] +step +display {
    fn output_name(&self) -> String {
        ev_output_name(&self.0)
    }
    fn manager_key(&self) -> &str {
        "io_manager"
    }
});
event_object!(LoadedInputEvent: [M, S, D] +step +display {
    fn input_name(&self) -> String {
        ev_output_name(&self.0)
    }
    fn manager_key(&self) -> &str {
        "io_manager"
    }
    fn upstream_output_name(&self) -> Option<String> {
        None
    }
    fn upstream_step_key(&self) -> Option<String> {
        None
    }
});
event_object!(EngineEvent: [M, D, S, K, E] +step +display +marker +error {});
event_object!(LogMessageEvent: [M] {});
event_object!(LogsCapturedEvent: [M] {
    fn file_key(&self) -> String {
        match &self.0.event.data {
            EventData::LogsCaptured { file_key, .. } => file_key.clone(),
            _ => self.0.event.step_key.clone().unwrap_or_default(),
        }
    }
    /// The log key joined by `/` (`<run_id>/compute_logs/<file_key>`), as Dagster's.
    fn log_key(&self) -> String {
        let file_key = match &self.0.event.data {
            EventData::LogsCaptured { file_key, .. } => file_key.clone(),
            _ => self.0.event.step_key.clone().unwrap_or_default(),
        };
        ComputeLogManager::log_key(&self.0.event.run_id, &file_key).join("/")
    }
    fn step_keys(&self) -> Option<Vec<String>> {
        match &self.0.event.data {
            EventData::LogsCaptured { step_keys, .. } => Some(step_keys.clone()),
            _ => None,
        }
    }
    fn external_url(&self) -> Option<String> {
        None
    }
    fn external_stdout_url(&self) -> Option<String> {
        None
    }
    fn external_stderr_url(&self) -> Option<String> {
        None
    }
    fn shell_cmd(&self) -> Option<LogRetrievalShellCommand> {
        None
    }
    fn pid(&self) -> Option<i32> {
        None
    }
});
event_object!(MaterializationEvent: [M, S, D] +step +display {
    fn asset_key(&self) -> Option<AssetKey> {
        ev_asset_key(&self.0)
    }
    async fn run_or_error(&self, ctx: &Ctx) -> RunOrError {
        super::runs::run_or_error(ctx, self.0.event.run_id.clone()).await
    }
    async fn step_stats(&self, ctx: &Ctx) -> Result<RunStepStats, PythonError> {
        asset_step_stats(ctx, &self.0).await
    }
    fn partition(&self) -> Option<&str> {
        self.0.event.partition()
    }
    fn tags(&self) -> Vec<EventTag> {
        asset_event_tags(&self.0)
    }
    fn asset_lineage(&self) -> Vec<AssetLineageInfo> {
        Vec::new()
    }
});
event_object!(ObservationEvent: [M, S, D] +step +display {
    fn asset_key(&self) -> Option<AssetKey> {
        ev_asset_key(&self.0)
    }
    async fn run_or_error(&self, ctx: &Ctx) -> RunOrError {
        super::runs::run_or_error(ctx, self.0.event.run_id.clone()).await
    }
    async fn step_stats(&self, ctx: &Ctx) -> Result<RunStepStats, PythonError> {
        asset_step_stats(ctx, &self.0).await
    }
    fn partition(&self) -> Option<&str> {
        self.0.event.partition()
    }
    fn tags(&self) -> Vec<EventTag> {
        asset_event_tags(&self.0)
    }
});
event_object!(FailedToMaterializeEvent: [M, S, D] +step +display {
    fn asset_key(&self) -> Option<AssetKey> {
        ev_asset_key(&self.0)
    }
    async fn run_or_error(&self, ctx: &Ctx) -> RunOrError {
        super::runs::run_or_error(ctx, self.0.event.run_id.clone()).await
    }
    async fn step_stats(&self, ctx: &Ctx) -> Result<RunStepStats, PythonError> {
        asset_step_stats(ctx, &self.0).await
    }
    fn partition(&self) -> Option<&str> {
        self.0.event.partition()
    }
    fn tags(&self) -> Vec<EventTag> {
        asset_event_tags(&self.0)
    }
    fn materialization_failure_reason(&self) -> AssetMaterializationFailureReason {
        AssetMaterializationFailureReason::FailedToMaterialize
    }
    fn materialization_failure_type(&self) -> AssetMaterializationFailureType {
        AssetMaterializationFailureType::Failed
    }
});
event_object!(AssetMaterializationPlannedEvent: [M, R] +run {
    fn asset_key(&self) -> Option<AssetKey> {
        ev_asset_key(&self.0)
    }
    async fn run_or_error(&self, ctx: &Ctx) -> RunOrError {
        super::runs::run_or_error(ctx, self.0.event.run_id.clone()).await
    }
});

fn asset_event_tags(r: &EventRecord) -> Vec<EventTag> {
    match &r.event.data {
        EventData::Asset(m) => m
            .tags
            .iter()
            .map(|(k, v)| EventTag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

async fn asset_step_stats(ctx: &Ctx, r: &EventRecord) -> Result<RunStepStats, PythonError> {
    let events = super::runs::run_events(ctx, &r.event.run_id).await?;
    let key = r.event.step_key.clone().unwrap_or_default();
    step_stats(&r.event.run_id, &events)
        .into_iter()
        .find(|s| s.step_key == key)
        .ok_or_else(|| {
            PythonError::new(format!(
                "no step stats for step {key:?} in run {}",
                r.event.run_id
            ))
        })
}

/// `union DagsterRunEvent` (variant names are the GraphQL type names).
#[allow(clippy::enum_variant_names)]
#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
#[allow(dead_code)] // event types this project's runs do not produce (hooks, alerts, checks)
pub enum DagsterRunEvent {
    AlertFailureEvent(AlertFailureEvent),
    AlertStartEvent(AlertStartEvent),
    AlertSuccessEvent(AlertSuccessEvent),
    AssetCheckEvaluationEvent(AssetCheckEvaluationEvent),
    AssetCheckEvaluationPlannedEvent(AssetCheckEvaluationPlannedEvent),
    HealthChangedEvent(HealthChangedEvent),
    HookCompletedEvent(HookCompletedEvent),
    HookErroredEvent(HookErroredEvent),
    HookSkippedEvent(HookSkippedEvent),
    ObjectStoreOperationEvent(ObjectStoreOperationEvent),
    StepExpectationResultEvent(StepExpectationResultEvent),
    ExecutionStepFailureEvent(ExecutionStepFailureEvent),
    ExecutionStepInputEvent(ExecutionStepInputEvent),
    ExecutionStepOutputEvent(ExecutionStepOutputEvent),
    ExecutionStepSkippedEvent(ExecutionStepSkippedEvent),
    ExecutionStepStartEvent(ExecutionStepStartEvent),
    ExecutionStepSuccessEvent(ExecutionStepSuccessEvent),
    ExecutionStepUpForRetryEvent(ExecutionStepUpForRetryEvent),
    ExecutionStepRestartEvent(ExecutionStepRestartEvent),
    LogMessageEvent(LogMessageEvent),
    ResourceInitFailureEvent(ResourceInitFailureEvent),
    ResourceInitStartedEvent(ResourceInitStartedEvent),
    ResourceInitSuccessEvent(ResourceInitSuccessEvent),
    RunFailureEvent(RunFailureEvent),
    RunStartEvent(RunStartEvent),
    RunEnqueuedEvent(RunEnqueuedEvent),
    RunDequeuedEvent(RunDequeuedEvent),
    RunStartingEvent(RunStartingEvent),
    RunCancelingEvent(RunCancelingEvent),
    RunCanceledEvent(RunCanceledEvent),
    RunSuspendedEvent(RunSuspendedEvent),
    RunResumedEvent(RunResumedEvent),
    RunSuccessEvent(RunSuccessEvent),
    StepWorkerStartedEvent(StepWorkerStartedEvent),
    StepWorkerStartingEvent(StepWorkerStartingEvent),
    HandledOutputEvent(HandledOutputEvent),
    LoadedInputEvent(LoadedInputEvent),
    LogsCapturedEvent(LogsCapturedEvent),
    MaterializationEvent(MaterializationEvent),
    ObservationEvent(ObservationEvent),
    FailedToMaterializeEvent(FailedToMaterializeEvent),
    EngineEvent(EngineEvent),
    AssetMaterializationPlannedEvent(AssetMaterializationPlannedEvent),
}

impl DagsterRunEvent {
    /// The union member for a stored event (by its event type).
    pub fn from_record(r: EventRecord) -> Self {
        use DagsterRunEvent as U;
        let t = r.event.event_type;
        let r = Arc::new(r);
        let Some(t) = t else {
            return U::LogMessageEvent(LogMessageEvent(r));
        };
        match t {
            EventType::RunEnqueued => U::RunEnqueuedEvent(RunEnqueuedEvent(r)),
            EventType::RunDequeued => U::RunDequeuedEvent(RunDequeuedEvent(r)),
            EventType::RunStarting => U::RunStartingEvent(RunStartingEvent(r)),
            EventType::RunStart => U::RunStartEvent(RunStartEvent(r)),
            EventType::RunSuccess => U::RunSuccessEvent(RunSuccessEvent(r)),
            EventType::RunFailure => U::RunFailureEvent(RunFailureEvent(r)),
            EventType::RunCanceling => U::RunCancelingEvent(RunCancelingEvent(r)),
            EventType::RunCanceled => U::RunCanceledEvent(RunCanceledEvent(r)),
            EventType::RunSuspended => U::RunSuspendedEvent(RunSuspendedEvent(r)),
            EventType::RunResumed => U::RunResumedEvent(RunResumedEvent(r)),
            EventType::StepStart => U::ExecutionStepStartEvent(ExecutionStepStartEvent(r)),
            EventType::StepSuccess => U::ExecutionStepSuccessEvent(ExecutionStepSuccessEvent(r)),
            EventType::StepFailure => U::ExecutionStepFailureEvent(ExecutionStepFailureEvent(r)),
            EventType::StepSkipped => U::ExecutionStepSkippedEvent(ExecutionStepSkippedEvent(r)),
            EventType::StepInput => U::ExecutionStepInputEvent(ExecutionStepInputEvent(r)),
            EventType::StepOutput => U::ExecutionStepOutputEvent(ExecutionStepOutputEvent(r)),
            EventType::StepUpForRetry => {
                U::ExecutionStepUpForRetryEvent(ExecutionStepUpForRetryEvent(r))
            }
            EventType::StepRestarted => U::ExecutionStepRestartEvent(ExecutionStepRestartEvent(r)),
            EventType::StepWorkerStarting => U::StepWorkerStartingEvent(StepWorkerStartingEvent(r)),
            EventType::StepWorkerStarted => U::StepWorkerStartedEvent(StepWorkerStartedEvent(r)),
            EventType::ResourceInitStarted => {
                U::ResourceInitStartedEvent(ResourceInitStartedEvent(r))
            }
            EventType::ResourceInitSuccess => {
                U::ResourceInitSuccessEvent(ResourceInitSuccessEvent(r))
            }
            EventType::ResourceInitFailure => {
                U::ResourceInitFailureEvent(ResourceInitFailureEvent(r))
            }
            EventType::LoadedInput => U::LoadedInputEvent(LoadedInputEvent(r)),
            EventType::HandledOutput => U::HandledOutputEvent(HandledOutputEvent(r)),
            EventType::AssetMaterialization => U::MaterializationEvent(MaterializationEvent(r)),
            EventType::AssetMaterializationPlanned => {
                U::AssetMaterializationPlannedEvent(AssetMaterializationPlannedEvent(r))
            }
            EventType::AssetFailedToMaterialize => {
                U::FailedToMaterializeEvent(FailedToMaterializeEvent(r))
            }
            EventType::AssetObservation => U::ObservationEvent(ObservationEvent(r)),
            EventType::EngineEvent => U::EngineEvent(EngineEvent(r)),
            EventType::LogsCaptured => U::LogsCapturedEvent(LogsCapturedEvent(r)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// logsForRun

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct EventConnection {
    pub events: Vec<DagsterRunEvent>,
    pub cursor: String,
    pub has_more: bool,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum EventConnectionOrError {
    EventConnection(EventConnection),
    RunNotFoundError(RunNotFoundError),
    PythonError(PythonError),
}

/// One page of a run's events after `after_cursor` (exclusive), ascending.
pub async fn event_connection(
    ctx: &Ctx,
    run_id: &str,
    after_cursor: Option<String>,
    limit: Option<i32>,
) -> Result<EventConnection, PythonError> {
    let after = match after_cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(decode_cursor(c).map_err(PythonError::new)?),
        None => None,
    };
    let limit = match limit {
        Some(l) if l < 0 => {
            return Err(PythonError::new(format!(
                "limit must not be negative (got {l})"
            )))
        }
        Some(l) => (l as usize).min(MAX_EVENTS_PAGE),
        None => DEFAULT_EVENTS_PAGE,
    };
    let id = run_id.to_string();
    let page = with_storage(&ctx.state, move |s| s.events_for_run(&id, after, limit)).await?;
    Ok(EventConnection {
        cursor: encode_cursor(page.cursor.unwrap_or(0)),
        has_more: page.has_more,
        events: page
            .events
            .into_iter()
            .map(DagsterRunEvent::from_record)
            .collect(),
    })
}

/// `logsForRun`: `RunNotFoundError` for an unknown run.
pub async fn logs_for_run(
    ctx: &Ctx,
    run_id: String,
    after_cursor: Option<String>,
    limit: Option<i32>,
) -> EventConnectionOrError {
    match super::runs::run_or_error(ctx, run_id.clone()).await {
        RunOrError::Run(_) => {}
        RunOrError::RunNotFoundError(e) => return EventConnectionOrError::RunNotFoundError(e),
        RunOrError::PythonError(e) => return EventConnectionOrError::PythonError(e),
    }
    match event_connection(ctx, &run_id, after_cursor, limit).await {
        Ok(c) => EventConnectionOrError::EventConnection(c),
        Err(e) => EventConnectionOrError::PythonError(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_dagsters() {
        // observed in Dagster: {"type": "STORAGE_ID", "value": 3}
        assert_eq!(
            encode_cursor(3),
            "eyJ0eXBlIjogIlNUT1JBR0VfSUQiLCAidmFsdWUiOiAzfQ=="
        );
        assert_eq!(decode_cursor(&encode_cursor(123_456)), Ok(123_456));
        assert_eq!(decode_cursor("42"), Ok(42));
        assert!(decode_cursor("%%%").is_err());
        assert!(decode_cursor("e30=").is_err()); // {}
    }
}
