#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // test helpers; plain threads
//! The DockerRunLauncher against a real engine: `dagster-daemon run` with `run_launcher:
//! DockerRunLauncher` starts each queued run in its own container, run monitoring sees a
//! container killed from outside, cancellation ends the container, and `max_concurrent_runs`
//! holds for containers.
//!
//! Needs the engine and the test image (`DOCKER_HOST` names the engine's socket):
//!
//! ```sh
//! eval "$(scripts/containers/engine.sh)"
//! scripts/containers/base-images.sh && scripts/containers/run-test-image.sh
//! ```
//!
//! The runs execute the `dagster` binary of this build, bind-mounted into the image, on the
//! test's SQLite `DAGSTER_HOME`, mounted at the same path.

mod common;

use bollard::query_parameters::{KillContainerOptions, ListContainersOptions};
use bollard::Docker;
use common::{dagster_bin, sigterm, Home};
use dagster_core::domain::{EventType, Run, RunStatus};
use dagster_core::exec::docker::{CONTAINER_ID_TAG, IMAGE_TAG, RUN_ID_LABEL};
use dagster_core::instance::Instance;
use std::collections::HashMap;
use std::process::Child;
use std::time::{Duration, Instant};

const IMAGE: &str = "dagster-rs-run-test:latest";
/// Label every container of one test carries (tests run in parallel on one engine).
const TEST_LABEL: &str = "dagster-rs-test";

const PIPELINE: &str = r#"location_name: t
pipeline_configs:
  hello:
    kind: command
    args: [sh, -c, "echo hello from the container"]
  boom:
    kind: command
    args: [sh, -c, "echo the op broke >&2; exit 3"]
  sleepy:
    kind: command
    args: [sh, -c, "sleep 600"]
  short:
    kind: command
    args: [sh, -c, "sleep 1"]
jobs:
  hello:
    selection: [hello]
  boom:
    selection: [boom]
  sleepy:
    selection: [sleepy]
  short:
    selection: [short]
"#;

struct DockerHome {
    home: Home,
    label: String,
    rt: tokio::runtime::Runtime,
    docker: Docker,
}

impl DockerHome {
    /// A SQLite home whose runs go to containers of the test image, with `max_concurrent_runs`.
    fn new(max_concurrent_runs: u32) -> DockerHome {
        let (rt, docker) = dagster_core::test_support::docker_engine(IMAGE);
        let label = uuid::Uuid::new_v4().to_string();
        let home = Home::new(None, "", PIPELINE);
        let bin_dir = dagster_bin().parent().unwrap().to_path_buf();
        let h = home.path().display().to_string();
        let yaml = format!(
            "run_queue:\n  max_concurrent_runs: {max_concurrent_runs}\n\
             run_launcher:\n  module: dagster_docker\n  class: DockerRunLauncher\n  config:\n    \
             image: {IMAGE}\n    container_kwargs:\n      network_mode: host\n      \
             volumes: [\"{h}:{h}\", \"{b}:/opt/dagster/bin:ro\"]\n      \
             labels: {{{TEST_LABEL}: \"{label}\"}}\n",
            b = bin_dir.display()
        );
        std::fs::write(home.path().join("dagster.yaml"), yaml).unwrap();
        DockerHome {
            home,
            label,
            rt,
            docker,
        }
    }

    fn daemon(&self) -> Child {
        self.home
            .daemon_command("daemon.log")
            .env("DAGSTER_DAEMON_LEASE_TTL_SECONDS", "3")
            .env("RUST_LOG", "info")
            .spawn()
            .unwrap()
    }

