//! Schedules and sensors (Dagster's "instigators"): what they share here, each in its module.
//!
//! * [`schedule`]: cron iteration in a time zone, schedule state and tick evaluation;
//! * [`sensor`]: the built-in sensors, sensor state (cursor) and tick evaluation.
//!
//! Both keep their state in one `instigators` row ([`InstigatorState`], status
//! [`InstigatorStatus`]) and record each evaluation as a tick ([`TickStatus`]); both submit the
//! runs they request through a [`RunSubmitter`](crate::exec::RunSubmitter).

pub mod schedule;
pub mod sensor;

use crate::defs::DefaultStatus;
pub use crate::domain::{InstigatorStatus, TickStatus};
use crate::storage::InstigatorState;

/// Whether an instigator runs: its stored RUNNING or STOPPED, else (nothing stored, or reset to
/// `DECLARED_IN_CODE`) its definition's default. Never `DeclaredInCode`.
pub fn effective_status(
    stored: Option<&InstigatorState>,
    default: DefaultStatus,
) -> InstigatorStatus {
    match stored.map(|s| s.status) {
        Some(InstigatorStatus::Running) => InstigatorStatus::Running,
        Some(InstigatorStatus::Stopped) => InstigatorStatus::Stopped,
        _ => match default {
            DefaultStatus::Running => InstigatorStatus::Running,
            DefaultStatus::Stopped => InstigatorStatus::Stopped,
        },
    }
}

/// The typed body of a stored state; its default when the stored body does not parse.
fn body_of<T: serde::de::DeserializeOwned + Default>(state: &InstigatorState) -> T {
    serde_json::from_value(state.body.clone()).unwrap_or_default()
}
