//! `DockerRunLauncher`: each run in its own container, through the Docker Engine API (bollard;
//! Docker, or Podman's Docker-compatible service).
//!
//! Launch: the container is created from the configured image (`image`, else
//! `DAGSTER_CURRENT_IMAGE`, else the image of the container this process runs in) with the
//! command `dagster api execute-run <run_id>`, the `env_vars` plus `DAGSTER_HOME` and
//! `DAGSTER_RUN_JOB_NAME`, the labels [`RUN_ID_LABEL`] / [`JOB_NAME_LABEL`], the first of
//! `networks` (the others connected before start) and `container_kwargs` (the launcher's,
//! with the run's `dagster-docker/container_kwargs` tag over them); a missing image is pulled
//! (with `registry` credentials) and the create retried. The run is tagged
//! `docker/container_id` and `dagster/image`.
//!
//! While the container lives, a task of this launcher copies its output into
//! `$DAGSTER_HOME/history/<run_id>/worker.log` (the run worker's log, as for a worker process)
//! and removes the container once it has exited. Run monitoring asks [`DockerRunLauncher::check`]
//! about each active run's container (exited, OOM-killed, missing → the run fails with that
//! reason) and stops it when a run must end ([`DockerRunLauncher::stop`]);
//! [`DockerRunLauncher::sweep`] removes exited run containers no task of this process watches
//! (their launcher process stopped), keeping their output.
//!
//! The API is async; this launcher's calls are synchronous (the queue daemon's pass, the
//! webserver's blocking pool), so it owns a one-thread runtime that runs them and the log tasks.

use super::{ExecError, Result};
use crate::config::instance::container_kwargs::ContainerKwargs;
use crate::config::instance::DockerLauncherConfig;
use crate::domain::{EventData, EventType, LogLevel, MetadataEntry, MetadataValue, NewEvent, Run};
use crate::storage::RunStore;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, DeviceMapping, EndpointSettings, HostConfig,
    Mount, MountType, NetworkConnectRequest, NetworkingConfig, PortBinding, ResourcesUlimits,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateImageOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Run tag: the id of the run's container (Dagster's `DOCKER_CONTAINER_ID_TAG`).
pub const CONTAINER_ID_TAG: &str = "docker/container_id";
/// Run tag: the image the run's container was created from (Dagster's `DOCKER_IMAGE_TAG`).
pub const IMAGE_TAG: &str = "dagster/image";
/// Run tag: `container_kwargs` (a JSON object) for this run's container, over the launcher's.
pub const CONTAINER_KWARGS_TAG: &str = "dagster-docker/container_kwargs";
/// Container label: the run's id.
pub const RUN_ID_LABEL: &str = "dagster/run_id";
/// Container label: the run's job.
pub const JOB_NAME_LABEL: &str = "dagster/job_name";

/// Seconds a stopped run container gets between SIGTERM and SIGKILL.
const STOP_TIMEOUT_SECONDS: i32 = 10;
/// Seconds each Docker API request may take.
const API_TIMEOUT_SECONDS: u64 = 60;
/// An exited container no task watches is swept after this long (its own launcher's task,
/// if that process still runs, removes it within moments).
const SWEEP_AFTER_SECONDS: i64 = 30;

/// What run monitoring learns of a run's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerCheck {
    /// Created or running: the run worker is (about to be) at work.
    Running,
    /// The container stopped: why, for the run's failure message.
    Exited(String),
    /// No such container.
    Missing,
}

/// The Docker run launcher (see the module docs).
pub struct DockerRunLauncher {
    config: DockerLauncherConfig,
    /// `DAGSTER_HOME` given to the containers (mount it at this path through
    /// `container_kwargs`), and where the worker logs go.
    home: PathBuf,
    rt: tokio::runtime::Runtime,
    docker: Mutex<Option<Docker>>,
    /// The container this process runs in, if any, found once.
    own: OnceLock<std::result::Result<OwnContainer, String>>,
    /// Containers this launcher started and has not removed yet: run id → container id.
    live: Arc<Mutex<HashMap<String, String>>>,
    /// How the containers this launcher removed ended (container id → "Container status is
    /// exited (exit code 1)"), until run monitoring asked.
    ended: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for DockerRunLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerRunLauncher")
            .field("image", &self.config.image)
            .field("networks", &self.config.networks)
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

fn api_error(what: impl Into<String>, e: &DockerError) -> ExecError {
    let detail = match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (HTTP {status_code})"),
        other => other.to_string(),
    };
    ExecError::Container {
        what: what.into(),
        detail,
    }
}

