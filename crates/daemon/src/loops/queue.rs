//! The queued run coordinator (`QUEUED_RUN_COORDINATOR`, when runs are queued): every pass
//! on every daemon, so a new QUEUED run is picked up within milliseconds. Priority, FIFO,
//! `max_concurrent_runs`, tag limits; each claim is the conditional QUEUED → STARTING
//! transition in storage, safe with several daemons.

use super::{DaemonLoop, Periodic};
use crate::config::DaemonConfig;
use anyhow::Result;
use dagster_core::config::instance::{QueueConfig, TagConcurrencyLimit, TagLimitValue};
use dagster_core::daemon_health::QUEUED_RUN_COORDINATOR;
use dagster_core::domain::{tags, Run, RunStatus, RunsFilter};
use dagster_core::exec::RunLauncher;
use dagster_core::storage::Storage;
use std::collections::HashMap;

/// The loop, when runs are queued.
pub fn new(config: &DaemonConfig) -> Option<Box<dyn DaemonLoop>> {
    let queue = config.queue.clone()?;
    let name = "queued run coordinator";
    Periodic::each_pass(name, QUEUED_RUN_COORDINATOR, move |ctx, _| {
        match dequeue_iteration(ctx.storage(), &queue, ctx.runs.launcher(), ctx.daemon_id) {
            // A full batch: more runs may be waiting; pass again at once.
            Ok(n) => ctx.pass_again |= n >= MAX_CLAIMS_PER_PASS,
            Err(e) => ctx.record(QUEUED_RUN_COORDINATOR, "queued run coordinator pass", &e),
        }
    })
    .boxed()
}

/// Counts runs per tag limit (and per value for `applyLimitPerUniqueValue`).
struct TagCounters<'a> {
    limits: &'a [TagConcurrencyLimit],
    counts: HashMap<(usize, String), u32>,
}

impl<'a> TagCounters<'a> {
    fn new(limits: &'a [TagConcurrencyLimit]) -> Self {
        TagCounters {
            limits,
            counts: HashMap::new(),
        }
    }

    /// The counter keys `run` falls under.
    fn keys(&self, run: &Run) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, l) in self.limits.iter().enumerate() {
            let Some(v) = run.tags.get(&l.key) else {
                continue;
            };
            match &l.value {
                TagLimitValue::Any => out.push((i, String::new())),
                TagLimitValue::Exact(x) if x == v => out.push((i, String::new())),
                TagLimitValue::Exact(_) => {}
                TagLimitValue::PerUniqueValue => out.push((i, v.clone())),
            }
        }
        out
    }

    fn blocked(&self, run: &Run) -> bool {
        self.keys(run)
            .iter()
            .any(|k| self.counts.get(k).copied().unwrap_or(0) >= self.limits[k.0].limit)
    }

    fn add(&mut self, run: &Run) {
        for k in self.keys(run) {
            *self.counts.entry(k).or_insert(0) += 1;
        }
    }
}

/// Chooses which QUEUED runs to launch now. `in_progress` are the active runs (STARTING,
/// STARTED, CANCELING); `queued` is oldest first. Pure, so it is unit-tested.
pub fn choose_runs(q: &QueueConfig, in_progress: &[Run], mut queued: Vec<Run>) -> Vec<Run> {
    let capacity = if q.max_concurrent_runs < 0 {
        usize::MAX
    } else {
        usize::try_from(q.max_concurrent_runs)
            .unwrap_or(0)
            .saturating_sub(in_progress.len())
    };
    if capacity == 0 {
        return Vec::new();
    }
    // Stable sort: FIFO within a priority.
    queued.sort_by_key(|r| {
        std::cmp::Reverse(
            r.tags
                .get(tags::PRIORITY)
                .and_then(|p| tags::priority(p))
                .unwrap_or(0),
        )
    });
    let mut counters = TagCounters::new(&q.tag_concurrency_limits);
    for r in in_progress {
        counters.add(r);
    }
    let mut chosen = Vec::new();
    for run in queued {
        if chosen.len() >= capacity {
            break;
        }
        if counters.blocked(&run) {
            continue;
        }
        counters.add(&run);
        chosen.push(run);
    }
    chosen
}

