//! Tick retention (`retention` in `dagster.yaml`): ticks older than `purge_after_days` are
//! deleted, per tick type (schedule, sensor) and status; -1 keeps them forever. Runs on the
//! leader once at start and then hourly (as `SCHEDULER`). The same pass deletes the liveness
//! leases daemons killed while holding them left behind ([`purge_dead_daemon_leases`]; its
//! errors are `MONITORING`'s).

use super::{DaemonLoop, Periodic};
use crate::config::DaemonConfig;
use anyhow::Result;
use dagster_core::config::instance::{RetentionConfig, TickRetention};
use dagster_core::daemon_health::{MONITORING, SCHEDULER};
use dagster_core::instigator::schedule::SCHEDULE;
use dagster_core::instigator::sensor::SENSOR;
use dagster_core::instigator::TickStatus;
use dagster_core::storage::Storage;

/// Seconds between purges.
pub const PURGE_INTERVAL_SECONDS: f64 = 3600.0;

/// The loop.
pub fn new(config: &DaemonConfig) -> Option<Box<dyn DaemonLoop>> {
    let retention = config.retention.clone();
    Periodic::every(
        PURGE_INTERVAL_SECONDS,
        "tick retention",
        SCHEDULER,
        move |ctx, now| {
            if let Err(e) = purge_iteration(ctx.storage(), &retention, now) {
                ctx.record(SCHEDULER, "purging old ticks (retention)", &e);
            }
            if let Err(e) = purge_dead_daemon_leases(ctx.storage(), now) {
                ctx.record(MONITORING, "deleting liveness leases of dead daemons", &e);
            }
        },
    )
    .leader_only()
    .boxed()
}

fn per_status(r: &TickRetention) -> [(TickStatus, i64); 4] {
    [
        (TickStatus::Started, r.started),
        (TickStatus::Skipped, r.skipped),
        (TickStatus::Success, r.success),
        (TickStatus::Failure, r.failure),
    ]
}

/// Deletes the ticks `cfg` no longer keeps at `now`; returns how many.
pub fn purge_iteration(storage: &dyn Storage, cfg: &RetentionConfig, now: f64) -> Result<usize> {
    let mut purged = 0;
    for (tick_type, r) in [(SCHEDULE, &cfg.schedule), (SENSOR, &cfg.sensor)] {
        for (status, days) in per_status(r) {
            if days < 0 {
                continue;
            }
            let before = now - days as f64 * 86_400.0;
            let n = storage.purge_ticks(tick_type, status, before)?;
            if n > 0 {
                tracing::info!(
                    tick_type,
                    status = %status,
                    days,
                    "purged {n} tick(s) older than {days} day(s)"
                );
            }
            purged += n;
        }
    }
    Ok(purged)
}

/// How long after expiry a daemon's liveness lease is deleted. Run monitoring fails the runs
/// of a dead claimer within seconds of expiry and treats a missing lease the same way, so
/// after an hour the row is only clutter left by a daemon that was killed.
pub const LIVENESS_PURGE_AFTER_SECONDS: f64 = 3600.0;

/// Deletes the liveness leases of daemons that died holding them (SIGKILL, lost container);
/// returns how many.
pub fn purge_dead_daemon_leases(storage: &dyn Storage, now: f64) -> Result<usize> {
    let n = storage.kv_purge_expired_leases(
        crate::loops::monitor::ALIVE_PREFIX,
        now - LIVENESS_PURGE_AFTER_SECONDS,
    )?;
    if n > 0 {
        tracing::info!("deleted {n} expired liveness lease(s) of daemons that are gone");
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagster_core::storage::InstigatorStore;
    use dagster_core::test_support::TestDb;

    const DAY: f64 = 86_400.0;

    fn check(db: TestDb) {
        let s = db.storage();
        let now = 1_800_000_000.0;
        let body = serde_json::json!({});
        for (sel, ty, age_days, status) in [
            ("sched", SCHEDULE, 100.0, "SUCCESS"),
            ("sched", SCHEDULE, 10.0, "SUCCESS"),
            ("sched", SCHEDULE, 100.0, "FAILURE"),
            ("sensor", SENSOR, 8.0, "SKIPPED"),
            ("sensor", SENSOR, 6.0, "SKIPPED"),
            ("sensor", SENSOR, 400.0, "SUCCESS"),
            ("sensor", SENSOR, 40.0, "FAILURE"),
        ] {
            let t = s
                .create_tick(sel, ty, now - age_days * DAY, false, &body)
                .unwrap()
                .unwrap();
            let status = TickStatus::parse(status).unwrap();
            s.update_tick(t.id, status, &body).unwrap();
        }
        // Defaults: schedules forever; sensors: SKIPPED after 7 days, the rest forever.
        assert_eq!(
            purge_iteration(&s, &RetentionConfig::default(), now).unwrap(),
            1
        );
        let cfg = RetentionConfig {
            schedule: TickRetention {
                started: -1,
                skipped: -1,
                success: 30,
                failure: -1,
            },
            sensor: TickRetention {
                started: -1,
                skipped: 7,
                success: -1,
                failure: 30,
            },
            ..RetentionConfig::default()
        };
        assert_eq!(purge_iteration(&s, &cfg, now).unwrap(), 2);
        let left = |sel: &str| -> Vec<(String, f64)> {
            s.list_ticks(sel, 10)
                .unwrap()
                .into_iter()
                .map(|t| (t.status.to_string(), ((now - t.timestamp) / DAY).round()))
                .collect()
        };
        assert_eq!(
            left("sched"),
            [
                ("SUCCESS".to_string(), 10.0),
                ("FAILURE".to_string(), 100.0)
            ]
        );
        assert_eq!(
            left("sensor"),
            [("SKIPPED".to_string(), 6.0), ("SUCCESS".to_string(), 400.0)]
        );
        // Nothing more to do.
        assert_eq!(purge_iteration(&s, &cfg, now).unwrap(), 0);
    }

    #[test]
    fn dead_daemons_liveness_leases_deleted_an_hour_after_expiry() {
        use dagster_core::storage::KvStore;
        let s = TestDb::sqlite().storage();
        let now = 1_800_000_000.0;
        let lease = |id: &str, at: f64| {
            let key = crate::loops::monitor::alive_key(id);
            assert!(s.kv_try_lease(&key, id, at, 30.0).unwrap());
        };
        lease("killed-yesterday", now - DAY);
        lease("killed-a-minute-ago", now - 60.0);
        lease("alive", now);
        assert_eq!(purge_dead_daemon_leases(&s, now).unwrap(), 1);
        let has = |id: &str| {
            s.kv_get(&crate::loops::monitor::alive_key(id))
                .unwrap()
                .is_some()
        };
        assert!(!has("killed-yesterday"));
        assert!(has("killed-a-minute-ago") && has("alive"));
    }

    #[test]
    fn purges_per_type_and_status_sqlite() {
        check(TestDb::sqlite());
    }

    #[test]
    fn purges_per_type_and_status_postgres() {
        check(TestDb::postgres());
    }
}
