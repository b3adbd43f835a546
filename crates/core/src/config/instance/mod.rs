//! `$DAGSTER_HOME/dagster.yaml`: the instance configuration.
//!
//! The file is optional (missing → every default, plus a warning). Every top-level key of
//! Dagster 1.13's instance schema is known; unknown keys anywhere are errors with
//! `file:line:col` and the key path, and every scalar may be written `{env: VAR}`.
//!
//! Keys acted on: `storage` (or the legacy `run_storage` / `event_log_storage` /
//! `schedule_storage`), `run_coordinator` / `run_queue` / `concurrency.runs`, `run_launcher`,
//! `compute_logs`, `local_artifact_storage`, `telemetry`. Keys parsed and validated but not
//! acted on yet are listed in [`NOT_ACTED_ON_YET`] and produce a warning when present;
//! Python-only keys (`python_logs`, `instance_class`, `secrets`, `code_servers`,
//! `defs_state_storage`) are listed in [`NO_EFFECT`].
//!
//! Differences from Dagster, on purpose:
//! * all storage lives in ONE database: SQLite at `<base_dir>/dagster.db` (default
//!   `$DAGSTER_HOME/storage/dagster.db`) or one PostgreSQL database;
//! * relative paths are resolved against `DAGSTER_HOME`, not the process working directory;
//! * telemetry defaults to off and nothing is ever sent;
//! * compute logs default to `$DAGSTER_HOME/logs`.

use super::home::{DagsterHome, SQLITE_DB_FILE};
use super::yaml::{
    ConfigErrors, Ctx, Diagnostic, Diagnostics, Document, EnvLookup, Loc, Map, Severity, Value,
};
use serde_yaml::Value as Y;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod parse;
use parse::*;
mod storage;
use storage::*;
pub use storage::{percent_encode, redact_url};
mod sections;
use sections::*;
pub mod container_kwargs;
mod launcher;
use launcher::parse_run_launcher;
mod render;
use render::*;
#[cfg(test)]
mod tests;

/// Keys that are valid but not acted on yet: (logical key, reason). A key present in the
/// file and listed here produces a warning naming it. Remove an entry when it is implemented.
/// `queue.*` means a field of the queued run coordinator (`run_queue`, or
/// `run_coordinator.config` of a `QueuedRunCoordinator`).
pub const NOT_ACTED_ON_YET: &[(&str, &str)] = &[
    (
        "run_monitoring.enabled",
        "run monitoring is always on (a run whose worker died never stays STARTED)",
    ),
    (
        "run_monitoring.max_resume_run_attempts",
        "a run whose worker died is failed (and retried per `run_retries`), not resumed",
    ),
    (
        "run_monitoring.poll_interval_seconds",
        "the daemon checks runs every 2 s",
    ),
    (
        "run_monitoring.free_slots_after_run_end_seconds",
        "op concurrency pools are not implemented yet",
    ),
    (
        "schedules",
        "the scheduler daemon does not use worker threads yet",
    ),
    (
        "sensors",
        "the sensor daemon does not use worker threads yet",
    ),
    ("backfills", "the daemon does not run backfills yet"),
    (
        "scheduler.max_catchup_runs",
        "each schedule's `catchup` policy (latest, none, {all: N}) bounds catch-up instead",
    ),
    (
        "concurrency.pools",
        "op concurrency pools are not implemented yet",
    ),
    (
        "concurrency.default_op_concurrency_limit",
        "op concurrency pools are not implemented yet",
    ),
    (
        "auto_materialize",
        "automation conditions are not evaluated yet",
    ),
    ("freshness", "the daemon does not evaluate freshness yet"),
    ("nux", "the UI has no first-run tour"),
    (
        "queue.dequeue_use_threads",
        "the run queue is dequeued on one thread",
    ),
    (
        "queue.dequeue_num_workers",
        "the run queue is dequeued on one thread",
    ),
    (
        "queue.max_user_code_failure_retries",
        "dequeue retries on code location errors are not implemented yet",
    ),
    (
        "queue.user_code_failure_retry_delay",
        "dequeue retries on code location errors are not implemented yet",
    ),
    (
        "queue.block_op_concurrency_limited_runs",
        "op concurrency pools are not implemented yet",
    ),
];

