//! Run monitoring (`MONITORING`, always on): every 2 s on every daemon, dead workers,
//! start/cancel timeouts, `dagster/max_runtime`.
//!
//! Every transition goes through a conditional run-lifecycle event, so a run that finished
//! meanwhile is never changed (storage refuses the event).

use super::{DaemonLoop, Periodic};
use crate::config::DaemonConfig;
use anyhow::Result;
use dagster_core::config::instance::RunMonitoringConfig;
use dagster_core::daemon_health::MONITORING;
use dagster_core::domain::{
    tags, ErrorInfo, EventData, EventType, MetadataValue, NewEvent, Run, RunStatus, RunsFilter,
};
use dagster_core::exec::docker::{ContainerCheck, DockerRunLauncher, CONTAINER_ID_TAG};
use dagster_core::storage::Storage;
use std::collections::BTreeMap;

/// Seconds between two monitoring passes.
pub const INTERVAL_SECONDS: f64 = 2.0;

/// The loop.
pub fn new(config: &DaemonConfig) -> Option<Box<dyn DaemonLoop>> {
    let settings = config.monitoring.clone();
    let mut last_sweep = 0.0;
    Periodic::every(
        INTERVAL_SECONDS,
        "run monitoring",
        MONITORING,
        move |ctx, now| {
            let docker = ctx.runs.launcher().docker();
            if let Err(e) = monitor_runs(ctx.storage(), &settings, docker, now) {
                ctx.record(MONITORING, "run monitoring pass", &e);
            }
            if let Some(d) = docker.filter(|_| now - last_sweep >= SWEEP_INTERVAL_SECONDS) {
                last_sweep = now;
                match d.sweep() {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed exited run containers"),
                    Err(e) => tracing::warn!(error = %e, "cannot sweep exited run containers"),
                }
            }
        },
    )
    .boxed()
}

/// Seconds between two sweeps of exited run containers (DockerRunLauncher).
const SWEEP_INTERVAL_SECONDS: f64 = 30.0;

/// Why the run's container (DockerRunLauncher) no longer runs the run, if it does not: the
/// failure message, with the end of the container's output. `None` for a run without a
/// container, a running container, or when the engine cannot be asked (logged).
fn container_gone(docker: Option<&DockerRunLauncher>, run: &Run) -> Option<String> {
    let d = docker?;
    let id = run.tags.get(CONTAINER_ID_TAG)?;
    let mut msg = match d.check(run)? {
        Ok(ContainerCheck::Running) => return None,
        Ok(ContainerCheck::Exited(why)) => {
            format!("The run worker's container {id} stopped before the run finished. {why}.")
        }
        Ok(ContainerCheck::Missing) => {
            format!("The run worker's container {id} no longer exists.")
        }
        Err(e) => {
            tracing::warn!(run.id = %run.run_id, error = %e, "cannot check the run's container");
            return None;
        }
    };
    if let Some(tail) = d.output_tail(&run.run_id, 1500) {
        msg.push_str(&format!("\nLast output of the container:\n{tail}"));
    }
    Some(msg)
}

/// Settings of one monitoring pass.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    pub start_timeout_seconds: f64,
    pub cancel_timeout_seconds: f64,
    /// The executor's worker heartbeat interval; a worker is dead after two missed.
    pub worker_heartbeat_interval: f64,
    /// 0 = unlimited (a `dagster/max_runtime` tag overrides it).
    pub max_runtime_seconds: f64,
}

impl MonitorSettings {
    /// `run_monitoring` with the run workers' heartbeat interval.
    pub fn from_config(c: &RunMonitoringConfig, worker_heartbeat_interval: f64) -> Self {
        MonitorSettings {
            start_timeout_seconds: c.start_timeout_seconds as f64,
            cancel_timeout_seconds: c.cancel_timeout_seconds as f64,
            worker_heartbeat_interval,
            max_runtime_seconds: c.max_runtime_seconds as f64,
        }
    }
}

fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // A zombie (exited, not reaped yet by its parent) is dead.
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        if stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            == Some("Z")
        {
            return false;
        }
    }
    // Signal 0: existence check (EPERM also means it exists).
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

fn fail_run(storage: &dyn Storage, run: &Run, message: &str, reason: &str) -> Result<bool> {
    let ev = NewEvent::run_failure(
        &run.run_id,
        &run.job_name,
        message,
        ErrorInfo::new(message),
        reason,
    );
    let outcome = storage.store_events(&[ev])?;
    if !outcome.rejected.is_empty() {
        return Ok(false);
    }
    let mut t = BTreeMap::new();
    t.insert(tags::FAILURE_REASON.to_string(), reason.to_string());
    storage.add_run_tags(&run.run_id, &t)?;
    tracing::warn!(run.id = %run.run_id, reason, "{message}");
    Ok(true)
}

/// Whether the run's worker was launched on this host (so its pid means something here).
fn local_worker(run: &Run, host: &str) -> bool {
    run.tags
        .get(dagster_core::exec::launcher::WORKER_HOST_TAG)
        .is_some_and(|h| h == host)
}

fn kill_worker(storage: &dyn Storage, docker: Option<&DockerRunLauncher>, run: &Run, host: &str) {
    if let Some(d) = docker {
        if let Err(e) = d.stop(run) {
            tracing::warn!(run.id = %run.run_id, error = %e, "cannot stop the run's container");
        }
    }
    if !local_worker(run, host) {
        return;
    }
    if let Ok(Some((pid, _))) = storage.worker_heartbeat(&run.run_id) {
        if pid_alive(pid) {
            let _ = dagster_core::exec::launcher::terminate_process_group(pid);
        }
    }
}

/// kvs key of a daemon process's liveness lease (`KvStore::kv_try_lease`, renewed with the
/// leader lease, released on SIGTERM): while it is unexpired, the runs that daemon claimed
/// are its to launch.
pub fn alive_key(daemon_id: &str) -> String {
    format!("{ALIVE_PREFIX}{daemon_id}")
}

/// Key prefix of the daemons' liveness leases in `kvs`.
pub const ALIVE_PREFIX: &str = "daemon/alive/";

/// Whether the daemon `daemon_id` is gone: its liveness lease is missing or expired at `now`.
fn claimer_gone(storage: &dyn Storage, daemon_id: &str, now: f64) -> Result<bool> {
    let Some(v) = storage.kv_get(&alive_key(daemon_id))? else {
        return Ok(true);
    };
    let expires = serde_json::from_str::<serde_json::Value>(&v)
        .ok()
        .and_then(|l| l.get("expires").and_then(serde_json::Value::as_f64));
    Ok(expires.is_none_or(|e| e < now))
}

/// The launcher's "Started process for run (pid: N)" event of the run, if it was written.
fn started_process(storage: &dyn Storage, run_id: &str) -> Result<Option<NewEvent>> {
    let mut after = None;
    loop {
        let page = storage.events_for_run(run_id, after, 500)?;
        if let Some(e) = page.events.into_iter().find(|e| {
            e.event.event_type == Some(EventType::EngineEvent)
                && e.event.message.starts_with("Started process for run")
        }) {
            return Ok(Some(e.event));
        }
        if !page.has_more {
            return Ok(None);
        }
        after = page.cursor;
    }
}

/// The worker pid a "Started process" event records (its `pid` metadata).
fn event_pid(event: &NewEvent) -> Option<u32> {
    let EventData::Engine { metadata, .. } = &event.data else {
        return None;
    };
    metadata
        .iter()
        .find(|m| m.label == "pid")
        .and_then(|m| match m.value {
            MetadataValue::Int(pid) => u32::try_from(pid).ok(),
            _ => None,
        })
}

