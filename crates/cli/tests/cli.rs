#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! End-to-end tests of the `dagster` binary: each test gets its own DAGSTER_HOME (and its own
//! Postgres schema where it uses Postgres) and runs in parallel with the others.

use dagster_core::test_support::TestDb;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn dagster(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dagster"))
        .args(args)
        .env("DAGSTER_HOME", home)
        .env_remove("DAGSTER_PG_URL")
        .current_dir(home)
        .output()
        .expect("run dagster")
}

fn text(o: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn local_yaml() -> String {
    repo_root()
        .join("pipeline-config/local.yaml")
        .display()
        .to_string()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// Runs `job execute -j demo_job` against a fresh home and returns the run id.
fn execute_demo(home: &Path) -> String {
    let out = dagster(
        home,
        &["job", "execute", "-j", "demo_job", "-f", &local_yaml()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = json(&dagster(home, &["run", "list", "--json"]));
    let run = &runs[0];
    assert_eq!(run["status"], "SUCCESS", "{runs}");
    run["run_id"].as_str().expect("run id").to_string()
}

fn event_types(show: &Value) -> Vec<String> {
    show["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or("LOG").to_string())
        .collect()
}

#[test]
fn demo_job_on_embedded_sqlite() {
    let home = tempfile::tempdir().expect("tempdir");
    let run_id = execute_demo(home.path());
    assert!(
        home.path().join("storage/dagster.db").is_file(),
        "SQLite metadata DB under storage/"
    );
    let show = json(&dagster(home.path(), &["run", "show", &run_id, "--json"]));
    let types = event_types(&show);
    for want in [
        "RUN_START",
        "STEP_START",
        "STEP_OUTPUT",
        "ASSET_MATERIALIZATION",
        "STEP_SUCCESS",
        "LOGS_CAPTURED",
        "RUN_SUCCESS",
    ] {
        assert!(
            types.iter().any(|t| t == want),
            "missing {want} in {types:?}"
        );
    }
    // every step has its compute log files
    let steps = show["steps"].as_object().expect("steps");
    assert!(steps.len() >= 4, "{steps:?}");
    for step in steps.keys() {
        let dir = home.path().join("logs").join(&run_id).join("compute_logs");
        assert!(
            dir.join(format!("{step}.out")).is_file(),
            "no stdout log for {step}"
        );
        assert!(
            dir.join(format!("{step}.err")).is_file(),
            "no stderr log for {step}"
        );
    }
    // materializations carry metadata
    let mats: Vec<&Value> = show["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "ASSET_MATERIALIZATION")
        .collect();
    assert_eq!(mats.len(), steps.len());
    assert!(
        mats.iter().all(|m| !m["data"]["metadata"]
            .as_array()
            .map(|a| a.is_empty())
            .unwrap_or(true)),
        "{mats:?}"
    );
    // the command step's stdout is readable through the CLI
    let logs = dagster(
        home.path(),
        &["run", "logs", &run_id, "--step", "demo__report"],
    );
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs));
    assert!(!logs.stdout.is_empty(), "{}", text(&logs));
}

#[test]
fn same_instance_on_postgres_via_dagster_yaml() {
    let db = TestDb::postgres();
    let url = db.pg_url().expect("postgres url");
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        home.path().join("dagster.yaml"),
        "storage:\n  postgres:\n    postgres_url: {env: DAGSTER_PG_URL}\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_dagster"))
        .args(["job", "execute", "-j", "demo_job", "-f", &local_yaml()])
        .env("DAGSTER_HOME", home.path())
        .env("DAGSTER_PG_URL", &url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !home.path().join("storage/dagster.db").exists(),
        "must not use SQLite"
    );
    // The run is in Postgres.
    use dagster_core::storage::RunStore;
    let runs = db
        .storage()
        .list_runs(&Default::default(), None, None)
        .expect("list");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, dagster_core::domain::RunStatus::Success);
    assert_eq!(runs[0].job_name, "demo_job");
}

#[test]
fn failing_step_fails_the_run_with_error_and_exit_1() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = dagster(
        home.path(),
        &[
            "job",
            "execute",
            "-j",
            "failing_job",
            "-f",
            &fixture("failing.yaml").display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("STEP_FAILURE"),
        "live progress shows the failure: {stderr}"
    );
    assert!(
        stderr.contains("fatal: table missing"),
        "cause (stderr tail) shown: {stderr}"
    );
    let runs = json(&dagster(home.path(), &["run", "list", "--json"]));
    assert_eq!(runs[0]["status"], "FAILURE");
    assert_eq!(runs[0]["tags"]["dagster/failure_reason"], "STEP_FAILURE");
    let run_id = runs[0]["run_id"].as_str().expect("id");
    let show = json(&dagster(home.path(), &["run", "show", run_id, "--json"]));
    assert_eq!(show["steps"]["broken"]["status"], "FAILURE");
    assert_eq!(show["steps"]["after_broken"]["status"], "SKIPPED");
    assert_eq!(show["steps"]["ok_first"]["status"], "SUCCESS");
    let failure = show["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event_type"] == "STEP_FAILURE")
        .expect("STEP_FAILURE");
    let err = &failure["data"]["error"];
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("exited with status 3"),
        "{failure}"
    );
    assert!(
        err["cause"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("fatal: table missing"),
        "{failure}"
    );
    let human = dagster(home.path(), &["run", "show", run_id]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("caused by: "),
        "{}",
        text(&human)
    );
}

