#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // test helpers on plain threads
//! Sensor ticks against real storage with an injected "now": cursor, minimum interval, run_key
//! dedupe (a cursor rolled back by a crash never launches a second run), built-in kinds.

mod common;

use common::runs_with_key;
use dagster_core::defs::Definitions;
use dagster_core::domain::{EventType, NewEvent, RunsFilter};
use dagster_core::exec::{create_run, CreateRun};
use dagster_core::instigator::sensor::{evaluate_sensor, set_cursor, set_running, RUN_KEY_TAG};
use dagster_core::storage::{EventLogStore, RunStore};
use dagster_core::test_support::{queued_submitter, TestDb};
use std::path::Path;

fn load(dir: &Path, yaml: &str) -> Definitions {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let (mut d, _) = dagster_pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
    d.location_name = "loc".into();
    d
}

fn sqlite_exec(db: &Path, sql: &str) {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        other => panic!("sqlite3 {sql}: {other:?} (install the sqlite3 command line tool)"),
    }
}

#[test]
fn table_rows_sensor_launches_once_per_batch() {
    let tdb = TestDb::postgres();
    let storage = tdb.storage();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    sqlite_exec(&src, "CREATE TABLE orders(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO orders(v) VALUES ('a'),('b'),('c');");
    let defs = load(
        dir.path(),
        &format!(
            r#"location_name: loc
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
  new_orders:
    job: sync
    kind: table_rows
    resource: src
    table: orders
    cursor_column: id
    minimum_interval_seconds: 30
"#,
            src.display()
        ),
    );
    let def = defs.sensors["new_orders"].clone();
    let eval = |now: f64| evaluate_sensor(&queued_submitter(&storage), &defs, &def, now).unwrap();
    // STOPPED by default: nothing.
    assert!(eval(1000.0).is_none());
    set_running(&storage, "loc", &def, true, 1000.0).unwrap();
    let t = eval(1000.0).unwrap();
    assert_eq!(t.status, "SUCCESS", "{t:?}");
    assert_eq!(runs_with_key(&storage, "rows:3"), 1);
    // Within the minimum interval: not evaluated.
    assert!(eval(1010.0).is_none());
    // No new rows: skipped with a reason.
    let t = eval(1031.0).unwrap();
    assert_eq!(t.status, "SKIPPED");
    assert_eq!(t.skip_reason.as_deref(), Some("no new rows"));
    // A new batch: one run.
    sqlite_exec(&src, "INSERT INTO orders(v) VALUES ('d'),('e');");
    let t = eval(1062.0).unwrap();
    assert_eq!(t.status, "SUCCESS");
    assert_eq!(runs_with_key(&storage, "rows:5"), 1);
    // A crash lost the cursor update: the same batch is not launched twice.
    set_cursor(&storage, "loc", &def, Some("3".into())).unwrap();
    let t = eval(1093.0).unwrap();
    assert_eq!(t.status, "SKIPPED", "{t:?}");
    assert_eq!(runs_with_key(&storage, "rows:5"), 1);
    assert_eq!(storage.count_runs(&RunsFilter::default()).unwrap(), 2);
}

#[test]
fn run_status_sensor_launches_after_success() {
    let tdb = TestDb::sqlite();
    let storage = tdb.storage();
    let dir = tempfile::tempdir().unwrap();
    let defs = load(
        dir.path(),
        r#"location_name: loc
pipeline_configs:
  a:
    kind: command
    args: [echo, a]
  b:
    kind: command
    args: [echo, b]
jobs:
  first:
    selection: [a]
  second:
    selection: [b]
sensors:
  after_first:
    job: second
    kind: run_status
    monitored_job: first
    run_status: SUCCESS
    minimum_interval_seconds: 1
    default_status: RUNNING
"#,
    );
    let def = defs.sensors["after_first"].clone();
    let now = dagster_core::domain::now_ts();
    let eval = |now: f64| evaluate_sensor(&queued_submitter(&storage), &defs, &def, now).unwrap();
    // The first tick only initializes the cursor.
    assert_eq!(eval(now).unwrap().status, "SKIPPED");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let run = create_run(
        &storage,
        &defs,
        CreateRun {
            job_name: "first".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let ev = |t| NewEvent::new(&run.run_id, "first", Some(t), "");
    let out = storage
        .store_events(&[
            ev(EventType::RunStarting),
            ev(EventType::RunStart),
            ev(EventType::RunSuccess),
        ])
        .unwrap();
    assert!(out.rejected.is_empty(), "{out:?}");
    let t = eval(now + 2.0).unwrap();
    assert_eq!(t.status, "SUCCESS", "{t:?}");
    let launched = storage.get_run(&t.run_ids[0]).unwrap().unwrap();
    assert_eq!(launched.job_name, "second");
    assert_eq!(launched.tags[RUN_KEY_TAG], run.run_id);
    assert_eq!(launched.tags["dagster/sensor_name"], "after_first");
    // Nothing new: skipped; and no second run for the same monitored run.
    assert_eq!(eval(now + 4.0).unwrap().status, "SKIPPED");
    assert_eq!(runs_with_key(&storage, &run.run_id), 1);
}

#[test]
fn asset_materialized_sensor_launches_per_materialization() {
    use dagster_core::domain::{AssetKey, EventData, Materialization};
    let tdb = TestDb::sqlite();
    let storage = tdb.storage();
    let dir = tempfile::tempdir().unwrap();
    let defs = load(
        dir.path(),
        r#"location_name: loc
pipeline_configs:
  up:
    kind: command
    args: [echo, up]
  down:
    kind: command
    args: [echo, down]
jobs:
  up_job:
    selection: [up]
  down_job:
    selection: [down]
sensors:
  on_up:
    job: down_job
    kind: asset_materialized
    asset: up
    minimum_interval_seconds: 1
    default_status: RUNNING
"#,
    );
    let def = defs.sensors["on_up"].clone();
    let eval = |now: f64| evaluate_sensor(&queued_submitter(&storage), &defs, &def, now).unwrap();
    let t = eval(100.0).unwrap();
    assert_eq!(t.status, "SKIPPED");
    let materialize = || {
        let run = create_run(
            &storage,
            &defs,
            CreateRun {
                job_name: "up_job".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let ev = NewEvent::new(
            &run.run_id,
            "up_job",
            Some(EventType::AssetMaterialization),
            "",
        )
        .step("up")
        .data(EventData::Asset(Materialization {
            asset_key: AssetKey::from_user_string("up"),
            description: None,
            metadata: Vec::new(),
            partition: None,
            tags: Default::default(),
        }));
        storage.store_events(&[ev]).unwrap();
    };
    materialize();
    let t = eval(102.0).unwrap();
    assert_eq!(t.status, "SUCCESS", "{t:?}");
    assert_eq!(t.run_ids.len(), 1);
    assert_eq!(eval(104.0).unwrap().status, "SKIPPED");
    materialize();
    materialize();
    let t = eval(106.0).unwrap();
    assert_eq!(t.run_ids.len(), 2, "{t:?}");
    let down = storage
        .count_runs(&RunsFilter {
            job_name: Some("down_job".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(down, 3);
}
