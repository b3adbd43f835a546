//! The daemon types an instance needs, heartbeat timing and health (compat doc §7.2), shared by
//! `dagster-daemon` (which writes the heartbeats and answers `liveness-check`), the webserver
//! (`instance { daemonHealth }`) and the CLI (which says so when a queued run has no daemon to
//! start it).

use crate::config::instance::{InstanceConfig, RunCoordinatorConfig};
use crate::storage::{DaemonHeartbeat, Storage, StorageError};

pub const SCHEDULER: &str = "SCHEDULER";
pub const SENSOR: &str = "SENSOR";
pub const QUEUED_RUN_COORDINATOR: &str = "QUEUED_RUN_COORDINATOR";
pub const EVENT_LOG_CONSUMER: &str = "EVENT_LOG_CONSUMER";
pub const MONITORING: &str = "MONITORING";

/// Seconds between two heartbeats of a daemon type.
pub const HEARTBEAT_INTERVAL_SECONDS: f64 = 30.0;
/// What Dagster adds to the interval before it calls a daemon unhealthy.
pub const HEARTBEAT_TOLERANCE_SECONDS: f64 = 1800.0;
/// A queue whose coordinator has not heartbeated for this long has no daemon: three missed
/// heartbeats, far sooner than the health tolerance.
pub const QUEUE_UNATTENDED_AFTER_SECONDS: f64 = 3.0 * HEARTBEAT_INTERVAL_SECONDS;

/// The daemon types this instance runs (as Dagster computes them), sorted.
pub fn required_daemons(config: &InstanceConfig) -> Vec<&'static str> {
    let mut d = vec![SCHEDULER, SENSOR, MONITORING];
    if let RunCoordinatorConfig::Queued(_) = config.run_coordinator {
        d.push(QUEUED_RUN_COORDINATOR);
    }
    if config.run_retries.enabled {
        d.push(EVENT_LOG_CONSUMER);
    }
    d.sort_unstable();
    d
}

/// Whether `hb` is at most one interval plus `tolerance` seconds old at `now`.
pub fn is_fresh(hb: Option<&DaemonHeartbeat>, now: f64, tolerance: f64) -> bool {
    hb.is_some_and(|h| now <= h.timestamp + HEARTBEAT_INTERVAL_SECONDS + tolerance)
}

/// When runs go to the queue and no daemon has heartbeated its queue coordinator for
/// [`QUEUE_UNATTENDED_AFTER_SECONDS`], what to tell the user who queued one (Dagster says
/// nothing and the run sits in QUEUED). `None` when a daemon is there, or runs are not queued.
pub fn queue_unattended(
    storage: &dyn Storage,
    config: &InstanceConfig,
    now: f64,
) -> Result<Option<String>, StorageError> {
    if !matches!(config.run_coordinator, RunCoordinatorConfig::Queued(_)) {
        return Ok(None);
    }
    let hbs = storage.heartbeats()?;
    let hb = hbs.iter().find(|h| h.daemon_type == QUEUED_RUN_COORDINATOR);
    let since = match hb {
        Some(h) if now - h.timestamp <= QUEUE_UNATTENDED_AFTER_SECONDS => return Ok(None),
        Some(h) => format!("its last heartbeat was {:.0} s ago", now - h.timestamp),
        None => "none has ever heartbeated".to_string(),
    };
    Ok(Some(format!(
        "no dagster-daemon is running against this instance ({since}): queued runs start once \
         `dagster-daemon run` (or `dagster dev`) runs with the same dagster.yaml"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::DaemonStore;
    use crate::test_support::TestDb;

    #[test]
    fn a_queue_without_a_recent_coordinator_heartbeat_is_unattended() {
        let db = TestDb::sqlite();
        let storage = db.storage();
        let home = tempfile::tempdir().unwrap();
        let config = InstanceConfig::defaults(&crate::config::home::DagsterHome::new(home.path()));
        let now = 1_000_000.0;
        let msg = queue_unattended(&storage, &config, now).unwrap().unwrap();
        assert!(msg.contains("none has ever heartbeated"), "{msg}");
        let beat = |t: f64| DaemonHeartbeat {
            daemon_type: QUEUED_RUN_COORDINATOR.into(),
            daemon_id: "d".into(),
            timestamp: t,
            errors: Vec::new(),
        };
        storage.add_heartbeat(&beat(now - 200.0)).unwrap();
        let msg = queue_unattended(&storage, &config, now).unwrap().unwrap();
        assert!(msg.contains("its last heartbeat was 200 s ago"), "{msg}");
        storage.add_heartbeat(&beat(now - 40.0)).unwrap();
        assert_eq!(queue_unattended(&storage, &config, now).unwrap(), None);
        assert!(is_fresh(Some(&beat(now - 40.0)), now, 10.0));
        assert!(!is_fresh(Some(&beat(now - 41.0)), now, 10.0));
        assert!(!is_fresh(None, now, 10.0));
        assert_eq!(
            required_daemons(&config),
            vec![MONITORING, QUEUED_RUN_COORDINATOR, SCHEDULER, SENSOR]
        );
    }
}