fn not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The engine's address, for messages: `DOCKER_HOST` or the default socket.
fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

impl DockerRunLauncher {
    pub fn new(config: DockerLauncherConfig, home: impl Into<PathBuf>) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("docker-launcher")
            .enable_all()
            .build()
            .map_err(|source| ExecError::Io {
                what: "cannot start the Docker launcher's runtime".into(),
                path: String::new(),
                source,
            })?;
        Ok(DockerRunLauncher {
            config,
            home: home.into(),
            rt,
            docker: Mutex::new(None),
            own: OnceLock::new(),
            live: Arc::new(Mutex::new(HashMap::new())),
            ended: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Runs `f` on this launcher's runtime and waits for it (callable from any thread, also
    /// one inside another runtime).
    fn block<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| ExecError::Container {
            what: "the Docker launcher's task".into(),
            detail: "stopped before answering".into(),
        })
    }

    /// A client connected to the engine (`DOCKER_HOST`, default `/var/run/docker.sock`), its
    /// API version negotiated once.
    fn client(&self) -> Result<Docker> {
        let mut slot = self.docker.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let unreachable = |e: &DockerError| ExecError::Container {
            what: format!("cannot reach the Docker engine at {}", engine_address()),
            detail: format!(
                "{e} (start the engine or set DOCKER_HOST=unix:///path/to/docker.sock)"
            ),
        };
        let d = Docker::connect_with_unix_defaults()
            .map_err(|e| unreachable(&e))?
            .with_timeout(Duration::from_secs(API_TIMEOUT_SECONDS));
        let d = self
            .block(d.negotiate_version())?
            .map_err(|e| unreachable(&e))?;
        *slot = Some(d.clone());
        Ok(d)
    }

    /// `$DAGSTER_HOME/history/<run_id>/worker.log`.
    pub fn worker_log_path(&self, run_id: &str) -> PathBuf {
        self.home.join("history").join(run_id).join("worker.log")
    }

    /// Run containers this process started and has not removed yet.
    pub fn live_containers(&self) -> usize {
        self.live.lock().map_or(0, |l| l.len())
    }

