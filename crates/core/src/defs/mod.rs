//! Definitions of a code location: assets, jobs, schedules, sensors and resources.
//!
//! A code location is a [`Registry`] built in Rust (crates/pipeline: resource types, asset
//! kinds and code-defined assets) plus a pipeline config YAML file (`pipeline-config/*.yaml`)
//! that declares `resources:`, `pipeline_configs:` (one asset each), `jobs:`, `schedules:` and
//! `sensors:`. [`load_definitions`] reads the YAML through the positioned reader and validates
//! everything at once (unknown asset in a job, dependency cycle, missing resource, unknown
//! resource type or asset kind, bad cron, unset env var, duplicate key), reporting each problem
//! with `file:line` and key path.

use crate::config::yaml::{Loc, Map};
use crate::domain::{AssetKey, MetadataEntry, MetadataValue};
use std::any::Any;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod context;
pub mod kinds;
mod load;
pub mod locations;

pub use context::{CancelToken, NoopLogger, StepContext, StepContextParams, StepLogger};
pub use load::{
    load_definitions, load_definitions_with_env, validate_cron, DEFAULT_SENSOR_INTERVAL_SECONDS,
    SENSOR_KINDS,
};

/// Name of the implicit job that contains every asset (Dagster's `__ASSET_JOB`).
pub const ASSET_JOB_NAME: &str = "__ASSET_JOB";
/// Default asset group name.
pub const DEFAULT_GROUP: &str = "default";

/// What an asset computation returns: metadata for its ASSET_MATERIALIZATION event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaterializeResult {
    pub metadata: Vec<MetadataEntry>,
    pub description: Option<String>,
}

impl MaterializeResult {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, label: &str, value: MetadataValue) -> Self {
        self.metadata.push(MetadataEntry::new(label, value));
        self
    }
}

/// The body of an asset. Runs on a blocking thread; long computations should check
/// [`StepContext::is_cancelled`]. Returning an error (or panicking) fails the step.
pub trait AssetCompute: Send + Sync {
    fn compute(&self, ctx: &mut StepContext) -> anyhow::Result<MaterializeResult>;
}

impl<F> AssetCompute for F
where
    F: Fn(&mut StepContext) -> anyhow::Result<MaterializeResult> + Send + Sync,
{
    fn compute(&self, ctx: &mut StepContext) -> anyhow::Result<MaterializeResult> {
        self(ctx)
    }
}

/// Backoff between step retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backoff {
    #[default]
    Constant,
    Exponential,
}

/// Per-step retry policy (Dagster's `RetryPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub delay: Duration,
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// Wait before retry number `retry` (1-based).
    pub fn delay_for(&self, retry: u32) -> Duration {
        match self.backoff {
            Backoff::Constant => self.delay,
            Backoff::Exponential => self
                .delay
                .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1))),
        }
    }
}

/// An asset definition.
#[derive(Clone)]
pub struct AssetDef {
    pub key: AssetKey,
    pub deps: Vec<AssetKey>,
    pub group: String,
    pub description: Option<String>,
    /// Kinds shown in the UI (`dagster/kind/*`), e.g. `["sql", "sqlite"]`.
    pub kinds: Vec<String>,
    pub owners: Vec<String>,
    pub metadata: Vec<MetadataEntry>,
    /// Resources the computation uses (validated to exist).
    pub required_resources: Vec<String>,
    /// Default config passed to the step (overridden by run config `ops.<step>.config`).
    pub config: serde_json::Value,
    pub retry: RetryPolicy,
    pub timeout: Option<Duration>,
    pub compute: Arc<dyn AssetCompute>,
    /// Where it was declared (pipeline config entry), if in YAML.
    pub source: Option<Loc>,
}

impl AssetDef {
    /// Starts a code-defined asset (the Rust API).
    pub fn new(key: AssetKey, compute: impl AssetCompute + 'static) -> Self {
        AssetDef {
            key,
            deps: Vec::new(),
            group: DEFAULT_GROUP.to_string(),
            description: None,
            kinds: Vec::new(),
            owners: Vec::new(),
            metadata: Vec::new(),
            required_resources: Vec::new(),
            config: serde_json::Value::Object(Default::default()),
            retry: RetryPolicy::default(),
            timeout: None,
            compute: Arc::new(compute),
            source: None,
        }
    }
    pub fn deps(mut self, deps: impl IntoIterator<Item = AssetKey>) -> Self {
        self.deps = deps.into_iter().collect();
        self
    }
    pub fn group(mut self, group: &str) -> Self {
        self.group = group.to_string();
        self
    }
    pub fn description(mut self, d: &str) -> Self {
        self.description = Some(d.to_string());
        self
    }
    pub fn kinds(mut self, kinds: &[&str]) -> Self {
        self.kinds = kinds.iter().map(|k| k.to_string()).collect();
        self
    }
    pub fn owners(mut self, owners: &[&str]) -> Self {
        self.owners = owners.iter().map(|k| k.to_string()).collect();
        self
    }
    pub fn resources(mut self, names: &[&str]) -> Self {
        self.required_resources = names.iter().map(|k| k.to_string()).collect();
        self
    }
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// Step key of this asset's step.
    pub fn step_key(&self) -> String {
        self.key.to_step_key()
    }
}

