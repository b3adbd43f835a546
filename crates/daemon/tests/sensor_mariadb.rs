#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // test helpers on plain threads
//! Acceptance item 5 of the daemon issue: a `table_rows` sensor on a MariaDB table launches the
//! job once per batch of new rows, never twice for one cursor — also with two evaluators
//! (two daemons) racing on the same tick against one storage.
//!
//! Each test gets its own MariaDB database `sensor_<random>` (root, no password,
//! 127.0.0.1:3306), dropped on drop, and its own run storage.

mod common;

use common::runs_with_key;
use dagster_core::defs::{Definitions, SensorDef};
use dagster_core::domain::RunsFilter;
use dagster_core::instigator::sensor::{
    evaluate_sensor, set_running, SensorTickOutcome, RUN_KEY_TAG,
};
use dagster_core::storage::{DbStorage, RunStore};
use dagster_core::test_support::{queued_submitter, TestDb};
use dagster_pipeline::resources::{MysqlResource, MysqlSettings};
use std::path::Path;
use std::sync::Barrier;

const HOST: &str = "127.0.0.1";

fn settings(database: &str) -> MysqlSettings {
    let mut s = MysqlSettings::new(HOST, "root", database);
    s.pool_size = 2;
    s.connect_timeout = std::time::Duration::from_secs(5);
    s
}

/// A private MariaDB database with `orders(id, updated_at)`, dropped on drop.
struct SourceDb {
    name: String,
    conn: MysqlResource,
}