    /// The container this process runs in (its hostname is the container's id), asked once.
    fn own(&self, docker: &Docker) -> &std::result::Result<OwnContainer, String> {
        self.own.get_or_init(|| {
            let host = super::launcher::local_host();
            let d = docker.clone();
            let h = host.clone();
            match self.block(async move { d.inspect_container(&h, None).await }) {
                Ok(Ok(c)) => Ok(OwnContainer::from_inspect(c, &self.home)),
                Ok(Err(e)) => Err(format!(
                    "this process is not in a container the engine knows ({host}: {e})"
                )),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    /// The image for the runs: `image`, else `DAGSTER_CURRENT_IMAGE`, else this process's own
    /// container's image.
    fn image(&self, docker: &Docker) -> Result<String> {
        if let Some(i) = &self.config.image {
            return Ok(i.clone());
        }
        if let Some(i) = std::env::var("DAGSTER_CURRENT_IMAGE")
            .ok()
            .filter(|i| !i.is_empty())
        {
            return Ok(i);
        }
        match self.own(docker) {
            Ok(OwnContainer {
                image: Some(image), ..
            }) => Ok(image.clone()),
            Ok(_) => Err("the launcher's own container has no image".to_string()),
            Err(why) => Err(why.clone()),
        }
        .map_err(|why| ExecError::Container {
            what: "no Docker image for the run".into(),
            detail: format!(
                "set `run_launcher.config.image` or DAGSTER_CURRENT_IMAGE; the image of the launcher's own container is not available: {why}"
            ),
        })
    }

    /// The container's settings for `run`, and its name (`container_kwargs.name`).
    fn create_body(
        &self,
        docker: &Docker,
        run: &Run,
        image: &str,
    ) -> Result<(ContainerCreateBody, Option<String>, Vec<String>)> {
        let kwargs = match run.tags.get(CONTAINER_KWARGS_TAG) {
            None => self.config.container_kwargs.clone(),
            Some(text) => {
                let bad = |detail: String| ExecError::Container {
                    what: format!("run {}: tag `{CONTAINER_KWARGS_TAG}`", run.run_id),
                    detail,
                };
                let json: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
                let obj = json
                    .as_object()
                    .ok_or_else(|| bad("expected a JSON object".into()))?;
                self.config
                    .container_kwargs
                    .merged_with(obj)
                    .map_err(|errs| {
                        bad(errs
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "))
                    })?
            }
        };
        let mut env = Vec::new();
        let mut has_home = false;
        for e in &self.config.env_vars {
            let (name, value) = match e.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (e.clone(), std::env::var(e).ok()),
            };
            has_home |= name == "DAGSTER_HOME";
            match value {
                Some(v) => env.push(format!("{name}={v}")),
                None => tracing::warn!(
                    run.id = %run.run_id,
                    variable = %name,
                    "run_launcher.config.env_vars names a variable this process does not have: not passed to the run's container"
                ),
            }
        }
        if !has_home {
            env.push(format!("DAGSTER_HOME={}", self.home.display()));
        }
        env.push(format!("DAGSTER_RUN_JOB_NAME={}", run.job_name));
        let mut labels: HashMap<String, String> = kwargs.labels.clone().into_iter().collect();
        labels.insert(RUN_ID_LABEL.into(), run.run_id.clone());
        labels.insert(JOB_NAME_LABEL.into(), run.job_name.clone());
        // From the launcher's own container (when it runs in one): its DAGSTER_HOME mounts
        // (the runs share the instance's files), and its networks when none are configured.
        let own = self.own(docker).as_ref().ok();
        let mut kwargs = kwargs;
        for bind in own.map(|o| o.home_binds.as_slice()).unwrap_or_default() {
            let target = bind.split(':').nth(1).unwrap_or_default();
            if !kwargs
                .volumes
                .iter()
                .any(|v| v.split(':').nth(1) == Some(target))
            {
                kwargs.volumes.push(bind.clone());
            }
        }
        let networks: Vec<String> = if !self.config.networks.is_empty() {
            self.config.networks.clone()
        } else if kwargs.network_mode.is_none() {
            own.map(|o| o.networks.clone()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let network_mode = kwargs
            .network_mode
            .clone()
            .or_else(|| networks.first().cloned());
        let networking_config = networks.first().map(|n| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n.clone(), EndpointSettings::default())])),
        });
        let mut body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec![
                "dagster".into(),
                "api".into(),
                "execute-run".into(),
                run.run_id.clone(),
            ]),
            env: Some(env),
            labels: Some(labels),
            host_config: Some(host_config(&kwargs, network_mode)),
            networking_config,
            ..Default::default()
        };
        body.user = kwargs.user.clone();
        body.working_dir = kwargs.working_dir.clone();
        body.hostname = kwargs.hostname.clone();
        body.entrypoint = kwargs.entrypoint.clone();
        body.stop_signal = kwargs.stop_signal.clone();
        if !kwargs.ports.is_empty() {
            body.exposed_ports = Some(kwargs.ports.keys().cloned().collect());
        }
        Ok((body, kwargs.name, networks.into_iter().skip(1).collect()))
    }

    /// Creates `run`'s container, tags the run with it (`docker/container_id`, `dagster/image`:
    /// before the container starts, so run monitoring can follow it from its first moment) and
    /// starts it. Returns the "Launching run in a new container" ENGINE_EVENT.
    pub fn launch(&self, storage: &dyn RunStore, run: &Run) -> Result<NewEvent> {
        let docker = self.client()?;
        let image = self.image(&docker)?;
        let (body, name, networks) = self.create_body(&docker, run, &image)?;
        let registry = self.config.registry.clone();
        let d = docker.clone();
        let img = image.clone();
        let id =
            self.block(async move { create(&d, body, name, &img, registry, &networks).await })??;
        let mut tags = BTreeMap::new();
        tags.insert(CONTAINER_ID_TAG.to_string(), id.clone());
        tags.insert(IMAGE_TAG.to_string(), image.clone());
        let d = docker.clone();
        let c = id.clone();
        let started = match storage.add_run_tags(&run.run_id, &tags) {
            Ok(()) => self.block(async move { start(&d, &c).await })?,
            Err(e) => {
                self.block(async move { remove_now(&d, &c).await })?;
                Err(e.into())
            }
        };
        started?;
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run.run_id.clone(), id.clone());
        self.watch(docker, run.run_id.clone(), id.clone());
        tracing::info!(run.id = %run.run_id, container = %id, image = %image, "launched run container");
        Ok(NewEvent::new(
            &run.run_id,
            &run.job_name,
            Some(EventType::EngineEvent),
            format!("Launching run in a new container {id} with image {image}"),
        )
        .level(LogLevel::Info)
        .data(EventData::Engine {
            metadata: vec![
                MetadataEntry::new("container_id", MetadataValue::Text(id)),
                MetadataEntry::new("image", MetadataValue::Text(image)),
            ],
            error: None,
        }))
    }

    /// A task copying the container's output into the run's worker log until it exits, then
    /// removing it.
    fn watch(&self, docker: Docker, run_id: String, id: String) {
        let log_path = self.worker_log_path(&run_id);
        let live = self.live.clone();
        let ended = self.ended.clone();
        self.rt.spawn(async move {
            copy_output(&docker, &id, &log_path, true).await;
            if let Ok(c) = docker.inspect_container(&id, None).await {
                if let Some(why) = c.state.and_then(exit_reason) {
                    let mut ended = ended.lock().unwrap_or_else(|p| p.into_inner());
                    if ended.len() >= MAX_ENDED {
                        ended.clear();
                    }
                    ended.insert(id.clone(), why);
                }
            }
            remove(&docker, &id).await;
            live.lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&run_id);
        });
    }

    /// What the run's container is doing; `None` when the run has no container tag.
    pub fn check(&self, run: &Run) -> Option<Result<ContainerCheck>> {
        let id = run.tags.get(CONTAINER_ID_TAG)?.clone();
        Some(self.check_container(id))
    }

    fn check_container(&self, id: String) -> Result<ContainerCheck> {
        if let Some(why) = self
            .ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        {
            return Ok(ContainerCheck::Exited(why));
        }
        let docker = self.client()?;
        let found = self.block(async move { docker.inspect_container(&id, None).await })?;
        match found {
            Ok(c) => Ok(c
                .state
                .and_then(exit_reason)
                .map_or(ContainerCheck::Running, ContainerCheck::Exited)),
            Err(e) if not_found(&e) => Ok(ContainerCheck::Missing),
            Err(e) => Err(api_error("inspecting the run's container", &e)),
        }
    }

    /// The last `max_bytes` of the run's worker log (the container's output), if any.
    pub fn output_tail(&self, run_id: &str, max_bytes: u64) -> Option<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(self.worker_log_path(run_id)).ok()?;
        let len = f.metadata().ok()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(max_bytes)))
            .ok()?;
        let mut buf = Vec::new();
        f.take(max_bytes).read_to_end(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf).trim().to_string();
        (!text.is_empty()).then_some(text)
    }

    /// Stops the run's container (SIGTERM, SIGKILL after [`STOP_TIMEOUT_SECONDS`]) without
    /// waiting for it. Returns false when the run has no container.
    pub fn stop(&self, run: &Run) -> Result<bool> {
        let Some(id) = run.tags.get(CONTAINER_ID_TAG).cloned() else {
            return Ok(false);
        };
        let docker = self.client()?;
        let run_id = run.run_id.clone();
        self.rt.spawn(async move {
            let opts = StopContainerOptions {
                t: Some(STOP_TIMEOUT_SECONDS),
                signal: None,
            };
            match docker.stop_container(&id, Some(opts)).await {
                Ok(()) => tracing::info!(run.id = %run_id, container = %id, "stopped the run's container"),
                Err(e) if not_found(&e) => {}
                Err(e) => tracing::warn!(run.id = %run_id, container = %id, error = %e, "cannot stop the run's container"),
            }
        });
        Ok(true)
    }

    /// Removes exited run containers (label [`RUN_ID_LABEL`]) that no task of this process
    /// watches and that exited over [`SWEEP_AFTER_SECONDS`] ago, appending their output to
    /// their run's worker log first. Returns how many were removed.
    pub fn sweep(&self) -> Result<usize> {
        let docker = self.client()?;
        let watched: Vec<String> = self
            .live
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        let home = self.home.clone();
        self.block(async move {
            let opts = ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([
                    ("label".to_string(), vec![RUN_ID_LABEL.to_string()]),
                    // Not also "dead": podman 4.3 refuses that filter value (HTTP 500).
                    ("status".to_string(), vec!["exited".to_string()]),
                ])),
                ..Default::default()
            };
            let list = match docker.list_containers(Some(opts)).await {
                Ok(list) => list,
                // Podman names a container between its exit and its cleanup "stopped", a
                // state the API's schema lacks: the next sweep sees it settled.
                Err(DockerError::JsonDataError { .. }) => return Ok(0),
                Err(e) => return Err(api_error("listing run containers", &e)),
            };
            let now = chrono::Utc::now();
            let mut removed = 0;
            for c in list {
                let (Some(id), Some(run_id)) =
                    (c.id, c.labels.and_then(|mut l| l.remove(RUN_ID_LABEL)))
                else {
                    continue;
                };
                if watched.contains(&id) || !safe_run_id(&run_id) {
                    continue;
                }
                let finished = docker
                    .inspect_container(&id, None)
                    .await
                    .ok()
                    .and_then(|i| i.state)
                    .and_then(|s| s.finished_at)
                    .and_then(|f| chrono::DateTime::parse_from_rfc3339(&f).ok());
                if finished.is_some_and(|f| (now - f.to_utc()).num_seconds() < SWEEP_AFTER_SECONDS)
                {
                    continue;
                }
                let log = home.join("history").join(&run_id).join("worker.log");
                copy_output(&docker, &id, &log, false).await;
                remove(&docker, &id).await;
                removed += 1;
            }
            Ok(removed)
        })?
    }
}

