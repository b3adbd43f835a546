//! The run worker: the process side of the [`DefaultRunLauncher`](super::DefaultRunLauncher).
//!
//! * `dagster api execute-run <run_id>`: executes one run and exits ([`RunWorker::execute`]);
//! * `dagster api run-worker` (the queue daemon's reusable workers, [`RunWorker::serve`]):
//!   executes the runs whose ids it reads from stdin, one at a time, and writes each id back on
//!   stdout once that run is finished ([`protocol`]); exits at end of input. Its storage
//!   connection stays open between runs. For each run, stdout and stderr (its log output, and
//!   that of any child process) are redirected to the run's `history/<run_id>/worker.log`, and
//!   stdin to `/dev/null`; the protocol uses duplicates of the original descriptors.
//!
//! A termination signal (SIGTERM, SIGINT) cancels the run in progress
//! ([`RunWorker::cancel_current_on_signal`]); an idle reusable worker just exits.
//!
//! What the worker does not know is how to load a code location: the binary passes that in
//! (`load`), so this module depends on no code location crate.

use super::{fail_run_before_start, request_cancel, ExecContext, ExecError, ExecOptions, Result};
use crate::config::home::DagsterHome;
use crate::defs::Definitions;
use crate::domain::{ErrorInfo, Run, RunStatus};
use crate::instance::Instance;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The launcher ↔ reusable worker protocol: one run id per line, both ways. The launcher
/// writes an id to the worker's stdin to hand it a run; the worker writes the same id to its
/// stdout when that run is finished; the launcher closes the worker's stdin when it wants no
/// more runs from it.
pub mod protocol {
    use std::io::{BufRead, Write};

    /// Hands `run_id` to a worker (launcher side) or reports it finished (worker side).
    pub fn send(to: &mut impl Write, run_id: &str) -> std::io::Result<()> {
        writeln!(to, "{run_id}")?;
        to.flush()
    }

    /// The run ids arriving on `from`, blank lines skipped; ends at end of input or on the
    /// first read error (returned as the last item).
    pub fn receive(from: impl BufRead) -> impl Iterator<Item = std::io::Result<String>> {
        from.lines().filter_map(|line| match line {
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(Ok(l.trim().to_string())),
            Err(e) => Some(Err(e)),
        })
    }
}

/// Loads the definitions a run needs: the code location crate's loader, given the run (its
/// pipeline config tag, its code location).
pub type LoadForRun<'a> = dyn FnMut(&Run) -> anyhow::Result<Definitions> + 'a;