impl std::fmt::Debug for AssetDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetDef")
            .field("key", &self.key)
            .field("deps", &self.deps)
            .field("group", &self.group)
            .finish()
    }
}

/// A job: a selection of assets.
#[derive(Debug, Clone)]
pub struct JobDef {
    pub name: String,
    pub description: Option<String>,
    /// Resolved asset keys, in definition order.
    pub assets: Vec<AssetKey>,
    /// Tags put on every run of the job.
    pub tags: BTreeMap<String, String>,
    /// Max steps executing at once (`None` = number of CPUs).
    pub max_concurrent_steps: Option<usize>,
    pub source: Option<Loc>,
}

/// Catch-up policy after daemon downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchupPolicy {
    /// Only the most recent missed tick (Dagster's behaviour).
    #[default]
    Latest,
    /// Every missed tick, up to this many.
    All(u32),
    /// No missed tick.
    None,
}

/// Default status of a schedule/sensor when nothing is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultStatus {
    Running,
    #[default]
    Stopped,
}

#[derive(Debug, Clone)]
pub struct ScheduleDef {
    pub name: String,
    pub job: String,
    /// 5-field cron string (validated).
    pub cron: String,
    pub timezone: chrono_tz::Tz,
    pub default_status: DefaultStatus,
    pub catchup: CatchupPolicy,
    pub tags: BTreeMap<String, String>,
    pub run_config: serde_json::Value,
    pub description: Option<String>,
    pub source: Option<Loc>,
}

#[derive(Debug, Clone)]
pub struct SensorDef {
    pub name: String,
    pub job: String,
    /// Built-in sensor kind (`table_rows`, `run_status`, `asset_materialized`) or a code sensor.
    pub kind: String,
    pub minimum_interval_seconds: u64,
    pub default_status: DefaultStatus,
    /// Kind-specific settings as given.
    pub config: serde_json::Value,
    pub description: Option<String>,
    pub source: Option<Loc>,
}

/// A configured resource: a name, a registered type and its resolved config. The config may
/// hold secrets (resolved `{env: VAR}` values): never log or display it; use
/// [`ResourceDef::redacted_config`].
#[derive(Clone)]
pub struct ResourceDef {
    pub name: String,
    pub type_name: String,
    pub config: serde_json::Value,
    /// Config keys holding secrets (from the resource type), redacted in any output.
    pub secret_keys: Vec<String>,
    /// `resources.<name>.description`.
    pub description: Option<String>,
    pub source: Option<Loc>,
}

impl ResourceDef {
    /// The config with every secret key replaced by `"***"`.
    pub fn redacted_config(&self) -> serde_json::Value {
        let mut c = self.config.clone();
        if let Some(obj) = c.as_object_mut() {
            for k in &self.secret_keys {
                if let Some(v) = obj.get_mut(k) {
                    *v = serde_json::Value::String("***".into());
                }
            }
        }
        c
    }
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("config", &self.redacted_config())
            .finish()
    }
}

/// A live resource instance.
pub trait Resource: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    /// The SQL interface, for resources that run SQL statements (the `sql` asset kind).
    fn as_sql(&self) -> Option<&dyn SqlResource> {
        None
    }
    /// Connects and reports what it reached, e.g. `postgres 127.0.0.1:5432 (server 15.4)`.
    fn check(&self) -> anyhow::Result<String>;
}

/// A resource that executes SQL statements.
pub trait SqlResource: Send + Sync {
    /// Executes the statements in order (one transaction where the backend allows);
    /// returns the number of rows affected.
    fn execute_statements(&self, statements: &[String]) -> anyhow::Result<u64>;
    /// Runs a query returning a single integer (e.g. `SELECT count(*) ...`).
    fn query_i64(&self, sql: &str) -> anyhow::Result<Option<i64>>;
}

/// A resource type that can be named in `resources.<name>.type`.
pub trait ResourceType: Send + Sync {
    /// The `type:` name, e.g. `postgres`.
    fn type_name(&self) -> &'static str;
    /// Config keys that hold secrets.
    fn secret_keys(&self) -> &'static [&'static str] {
        &["password"]
    }
    /// Reads and validates `config:` (recording problems on `config`), returning the resolved
    /// JSON config. Must ask for every key it accepts so unknown keys are reported.
    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value>;
    /// Creates the live resource. Errors name the resource and host:port, never a password.
    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>>;
}

