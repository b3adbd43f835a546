#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // test helpers; plain threads
//! `DockerRunLauncher::sweep` against a real engine: a run container whose launcher process
//! stopped (nobody watches it) is removed once it has been exited for 30 s, its output appended
//! to the run's worker log; a running one is left alone.
//!
//! Needs the engine (`DOCKER_HOST`) and the local `debian:bookworm-slim` image:
//! `eval "$(scripts/containers/engine.sh)" && scripts/containers/base-images.sh`.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{InspectContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use dagster_core::config::instance::DockerLauncherConfig;
use dagster_core::exec::docker::RUN_ID_LABEL;
use dagster_core::exec::DockerRunLauncher;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const IMAGE: &str = "debian:bookworm-slim";

/// A started container labelled as the run `run_id`'s, running `sh -c script`.
fn run_container(rt: &tokio::runtime::Runtime, d: &Docker, run_id: &str, script: &str) -> String {
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        labels: Some(HashMap::from([(
            RUN_ID_LABEL.to_string(),
            run_id.to_string(),
        )])),
        ..Default::default()
    };
    let id = rt.block_on(d.create_container(None, body)).unwrap().id;
    rt.block_on(d.start_container(&id, None)).unwrap();
    id
}

fn exists(rt: &tokio::runtime::Runtime, d: &Docker, id: &str) -> bool {
    rt.block_on(d.inspect_container(id, None::<InspectContainerOptions>))
        .is_ok()
}

#[test]
fn sweep_removes_exited_run_containers_nobody_watches_and_keeps_their_output() {
    let (rt, d) = dagster_core::test_support::docker_engine(IMAGE);
    let home = tempfile::tempdir().unwrap();
    let done_run = uuid::Uuid::new_v4().to_string();
    let busy_run = uuid::Uuid::new_v4().to_string();
    let done = run_container(&rt, &d, &done_run, "echo left behind by a stopped daemon");
    let busy = run_container(&rt, &d, &busy_run, "sleep 600");
    let launcher = DockerRunLauncher::new(DockerLauncherConfig::default(), home.path()).unwrap();

    // Exited moments ago: its own launcher (if alive) may still be copying it. Kept.
    let start = Instant::now();
    launcher.sweep().unwrap();
    assert!(exists(&rt, &d, &done), "swept too early");
    // 30 s after its exit it is removed; the running one never is.
    while exists(&rt, &d, &done) {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not swept after 90 s"
        );
        std::thread::sleep(Duration::from_secs(2));
        launcher.sweep().unwrap();
    }
    assert!(exists(&rt, &d, &busy), "a running container was swept");
    let log = home
        .path()
        .join("history")
        .join(&done_run)
        .join("worker.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("left behind by a stopped daemon"),
        "{}: {text:?}",
        log.display()
    );

    let force = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    rt.block_on(d.remove_container(&busy, Some(force))).unwrap();
}
