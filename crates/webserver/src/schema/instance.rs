//! The instance (compat doc §3.12, §1.3): `instance { info runLauncher runQueuingSupported
//! runQueueConfig daemonHealth hasInfo ... }` and `permissions`.
//!
//! `info` is the effective `dagster.yaml` as the CLI's `instance info` prints it: passwords are
//! `***`. Daemon health follows Dagster's: the required daemon types of this instance (as
//! `dagster-daemon` computes them), healthy when the last heartbeat is at most
//! 30 s + 1800 s old, errors ignored.

#[allow(unused_imports)]
use super::prelude::*;
use super::types::PythonError;
use super::{blocking, with_storage, Ctx};
use dagster_core::config::instance::RunCoordinatorConfig;
use dagster_core::storage::DaemonHeartbeat;
use juniper::{graphql_object, GraphQLObject, ID};

use dagster_core::daemon_health::{is_fresh, HEARTBEAT_TOLERANCE_SECONDS};

/// Dagster's permission names (all granted unless `--read-only`; never
/// `edit_app_managed_components`).
pub const PERMISSIONS: &[&str] = &[
    "launch_pipeline_execution",
    "launch_pipeline_reexecution",
    "start_schedule",
    "stop_running_schedule",
    "schedule_dry_run",
    "edit_sensor",
    "sensor_dry_run",
    "update_sensor_cursor",
    "terminate_pipeline_execution",
    "delete_pipeline_run",
    "reload_repository_location",
    "reload_workspace",
    "wipe_assets",
    "report_runless_asset_events",
    "launch_partition_backfill",
    "cancel_partition_backfill",
    "edit_dynamic_partitions",
    "toggle_auto_materialize",
    "edit_concurrency_limit",
    "edit_app_managed_components",
    "refresh_component_state",
];

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct Permission {
    pub permission: String,
    pub value: bool,
    pub disabled_reason: Option<String>,
}