/// What run containers take from the container the launcher runs in.
#[derive(Debug, Clone)]
struct OwnContainer {
    image: Option<String>,
    /// Its mounts at or under `DAGSTER_HOME`, as binds (`volume-or-path:/dest[:ro]`).
    home_binds: Vec<String>,
    /// The networks it is connected to.
    networks: Vec<String>,
}

impl OwnContainer {
    fn from_inspect(c: bollard::models::ContainerInspectResponse, home: &Path) -> Self {
        let home_binds = c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let dest = m.destination?;
                if !Path::new(&dest).starts_with(home) {
                    return None;
                }
                let source = match m.typ.as_deref() {
                    Some("volume") => m.name?,
                    _ => m.source?,
                };
                let mode = if m.rw == Some(false) { ":ro" } else { "" };
                Some(format!("{source}:{dest}{mode}"))
            })
            .collect();
        let mut networks: Vec<String> = c
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect())
            .unwrap_or_default();
        networks.sort();
        OwnContainer {
            image: c.config.and_then(|c| c.image),
            home_binds,
            networks,
        }
    }
}

/// Containers whose end is remembered for run monitoring, at most.
const MAX_ENDED: usize = 10_000;

/// Why a container is not running any more; `None` while it is created or running.
fn exit_reason(state: bollard::models::ContainerState) -> Option<String> {
    let status = state.status?;
    if !matches!(
        status,
        ContainerStateStatusEnum::EXITED
            | ContainerStateStatusEnum::DEAD
            | ContainerStateStatusEnum::REMOVING
    ) {
        return None;
    }
    let mut why = format!(
        "Container status is {status} (exit code {})",
        state.exit_code.unwrap_or(-1)
    );
    if state.oom_killed == Some(true) {
        why.push_str(", killed for running out of memory (OOMKilled)");
    }
    if let Some(err) = state.error.filter(|e| !e.is_empty()) {
        why.push_str(&format!(": {err}"));
    }
    Some(why)
}

