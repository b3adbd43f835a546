#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! Schedule tick evaluation against real storage (SQLite and a Postgres schema), with an
//! injected "now": exactly one run per (schedule, time) even with two evaluators racing,
//! crash resume, catch-up policies, no re-fire after a cron edit.

use dagster_core::defs::Definitions;
use dagster_core::domain::{tags, RunsFilter};
use dagster_core::instigator::schedule::{
    evaluate_schedule, selector_id, start_schedule, SCHEDULE,
};
use dagster_core::storage::{DbStorage, InstigatorStore, KvStore, RunStore, Storage};
use dagster_core::test_support::{queued_submitter, TestDb};
use std::sync::{Arc, Barrier};

fn defs(dir: &std::path::Path, cron: &str, catchup: &str) -> Definitions {
    let path = dir.join("pipeline.yaml");
    std::fs::write(
        &path,
        format!(
            r#"location_name: loc
pipeline_configs:
  a:
    kind: command
    args: [echo, hi]
jobs:
  j:
    selection: [a]
schedules:
  every_min:
    job: j
    cron: "{cron}"
    execution_timezone: UTC
    default_status: STOPPED
    catchup: {catchup}
"#
        ),
    )
    .unwrap();
    let (mut d, _) = dagster_pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
    d.location_name = "loc".into();
    d
}

fn ts(s: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp() as f64
}

fn runs_for(storage: &DbStorage, iso: &str) -> usize {
    storage
        .list_runs(
            &RunsFilter {
                tags: vec![(tags::SCHEDULED_EXECUTION_TIME.into(), iso.into())],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap()
        .len()
}

fn racing_evaluators(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(defs(dir.path(), "* * * * *", "latest"));
    let s1 = Arc::new(db.storage());
    let sched = d.schedules["every_min"].clone();
    start_schedule(&*s1, "loc", &sched, ts("2026-11-24T06:20:30Z")).unwrap();
    // Five minutes, two evaluators (own pools) racing at each minute.
    for minute in 21..26 {
        let now = ts(&format!("2026-11-24T06:{minute}:00.5Z"));
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let storage = db.storage();
                let d = d.clone();
                let sched = sched.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    evaluate_schedule(&queued_submitter(&storage), &d, &sched, now).unwrap()
                })
            })
            .collect();
        let outcomes: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(outcomes.len(), 1, "minute {minute}: {outcomes:?}");
        assert_eq!(outcomes[0].status, "SUCCESS");
        let iso = format!("2026-11-24T06:{minute}:00+00:00");
        assert_eq!(runs_for(&s1, &iso), 1, "{iso}");
        let run = s1.get_run(&outcomes[0].run_ids[0]).unwrap().unwrap();
        assert_eq!(run.tags[tags::SCHEDULE_NAME], "every_min");
        assert_eq!(run.tags[tags::TICK], outcomes[0].tick_id.to_string());
    }
    let ticks = s1
        .list_ticks(&selector_id("loc", "every_min"), 100)
        .unwrap();
    assert_eq!(ticks.len(), 5);
    assert!(ticks.iter().all(|t| t.status == "SUCCESS"));
}

#[test]
fn two_evaluators_make_one_run_per_tick_sqlite() {
    racing_evaluators(TestDb::sqlite());
}

#[test]
fn two_evaluators_make_one_run_per_tick_postgres() {
    racing_evaluators(TestDb::postgres());
}

