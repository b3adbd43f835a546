#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! Issues 3 and 13, acceptance 2: the table sync (MariaDB 127.0.0.1:3306 → ClickHouse at
//! `DAGSTER_TEST_CLICKHOUSE_URL`, default http://127.0.0.1:8123) runs as a real `dagster`
//! process, is killed with SIGKILL once it has
//! confirmed a batch, and is run again: nothing lost, nothing duplicated in the deduplicated
//! read, and the second run resumes from the saved cursor instead of starting from zero.
//! Each test has its own MariaDB and ClickHouse databases and its own DAGSTER_HOME.

#[path = "../../pipeline/tests/sync_support/mod.rs"]
mod sync_support;

use dagster_core::config::home::DagsterHome;
use dagster_core::instance::Instance;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use sync_support::{assert_same, Env};

const ROWS: u64 = 60_000;
const BATCH: u64 = 1_000;
const ASSET: &str = "reporting/customers";

const COLS: &[&str] = &[
    "id",
    "name",
    "phone",
    "status",
    "balance",
    "credit_limit",
    "is_vip",
    "notes",
    "updated_at",
];

/// The source table: `ROWS` customers, three rows per `updated_at` second (ties at batch edges),
/// NULLs, decimals, an ENUM and non-ASCII text.
fn seed(env: &Env) {
    // The sync creates the ClickHouse database too; the test polls it from the start.
    env.dst
        .execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS `{}`", env.name))
        .unwrap();
    env.mysql(&[
        "CREATE TABLE customers (
           id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
           name VARCHAR(64) NOT NULL,
           phone VARCHAR(32) NULL,
           status ENUM('active','inactive','banned') NOT NULL,
           balance DECIMAL(12,2) NOT NULL,
           credit_limit DECIMAL(12,2) NULL,
           is_vip TINYINT(1) NOT NULL,
           notes TEXT NULL,
           updated_at DATETIME NOT NULL,
           KEY idx_updated (updated_at, id)
         ) DEFAULT CHARSET=utf8mb4",
        &format!(
            "INSERT INTO customers SELECT seq, CONCAT(ELT(1 + seq % 3, 'Ana', 'Müller', 'O''Brien'), ' ', seq),
               IF(seq % 5 = 0, NULL, CONCAT('+1-555-', seq)), ELT(1 + seq % 3, 'active', 'inactive', 'banned'),
               (seq % 100000) / 100.0, IF(seq % 3 = 0, NULL, (seq % 5000) * 1.25), seq % 2,
               IF(seq % 10 = 0, CONCAT('note ', seq, ' — 🎉'), NULL),
               TIMESTAMP('2024-01-01') + INTERVAL (seq DIV 3) SECOND
             FROM seq_1_to_{ROWS}"
        ),
    ]);
}

/// A DAGSTER_HOME with a pipeline config whose `customers_sync` reads the test's MariaDB
/// database and writes the test's ClickHouse database in batches of `BATCH` rows.
fn home(env: &Env, mode: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dagster.yaml"), "").unwrap();
    let db = &env.name;
    let ch_url = sync_support::ch_url();
    let validation = sync_support::ch_validation();
    std::fs::write(
        dir.path().join("pipeline.yaml"),
        format!(
            r#"location_name: sync_kill
resources:
  replica:
    type: mysql
    config: {{host: 127.0.0.1, port: 3306, user: root, database: {db}, tls: false}}
  reporting:
    type: clickhouse
    config: {{url: "{ch_url}", database: {db}, validation: {validation}, compression: none}}
pipeline_configs:
  customers_sync:
    kind: table_sync
    key: {ASSET}
    source: replica
    source_table: customers
    destination: reporting
    destination_table: customers
    mode: {mode}
    cursor_column: updated_at
    primary_key: [id]
    batch_size: {BATCH}
    progress_seconds: 0.1
jobs:
  sync_job:
    selection: [{ASSET}]
"#
        ),
    )
    .unwrap();
    dir
}