fn safe_run_id(run_id: &str) -> bool {
    !run_id.is_empty()
        && run_id != "."
        && run_id != ".."
        && !run_id.contains(['/', '\\', '\0', '\n', '\r'])
}

/// Creates the container (pulling a missing image) and connects it to `more_networks`.
/// Returns its id; on a failure after the create, the container is removed again.
async fn create(
    docker: &Docker,
    body: ContainerCreateBody,
    name: Option<String>,
    image: &str,
    registry: Option<crate::config::instance::DockerRegistry>,
    more_networks: &[String],
) -> Result<String> {
    let options = || {
        name.as_ref().map(|n| {
            bollard::query_parameters::CreateContainerOptionsBuilder::new()
                .name(n)
                .build()
        })
    };
    let created = match docker.create_container(options(), body.clone()).await {
        Err(e) if not_found(&e) => {
            pull(docker, image, registry).await?;
            docker.create_container(options(), body).await
        }
        other => other,
    }
    .map_err(|e| api_error(format!("cannot create a container from image {image}"), &e))?;
    let id = created.id;
    for n in more_networks {
        let req = NetworkConnectRequest {
            container: id.clone(),
            endpoint_config: None,
        };
        if let Err(e) = docker.connect_network(n, req).await {
            remove_now(docker, &id).await;
            return Err(api_error(
                format!("cannot connect the run's container to network `{n}`"),
                &e,
            ));
        }
    }
    Ok(id)
}

