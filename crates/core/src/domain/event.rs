use super::AssetKey;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! event_types {
    ($( $variant:ident => $name:literal, $stored:literal; )*) => {
        /// Dagster event type. `name()` is the GraphQL/`DagsterEventType` name, `stored_value()`
        /// the value kept in `event_logs.dagster_event_type` (RUN_* are stored as legacy PIPELINE_*).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType { $($variant),* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];
            pub fn name(self) -> &'static str { match self { $(EventType::$variant => $name),* } }
            pub fn stored_value(self) -> &'static str { match self { $(EventType::$variant => $stored),* } }
            /// Accepts either the name or the stored value.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|t| t.name() == s || t.stored_value() == s)
            }
        }
    };
}

event_types! {
    RunEnqueued => "RUN_ENQUEUED", "PIPELINE_ENQUEUED";
    RunDequeued => "RUN_DEQUEUED", "PIPELINE_DEQUEUED";
    RunStarting => "RUN_STARTING", "PIPELINE_STARTING";
    RunStart => "RUN_START", "PIPELINE_START";
    RunSuccess => "RUN_SUCCESS", "PIPELINE_SUCCESS";
    RunFailure => "RUN_FAILURE", "PIPELINE_FAILURE";
    RunCanceling => "RUN_CANCELING", "PIPELINE_CANCELING";
    RunCanceled => "RUN_CANCELED", "PIPELINE_CANCELED";
    RunSuspended => "RUN_SUSPENDED", "RUN_SUSPENDED";
    RunResumed => "RUN_RESUMED", "RUN_RESUMED";
    StepStart => "STEP_START", "STEP_START";
    StepSuccess => "STEP_SUCCESS", "STEP_SUCCESS";
    StepFailure => "STEP_FAILURE", "STEP_FAILURE";
    StepSkipped => "STEP_SKIPPED", "STEP_SKIPPED";
    StepInput => "STEP_INPUT", "STEP_INPUT";
    StepOutput => "STEP_OUTPUT", "STEP_OUTPUT";
    StepUpForRetry => "STEP_UP_FOR_RETRY", "STEP_UP_FOR_RETRY";
    StepRestarted => "STEP_RESTARTED", "STEP_RESTARTED";
    StepWorkerStarting => "STEP_WORKER_STARTING", "STEP_WORKER_STARTING";
    StepWorkerStarted => "STEP_WORKER_STARTED", "STEP_WORKER_STARTED";
    ResourceInitStarted => "RESOURCE_INIT_STARTED", "RESOURCE_INIT_STARTED";
    ResourceInitSuccess => "RESOURCE_INIT_SUCCESS", "RESOURCE_INIT_SUCCESS";
    ResourceInitFailure => "RESOURCE_INIT_FAILURE", "RESOURCE_INIT_FAILURE";
    LoadedInput => "LOADED_INPUT", "LOADED_INPUT";
    HandledOutput => "HANDLED_OUTPUT", "HANDLED_OUTPUT";
    AssetMaterialization => "ASSET_MATERIALIZATION", "ASSET_MATERIALIZATION";
    AssetMaterializationPlanned => "ASSET_MATERIALIZATION_PLANNED", "ASSET_MATERIALIZATION_PLANNED";
    AssetFailedToMaterialize => "ASSET_FAILED_TO_MATERIALIZE", "ASSET_FAILED_TO_MATERIALIZE";
    AssetObservation => "ASSET_OBSERVATION", "ASSET_OBSERVATION";
    EngineEvent => "ENGINE_EVENT", "ENGINE_EVENT";
    LogsCaptured => "LOGS_CAPTURED", "LOGS_CAPTURED";
}

impl EventType {
    /// True for the run-lifecycle events that change the run status.
    pub fn is_run_status_event(self) -> bool {
        super::RunStatus::from_event(self).is_some()
    }