fn dagster(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dagster"));
    c.env("DAGSTER_HOME", home)
        .env_remove("DAGSTER_PG_URL")
        .current_dir(home);
    c
}

fn sync_args(how: &str) -> Vec<&'static str> {
    match how {
        "job" => vec!["job", "execute", "-j", "sync_job", "-f", "pipeline.yaml"],
        _ => vec![
            "asset",
            "materialize",
            "-f",
            "pipeline.yaml",
            "--select",
            ASSET,
        ],
    }
}

fn text(o: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn log_of(home: &Path) -> String {
    std::fs::read_to_string(home.join("sync.log")).unwrap_or_default()
}

/// The sync state saved in the instance key-value store (JSON), if any.
fn saved_state(inst: &Instance) -> Option<Value> {
    let text = inst
        .storage
        .kv_get("table_sync/reporting/customers")
        .ok()??;
    serde_json::from_str(&text).ok()
}

fn open_instance(home: &Path) -> Instance {
    Instance::open(DagsterHome::new(home)).unwrap()
}

/// True once the state holds a confirmed position: the incremental `last_key`, or a full
/// sync's `last_key` (one reader) or the `last_key` of one of its key ranges.
fn has_confirmed_batch(state: &Value) -> bool {
    let set = |v: &Value| !v.is_null();
    set(&state["last_key"])
        || set(&state["full"]["last_key"])
        || state["full"]["ranges"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| set(&r["last_key"])))
}

/// Starts the sync as a process and SIGKILLs it once it has confirmed at least one batch
/// (its saved position differs from `before`, the state saved by an earlier run). Returns the
/// state saved when it died.
fn start_and_kill(env: &Env, home: &Path, how: &str, table: &str, before: &Value) -> Value {
    let log = std::fs::File::create(home.join("sync.log")).unwrap();
    let mut child: Child = dagster(home)
        .args(sync_args(how))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start dagster");
    let deadline = Instant::now() + Duration::from_secs(180);
    // First wait for rows in ClickHouse (the instance database exists by then), then for the
    // cursor saved after the first confirmed batch.
    let rows_sql = format!(
        "SELECT count() FROM system.parts WHERE database = '{}' AND table = '{table}' AND active",
        env.name
    );
    let mut inst: Option<Instance> = None;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the sync ended ({status}) before it could be killed; output:\n{}",
                log_of(home)
            );
        }
        assert!(
            Instant::now() < deadline,
            "no batch confirmed within 180 s; output:\n{}",
            log_of(home)
        );
        if inst.is_none() {
            let parts: u64 = env
                .dst
                .query_value(&rows_sql)
                .unwrap()
                .unwrap()
                .parse()
                .unwrap();
            if parts > 0 {
                inst = Some(open_instance(home));
            }
        }
        if let Some(i) = &inst {
            if saved_state(i).is_some_and(|s| {
                has_confirmed_batch(&s)
                    && (s["last_key"] != before["last_key"] || s["full"] != before["full"])
            }) {
                kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
                let status = child.wait().unwrap();
                assert_eq!(
                    status.signal(),
                    Some(Signal::SIGKILL as i32),
                    "the sync was killed, not finished; output:\n{}",
                    log_of(home)
                );
                return saved_state(i).unwrap();
            }
        }
        // Plain test thread: a short pause between polls.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs the sync to the end and returns the metadata of its materialization (label → value)
/// (`run list` shows the newest run first).
fn run_to_end(home: &Path, how: &str) -> serde_json::Map<String, Value> {
    run_to_end_with_output(home, how).0
}

