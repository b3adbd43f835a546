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

/// The run launcher: only `DefaultRunLauncher` (a local run worker process).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunLauncherConfig {
    Default(WorkerReuse),
}

impl RunLauncherConfig {
    /// How the queue daemon reuses run worker processes.
    pub fn worker_reuse(&self) -> WorkerReuse {
        match self {
            RunLauncherConfig::Default(r) => *r,
        }
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
            (
                "run_launcher",
                class_yaml("dagster", "DefaultRunLauncher", None),
            ),
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

fn warn_not_acted_on(map: &Map<'_>, key: &str, logical: &str) {
    if let Some((_, why)) = NOT_ACTED_ON_YET.iter().find(|(k, _)| *k == logical) {
        map.not_acted_on(key, why);
    }
}

fn warn_no_effect(map: &Map<'_>, key: &str, logical: &str) {
    if let Some((_, why)) = NO_EFFECT.iter().find(|(k, _)| *k == logical) {
        if let Some(v) = map.get(key) {
            v.warn(format!(
                "`{key}` has no effect in this implementation: {why}"
            ));
        }
    }
}

fn parse_root(root: &Map<'_>, home: &DagsterHome) -> InstanceConfig {
    let mut cfg = InstanceConfig::defaults(home);
    cfg.storage = parse_storage(root, home);

    let (concurrency, runs, pools) = parse_concurrency(root);
    cfg.concurrency = concurrency;
    cfg.run_coordinator = parse_run_coordinator(root, runs.as_ref(), pools.as_ref());

    if let Some(v) = root.get("run_launcher") {
        if let Some(l) = parse_run_launcher(&v) {
            cfg.run_launcher = l;
        }
    }
    if let Some(v) = root.get("compute_logs") {
        if let Some(c) = parse_compute_logs(&v, home) {
            cfg.compute_logs = c;
        }
    }
    if let Some(v) = root.get("local_artifact_storage") {
        if let Some(c) = parse_local_artifact_storage(&v, home) {
            cfg.local_artifact_storage = c;
        }
    }
    if let Some(m) = root.map("telemetry") {
        cfg.telemetry.enabled = m.bool("enabled").unwrap_or(false);
        if cfg.telemetry.enabled {
            if let Some(v) = m.get("enabled") {
                v.warn("telemetry is accepted but nothing is ever sent");
            }
        }
        m.finish();
    }

    if let Some(m) = root.map("run_monitoring") {
        cfg.run_monitoring = parse_run_monitoring(&m);
    }
    warn_not_acted_on(root, "run_retries", "run_retries");
    if let Some(m) = root.map("run_retries") {
        let d = RunRetriesConfig::default();
        cfg.run_retries = RunRetriesConfig {
            enabled: m.bool("enabled").unwrap_or(d.enabled),
            max_retries: uint(&m, "max_retries", d.max_retries),
            retry_on_asset_or_op_failure: m
                .bool("retry_on_asset_or_op_failure")
                .unwrap_or(d.retry_on_asset_or_op_failure),
        };
        m.finish();
    }
    if let Some(m) = root.map("retention") {
        let d = RetentionConfig::default();
        cfg.retention = RetentionConfig {
            schedule: parse_tick_retention(&m, "schedule", d.schedule),
            sensor: parse_tick_retention(&m, "sensor", d.sensor),
            auto_materialize: parse_tick_retention(&m, "auto_materialize", d.auto_materialize),
        };
        m.finish();
    }
    for (key, slot) in [
        ("schedules", &mut cfg.schedules),
        ("sensors", &mut cfg.sensors),
        ("backfills", &mut cfg.backfills),
    ] {
        warn_not_acted_on(root, key, key);
        if let Some(m) = root.map(key) {
            *slot = DaemonWorkersConfig {
                use_threads: m.bool("use_threads").unwrap_or(false),
                num_workers: opt_positive(&m, "num_workers"),
                num_submit_workers: opt_positive(&m, "num_submit_workers"),
            };
            m.finish();
        }
    }
    if let Some(v) = root.get("scheduler") {
        if let Some(s) = parse_scheduler(&v) {
            cfg.scheduler = s;
        }
    }
    warn_not_acted_on(root, "auto_materialize", "auto_materialize");
    if let Some(m) = root.map("auto_materialize") {
        cfg.auto_materialize = parse_auto_materialize(&m);
    }
    warn_not_acted_on(root, "freshness", "freshness");
    if let Some(m) = root.map("freshness") {
        cfg.freshness.enabled = m.bool("enabled").unwrap_or(true);
        m.finish();
    }
    warn_not_acted_on(root, "nux", "nux");
    if let Some(m) = root.map("nux") {
        cfg.nux.enabled = m.bool("enabled").unwrap_or(true);
        m.finish();
    }
    warn_no_effect(root, "code_servers", "code_servers");
    if let Some(m) = root.map("code_servers") {
        let d = CodeServersConfig::default();
        cfg.code_servers = CodeServersConfig {
            local_startup_timeout: uint(&m, "local_startup_timeout", d.local_startup_timeout),
            reload_timeout: uint(&m, "reload_timeout", d.reload_timeout),
            wait_for_local_processes_on_shutdown: m
                .bool("wait_for_local_processes_on_shutdown")
                .unwrap_or(d.wait_for_local_processes_on_shutdown),
        };
        m.finish();
    }
    warn_no_effect(root, "python_logs", "python_logs");
    if let Some(m) = root.map("python_logs") {
        m.str_list("managed_python_loggers");
        m.str("python_log_level");
        if let Some(h) = m.map("dagster_handler_config") {
            for key in ["handlers", "formatters", "filters"] {
                if let Some(x) = h.map(key) {
                    x.entries();
                }
            }
            h.finish();
        }
        m.finish();
    }
    warn_no_effect(root, "instance_class", "instance_class");
    if let Some(v) = root.get("instance_class") {
        read_permissive_class(&v);
    }
    warn_no_effect(root, "defs_state_storage", "defs_state_storage");
    if let Some(v) = root.get("defs_state_storage") {
        read_permissive_class(&v);
    }
    warn_no_effect(root, "secrets", "secrets");
    if let Some(m) = root.map("secrets") {
        match m.get("custom") {
            Some(v) => read_permissive_class(&v),
            None => m.error("expected `custom: {module, class, config}`"),
        }
        m.finish();
    }
    cfg
}

// ---------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------

fn non_negative(v: &Value<'_>) -> Option<u64> {
    let i = v.as_int()?;
    match u64::try_from(i) {
        Ok(u) => Some(u),
        Err(_) => {
            v.error(format!("must not be negative, found {i}"));
            None
        }
    }
}

fn opt_uint(m: &Map<'_>, key: &str) -> Option<u64> {
    m.get(key).and_then(|v| non_negative(&v))
}

fn uint(m: &Map<'_>, key: &str, default: u64) -> u64 {
    opt_uint(m, key).unwrap_or(default)
}

fn opt_positive(m: &Map<'_>, key: &str) -> Option<u64> {
    let v = m.get(key)?;
    let n = non_negative(&v)?;
    if n == 0 {
        v.error("must be at least 1");
        return None;
    }
    Some(n)
}

/// True for `{env: VAR}` (a mapping that is really a scalar source).
fn is_env_ref(v: &Value<'_>) -> bool {
    v.is_map() && v.as_map().is_some_and(|m| m.keys() == ["env"])
}

/// A `{module, class, config}` value.
struct ClassRef<'a> {
    module: String,
    class: String,
    module_v: Value<'a>,
    class_v: Value<'a>,
    config: Option<Value<'a>>,
}

impl<'a> ClassRef<'a> {
    fn config_map(&self) -> Option<Map<'a>> {
        self.config.as_ref().and_then(|v| v.as_map())
    }
    /// Errors unless the module is one of `accepted`.
    fn check_module(&self, accepted: &[&str]) -> bool {
        if accepted.contains(&self.module.as_str()) {
            return true;
        }
        self.module_v.error(format!(
            "module `{}` does not provide `{}`; accepted modules: {}",
            self.module,
            self.class,
            accepted.join(", ")
        ));
        false
    }
    /// Errors for each config key of a class that takes no config.
    fn no_config(&self) {
        if let Some(m) = self.config_map() {
            for (k, v) in m.entries() {
                v.error(format!(
                    "`{}` takes no config (unknown key `{k}`)",
                    self.class
                ));
            }
        }
    }
}

fn read_class<'a>(v: &Value<'a>) -> Option<ClassRef<'a>> {
    let m = v.as_map()?;
    let module_v = m.require("module");
    let class_v = m.require("class");
    let config = m.get("config");
    m.finish();
    let (module_v, class_v) = (module_v?, class_v?);
    let module = module_v.as_str()?;
    let class = class_v.as_str()?;
    Some(ClassRef {
        module,
        class,
        module_v,
        class_v,
        config,
    })
}

/// A class whose config is free-form (Python-only keys).
fn read_permissive_class(v: &Value<'_>) {
    if let Some(c) = read_class(v) {
        if let Some(m) = c.config_map() {
            m.entries();
        }
    }
}

// ---------------------------------------------------------------------------------------
// storage
// ---------------------------------------------------------------------------------------

const LEGACY_STORAGE_KEYS: [&str; 3] = ["run_storage", "event_log_storage", "schedule_storage"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct LegacyClass {
    class: &'static str,
    backend: Backend,
    /// Legacy keys this class may appear under.
    slots: &'static [&'static str],
    modules: &'static [&'static str],
}

const ALL_SLOTS: &[&str] = &LEGACY_STORAGE_KEYS;