/// Starts the created container; removes it if it cannot start.
async fn start(docker: &Docker, id: &str) -> Result<()> {
    if let Err(e) = docker.start_container(id, None).await {
        remove_now(docker, id).await;
        return Err(api_error("cannot start the run's container", &e));
    }
    Ok(())
}

/// Removes a container that never ran a run, whatever its state.
async fn remove_now(docker: &Docker, id: &str) {
    let force = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    let _ = docker.remove_container(id, Some(force)).await;
}

/// Pulls `image` (with the registry's credentials).
async fn pull(
    docker: &Docker,
    image: &str,
    registry: Option<crate::config::instance::DockerRegistry>,
) -> Result<()> {
    tracing::info!(image, "image not found locally: pulling it");
    let credentials = registry.map(|r| bollard::auth::DockerCredentials {
        username: Some(r.username),
        password: Some(r.password),
        serveraddress: Some(r.url),
        ..Default::default()
    });
    let opts = CreateImageOptions {
        from_image: Some(image.to_string()),
        ..Default::default()
    };
    let mut progress = docker.create_image(Some(opts), None, credentials);
    while let Some(step) = progress.next().await {
        step.map_err(|e| {
            api_error(
                format!("image {image} is not available locally and cannot be pulled"),
                &e,
            )
        })?;
    }
    Ok(())
}

/// Appends the container's stdout and stderr to `log_path` (following it until it exits when
/// `follow`).
async fn copy_output(docker: &Docker, id: &str, log_path: &Path, follow: bool) {
    let opts = LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let file = log_path
        .parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
        });
    let mut file = match file {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(path = %log_path.display(), error = %e, "cannot open the run worker log: the container's output is not kept");
            None
        }
    };
    let mut stream = docker.logs(id, Some(opts));
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(out) => {
                if let Some(f) = file.as_mut() {
                    if f.write_all(out.as_ref()).is_err() {
                        file = None;
                    }
                }
            }
            Err(e) => {
                if !not_found(&e) {
                    tracing::debug!(container = id, error = %e, "reading the container's output");
                }
                break;
            }
        }
    }
    if follow {
        // The log stream can end before the engine marks the container exited.
        let mut wait = docker.wait_container(id, None);
        let _ = wait.next().await;
    }
}

