//! The event tailer: one task per webserver process that follows the event log for every
//! subscription at once.
//!
//! Every [`POLL_INTERVAL`] it asks storage for the largest event storage id (one indexed
//! `MAX(id)` query, on the blocking pool) and publishes it on `AppState::latest_event`
//! (a `tokio::sync::watch`). While nobody is subscribed it does not query at all. A
//! `pipelineRunLogs` subscription waits on that channel and reads its own run's events only
//! when the id moved past its cursor, so the database sees one query per tick in total, plus
//! one per subscription per change, never one per subscription per tick.
//!
//! Storage errors are logged (once until storage answers again) and the tailer keeps going;
//! subscriptions simply see no change meanwhile.

use crate::state::AppState;
use actix_web::web;
use std::sync::Arc;
use std::time::Duration;

/// How often the event log is polled while someone is subscribed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Runs forever (spawn it on the server's runtime).
pub async fn run(state: Arc<AppState>) {
    let mut failing = false;
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if state.latest_event.receiver_count() == 0 {
            continue;
        }
        let st = state.clone();
        match web::block(move || st.instance.storage.latest_event_id()).await {
            Ok(Ok(latest)) => {
                if failing {
                    tracing::info!("event tailer: storage answers again");
                    failing = false;
                }
                state.latest_event.send_if_modified(|cur| {
                    let changed = *cur != latest;
                    *cur = latest;
                    changed
                });
            }
            Ok(Err(e)) => {
                if !failing {
                    tracing::warn!(error = %e, "event tailer: cannot read the latest event id; subscriptions get no new events until storage answers");
                    failing = true;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "event tailer: blocking task failed");
                    failing = true;
                }
            }
        }
    }
}
