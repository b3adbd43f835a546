//! The default run launcher: each run executes alone in a worker process.
//!
//! `launch` spawns `<executable> api execute-run <run_id>` in its own process group (so a
//! terminal's Ctrl-C does not reach it and `terminate` can signal the whole group), with stdin
//! closed, stdout and stderr appended to `$DAGSTER_HOME/history/<run_id>/worker.log`, and
//! `DAGSTER_HOME` set. It does not wait for the worker: a detached thread reaps it when it
//! exits so no zombie is left behind in long-lived callers (webserver, daemon).
//!
//! With a [`WorkerPool`] (the queue daemon's launcher), a worker is `<executable> api
//! run-worker` instead ([`super::worker`], whose [`protocol`](super::worker::protocol) both
//! sides speak): it executes the runs whose ids it reads from its stdin one at a time, writes
//! each id back on its stdout when that run is finished, and keeps its storage connection
//! between runs; the pool hands a run to an idle worker when it has one (see
//! [`crate::config::instance::WorkerReuse`]).

use super::docker::DockerRunLauncher;
use super::{ExecError, Result};
use crate::config::instance::{RunLauncherConfig, WorkerReuse};
use crate::domain::{EventData, EventType, LogLevel, MetadataEntry, MetadataValue, NewEvent, Run};
use crate::storage::Storage;
use std::collections::HashMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The instance's run launcher (`run_launcher`): a worker process per run, or a container per
/// run.
#[derive(Debug, Clone)]
pub enum RunLauncher {
    /// `DefaultRunLauncher`.
    Process(DefaultRunLauncher),
    /// `DockerRunLauncher`.
    Docker(Arc<DockerRunLauncher>),
}

impl From<DefaultRunLauncher> for RunLauncher {
    fn from(l: DefaultRunLauncher) -> Self {
        RunLauncher::Process(l)
    }
}

impl RunLauncher {
    /// The launcher `run_launcher` names. `dagster_bin` is the `dagster` binary worker
    /// processes run; `home` the `DAGSTER_HOME` they (or the containers) get.
    pub fn from_config(
        config: &RunLauncherConfig,
        dagster_bin: impl Into<PathBuf>,
        home: impl Into<PathBuf>,
    ) -> Result<Self> {
        Ok(match config {
            RunLauncherConfig::Docker(d) => {
                RunLauncher::Docker(Arc::new(DockerRunLauncher::new((**d).clone(), home)?))
            }
            other => RunLauncher::Process(
                DefaultRunLauncher::new(dagster_bin, home).with_worker_reuse(other.worker_reuse()),
            ),
        })
    }

    /// The worker-process launcher, if this is one.
    pub fn process(&self) -> Option<&DefaultRunLauncher> {
        match self {
            RunLauncher::Process(p) => Some(p),
            RunLauncher::Docker(_) => None,
        }
    }

    /// The Docker launcher, if this is one.
    pub fn docker(&self) -> Option<&DockerRunLauncher> {
        match self {
            RunLauncher::Docker(d) => Some(d),
            RunLauncher::Process(_) => None,
        }
    }

    /// The run tags RUN_STARTING sets: the worker host for a local process (run monitoring
    /// checks its pid there); none for a container (monitoring asks the engine).
    pub fn starting_tags(&self) -> std::collections::BTreeMap<String, String> {
        match self {
            RunLauncher::Process(_) => host_tags(),
            RunLauncher::Docker(_) => Default::default(),
        }
    }

    /// Starts `run`'s worker. Returns the ENGINE_EVENT recording it (not written). A container
    /// is tagged on the run (in `storage`) before it starts; a process writes nothing.
    pub fn spawn(&self, storage: &dyn crate::storage::RunStore, run: &Run) -> Result<NewEvent> {
        match self {
            RunLauncher::Process(p) => Ok(started_event(run, p.spawn(&run.run_id)?)),
            RunLauncher::Docker(d) => d.launch(storage, run),
        }
    }

