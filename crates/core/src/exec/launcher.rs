//! The default run launcher: one worker process per run.
//!
//! `launch` spawns `<executable> api execute-run <run_id>` in its own process group (so a
//! terminal's Ctrl-C does not reach it and `terminate` can signal the whole group), with stdin
//! closed, stdout and stderr appended to `$DAGSTER_HOME/history/<run_id>/worker.log`, and
//! `DAGSTER_HOME` set. It does not wait for the worker: a detached thread reaps it when it
//! exits so no zombie is left behind in long-lived callers (webserver, daemon).

use super::{ExecError, Result};
use crate::domain::{EventData, EventType, LogLevel, MetadataEntry, MetadataValue, NewEvent, Run};
use crate::storage::Storage;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Spawns run workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRunLauncher {
    /// The `dagster` binary.
    pub executable: PathBuf,
    /// `DAGSTER_HOME` given to workers.
    pub home: PathBuf,
}

impl DefaultRunLauncher {
    pub fn new(executable: impl Into<PathBuf>, home: impl Into<PathBuf>) -> Self {
        DefaultRunLauncher {
            executable: executable.into(),
            home: home.into(),
        }
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

    /// Spawns `dagster api execute-run <run_id>` (detached, reaped by a small thread) and
    /// returns its pid; writes nothing to storage.
    pub fn spawn(&self, run_id: &str) -> Result<u32> {
        if run_id.is_empty()
            || run_id.contains(['/', '\\', '\0'])
            || run_id == ".."
            || run_id == "."
        {
            return Err(ExecError::RunNotFound(run_id.to_string()));
        }
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
        let mut child = Command::new(&self.executable)
            .args(["api", "execute-run", run_id])
            .env("DAGSTER_HOME", &self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0)
            .spawn()
            .map_err(|source| ExecError::Launch {
                run_id: run_id.to_string(),
                executable: self.executable.display().to_string(),
                source,
            })?;
        let pid = child.id();
        // A small stack: the thread only waits (hundreds of them may exist at once).
        let reaper = std::thread::Builder::new()
            .name(format!("reap-{pid}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = child.wait();
            });
        if let Err(e) = reaper {
            tracing::warn!(error = %e, pid, "cannot start a thread to reap the run worker; it stays a zombie after exit");
        }
        tracing::info!(run.id = run_id, pid, "launched run worker");
        Ok(pid)
    }

    /// Sends SIGTERM to the worker's process group. Returns false if it no longer exists.
    pub fn terminate(&self, pid: u32) -> Result<bool> {
        terminate_process_group(pid)
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