#[test]
fn interrupted_tick_is_finished_without_a_second_run() {
    let db = TestDb::postgres();
    let storage = db.storage();
    let dir = tempfile::tempdir().unwrap();
    let d = defs(dir.path(), "* * * * *", "latest");
    let sched = d.schedules["every_min"].clone();
    start_schedule(&storage, "loc", &sched, ts("2026-11-24T06:20:30Z")).unwrap();
    // A daemon died right after inserting the tick for 06:21.
    let sel = selector_id("loc", "every_min");
    let t = storage
        .create_tick(
            &sel,
            SCHEDULE,
            ts("2026-11-24T06:21:00Z"),
            true,
            &serde_json::json!({"run_ids": []}),
        )
        .unwrap()
        .unwrap();
    let out = evaluate_schedule(
        &queued_submitter(&storage),
        &d,
        &sched,
        ts("2026-11-24T06:21:30Z"),
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tick_id, t.id);
    assert_eq!(runs_for(&storage, "2026-11-24T06:21:00+00:00"), 1);
    // Evaluating again does nothing more.
    let out = evaluate_schedule(
        &queued_submitter(&storage),
        &d,
        &sched,
        ts("2026-11-24T06:21:40Z"),
    )
    .unwrap();
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(runs_for(&storage, "2026-11-24T06:21:00+00:00"), 1);
}

#[test]
fn catchup_policies_and_cron_edit() {
    for (policy, expect) in [("latest", 1usize), ("none", 1), ("{all: 3}", 3)] {
        let db = TestDb::sqlite();
        let storage = db.storage();
        let dir = tempfile::tempdir().unwrap();
        let d = defs(dir.path(), "* * * * *", policy);
        let sched = d.schedules["every_min"].clone();
        start_schedule(&storage, "loc", &sched, ts("2026-11-24T06:00:30Z")).unwrap();
        // Daemon down for 10 minutes.
        let out = evaluate_schedule(
            &queued_submitter(&storage),
            &d,
            &sched,
            ts("2026-11-24T06:10:30Z"),
        )
        .unwrap();
        assert_eq!(out.len(), expect, "{policy}: {out:?}");
        // Never before the start.
        assert!(out
            .iter()
            .all(|o| o.scheduled_time > ts("2026-11-24T06:00:30Z")));
        assert_eq!(
            out.last().unwrap().scheduled_time,
            ts("2026-11-24T06:10:00Z")
        );
        // The cron is edited to a time that already passed today: no re-fire.
        let d2 = defs(dir.path(), "5 6 * * *", policy);
        let s2 = d2.schedules["every_min"].clone();
        let out = evaluate_schedule(
            &queued_submitter(&storage),
            &d2,
            &s2,
            ts("2026-11-24T06:11:00Z"),
        )
        .unwrap();
        assert!(out.is_empty(), "{policy}: {out:?}");
    }
}

#[test]
fn none_skips_a_missed_hourly_tick_latest_runs_it() {
    for (policy, expect) in [("latest", 1usize), ("none", 0)] {
        let db = TestDb::sqlite();
        let storage = db.storage();
        let dir = tempfile::tempdir().unwrap();
        let d = defs(dir.path(), "0 * * * *", policy);
        let sched = d.schedules["every_min"].clone();
        start_schedule(&storage, "loc", &sched, ts("2026-11-24T05:30:00Z")).unwrap();
        let out = evaluate_schedule(
            &queued_submitter(&storage),
            &d,
            &sched,
            ts("2026-11-24T07:30:00Z"),
        )
        .unwrap();
        assert_eq!(out.len(), expect, "{policy}: {out:?}");
    }
}

#[test]
fn leader_lease_has_one_holder() {
    for db in [TestDb::sqlite(), TestDb::postgres()] {
        let s = db.storage();
        assert!(s.kv_try_lease("l", "a", 100.0, 15.0).unwrap());
        assert!(!s.kv_try_lease("l", "b", 105.0, 15.0).unwrap());
        assert!(s.kv_try_lease("l", "a", 105.0, 15.0).unwrap()); // renew
        assert!(!s.kv_try_lease("l", "b", 119.0, 15.0).unwrap());
        assert!(s.kv_try_lease("l", "b", 121.0, 15.0).unwrap()); // expired: taken over
        assert!(!s.kv_try_lease("l", "a", 122.0, 15.0).unwrap());
        s.kv_release_lease("l", "b").unwrap();
        assert!(s.kv_try_lease("l", "a", 123.0, 15.0).unwrap());
        let _ = s.describe();
    }
}