const LEGACY_CLASSES: &[LegacyClass] = &[
    LegacyClass {
        class: "SqliteRunStorage",
        backend: Backend::Sqlite,
        slots: &["run_storage"],
        modules: &[
            "dagster._core.storage.runs",
            "dagster._core.storage.runs.sqlite",
            "dagster._core.storage.runs.sqlite.sqlite_run_storage",
            "dagster.core.storage.runs",
            "dagster.core.storage.runs.sqlite",
            "dagster.core.storage.runs.sqlite.sqlite_run_storage",
        ],
    },
    LegacyClass {
        class: "SqliteEventLogStorage",
        backend: Backend::Sqlite,
        slots: &["event_log_storage"],
        modules: &[
            "dagster._core.storage.event_log",
            "dagster._core.storage.event_log.sqlite",
            "dagster._core.storage.event_log.sqlite.sqlite_event_log",
            "dagster.core.storage.event_log",
            "dagster.core.storage.event_log.sqlite",
            "dagster.core.storage.event_log.sqlite.sqlite_event_log",
        ],
    },
    LegacyClass {
        class: "ConsolidatedSqliteEventLogStorage",
        backend: Backend::Sqlite,
        slots: &["event_log_storage"],
        modules: &[
            "dagster._core.storage.event_log",
            "dagster._core.storage.event_log.sqlite",
            "dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log",
            "dagster.core.storage.event_log",
            "dagster.core.storage.event_log.sqlite",
            "dagster.core.storage.event_log.sqlite.consolidated_sqlite_event_log",
        ],
    },
    LegacyClass {
        class: "SqliteScheduleStorage",
        backend: Backend::Sqlite,
        slots: &["schedule_storage"],
        modules: &[
            "dagster._core.storage.schedules",
            "dagster._core.storage.schedules.sqlite",
            "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
            "dagster.core.storage.schedules",
            "dagster.core.storage.schedules.sqlite",
            "dagster.core.storage.schedules.sqlite.sqlite_schedule_storage",
        ],
    },
    LegacyClass {
        class: "DagsterSqliteStorage",
        backend: Backend::Sqlite,
        slots: ALL_SLOTS,
        modules: &[
            "dagster._core.storage.sqlite_storage",
            "dagster.core.storage.sqlite_storage",
        ],
    },
    LegacyClass {
        class: "PostgresRunStorage",
        backend: Backend::Postgres,
        slots: &["run_storage"],
        modules: &[
            "dagster_postgres",
            "dagster_postgres.run_storage",
            "dagster_postgres.run_storage.run_storage",
        ],
    },
    LegacyClass {
        class: "PostgresEventLogStorage",
        backend: Backend::Postgres,
        slots: &["event_log_storage"],
        modules: &[
            "dagster_postgres",
            "dagster_postgres.event_log",
            "dagster_postgres.event_log.event_log",
        ],
    },
    LegacyClass {
        class: "PostgresScheduleStorage",
        backend: Backend::Postgres,
        slots: &["schedule_storage"],
        modules: &[
            "dagster_postgres",
            "dagster_postgres.schedule_storage",
            "dagster_postgres.schedule_storage.schedule_storage",
        ],
    },
    LegacyClass {
        class: "DagsterPostgresStorage",
        backend: Backend::Postgres,
        slots: ALL_SLOTS,
        modules: &["dagster_postgres", "dagster_postgres.storage"],
    },
];

fn parse_storage(root: &Map<'_>, home: &DagsterHome) -> StorageConfig {
    let default = StorageConfig::Sqlite {
        base_dir: home.storage_dir(),
    };
    let storage = root.has("storage").then(|| root.get("storage"));
    let legacy: Vec<(&str, Value<'_>)> = LEGACY_STORAGE_KEYS
        .iter()
        .filter_map(|k| root.get(k).map(|v| (*k, v)))
        .collect();
    if let Some(storage) = storage {
        if !legacy.is_empty() {
            for (k, v) in &legacy {
                v.error(format!(
                    "`{k}` cannot be used together with `storage`: use either `storage` or the legacy \
                     `run_storage`/`event_log_storage`/`schedule_storage` keys"
                ));
            }
        }
        let Some(v) = storage else {
            root.error("`storage` is empty: expected one of `postgres`, `sqlite`");
            return default;
        };
        return parse_storage_selector(&v, home).unwrap_or(default);
    }
    if legacy.is_empty() {
        return default;
    }
    parse_legacy_storage(&legacy, home).unwrap_or(default)
}

fn parse_storage_selector(v: &Value<'_>, home: &DagsterHome) -> Option<StorageConfig> {
    let m = v.as_map()?;
    let mut found = 0;
    let mut result = None;
    for key in ["postgres", "mysql", "sqlite", "custom"] {
        if !m.has(key) {
            continue;
        }
        found += 1;
        let value = m.get(key);
        match key {
            "postgres" => {
                result = match &value {
                    Some(pv) => parse_pg(pv).map(pg_storage),
                    None => {
                        m.error("`postgres` needs `postgres_url` or `postgres_db`");
                        None
                    }
                };
            }
            "sqlite" => {
                let mut base_dir = home.storage_dir();
                if let Some(sm) = value.as_ref().and_then(|sv| sv.as_map()) {
                    if let Some(dir) = sm.str("base_dir") {
                        base_dir = home.resolve(&dir);
                    }
                    sm.finish();
                }
                result = Some(StorageConfig::Sqlite { base_dir });
            }
            other => {
                let msg = format!("`storage.{other}` is not supported (use sqlite or postgres)");
                match &value {
                    Some(x) => x.error(msg),
                    None => m.error(msg),
                }
            }
        }
    }
    m.finish();
    if found != 1 {
        m.error(format!(
            "`storage` must have exactly one of `postgres`, `sqlite` (found {found})"
        ));
        return None;
    }
    result
}

fn pg_storage((url, should_autocreate_tables): (String, bool)) -> StorageConfig {
    StorageConfig::Postgres {
        display_url: redact_url(&url, None),
        url,
        should_autocreate_tables,
    }
}

/// One legacy storage key, resolved.
#[derive(Clone, PartialEq, Eq)]
enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::Sqlite(dir) => format!("SQLite at {}", dir.join(SQLITE_DB_FILE).display()),
            Target::Postgres(url) => format!("PostgreSQL at {}", redact_url(url, None)),
        }
    }
}