/// [`run_to_end`], with the CLI's output and the messages of the run's log events.
fn run_to_end_with_output(
    home: &Path,
    how: &str,
) -> (serde_json::Map<String, Value>, String, Vec<String>) {
    let out = dagster(home).args(sync_args(how)).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = dagster(home)
        .args(["run", "list", "--json"])
        .output()
        .unwrap();
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    let run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "SUCCESS")
        .unwrap_or_else(|| panic!("no successful run: {runs}"));
    let show = dagster(home)
        .args(["run", "show", run["run_id"].as_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    let messages: Vec<String> = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect();
    let mat = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "ASSET_MATERIALIZATION")
        .unwrap_or_else(|| panic!("no materialization: {show}"));
    let meta = mat["data"]["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["label"].as_str().unwrap().to_string(),
                m["value"]["value"].clone(),
            )
        })
        .collect();
    (meta, text(&out), messages)
}

fn int(meta: &serde_json::Map<String, Value>, label: &str) -> u64 {
    meta.get(label)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer `{label}` in {meta:?}"))
}

/// Exactly one live row per source key in ClickHouse, equal to the source.
fn assert_complete(env: &Env, rows: u64) {
    assert_same(env, "customers", COLS, "id");
    let db = &env.name;
    assert_eq!(
        env.ch_count(&format!("SELECT uniqExact(id) FROM `{db}`.customers")),
        rows
    );
    assert_eq!(
        env.ch_count(&format!("SELECT count() FROM `{db}`.customers_dedup")),
        rows
    );
}

#[test]
fn an_incremental_sync_killed_during_its_initial_snapshot_resumes_it() {
    let env = Env::new();
    seed(&env);
    let home = home(&env, "incremental");
    // The first run of an incremental sync loads a snapshot in primary key order, in parallel
    // key ranges, straight into the destination table.
    let at_kill = start_and_kill(&env, home.path(), "job", "customers", &Value::Null);
    let snapshot = &at_kill["full"];
    assert_eq!(
        snapshot["staging"], "customers",
        "an unfinished snapshot into the destination table: {at_kill}"
    );
    assert!(at_kill["last_key"].is_null(), "no cursor yet: {at_kill}");
    assert_eq!(
        snapshot["upper_key"][1]["v"].as_u64(),
        Some(ROWS),
        "the snapshot's upper key is the largest (updated_at, id): {at_kill}"
    );
    // Rows committed while the snapshot is unfinished: one it has read (id 10), one it has
    // not (id 59990) moved past its upper bound, and two new ones.
    env.mysql(&[
        "UPDATE customers SET balance = 9876.54, phone = NULL, updated_at = '2025-01-01' WHERE id IN (10, 59990)",
        &format!(
            "INSERT INTO customers SELECT id + {ROWS}, name, phone, status, balance, credit_limit, is_vip, notes, '2025-01-02' FROM customers WHERE id IN (1, 2)"
        ),
    ]);

    // The rerun resumes the snapshot from its confirmed keys and completes it, showing its
    // progress on the terminal and in the run's events.
    let (meta, output, messages) = run_to_end_with_output(home.path(), "job");
    let progress = |m: &str| m.contains("progress: ") && m.contains("rows/s");
    assert!(
        output.lines().any(progress),
        "the CLI shows the sync's progress: {output}"
    );
    assert!(
        messages.iter().any(|m| progress(m)),
        "the run's events carry the progress: {messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("resuming the initial snapshot")),
        "{messages:?}"
    );
    let rows_read = int(&meta, "rows_read");
    assert!(
        rows_read < ROWS - 1,
        "the second run resumed the snapshot instead of starting from zero: it read {rows_read} of {ROWS} rows"
    );
    assert!(
        log_of(home.path()).contains("no saved cursor"),
        "the first run said it loads a snapshot: {}",
        log_of(home.path())
    );
    let cursor_after = meta["cursor_after"].as_str().unwrap().to_string();
    assert!(
        cursor_after.ends_with(&format!(", {ROWS})")),
        "after the snapshot the cursor is its upper key: {cursor_after}"
    );
    // id 59990 moved past the upper bound before the snapshot reached it: not read yet.
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM `{}`.customers_dedup WHERE id > {ROWS} OR toString(balance) = '9876.54'",
            env.name
        )),
        0,
        "rows committed during the snapshot wait for the next run"
    );

    // The next run takes the rows committed during the snapshot, each once.
    let meta = run_to_end(home.path(), "job");
    assert_eq!(
        int(&meta, "rows_read"),
        4,
        "exactly the rows committed during the snapshot: {meta:?}"
    );
    assert_eq!(meta["cursor_before"].as_str(), Some(cursor_after.as_str()));
    assert_complete(&env, ROWS + 2);
}