    /// Run workers this process started that still hold resources although their run may have
    /// finished: containers not removed yet (the queue counts them against
    /// `max_concurrent_runs`). 0 for worker processes.
    pub fn live_workers(&self) -> usize {
        match self {
            RunLauncher::Process(_) => 0,
            RunLauncher::Docker(d) => d.live_containers(),
        }
    }

    /// See [`DefaultRunLauncher::expire_idle_workers`].
    pub fn expire_idle_workers(&self) -> usize {
        self.process()
            .map_or(0, DefaultRunLauncher::expire_idle_workers)
    }
}

/// Spawns run workers.
#[derive(Debug, Clone)]
pub struct DefaultRunLauncher {
    /// The `dagster` binary.
    pub executable: PathBuf,
    /// `DAGSTER_HOME` given to workers.
    pub home: PathBuf,
    /// Reused workers (the queue daemon); `None`: a new process per run.
    pool: Option<Arc<WorkerPool>>,
}

impl DefaultRunLauncher {
    pub fn new(executable: impl Into<PathBuf>, home: impl Into<PathBuf>) -> Self {
        DefaultRunLauncher {
            executable: executable.into(),
            home: home.into(),
            pool: None,
        }
    }

    /// This launcher with a pool of reusable workers (with `max_runs_per_worker: 1`, none).
    pub fn with_worker_reuse(mut self, reuse: WorkerReuse) -> Self {
        self.pool = (reuse.max_runs_per_worker > 1).then(|| {
            Arc::new(WorkerPool {
                reuse,
                inner: Mutex::new(PoolInner::default()),
            })
        });
        self
    }

    /// Stops the pool's workers that have been idle longer than the idle timeout (called by
    /// the queue daemon on each pass). Returns how many were stopped.
    pub fn expire_idle_workers(&self) -> usize {
        self.pool.as_ref().map_or(0, |p| p.expire(Instant::now()))
    }

    /// `(idle, busy)` reusable workers of this launcher's pool.
    pub fn pooled_workers(&self) -> (usize, usize) {
        self.pool.as_ref().map_or((0, 0), |p| {
            let inner = p.lock();
            (inner.idle.len(), inner.busy.len())
        })
    }

    /// A launcher that starts the currently running binary (the `dagster` CLI itself).
    pub fn current_exe(home: impl Into<PathBuf>) -> Result<Self> {
        let exe = std::env::current_exe().map_err(|source| ExecError::Io {
            what: "cannot find the path of the running executable".into(),
            path: String::new(),
            source,
        })?;
        Ok(Self::new(exe, home))
    }

    /// `$DAGSTER_HOME/history/<run_id>/worker.log`.
    pub fn worker_log_path(&self, run_id: &str) -> PathBuf {
        self.home.join("history").join(run_id).join("worker.log")
    }

    /// Spawns the worker for `run`, tags the run with this host ([`WORKER_HOST_TAG`]) and
    /// records an ENGINE_EVENT with its pid. Returns the pid. (The coordinator sets the host
    /// tag with the run's RUN_STARTING instead and batches the events: [`Self::spawn`] and
    /// [`started_event`].)
    pub fn launch(&self, storage: &dyn Storage, run: &Run) -> Result<u32> {
        let pid = self.spawn(&run.run_id)?;
        storage.add_run_tags(&run.run_id, &host_tags())?;
        storage.store_events(&[started_event(run, pid)])?;
        Ok(pid)
    }

    /// Starts `run_id` in a worker and returns the worker's pid; writes nothing to storage.
    /// Without a pool (or with no idle worker in it) a new process is spawned (detached,
    /// reaped by a small thread): `dagster api execute-run <run_id>`, or with a pool
    /// `dagster api run-worker` given the run on its stdin.
    pub fn spawn(&self, run_id: &str) -> Result<u32> {
        if run_id.is_empty()
            || run_id.contains(['/', '\\', '\0', '\n', '\r'])
            || run_id == ".."
            || run_id == "."
        {
            return Err(ExecError::RunNotFound(run_id.to_string()));
        }
        match &self.pool {
            Some(pool) => self.spawn_pooled(pool, run_id),
            None => self.spawn_process(run_id, None),
        }
    }