async fn remove(docker: &Docker, id: &str) {
    match docker.remove_container(id, None).await {
        Ok(()) => tracing::debug!(container = id, "removed the run's container"),
        Err(e) if not_found(&e) => {}
        Err(e) => tracing::warn!(container = id, error = %e, "cannot remove the run's container"),
    }
}

/// `container_kwargs` as the API's host config.
fn host_config(k: &ContainerKwargs, network_mode: Option<String>) -> HostConfig {
    let opt_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    HostConfig {
        binds: opt_vec(&k.volumes),
        mounts: (!k.mounts.is_empty()).then(|| {
            k.mounts
                .iter()
                .map(|m| Mount {
                    target: Some(m.target.clone()),
                    source: m.source.clone(),
                    typ: Some(match m.kind.as_str() {
                        "bind" => MountType::BIND,
                        "tmpfs" => MountType::TMPFS,
                        _ => MountType::VOLUME,
                    }),
                    read_only: Some(m.read_only),
                    ..Default::default()
                })
                .collect()
        }),
        network_mode,
        auto_remove: k.auto_remove,
        memory: k.mem_limit,
        memory_swap: k.memswap_limit,
        shm_size: k.shm_size,
        cpu_period: k.cpu_period,
        cpu_quota: k.cpu_quota,
        cpu_shares: k.cpu_shares,
        nano_cpus: k.nano_cpus,
        cpuset_cpus: k.cpuset_cpus.clone(),
        privileged: k.privileged,
        init: k.init,
        readonly_rootfs: k.read_only,
        cap_add: opt_vec(&k.cap_add),
        cap_drop: opt_vec(&k.cap_drop),
        dns: opt_vec(&k.dns),
        extra_hosts: opt_vec(&k.extra_hosts),
        group_add: opt_vec(&k.group_add),
        security_opt: opt_vec(&k.security_opt),
        devices: (!k.devices.is_empty()).then(|| {
            k.devices
                .iter()
                .map(|d| {
                    let mut parts = d.splitn(3, ':');
                    let host = parts.next().unwrap_or_default().to_string();
                    let inside = parts.next().map_or_else(|| host.clone(), str::to_string);
                    DeviceMapping {
                        path_on_host: Some(host),
                        path_in_container: Some(inside),
                        cgroup_permissions: Some(parts.next().unwrap_or("rwm").to_string()),
                    }
                })
                .collect()
        }),
        tmpfs: (!k.tmpfs.is_empty()).then(|| k.tmpfs.clone().into_iter().collect()),
        ulimits: (!k.ulimits.is_empty()).then(|| {
            k.ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        restart_policy: k.restart_policy.as_ref().map(|r| RestartPolicy {
            name: Some(match r.name.as_str() {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                "no" => RestartPolicyNameEnum::NO,
                _ => RestartPolicyNameEnum::EMPTY,
            }),
            maximum_retry_count: r.maximum_retry_count,
        }),
        pid_mode: k.pid_mode.clone(),
        ipc_mode: k.ipc_mode.clone(),
        port_bindings: (!k.ports.is_empty()).then(|| {
            k.ports
                .iter()
                .map(|(port, host)| {
                    let binding = host.as_ref().map(|h| {
                        let (ip, p) = match h.rsplit_once(':') {
                            Some((ip, p)) => (Some(ip.to_string()), p.to_string()),
                            None => (None, h.clone()),
                        };
                        vec![PortBinding {
                            host_ip: ip,
                            host_port: Some(p),
                        }]
                    });
                    (
                        port.clone(),
                        binding.or_else(|| Some(vec![PortBinding::default()])),
                    )
                })
                .collect()
        }),
        ..Default::default()
    }
}