/// Why a worker could not execute a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    #[error("run {run_id} not found in {storage}")]
    RunNotFound { run_id: String, storage: String },
    /// The run's code location could not be loaded (the run failed before starting; the
    /// loader's error, e.g. configuration errors, is kept as it is).
    #[error(transparent)]
    Load(#[from] anyhow::Error),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// A worker process: the instance it was started for and the run it executes now.
pub struct RunWorker {
    inst: Instance,
    home: DagsterHome,
    /// The run this process executes now (for the termination signal handler).
    current: Arc<Mutex<Option<String>>>,
}

impl RunWorker {
    pub fn new(inst: Instance, home: DagsterHome) -> Self {
        RunWorker {
            inst,
            home,
            current: Arc::new(Mutex::new(None)),
        }
    }

    pub fn instance(&self) -> &Instance {
        &self.inst
    }

    /// On SIGTERM or SIGINT: the run in progress is cancelled (it ends CANCELED through the
    /// executor's cancellation poll); an idle worker that serves several runs (`reusable`)
    /// exits at once. Spawns the handler on `rt`.
    pub fn cancel_current_on_signal(&self, rt: &tokio::runtime::Runtime, reusable: bool) {
        let storage = self.inst.storage.clone();
        let current = self.current.clone();
        rt.spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            let run = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
            match run {
                Some(run_id) => {
                    tracing::warn!(run.id = %run_id, "received termination signal: cancelling the run");
                    let _ =
                        tokio::task::spawn_blocking(move || request_cancel(&*storage, &run_id))
                            .await;
                }
                None if reusable => std::process::exit(0),
                None => {}
            }
        });
    }

    /// Executes one run that a launcher started (status STARTING). A run whose definitions
    /// cannot be loaded fails before starting, with the reason in its event log.
    pub fn execute(
        &self,
        rt: &tokio::runtime::Runtime,
        run_id: &str,
        load: &mut LoadForRun<'_>,
    ) -> Result<RunStatus, WorkerError> {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(run_id.to_string());
        let status = self.execute_current(rt, run_id, load);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        status
    }

    fn execute_current(
        &self,
        rt: &tokio::runtime::Runtime,
        run_id: &str,
        load: &mut LoadForRun<'_>,
    ) -> Result<RunStatus, WorkerError> {
        let storage = &self.inst.storage;
        let run = storage
            .get_run(run_id)
            .map_err(ExecError::from)?
            .ok_or_else(|| WorkerError::RunNotFound {
                run_id: run_id.to_string(),
                storage: storage.describe(),
            })?;
        let defs = match load(&run) {
            Ok(d) => d,
            Err(e) => {
                // The run cannot start: record why in its event log rather than leaving it
                // STARTING.
                fail_run_before_start(&**storage, &run, ErrorInfo::from_anyhow(&e))?;
                return Err(WorkerError::Load(e));
            }
        };
        let ctx = ExecContext {
            storage: storage.clone(),
            defs: Arc::new(defs),
            compute_logs: self.inst.compute_logs.clone(),
            options: ExecOptions::default(),
            observer: None,
        };
        Ok(rt.block_on(super::execute_loaded_run(&ctx, run))?)
    }

    /// The `run-worker` loop on this process's stdin and stdout (see [`protocol`]).
    pub fn serve(&self, rt: &tokio::runtime::Runtime, load: &mut LoadForRun<'_>) -> Result<()> {
        use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout};
        use std::os::fd::AsFd;
        let io = |what: &str, source: std::io::Error| ExecError::Io {
            what: what.to_string(),
            path: "the run worker's standard streams".into(),
            source,
        };
        // Close-on-exec duplicates: a step's child process must not hold the protocol pipes
        // (the launcher learns that this worker died from the end of its stdout).
        let input = std::fs::File::from(
            std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| io("duplicating stdin", e))?,
        );
        let mut output = std::fs::File::from(
            std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| io("duplicating stdout", e))?,
        );
        let null = std::fs::File::open("/dev/null").map_err(|e| io("opening /dev/null", e))?;
        dup2_stdin(&null).map_err(|e| io("redirecting stdin", e.into()))?;
        for run_id in protocol::receive(std::io::BufReader::new(input)) {
            let run_id = run_id.map_err(|e| io("reading the next run id", e))?;
            let log_path = self
                .home
                .worker_log_path(&run_id)
                .map_err(|e| ExecError::Io {
                    what: "the worker log of run".into(),
                    path: run_id.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            match open_log(&log_path) {
                Ok(log) => {
                    let _ = std::io::stderr().flush();
                    dup2_stdout(&log).map_err(|e| io("redirecting stdout", e.into()))?;
                    dup2_stderr(&log).map_err(|e| io("redirecting stderr", e.into()))?;
                }
                Err(e) => {
                    tracing::warn!(run.id = %run_id, error = %e, path = %log_path.display(), "cannot open the run's worker log; its output goes to the previous one")
                }
            }
            match self.execute(rt, &run_id, load) {
                Ok(status) => tracing::info!(run.id = %run_id, status = %status, "run finished"),
                Err(e) => tracing::error!(run.id = %run_id, error = %e, "run failed"),
            }
            let _ = std::io::stderr().flush();
            if protocol::send(&mut output, &run_id).is_err() {
                break;
            }
        }
        Ok(())
    }
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::protocol;

    #[test]
    fn the_protocol_is_one_run_id_per_line_both_ways() {
        let mut wire = Vec::new();
        protocol::send(&mut wire, "run-a").unwrap();
        protocol::send(&mut wire, "run-b").unwrap();
        wire.extend_from_slice(b"\n  \n");
        let got: Vec<String> = protocol::receive(&wire[..]).map(|r| r.unwrap()).collect();
        assert_eq!(got, ["run-a", "run-b"]);
    }
}
