#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! The two-process contract (issue 5, acceptance 3): `dagster-webserver` and `dagster-daemon
//! run` as two separate OS processes that share only a temporary DAGSTER_HOME and one Postgres
//! schema, with the QueuedRunCoordinator on (the documented deployment). Through the webserver,
//! with the official Python client (`tests/two_process.py`): the demo-like job is launched and
//! reaches SUCCESS (started by the daemon: the webserver only queues), a schedule started with
//! `startSchedule` creates its run at the next minute boundary, and a long run is terminated and
//! ends CANCELED. The code location is the fixture `tests/fixtures/two_process.yaml`, named by
//! the home's `workspace.yaml`, which both processes read on their own.

mod common;

use common::*;
use dagster_core::config::home::DagsterHome;
use dagster_core::domain::{EventType, RunStatus};
use dagster_core::instance::Instance;
use dagster_core::test_support::TestDb;
use std::path::Path;
use std::process::{Command, Stdio};

fn event_types(inst: &Instance, run_id: &str) -> Vec<(Option<EventType>, String)> {
    inst.storage
        .events_for_run(run_id, None, 10_000)
        .unwrap()
        .events
        .into_iter()
        .map(|e| (e.event.event_type, e.event.message))
        .collect()
}

/// Position of the first event of type `ty` (panics with the whole log if absent).
fn position(events: &[(Option<EventType>, String)], ty: EventType, run: &str) -> usize {
    events
        .iter()
        .position(|(t, _)| *t == Some(ty))
        .unwrap_or_else(|| panic!("run {run} has no {ty:?} event: {events:#?}"))
}

#[test]
fn webserver_and_daemon_as_two_processes_on_postgres() {
    let python = venv_python();
    let _ = sibling_bin("dagster", "dagster-cli");
    let _ = sibling_bin("dagster-daemon", "dagster-daemon");
    let db = TestDb::postgres();
    let url = db.pg_url().unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two_process.yaml");
    std::fs::write(
        h.join("dagster.yaml"),
        format!(
            "storage:\n  postgres:\n    postgres_url: \"{url}\"\nrun_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n"
        ),
    )
    .unwrap();
    std::fs::write(
        h.join("workspace.yaml"),
        format!(
            "load_from:\n  - pipeline_config:\n      path: {}\n      location_name: two_process\n",
            fixture.display()
        ),
    )
    .unwrap();

    // The daemon: `dagster-daemon run`, reading $DAGSTER_HOME/workspace.yaml itself.
    let daemon_log = h.join("daemon.log");
    let mut daemon = spawn_daemon(h, &daemon_log);
    // The webserver: its own process, same home, the workspace given with -w.
    let port = free_port();
    let web_log = h.join("webserver.log");
    let mut web = Proc {
        name: "dagster-webserver",
        child: Command::new(webserver_bin())
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-w"])
            .arg(h.join("workspace.yaml"))
            .env("DAGSTER_HOME", h)
            .env_remove("DAGSTER_WEBSERVER_TOKEN")
            .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
            .current_dir(h)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&web_log).unwrap())
            .spawn()
            .unwrap(),
    };
    wait_for_server(port, &web_log);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/two_process.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(port.to_string())
        .arg("two_process")
        .output()
        .unwrap();
    let logs = || {
        format!(
            "webserver log:\n{}\ndaemon log:\n{}",
            std::fs::read_to_string(&web_log).unwrap_or_default(),
            std::fs::read_to_string(&daemon_log).unwrap_or_default()
        )
    };
    assert!(
        out.status.success(),
        "python client failed ({:?})\nstdout:\n{}\nstderr:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON result line in {stdout}"));
    let id = |k: &str| result[k].as_str().unwrap().to_string();
    let (demo, long, scheduled) = (id("demo"), id("long"), id("scheduled"));

    // Both processes stop cleanly on SIGTERM.
    assert_eq!(web.stop(), 0, "webserver exit code\n{}", logs());
    assert_eq!(daemon.stop(), 0, "daemon exit code\n{}", logs());

    // What the storage says, read by this (third) process.
    let inst = Instance::open(DagsterHome::new(h.to_path_buf())).unwrap();
    let web_text = std::fs::read_to_string(&web_log).unwrap_or_default();
    let daemon_text = std::fs::read_to_string(&daemon_log).unwrap_or_default();
    for run_id in [&demo, &long, &scheduled] {
        let events = event_types(&inst, run_id);
        // queued by the webserver (or the scheduler), started by the daemon's queue
        let enq = position(&events, EventType::RunEnqueued, run_id);
        let starting = position(&events, EventType::RunStarting, run_id);
        let start = position(&events, EventType::RunStart, run_id);
        assert!(enq < starting && starting < start, "{events:#?}");
        assert!(
            events
                .iter()
                .any(|(t, m)| *t == Some(EventType::EngineEvent)
                    && m.starts_with("Started process for run (pid:")),
            "{events:#?}"
        );
        assert!(
            daemon_text.contains(run_id.as_str()),
            "the daemon log does not name run {run_id}\n{}",
            logs()
        );
        assert!(
            !web_text.contains("launched run worker"),
            "the webserver launched a worker itself\n{}",
            logs()
        );
    }
    let run = |id: &str| inst.storage.get_run(id).unwrap().unwrap();
    assert_eq!(run(&demo).status, RunStatus::Success);
    assert_eq!(
        run(&demo).tags.get("origin").map(String::as_str),
        Some("two_process")
    );
    let demo_events = event_types(&inst, &demo);
    assert!(
        position(&demo_events, EventType::RunStart, &demo)
            < position(&demo_events, EventType::RunSuccess, &demo)
    );
    assert_eq!(
        demo_events
            .iter()
            .filter(|(t, _)| *t == Some(EventType::AssetMaterialization))
            .count(),
        2,
        "{demo_events:#?}"
    );

    let long_run = run(&long);
    assert_eq!(long_run.status, RunStatus::Canceled);
    let long_events = event_types(&inst, &long);
    assert!(
        position(&long_events, EventType::RunCanceling, &long)
            < position(&long_events, EventType::RunCanceled, &long),
        "{long_events:#?}"
    );

    let sched = run(&scheduled);
    assert_eq!(sched.status, RunStatus::Success);
    assert_eq!(
        sched.tags.get("dagster/schedule_name").map(String::as_str),
        Some("every_minute")
    );
    assert!(sched.tags.contains_key("dagster/tick"), "{:?}", sched.tags);
    let state = inst
        .storage
        .get_instigator(&dagster_core::instigator::schedule::selector_id(
            "two_process",
            "every_minute",
        ))
        .unwrap()
        .expect("the schedule's state row");
    assert_eq!(state.status, "STOPPED");
    drop(inst);
    drop(db);
}