fn parse_legacy_storage(given: &[(&str, Value<'_>)], home: &DagsterHome) -> Option<StorageConfig> {
    let mut resolved: Vec<(&str, Option<&Value<'_>>, Target)> = Vec::new();
    let mut autocreate = true;
    let mut ok = true;
    for (slot, v) in given {
        match parse_legacy_slot(slot, v, home) {
            Some((target, ac)) => {
                autocreate &= ac;
                resolved.push((*slot, Some(v), target));
            }
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    for slot in LEGACY_STORAGE_KEYS {
        if !given.iter().any(|(k, _)| *k == slot) {
            resolved.push((slot, None, Target::Sqlite(home.storage_dir())));
        }
    }
    let (first_slot, first_v, first_target) = resolved.first()?.clone();
    for (slot, v, target) in &resolved[1..] {
        if *target == first_target {
            continue;
        }
        let other = match v {
            Some(_) => format!("`{slot}` uses {}", target.describe()),
            None => format!("`{slot}` is not set and defaults to {}", target.describe()),
        };
        let msg = format!(
            "all storage must be in one database: `{first_slot}` uses {} but {other}; use the same backend and \
             database for run_storage, event_log_storage and schedule_storage (or use `storage:` instead)",
            first_target.describe()
        );
        match (first_v, v) {
            (Some(fv), _) => fv.error(msg),
            (None, Some(sv)) => sv.error(msg),
            (None, None) => {}
        }
        return None;
    }
    Some(match first_target {
        Target::Sqlite(base_dir) => StorageConfig::Sqlite { base_dir },
        Target::Postgres(url) => pg_storage((url, autocreate)),
    })
}

fn parse_legacy_slot(slot: &str, v: &Value<'_>, home: &DagsterHome) -> Option<(Target, bool)> {
    let c = read_class(v)?;
    let accepted: Vec<&LegacyClass> = LEGACY_CLASSES
        .iter()
        .filter(|lc| lc.slots.contains(&slot))
        .collect();
    let Some(lc) = LEGACY_CLASSES.iter().find(|lc| lc.class == c.class) else {
        if c.class.starts_with("MySQL") || c.module.starts_with("dagster_mysql") {
            c.class_v.error(format!(
                "`{}` is not supported (use sqlite or postgres)",
                c.class
            ));
        } else {
            let names: Vec<&str> = accepted.iter().map(|lc| lc.class).collect();
            c.class_v.error(format!(
                "unknown storage class `{}` for `{slot}`; accepted: {}",
                c.class,
                names.join(", ")
            ));
        }
        return None;
    };
    if !lc.slots.contains(&slot) {
        let names: Vec<&str> = accepted.iter().map(|lc| lc.class).collect();
        c.class_v.error(format!(
            "`{}` cannot be used as `{slot}`; accepted: {}",
            c.class,
            names.join(", ")
        ));
        return None;
    }
    if !c.check_module(lc.modules) {
        return None;
    }
    match lc.backend {
        Backend::Sqlite => {
            let Some(m) = c.config_map() else {
                c.class_v.error(format!(
                    "`{}` needs `config: {{base_dir: <directory>}}`",
                    c.class
                ));
                return None;
            };
            let dir = m.req_str("base_dir");
            m.finish();
            Some((Target::Sqlite(home.resolve(&dir?)), true))
        }
        Backend::Postgres => {
            let Some(cv) = &c.config else {
                c.class_v.error(format!(
                    "`{}` needs `config:` with `postgres_url` or `postgres_db`",
                    c.class
                ));
                return None;
            };
            let (url, ac) = parse_pg(cv)?;
            Some((Target::Postgres(url), ac))
        }
    }
}

/// Reads a Postgres block (`postgres_url` | `postgres_db`, `should_autocreate_tables`):
/// returns the URL (password included) and `should_autocreate_tables`.
fn parse_pg(v: &Value<'_>) -> Option<(String, bool)> {
    let m = v.as_map()?;
    let url_v = m.get("postgres_url");
    let db_v = m.get("postgres_db");
    let autocreate = m.bool("should_autocreate_tables").unwrap_or(true);
    if let Some(ap) = m.get("auth_provider") {
        ap.error(
            "`auth_provider` (cloud workload identity) is not supported by this implementation; \
             give the credentials in `postgres_url` or `postgres_db`",
        );
    }
    m.finish();
    let url = match (url_v, db_v) {
        (Some(_), Some(d)) => {
            d.error("set either `postgres_url` or `postgres_db`, not both");
            None
        }
        (None, None) => {
            m.error("missing `postgres_url` or `postgres_db`");
            None
        }
        (Some(u), None) => {
            let text = u.as_str()?;
            check_pg_url(&u, &text)
        }
        (None, Some(d)) => build_pg_url(&d.as_map()?),
    }?;
    Some((url, autocreate))
}

/// Normalizes a URL scheme: `postgresql+psycopg2` → `postgresql`. None if not Postgres.
fn pg_scheme(scheme: &str) -> Option<String> {
    let lower = scheme.to_ascii_lowercase();
    let base = lower.split('+').next().unwrap_or("");
    matches!(base, "postgresql" | "postgres").then(|| base.to_string())
}

fn check_pg_url(v: &Value<'_>, url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        v.error("expected a URL like `postgresql://user:password@host:5432/dbname`");
        return None;
    };
    match pg_scheme(scheme) {
        Some(s) => Some(format!("{s}://{rest}")),
        None => {
            v.error(format!(
                "unsupported URL scheme `{}` (expected postgresql or postgres)",
                redact_scheme(scheme)
            ));
            None
        }
    }
}

fn redact_scheme(s: &str) -> String {
    // A scheme never holds secrets unless the URL is malformed; keep it short anyway.
    s.chars().take(20).collect()
}

fn build_pg_url(db: &Map<'_>) -> Option<String> {
    let username = db.req_str("username");
    let password = db.str("password").unwrap_or_default();
    let hostname = db.req_str("hostname");
    let db_name = db.req_str("db_name");
    let port = match db.get("port") {
        None => Some(5432),
        Some(v) => v.as_int().and_then(|p| {
            if (1..=65535).contains(&p) {
                Some(p)
            } else {
                v.error(format!("`port` must be between 1 and 65535, found {p}"));
                None
            }
        }),
    };
    let params: Vec<(String, String)> = db
        .get("params")
        .and_then(|v| v.as_map())
        .map(|pm| {
            pm.entries()
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s)))
                .collect()
        })
        .unwrap_or_default();
    let scheme_v = db.get("scheme");
    let scheme = match &scheme_v {
        None => Some("postgresql".to_string()),
        Some(sv) => sv.as_str().and_then(|s| {
            let n = pg_scheme(&s);
            if n.is_none() {
                sv.error(format!(
                    "unsupported scheme `{}` (expected postgresql or postgres)",
                    redact_scheme(&s)
                ));
            }
            n
        }),
    };
    db.finish();
    let (username, hostname, db_name, port, scheme) =
        (username?, hostname?, db_name?, port?, scheme?);
    let mut url = format!("{scheme}://{}", percent_encode(&username));
    if !password.is_empty() {
        url.push(':');
        url.push_str(&percent_encode(&password));
    }
    let host = if hostname.contains(':') && !hostname.starts_with('[') {
        format!("[{hostname}]")
    } else {
        hostname
    };
    url.push_str(&format!("@{host}:{port}/{}", percent_encode(&db_name)));
    if !params.is_empty() {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    Some(url)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL with its password removed (`mask` None) or replaced by `mask`; a `password=`
/// query parameter is treated the same way.
pub fn redact_url(url: &str, mask: Option<&str>) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<url>".to_string();
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _)) => match mask {
                    Some(m) => format!("{user}:{m}"),
                    None => user.to_string(),
                },
                None => userinfo.to_string(),
            };
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let kept: Vec<String> = query
                .split('&')
                .filter_map(|pair| {
                    let key = pair.split('=').next().unwrap_or("");
                    if key.eq_ignore_ascii_case("password") {
                        mask.map(|m| format!("{key}={m}"))
                    } else {
                        Some(pair.to_string())
                    }
                })
                .collect();
            let mut t = path.to_string();
            if !kept.is_empty() {
                t.push('?');
                t.push_str(&kept.join("&"));
            }
            if let Some(f) = fragment {
                t.push('#');
                t.push_str(f);
            }
            t
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

// ---------------------------------------------------------------------------------------
// run coordinator, concurrency
// ---------------------------------------------------------------------------------------

/// `concurrency.runs`, read before the run coordinator it overrides.
struct RunsSection<'a> {
    value: Value<'a>,
    max_concurrent_runs: Option<i64>,
    tag_concurrency_limits: Option<Vec<TagConcurrencyLimit>>,
}

fn parse_concurrency<'a>(
    root: &Map<'a>,
) -> (ConcurrencyConfig, Option<RunsSection<'a>>, Option<Loc>) {
    let mut cfg = ConcurrencyConfig::default();
    let Some(c) = root.map("concurrency") else {
        return (cfg, None, None);
    };
    warn_not_acted_on(&c, "pools", "concurrency.pools");
    let pools_v = c.get("pools");
    if let Some(pm) = pools_v.as_ref().and_then(|v| v.as_map()) {
        cfg.pools.default_limit = opt_uint(&pm, "default_limit");
        if let Some(gv) = pm.get("granularity") {
            match gv.as_str().as_deref() {
                Some("run") => cfg.pools.granularity = PoolGranularity::Run,
                Some("op") => cfg.pools.granularity = PoolGranularity::Op,
                Some(other) => gv.error(format!("expected `run` or `op`, found `{other}`")),
                None => {}
            }
        }
        cfg.pools.op_granularity_run_buffer = uint(&pm, "op_granularity_run_buffer", 0);
        pm.finish();
    }
    warn_not_acted_on(
        &c,
        "default_op_concurrency_limit",
        "concurrency.default_op_concurrency_limit",
    );
    if let Some(v) = c.get("default_op_concurrency_limit") {
        if pools_v.is_some() {
            v.error("`default_op_concurrency_limit` cannot be combined with `concurrency.pools` (use `pools.default_limit`)");
        } else {
            cfg.default_op_concurrency_limit = non_negative(&v);
        }
    }
    let runs = c.get("runs").and_then(|v| {
        let rm = v.as_map()?;
        let max_concurrent_runs = rm.get("max_concurrent_runs").and_then(|x| max_runs(&x));
        let tag_concurrency_limits = rm
            .get("tag_concurrency_limits")
            .map(|x| parse_tag_limits(&x));
        rm.finish();
        Some(RunsSection {
            value: v,
            max_concurrent_runs,
            tag_concurrency_limits,
        })
    });
    c.finish();
    (cfg, runs, pools_v.map(|v| v.loc()))
}

fn max_runs(v: &Value<'_>) -> Option<i64> {
    let i = v.as_int()?;
    if i < -1 {
        v.error(format!(
            "`max_concurrent_runs` must be -1 (unlimited), 0 (launch nothing) or a positive number, found {i}"
        ));
        return None;
    }
    Some(i)
}

fn parse_tag_limits(v: &Value<'_>) -> Vec<TagConcurrencyLimit> {
    let mut out = Vec::new();
    for item in v.as_seq() {
        let Some(m) = item.as_map() else { continue };
        let key = m.req_str("key");
        let value = match m.get("value") {
            None => Some(TagLimitValue::Any),
            Some(vv) if vv.is_map() && !is_env_ref(&vv) => vv.as_map().and_then(|vm| {
                let per = vm
                    .require("applyLimitPerUniqueValue")
                    .and_then(|b| b.as_bool());
                vm.finish();
                per.map(|p| {
                    if p {
                        TagLimitValue::PerUniqueValue
                    } else {
                        TagLimitValue::Any
                    }
                })
            }),
            Some(vv) => vv.as_str().map(TagLimitValue::Exact),
        };
        let limit = m.require("limit").and_then(|lv| {
            let i = lv.as_int()?;
            match u32::try_from(i) {
                Ok(u) => Some(u),
                Err(_) => {
                    lv.error(format!(
                        "`limit` must be between 0 and {}, found {i}",
                        u32::MAX
                    ));
                    None
                }
            }
        });
        m.finish();
        if let (Some(key), Some(value), Some(limit)) = (key, value, limit) {
            out.push(TagConcurrencyLimit { key, value, limit });
        }
    }
    out
}

const COORDINATOR_MODULES_QUEUED: &[&str] = &[
    "dagster",
    "dagster._core.run_coordinator",
    "dagster._core.run_coordinator.queued_run_coordinator",
    "dagster.core.run_coordinator",
    "dagster.core.run_coordinator.queued_run_coordinator",
];
const COORDINATOR_MODULES_DEFAULT: &[&str] = &[
    "dagster",
    "dagster._core.run_coordinator",
    "dagster._core.run_coordinator.default_run_coordinator",
    "dagster.core.run_coordinator",
    "dagster.core.run_coordinator.default_run_coordinator",
];