#[test]
fn failed_tick_is_retried_up_to_max_tick_retries() {
    use dagster_core::instigator::schedule::{evaluate_schedule_with, ScheduleOptions};
    for db in [TestDb::sqlite(), TestDb::postgres()] {
        let storage = db.storage();
        let dir = tempfile::tempdir().unwrap();
        let d = defs(dir.path(), "* * * * *", "latest");
        let good = d.schedules["every_min"].clone();
        // The same schedule pointing at a job that does not exist: its ticks fail.
        let mut broken = good.clone();
        broken.job = "no_such_job".into();
        start_schedule(&storage, "loc", &good, ts("2026-11-24T06:20:30Z")).unwrap();
        let sel = selector_id("loc", "every_min");
        let eval = |def, at: &str, retries| {
            evaluate_schedule_with(
                &queued_submitter(&storage),
                &d,
                def,
                ts(at),
                &ScheduleOptions {
                    max_tick_retries: retries,
                },
            )
            .unwrap()
        };
        let out = eval(&broken, "2026-11-24T06:21:00.5Z", 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, "FAILURE");
        let tick_id = out[0].tick_id;
        // max_tick_retries 0: never retried.
        assert!(eval(&good, "2026-11-24T06:21:05Z", 0).is_empty());
        // 1: retried once (still failing), then given up.
        let out = eval(&broken, "2026-11-24T06:21:10Z", 1);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].tick_id, out[0].status.as_str()),
            (tick_id, "FAILURE")
        );
        assert!(eval(&good, "2026-11-24T06:21:15Z", 1).is_empty());
        let t = &storage.list_ticks(&sel, 1).unwrap()[0];
        assert_eq!(t.body["failure_count"], 2);
        // 2: one more attempt, which now succeeds on the same tick with one run.
        let out = eval(&good, "2026-11-24T06:21:20Z", 2);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].tick_id, out[0].status.as_str()),
            (tick_id, "SUCCESS")
        );
        assert_eq!(runs_for(&storage, "2026-11-24T06:21:00+00:00"), 1);
        let t = &storage.list_ticks(&sel, 1).unwrap()[0];
        assert_eq!(t.status, "SUCCESS");
        assert!(t.body.get("error").is_none(), "{:?}", t.body);
        assert!(eval(&good, "2026-11-24T06:21:25Z", 2).is_empty());
    }
}

#[test]
fn failed_tick_is_retried_behind_any_number_of_later_ticks() {
    use dagster_core::instigator::schedule::{evaluate_schedule_with, ScheduleOptions};
    for db in [TestDb::sqlite(), TestDb::postgres()] {
        let storage = db.storage();
        let dir = tempfile::tempdir().unwrap();
        let d = defs(dir.path(), "* * * * *", "latest");
        let good = d.schedules["every_min"].clone();
        let mut broken = good.clone();
        broken.job = "no_such_job".into();
        start_schedule(&storage, "loc", &good, ts("2026-11-24T06:20:30Z")).unwrap();
        let eval = |def, at: &str, retries| {
            evaluate_schedule_with(
                &queued_submitter(&storage),
                &d,
                def,
                ts(at),
                &ScheduleOptions {
                    max_tick_retries: retries,
                },
            )
            .unwrap()
        };
        let failed = eval(&broken, "2026-11-24T06:21:00.5Z", 0);
        assert_eq!(failed[0].status, "FAILURE");
        // Eight newer ticks succeed meanwhile (retries off, so the failure waits).
        for minute in 22..30 {
            let out = eval(&good, &format!("2026-11-24T06:{minute}:00.5Z"), 0);
            assert_eq!(out[0].status, "SUCCESS");
        }
        // Retries on: the old FAILURE tick is found and retried on its own row.
        let out = eval(&good, "2026-11-24T06:29:10Z", 1);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].tick_id, out[0].status.as_str()),
            (failed[0].tick_id, "SUCCESS")
        );
        assert_eq!(runs_for(&storage, "2026-11-24T06:21:00+00:00"), 1);
    }
}