impl SourceDb {
    fn new() -> SourceDb {
        let name = format!(
            "sensor_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let admin = MysqlResource::new("admin", settings("information_schema")).unwrap();
        if let Err(e) = admin.execute(&[format!("CREATE DATABASE `{name}`")]) {
            panic!(
                "MariaDB is not reachable at {HOST}:3306 as root without password ({e}); \
                 start it with `service mariadb start` (see .ci/run)"
            );
        }
        let conn = MysqlResource::new("src", settings(&name)).unwrap();
        let db = SourceDb { name, conn };
        db.exec("CREATE TABLE orders(id BIGINT PRIMARY KEY, updated_at BIGINT NOT NULL)");
        db
    }

    fn exec(&self, sql: &str) {
        self.conn.execute(&[sql.to_string()]).unwrap();
    }

    /// Inserts orders `from..=to` with `updated_at = 1000 + id`.
    fn insert(&self, from: i64, to: i64) {
        let values: Vec<String> = (from..=to)
            .map(|i| format!("({i}, {})", 1000 + i))
            .collect();
        self.exec(&format!(
            "INSERT INTO orders(id, updated_at) VALUES {}",
            values.join(",")
        ));
    }
}

impl Drop for SourceDb {
    fn drop(&mut self) {
        let _ = self
            .conn
            .execute(&[format!("DROP DATABASE IF EXISTS `{}`", self.name)]);
    }
}

fn load(dir: &Path, database: &str) -> Definitions {
    let yaml = format!(
        r#"location_name: loc
resources:
  replica:
    type: mysql
    config:
      host: {HOST}
      port: 3306
      user: root
      database: {database}
      pool_size: 2
      connect_timeout_seconds: 5
pipeline_configs:
  noop:
    kind: command
    args: [echo, sync]
jobs:
  sync:
    selection: [noop]
sensors:
  new_orders:
    job: sync
    kind: table_rows
    resource: replica
    table: orders
    cursor_column: updated_at
    minimum_interval_seconds: 30
"#
    );
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let (mut d, _) = dagster_pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
    d.location_name = "loc".into();
    d
}

fn eval(storage: &DbStorage, defs: &Definitions, def: &SensorDef, now: f64) -> SensorTickOutcome {
    evaluate_sensor(&queued_submitter(storage), defs, def, now)
        .unwrap()
        .unwrap_or_else(|| panic!("sensor not evaluated at {now}"))
}

fn all_runs(s: &DbStorage) -> i64 {
    s.count_runs(&RunsFilter::default()).unwrap()
}

#[test]
fn table_rows_sensor_on_mariadb_launches_once_per_batch() {
    let src = SourceDb::new();
    let tdb = TestDb::postgres();
    let storage = tdb.storage();
    let dir = tempfile::tempdir().unwrap();
    let defs = load(dir.path(), &src.name);
    let def = defs.sensors["new_orders"].clone();
    set_running(&storage, "loc", &def, true, 1000.0).unwrap();

    // Empty table (MAX is NULL): skipped, no run.
    let t = eval(&storage, &defs, &def, 1000.0);
    assert_eq!(t.status, "SKIPPED", "{t:?}");
    assert_eq!(t.skip_reason.as_deref(), Some("no new rows"));
    assert_eq!(all_runs(&storage), 0);

    // A batch: exactly one run, for the batch's max cursor value.
    src.insert(1, 5);
    let t = eval(&storage, &defs, &def, 1031.0);
    assert_eq!(t.status, "SUCCESS", "{t:?}");
    assert_eq!(t.run_ids.len(), 1);
    let run = storage.get_run(&t.run_ids[0]).unwrap().unwrap();
    assert_eq!(run.job_name, "sync");
    assert_eq!(run.tags[RUN_KEY_TAG], "rows:1005");
    assert_eq!(run.tags["dagster/sensor_name"], "new_orders");
    assert_eq!(all_runs(&storage), 1);

    // No new rows: skipped, no second run for the same cursor.
    let t = eval(&storage, &defs, &def, 1062.0);
    assert_eq!(t.status, "SKIPPED", "{t:?}");
    assert_eq!(runs_with_key(&storage, "rows:1005"), 1);
    assert_eq!(all_runs(&storage), 1);

    // Another batch: exactly one more run.
    src.insert(6, 8);
    let t = eval(&storage, &defs, &def, 1093.0);
    assert_eq!(t.status, "SUCCESS", "{t:?}");
    assert_eq!(t.run_ids.len(), 1);
    assert_eq!(runs_with_key(&storage, "rows:1008"), 1);
    assert_eq!(all_runs(&storage), 2);

    // An update that does not move MAX(updated_at) past the cursor is not a new batch.
    src.exec("UPDATE orders SET updated_at = 1001 WHERE id = 2");
    let t = eval(&storage, &defs, &def, 1124.0);
    assert_eq!(t.status, "SKIPPED", "{t:?}");
    assert_eq!(all_runs(&storage), 2);
}

#[test]
fn two_evaluators_racing_on_mariadb_sensor_launch_once_per_batch_postgres() {
    race_two_evaluators(TestDb::postgres());
}

#[test]
fn two_evaluators_racing_on_mariadb_sensor_launch_once_per_batch_sqlite() {
    race_two_evaluators(TestDb::sqlite());
}

fn race_two_evaluators(tdb: TestDb) {
    let src = SourceDb::new();
    // Two daemons: two storage handles (own connection pools) on one database.
    let a = tdb.storage();
    let b = tdb.storage();
    let dir = tempfile::tempdir().unwrap();
    let defs = load(dir.path(), &src.name);
    let def = defs.sensors["new_orders"].clone();
    set_running(&a, "loc", &def, true, 1000.0).unwrap();

    // Each evaluator either runs the tick or, when the other one already finished it, finds the
    // minimum interval not yet passed (None); at least one of them runs it.
    let race = |now: f64| -> (Option<SensorTickOutcome>, Option<SensorTickOutcome>) {
        let barrier = Barrier::new(2);
        let run = |storage: &DbStorage| {
            barrier.wait();
            evaluate_sensor(&queued_submitter(storage), &defs, &def, now).unwrap()
        };
        let (x, y) = std::thread::scope(|s| {
            let ha = s.spawn(|| run(&a));
            let hb = s.spawn(|| run(&b));
            (ha.join().unwrap(), hb.join().unwrap())
        });
        assert!(
            x.is_some() || y.is_some(),
            "neither evaluator ran the tick at {now}"
        );
        (x, y)
    };
    let statuses = |x: &Option<SensorTickOutcome>, y: &Option<SensorTickOutcome>| -> Vec<String> {
        x.iter()
            .chain(y.iter())
            .map(|o| o.status.to_string())
            .collect()
    };
    let no_runs = |x: &Option<SensorTickOutcome>, y: &Option<SensorTickOutcome>| -> bool {
        x.iter().chain(y.iter()).all(|o| o.run_ids.is_empty())
    };

    // No rows: both skip.
    let (x, y) = race(1000.0);
    assert!(
        statuses(&x, &y).iter().all(|s| s == "SKIPPED"),
        "{x:?} {y:?}"
    );
    assert_eq!(all_runs(&a), 0);

    let mut now = 1000.0;
    let mut expected = 0;
    for batch in 0..5_i64 {
        let (from, to) = (batch * 10 + 1, batch * 10 + 10);
        src.insert(from, to);
        now += 31.0;
        let (x, y) = race(now);
        expected += 1;
        let key = format!("rows:{}", 1000 + to);
        assert_eq!(
            runs_with_key(&a, &key),
            1,
            "batch {batch}: one run for {key}; ticks {x:?} {y:?}"
        );
        assert_eq!(all_runs(&a), expected, "ticks {x:?} {y:?}");
        // Evaluating again (both daemons) without new rows: no second run.
        now += 31.0;
        let (x, y) = race(now);
        assert!(no_runs(&x, &y), "{x:?} {y:?}");
        assert_eq!(all_runs(&a), expected);
    }
}