/// At most this many runs are claimed and launched per pass.
pub const MAX_CLAIMS_PER_PASS: usize = 200;

/// How many of the oldest queued runs a pass considers (and orders by priority); when the queue
/// is longer, the oldest runs tagged `dagster/priority` beyond them are considered too.
pub const QUEUED_WINDOW: usize = 1000;

/// Hidden run tag set with RUN_STARTING by the queue daemon that claimed the run: its daemon
/// id. Run monitoring fails a STARTING run whose claiming daemon is gone before its worker
/// ever started (see `monitor`).
pub const CLAIMED_BY_TAG: &str = ".dagster/claimed_by";

/// The QUEUED runs a pass with tag limits considers, oldest first: the oldest [`QUEUED_WINDOW`]
/// (FIFO across passes however long the queue is; a run blocked by a tag limit lets newer runs
/// past it) and, when the queue is longer, the oldest runs tagged `dagster/priority` beyond them.
fn queued_window(storage: &dyn Storage) -> Result<Vec<Run>> {
    let mut queued = oldest_queued(storage, QUEUED_WINDOW)?;
    if queued.len() >= QUEUED_WINDOW {
        // Newer than every run of the window, so appending them keeps FIFO within a priority.
        let prioritized = queued_with_priority(storage)?;
        append_unseen(&mut queued, prioritized);
    }
    Ok(queued)
}

/// Without tag limits, the runs a pass launches are the first free slots' worth in (priority,
/// age) order, so only those are read, not a window of the queue: every run tagged
/// `dagster/priority` (usually none), and the oldest `free + tagged` runs, which hold at least
/// `free` untagged runs (priority 0) if the queue has them. With 5,000 queued runs and runs
/// finishing one by one, a pass reads a few runs instead of a thousand.
fn queued_without_tag_limits(
    storage: &dyn Storage,
    q: &QueueConfig,
    in_progress: usize,
) -> Result<Vec<Run>> {
    let free = usize::try_from(q.max_concurrent_runs)
        .map_or(MAX_CLAIMS_PER_PASS, |max| max.saturating_sub(in_progress))
        .min(MAX_CLAIMS_PER_PASS);
    let prioritized = queued_with_priority(storage)?;
    if prioritized.len() >= QUEUED_WINDOW {
        // Too many to be sure the untagged runs read are enough: the bounded window.
        return queued_window(storage);
    }
    let mut queued = oldest_queued(storage, free + prioritized.len())?;
    // The tagged runs not read are newer than every run read: appended, FIFO holds.
    append_unseen(&mut queued, prioritized);
    Ok(queued)
}

/// The oldest `limit` QUEUED runs (those with every tag key of `tag_keys`), oldest first.
fn oldest_queued_with(
    storage: &dyn Storage,
    tag_keys: Vec<String>,
    limit: usize,
) -> Result<Vec<Run>> {
    Ok(storage.list_runs(
        &RunsFilter {
            statuses: Some(vec![RunStatus::Queued]),
            tag_keys,
            oldest_first: true,
            ..Default::default()
        },
        None,
        Some(limit),
    )?)
}

fn oldest_queued(storage: &dyn Storage, limit: usize) -> Result<Vec<Run>> {
    oldest_queued_with(storage, Vec::new(), limit)
}

/// The oldest [`QUEUED_WINDOW`] QUEUED runs tagged `dagster/priority`, oldest first.
fn queued_with_priority(storage: &dyn Storage) -> Result<Vec<Run>> {
    oldest_queued_with(storage, vec![tags::PRIORITY.to_string()], QUEUED_WINDOW)
}

fn append_unseen(queued: &mut Vec<Run>, more: Vec<Run>) {
    let seen: std::collections::HashSet<String> = queued.iter().map(|r| r.run_id.clone()).collect();
    queued.extend(more.into_iter().filter(|r| !seen.contains(&r.run_id)));
}

