#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! `dagster schedule ...` and `dagster sensor ...` against a temp DAGSTER_HOME.

use std::path::Path;
use std::process::{Command, Output};

fn dagster(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dagster"))
        .args(args)
        .env("DAGSTER_HOME", home)
        .current_dir(home)
        .output()
        .expect("run dagster")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

const PIPELINE: &str = r#"location_name: loc
pipeline_configs:
  a:
    kind: command
    args: [echo, a]
jobs:
  j:
    selection: [a]
  k:
    selection: [a]
schedules:
  every_min:
    job: j
    cron: "30 2 * * *"
    execution_timezone: America/New_York
sensors:
  after_j:
    job: k
    kind: run_status
    monitored_job: j
"#;

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dagster.yaml"), "").unwrap();
    std::fs::write(dir.path().join("pipeline.yaml"), PIPELINE).unwrap();
    std::fs::write(
        dir.path().join("workspace.yaml"),
        "load_from:\n  - pipeline_config: {path: pipeline.yaml, location_name: loc}\n",
    )
    .unwrap();
    dir
}

#[test]
fn schedule_commands() {
    let h = home();
    let p = h.path();
    let out = ok(dagster(p, &["schedule", "list"]));
    assert!(out.contains("Schedule: every_min [STOPPED]"), "{out}");
    assert!(out.contains("Cron Schedule: 30 2 * * *"), "{out}");
    assert_eq!(ok(dagster(p, &["schedule", "list", "--running"])), "");
    assert_eq!(
        ok(dagster(p, &["schedule", "start", "every_min"])).trim(),
        "Started schedule every_min"
    );
    let out = ok(dagster(p, &["schedule", "list", "--running", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["status"], "RUNNING");
    assert_eq!(v[0]["execution_timezone"], "America/New_York");
    let out = ok(dagster(p, &["schedule", "preview", "every_min"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("02:30:00") || l.contains("03:00:00")),
        "{out}"
    );
    assert_eq!(ok(dagster(p, &["schedule", "logs", "every_min"])), "");
    assert_eq!(
        ok(dagster(p, &["schedule", "restart", "every_min"])).trim(),
        "Restarted schedule every_min"
    );
    assert_eq!(
        ok(dagster(
            p,
            &["schedule", "restart", "--restart-all-running"]
        ))
        .trim(),
        "Restarted schedule every_min"
    );
    assert!(ok(dagster(p, &["schedule", "list"])).contains("[RUNNING]"));
    ok(dagster(p, &["schedule", "stop", "every_min"]));
    assert!(ok(dagster(p, &["schedule", "list"])).contains("[STOPPED]"));
    let bad = dagster(p, &["schedule", "restart", "every_min"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("Cannot restart a schedule that is not running: `every_min` is STOPPED"));
    assert_eq!(
        ok(dagster(
            p,
            &["schedule", "restart", "--restart-all-running"]
        )),
        ""
    );
    let bad = dagster(p, &["schedule", "start", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no schedule named `nope`"));
}

#[test]
fn sensor_commands() {
    let h = home();
    let p = h.path();
    assert!(ok(dagster(p, &["sensor", "list"])).contains("Sensor: after_j [STOPPED]"));
    ok(dagster(p, &["sensor", "start", "after_j"]));
    assert!(ok(dagster(p, &["sensor", "list", "--running"])).contains("Sensor: after_j [RUNNING]"));
    assert_eq!(
        ok(dagster(p, &["sensor", "cursor", "after_j"])).trim(),
        "(no cursor)"
    );
    ok(dagster(
        p,
        &["sensor", "cursor", "after_j", "--set", "12.5"],
    ));
    assert_eq!(
        ok(dagster(p, &["sensor", "cursor", "after_j"])).trim(),
        "12.5"
    );
    let out = ok(dagster(p, &["sensor", "preview", "after_j"]));
    assert!(out.contains("Sensor returned false for after_j"), "{out}");
    ok(dagster(p, &["sensor", "cursor", "after_j", "--delete"]));
    assert_eq!(
        ok(dagster(p, &["sensor", "cursor", "after_j"])).trim(),
        "(no cursor)"
    );
    ok(dagster(p, &["sensor", "stop", "after_j"]));
    assert!(ok(dagster(p, &["sensor", "list", "--stopped", "--name"])).contains("after_j"));
}
