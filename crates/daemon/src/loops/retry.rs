//! Run retries (`EVENT_LOG_CONSUMER`, when `run_retries.enabled`): a FAILURE run whose
//! `dagster/max_retries` tag (or `run_retries.max_retries`) allows it is re-executed
//! (`dagster/retry_strategy`: FROM_FAILURE by default, or ALL_STEPS). The retry carries
//! `dagster/retry_number`, `dagster/parent_run_id`, `dagster/root_run_id`; the failed run gets
//! `dagster/will_retry` and `dagster/auto_retry_run_id`.
//!
//! Runs only on the leader, every 2 s, in the passes run monitoring runs in. A failed run is
//! looked at once per update (a cursor on the update time in the kv store); before creating a
//! retry the daemon looks for a run already tagged as that retry (same parent and retry
//! number), so a crash in between creates no second retry.

use super::{DaemonLoop, Periodic};
use crate::config::DaemonConfig;
use anyhow::Result;
use dagster_core::config::instance::RunRetriesConfig;
use dagster_core::daemon_health::EVENT_LOG_CONSUMER;
use dagster_core::defs::Definitions;
use dagster_core::domain::{tags, Run, RunStatus, RunsFilter};
use dagster_core::exec::{create_run, reexecution_request, ReexecutionStrategy, RunSubmitter};
use std::collections::BTreeMap;

const CURSOR_KEY: &str = "daemon/run_retries_cursor";

/// The loop, when `run_retries.enabled`.
pub fn new(config: &DaemonConfig) -> Option<Box<dyn DaemonLoop>> {
    let cfg = config.run_retries.clone()?;
    let seconds = super::monitor::INTERVAL_SECONDS;
    Periodic::every(seconds, "run retries", EVENT_LOG_CONSUMER, move |ctx, _| {
        if let Err(e) = retry_iteration(ctx.runs, &cfg, ctx.locations) {
            ctx.record(EVENT_LOG_CONSUMER, "run retries pass", &e);
        }
    })
    .leader_only()
    // On monitoring's clock, which runs on a standby too: due when monitoring is.
    .clock_on_standby()
    .boxed()
}

/// The retry to launch for `run`, if any: `(retry number, strategy)`.
pub fn retry_plan(cfg: &RunRetriesConfig, run: &Run) -> Option<(u64, ReexecutionStrategy)> {
    if run.status != RunStatus::Failure {
        return None;
    }
    let max = run
        .tags
        .get(tags::MAX_RETRIES)
        .and_then(|v| tags::max_retries(v))
        .unwrap_or(cfg.max_retries);
    let done = run
        .tags
        .get(tags::RETRY_NUMBER)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if done >= max {
        return None;
    }
    let step_failure =
        run.tags.get(tags::FAILURE_REASON).map(String::as_str) == Some("STEP_FAILURE");
    if step_failure && !cfg.retry_on_asset_or_op_failure {
        return None;
    }
    let strategy = run
        .tags
        .get(tags::RETRY_STRATEGY)
        .and_then(|s| tags::retry_strategy(s))
        .and_then(ReexecutionStrategy::parse)
        .unwrap_or(ReexecutionStrategy::FromFailure);
    Some((done + 1, strategy))
}

/// One pass at `now`; returns the retry run ids created.
pub fn retry_iteration(
    runs: &RunSubmitter,
    cfg: &RunRetriesConfig,
    locations: &[(String, Definitions)],
) -> Result<Vec<String>> {
    let storage = runs.storage();
    let cursor: f64 = storage
        .kv_get(CURSOR_KEY)?
        .and_then(|c| c.parse().ok())
        .unwrap_or(0.0);
    let mut failed = storage.list_runs(
        &RunsFilter {
            statuses: Some(vec![RunStatus::Failure]),
            updated_after: Some(cursor),
            ..Default::default()
        },
        None,
        Some(500),
    )?;
    failed.reverse(); // oldest first
    let mut created = Vec::new();
    let mut newest = cursor;
    for run in failed {
        let Some((number, strategy)) = retry_plan(cfg, &run) else {
            newest = newest.max(run.update_time);
            continue;
        };
        let existing = storage.list_runs(
            &RunsFilter {
                tags: vec![
                    (tags::PARENT_RUN_ID.to_string(), run.run_id.clone()),
                    (tags::RETRY_NUMBER.to_string(), number.to_string()),
                ],
                ..Default::default()
            },
            None,
            Some(1),
        )?;
        if !existing.is_empty() {
            newest = newest.max(run.update_time);
            continue;
        }
        let location = run.code_location.clone().unwrap_or_default();
        let Some((_, defs)) = locations.iter().find(|(n, _)| *n == location) else {
            tracing::warn!(run.id = %run.run_id, location, "cannot retry: its code location is not in the workspace");
            newest = newest.max(run.update_time);
            continue;
        };
        let planned = reexecution_request(storage, &run, strategy).and_then(|mut req| {
            req.tags
                .insert(tags::RETRY_NUMBER.into(), number.to_string());
            create_run(storage, defs, req)
        });
        let child = match planned {
            Ok(c) => c,
            Err(e) => {
                // Not retryable (e.g. nothing to re-execute): told once, then passed over.
                tracing::warn!(run.id = %run.run_id, error = %e, "cannot retry the failed run");
                newest = newest.max(run.update_time);
                continue;
            }
        };
        runs.submit(&child)?;
        let mut parent_tags = BTreeMap::new();
        parent_tags.insert("dagster/will_retry".to_string(), "true".to_string());
        parent_tags.insert(
            "dagster/auto_retry_run_id".to_string(),
            child.run_id.clone(),
        );
        storage.add_run_tags(&run.run_id, &parent_tags)?;
        tracing::info!(run.id = %run.run_id, retry = %child.run_id, number, "launched a retry of a failed run");
        created.push(child.run_id);
        newest = newest.max(run.update_time);
    }
    if newest > cursor {
        storage.kv_set(CURSOR_KEY, &newest.to_string())?;
    }
    Ok(created)
}