fn parse_run_coordinator(
    root: &Map<'_>,
    runs: Option<&RunsSection<'_>>,
    pools: Option<&Loc>,
) -> RunCoordinatorConfig {
    let mut queue = QueueConfig::default();
    let rq = root.get("run_queue");
    let rc = root.get("run_coordinator");
    if let (Some(q), Some(c)) = (&rq, &rc) {
        q.error(format!(
            "`run_queue` cannot be used together with `run_coordinator` (line {}): configure the queue in one place",
            c.loc().line
        ));
    }
    let mut result_default = false;
    if let Some(q) = &rq {
        if let Some(m) = q.as_map() {
            read_queue_fields(&m, &mut queue, runs, pools);
        }
    }
    if let Some(c) = &rc {
        if let Some(cr) = read_class(c) {
            match cr.class.as_str() {
                "QueuedRunCoordinator" => {
                    if cr.check_module(COORDINATOR_MODULES_QUEUED) {
                        if let Some(m) = cr.config_map() {
                            read_queue_fields(&m, &mut queue, runs, pools);
                        }
                    }
                }
                "DefaultRunCoordinator" => {
                    if cr.check_module(COORDINATOR_MODULES_DEFAULT) {
                        cr.no_config();
                        result_default = true;
                    }
                }
                other => cr.class_v.error(format!(
                    "run coordinator `{other}` is not supported (use QueuedRunCoordinator or DefaultRunCoordinator)"
                )),
            }
        }
    }
    if let Some(r) = runs {
        if result_default {
            r.value.warn("`concurrency.runs` has no effect with DefaultRunCoordinator (runs are launched immediately)");
        }
        if let Some(n) = r.max_concurrent_runs {
            queue.max_concurrent_runs = n;
        }
        if let Some(t) = &r.tag_concurrency_limits {
            queue.tag_concurrency_limits = t.clone();
        }
    }
    if result_default {
        RunCoordinatorConfig::Default
    } else {
        RunCoordinatorConfig::Queued(queue)
    }
}

fn read_queue_fields(
    m: &Map<'_>,
    q: &mut QueueConfig,
    runs: Option<&RunsSection<'_>>,
    pools: Option<&Loc>,
) {
    for key in ["max_concurrent_runs", "tag_concurrency_limits"] {
        let Some(v) = m.get(key) else { continue };
        if let Some(r) = runs {
            v.error(format!(
                "`{key}` here is incompatible with the `concurrency > runs` config (line {}): set it in one place",
                r.value.loc().line
            ));
            continue;
        }
        if key == "max_concurrent_runs" {
            if let Some(n) = max_runs(&v) {
                q.max_concurrent_runs = n;
            }
        } else {
            q.tag_concurrency_limits = parse_tag_limits(&v);
        }
    }
    // 0 would make the daemon spin: at least one second.
    if let Some(n) = opt_positive(m, "dequeue_interval_seconds") {
        q.dequeue_interval_seconds = n;
    }
    warn_not_acted_on(m, "dequeue_use_threads", "queue.dequeue_use_threads");
    q.dequeue_use_threads = m
        .bool("dequeue_use_threads")
        .unwrap_or(q.dequeue_use_threads);
    warn_not_acted_on(m, "dequeue_num_workers", "queue.dequeue_num_workers");
    if let Some(n) = opt_positive(m, "dequeue_num_workers") {
        q.dequeue_num_workers = Some(n);
    }
    warn_not_acted_on(
        m,
        "max_user_code_failure_retries",
        "queue.max_user_code_failure_retries",
    );
    q.max_user_code_failure_retries = uint(
        m,
        "max_user_code_failure_retries",
        q.max_user_code_failure_retries,
    );
    warn_not_acted_on(
        m,
        "user_code_failure_retry_delay",
        "queue.user_code_failure_retry_delay",
    );
    q.user_code_failure_retry_delay = uint(
        m,
        "user_code_failure_retry_delay",
        q.user_code_failure_retry_delay,
    );
    warn_not_acted_on(
        m,
        "block_op_concurrency_limited_runs",
        "queue.block_op_concurrency_limited_runs",
    );
    if let Some(b) = m.map("block_op_concurrency_limited_runs") {
        q.block_op_concurrency_limited_runs.enabled = b
            .bool("enabled")
            .unwrap_or(q.block_op_concurrency_limited_runs.enabled);
        if let Some(v) = b.get("op_concurrency_slot_buffer") {
            if let Some(p) = pools {
                v.error(format!(
                    "`op_concurrency_slot_buffer` is incompatible with the `concurrency > pools` config (line {}): \
                     use `concurrency.pools.op_granularity_run_buffer`",
                    p.line
                ));
            } else if let Some(n) = non_negative(&v) {
                q.block_op_concurrency_limited_runs
                    .op_concurrency_slot_buffer = n;
            }
        }
        b.finish();
    }
    m.finish();
}

// ---------------------------------------------------------------------------------------
// run launcher, compute logs, artifacts, scheduler, other sections
// ---------------------------------------------------------------------------------------

const UNSUPPORTED_LAUNCHERS: &[&str] = &[
    "DockerRunLauncher",
    "K8sRunLauncher",
    "EcsRunLauncher",
    "CeleryK8sRunLauncher",
    "CeleryDockerRunLauncher",
    "CeleryRunLauncher",
];

fn parse_run_launcher(v: &Value<'_>) -> Option<RunLauncherConfig> {
    let c = read_class(v)?;
    if c.class == "DefaultRunLauncher" {
        if c.check_module(&[
            "dagster",
            "dagster._core.launcher",
            "dagster._core.launcher.default_run_launcher",
            "dagster.core.launcher",
            "dagster.core.launcher.default_run_launcher",
        ]) {
            let d = WorkerReuse::default();
            let Some(m) = c.config_map() else {
                return Some(RunLauncherConfig::Default(d));
            };
            warn_no_effect(&m, "wait_for_processes", "run_launcher.wait_for_processes");
            m.bool("wait_for_processes");
            let reuse = WorkerReuse {
                max_runs_per_worker: opt_positive(&m, "max_runs_per_worker")
                    .unwrap_or(d.max_runs_per_worker),
                max_idle_workers: uint(&m, "max_idle_workers", d.max_idle_workers),
                idle_timeout_seconds: uint(
                    &m,
                    "worker_idle_timeout_seconds",
                    d.idle_timeout_seconds,
                ),
            };
            m.finish();
            return Some(RunLauncherConfig::Default(reuse));
        }
    } else if UNSUPPORTED_LAUNCHERS.contains(&c.class.as_str()) {
        c.class_v.error(format!(
            "`{}` is not supported: this implementation runs each run in a local worker process (use DefaultRunLauncher)",
            c.class
        ));
    } else {
        c.class_v.error(format!(
            "run launcher `{}` is not supported (use DefaultRunLauncher)",
            c.class
        ));
    }
    None
}

fn parse_compute_logs(v: &Value<'_>, home: &DagsterHome) -> Option<ComputeLogsConfig> {
    let c = read_class(v)?;
    match c.class.as_str() {
        "LocalComputeLogManager" => {
            if !c.check_module(&[
                "dagster._core.storage.local_compute_log_manager",
                "dagster.core.storage.local_compute_log_manager",
            ]) {
                return None;
            }
            let Some(m) = c.config_map() else {
                c.class_v
                    .error("`LocalComputeLogManager` needs `config: {base_dir: <directory>}`");
                return None;
            };
            let base_dir = m.req_str("base_dir");
            let polling_timeout = m.get("polling_timeout").and_then(|pv| {
                let f = pv.as_float()?;
                if f < 0.0 {
                    pv.error("`polling_timeout` must not be negative");
                    return None;
                }
                Some(f)
            });
            m.finish();
            Some(ComputeLogsConfig::Local {
                base_dir: home.resolve(&base_dir?),
                polling_timeout,
            })
        }
        "NoOpComputeLogManager" => {
            if !c.check_module(&[
                "dagster._core.storage.noop_compute_log_manager",
                "dagster.core.storage.noop_compute_log_manager",
            ]) {
                return None;
            }
            c.no_config();
            Some(ComputeLogsConfig::NoOp)
        }
        other => {
            c.class_v.error(format!(
                "compute log manager `{other}` is not supported (use LocalComputeLogManager or NoOpComputeLogManager)"
            ));
            None
        }
    }
}

fn parse_local_artifact_storage(
    v: &Value<'_>,
    home: &DagsterHome,
) -> Option<LocalArtifactStorageConfig> {
    let c = read_class(v)?;
    if c.class != "LocalArtifactStorage" {
        c.class_v.error(format!(
            "artifact storage `{}` is not supported (use LocalArtifactStorage)",
            c.class
        ));
        return None;
    }
    if !c.check_module(&["dagster._core.storage.root", "dagster.core.storage.root"]) {
        return None;
    }
    let Some(m) = c.config_map() else {
        c.class_v
            .error("`LocalArtifactStorage` needs `config: {base_dir: <directory>}`");
        return None;
    };
    let base_dir = m.req_str("base_dir");
    m.finish();
    Some(LocalArtifactStorageConfig {
        base_dir: home.resolve(&base_dir?),
    })
}

fn parse_scheduler(v: &Value<'_>) -> Option<SchedulerConfig> {
    let c = read_class(v)?;
    if c.class != "DagsterDaemonScheduler" {
        c.class_v.error(format!(
            "scheduler `{}` is not supported (use DagsterDaemonScheduler)",
            c.class
        ));
        return None;
    }
    if !c.check_module(&[
        "dagster",
        "dagster._core.scheduler",
        "dagster.core.scheduler",
    ]) {
        return None;
    }
    let d = SchedulerConfig::default();
    let Some(m) = c.config_map() else {
        return Some(d);
    };
    warn_not_acted_on(&m, "max_catchup_runs", "scheduler.max_catchup_runs");
    let s = SchedulerConfig {
        max_catchup_runs: uint(&m, "max_catchup_runs", d.max_catchup_runs),
        max_tick_retries: uint(&m, "max_tick_retries", d.max_tick_retries),
    };
    m.finish();
    Some(s)
}