/// Keys that only configure Python machinery and never have an effect here: (key, reason).
pub const NO_EFFECT: &[(&str, &str)] = &[
    ("python_logs", "there are no Python loggers to manage"),
    ("instance_class", "the instance is not a Python class"),
    (
        "secrets",
        "there is no Python secrets loader; use `{env: VAR}` values",
    ),
    (
        "code_servers",
        "code locations are loaded from pipeline configs, not Python code servers",
    ),
    (
        "defs_state_storage",
        "there are no state-backed Python components",
    ),
    (
        "run_launcher.wait_for_processes",
        "the run launcher does not use it",
    ),
];

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

/// The effective instance configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InstanceConfig {
    /// The file read, or None when defaults were used.
    pub config_file: Option<PathBuf>,
    pub storage: StorageConfig,
    pub run_coordinator: RunCoordinatorConfig,
    pub run_launcher: RunLauncherConfig,
    pub compute_logs: ComputeLogsConfig,
    pub local_artifact_storage: LocalArtifactStorageConfig,
    pub telemetry: TelemetryConfig,
    pub run_monitoring: RunMonitoringConfig,
    pub run_retries: RunRetriesConfig,
    pub retention: RetentionConfig,
    pub schedules: DaemonWorkersConfig,
    pub sensors: DaemonWorkersConfig,
    pub backfills: DaemonWorkersConfig,
    pub scheduler: SchedulerConfig,
    pub concurrency: ConcurrencyConfig,
    pub auto_materialize: AutoMaterializeConfig,
    pub freshness: FreshnessConfig,
    pub nux: NuxConfig,
    pub code_servers: CodeServersConfig,
}

/// Where all metadata (runs, events, schedules, ticks) is stored: one database.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// SQLite database `<base_dir>/dagster.db`.
    Sqlite { base_dir: PathBuf },
    /// One PostgreSQL database.
    Postgres {
        /// Connection URL, password included (never log it: use `display_url`).
        url: String,
        /// The URL without the password.
        display_url: String,
        should_autocreate_tables: bool,
    },
}

impl StorageConfig {
    /// The SQLite database file, if SQLite.
    pub fn sqlite_db_path(&self) -> Option<PathBuf> {
        match self {
            StorageConfig::Sqlite { base_dir } => Some(base_dir.join(SQLITE_DB_FILE)),
            StorageConfig::Postgres { .. } => None,
        }
    }
    /// A one-line description without secrets: `sqlite:/path/dagster.db`, `postgresql://u@h:5432/db`.
    pub fn describe(&self) -> String {
        match self {
            StorageConfig::Sqlite { base_dir } => {
                format!("sqlite:{}", base_dir.join(SQLITE_DB_FILE).display())
            }
            StorageConfig::Postgres { display_url, .. } => display_url.clone(),
        }
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageConfig::Sqlite { base_dir } => f
                .debug_struct("Sqlite")
                .field("base_dir", base_dir)
                .finish(),
            StorageConfig::Postgres {
                display_url,
                should_autocreate_tables,
                ..
            } => f
                .debug_struct("Postgres")
                .field("url", &"<redacted>")
                .field("display_url", display_url)
                .field("should_autocreate_tables", should_autocreate_tables)
                .finish(),
        }
    }
}

/// How submitted runs are launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunCoordinatorConfig {
    /// `DefaultRunCoordinator`: launch immediately.
    Default,
    /// `QueuedRunCoordinator` (the default): runs wait in a queue drained by the daemon.
    Queued(QueueConfig),
}

/// `QueuedRunCoordinator` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// -1 unlimited, 0 launch nothing, N at most N runs in progress.
    pub max_concurrent_runs: i64,
    pub tag_concurrency_limits: Vec<TagConcurrencyLimit>,
    /// Seconds between dequeue passes (at least 1).
    pub dequeue_interval_seconds: u64,
    pub dequeue_use_threads: bool,
    pub dequeue_num_workers: Option<u64>,
    pub max_user_code_failure_retries: u64,
    pub user_code_failure_retry_delay: u64,
    pub block_op_concurrency_limited_runs: BlockOpConcurrencyConfig,
}

