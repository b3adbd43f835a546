//! The scheduler (`SCHEDULER`): on the daemon holding the leader lease, at once when it takes
//! the lease and then at each minute boundary (a plain "wake at the next minute" clock: the
//! database decides which ticks exist, so no cron-scheduler library is needed to wake us; the
//! daemon sleeps no longer than [`DaemonLoop::wake_by`]). A FAILURE tick is retried while
//! `scheduler.max_tick_retries` allows: after an error, or a failed tick that may be retried,
//! the scheduler runs again in 5 s. The ticks themselves are `dagster_core::instigator::schedule`'s.

use super::{DaemonLoop, LoopContext, Pass};
use crate::config::DaemonConfig;
use dagster_core::daemon_health::SCHEDULER;
use dagster_core::instigator::schedule::ScheduleOptions;
use dagster_core::instigator::TickStatus;

/// Seconds after a failed evaluation before the next one.
const RETRY_SECONDS: f64 = 5.0;

/// The loop.
pub fn new(config: &DaemonConfig) -> Option<Box<dyn DaemonLoop>> {
    Some(Box::new(ScheduleLoop {
        opts: config.schedules,
        next: 0.0,
    }))
}

struct ScheduleLoop {
    opts: ScheduleOptions,
    /// When it is due next.
    next: f64,
}

impl DaemonLoop for ScheduleLoop {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn daemon_type(&self) -> &'static str {
        SCHEDULER
    }

    fn leader_only(&self) -> bool {
        true
    }

    fn due(&mut self, pass: &Pass) -> bool {
        pass.became_leader || pass.now >= self.next
    }

    fn wake_by(&self) -> Option<f64> {
        Some(self.next)
    }

    fn run(&mut self, ctx: &mut LoopContext<'_>) {
        let now = ctx.now();
        let results = dagster_core::instigator::schedule::evaluate_all(
            ctx.runs,
            ctx.locations,
            now,
            &self.opts,
        );
        let mut failed = false;
        for (name, r) in results {
            match r {
                Ok(ticks) => {
                    for t in ticks {
                        // A failed tick with retries left is evaluated again in 5 s.
                        failed |= t.status == TickStatus::Failure && self.opts.max_tick_retries > 0;
                        tracing::info!(schedule = %name, tick = t.tick_id, status = %t.status, runs = ?t.run_ids, "schedule tick at {}", dagster_core::instigator::schedule::iso_utc(t.scheduled_time));
                    }
                }
                Err(e) => {
                    failed = true;
                    let e = anyhow::Error::new(e).context(format!("schedule `{name}`"));
                    ctx.record(SCHEDULER, "scheduler pass", &e);
                }
            }
        }
        // Next minute boundary (+1 ms like Dagster); after an error (or a failed tick that may
        // be retried) again in 5 s.
        self.next = if failed {
            now + RETRY_SECONDS
        } else {
            (now / 60.0).floor() * 60.0 + 60.001
        };
    }
}
