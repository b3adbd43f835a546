//! Domain model: runs, run statuses, events, asset keys and metadata.
//!
//! These types are storage-agnostic: the storage backends map them to rows, the
//! webserver maps them to GraphQL. Names and string values follow Dagster's
//! (`../shared/reference/dagster-compat.md` §4) so that they are drop-in compatible.

mod asset;
mod event;
mod instigator;
mod run;

pub use asset::AssetKey;
pub use event::{
    ErrorInfo, EventData, EventRecord, EventType, LogLevel, Materialization, MetadataEntry,
    MetadataValue, NewEvent,
};
pub use instigator::{InstigatorStatus, TickStatus};
pub use run::{NewRun, Run, RunStatus, RunsFilter};

/// Current time as float unix seconds (the unit Dagster uses for run and event times).
pub fn now_ts() -> f64 {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_micros()) / 1e6
}

/// Well-known run tag keys (compat doc §0).
pub mod tags {
    pub const CODE_LOCATION: &str = "dagster/code_location";
    pub const REPOSITORY: &str = ".dagster/repository";
    pub const SCHEDULE_NAME: &str = "dagster/schedule_name";
    pub const SENSOR_NAME: &str = "dagster/sensor_name";
    pub const TICK: &str = "dagster/tick";
    pub const SCHEDULED_EXECUTION_TIME: &str = ".dagster/scheduled_execution_time";
    pub const RUN_KEY: &str = "dagster/run_key";
    pub const PRIORITY: &str = "dagster/priority";
    pub const FAILURE_REASON: &str = "dagster/failure_reason";
    pub const MAX_RETRIES: &str = "dagster/max_retries";
    pub const RETRY_STRATEGY: &str = "dagster/retry_strategy";
    pub const RETRY_NUMBER: &str = "dagster/retry_number";
    pub const MAX_RUNTIME: &str = "dagster/max_runtime";
    pub const PARENT_RUN_ID: &str = "dagster/parent_run_id";
    pub const ROOT_RUN_ID: &str = "dagster/root_run_id";
    pub const IS_RESUME_RETRY: &str = "dagster/is_resume_retry";
    pub const STEP_SELECTION: &str = "dagster/step_selection";
    /// Id of the backfill a run belongs to.
    pub const BACKFILL: &str = "dagster/backfill";
    /// How the run was launched from outside Dagster (`Run.externalJobSource`, lowercased).
    pub const EXTERNAL_JOB_SOURCE: &str = "dagster/external_job_source";
    /// Run metrics switches (`Run.hasRunMetricsEnabled`); the public one is deprecated.
    pub const RUN_METRICS: [&str; 2] = [".dagster/run_metrics", "dagster/run_metrics"];

    /// `dagster/priority`: an integer (higher runs first).
    pub fn priority(value: &str) -> Option<i64> {
        value.trim().parse().ok()
    }

    /// `dagster/max_retries`: a non-negative integer.
    pub fn max_retries(value: &str) -> Option<u64> {
        value.trim().parse().ok()
    }

    /// `dagster/max_runtime`: seconds, a positive number.
    pub fn max_runtime(value: &str) -> Option<f64> {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
    }

    /// `dagster/retry_strategy`: `FROM_FAILURE` or `ALL_STEPS`.
    pub fn retry_strategy(value: &str) -> Option<&'static str> {
        match value.trim() {
            "FROM_FAILURE" => Some("FROM_FAILURE"),
            "ALL_STEPS" => Some("ALL_STEPS"),
            _ => None,
        }
    }

    /// Checks the value of a tag that the daemon acts on (priority, retries, runtime limit):
    /// `Err(what is expected)` when it cannot be read. Dagster reads such a value only when it
    /// acts on it (a bad `dagster/max_runtime` silently meant no limit); here a run, job or
    /// schedule carrying one is refused up front. Other tags are free-form.
    pub fn check(key: &str, value: &str) -> Result<(), &'static str> {
        let (ok, expected) = match key {
            PRIORITY => (
                priority(value).is_some(),
                "an integer, e.g. \"10\" or \"-1\"",
            ),
            MAX_RETRIES => (
                max_retries(value).is_some(),
                "a non-negative integer, e.g. \"3\"",
            ),
            MAX_RUNTIME => (
                max_runtime(value).is_some(),
                "a positive number of seconds, e.g. \"3600\"",
            ),
            RETRY_STRATEGY => (retry_strategy(value).is_some(), "FROM_FAILURE or ALL_STEPS"),
            _ => (true, ""),
        };
        if ok {
            Ok(())
        } else {
            Err(expected)
        }
    }
}