impl QueueConfig {
    /// The run limit, None when unlimited.
    pub fn run_limit(&self) -> Option<u64> {
        u64::try_from(self.max_concurrent_runs).ok()
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_concurrent_runs: 10,
            tag_concurrency_limits: Vec::new(),
            dequeue_interval_seconds: 5,
            dequeue_use_threads: false,
            dequeue_num_workers: None,
            max_user_code_failure_retries: 0,
            user_code_failure_retry_delay: 60,
            block_op_concurrency_limited_runs: BlockOpConcurrencyConfig::default(),
        }
    }
}

/// `block_op_concurrency_limited_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOpConcurrencyConfig {
    pub enabled: bool,
    pub op_concurrency_slot_buffer: u64,
}

impl Default for BlockOpConcurrencyConfig {
    fn default() -> Self {
        BlockOpConcurrencyConfig {
            enabled: true,
            op_concurrency_slot_buffer: 0,
        }
    }
}

/// One entry of `tag_concurrency_limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagConcurrencyLimit {
    pub key: String,
    pub value: TagLimitValue,
    pub limit: u32,
}

/// Which runs a tag limit counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagLimitValue {
    /// No `value`: every run with the tag key, whatever its value.
    Any,
    /// `value: x`: runs whose tag has exactly this value.
    Exact(String),
    /// `value: {applyLimitPerUniqueValue: true}`: the limit applies to each value separately.
    PerUniqueValue,
}

/// The run launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunLauncherConfig {
    /// `DefaultRunLauncher`: a local run worker process per run (reused per [`WorkerReuse`]).
    Default(WorkerReuse),
    /// `DockerRunLauncher` (`dagster_docker`): each run in its own container.
    Docker(Box<DockerLauncherConfig>),
}

impl RunLauncherConfig {
    /// How the queue daemon reuses run worker processes (containers are never reused).
    pub fn worker_reuse(&self) -> WorkerReuse {
        match self {
            RunLauncherConfig::Default(r) => *r,
            RunLauncherConfig::Docker(_) => WorkerReuse {
                max_runs_per_worker: 1,
                ..WorkerReuse::default()
            },
        }
    }

    /// Dagster's class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            RunLauncherConfig::Default(_) => "DefaultRunLauncher",
            RunLauncherConfig::Docker(_) => "DockerRunLauncher",
        }
    }
}

/// `DockerRunLauncher`'s config (Dagster's keys). Debug output shows `env_vars` values as `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DockerLauncherConfig {
    /// `image`; unset: `DAGSTER_CURRENT_IMAGE`, else the image of the container the launcher
    /// runs in.
    pub image: Option<String>,
    /// `registry`: credentials for pulling the image.
    pub registry: Option<DockerRegistry>,
    /// `env_vars`: `NAME` (the launcher's own value) or `NAME=value`.
    pub env_vars: Vec<String>,
    /// `network`, or `networks` (the first at create, the others connected before start).
    pub networks: Vec<String>,
    /// `container_kwargs`, typed.
    pub container_kwargs: container_kwargs::ContainerKwargs,
    /// `container_kwargs` as written (for [`InstanceConfig::to_yaml`]).
    pub container_kwargs_json: serde_json::Map<String, serde_json::Value>,
}

impl DockerLauncherConfig {
    /// `env_vars` with the values written in the config (`NAME=value`, maybe a secret) as
    /// `NAME=***`.
    pub fn env_vars_redacted(&self) -> Vec<String> {
        self.env_vars
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => e.clone(),
            })
            .collect()
    }
}

impl fmt::Debug for DockerLauncherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerLauncherConfig")
            .field("image", &self.image)
            .field("registry", &self.registry)
            .field("env_vars", &self.env_vars_redacted())
            .field("networks", &self.networks)
            .field("container_kwargs", &self.container_kwargs)
            .finish_non_exhaustive()
    }
}

/// `registry: {url, username, password}`. Debug output leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct DockerRegistry {
    pub url: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for DockerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerRegistry")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Reuse of run worker processes by the queue daemon (`run_launcher.config` of