    /// This test's containers (all states): id → run id.
    fn containers(&self) -> HashMap<String, String> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{TEST_LABEL}={}", self.label)],
            )])),
            ..Default::default()
        };
        // Podman reports a container between its exit and its cleanup as "stopped", which the
        // API's schema (and so bollard) does not know: ask again.
        let mut tries = 0;
        let list = loop {
            match self
                .rt
                .block_on(self.docker.list_containers(Some(opts.clone())))
            {
                Ok(list) => break list,
                Err(bollard::errors::Error::JsonDataError { .. }) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("listing containers: {e}"),
            }
        };
        list.into_iter()
            .filter_map(|c| {
                let run = c.labels?.get(RUN_ID_LABEL)?.clone();
                Some((c.id?, run))
            })
            .collect()
    }

    fn run(&self, inst: &Instance, id: &str) -> Run {
        inst.storage.get_run(id).unwrap().unwrap()
    }

    fn wait_for_status(
        &self,
        inst: &Instance,
        id: &str,
        want: RunStatus,
        timeout: Duration,
    ) -> Run {
        let start = Instant::now();
        loop {
            let run = self.run(inst, id);
            if run.status == want {
                return run;
            }
            assert!(
                start.elapsed() < timeout,
                "run {id} is {} after {timeout:?}, expected {want}; daemon log:\n{}",
                run.status,
                self.home.log("daemon.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The run's events: type, message, and the data (error included) as debug text.
    fn messages(&self, inst: &Instance, id: &str) -> Vec<(Option<EventType>, String)> {
        inst.storage
            .events_for_run(id, None, 10_000)
            .unwrap()
            .events
            .into_iter()
            .map(|e| {
                let text = format!("{} {:?}", e.event.message, e.event.data);
                (e.event.event_type, text)
            })
            .collect()
    }
}

impl DockerHome {
    /// Waits until every container of this test is removed, then stops the daemon (exit 0).
    fn stop_once_containers_are_gone(&self, daemon: &mut Child) {
        wait_until(
            "the containers to be removed",
            Duration::from_secs(30),
            || self.containers().is_empty(),
        );
        assert_eq!(sigterm(daemon), 0);
    }
}

impl Drop for DockerHome {
    /// Removes whatever container of this test is left.
    fn drop(&mut self) {
        for id in self.containers().into_keys() {
            let opts = bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            };
            let _ = self
                .rt
                .block_on(self.docker.remove_container(&id, Some(opts)));
        }
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn runs_succeed_and_fail_in_their_own_containers() {
    let t = DockerHome::new(4);
    let inst = t.home.instance();
    let ok = t.home.enqueue(&inst, "hello", &[]);
    let bad = t.home.enqueue(&inst, "boom", &[]);
    let mut daemon = t.daemon();

    let run = t.wait_for_status(&inst, &ok, RunStatus::Success, Duration::from_secs(60));
    let container = run
        .tags
        .get(CONTAINER_ID_TAG)
        .expect("container id tag")
        .clone();
    assert_eq!(run.tags.get(IMAGE_TAG).map(String::as_str), Some(IMAGE));
    let launched = t.messages(&inst, &ok);
    assert!(
        launched
            .iter()
            .any(|(ty, m)| *ty == Some(EventType::EngineEvent)
                && m.starts_with(&format!(
                    "Launching run in a new container {container} with image {IMAGE}"
                ))),
        "{launched:?}"
    );
    // The op ran inside: its stdout is in the run's compute logs, read back by the CLI.
    let out = std::process::Command::new(dagster_bin())
        .args(["run", "logs", &ok, "--step", "hello"])
        .env("DAGSTER_HOME", t.home.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from the container"),
        "{out:?}"
    );

    let failed = t.wait_for_status(&inst, &bad, RunStatus::Failure, Duration::from_secs(60));
    assert!(failed.tags.contains_key(CONTAINER_ID_TAG));
    let events = t.messages(&inst, &bad);
    assert!(
        events
            .iter()
            .any(|(ty, m)| *ty == Some(EventType::StepFailure) && m.contains("the op broke")),
        "{events:?}"
    );
    // The worker's own output (the container's) is kept as the run worker's log, and the
    // containers are removed once they exited.
    wait_until(
        "both containers to be removed",
        Duration::from_secs(30),
        || t.containers().is_empty(),
    );
    let worker_log = t.home.path().join("history").join(&ok).join("worker.log");
    assert!(worker_log.is_file(), "{} missing", worker_log.display());
    assert_eq!(sigterm(&mut daemon), 0);
}

#[test]
fn a_container_killed_from_outside_fails_its_run() {
    let t = DockerHome::new(4);
    let inst = t.home.instance();
    let id = t.home.enqueue(&inst, "sleepy", &[]);
    let mut daemon = t.daemon();
    let run = t.wait_for_status(&inst, &id, RunStatus::Started, Duration::from_secs(60));
    let container = run.tags[CONTAINER_ID_TAG].clone();
    let killed = Instant::now();
    t.rt.block_on(t.docker.kill_container(
        &container,
        Some(KillContainerOptions {
            signal: "SIGKILL".into(),
        }),
    ))
    .unwrap();
    // Run monitoring checks every 2 s; the bound leaves room for a loaded machine.
    let run = t.wait_for_status(&inst, &id, RunStatus::Failure, Duration::from_secs(30));
    eprintln!(
        "FAILURE {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(run.tags["dagster/failure_reason"], "RUN_WORKER_DIED");
    let events = t.messages(&inst, &id);
    let failure = events
        .iter()
        .find(|(ty, _)| *ty == Some(EventType::RunFailure))
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    assert!(
        failure.contains(&format!(
            "container {container} stopped before the run finished"
        )) && failure.contains("exit code 137"),
        "{failure}"
    );
    t.stop_once_containers_are_gone(&mut daemon);
}

#[test]
fn terminate_cancels_the_run_and_removes_its_container() {
    let t = DockerHome::new(4);
    let inst = t.home.instance();
    let id = t.home.enqueue(&inst, "sleepy", &[]);
    let mut daemon = t.daemon();
    t.wait_for_status(&inst, &id, RunStatus::Started, Duration::from_secs(60));
    assert_eq!(t.containers().len(), 1);
    // What the webserver's terminateRun does.
    let status = dagster_core::exec::request_cancel(&*inst.storage, &id).unwrap();
    assert_eq!(status, RunStatus::Canceling);
    t.wait_for_status(&inst, &id, RunStatus::Canceled, Duration::from_secs(60));
    t.stop_once_containers_are_gone(&mut daemon);
}

#[test]
fn max_concurrent_runs_bounds_the_containers() {
    let t = DockerHome::new(4);
    let inst = t.home.instance();
    let ids: Vec<String> = (0..20)
        .map(|_| t.home.enqueue(&inst, "short", &[]))
        .collect();
    let mut daemon = t.daemon();
    let start = Instant::now();
    let mut most = 0;
    loop {
        most = most.max(t.containers().len());
        let done = ids
            .iter()
            .filter(|id| t.run(&inst, id).status.is_finished())
            .count();
        if done == ids.len() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "{done}/20 runs finished after 240 s; daemon log:\n{}",
            t.home.log("daemon.log")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for id in &ids {
        assert_eq!(t.run(&inst, id).status, RunStatus::Success, "run {id}");
    }
    eprintln!(
        "20 runs in {:.1} s, at most {most} containers at once",
        start.elapsed().as_secs_f64()
    );
    assert!(
        most <= 4,
        "{most} containers at once with max_concurrent_runs 4"
    );
    assert!(most >= 2, "the runs did not overlap ({most} at most)");
    assert_eq!(sigterm(&mut daemon), 0);
}