    /// Asset events are indexed for cross-run asset queries.
    pub fn is_asset_event(self) -> bool {
        matches!(
            self,
            EventType::AssetMaterialization
                | EventType::AssetMaterializationPlanned
                | EventType::AssetFailedToMaterialize
                | EventType::AssetObservation
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Log level of an event (Python logging numbers, as Dagster stores them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    pub fn as_int(self) -> i32 {
        match self {
            LogLevel::Debug => 10,
            LogLevel::Info => 20,
            LogLevel::Warning => 30,
            LogLevel::Error => 40,
            LogLevel::Critical => 50,
        }
    }
    pub fn from_int(v: i32) -> Self {
        match v {
            i32::MIN..=14 => LogLevel::Debug,
            15..=24 => LogLevel::Info,
            25..=34 => LogLevel::Warning,
            35..=44 => LogLevel::Error,
            _ => LogLevel::Critical,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

/// A serializable error with its cause chain (Dagster's `SerializableErrorInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub message: String,
    /// Error class/kind, e.g. `CommandFailed`, `Timeout`, `Panic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<ErrorInfo>>,
}

impl ErrorInfo {
    pub fn new(message: impl Into<String>) -> Self {
        ErrorInfo {
            message: message.into(),
            class_name: None,
            stack: Vec::new(),
            cause: None,
        }
    }

    pub fn with_class(mut self, class_name: impl Into<String>) -> Self {
        self.class_name = Some(class_name.into());
        self
    }

    /// Builds the chain from a `std::error::Error` and its `source()`s.
    pub fn from_error(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain: Vec<String> = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cur {
            chain.push(e.to_string());
            cur = e.source();
        }
        Self::from_messages(chain)
    }

    /// Builds the chain from an `anyhow::Error` (context layers become causes).
    pub fn from_anyhow(err: &anyhow::Error) -> Self {
        Self::from_messages(err.chain().map(|e| e.to_string()).collect())
    }

    fn from_messages(mut chain: Vec<String>) -> Self {
        let mut info: Option<ErrorInfo> = None;
        while let Some(msg) = chain.pop() {
            let mut e = ErrorInfo::new(msg);
            e.cause = info.map(Box::new);
            info = Some(e);
        }
        info.unwrap_or_else(|| ErrorInfo::new("unknown error"))
    }

    /// Messages of this error and every cause, outermost first.
    pub fn chain(&self) -> Vec<&str> {
        let mut out = vec![self.message.as_str()];
        let mut cur = self.cause.as_deref();
        while let Some(c) = cur {
            out.push(c.message.as_str());
            cur = c.cause.as_deref();
        }
        out
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain().join(": caused by: "))
    }
}

/// A typed metadata value (maps to Dagster's `MetadataEntry` implementations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum MetadataValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Json(serde_json::Value),
    Path(String),
    Url(String),
    Markdown(String),
    /// Unix seconds.
    Timestamp(f64),
}

impl fmt::Display for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataValue::Text(s)
            | MetadataValue::Path(s)
            | MetadataValue::Url(s)
            | MetadataValue::Markdown(s) => f.write_str(s),
            MetadataValue::Int(v) => write!(f, "{v}"),
            MetadataValue::Float(v) => write!(f, "{v}"),
            MetadataValue::Bool(v) => write!(f, "{v}"),
            MetadataValue::Json(v) => write!(f, "{v}"),
            MetadataValue::Timestamp(v) => write!(f, "{v}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataEntry {
    pub label: String,
    pub value: MetadataValue,
}

impl MetadataEntry {
    pub fn new(label: impl Into<String>, value: MetadataValue) -> Self {
        MetadataEntry {
            label: label.into(),
            value,
        }
    }
}

/// An asset materialization (payload of ASSET_MATERIALIZATION).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Materialization {
    pub asset_key: AssetKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Vec<MetadataEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// Event-specific payload, stored as JSON in the event body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventData {
    #[default]
    None,
    /// STEP_FAILURE, RUN_FAILURE, RUN_CANCELED, ENGINE_EVENT with an error.
    Failure {
        error: ErrorInfo,
        /// `dagster/failure_reason` value for RUN_FAILURE; `USER_CODE_ERROR` etc. for steps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// ASSET_MATERIALIZATION / ASSET_MATERIALIZATION_PLANNED / ASSET_FAILED_TO_MATERIALIZE.
    Asset(Materialization),
    /// STEP_OUTPUT / HANDLED_OUTPUT.
    Output { output_name: String },
    /// STEP_UP_FOR_RETRY / STEP_RESTARTED.
    Retry {
        /// 1-based number of the attempt that failed (UP_FOR_RETRY) or starts (RESTARTED).
        attempt: u32,
        max_retries: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_seconds: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorInfo>,
    },
    /// LOGS_CAPTURED: where a step's stdout/stderr go.
    LogsCaptured {
        file_key: String,
        step_keys: Vec<String>,
        stdout_path: String,
        stderr_path: String,
    },
    /// ENGINE_EVENT and other marker events with metadata.
    Engine {
        #[serde(default)]
        metadata: Vec<MetadataEntry>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorInfo>,
    },
}

/// An event to be written (no storage id yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub run_id: String,
    pub job_name: String,
    /// Unix seconds.
    pub timestamp: f64,
    pub level: LogLevel,
    /// Human message (`user_message` in Dagster).
    pub message: String,
    pub step_key: Option<String>,
    /// `None` for a plain log line (GraphQL `LogMessageEvent`).
    #[serde(with = "event_type_opt")]
    pub event_type: Option<EventType>,
    pub data: EventData,
    /// Tags set on the run in the same transaction when this run-lifecycle event moves the
    /// run's status (ignored when the transition is refused, and for other events). Not part
    /// of the stored event.
    #[serde(skip)]
    pub run_tags: std::collections::BTreeMap<String, String>,
}

impl NewEvent {
    pub fn new(
        run_id: &str,
        job_name: &str,
        event_type: Option<EventType>,
        message: impl Into<String>,
    ) -> Self {
        NewEvent {
            run_id: run_id.to_string(),
            job_name: job_name.to_string(),
            timestamp: super::now_ts(),
            level: LogLevel::Debug,
            message: message.into(),
            step_key: None,
            event_type,
            data: EventData::None,
            run_tags: Default::default(),
        }
    }
    /// RUN_FAILURE of `run_id` (an ERROR event) with `error` and the run's
    /// `dagster/failure_reason`.
    pub fn run_failure(
        run_id: &str,
        job_name: &str,
        message: impl Into<String>,
        error: ErrorInfo,
        reason: &str,
    ) -> Self {
        NewEvent::new(run_id, job_name, Some(EventType::RunFailure), message)
            .level(LogLevel::Error)
            .data(EventData::Failure {
                error,
                reason: Some(reason.to_string()),
            })
    }
    /// Tags to set on the run if this lifecycle event moves its status (see
    /// [`NewEvent::run_tags`]).
    pub fn with_run_tags(mut self, tags: std::collections::BTreeMap<String, String>) -> Self {
        self.run_tags = tags;
        self
    }
    pub fn step(mut self, step_key: &str) -> Self {
        self.step_key = Some(step_key.to_string());
        self
    }
    pub fn level(mut self, level: LogLevel) -> Self {
        self.level = level;
        self
    }
    pub fn data(mut self, data: EventData) -> Self {
        self.data = data;
        self
    }
    /// Asset key of an asset event (indexed in storage).
    pub fn asset_key(&self) -> Option<&AssetKey> {
        match &self.data {
            EventData::Asset(m) => Some(&m.asset_key),
            _ => None,
        }
    }
    pub fn partition(&self) -> Option<&str> {
        match &self.data {
            EventData::Asset(m) => m.partition.as_deref(),
            _ => None,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Storage id: monotonically increasing, used in cursors.
    pub storage_id: i64,
    #[serde(flatten)]
    pub event: NewEvent,
}

mod event_type_opt {
    use super::EventType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<EventType>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_some(t.name()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EventType>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => EventType::parse(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown event type {s}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_events_are_stored_with_pipeline_names() {
        assert_eq!(EventType::RunStart.stored_value(), "PIPELINE_START");
        assert_eq!(
            EventType::parse("PIPELINE_START"),
            Some(EventType::RunStart)
        );
        assert_eq!(EventType::parse("RUN_START"), Some(EventType::RunStart));
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.stored_value()), Some(*t));
        }
    }

    #[test]
    fn error_chain_from_anyhow() {
        let e = anyhow::anyhow!("root cause")
            .context("middle")
            .context("top");
        let info = ErrorInfo::from_anyhow(&e);
        assert_eq!(info.chain(), vec!["top", "middle", "root cause"]);
    }
}
