//! The daemon's settings, read once at start: the environment tunables and the parts of
//! `dagster.yaml` (already parsed into the instance config) the loops use. Nothing on the pass
//! path reads the environment.

use crate::loops::monitor::MonitorSettings;
use dagster_core::config::instance::{
    InstanceConfig, QueueConfig, RetentionConfig, RunCoordinatorConfig, RunRetriesConfig,
};
use dagster_core::daemon_health::{HEARTBEAT_INTERVAL_SECONDS, HEARTBEAT_TOLERANCE_SECONDS};
use dagster_core::exec::CoordinatorKind;
use dagster_core::instigator::schedule::ScheduleOptions;

/// Leader (and liveness) lease TTL by default; it is renewed every third of the TTL.
pub const LEASE_TTL: f64 = 15.0;
/// A run worker's heartbeat interval by default; run monitoring calls a worker dead after two
/// missed heartbeats.
pub const WORKER_HEARTBEAT_INTERVAL: f64 = 5.0;

/// What `dagster-daemon` runs with.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// TTL of the leader lease and of this process's liveness lease, in seconds
    /// (`DAGSTER_DAEMON_LEASE_TTL_SECONDS`, at least 1, e.g. in tests; default [`LEASE_TTL`]).
    pub lease_ttl: f64,
    /// Seconds between two heartbeats (`DAGSTER_DAEMON_HEARTBEAT_INTERVAL`; default
    /// [`HEARTBEAT_INTERVAL_SECONDS`]).
    pub heartbeat_interval: f64,
    /// How stale a heartbeat `liveness-check` accepts on top of the interval
    /// (`DAGSTER_DAEMON_HEARTBEAT_TOLERANCE`; default [`HEARTBEAT_TOLERANCE_SECONDS`]).
    pub heartbeat_tolerance: f64,
    /// Where the runs the daemon creates (retries, schedules, sensors) go.
    pub coordinator: CoordinatorKind,
    /// The queue (`run_coordinator`) when runs are queued.
    pub queue: Option<QueueConfig>,
    /// `run_retries` when enabled.
    pub run_retries: Option<RunRetriesConfig>,
    /// `run_monitoring`, with the worker heartbeat interval
    /// (`DAGSTER_WORKER_HEARTBEAT_INTERVAL`; default [`WORKER_HEARTBEAT_INTERVAL`]).
    pub monitoring: MonitorSettings,
    /// `retention`.
    pub retention: RetentionConfig,
    /// `scheduler`.
    pub schedules: ScheduleOptions,
}

impl DaemonConfig {
    /// From the instance config and this process's environment.
    pub fn from_env(config: &InstanceConfig) -> Self {
        Self::new(config, |name| std::env::var(name).ok())
    }

    /// From the instance config and the variables `env` returns.
    pub fn new(config: &InstanceConfig, env: impl Fn(&str) -> Option<String>) -> Self {
        let number = |name: &str| env(name).and_then(|v| v.parse::<f64>().ok());
        let queue = match &config.run_coordinator {
            RunCoordinatorConfig::Queued(q) => Some(q.clone()),
            RunCoordinatorConfig::Default => None,
        };
        DaemonConfig {
            lease_ttl: number("DAGSTER_DAEMON_LEASE_TTL_SECONDS")
                .filter(|t| *t >= 1.0)
                .unwrap_or(LEASE_TTL),
            heartbeat_interval: number("DAGSTER_DAEMON_HEARTBEAT_INTERVAL")
                .unwrap_or(HEARTBEAT_INTERVAL_SECONDS),
            heartbeat_tolerance: number("DAGSTER_DAEMON_HEARTBEAT_TOLERANCE")
                .unwrap_or(HEARTBEAT_TOLERANCE_SECONDS),
            coordinator: if queue.is_some() {
                CoordinatorKind::Queued
            } else {
                CoordinatorKind::Default
            },
            queue,
            run_retries: Some(config.run_retries.clone()).filter(|r| r.enabled),
            monitoring: MonitorSettings::from_config(
                &config.run_monitoring,
                number("DAGSTER_WORKER_HEARTBEAT_INTERVAL").unwrap_or(WORKER_HEARTBEAT_INTERVAL),
            ),
            retention: config.retention.clone(),
            schedules: ScheduleOptions {
                max_tick_retries: config.scheduler.max_tick_retries,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dagster_core::config::home::DagsterHome;

    #[test]
    fn environment_tunables_and_their_defaults() {
        let home = tempfile::tempdir().unwrap();
        let config = InstanceConfig::defaults(&DagsterHome::new(home.path()));
        let d = DaemonConfig::new(&config, |_| None);
        assert_eq!(d.lease_ttl, LEASE_TTL);
        assert_eq!(d.heartbeat_interval, HEARTBEAT_INTERVAL_SECONDS);
        assert_eq!(d.heartbeat_tolerance, HEARTBEAT_TOLERANCE_SECONDS);
        assert_eq!(
            d.monitoring.worker_heartbeat_interval,
            WORKER_HEARTBEAT_INTERVAL
        );
        assert_eq!(d.coordinator, CoordinatorKind::Queued);
        assert!(d.run_retries.is_none());
        let d = DaemonConfig::new(&config, |name| {
            Some(
                match name {
                    "DAGSTER_DAEMON_LEASE_TTL_SECONDS" => "3",
                    "DAGSTER_DAEMON_HEARTBEAT_INTERVAL" => "1",
                    "DAGSTER_DAEMON_HEARTBEAT_TOLERANCE" => "10",
                    "DAGSTER_WORKER_HEARTBEAT_INTERVAL" => "0.5",
                    _ => return None,
                }
                .to_string(),
            )
        });
        assert_eq!(
            (
                d.lease_ttl,
                d.heartbeat_interval,
                d.heartbeat_tolerance,
                d.monitoring.worker_heartbeat_interval
            ),
            (3.0, 1.0, 10.0, 0.5)
        );
        // A lease shorter than a second (or not a number) is ignored.
        for ttl in ["0.5", "soon"] {
            let d = DaemonConfig::new(&config, |name| {
                (name == "DAGSTER_DAEMON_LEASE_TTL_SECONDS").then(|| ttl.to_string())
            });
            assert_eq!(d.lease_ttl, LEASE_TTL);
        }
    }
}