/// `DefaultRunLauncher`; our keys, Dagster has none): a worker that finished a run waits, with
/// its storage connection open, for the next run the daemon hands it, instead of a new process
/// and a new database session per run. Each run still executes alone in its worker, with its
/// own `history/<run_id>/worker.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerReuse {
    /// `max_runs_per_worker` (default 100): runs one worker executes before it exits; 1 starts
    /// a new process for every run, as Dagster does.
    pub max_runs_per_worker: u64,
    /// `max_idle_workers` (default 32): idle workers kept waiting (each holds one storage
    /// connection).
    pub max_idle_workers: u64,
    /// `worker_idle_timeout_seconds` (default 60): an idle worker is stopped after this long.
    pub idle_timeout_seconds: u64,
}

impl Default for WorkerReuse {
    fn default() -> Self {
        WorkerReuse {
            max_runs_per_worker: 100,
            max_idle_workers: 32,
            idle_timeout_seconds: 60,
        }
    }
}

/// `run_monitoring` (Dagster defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMonitoringConfig {
    pub enabled: bool,
    pub start_timeout_seconds: u64,
    pub cancel_timeout_seconds: u64,
    /// 0 = unlimited.
    pub max_runtime_seconds: u64,
    pub max_resume_run_attempts: u64,
    pub poll_interval_seconds: u64,
    pub cancellation_thread_poll_interval_seconds: u64,
    pub free_slots_after_run_end_seconds: Option<u64>,
}

impl Default for RunMonitoringConfig {
    fn default() -> Self {
        RunMonitoringConfig {
            enabled: false,
            start_timeout_seconds: 180,
            cancel_timeout_seconds: 180,
            max_runtime_seconds: 0,
            max_resume_run_attempts: 0,
            poll_interval_seconds: 120,
            cancellation_thread_poll_interval_seconds: 10,
            free_slots_after_run_end_seconds: None,
        }
    }
}

/// `run_retries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRetriesConfig {
    pub enabled: bool,
    pub max_retries: u64,
    pub retry_on_asset_or_op_failure: bool,
}

impl Default for RunRetriesConfig {
    fn default() -> Self {
        RunRetriesConfig {
            enabled: false,
            max_retries: 0,
            retry_on_asset_or_op_failure: true,
        }
    }
}

/// Where captured stdout/stderr of steps goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ComputeLogsConfig {
    /// `LocalComputeLogManager`.
    Local {
        base_dir: PathBuf,
        polling_timeout: Option<f64>,
    },
    /// `NoOpComputeLogManager`: nothing is captured.
    NoOp,
}

/// `local_artifact_storage` (`LocalArtifactStorage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArtifactStorageConfig {
    pub base_dir: PathBuf,
}

impl LocalArtifactStorageConfig {
    /// `<base_dir>/storage`: IO manager files.
    pub fn storage_dir(&self) -> PathBuf {
        self.base_dir.join("storage")
    }
}

/// `telemetry`. Nothing is ever sent, whatever the setting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetryConfig {
    pub enabled: bool,
}

/// `retention`: days to keep ticks per status; -1 = forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    pub schedule: TickRetention,
    pub sensor: TickRetention,
    pub auto_materialize: TickRetention,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let sensor = TickRetention {
            started: -1,
            skipped: 7,
            success: -1,
            failure: -1,
        };
        RetentionConfig {
            schedule: TickRetention::all(-1),
            sensor: sensor.clone(),
            auto_materialize: sensor,
        }
    }
}

/// Days to keep ticks of each status; -1 = forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickRetention {
    pub started: i64,
    pub skipped: i64,
    pub success: i64,
    pub failure: i64,
}

impl TickRetention {
    fn all(days: i64) -> Self {
        TickRetention {
            started: days,
            skipped: days,
            success: days,
            failure: days,
        }
    }
}

/// `schedules`, `sensors`, `backfills`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonWorkersConfig {
    pub use_threads: bool,
    pub num_workers: Option<u64>,
    pub num_submit_workers: Option<u64>,
}

/// `scheduler` (`DagsterDaemonScheduler`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    pub max_catchup_runs: u64,
    pub max_tick_retries: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_catchup_runs: 5,
            max_tick_retries: 0,
        }
    }
}

/// `concurrency` (its `runs` part is folded into [`QueueConfig`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConcurrencyConfig {
    pub pools: PoolsConfig,
    /// Deprecated spelling of `pools.default_limit`.
    pub default_op_concurrency_limit: Option<u64>,
}

/// `concurrency.pools`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolsConfig {
    pub default_limit: Option<u64>,
    pub granularity: PoolGranularity,
    pub op_granularity_run_buffer: u64,
}