    fn spawn_pooled(&self, pool: &Arc<WorkerPool>, run_id: &str) -> Result<u32> {
        if let Some(pid) = pool.hand_to_idle(run_id, Instant::now()) {
            tracing::info!(run.id = run_id, pid, "handed the run to an idle run worker");
            return Ok(pid);
        }
        self.spawn_process(run_id, Some(pool))
    }

    /// Spawns a worker process for `run_id`: `api execute-run <run_id>`, or for a pool
    /// `api run-worker` with `run_id` already written to its stdin and a thread that returns
    /// it to the pool whenever it reports a finished run (and reaps it at the end).
    fn spawn_process(&self, run_id: &str, pool: Option<&Arc<WorkerPool>>) -> Result<u32> {
        let log_path = self.worker_log_path(run_id);
        let io_err = |what: &str, path: &Path, source: std::io::Error| ExecError::Io {
            what: what.to_string(),
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = log_path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| io_err("cannot create the worker log directory", dir, e))?;
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| io_err("cannot open the worker log", &log_path, e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| io_err("cannot open the worker log", &log_path, e))?;
        let mut cmd = Command::new(&self.executable);
        cmd.env("DAGSTER_HOME", &self.home)
            .stderr(Stdio::from(log_err))
            .process_group(0);
        if pool.is_some() {
            // Until it reads its first run, the worker's output goes to that run's log.
            cmd.args(["api", "run-worker"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            drop(log);
        } else {
            cmd.args(["api", "execute-run", run_id])
                .stdin(Stdio::null())
                .stdout(Stdio::from(log));
        }
        let launch_err = |source| ExecError::Launch {
            run_id: run_id.to_string(),
            executable: self.executable.display().to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(launch_err)?;
        let pid = child.id();
        if let Some(pool) = pool {
            let stdin = child.stdin.take();
            let stdout = child.stdout.take();
            let (Some(mut stdin), Some(stdout)) = (stdin, stdout) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(launch_err(std::io::Error::other(
                    "the worker's pipes are missing",
                )));
            };
            {
                let mut inner = pool.lock();
                if let Err(e) = super::worker::protocol::send(&mut stdin, run_id) {
                    drop(inner);
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(launch_err(e));
                }
                inner.busy.insert(pid, Busy { stdin, runs: 0 });
            }
            let serving = pool.clone();
            let started = spawn_waiter(pid, move || {
                serving.serve(pid, stdout);
                let _ = child.wait();
            });
            if !started {
                // Nobody would return it to the pool: closing its stdin ends it after this run.
                pool.lock().busy.remove(&pid);
            }
        } else {
            let _ = spawn_waiter(pid, move || {
                let _ = child.wait();
            });
        }
        tracing::info!(run.id = run_id, pid, "launched run worker");
        Ok(pid)
    }

    /// Sends SIGTERM to the worker's process group. Returns false if it no longer exists.
    pub fn terminate(&self, pid: u32) -> Result<bool> {
        terminate_process_group(pid)
    }
}

/// Runs `f` (waits for a worker) on a thread with a small stack: hundreds may exist at once.
/// Returns whether the thread started.
fn spawn_waiter(pid: u32, f: impl FnOnce() + Send + 'static) -> bool {
    let waiter = std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .stack_size(64 * 1024)
        .spawn(f);
    if let Err(e) = &waiter {
        tracing::warn!(error = %e, pid, "cannot start a thread to reap the run worker; it stays a zombie after exit");
    }
    waiter.is_ok()
}

/// Reusable run workers of one launcher (the queue daemon's).
#[derive(Debug)]
struct WorkerPool {
    reuse: WorkerReuse,
    inner: Mutex<PoolInner>,
}

#[derive(Debug, Default)]
struct PoolInner {
    /// Waiting for a run, most recently used last.
    idle: Vec<Idle>,
    /// Executing a run, by pid.
    busy: HashMap<u32, Busy>,
}

#[derive(Debug)]
struct Idle {
    pid: u32,
    stdin: ChildStdin,
    runs: u64,
    since: Instant,
}

#[derive(Debug)]
struct Busy {
    stdin: ChildStdin,
    /// Runs finished before the current one.
    runs: u64,
}

impl WorkerPool {
    fn lock(&self) -> MutexGuard<'_, PoolInner> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters (at worst a worker is forgotten and exits at EOF): keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.reuse.idle_timeout_seconds)
    }

    /// Writes `run_id` to the most recently used idle worker that takes it; `None` if no idle
    /// worker is left. Dropping an idle worker's stdin (expired, or its pipe broken) makes it
    /// exit.
    fn hand_to_idle(&self, run_id: &str, now: Instant) -> Option<u32> {
        let mut inner = self.lock();
        while let Some(mut w) = inner.idle.pop() {
            if now.duration_since(w.since) > self.idle_timeout() {
                continue;
            }
            if super::worker::protocol::send(&mut w.stdin, run_id).is_ok() {
                inner.busy.insert(
                    w.pid,
                    Busy {
                        stdin: w.stdin,
                        runs: w.runs,
                    },
                );
                return Some(w.pid);
            }
        }
        None
    }

    fn expire(&self, now: Instant) -> usize {
        let timeout = self.idle_timeout();
        let mut inner = self.lock();
        let before = inner.idle.len();
        inner
            .idle
            .retain(|w| now.duration_since(w.since) <= timeout);
        before - inner.idle.len()
    }

    /// Reads the worker's "run finished" lines until it exits; after each, the worker goes
    /// back to the idle list, or is told to exit (its stdin closed) when it has executed
    /// `max_runs_per_worker` runs or enough workers are idle already.
    fn serve(&self, pid: u32, stdout: std::process::ChildStdout) {
        let mut finished = super::worker::protocol::receive(std::io::BufReader::new(stdout));
        while let Some(Ok(_run_id)) = finished.next() {
            let mut inner = self.lock();
            let Some(b) = inner.busy.remove(&pid) else {
                continue;
            };
            let runs = b.runs + 1;
            let room =
                u64::try_from(inner.idle.len()).unwrap_or(u64::MAX) < self.reuse.max_idle_workers;
            if runs < self.reuse.max_runs_per_worker && room {
                inner.idle.push(Idle {
                    pid,
                    stdin: b.stdin,
                    runs,
                    since: Instant::now(),
                });
            }
        }
        let mut inner = self.lock();
        inner.busy.remove(&pid);
        inner.idle.retain(|w| w.pid != pid);
    }
}

/// Hidden run tag: the host (hostname, i.e. the container) whose process table holds the
/// worker's pid. Run monitoring checks a worker's pid only on that host; elsewhere it relies on
/// the worker heartbeat.
pub const WORKER_HOST_TAG: &str = ".dagster/worker_host";

/// The ENGINE_EVENT "Started process for run (pid: N)." with the pid as metadata.
pub fn started_event(run: &Run, pid: u32) -> NewEvent {
    NewEvent::new(
        &run.run_id,
        &run.job_name,
        Some(EventType::EngineEvent),
        format!("Started process for run (pid: {pid})."),
    )
    .level(LogLevel::Debug)
    .data(EventData::Engine {
        metadata: vec![MetadataEntry::new(
            "pid",
            MetadataValue::Int(i64::from(pid)),
        )],
        error: None,
    })
}

/// `{WORKER_HOST_TAG: local_host()}`: the tag a launcher on this host sets on the runs it
/// starts.
pub fn host_tags() -> std::collections::BTreeMap<String, String> {
    let mut t = std::collections::BTreeMap::new();
    t.insert(WORKER_HOST_TAG.to_string(), local_host());
    t
}

/// This host's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`).
pub fn local_host() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(read_host).clone()
}

fn read_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Sends SIGTERM to process group `pid`. Returns false if there is no such group.
pub fn terminate_process_group(pid: u32) -> Result<bool> {
    use nix::errno::Errno;
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let raw = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| ExecError::Signal {
            pid,
            message: "not a valid process id".into(),
        })?;
    match killpg(Pid::from_raw(raw), Signal::SIGTERM) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(e) => Err(ExecError::Signal {
            pid,
            message: e.desc().to_string(),
        }),
    }
}