/// How long after its creation a schedule's or sensor's NOT_STARTED run may still be submitted
/// by the resumed tick that created it (Dagster resumes a tick for 24 h).
const TICK_RESUME_SECONDS: f64 = 24.0 * 3600.0;

/// How long a STARTING run may go without its worker on this host being checked (a healthy
/// worker writes RUN_START within milliseconds; the check reads the run's events).
const STARTING_CHECK_AFTER_SECONDS: f64 = 5.0;

/// A STARTING run claimed by a queue daemon that died between its claim and the spawn of the
/// worker: no worker will ever start it. Returns the claiming daemon's id if so.
fn orphaned_claim(storage: &dyn Storage, run: &Run, now: f64) -> Result<Option<String>> {
    let Some(claimer) = run.tags.get(crate::loops::queue::CLAIMED_BY_TAG) else {
        return Ok(None);
    };
    if !claimer_gone(storage, claimer, now)?
        || storage.worker_heartbeat(&run.run_id)?.is_some()
        || started_process(storage, &run.run_id)?.is_some()
    {
        return Ok(None);
    }
    Ok(Some(claimer.clone()))
}

/// One pass over active runs at `now` for worker processes. Returns how many runs it changed.
#[cfg(test)]
pub fn monitor_iteration(storage: &dyn Storage, s: &MonitorSettings, now: f64) -> Result<usize> {
    monitor_runs(storage, s, None, now)
}

