//! The `command` asset kind: real processes, compute-log capture, exit codes, timeout, cancel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // tests: a failed unwrap is a failed test; sleeps run on plain threads

use dagster_core::defs::{
    load_definitions_with_env, CancelToken, Definitions, MaterializeResult, NoopLogger, Registry,
    StepContext, StepContextParams,
};
use dagster_core::domain::{AssetKey, MetadataValue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str) -> Option<String> {
    (name == "GREETING").then(|| "hello from env".to_string())
}

/// Loads `pipeline_configs` text from a file in `dir`.
fn defs(dir: &Path, pipeline_configs: &str) -> Definitions {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, format!("pipeline_configs:\n{pipeline_configs}")).unwrap();
    match load_definitions_with_env(&Registry::with_builtins(), &path, &env) {
        Ok((d, _)) => d,
        Err(e) => panic!("{e}"),
    }
}

struct Step {
    ctx: StepContext,
    out: PathBuf,
    err: PathBuf,
}

fn step(dir: &Path, key: &str, timeout: Option<Duration>, cancel: CancelToken) -> Step {
    let out = dir.join("logs").join(format!("{key}.out"));
    let err = dir.join("logs").join(format!("{key}.err"));
    let asset_key = AssetKey::from_user_string(key);
    let ctx = StepContext::new(StepContextParams {
        run_id: "run-1".into(),
        job_name: "test_job".into(),
        step_key: asset_key.to_step_key(),
        asset_key,
        attempt: 1,
        config: serde_json::json!({"limit": 3}),
        stdout_path: out.clone(),
        stderr_path: err.clone(),
        resources: BTreeMap::new(),
        cancel,
        timeout,
        logger: Arc::new(NoopLogger),
    })
    .unwrap();
    Step { ctx, out, err }
}

fn run(defs: &Definitions, s: &mut Step, key: &str) -> anyhow::Result<MaterializeResult> {
    let asset = &defs.assets[&AssetKey::from_user_string(key)];
    asset.compute.compute(&mut s.ctx)
}

fn metadata(r: &MaterializeResult, label: &str) -> MetadataValue {
    r.metadata
        .iter()
        .find(|m| m.label == label)
        .map(|m| m.value.clone())
        .unwrap_or_else(|| panic!("no {label}"))
}

/// True while the process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(p) = s.trim().parse() {
                return p;
            }
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn success_writes_both_streams_into_the_compute_logs() {
    let dir = tempfile::tempdir().unwrap();
    let d = defs(
        dir.path(),
        r#"  ok:
    kind: command
    args: [sh, -c, 'echo "out $DAGSTER_STEP_KEY $DAGSTER_STEP_CONFIG $GREETING_VAR"; echo "to stderr" >&2', {env: GREETING}]
    env: {GREETING_VAR: {env: GREETING}}
"#,
    );
    let mut s = step(dir.path(), "ok", None, CancelToken::new());
    let r = run(&d, &mut s, "ok").unwrap();
    assert_eq!(metadata(&r, "exit_code"), MetadataValue::Int(0));
    assert!(matches!(metadata(&r, "duration_ms"), MetadataValue::Int(ms) if ms >= 0));
    // The env-sourced argument is hidden, and env values never appear.
    let MetadataValue::Text(line) = metadata(&r, "command") else {
        panic!("command is not text")
    };
    assert!(
        line.starts_with("sh -c 'echo") && line.ends_with(" ***"),
        "{line}"
    );
    assert!(!format!("{r:?}").contains("hello from env"));

    let out = std::fs::read_to_string(&s.out).unwrap();
    assert_eq!(out, "out ok {\"limit\":3} hello from env\n");
    let err = std::fs::read_to_string(&s.err).unwrap();
    assert!(err.contains("to stderr"), "{err}");
    assert!(err.contains("INFO - running command: sh -c"), "{err}");
}