/// An asset kind usable from YAML (`kind:` in a `pipeline_configs` entry).
pub trait AssetKind: Send + Sync {
    /// The `kind:` name, e.g. `command`.
    fn kind_name(&self) -> &'static str;
    /// Reads the kind-specific keys of the entry (recording problems on `entry`) and returns
    /// the computation plus the resources it requires.
    fn build(&self, entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)>;
    /// Kinds shown in the UI for assets of this kind.
    fn default_kinds(&self) -> Vec<String> {
        vec![self.kind_name().to_string()]
    }
}

/// What a code location provides in Rust: resource types, asset kinds and code assets.
#[derive(Clone, Default)]
pub struct Registry {
    pub resource_types: BTreeMap<String, Arc<dyn ResourceType>>,
    pub asset_kinds: BTreeMap<String, Arc<dyn AssetKind>>,
    /// Code-defined assets, always part of the definitions.
    pub assets: Vec<AssetDef>,
}

impl Registry {
    /// A registry with the built-in asset kinds (`command`, `sql`, `noop`).
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        r.add_asset_kind(Arc::new(kinds::CommandKind));
        r.add_asset_kind(Arc::new(kinds::SqlKind));
        r.add_asset_kind(Arc::new(kinds::NoopKind));
        r
    }
    pub fn add_resource_type(&mut self, t: Arc<dyn ResourceType>) -> &mut Self {
        self.resource_types.insert(t.type_name().to_string(), t);
        self
    }
    pub fn add_asset_kind(&mut self, k: Arc<dyn AssetKind>) -> &mut Self {
        self.asset_kinds.insert(k.kind_name().to_string(), k);
        self
    }
    pub fn add_asset(&mut self, a: AssetDef) -> &mut Self {
        self.assets.push(a);
        self
    }
}

/// The loaded, validated definitions of one code location.
#[derive(Clone)]
pub struct Definitions {
    pub location_name: String,
    /// The pipeline config file they were read from.
    pub source_file: Option<PathBuf>,
    pub assets: BTreeMap<AssetKey, AssetDef>,
    /// User jobs (the implicit `__ASSET_JOB` is served by [`Definitions::job`]).
    pub jobs: BTreeMap<String, JobDef>,
    pub schedules: BTreeMap<String, ScheduleDef>,
    pub sensors: BTreeMap<String, SensorDef>,
    pub resources: BTreeMap<String, ResourceDef>,
    pub registry: Registry,
}

impl std::fmt::Debug for Definitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definitions")
            .field("location_name", &self.location_name)
            .field("source_file", &self.source_file)
            .field(
                "assets",
                &self
                    .assets
                    .keys()
                    .map(AssetKey::to_user_string)
                    .collect::<Vec<_>>(),
            )
            .field("jobs", &self.jobs.keys().collect::<Vec<_>>())
            .field("schedules", &self.schedules.keys().collect::<Vec<_>>())
            .field("sensors", &self.sensors.keys().collect::<Vec<_>>())
            .field("resources", &self.resources.values().collect::<Vec<_>>())
            .finish()
    }
}

impl Definitions {
    /// A job by name; `__ASSET_JOB` is every asset.
    pub fn job(&self, name: &str) -> Option<JobDef> {
        if name == ASSET_JOB_NAME {
            return Some(JobDef {
                name: ASSET_JOB_NAME.to_string(),
                description: Some("All assets".into()),
                assets: self.assets.keys().cloned().collect(),
                tags: BTreeMap::new(),
                max_concurrent_steps: None,
                source: None,
            });
        }
        self.jobs.get(name).cloned()
    }

    /// Assets of a selection in dependency order (upstream first), only deps inside the selection
    /// constrain the order. Unknown keys are ignored (validated at load).
    pub fn topo_order(&self, selection: &[AssetKey]) -> Vec<AssetKey> {
        let selected: std::collections::BTreeSet<&AssetKey> = selection.iter().collect();
        let mut out: Vec<AssetKey> = Vec::new();
        let mut done: std::collections::BTreeSet<AssetKey> = Default::default();
        fn visit(
            defs: &Definitions,
            key: &AssetKey,
            selected: &std::collections::BTreeSet<&AssetKey>,
            done: &mut std::collections::BTreeSet<AssetKey>,
            out: &mut Vec<AssetKey>,
            depth: usize,
        ) {
            if done.contains(key) || depth > 10_000 {
                return;
            }
            done.insert(key.clone());
            if let Some(a) = defs.assets.get(key) {
                for d in &a.deps {
                    if selected.contains(d) {
                        visit(defs, d, selected, done, out, depth + 1);
                    }
                }
            }
            out.push(key.clone());
        }
        for k in selection {
            visit(self, k, &selected, &mut done, &mut out, 0);
        }
        out
    }

    /// Assets of a job whose key's step key is `step_key`.
    pub fn asset_by_step_key(&self, step_key: &str) -> Option<&AssetDef> {
        self.assets.values().find(|a| a.step_key() == step_key)
    }
}
