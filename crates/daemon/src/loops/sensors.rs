//! Sensors (`SENSOR`): every second on the leader; each RUNNING sensor ticks when its
//! `minimum_interval_seconds` passed (`dagster_core::instigator::sensor`). A FAILURE tick is reported as an
//! error of the daemon.

use super::{DaemonLoop, Periodic};
use crate::config::DaemonConfig;
use dagster_core::daemon_health::SENSOR;
use dagster_core::instigator::TickStatus;

/// Seconds between two sensor passes.
pub const INTERVAL_SECONDS: f64 = 1.0;

/// The loop.
pub fn new(_config: &DaemonConfig) -> Option<Box<dyn DaemonLoop>> {
    Periodic::every(INTERVAL_SECONDS, "sensors", SENSOR, |ctx, now| {
        let results = dagster_core::instigator::sensor::evaluate_all(ctx.runs, ctx.locations, now);
        for (name, r) in results {
            match r {
                Ok(Some(t)) if t.status == TickStatus::Failure => {
                    let e = anyhow::anyhow!(
                        "sensor `{name}`: tick {} failed (see `dagster sensor logs`)",
                        t.tick_id
                    );
                    ctx.record(SENSOR, "sensor tick", &e);
                }
                Ok(Some(t)) => {
                    tracing::info!(sensor = %name, tick = t.tick_id, status = %t.status, runs = ?t.run_ids, skip_reason = ?t.skip_reason, "sensor tick")
                }
                Ok(None) => {}
                Err(e) => {
                    let e = anyhow::Error::new(e).context(format!("sensor `{name}`"));
                    ctx.record(SENSOR, "sensor pass", &e);
                }
            }
        }
    })
    .leader_only()
    .boxed()
}