/// `concurrency.pools.granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolGranularity {
    Run,
    #[default]
    Op,
}

/// `auto_materialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoMaterializeConfig {
    pub enabled: bool,
    pub minimum_interval_seconds: Option<u64>,
    pub run_tags: BTreeMap<String, String>,
    pub respect_materialization_data_versions: bool,
    pub max_tick_retries: u64,
    pub use_sensors: bool,
    pub use_threads: bool,
    pub num_workers: Option<u64>,
}

impl Default for AutoMaterializeConfig {
    fn default() -> Self {
        AutoMaterializeConfig {
            enabled: true,
            minimum_interval_seconds: None,
            run_tags: BTreeMap::new(),
            respect_materialization_data_versions: false,
            max_tick_retries: 3,
            use_sensors: true,
            use_threads: false,
            num_workers: None,
        }
    }
}

/// `freshness`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshnessConfig {
    pub enabled: bool,
}

impl Default for FreshnessConfig {
    fn default() -> Self {
        FreshnessConfig { enabled: true }
    }
}

/// `nux`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NuxConfig {
    pub enabled: bool,
}

impl Default for NuxConfig {
    fn default() -> Self {
        NuxConfig { enabled: true }
    }
}

/// `code_servers` (parsed; no effect here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeServersConfig {
    pub local_startup_timeout: u64,
    pub reload_timeout: u64,
    pub wait_for_local_processes_on_shutdown: bool,
}