fn parse_run_monitoring(m: &Map<'_>) -> RunMonitoringConfig {
    let d = RunMonitoringConfig::default();
    let r = RunMonitoringConfig {
        enabled: m.bool("enabled").unwrap_or(d.enabled),
        start_timeout_seconds: uint(m, "start_timeout_seconds", d.start_timeout_seconds),
        cancel_timeout_seconds: uint(m, "cancel_timeout_seconds", d.cancel_timeout_seconds),
        max_runtime_seconds: uint(m, "max_runtime_seconds", d.max_runtime_seconds),
        max_resume_run_attempts: uint(m, "max_resume_run_attempts", d.max_resume_run_attempts),
        poll_interval_seconds: uint(m, "poll_interval_seconds", d.poll_interval_seconds),
        cancellation_thread_poll_interval_seconds: uint(
            m,
            "cancellation_thread_poll_interval_seconds",
            d.cancellation_thread_poll_interval_seconds,
        ),
        free_slots_after_run_end_seconds: opt_uint(m, "free_slots_after_run_end_seconds"),
    };
    // Only what asks for something this implementation does not do is warned about: the
    // daemon polls every 2 s and run workers check for cancellation every 250 ms, at least
    // as often as any setting of Dagster's intervals.
    let warn_if = |key: &str, asks: bool| {
        if asks {
            warn_not_acted_on(m, key, &format!("run_monitoring.{key}"));
        }
    };
    warn_if("enabled", !r.enabled);
    warn_if("max_resume_run_attempts", r.max_resume_run_attempts > 0);
    warn_if("poll_interval_seconds", r.poll_interval_seconds < 2);
    warn_if(
        "free_slots_after_run_end_seconds",
        r.free_slots_after_run_end_seconds.is_some(),
    );
    m.finish();
    r
}

fn parse_tick_retention(m: &Map<'_>, key: &str, default: TickRetention) -> TickRetention {
    let Some(section) = m.map(key) else {
        return default;
    };
    let mut r = default;
    if let Some(v) = section.get("purge_after_days") {
        let days = |x: &Value<'_>| -> Option<i64> {
            let i = x.as_int()?;
            if i < -1 {
                x.error(format!(
                    "must be -1 (keep forever) or a number of days, found {i}"
                ));
                return None;
            }
            Some(i)
        };
        if v.is_map() && !is_env_ref(&v) {
            if let Some(pm) = v.as_map() {
                for (status, slot) in [
                    ("started", &mut r.started),
                    ("skipped", &mut r.skipped),
                    ("success", &mut r.success),
                    ("failure", &mut r.failure),
                ] {
                    if let Some(d) = pm.get(status).and_then(|x| days(&x)) {
                        *slot = d;
                    }
                }
                pm.finish();
            }
        } else if let Some(d) = days(&v) {
            r = TickRetention::all(d);
        }
    }
    section.finish();
    r
}

fn parse_auto_materialize(m: &Map<'_>) -> AutoMaterializeConfig {
    let d = AutoMaterializeConfig::default();
    let run_tags = m
        .map("run_tags")
        .map(|tm| {
            tm.entries()
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s)))
                .collect()
        })
        .unwrap_or_default();
    let r = AutoMaterializeConfig {
        enabled: m.bool("enabled").unwrap_or(d.enabled),
        minimum_interval_seconds: opt_uint(m, "minimum_interval_seconds"),
        run_tags,
        respect_materialization_data_versions: m
            .bool("respect_materialization_data_versions")
            .unwrap_or(d.respect_materialization_data_versions),
        max_tick_retries: uint(m, "max_tick_retries", d.max_tick_retries),
        use_sensors: m.bool("use_sensors").unwrap_or(d.use_sensors),
        use_threads: m.bool("use_threads").unwrap_or(d.use_threads),
        num_workers: opt_positive(m, "num_workers"),
    };
    m.finish();
    r
}

// ---------------------------------------------------------------------------------------
// to_yaml helpers
// ---------------------------------------------------------------------------------------

fn mapping(pairs: Vec<(&str, Y)>) -> Y {
    let mut m = serde_yaml::Mapping::new();
    for (k, v) in pairs {
        m.insert(Y::from(k), v);
    }
    Y::Mapping(m)
}

fn path_y(p: &Path) -> Y {
    Y::from(p.display().to_string())
}

fn opt_u(v: Option<u64>) -> Option<Y> {
    v.map(Y::from)
}

/// A mapping leaving out None values.
fn mapping_opt(pairs: Vec<(&str, Option<Y>)>) -> Y {
    mapping(
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
    )
}

fn class_yaml(module: &str, class: &str, config: Option<Y>) -> Y {
    let mut pairs = vec![("module", Y::from(module)), ("class", Y::from(class))];
    if let Some(c) = config {
        pairs.push(("config", c));
    }
    mapping(pairs)
}

fn storage_yaml(s: &StorageConfig) -> Y {
    match s {
        StorageConfig::Sqlite { base_dir } => mapping(vec![(
            "sqlite",
            mapping(vec![("base_dir", path_y(base_dir))]),
        )]),
        StorageConfig::Postgres {
            url,
            should_autocreate_tables,
            ..
        } => mapping(vec![(
            "postgres",
            mapping(vec![
                ("postgres_url", Y::from(redact_url(url, Some("***")))),
                (
                    "should_autocreate_tables",
                    Y::from(*should_autocreate_tables),
                ),
            ]),
        )]),
    }
}

fn run_coordinator_yaml(rc: &RunCoordinatorConfig) -> Y {
    match rc {
        RunCoordinatorConfig::Default => class_yaml("dagster", "DefaultRunCoordinator", None),
        RunCoordinatorConfig::Queued(q) => {
            let limits: Vec<Y> = q
                .tag_concurrency_limits
                .iter()
                .map(|t| {
                    let value = match &t.value {
                        TagLimitValue::Any => None,
                        TagLimitValue::Exact(v) => Some(Y::from(v.as_str())),
                        TagLimitValue::PerUniqueValue => {
                            Some(mapping(vec![("applyLimitPerUniqueValue", Y::from(true))]))
                        }
                    };
                    mapping_opt(vec![
                        ("key", Some(Y::from(t.key.as_str()))),
                        ("value", value),
                        ("limit", Some(Y::from(t.limit))),
                    ])
                })
                .collect();
            let config = mapping_opt(vec![
                ("max_concurrent_runs", Some(Y::from(q.max_concurrent_runs))),
                ("tag_concurrency_limits", Some(Y::Sequence(limits))),
                (
                    "dequeue_interval_seconds",
                    Some(Y::from(q.dequeue_interval_seconds)),
                ),
                ("dequeue_use_threads", Some(Y::from(q.dequeue_use_threads))),
                ("dequeue_num_workers", opt_u(q.dequeue_num_workers)),
                (
                    "max_user_code_failure_retries",
                    Some(Y::from(q.max_user_code_failure_retries)),
                ),
                (
                    "user_code_failure_retry_delay",
                    Some(Y::from(q.user_code_failure_retry_delay)),
                ),
                (
                    "block_op_concurrency_limited_runs",
                    Some(mapping_opt(vec![
                        (
                            "enabled",
                            Some(Y::from(q.block_op_concurrency_limited_runs.enabled)),
                        ),
                        (
                            "op_concurrency_slot_buffer",
                            opt_u(
                                Some(
                                    q.block_op_concurrency_limited_runs
                                        .op_concurrency_slot_buffer,
                                )
                                .filter(|n| *n > 0),
                            ),
                        ),
                    ])),
                ),
            ]);
            class_yaml("dagster", "QueuedRunCoordinator", Some(config))
        }
    }
}

fn compute_logs_yaml(c: &ComputeLogsConfig) -> Y {
    match c {
        ComputeLogsConfig::Local {
            base_dir,
            polling_timeout,
        } => class_yaml(
            "dagster._core.storage.local_compute_log_manager",
            "LocalComputeLogManager",
            Some(mapping_opt(vec![
                ("base_dir", Some(path_y(base_dir))),
                ("polling_timeout", polling_timeout.map(Y::from)),
            ])),
        ),
        ComputeLogsConfig::NoOp => class_yaml(
            "dagster._core.storage.noop_compute_log_manager",
            "NoOpComputeLogManager",
            None,
        ),
    }
}

fn run_monitoring_yaml(r: &RunMonitoringConfig) -> Y {
    mapping_opt(vec![
        ("enabled", Some(Y::from(r.enabled))),
        (
            "start_timeout_seconds",
            Some(Y::from(r.start_timeout_seconds)),
        ),
        (
            "cancel_timeout_seconds",
            Some(Y::from(r.cancel_timeout_seconds)),
        ),
        ("max_runtime_seconds", Some(Y::from(r.max_runtime_seconds))),
        (
            "max_resume_run_attempts",
            Some(Y::from(r.max_resume_run_attempts)),
        ),
        (
            "poll_interval_seconds",
            Some(Y::from(r.poll_interval_seconds)),
        ),
        (
            "cancellation_thread_poll_interval_seconds",
            Some(Y::from(r.cancellation_thread_poll_interval_seconds)),
        ),
        (
            "free_slots_after_run_end_seconds",
            opt_u(r.free_slots_after_run_end_seconds),
        ),
    ])
}

fn retention_yaml(t: &TickRetention) -> Y {
    mapping(vec![(
        "purge_after_days",
        mapping(vec![
            ("started", Y::from(t.started)),
            ("skipped", Y::from(t.skipped)),
            ("success", Y::from(t.success)),
            ("failure", Y::from(t.failure)),
        ]),
    )])
}

fn workers_yaml(w: &DaemonWorkersConfig) -> Y {
    mapping_opt(vec![
        ("use_threads", Some(Y::from(w.use_threads))),
        ("num_workers", opt_u(w.num_workers)),
        ("num_submit_workers", opt_u(w.num_submit_workers)),
    ])
}

fn concurrency_yaml(c: &ConcurrencyConfig) -> Y {
    let granularity = match c.pools.granularity {
        PoolGranularity::Run => "run",
        PoolGranularity::Op => "op",
    };
    let pools = (c.pools != PoolsConfig::default()).then(|| {
        mapping_opt(vec![
            ("default_limit", opt_u(c.pools.default_limit)),
            ("granularity", Some(Y::from(granularity))),
            (
                "op_granularity_run_buffer",
                Some(Y::from(c.pools.op_granularity_run_buffer)),
            ),
        ])
    });
    mapping_opt(vec![
        ("pools", pools),
        (
            "default_op_concurrency_limit",
            opt_u(c.default_op_concurrency_limit),
        ),
    ])
}