#[test]
fn non_zero_exit_fails_with_the_stderr_tail_as_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = defs(
        dir.path(),
        r#"  bad:
    kind: command
    args: [sh, -c, 'for i in $(seq 1 30); do echo "line $i" >&2; done; exit 3']
  three_ok:
    kind: command
    args: [sh, -c, 'exit 3']
    success_codes: [0, 3]
  killed:
    kind: command
    args: [sh, -c, 'kill -9 $$']
"#,
    );
    let mut s = step(dir.path(), "bad", None, CancelToken::new());
    let e = run(&d, &mut s, "bad").unwrap_err();
    assert_eq!(e.to_string(), "command `sh` exited with status 3");
    let cause = e.chain().nth(1).map(|c| c.to_string()).unwrap_or_default();
    let lines: Vec<&str> = cause.lines().collect();
    assert_eq!(lines.len(), 20, "{cause}");
    assert_eq!(lines[0], "line 11");
    assert_eq!(lines[19], "line 30");

    let mut s = step(dir.path(), "three_ok", None, CancelToken::new());
    let r = run(&d, &mut s, "three_ok").unwrap();
    assert_eq!(metadata(&r, "exit_code"), MetadataValue::Int(3));

    let mut s = step(dir.path(), "killed", None, CancelToken::new());
    let e = run(&d, &mut s, "killed").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("command `sh` was killed by signal 9"),
        "{e}"
    );
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let d = defs(
        dir.path(),
        r#"  slow:
    kind: command
    args: [sh, -c, 'sleep 60 & echo $! > child.pid; echo $$ > leader.pid; wait']
    cwd: .
"#,
    );
    let mut s = step(
        dir.path(),
        "slow",
        Some(Duration::from_millis(700)),
        CancelToken::new(),
    );
    let started = Instant::now();
    let e = run(&d, &mut s, "slow").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        e.to_string()
            .starts_with("command `sh` timed out after 0.7 s"),
        "{e}"
    );
    let leader = read_pid(&dir.path().join("leader.pid"));
    let child = read_pid(&dir.path().join("child.pid"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while (alive(leader) || alive(child)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(leader), "leader {leader} still running");
    assert!(!alive(child), "background child {child} still running");
}

#[test]
fn cancel_stops_a_running_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = defs(
        dir.path(),
        "  forever: {kind: command, args: [sleep, '60']}\n",
    );
    let cancel = CancelToken::new();
    let mut s = step(dir.path(), "forever", None, cancel.clone());
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.cancel();
    });
    let started = Instant::now();
    let e = run(&d, &mut s, "forever").unwrap_err();
    canceller.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        e.to_string().starts_with("command `sleep` cancelled after"),
        "{e}"
    );
}

#[test]
fn missing_program_names_it_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = defs(
        dir.path(),
        r#"  missing: {kind: command, args: [no-such-program-xyz, a]}
  clean_env:
    kind: command
    args: [/bin/sh, -c, 'echo "[$HOME] [$FOO] [$DAGSTER_RUN_ID]"']
    inherit_env: false
    env: {FOO: bar}
  nodir: {kind: command, args: ["true"], cwd: does/not/exist}
"#,
    );
    let mut s = step(dir.path(), "missing", None, CancelToken::new());
    let e = run(&d, &mut s, "missing").unwrap_err().to_string();
    assert!(
        e.starts_with("command `no-such-program-xyz` not found in PATH ("),
        "{e}"
    );
    if let Ok(path) = std::env::var("PATH") {
        assert!(e.contains(&path), "{e}");
    }

    let mut s = step(dir.path(), "clean_env", None, CancelToken::new());
    run(&d, &mut s, "clean_env").unwrap();
    assert_eq!(
        std::fs::read_to_string(&s.out).unwrap(),
        "[] [bar] [run-1]\n"
    );

    let mut s = step(dir.path(), "nodir", None, CancelToken::new());
    let e = run(&d, &mut s, "nodir").unwrap_err().to_string();
    assert!(
        e.contains("does/not/exist") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn bad_command_entries_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(
        &path,
        "pipeline_configs:\n  a: {kind: command}\n  b: {kind: command, args: []}\n  c: {kind: command, args: [x], env: {'A=B': x}, success_codes: [], inherit_env: maybe}\n",
    )
    .unwrap();
    let errs = load_definitions_with_env(&Registry::with_builtins(), &path, &env).unwrap_err();
    let msgs: Vec<String> = errs
        .errors()
        .map(|d| format!("{}:{}: {}", d.line, d.key_path, d.message))
        .collect();
    assert_eq!(msgs.len(), 5, "{msgs:#?}");
    assert!(
        msgs[0].starts_with("2:pipeline_configs.a: missing required key `args`"),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].starts_with("3:pipeline_configs.b.args: `args` needs at least the program"),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("invalid environment variable name `A=B`")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("`success_codes` cannot be empty")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("pipeline_configs.c.inherit_env: expected true or false")),
        "{msgs:#?}"
    );
}