impl Default for CodeServersConfig {
    fn default() -> Self {
        CodeServersConfig {
            local_startup_timeout: 180,
            reload_timeout: 180,
            wait_for_local_processes_on_shutdown: false,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

impl InstanceConfig {
    /// Every default, for `home`.
    pub fn defaults(home: &DagsterHome) -> InstanceConfig {
        InstanceConfig {
            config_file: None,
            storage: StorageConfig::Sqlite {
                base_dir: home.storage_dir(),
            },
            run_coordinator: RunCoordinatorConfig::Queued(QueueConfig::default()),
            run_launcher: RunLauncherConfig::Default(WorkerReuse::default()),
            compute_logs: ComputeLogsConfig::Local {
                base_dir: home.logs_dir(),
                polling_timeout: None,
            },
            local_artifact_storage: LocalArtifactStorageConfig {
                base_dir: home.root().to_path_buf(),
            },
            telemetry: TelemetryConfig::default(),
            run_monitoring: RunMonitoringConfig::default(),
            run_retries: RunRetriesConfig::default(),
            retention: RetentionConfig::default(),
            schedules: DaemonWorkersConfig::default(),
            sensors: DaemonWorkersConfig::default(),
            backfills: DaemonWorkersConfig::default(),
            scheduler: SchedulerConfig::default(),
            concurrency: ConcurrencyConfig::default(),
            auto_materialize: AutoMaterializeConfig::default(),
            freshness: FreshnessConfig::default(),
            nux: NuxConfig::default(),
            code_servers: CodeServersConfig::default(),
        }
    }

    /// Loads `$DAGSTER_HOME/dagster.yaml`. A missing file gives every default and a warning.
    /// Returns the config and its warnings, or every problem found.
    pub fn load(
        home: &DagsterHome,
        env: &EnvLookup,
    ) -> Result<(InstanceConfig, Vec<Diagnostic>), ConfigErrors> {
        let path = home.dagster_yaml();
        if !path.exists() {
            let warning = Diagnostic {
                severity: Severity::Warning,
                file: path.clone(),
                line: 0,
                column: 0,
                key_path: String::new(),
                message: format!(
                    "no dagster.yaml found in {home}: using the defaults (SQLite at {}, queued run coordinator); \
                     create an empty dagster.yaml to silence this warning",
                    home.sqlite_db_path().display()
                ),
            };
            return Ok((InstanceConfig::defaults(home), vec![warning]));
        }
        let doc = Document::load(&path).map_err(|d| ConfigErrors(vec![d]))?;
        Self::from_document(&doc, home, env)
    }

    /// Parses `text` as if it were the file at `path` (positions name `path`).
    pub fn from_text(
        path: &Path,
        text: &str,
        home: &DagsterHome,
        env: &EnvLookup,
    ) -> Result<(InstanceConfig, Vec<Diagnostic>), ConfigErrors> {
        let doc = Document::parse(path, text).map_err(|d| ConfigErrors(vec![d]))?;
        Self::from_document(&doc, home, env)
    }

    fn from_document(
        doc: &Document,
        home: &DagsterHome,
        env: &EnvLookup,
    ) -> Result<(InstanceConfig, Vec<Diagnostic>), ConfigErrors> {
        let diags = Diagnostics::new();
        let cfg = {
            let ctx = Ctx::new(&diags, env);
            let root = doc.root(&ctx);
            let mut cfg = parse_root(&root, home);
            root.finish();
            cfg.config_file = Some(doc.path.clone());
            cfg
        };
        if diags.has_errors() {
            Err(ConfigErrors(diags.into_vec()))
        } else {
            Ok((cfg, diags.warnings()))
        }
    }

    /// The effective configuration as `dagster.yaml` text (passwords shown as `***`).
    pub fn to_yaml(&self) -> String {
        let mut pairs = vec![
            ("storage", storage_yaml(&self.storage)),
            (
                "run_coordinator",
                run_coordinator_yaml(&self.run_coordinator),
            ),
            ("run_launcher", run_launcher_yaml(&self.run_launcher)),
            ("compute_logs", compute_logs_yaml(&self.compute_logs)),
            (
                "local_artifact_storage",
                class_yaml(
                    "dagster._core.storage.root",
                    "LocalArtifactStorage",
                    Some(mapping(vec![(
                        "base_dir",
                        path_y(&self.local_artifact_storage.base_dir),
                    )])),
                ),
            ),
            (
                "telemetry",
                mapping(vec![("enabled", Y::from(self.telemetry.enabled))]),
            ),
            ("run_monitoring", run_monitoring_yaml(&self.run_monitoring)),
            (
                "run_retries",
                mapping(vec![
                    ("enabled", Y::from(self.run_retries.enabled)),
                    ("max_retries", Y::from(self.run_retries.max_retries)),
                    (
                        "retry_on_asset_or_op_failure",
                        Y::from(self.run_retries.retry_on_asset_or_op_failure),
                    ),
                ]),
            ),
            (
                "retention",
                mapping(vec![
                    ("schedule", retention_yaml(&self.retention.schedule)),
                    ("sensor", retention_yaml(&self.retention.sensor)),
                    (
                        "auto_materialize",
                        retention_yaml(&self.retention.auto_materialize),
                    ),
                ]),
            ),
            ("schedules", workers_yaml(&self.schedules)),
            ("sensors", workers_yaml(&self.sensors)),
            ("backfills", workers_yaml(&self.backfills)),
            (
                "scheduler",
                class_yaml(
                    "dagster",
                    "DagsterDaemonScheduler",
                    Some(mapping(vec![
                        ("max_catchup_runs", Y::from(self.scheduler.max_catchup_runs)),
                        ("max_tick_retries", Y::from(self.scheduler.max_tick_retries)),
                    ])),
                ),
            ),
            (
                "auto_materialize",
                auto_materialize_yaml(&self.auto_materialize),
            ),
            (
                "freshness",
                mapping(vec![("enabled", Y::from(self.freshness.enabled))]),
            ),
            ("nux", mapping(vec![("enabled", Y::from(self.nux.enabled))])),
            (
                "code_servers",
                mapping(vec![
                    (
                        "local_startup_timeout",
                        Y::from(self.code_servers.local_startup_timeout),
                    ),
                    ("reload_timeout", Y::from(self.code_servers.reload_timeout)),
                    (
                        "wait_for_local_processes_on_shutdown",
                        Y::from(self.code_servers.wait_for_local_processes_on_shutdown),
                    ),
                ]),
            ),
        ];
        // `concurrency.runs` is folded into the run coordinator config; pools only when set
        // (default pools next to an `op_concurrency_slot_buffer` would not parse back).
        if self.concurrency != ConcurrencyConfig::default() {
            pairs.push(("concurrency", concurrency_yaml(&self.concurrency)));
        }
        serde_yaml::to_string(&mapping(pairs))
            .unwrap_or_else(|e| format!("# cannot render the config: {e}\n"))
    }
}
