#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // test helpers; plain threads
//! End-to-end tests of the `dagster-daemon` binary against a temp DAGSTER_HOME (SQLite, or a
//! throwaway Postgres schema). The run workers are the `dagster` binary next to the daemon
//! binary: build it first with `cargo build -p dagster-cli`.

mod common;

use common::{daemon_bin, sigterm, Home};
use dagster_core::domain::{EventType, RunStatus, RunsFilter};
use dagster_core::instance::Instance;
use dagster_core::test_support::TestDb;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

impl Home {
    fn daemon(&self) -> Child {
        self.daemon_logging_to("daemon.log")
    }

    fn daemon_logging_to(&self, log: &str) -> Child {
        self.daemon_with(log, &[])
    }

    fn daemon_with(&self, log: &str, args: &[&str]) -> Child {
        self.daemon_command(log)
            .args(args)
            .env("DAGSTER_DAEMON_LEASE_TTL_SECONDS", "3")
            .spawn()
            .unwrap()
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const SLEEPY: &str = r#"location_name: t
pipeline_configs:
  a:
    kind: command
    args: [sh, -c, "sleep 0.3"]
jobs:
  j:
    selection: [a]
"#;

fn event_time(inst: &Instance, run_id: &str, ty: EventType) -> Option<f64> {
    let page = inst.storage.events_for_run(run_id, None, 10_000).unwrap();
    page.events
        .iter()
        .find(|e| e.event.event_type == Some(ty))
        .map(|e| e.event.timestamp)
}

fn max_overlap(intervals: &[(f64, f64)]) -> usize {
    let mut points: Vec<(f64, i32)> = Vec::new();
    for (s, e) in intervals {
        points.push((*s, 1));
        points.push((*e, -1));
    }
    // Ends before starts at the same instant.
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in points {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}

#[test]
fn queue_respects_max_concurrent_runs_and_tag_limits() {
    let home = Home::new(
        None,
        "run_queue:\n  max_concurrent_runs: 3\n  tag_concurrency_limits:\n    - {key: db, value: replica, limit: 1}\n",
        SLEEPY,
    );
    let inst = home.instance();
    let mut ids = Vec::new();
    for i in 0..20 {
        let tags: &[(&str, &str)] = if i % 2 == 0 {
            &[("db", "replica")]
        } else {
            &[]
        };
        ids.push((home.enqueue(&inst, "j", tags), i % 2 == 0));
    }
    let mut d = home.daemon();
    wait_until("20 runs to succeed", Duration::from_secs(120), || {
        inst.storage
            .count_runs(&RunsFilter {
                statuses: Some(vec![RunStatus::Success]),
                ..Default::default()
            })
            .unwrap()
            == 20
    });
    assert_eq!(sigterm(&mut d), 0, "SIGTERM exits 0");
    // The daemon reuses run workers: fewer processes than runs, each run with its own log.
    let mut pids = std::collections::BTreeSet::new();
    for (id, _) in &ids {
        let (pid, _) = inst.storage.worker_heartbeat(id).unwrap().unwrap();
        pids.insert(pid);
        let log = home.path().join("history").join(id).join("worker.log");
        assert!(log.is_file(), "{} is missing", log.display());
    }
    assert!(pids.len() < 20, "every run had its own worker: {pids:?}");
    let mut all = Vec::new();
    let mut tagged = Vec::new();
    for (id, is_tagged) in &ids {
        let s = event_time(&inst, id, EventType::RunStarting).unwrap();
        let e = event_time(&inst, id, EventType::RunSuccess).unwrap();
        all.push((s, e));
        if *is_tagged {
            tagged.push((s, e));
        }
    }
    assert!(
        max_overlap(&all) <= 3,
        "more than 3 runs in progress: {all:?}"
    );
    assert!(
        max_overlap(&all) >= 2,
        "the queue should run several at once"
    );
    assert_eq!(
        max_overlap(&tagged),
        1,
        "db=replica runs overlapped: {tagged:?}"
    );
}

const HANGING: &str = r#"location_name: t
pipeline_configs:
  a:
    kind: command
    args: [sh, -c, "sleep 600"]
jobs:
  j:
    selection: [a]
"#;

#[test]
fn killed_worker_fails_the_run_within_two_heartbeats_postgres() {
    let home = Home::new(Some(TestDb::postgres()), "", HANGING);
    let inst = home.instance();
    let id = home.enqueue(&inst, "j", &[]);
    let mut d = home.daemon();
    wait_until("the step to start", Duration::from_secs(30), || {
        event_time(&inst, &id, EventType::StepStart).is_some()
    });
    let (pid, _) = inst.storage.worker_heartbeat(&id).unwrap().unwrap();
    // SIGKILL the worker process group (the worker and its `sleep`).
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = Instant::now();
    wait_until("the run to fail", Duration::from_secs(11), || {
        inst.storage.get_run(&id).unwrap().unwrap().status == RunStatus::Failure
    });
    assert!(killed.elapsed() <= Duration::from_secs(10));
    let run = inst.storage.get_run(&id).unwrap().unwrap();
    assert_eq!(run.tags["dagster/failure_reason"], "RUN_WORKER_DIED");
    assert_eq!(sigterm(&mut d), 0);
}

#[test]
fn liveness_check_and_heartbeats() {
    let home = Home::new(None, "", SLEEPY);
    let live = || {
        Command::new(daemon_bin())
            .arg("liveness-check")
            .env("DAGSTER_HOME", home.path())
            .output()
            .unwrap()
    };
    assert!(!live().status.success(), "no heartbeat yet");
    let mut d = home.daemon();
    wait_until("heartbeats", Duration::from_secs(20), || {
        live().status.success()
    });
    let out = String::from_utf8_lossy(&live().stdout).to_string();
    for t in [
        "SCHEDULER",
        "SENSOR",
        "QUEUED_RUN_COORDINATOR",
        "MONITORING",
    ] {
        assert!(out.contains(&format!("{t}: healthy")), "{out}");
    }
    assert_eq!(sigterm(&mut d), 0);
}

/// `--log-format json`: every line the daemon writes is one JSON object (for log collectors).
#[test]
fn json_log_format_writes_one_object_per_line() {
    let home = Home::new(None, "", SLEEPY);
    let inst = home.instance();
    let mut d = home.daemon_with("daemon.log", &["--log-format", "json"]);
    let run_id = home.enqueue(&inst, "j", &[]);
    wait_until("the run to finish", Duration::from_secs(30), || {
        inst.storage
            .get_run(&run_id)
            .unwrap()
            .is_some_and(|r| r.status.is_finished())
    });
    assert_eq!(sigterm(&mut d), 0);
    let log = home.log("daemon.log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["fields"]["message"] == "dequeued run"
            && l["fields"]["run.id"] == run_id.as_str()),
        "{log}"
    );
    // An unknown format is refused before anything starts.
    let out = Command::new(daemon_bin())
        .args(["run", "--log-format", "xml"])
        .env("DAGSTER_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: colored, json, rich"));
}

#[test]
fn standby_takes_over_after_the_leader_is_killed_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    let sql = |q: &str| {
        let o = Command::new("sqlite3").arg(&src).arg(q).output().unwrap();
        assert!(o.status.success(), "sqlite3: {o:?}");
    };
    sql("CREATE TABLE orders(id INTEGER PRIMARY KEY); INSERT INTO orders DEFAULT VALUES;");
    let pipeline = format!(
        r#"location_name: t
resources:
  src:
    type: sqlite
    config: {{path: "{}"}}
pipeline_configs:
  a:
    kind: command
    args: [echo, sync]
jobs:
  sync:
    selection: [a]
sensors:
  new_rows:
    job: sync
    kind: table_rows
    resource: src
    table: orders
    minimum_interval_seconds: 1
    default_status: RUNNING
"#,
        src.display()
    );
    let home = Home::new(Some(TestDb::postgres()), "", &pipeline);
    let inst = home.instance();
    let mut a = home.daemon_logging_to("a.log");
    wait_until("daemon a to lead", Duration::from_secs(20), || {
        home.log("a.log").contains("now the leader")
    });
    let mut b = home.daemon_logging_to("b.log");
    let runs_with = |key: &str| {
        inst.storage
            .count_runs(&RunsFilter {
                tags: vec![("dagster/run_key".into(), key.into())],
                ..Default::default()
            })
            .unwrap()
    };
    wait_until("the first batch", Duration::from_secs(20), || {
        runs_with("rows:1") == 1
    });
    assert!(!home.log("b.log").contains("now the leader"), "two leaders");
    a.kill().unwrap(); // SIGKILL: the lease is not released
    let _ = a.wait();
    sql("INSERT INTO orders DEFAULT VALUES; INSERT INTO orders DEFAULT VALUES;");
    let killed = Instant::now();
    wait_until(
        "the standby to launch the next batch",
        Duration::from_secs(30),
        || runs_with("rows:3") == 1,
    );
    assert!(killed.elapsed() < Duration::from_secs(30));
    assert!(home.log("b.log").contains("now the leader"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs_with("rows:1"), 1);
    assert_eq!(runs_with("rows:3"), 1);
    assert_eq!(sigterm(&mut b), 0);
}

#[test]
fn failed_run_is_retried_from_failure() {
    let marker = tempfile::tempdir().unwrap();
    let m = marker.path().join("ran-once");
    let pipeline = format!(
        r#"location_name: t
pipeline_configs:
  ok_first:
    kind: command
    args: [echo, fine]
  flaky:
    kind: command
    deps: [ok_first]
    args: [sh, -c, "if [ -f '{m}' ]; then echo recovered; else touch '{m}'; exit 1; fi"]
jobs:
  j:
    selection: [ok_first, flaky]
"#,
        m = m.display()
    );
    let home = Home::new(
        None,
        "run_retries:\n  enabled: true\n  max_retries: 1\n",
        &pipeline,
    );
    let inst = home.instance();
    let id = home.enqueue(&inst, "j", &[]);
    let mut d = home.daemon();
    let retry_of = || {
        inst.storage
            .list_runs(
                &RunsFilter {
                    tags: vec![("dagster/parent_run_id".into(), id.clone())],
                    ..Default::default()
                },
                None,
                None,
            )
            .unwrap()
    };
    wait_until("the retry to succeed", Duration::from_secs(60), || {
        retry_of()
            .first()
            .is_some_and(|r| r.status == RunStatus::Success)
    });
    let parent = inst.storage.get_run(&id).unwrap().unwrap();
    assert_eq!(parent.status, RunStatus::Failure);
    let retries = retry_of();
    assert_eq!(retries.len(), 1);
    let retry = &retries[0];
    assert_eq!(retry.tags["dagster/retry_number"], "1");
    assert_eq!(parent.tags["dagster/auto_retry_run_id"], retry.run_id);
    // FROM_FAILURE: only the failed step runs again.
    assert_eq!(
        retry.step_keys_to_execute.as_deref(),
        Some(&["flaky".to_string()][..])
    );
    assert_eq!(sigterm(&mut d), 0);
}

#[test]
fn unreachable_database_is_retried_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dagster.yaml"),
        "storage:\n  postgres:\n    postgres_url: \"postgres://postgres@127.0.0.1:1/nothing\"\n",
    )
    .unwrap();
    let log = dir.path().join("daemon.log");
    let mut d = Command::new(daemon_bin())
        .arg("run")
        .env("DAGSTER_HOME", dir.path())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_until("a retry message", Duration::from_secs(20), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("cannot reach the storage; retrying")
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(d.try_wait().unwrap().is_none(), "the daemon exited");
    assert_eq!(sigterm(&mut d), 0);
}

#[test]
fn failing_sensor_is_reported_in_the_heartbeat_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = format!(
        r#"location_name: t
resources:
  src:
    type: sqlite
    config: {{path: "{}"}}
pipeline_configs:
  a:
    kind: command
    args: [echo, a]
jobs:
  sync:
    selection: [a]
sensors:
  broken:
    job: sync
    kind: table_rows
    resource: src
    table: no_such_table
    minimum_interval_seconds: 1
    default_status: RUNNING
"#,
        dir.path().join("src.db").display()
    );
    let home = Home::new(None, "", &pipeline);
    let inst = home.instance();
    let mut d = home.daemon();
    let sensor_errors = || {
        inst.storage
            .heartbeats()
            .unwrap()
            .into_iter()
            .find(|h| h.daemon_type == "SENSOR")
            .map(|h| h.errors.len())
            .unwrap_or(0)
    };
    wait_until(
        "two sensor errors in the heartbeat",
        Duration::from_secs(20),
        || sensor_errors() >= 2,
    );
    assert!(
        d.try_wait().unwrap().is_none(),
        "the daemon must keep running"
    );
    assert_eq!(sigterm(&mut d), 0);
}