/// One pass over active runs at `now`; `docker`: the Docker launcher, whose runs' containers
/// are checked too. Returns how many runs it changed.
pub fn monitor_runs(
    storage: &dyn Storage,
    s: &MonitorSettings,
    docker: Option<&DockerRunLauncher>,
    now: f64,
) -> Result<usize> {
    let runs = storage.list_runs(
        &RunsFilter {
            statuses: Some(vec![
                RunStatus::NotStarted,
                RunStatus::Starting,
                RunStatus::Started,
                RunStatus::Canceling,
            ]),
            ..Default::default()
        },
        None,
        None,
    )?;
    let host = dagster_core::exec::launcher::local_host();
    let mut changed = 0;
    for run in runs {
        // A run in a container whose container stopped: its exit says more than a missed
        // heartbeat or a timeout would.
        if matches!(run.status, RunStatus::Starting | RunStatus::Started) {
            if let Some(msg) = container_gone(docker, &run) {
                changed += usize::from(fail_run(storage, &run, &msg, "RUN_WORKER_DIED")?);
                continue;
            }
        }
        match run.status {
            RunStatus::NotStarted => {
                // Created but never submitted (the process that created it stopped in
                // between). A schedule's or sensor's run is submitted again when its tick is
                // resumed, so it gets as long as a tick may be resumed before it is failed.
                let limit = if run.tags.contains_key(tags::TICK) {
                    TICK_RESUME_SECONDS + s.start_timeout_seconds
                } else {
                    s.start_timeout_seconds
                };
                if now - run.create_time > limit {
                    let msg = format!(
                        "Run timed out due to taking longer than {limit:.0} seconds to start (it was created but never queued or launched)."
                    );
                    changed += usize::from(fail_run(storage, &run, &msg, "START_TIMEOUT")?);
                }
            }
            RunStatus::Starting if now - run.update_time <= s.start_timeout_seconds => {
                // Not timed out yet; but if the daemon that claimed it died before spawning
                // its worker, nothing will ever start it: fail it now (never re-queue it: a
                // worker spawned just before the daemon died could still be starting, and a
                // FAILURE is final, so the run never executes twice; run retries re-execute it).
                if let Some(claimer) = orphaned_claim(storage, &run, now)? {
                    let msg = format!(
                        "The daemon that claimed this run ({claimer}) stopped before it started a run worker."
                    );
                    changed +=
                        usize::from(fail_run(storage, &run, &msg, "UNEXPECTED_TERMINATION")?);
                    continue;
                }
                // Its worker, on this host, is gone without having started it (e.g. a reusable
                // worker stopped just as the run was handed to it): fail it now rather than at
                // the start timeout. A run that started or finished meanwhile is not changed
                // (storage refuses FAILURE after a finished status; STARTED → FAILURE is right
                // for a dead worker anyway).
                if now - run.update_time > STARTING_CHECK_AFTER_SECONDS && local_worker(&run, &host)
                {
                    if let Some(pid) = started_process(storage, &run.run_id)?
                        .as_ref()
                        .and_then(event_pid)
                        .filter(|pid| !pid_alive(*pid))
                    {
                        let msg = format!(
                            "The run worker process (pid {pid}) exited before it started the run."
                        );
                        changed += usize::from(fail_run(storage, &run, &msg, "RUN_WORKER_DIED")?);
                    }
                }
            }
            RunStatus::Starting => {
                kill_worker(storage, docker, &run, &host);
                let msg = format!(
                    "Run timed out due to taking longer than {} seconds to start.",
                    s.start_timeout_seconds
                );
                changed += usize::from(fail_run(storage, &run, &msg, "START_TIMEOUT")?);
            }
            RunStatus::Started => {
                let hb = storage.worker_heartbeat(&run.run_id)?;
                let since = hb
                    .map(|(_, t)| t)
                    .or(run.start_time)
                    .unwrap_or(run.update_time);
                // The pid is only meaningful on the host that launched the worker (another
                // daemon replica may run elsewhere); there the heartbeat age decides.
                let dead_pid =
                    local_worker(&run, &host) && hb.is_some_and(|(pid, _)| !pid_alive(pid));
                if dead_pid || now - since > 2.0 * s.worker_heartbeat_interval {
                    kill_worker(storage, docker, &run, &host);
                    let msg = if dead_pid {
                        "The run worker process exited without finishing the run.".to_string()
                    } else {
                        format!(
                            "The run worker stopped heartbeating ({:.0} s since its last heartbeat).",
                            now - since
                        )
                    };
                    changed += usize::from(fail_run(storage, &run, &msg, "RUN_WORKER_DIED")?);
                    continue;
                }
                let max_runtime = run
                    .tags
                    .get(tags::MAX_RUNTIME)
                    .and_then(|v| tags::max_runtime(v))
                    .unwrap_or(s.max_runtime_seconds);
                let started = run.start_time.unwrap_or(run.create_time);
                if max_runtime > 0.0 && now - started > max_runtime {
                    // FAILURE first (storage does not allow CANCELING → FAILURE), then the
                    // worker's process group is terminated; its later events are refused.
                    let msg = format!("Exceeded maximum runtime of {max_runtime} seconds.");
                    let failed = fail_run(storage, &run, &msg, "RUN_EXCEEDED_MAX_RUNTIME")?;
                    kill_worker(storage, docker, &run, &host);
                    changed += usize::from(failed);
                }
            }
            RunStatus::Canceling if now - run.update_time > s.cancel_timeout_seconds => {
                kill_worker(storage, docker, &run, &host);
                let ev = NewEvent::new(
                        &run.run_id,
                        &run.job_name,
                        Some(EventType::RunCanceled),
                        format!(
                            "Run was not canceled by its worker within {} seconds; marking it canceled.",
                            s.cancel_timeout_seconds
                        ),
                    );
                let outcome = storage.store_events(&[ev])?;
                changed += usize::from(outcome.rejected.is_empty());
            }
            _ => {}
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagster_core::domain::NewRun;
    use dagster_core::storage::{EventLogStore, KvStore, RunStore};
    use dagster_core::test_support::TestDb;
    use std::os::unix::process::CommandExt;

    fn settings() -> MonitorSettings {
        MonitorSettings {
            start_timeout_seconds: 180.0,
            cancel_timeout_seconds: 180.0,
            worker_heartbeat_interval: 5.0,
            max_runtime_seconds: 0.0,
        }
    }

    fn run_in(storage: &dyn Storage, events: &[EventType], tags: &[(&str, &str)]) -> Run {
        let mut tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Launched on this host, as the launcher tags it.
        tags.insert(
            dagster_core::exec::launcher::WORKER_HOST_TAG.into(),
            dagster_core::exec::launcher::local_host(),
        );
        let run = storage
            .add_run(NewRun {
                job_name: "j".into(),
                tags,
                run_config: serde_json::json!({}),
                ..Default::default()
            })
            .unwrap();
        let evs: Vec<NewEvent> = events
            .iter()
            .map(|t| NewEvent::new(&run.run_id, "j", Some(*t), ""))
            .collect();
        assert!(storage.store_events(&evs).unwrap().rejected.is_empty());
        storage.get_run(&run.run_id).unwrap().unwrap()
    }

    /// A stand-in worker in its own process group (so killing it never hits the test).
    fn fake_worker() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn a_starting_run_whose_local_worker_died_fails_before_the_start_timeout() {
        let db = TestDb::sqlite();
        let s = db.storage();
        let st = settings();
        // A worker that exited (reaped): its pid is dead.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let dead = run_in(&s, &[EventType::RunStarting], &[]);
        s.store_events(&[dagster_core::exec::launcher::started_event(
            &dead,
            gone.id(),
        )])
        .unwrap();
        let mut w = fake_worker();
        let alive = run_in(&s, &[EventType::RunStarting], &[]);
        s.store_events(&[dagster_core::exec::launcher::started_event(&alive, w.id())])
            .unwrap();
        // Not checked in its first seconds.
        assert_eq!(
            monitor_iteration(&s, &st, dead.update_time + 1.0).unwrap(),
            0
        );
        let later = dead.update_time + STARTING_CHECK_AFTER_SECONDS + 1.0;
        assert!(later - dead.update_time < st.start_timeout_seconds);
        assert_eq!(monitor_iteration(&s, &st, later).unwrap(), 1);
        let failed = s.get_run(&dead.run_id).unwrap().unwrap();
        assert_eq!(failed.status, RunStatus::Failure);
        assert_eq!(
            failed.tags.get(tags::FAILURE_REASON).map(String::as_str),
            Some("RUN_WORKER_DIED")
        );
        assert_eq!(
            s.get_run(&alive.run_id).unwrap().unwrap().status,
            RunStatus::Starting,
            "a live worker keeps its run until the start timeout"
        );
        let _ = w.kill();
        let _ = w.wait();
    }

    /// A run created but never queued: failed after the start timeout (a tick's run after the
    /// tick could no longer be resumed); a queued run is not the monitor's to time out.
    #[test]
    fn a_run_never_submitted_is_failed_after_the_start_timeout() {
        let db = TestDb::sqlite();
        let s = db.storage();
        let st = settings();
        let lost = run_in(&s, &[], &[]);
        let of_tick = run_in(&s, &[], &[(tags::TICK, "7")]);
        let queued = run_in(&s, &[EventType::RunEnqueued], &[]);
        let t0 = lost.create_time;
        assert_eq!(monitor_iteration(&s, &st, t0 + 170.0).unwrap(), 0);
        assert_eq!(monitor_iteration(&s, &st, t0 + 181.0).unwrap(), 1);
        let r = s.get_run(&lost.run_id).unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Failure);
        assert_eq!(r.tags[tags::FAILURE_REASON], "START_TIMEOUT");
        assert_eq!(
            s.get_run(&of_tick.run_id).unwrap().unwrap().status,
            RunStatus::NotStarted
        );
        assert_eq!(
            monitor_iteration(&s, &st, t0 + TICK_RESUME_SECONDS + 181.0).unwrap(),
            1
        );
        assert_eq!(
            s.get_run(&of_tick.run_id).unwrap().unwrap().status,
            RunStatus::Failure
        );
        assert_eq!(
            s.get_run(&queued.run_id).unwrap().unwrap().status,
            RunStatus::Queued
        );
    }

    #[test]
    fn timeouts_dead_workers_and_max_runtime() {
        let db = TestDb::sqlite();
        let s = db.storage();
        let st = settings();
        let starting = run_in(&s, &[EventType::RunStarting], &[]);
        let canceling = run_in(&s, &[EventType::RunStarting, EventType::RunCanceling], &[]);
        let mut w1 = fake_worker();
        let silent = run_in(&s, &[EventType::RunStarting, EventType::RunStart], &[]);
        s.record_worker_heartbeat(&silent.run_id, w1.id(), silent.update_time)
            .unwrap();
        let mut w2 = fake_worker();
        let long = run_in(
            &s,
            &[EventType::RunStarting, EventType::RunStart],
            &[(tags::MAX_RUNTIME, "1")],
        );
        let healthy = run_in(&s, &[EventType::RunStarting, EventType::RunStart], &[]);
        let mut w3 = fake_worker();
        // A worker on another host: its pid means nothing here, only its heartbeat counts.
        let remote = run_in(&s, &[EventType::RunStarting, EventType::RunStart], &[]);
        let mut elsewhere = BTreeMap::new();
        elsewhere.insert(
            dagster_core::exec::launcher::WORKER_HOST_TAG.to_string(),
            "another-host".to_string(),
        );
        s.add_run_tags(&remote.run_id, &elsewhere).unwrap();
        let now = starting.update_time;
        s.record_worker_heartbeat(&remote.run_id, 999_999_999, now + 3.0)
            .unwrap();
        s.record_worker_heartbeat(&long.run_id, w2.id(), now + 3.0)
            .unwrap();
        s.record_worker_heartbeat(&healthy.run_id, w3.id(), now + 3.0)
            .unwrap();

        // Nothing is due yet.
        assert_eq!(monitor_iteration(&s, &st, now + 0.5).unwrap(), 0);
        // 4 s later: the silent worker is still within 2 intervals; max runtime (1 s) exceeded.
        assert_eq!(monitor_iteration(&s, &st, now + 4.0).unwrap(), 1);
        let r = s.get_run(&long.run_id).unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Failure);
        assert_eq!(r.tags[tags::FAILURE_REASON], "RUN_EXCEEDED_MAX_RUNTIME");
        // 11 s: the silent worker missed two heartbeats.
        assert_eq!(
            s.get_run(&remote.run_id).unwrap().unwrap().status,
            RunStatus::Started
        );
        // 11 s: the silent worker missed two heartbeats (the remote one is still fresh).
        assert_eq!(monitor_iteration(&s, &st, now + 11.0).unwrap(), 1);
        assert_eq!(
            s.get_run(&remote.run_id).unwrap().unwrap().status,
            RunStatus::Started
        );
        let r = s.get_run(&silent.run_id).unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Failure);
        assert_eq!(r.tags[tags::FAILURE_REASON], "RUN_WORKER_DIED");
        // Both fake workers were killed.
        assert!(w1.wait().unwrap().signal().is_some());
        assert!(w2.wait().unwrap().signal().is_some());
        // 14 s: the remote worker's heartbeat is stale too (the healthy one beat at 12 s).
        s.record_worker_heartbeat(&healthy.run_id, w3.id(), now + 12.0)
            .unwrap();
        assert_eq!(monitor_iteration(&s, &st, now + 14.0).unwrap(), 1);
        assert_eq!(
            s.get_run(&remote.run_id).unwrap().unwrap().status,
            RunStatus::Failure
        );
        // 181 s: start and cancel timeouts.
        s.record_worker_heartbeat(&healthy.run_id, w3.id(), now + 180.0)
            .unwrap();
        assert_eq!(monitor_iteration(&s, &st, now + 181.0).unwrap(), 2);
        let r = s.get_run(&starting.run_id).unwrap().unwrap();
        assert_eq!(r.status, RunStatus::Failure);
        assert_eq!(r.tags[tags::FAILURE_REASON], "START_TIMEOUT");
        assert_eq!(
            s.get_run(&canceling.run_id).unwrap().unwrap().status,
            RunStatus::Canceled
        );
        // The healthy run is untouched; finished runs never change again.
        assert_eq!(
            s.get_run(&healthy.run_id).unwrap().unwrap().status,
            RunStatus::Started
        );
        assert_eq!(monitor_iteration(&s, &st, now + 10_000.0).unwrap(), 1);
        assert_eq!(
            s.get_run(&long.run_id).unwrap().unwrap().status,
            RunStatus::Failure
        );
        assert!(w3.wait().unwrap().signal().is_some());
    }

    /// A STARTING run claimed by `claimer` (as the queue daemon tags it).
    fn claimed(storage: &dyn Storage, claimer: &str) -> Run {
        let run = run_in(storage, &[EventType::RunEnqueued], &[]);
        let mut t = BTreeMap::new();
        t.insert(
            crate::loops::queue::CLAIMED_BY_TAG.to_string(),
            claimer.to_string(),
        );
        let ev = NewEvent::new(&run.run_id, "j", Some(EventType::RunStarting), "").with_run_tags(t);
        assert!(storage.store_events(&[ev]).unwrap().rejected.is_empty());
        storage.get_run(&run.run_id).unwrap().unwrap()
    }

    #[test]
    fn runs_claimed_by_a_dead_daemon_and_never_launched_fail_at_once() {
        for db in [TestDb::sqlite(), TestDb::postgres()] {
            let s = db.storage();
            let st = settings();
            let now = dagster_core::domain::now_ts();
            // A live claimer (its liveness lease is fresh) is still launching: untouched.
            assert!(s
                .kv_try_lease(&alive_key("live"), "live", now, 15.0)
                .unwrap());
            let live = claimed(&s, "live");
            // The claimer's lease expired (SIGKILL) or was never written: failed at once,
            // long before start_timeout_seconds.
            assert!(s
                .kv_try_lease(&alive_key("killed"), "killed", now - 60.0, 15.0)
                .unwrap());
            let orphan = claimed(&s, "killed");
            let never = claimed(&s, "unknown");
            // The claimer died after spawning the worker: the worker may still start it, so
            // only start_timeout applies.
            let spawned = claimed(&s, "killed");
            let pid_event = dagster_core::exec::launcher::started_event(&spawned, 4242);
            s.store_events(&[pid_event]).unwrap();
            // The worker already heartbeats (and is about to write RUN_START): untouched.
            let beating = claimed(&s, "killed");
            s.record_worker_heartbeat(&beating.run_id, 4243, now)
                .unwrap();
            // A run launched by an older daemon has no claim tag: untouched.
            let untagged = run_in(&s, &[EventType::RunStarting], &[]);

            assert_eq!(monitor_iteration(&s, &st, now + 1.0).unwrap(), 2);
            for r in [&orphan, &never] {
                let r = s.get_run(&r.run_id).unwrap().unwrap();
                assert_eq!(r.status, RunStatus::Failure);
                assert_eq!(r.tags[tags::FAILURE_REASON], "UNEXPECTED_TERMINATION");
            }
            for r in [&live, &spawned, &beating, &untagged] {
                assert_eq!(
                    s.get_run(&r.run_id).unwrap().unwrap().status,
                    RunStatus::Starting
                );
            }
            // Failed runs never change again; the others wait for their start timeout.
            assert_eq!(monitor_iteration(&s, &st, now + 2.0).unwrap(), 0);
        }
    }

    use std::os::unix::process::ExitStatusExt;
}