pub fn permissions(ctx: &Ctx) -> Vec<Permission> {
    PERMISSIONS
        .iter()
        .map(|p| {
            let value = !ctx.state.read_only && *p != "edit_app_managed_components";
            Permission {
                permission: (*p).to_string(),
                value,
                disabled_reason: (!value).then(|| "Disabled by your administrator".to_string()),
            }
        })
        .collect()
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunLauncher {
    pub name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunQueueConfig {
    pub max_concurrent_runs: i32,
    pub tag_concurrency_limits_yaml: Option<String>,
    pub is_op_concurrency_aware: Option<bool>,
    pub max_concurrent_runs_all_branch_deployments: Option<i32>,
}

/// The daemon types `dagster-daemon run` starts for this instance.
pub fn required_daemons(ctx: &Ctx) -> Vec<&'static str> {
    dagster_core::daemon_health::required_daemons(&ctx.state.instance.config)
}

#[derive(Debug, Clone)]
pub struct DaemonStatus {
    daemon_type: String,
    required: bool,
    heartbeat: Option<DaemonHeartbeat>,
    now: f64,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl DaemonStatus {
    fn id(&self) -> ID {
        ID::new(&self.daemon_type)
    }
    fn daemon_type(&self) -> &str {
        &self.daemon_type
    }
    fn required(&self) -> bool {
        self.required
    }
    /// Null for a daemon type this instance does not run.
    fn healthy(&self) -> Option<bool> {
        if !self.required {
            return None;
        }
        Some(is_fresh(
            self.heartbeat.as_ref(),
            self.now,
            HEARTBEAT_TOLERANCE_SECONDS,
        ))
    }
    fn last_heartbeat_time(&self) -> Option<f64> {
        self.heartbeat.as_ref().map(|h| h.timestamp)
    }
    fn last_heartbeat_errors(&self) -> Vec<PythonError> {
        self.heartbeat
            .as_ref()
            .map(|h| h.errors.iter().map(PythonError::from_info).collect())
            .unwrap_or_default()
    }
}

pub struct DaemonHealth;

impl DaemonHealth {
    async fn statuses(ctx: &Ctx, types: Vec<String>) -> Result<Vec<DaemonStatus>, PythonError> {
        let hbs = with_storage(&ctx.state, |s| s.heartbeats()).await?;
        let required = required_daemons(ctx);
        let now = crate::state::now();
        Ok(types
            .into_iter()
            .map(|t| DaemonStatus {
                required: required.contains(&t.as_str()),
                heartbeat: hbs.iter().find(|h| h.daemon_type == t).cloned(),
                daemon_type: t,
                now,
            })
            .collect())
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl DaemonHealth {
    fn id() -> &'static str {
        "daemonHealth"
    }
    async fn daemon_status(
        ctx: &Ctx,
        daemon_type: Option<String>,
    ) -> Result<DaemonStatus, PythonError> {
        let t = daemon_type.unwrap_or_default();
        let mut s = Self::statuses(ctx, vec![t]).await?;
        s.pop()
            .ok_or_else(|| PythonError::new("no daemon status computed"))
    }
    /// The required daemon types only.
    async fn all_daemon_statuses(ctx: &Ctx) -> Result<Vec<DaemonStatus>, PythonError> {
        let types = required_daemons(ctx)
            .into_iter()
            .map(str::to_string)
            .collect();
        Self::statuses(ctx, types).await
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ConcurrencyKeyInfo {
    pub concurrency_key: String,
    pub slot_count: i32,
    pub claimed_slots: Vec<ClaimedConcurrencySlot>,
    pub pending_steps: Vec<PendingConcurrencyStep>,
    pub limit: Option<i32>,
    pub using_default_limit: Option<bool>,
}

pub struct InstanceInfo;

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(name = "Instance", context = Ctx)]
impl InstanceInfo {
    fn id() -> &'static str {
        "Instance"
    }
    /// The effective `dagster.yaml` (passwords redacted).
    fn info(ctx: &Ctx) -> Option<String> {
        Some(ctx.state.instance.config.to_yaml())
    }
    fn has_info() -> bool {
        true
    }
    fn run_launcher(ctx: &Ctx) -> Option<RunLauncher> {
        Some(RunLauncher {
            name: ctx.state.instance.config.run_launcher.class_name().into(),
        })
    }
    fn run_queuing_supported(ctx: &Ctx) -> bool {
        matches!(
            ctx.state.instance.config.run_coordinator,
            RunCoordinatorConfig::Queued(_)
        )
    }
    fn run_queue_config(ctx: &Ctx) -> Option<RunQueueConfig> {
        match &ctx.state.instance.config.run_coordinator {
            RunCoordinatorConfig::Queued(q) => Some(RunQueueConfig {
                max_concurrent_runs: i32::try_from(q.max_concurrent_runs).unwrap_or(i32::MAX),
                tag_concurrency_limits_yaml: None,
                is_op_concurrency_aware: Some(false),
                max_concurrent_runs_all_branch_deployments: None,
            }),
            RunCoordinatorConfig::Default => None,
        }
    }
    fn executable_path() -> String {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
    fn daemon_health() -> DaemonHealth {
        DaemonHealth
    }
    /// Set by `setAutoMaterializePaused`; there is no asset daemon it would pause.
    async fn auto_materialize_paused(ctx: &Ctx) -> Result<bool, PythonError> {
        let st = ctx.state.clone();
        blocking(move || {
            st.instance
                .storage
                .kv_get(AUTO_MATERIALIZE_PAUSED)
                .map(|v| v.as_deref() == Some("true"))
                .map_err(|e| PythonError::from_error(&e))
        })
        .await
    }
    /// Op concurrency pools are not supported: every key has no limit, no slot claimed and
    /// no step waiting.
    fn concurrency_limit(concurrency_key: Option<String>) -> ConcurrencyKeyInfo {
        ConcurrencyKeyInfo {
            concurrency_key: concurrency_key.unwrap_or_default(),
            slot_count: 0,
            claimed_slots: Vec::new(),
            pending_steps: Vec::new(),
            limit: None,
            using_default_limit: Some(false),
        }
    }
    fn pool_config() -> Option<PoolConfig> {
        None
    }
    fn supports_concurrency_limits() -> bool {
        false
    }
    fn min_concurrency_limit_value() -> i32 {
        0
    }
    fn max_concurrency_limit_value() -> i32 {
        0
    }
    fn concurrency_limits() -> Vec<ConcurrencyKeyInfo> {
        Vec::new()
    }
    fn use_auto_materialize_sensors() -> bool {
        false
    }
    fn freshness_evaluation_enabled() -> bool {
        false
    }
}