fn auto_materialize_yaml(a: &AutoMaterializeConfig) -> Y {
    let mut tags = serde_yaml::Mapping::new();
    for (k, v) in &a.run_tags {
        tags.insert(Y::from(k.as_str()), Y::from(v.as_str()));
    }
    mapping_opt(vec![
        ("enabled", Some(Y::from(a.enabled))),
        (
            "minimum_interval_seconds",
            opt_u(a.minimum_interval_seconds),
        ),
        ("run_tags", Some(Y::Mapping(tags))),
        (
            "respect_materialization_data_versions",
            Some(Y::from(a.respect_materialization_data_versions)),
        ),
        ("max_tick_retries", Some(Y::from(a.max_tick_retries))),
        ("use_sensors", Some(Y::from(a.use_sensors))),
        ("use_threads", Some(Y::from(a.use_threads))),
        ("num_workers", opt_u(a.num_workers)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> DagsterHome {
        DagsterHome::new("/home/dh")
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "PGUSER" => Some("dag ster".into()),
            "PGPASSWORD" => Some("p@ss:w/rd".into()),
            "DAGSTER_PG_URL" => Some(
                "postgresql+psycopg2://u:hunter2@db:5433/d?sslmode=disable&password=hunter2".into(),
            ),
            "MAX_RUNS" => Some("7".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<(InstanceConfig, Vec<Diagnostic>), ConfigErrors> {
        InstanceConfig::from_text(Path::new("/home/dh/dagster.yaml"), text, &home(), &env)
    }

    fn ok(text: &str) -> (InstanceConfig, Vec<String>) {
        match parse(text) {
            Ok((c, w)) => (c, w.iter().map(|d| d.to_string()).collect()),
            Err(e) => panic!("unexpected errors:\n{e}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => e.errors().map(|d| d.to_string()).collect(),
        }
    }

    fn queue(c: &InstanceConfig) -> &QueueConfig {
        match &c.run_coordinator {
            RunCoordinatorConfig::Queued(q) => q,
            other => panic!("expected a queued coordinator, got {other:?}"),
        }
    }

    #[test]
    fn defaults_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let h = DagsterHome::new(dir.path());
        let (c, warnings) = InstanceConfig::load(&h, &env).unwrap();
        assert_eq!(c, InstanceConfig::defaults(&h));
        assert_eq!(
            c.storage.sqlite_db_path(),
            Some(dir.path().join("storage/dagster.db"))
        );
        assert_eq!(queue(&c), &QueueConfig::default());
        assert_eq!(
            c.compute_logs,
            ComputeLogsConfig::Local {
                base_dir: dir.path().join("logs"),
                polling_timeout: None
            }
        );
        assert!(!c.telemetry.enabled);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].message.contains("no dagster.yaml found"),
            "{}",
            warnings[0]
        );
        // an empty file: defaults, no warning
        let (c2, w2) = ok("# nothing\n");
        assert_eq!(
            c2.storage,
            StorageConfig::Sqlite {
                base_dir: PathBuf::from("/home/dh/storage")
            }
        );
        assert!(w2.is_empty(), "{w2:?}");
    }

    const VALIDATED_EXAMPLE: &str = "\
storage:
  postgres:
    postgres_db: {username: {env: PGUSER}, password: {env: PGPASSWORD}, hostname: localhost,
                  db_name: dagster, port: 5432, params: {sslmode: disable}}
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 25
    dequeue_interval_seconds: 5
    tag_concurrency_limits:
      - {key: database, value: redshift, limit: 4}
      - {key: team, value: {applyLimitPerUniqueValue: true}, limit: 2}
run_monitoring: {enabled: true, start_timeout_seconds: 180, poll_interval_seconds: 120, max_resume_run_attempts: 0}
run_retries: {enabled: true, max_retries: 3}
compute_logs: {module: dagster._core.storage.local_compute_log_manager, class: LocalComputeLogManager,
               config: {base_dir: /opt/dagster/compute_logs}}
telemetry: {enabled: false}
retention: {schedule: {purge_after_days: 90}, sensor: {purge_after_days: {skipped: 7, failure: 30, success: -1}}}
sensors: {use_threads: true, num_workers: 8}
schedules: {use_threads: true, num_workers: 8}
";

    #[test]
    fn validated_dagster_example_parses() {
        let (c, warnings) = ok(VALIDATED_EXAMPLE);
        match &c.storage {
            StorageConfig::Postgres {
                url,
                display_url,
                should_autocreate_tables,
            } => {
                assert_eq!(url, "postgresql://dag%20ster:p%40ss%3Aw%2Frd@localhost:5432/dagster?sslmode=disable");
                assert_eq!(
                    display_url,
                    "postgresql://dag%20ster@localhost:5432/dagster?sslmode=disable"
                );
                assert!(*should_autocreate_tables);
            }
            other => panic!("{other:?}"),
        }
        let q = queue(&c);
        assert_eq!(q.max_concurrent_runs, 25);
        assert_eq!(q.run_limit(), Some(25));
        assert_eq!(
            q.tag_concurrency_limits,
            vec![
                TagConcurrencyLimit {
                    key: "database".into(),
                    value: TagLimitValue::Exact("redshift".into()),
                    limit: 4
                },
                TagConcurrencyLimit {
                    key: "team".into(),
                    value: TagLimitValue::PerUniqueValue,
                    limit: 2
                },
            ]
        );
        assert!(c.run_monitoring.enabled);
        assert_eq!(c.run_monitoring.cancel_timeout_seconds, 180);
        assert_eq!(
            c.run_retries,
            RunRetriesConfig {
                enabled: true,
                max_retries: 3,
                retry_on_asset_or_op_failure: true
            }
        );
        assert_eq!(
            c.compute_logs,
            ComputeLogsConfig::Local {
                base_dir: PathBuf::from("/opt/dagster/compute_logs"),
                polling_timeout: None
            }
        );
        assert_eq!(c.retention.schedule, TickRetention::all(90));
        assert_eq!(
            c.retention.sensor,
            TickRetention {
                started: -1,
                skipped: 7,
                success: -1,
                failure: 30
            }
        );
        assert_eq!(
            c.retention.auto_materialize,
            RetentionConfig::default().auto_materialize
        );
        assert_eq!(
            c.sensors,
            DaemonWorkersConfig {
                use_threads: true,
                num_workers: Some(8),
                num_submit_workers: None
            }
        );
        // not acted on yet: sensors, schedules (run_monitoring's keys are all honoured)
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        for key in ["sensors", "schedules"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&format!("`{key}` is accepted but not acted on yet"))),
                "{key}: {warnings:#?}"
            );
        }
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("/home/dh/dagster.yaml:20:10: warning: sensors:")),
            "{warnings:#?}"
        );
    }

    #[test]
    fn run_monitoring_warns_only_about_what_it_does_not_do() {
        let (c, w) = ok("run_monitoring: {enabled: true, start_timeout_seconds: 60, cancel_timeout_seconds: 30, max_runtime_seconds: 3600, poll_interval_seconds: 120, cancellation_thread_poll_interval_seconds: 10, max_resume_run_attempts: 0}\n");
        assert!(w.is_empty(), "{w:#?}");
        assert_eq!(c.run_monitoring.start_timeout_seconds, 60);
        assert_eq!(c.run_monitoring.cancel_timeout_seconds, 30);
        assert_eq!(c.run_monitoring.max_runtime_seconds, 3600);
        let (_, w) = ok("run_monitoring:\n  enabled: false\n  max_resume_run_attempts: 3\n  poll_interval_seconds: 1\n  free_slots_after_run_end_seconds: 5\n");
        let expect = [
            ":2:12: warning: run_monitoring.enabled: `enabled` is accepted but not acted on yet: run monitoring is always on",
            ":3:28: warning: run_monitoring.max_resume_run_attempts: `max_resume_run_attempts` is accepted but not acted on yet: a run whose worker died is failed",
            ":4:26: warning: run_monitoring.poll_interval_seconds: `poll_interval_seconds` is accepted but not acted on yet: the daemon checks runs every 2 s",
            ":5:37: warning: run_monitoring.free_slots_after_run_end_seconds:",
        ];
        assert_eq!(w.len(), expect.len(), "{w:#?}");
        for e in expect {
            assert!(w.iter().any(|x| x.contains(e)), "missing `{e}` in {w:#?}");
        }
    }

    #[test]
    fn postgres_db_url_encoding_params_and_redaction() {
        let (c, _) = ok("storage:\n  postgres:\n    postgres_db:\n      username: u\n      password: 'a b&c'\n      hostname: '::1'\n      db_name: d\n      port: 6543\n      params: {sslmode: require, application_name: my app}\n      scheme: postgres\n    should_autocreate_tables: false\n");
        let StorageConfig::Postgres {
            url,
            display_url,
            should_autocreate_tables,
        } = &c.storage
        else {
            panic!("{:?}", c.storage)
        };
        assert_eq!(
            url,
            "postgres://u:a%20b%26c@[::1]:6543/d?sslmode=require&application_name=my%20app"
        );
        assert_eq!(
            display_url,
            "postgres://u@[::1]:6543/d?sslmode=require&application_name=my%20app"
        );
        assert!(!should_autocreate_tables);
        // no password: no colon
        let (c, _) =
            ok("storage: {postgres: {postgres_db: {username: u, hostname: h, db_name: d}}}\n");
        assert_eq!(c.storage.describe(), "postgresql://u@h:5432/d");
    }

    #[test]
    fn postgres_url_from_env_is_never_shown() {
        let (c, _) = ok("storage:\n  postgres:\n    postgres_url: {env: DAGSTER_PG_URL}\n");
        let StorageConfig::Postgres {
            url, display_url, ..
        } = &c.storage
        else {
            panic!("{:?}", c.storage)
        };
        assert_eq!(
            url,
            "postgresql://u:hunter2@db:5433/d?sslmode=disable&password=hunter2"
        );
        assert_eq!(display_url, "postgresql://u@db:5433/d?sslmode=disable");
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        let yaml = c.to_yaml();
        assert!(!yaml.contains("hunter2"), "{yaml}");
        assert!(
            yaml.contains("postgresql://u:***@db:5433/d?sslmode=disable&password=***"),
            "{yaml}"
        );
        // the URL's value never appears in an error either
        let errs = errors("storage: {postgres: {postgres_url: 'mysql://root:topsecret@h/d'}}\n");
        assert!(
            errs[0].contains("unsupported URL scheme `mysql`") && !errs[0].contains("topsecret"),
            "{errs:?}"
        );
        let errs = errors("storage: {postgres: {postgres_url: 'topsecret'}}\n");
        assert!(!errs[0].contains("topsecret"), "{errs:?}");
    }

    #[test]
    fn unset_env_var_names_the_variable() {
        let errs = errors("storage:\n  postgres:\n    postgres_url: {env: NOT_SET_ANYWHERE}\n");
        assert_eq!(
            errs,
            vec!["/home/dh/dagster.yaml:3:19: error: storage.postgres.postgres_url: environment variable `NOT_SET_ANYWHERE` is not set"]
        );
        let (c, _) = ok("run_queue: {max_concurrent_runs: {env: MAX_RUNS}}\n");
        assert_eq!(queue(&c).max_concurrent_runs, 7);
    }

    #[test]
    fn unknown_nested_key_has_position_and_path() {
        let errs = errors("run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config:\n    max_concurent_runs: 3\n");
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].starts_with(
                "/home/dh/dagster.yaml:5:5: error: run_coordinator.config.max_concurent_runs: unknown key `max_concurent_runs` (did you mean `max_concurrent_runs`?)"
            ),
            "{}",
            errs[0]
        );
        let errs = errors("storage:\n  postgres:\n    postgres_db: {username: u, hostname: h, db_name: d, passwd: x}\n");
        assert!(
            errs[0].contains("storage.postgres.postgres_db.passwd: unknown key `passwd`"),
            "{errs:#?}"
        );
        let errs = errors("telemetry: {enabled: false}\nstorag: {}\n");
        assert!(errs[0].starts_with("/home/dh/dagster.yaml:2:1: error: storag: unknown key `storag` (did you mean `storage`?)"), "{errs:#?}");
        let errs = errors("retention: {sensor: {purge_after_days: {skiped: 3}}}\n");
        assert!(
            errs[0].contains("retention.sensor.purge_after_days.skiped: unknown key"),
            "{errs:#?}"
        );
    }

    #[test]
    fn legacy_storage_forms() {
        let pg = "config: {postgres_db: {username: u, password: pw, hostname: h, db_name: d}}";
        let text = format!(
            "run_storage: {{module: dagster_postgres.run_storage, class: PostgresRunStorage, {pg}}}\n\
             event_log_storage: {{module: dagster_postgres.event_log, class: PostgresEventLogStorage, {pg}}}\n\
             schedule_storage: {{module: dagster_postgres, class: PostgresScheduleStorage, {pg}}}\n"
        );
        let (c, _) = ok(&text);
        assert_eq!(c.storage.describe(), "postgresql://u@h:5432/d");

        let (c, _) = ok("run_storage: {module: dagster.core.storage.runs, class: SqliteRunStorage, config: {base_dir: db}}\n\
             event_log_storage: {module: dagster._core.storage.event_log, class: ConsolidatedSqliteEventLogStorage, config: {base_dir: /home/dh/db}}\n\
             schedule_storage: {module: dagster._core.storage.schedules, class: SqliteScheduleStorage, config: {base_dir: ./db/}}\n");
        assert_eq!(
            c.storage.sqlite_db_path(),
            Some(PathBuf::from("/home/dh/db/dagster.db"))
        );

        // different databases
        let errs = errors(&format!(
            "run_storage: {{module: dagster_postgres, class: PostgresRunStorage, {pg}}}\n\
             event_log_storage: {{module: dagster._core.storage.event_log, class: SqliteEventLogStorage, config: {{base_dir: /x}}}}\n\
             schedule_storage: {{module: dagster_postgres, class: PostgresScheduleStorage, {pg}}}\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].contains("all storage must be in one database"),
            "{}",
            errs[0]
        );
        assert!(
            errs[0].contains("`event_log_storage` uses SQLite at /x/dagster.db"),
            "{}",
            errs[0]
        );
        assert!(!errs[0].contains("pw@"), "{}", errs[0]);
        // a missing one defaults to SQLite
        let errs = errors(&format!(
            "run_storage: {{module: dagster_postgres, class: PostgresRunStorage, {pg}}}\n"
        ));
        assert!(
            errs[0].contains("`event_log_storage` is not set and defaults to SQLite"),
            "{errs:#?}"
        );
        // wrong module / class / slot
        let errs = errors("run_storage: {module: dagster_postgres.event_log, class: PostgresRunStorage, config: {}}\n");
        assert!(
            errs[0].contains("run_storage.module: module `dagster_postgres.event_log` does not provide `PostgresRunStorage`; accepted modules: dagster_postgres, dagster_postgres.run_storage"),
            "{errs:#?}"
        );
        let errs = errors("run_storage: {module: x, class: RedisRunStorage}\n");
        assert!(errs[0].contains("unknown storage class `RedisRunStorage` for `run_storage`; accepted: SqliteRunStorage, DagsterSqliteStorage, PostgresRunStorage, DagsterPostgresStorage"), "{errs:#?}");
        let errs = errors("schedule_storage: {module: dagster._core.storage.runs, class: SqliteRunStorage, config: {base_dir: x}}\n");
        assert!(
            errs[0].contains("`SqliteRunStorage` cannot be used as `schedule_storage`"),
            "{errs:#?}"
        );
        let errs =
            errors("run_storage: {module: dagster_mysql, class: MySQLRunStorage, config: {}}\n");
        assert!(
            errs[0].contains("`MySQLRunStorage` is not supported (use sqlite or postgres)"),
            "{errs:#?}"
        );
    }

    #[test]
    fn mutual_exclusions() {
        let errs = errors("storage: {sqlite: {base_dir: /a}}\nrun_storage: {module: dagster_postgres, class: PostgresRunStorage}\n");
        assert!(
            errs[0].contains("run_storage: `run_storage` cannot be used together with `storage`"),
            "{errs:#?}"
        );
        let errs = errors("storage: {sqlite: {}, postgres: {postgres_url: 'postgresql://h/d'}}\n");
        assert!(
            errs.iter().any(|e| e.contains("exactly one of")),
            "{errs:#?}"
        );
        let errs = errors("storage: {mysql: {mysql_url: x}}\n");
        assert!(
            errs[0].contains("`storage.mysql` is not supported (use sqlite or postgres)"),
            "{errs:#?}"
        );
        let errs = errors("storage: {custom: {module: m, class: C}}\n");
        assert!(
            errs[0].contains("`storage.custom` is not supported"),
            "{errs:#?}"
        );
        let errs = errors("storage: {postgres: {postgres_url: 'postgresql://h/d', postgres_db: {username: u, hostname: h, db_name: d}}}\n");
        assert!(
            errs[0].contains("either `postgres_url` or `postgres_db`"),
            "{errs:#?}"
        );
        let errs = errors("run_queue: {max_concurrent_runs: 3}\nrun_coordinator: {module: dagster, class: QueuedRunCoordinator}\n");
        assert!(
            errs[0].contains("`run_queue` cannot be used together with `run_coordinator` (line 2)"),
            "{errs:#?}"
        );
        let errs = errors("concurrency:\n  runs: {max_concurrent_runs: 4}\nrun_queue:\n  max_concurrent_runs: 3\n  tag_concurrency_limits: []\n");
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].contains("run_queue.max_concurrent_runs: `max_concurrent_runs` here is incompatible with the `concurrency > runs` config (line 2)"), "{errs:#?}");
        let errs = errors("concurrency: {pools: {default_limit: 1}}\nrun_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config: {block_op_concurrency_limited_runs: {enabled: true, op_concurrency_slot_buffer: 1}}\n");
        assert!(
            errs[0].contains("incompatible with the `concurrency > pools` config"),
            "{errs:#?}"
        );
        let errs =
            errors("concurrency: {pools: {default_limit: 1}, default_op_concurrency_limit: 2}\n");
        assert!(
            errs[0].contains(
                "`default_op_concurrency_limit` cannot be combined with `concurrency.pools`"
            ),
            "{errs:#?}"
        );
    }

    #[test]
    fn run_coordinator_shapes() {
        let (c, w) = ok("run_queue:\n  max_concurrent_runs: -1\n  dequeue_interval_seconds: 2\n  tag_concurrency_limits: [{key: k, limit: 1}]\n");
        let q = queue(&c);
        assert_eq!(
            (
                q.max_concurrent_runs,
                q.run_limit(),
                q.dequeue_interval_seconds
            ),
            (-1, None, 2)
        );
        assert_eq!(q.tag_concurrency_limits[0].value, TagLimitValue::Any);
        assert!(w.is_empty(), "{w:?}");

        let (c, w) = ok("concurrency:\n  runs:\n    max_concurrent_runs: 0\n    tag_concurrency_limits: [{key: k, value: v, limit: 3}]\n");
        let q = queue(&c);
        assert_eq!(q.max_concurrent_runs, 0);
        assert_eq!(
            q.tag_concurrency_limits[0].value,
            TagLimitValue::Exact("v".into())
        );
        assert!(w.is_empty(), "{w:?}");

        let (c, _) = ok("run_coordinator: {module: dagster._core.run_coordinator, class: DefaultRunCoordinator}\n");
        assert_eq!(c.run_coordinator, RunCoordinatorConfig::Default);
        let (_, w) = ok("run_coordinator: {module: dagster.core.run_coordinator, class: DefaultRunCoordinator}\nconcurrency: {runs: {max_concurrent_runs: 2}}\n");
        assert!(
            w[0].contains("has no effect with DefaultRunCoordinator"),
            "{w:?}"
        );

        let errs = errors("run_queue: {dequeue_interval_seconds: 0}\n");
        assert!(
            errs[0].contains("run_queue.dequeue_interval_seconds: must be at least 1"),
            "{errs:?}"
        );
        let errs = errors("run_queue: {max_concurrent_runs: -2}\n");
        assert!(
            errs[0].contains(
                "must be -1 (unlimited), 0 (launch nothing) or a positive number, found -2"
            ),
            "{errs:?}"
        );
        let errs = errors("run_coordinator: {module: dagster, class: DefaultRunCoordinator, config: {max_concurrent_runs: 1}}\n");
        assert!(
            errs[0].contains("`DefaultRunCoordinator` takes no config"),
            "{errs:?}"
        );
        let errs = errors("run_coordinator: {module: my.module, class: QueuedRunCoordinator}\n");
        assert!(
            errs[0].contains("accepted modules: dagster, dagster._core.run_coordinator"),
            "{errs:?}"
        );
        let errs = errors("run_coordinator: {module: x, class: MyCoordinator}\n");
        assert!(
            errs[0].contains("run coordinator `MyCoordinator` is not supported"),
            "{errs:?}"
        );
        let errs = errors("run_queue: {tag_concurrency_limits: [{key: k, value: {applyLimitPerUniqueValue: true, x: 1}, limit: -1}]}\n");
        assert_eq!(errs.len(), 2, "{errs:#?}");

        let (c, w) = ok("run_queue: {dequeue_use_threads: true, dequeue_num_workers: 4, block_op_concurrency_limited_runs: {enabled: false}}\n");
        assert!(queue(&c).dequeue_use_threads);
        assert!(!queue(&c).block_op_concurrency_limited_runs.enabled);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(w[0].contains("run_queue.dequeue_use_threads: `dequeue_use_threads` is accepted but not acted on yet"), "{w:#?}");
    }

    #[test]
    fn launcher_compute_logs_artifacts_scheduler() {
        let (c, w) = ok("run_launcher: {module: dagster, class: DefaultRunLauncher}\n\
             compute_logs: {module: dagster._core.storage.noop_compute_log_manager, class: NoOpComputeLogManager}\n\
             local_artifact_storage: {module: dagster._core.storage.root, class: LocalArtifactStorage, config: {base_dir: art}}\n");
        assert_eq!(
            c.run_launcher,
            RunLauncherConfig::Default(WorkerReuse::default())
        );
        assert_eq!(c.compute_logs, ComputeLogsConfig::NoOp);
        assert_eq!(
            c.local_artifact_storage.storage_dir(),
            PathBuf::from("/home/dh/art/storage")
        );
        assert!(w.is_empty(), "{w:?}");
        let (c, w) = ok("run_launcher: {module: dagster, class: DefaultRunLauncher, config: {max_runs_per_worker: 1, max_idle_workers: 4, worker_idle_timeout_seconds: 5}}\n");
        assert_eq!(
            c.run_launcher.worker_reuse(),
            WorkerReuse {
                max_runs_per_worker: 1,
                max_idle_workers: 4,
                idle_timeout_seconds: 5
            }
        );
        assert!(w.is_empty(), "{w:?}");
        let errs = errors("run_launcher: {module: dagster, class: DefaultRunLauncher, config: {max_runs_per_worker: 0}}\n");
        assert!(errs[0].contains("max_runs_per_worker"), "{errs:?}");
        let errs = errors("run_launcher: {module: dagster_docker, class: DockerRunLauncher, config: {network: x}}\n");
        assert!(
            errs[0].contains("`DockerRunLauncher` is not supported"),
            "{errs:?}"
        );
        let errs = errors("compute_logs: {module: dagster_aws.s3.compute_log_manager, class: S3ComputeLogManager, config: {bucket: b}}\n");
        assert!(
            errs[0].contains("compute log manager `S3ComputeLogManager` is not supported"),
            "{errs:?}"
        );
        let errs = errors("compute_logs: {module: dagster._core.storage.local_compute_log_manager, class: LocalComputeLogManager}\n");
        assert!(errs[0].contains("needs `config: {base_dir"), "{errs:?}");
        let (c, w) = ok("compute_logs: {module: dagster.core.storage.local_compute_log_manager, class: LocalComputeLogManager, config: {base_dir: cl, polling_timeout: 0.5}}\n");
        assert_eq!(
            c.compute_logs,
            ComputeLogsConfig::Local {
                base_dir: PathBuf::from("/home/dh/cl"),
                polling_timeout: Some(0.5)
            }
        );
        assert!(w.is_empty());
        let (c, w) = ok("scheduler: {module: dagster._core.scheduler, class: DagsterDaemonScheduler, config: {max_catchup_runs: 2}}\n");
        assert_eq!(
            c.scheduler,
            SchedulerConfig {
                max_catchup_runs: 2,
                max_tick_retries: 0
            }
        );
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("`max_catchup_runs` is accepted but not acted on yet"),
            "{w:?}"
        );
        let (c, w) = ok("scheduler: {module: dagster, class: DagsterDaemonScheduler, config: {max_tick_retries: 2}}\n");
        assert_eq!(c.scheduler.max_tick_retries, 2);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn warnings_for_keys_not_acted_on_and_without_effect() {
        let text = "\
telemetry: {enabled: true}
nux: {enabled: false}
freshness: {enabled: false}
auto_materialize: {enabled: false, run_tags: {a: b}, minimum_interval_seconds: 30}
backfills: {use_threads: true, num_workers: 4, num_submit_workers: 2}
concurrency: {pools: {default_limit: 1, granularity: run}}
python_logs: {managed_python_loggers: [my_logger], python_log_level: INFO, dagster_handler_config: {handlers: {h: {class: x}}}}
code_servers: {local_startup_timeout: 60}
secrets: {custom: {module: m, class: C, config: {anything: 1}}}
instance_class: {module: m, class: C}
defs_state_storage: {module: m, class: C, config: {x: 1}}
";
        let (c, w) = ok(text);
        assert!(c.telemetry.enabled);
        assert!(!c.nux.enabled && !c.freshness.enabled && !c.auto_materialize.enabled);
        assert_eq!(
            c.auto_materialize.run_tags.get("a").map(String::as_str),
            Some("b")
        );
        assert_eq!(
            c.concurrency.pools,
            PoolsConfig {
                default_limit: Some(1),
                granularity: PoolGranularity::Run,
                op_granularity_run_buffer: 0
            }
        );
        assert_eq!(c.code_servers.local_startup_timeout, 60);
        let expect = [
            ":1:22: warning: telemetry.enabled: telemetry is accepted but nothing is ever sent",
            "nux: `nux` is accepted but not acted on yet",
            "freshness: `freshness` is accepted but not acted on yet",
            "auto_materialize: `auto_materialize` is accepted but not acted on yet",
            "backfills: `backfills` is accepted but not acted on yet",
            "concurrency.pools: `pools` is accepted but not acted on yet: op concurrency pools are not implemented yet",
            "python_logs: `python_logs` has no effect in this implementation",
            "code_servers: `code_servers` has no effect in this implementation",
            "secrets: `secrets` has no effect in this implementation",
            "instance_class: `instance_class` has no effect in this implementation",
            "defs_state_storage: `defs_state_storage` has no effect in this implementation",
        ];
        assert_eq!(w.len(), expect.len(), "{w:#?}");
        for e in expect {
            assert!(w.iter().any(|x| x.contains(e)), "missing `{e}` in {w:#?}");
        }
        // every not-acted-on entry names a reason
        assert!(NOT_ACTED_ON_YET
            .iter()
            .all(|(k, why)| !k.is_empty() && !why.is_empty()));
    }

    #[test]
    fn to_yaml_round_trips() {
        let h = home();
        let defaults = InstanceConfig::defaults(&h);
        let yaml = defaults.to_yaml();
        let (back, _) = ok(&yaml);
        assert_eq!(
            InstanceConfig {
                config_file: None,
                ..back
            },
            defaults,
            "{yaml}"
        );

        let (c, _) = ok(VALIDATED_EXAMPLE);
        let yaml = c.to_yaml();
        assert!(
            yaml.contains(
                "postgres_url: postgresql://dag%20ster:***@localhost:5432/dagster?sslmode=disable"
            ),
            "{yaml}"
        );
        assert!(!yaml.contains("p%40ss"), "{yaml}");
        let (back, _) = ok(&yaml);
        assert_eq!(back.run_coordinator, c.run_coordinator, "{yaml}");
        assert_eq!(back.retention, c.retention);
        assert_eq!(back.sensors, c.sensors);
        assert_eq!(back.compute_logs, c.compute_logs);

        let (c, _) = ok("run_queue: {block_op_concurrency_limited_runs: {op_concurrency_slot_buffer: 2}}\nconcurrency: {default_op_concurrency_limit: 3}\n");
        let (back, _) = ok(&c.to_yaml());
        assert_eq!(
            InstanceConfig {
                config_file: None,
                ..back
            },
            InstanceConfig {
                config_file: None,
                ..c
            }
        );
    }

    #[test]
    fn percent_encoding_and_url_redaction() {
        assert_eq!(
            percent_encode("aZ09-._~ /?#@:%+"),
            "aZ09-._~%20%2F%3F%23%40%3A%25%2B"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(
            redact_url("postgresql://u:p@h/d", None),
            "postgresql://u@h/d"
        );
        assert_eq!(
            redact_url("postgresql://u:p:q@w@h:1/d#f", Some("***")),
            "postgresql://u:***@h:1/d#f"
        );
        assert_eq!(
            redact_url("postgresql://h/d?password=x&a=b", None),
            "postgresql://h/d?a=b"
        );
        assert_eq!(
            redact_url("postgresql://h/d?password=x", None),
            "postgresql://h/d"
        );
        assert_eq!(redact_url("not a url", None), "<url>");
    }
}