/// One pass; returns how many runs were launched. `daemon_id` names this daemon in the
/// claimed runs' [`CLAIMED_BY_TAG`].
pub fn dequeue_iteration(
    storage: &dyn Storage,
    q: &QueueConfig,
    launcher: &RunLauncher,
    daemon_id: &str,
) -> Result<usize> {
    if q.max_concurrent_runs == 0 {
        return Ok(0);
    }
    let in_progress = storage.list_runs(
        &RunsFilter {
            statuses: Some(RunStatus::ACTIVE.to_vec()),
            ..Default::default()
        },
        None,
        None,
    )?;
    // Run containers of this daemon's not removed yet (their run may have finished a moment
    // ago) hold a slot too, so no more than `max_concurrent_runs` exist at once.
    let busy = in_progress.len().max(launcher.live_workers());
    let max = usize::try_from(q.max_concurrent_runs).ok();
    if max.is_some_and(|max| busy >= max) {
        // No free slot: the queue need not be read (a finishing run wakes the next pass).
        return Ok(0);
    }
    let queued = if q.tag_concurrency_limits.is_empty() {
        queued_without_tag_limits(storage, q, in_progress.len())?
    } else {
        queued_window(storage)?
    };
    if queued.is_empty() {
        return Ok(0);
    }
    let mut launched = 0;
    let mut chosen = choose_runs(q, &in_progress, queued);
    // Bounded, so a pass (claim, spawns, pid events) stays well within the liveness lease
    // that keeps monitoring away from runs claimed but not launched yet; the next pass
    // follows at once.
    chosen.truncate(MAX_CLAIMS_PER_PASS.min(max.map_or(usize::MAX, |m| m - busy)));
    // One transaction claims them all (and tags them with this daemon and host); each
    // RUN_STARTING is conditional on QUEUED, so a run claimed by another daemon (or canceled
    // meanwhile) is refused and not launched. The workers are spawned without waiting, and
    // one more transaction records their pids.
    let mut claim = std::collections::BTreeMap::new();
    claim.insert(CLAIMED_BY_TAG.to_string(), daemon_id.to_string());
    let results = dagster_core::exec::start_runs(storage, launcher, &chosen, &claim)?;
    for (run, r) in chosen.iter().zip(results) {
        match r {
            Ok(status) => {
                launched += 1;
                tracing::info!(run.id = %run.run_id, job.name = %run.job_name, status = %status, "dequeued run")
            }
            Err(e) => tracing::info!(run.id = %run.run_id, error = %e, "not launched"),
        }
    }
    Ok(launched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, t: &[(&str, &str)]) -> Run {
        Run {
            run_id: id.into(),
            job_name: "j".into(),
            status: RunStatus::Queued,
            tags: t
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            run_config: serde_json::json!({}),
            asset_selection: None,
            step_keys_to_execute: None,
            parent_run_id: None,
            root_run_id: None,
            code_location: None,
            create_time: 0.0,
            update_time: 0.0,
            start_time: None,
            end_time: None,
        }
    }

    /// Runs queued in order (tags per run), one pass with `q`; the runs it claimed, in queue
    /// order.
    fn one_pass(q: &QueueConfig, queue: &[Vec<(&str, &str)>]) -> Vec<usize> {
        use dagster_core::domain::NewRun;
        use dagster_core::storage::RunStore;
        let db = dagster_core::test_support::TestDb::sqlite();
        let s = db.storage();
        let ids: Vec<String> = queue
            .iter()
            .map(|t| {
                s.add_run(NewRun {
                    job_name: "j".into(),
                    status: Some(RunStatus::Queued),
                    tags: t
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    run_config: serde_json::json!({}),
                    ..Default::default()
                })
                .unwrap()
                .run_id
            })
            .collect();
        let home = tempfile::tempdir().unwrap();
        // A worker that exits at once: the claimed run stays STARTING, which is all this needs.
        let launcher = dagster_core::exec::DefaultRunLauncher::new("/bin/true", home.path()).into();
        let n = dequeue_iteration(&s, q, &launcher, "d").unwrap();
        let claimed: Vec<usize> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| s.get_run(id).unwrap().unwrap().status == RunStatus::Starting)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(claimed.len(), n);
        claimed
    }

    /// With and without tag limits (which read the queue differently).
    fn configs(max: i64) -> [QueueConfig; 2] {
        [
            QueueConfig {
                max_concurrent_runs: max,
                ..Default::default()
            },
            QueueConfig {
                max_concurrent_runs: max,
                tag_concurrency_limits: vec![TagConcurrencyLimit {
                    key: "db".into(),
                    value: TagLimitValue::Any,
                    limit: 1,
                }],
                ..Default::default()
            },
        ]
    }

    /// More queued runs than the window: the priority run at the end of the queue is still the
    /// one claimed first.
    #[test]
    fn a_priority_run_beyond_the_window_goes_first() {
        let mut queue = vec![Vec::new(); QUEUED_WINDOW];
        queue.push(vec![(tags::PRIORITY, "10")]);
        for q in configs(1) {
            assert_eq!(one_pass(&q, &queue), vec![QUEUED_WINDOW], "{q:?}");
        }
    }

    /// Priority first, FIFO within a priority, negative priorities after untagged runs, and
    /// only as many runs as slots are free.
    #[test]
    fn the_pass_takes_the_first_runs_in_priority_then_queue_order() {
        let neg = vec![(tags::PRIORITY, "-1")];
        let high = vec![(tags::PRIORITY, "5")];
        let queue = vec![
            neg.clone(),
            neg.clone(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            high.clone(),
            high,
            neg,
        ];
        for q in configs(3) {
            assert_eq!(one_pass(&q, &queue), vec![2, 5, 6], "{q:?}");
        }
        for q in configs(6) {
            assert_eq!(one_pass(&q, &queue), vec![0, 2, 3, 4, 5, 6], "{q:?}");
        }
        for q in configs(-1) {
            assert_eq!(one_pass(&q, &queue).len(), queue.len(), "{q:?}");
        }
        // Runs that wait behind others at the head of the queue do not hide newer runs.
        let neg = vec![(tags::PRIORITY, "-1")];
        let queue = vec![neg.clone(), neg.clone(), neg, Vec::new(), Vec::new()];
        for q in configs(2) {
            assert_eq!(one_pass(&q, &queue), vec![3, 4], "{q:?}");
        }
    }

    fn ids(r: &[Run]) -> Vec<&str> {
        r.iter().map(|r| r.run_id.as_str()).collect()
    }

    #[test]
    fn priority_fifo_capacity_and_tag_limits() {
        let q = QueueConfig {
            max_concurrent_runs: 3,
            tag_concurrency_limits: vec![
                TagConcurrencyLimit {
                    key: "db".into(),
                    value: TagLimitValue::Exact("replica".into()),
                    limit: 1,
                },
                TagConcurrencyLimit {
                    key: "team".into(),
                    value: TagLimitValue::PerUniqueValue,
                    limit: 1,
                },
            ],
            ..Default::default()
        };
        let queued = vec![
            run("a", &[("db", "replica")]),
            run("b", &[("db", "replica")]),
            run("c", &[("team", "x")]),
            run("d", &[("team", "x")]),
            run("e", &[("team", "y")]),
            run("f", &[(tags::PRIORITY, "5")]),
        ];
        assert_eq!(ids(&choose_runs(&q, &[], queued.clone())), ["f", "a", "c"]);
        let busy = vec![run("z", &[("db", "replica")])];
        assert_eq!(ids(&choose_runs(&q, &busy, queued.clone())), ["f", "c"]);
        let unlimited = QueueConfig {
            max_concurrent_runs: -1,
            ..q.clone()
        };
        assert_eq!(
            ids(&choose_runs(&unlimited, &[], queued.clone())),
            ["f", "a", "c", "e"]
        );
        let none = QueueConfig {
            max_concurrent_runs: 0,
            ..q
        };
        assert!(choose_runs(&none, &[], queued).is_empty());
    }
}