#[test]
fn an_incremental_sync_killed_with_sigkill_resumes_without_loss_or_duplicates() {
    let env = Env::new();
    seed(&env);
    let home = home(&env, "incremental");
    // The initial snapshot, then every row moves: the next run reads them all in
    // (updated_at, id) order, in batches, and is killed.
    run_to_end(home.path(), "job");
    let before = saved_state(&open_instance(home.path())).unwrap();
    env.mysql(&["UPDATE customers SET updated_at = updated_at + INTERVAL 1 YEAR"]);
    let at_kill = start_and_kill(&env, home.path(), "job", "customers", &before);
    let cursor = at_kill["last_key"].clone();
    assert!(cursor.is_array(), "a saved cursor: {at_kill}");
    assert!(
        cursor[0]["v"]
            .as_str()
            .is_some_and(|c| c.starts_with("2025")),
        "the cursor of the second run: {at_kill}"
    );
    // Rows change while the sync is down: one already synced, one not yet.
    env.mysql(&[
        "UPDATE customers SET balance = 1.23, phone = NULL, updated_at = '2026-01-01' WHERE id IN (10, 59990)",
    ]);

    let meta = run_to_end(home.path(), "job");
    let rows_read = int(&meta, "rows_read");
    assert!(
        rows_read < ROWS,
        "the second run resumed instead of starting from zero: it read {rows_read} of {ROWS} rows"
    );
    // Everything after the saved cursor, plus id 10 (moved past it); id 59990 moved too.
    let saved = saved_rows(&cursor);
    assert!((BATCH..59_990).contains(&saved), "cursor {cursor}");
    assert_eq!(
        rows_read,
        ROWS - saved + 1,
        "the second run read exactly the rows after the saved cursor {cursor}"
    );
    let before = meta["cursor_before"].as_str().unwrap();
    assert!(
        !before.is_empty() && before.ends_with(&format!("{})", cursor[1]["v"])),
        "cursor_before `{before}` is the cursor saved before the kill ({cursor})"
    );
    assert_complete(&env, ROWS);

    // And the next run has nothing to do.
    let meta = run_to_end(home.path(), "job");
    assert_eq!(int(&meta, "rows_read"), 0);
    assert_eq!(int(&meta, "destination_row_count"), ROWS);
}

/// Rows up to and including the saved cursor `[updated_at, id]` (ids and `updated_at` grow
/// together in the seed, so the id is the number of rows read).
fn saved_rows(cursor: &Value) -> u64 {
    cursor[1]["v"].as_u64().unwrap_or(0)
}

#[test]
fn a_full_sync_killed_with_sigkill_resumes_into_its_staging_table() {
    let env = Env::new();
    seed(&env);
    let home = home(&env, "full");
    let at_kill = start_and_kill(
        &env,
        home.path(),
        "asset",
        "customers__full_sync",
        &Value::Null,
    );
    assert!(
        at_kill["full"].is_object(),
        "an unfinished full sync: {at_kill}"
    );
    // Readers never see a partial table: the destination does not exist yet.
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name = 'customers'",
            env.name
        )),
        0
    );

    let meta = run_to_end(home.path(), "asset");
    let rows_read = int(&meta, "rows_read");
    assert!(
        rows_read < ROWS,
        "the second run resumed instead of starting from zero: it read {rows_read} of {ROWS} rows"
    );
    assert_eq!(int(&meta, "destination_row_count"), ROWS);
    assert_complete(&env, ROWS);
    // The staging table was swapped in.
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name LIKE '%sync%'",
            env.name
        )),
        0
    );
}