#[test]
fn step_retry_recovers() {
    let home = tempfile::tempdir().expect("tempdir");
    let marker = home.path().join("marker");
    let out = Command::new(env!("CARGO_BIN_EXE_dagster"))
        .args([
            "job",
            "execute",
            "-j",
            "flaky_job",
            "-f",
            &fixture("flaky.yaml").display().to_string(),
        ])
        .env("DAGSTER_HOME", home.path())
        .env("FLAKY_MARKER", &marker)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = json(&dagster(home.path(), &["run", "list", "--json"]));
    assert_eq!(runs[0]["status"], "SUCCESS");
    let show = json(&dagster(
        home.path(),
        &[
            "run",
            "show",
            runs[0]["run_id"].as_str().expect("id"),
            "--json",
        ],
    ));
    let types = event_types(&show);
    assert!(
        types.contains(&"STEP_UP_FOR_RETRY".to_string()),
        "{types:?}"
    );
    assert!(types.contains(&"STEP_RESTARTED".to_string()), "{types:?}");
    assert!(!types.contains(&"STEP_FAILURE".to_string()), "{types:?}");
}

#[test]
fn three_config_mistakes_are_all_reported_with_file_and_line() {
    let home = tempfile::tempdir().expect("tempdir");
    let f = fixture("three_mistakes.yaml").display().to_string();
    let out = dagster(home.path(), &["definitions", "validate", "-f", &f]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (line, what) in [(9, "no_such_resource"), (16, "not_an_asset"), (20, "cron")] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("three_mistakes.yaml:{line}:")) && l.contains(what)),
            "expected an error at line {line} about {what}:\n{stderr}"
        );
    }
    assert!(stderr.contains("3 configuration errors"), "{stderr}");
    // job execute refuses the same file with exit code 2
    let out = dagster(home.path(), &["job", "execute", "-j", "j", "-f", &f]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn bad_dagster_yaml_is_exit_2_with_key_path() {
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(home.path().join("dagster.yaml"), "run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config:\n    max_concurent_runs: 3\n").expect("write");
    let out = dagster(home.path(), &["run", "list"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dagster.yaml:5:")
            && stderr.contains("run_coordinator.config.max_concurent_runs"),
        "{stderr}"
    );
}

#[test]
fn instance_info_and_migrate() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = dagster(home.path(), &["instance", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = dagster(home.path(), &["instance", "info"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Storage schema state"), "{stdout}");
    assert!(stdout.contains("sqlite"), "{stdout}");
}

#[test]
fn run_delete_and_wipe() {
    let home = tempfile::tempdir().expect("tempdir");
    let run_id = execute_demo(home.path());
    let out = dagster(home.path(), &["run", "delete", &run_id, "-f"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !home.path().join("logs").join(&run_id).exists(),
        "compute logs deleted with the run"
    );
    let runs = json(&dagster(home.path(), &["run", "list", "--json"]));
    assert_eq!(runs.as_array().map(Vec::len), Some(0));
    execute_demo(home.path());
    let out = dagster(home.path(), &["run", "wipe", "-f"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = json(&dagster(home.path(), &["run", "list", "--json"]));
    assert_eq!(runs.as_array().map(Vec::len), Some(0));
}

#[test]
fn job_and_asset_listings() {
    let home = tempfile::tempdir().expect("tempdir");
    let jobs = json(&dagster(
        home.path(),
        &["job", "list", "--json", "-f", &local_yaml()],
    ));
    assert!(
        jobs["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .any(|j| j["name"] == "demo_job"),
        "{jobs}"
    );
    let assets = json(&dagster(
        home.path(),
        &["asset", "list", "--json", "-f", &local_yaml()],
    ));
    assert!(
        assets
            .as_array()
            .expect("assets")
            .iter()
            .any(|a| a["key"] == "demo/summary"),
        "{assets}"
    );
    let out = dagster(
        home.path(),
        &[
            "asset",
            "materialize",
            "--select",
            "+demo/daily_totals",
            "-f",
            &local_yaml(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = dagster(
        home.path(),
        &[
            "asset",
            "materialize",
            "--select",
            "nope",
            "-f",
            &local_yaml(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// `job launch` queues the run; with no daemon heartbeating, it says so. A tag the daemon acts
/// on with a value it cannot read is refused (exit 2), naming the tag.
#[test]
fn launch_without_a_daemon_says_so_and_bad_tags_are_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = dagster(
        home.path(),
        &["job", "launch", "-j", "demo_job", "-f", &local_yaml()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("QUEUED: the daemon"), "{t}");
    assert!(
        t.contains("warning: no dagster-daemon is running against this instance (none has ever heartbeated)"),
        "{t}"
    );
    let out = dagster(
        home.path(),
        &[
            "job",
            "launch",
            "-j",
            "demo_job",
            "-f",
            &local_yaml(),
            "--tags",
            r#"{"dagster/priority": "high"}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(r#"invalid run tag `dagster/priority` = "high": expected an integer"#),
        "{}",
        text(&out)
    );
    // Only the first run exists.
    let runs = json(&dagster(home.path(), &["run", "list", "--json"]));
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
}

/// `dagster run list | head -1`: the reader closing the pipe ends the process quietly (as for
/// other Unix tools), never with a panic message.
#[test]
fn output_cut_off_by_the_reader_is_not_a_panic() {
    let home = tempfile::tempdir().unwrap();
    execute_demo(home.path());
    // A pipe whose read end is already closed: the first write fails as it would once `head`
    // has exited.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_dagster"))
        .args(["run", "list"])
        .env("DAGSTER_HOME", home.path())
        .env_remove("DAGSTER_PG_URL")
        .current_dir(home.path())
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
