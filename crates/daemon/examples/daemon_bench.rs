#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // a benchmark driver on plain threads
//! Daemon benchmarks against the release `dagster-daemon` and `dagster` binaries (build them
//! first; `scripts/bench_daemon.sh` does). Each mode runs on a fresh temporary DAGSTER_HOME with
//! SQLite or a throwaway schema of the test Postgres (`DAGSTER_TEST_PG_URL`).
//!
//! ```text
//! daemon_bench schedules sqlite|postgres [N]   N RUNNING `* * * * *` schedules (default 1000):
//!                                              minute boundary -> last tick stored
//! daemon_bench dequeue sqlite|postgres [N] [C] [I]  N QUEUED no-op runs (default 2000),
//!                                              max_concurrent_runs C (200), max_idle_workers I
//!                                              (32): claim rate of the first pass and end-to-end
//!                                              runs/s to SUCCESS, median/mean/p90 phases per run
//! daemon_bench latency sqlite|postgres [N]     enqueue (in process) -> SUCCESS, N runs (default 20)
//! daemon_bench idle sqlite|postgres            RSS after 12 s and CPU over 10 s of an idle daemon
//! ```

use dagster_core::config::home::DagsterHome;
use dagster_core::domain::{now_ts, EventType, RunStatus, RunsFilter};
use dagster_core::exec::{create_run, submit_run, CoordinatorKind, CreateRun, DefaultRunLauncher};
use dagster_core::instance::Instance;
use dagster_core::instigator::schedule::{selector_id, start_schedule};
use dagster_core::test_support::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin_dir() -> PathBuf {
    // target/<profile>/examples/daemon_bench -> target/<profile>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

struct Bench {
    dir: tempfile::TempDir,
    _db: TestDb,
    backend: String,
}

impl Bench {
    fn new(backend: &str, yaml: &str, pipeline: &str) -> Bench {
        let db = match backend {
            "sqlite" => TestDb::sqlite(),
            "postgres" => TestDb::postgres(),
            other => panic!("backend must be sqlite or postgres, not {other}"),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut y = String::new();
        if let Some(url) = db.pg_url() {
            y.push_str(&format!(
                "storage:\n  postgres:\n    postgres_url: \"{url}\"\n"
            ));
        }
        y.push_str(yaml);
        std::fs::write(dir.path().join("dagster.yaml"), y).unwrap();
        std::fs::write(dir.path().join("pipeline.yaml"), pipeline).unwrap();
        std::fs::write(
            dir.path().join("workspace.yaml"),
            "load_from:\n  - pipeline_config: {path: pipeline.yaml, location_name: bench}\n",
        )
        .unwrap();
        Bench {
            dir,
            _db: db,
            backend: backend.into(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn instance(&self) -> Instance {
        Instance::open(DagsterHome::new(self.path().to_path_buf())).unwrap()
    }

    fn daemon(&self) -> Child {
        Command::new(bin_dir().join("dagster-daemon"))
            .arg("run")
            .env("DAGSTER_HOME", self.path())
            .env("RUST_LOG", "warn")
            .args(["--log-level", "warn"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap()
    }

    fn defs(&self) -> dagster_core::defs::Definitions {
        let (mut d, _) = dagster_pipeline::load(&self.path().join("pipeline.yaml")).unwrap();
        d.location_name = "bench".into();
        d
    }

    fn enqueue(&self, inst: &Instance, defs: &dagster_core::defs::Definitions) -> String {
        let run = create_run(
            &*inst.storage,
            defs,
            CreateRun {
                job_name: "one_job".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let launcher = DefaultRunLauncher::new(bin_dir().join("dagster"), self.path()).into();
        submit_run(&*inst.storage, &launcher, CoordinatorKind::Queued, &run).unwrap();
        run.run_id
    }
}

fn stop(mut d: Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = d.wait();
}

const ONE: &str = "location_name: bench\npipeline_configs:\n  one:\n    kind: noop\njobs:\n  one_job: {selection: [one]}\n";

fn wait_until(what: &str, timeout: Duration, f: impl FnMut() -> bool) {
    wait_every(what, timeout, Duration::from_millis(5), f)
}

/// [`wait_until`] polling every `every` (the dequeue mode measures from event timestamps, so it
/// polls slowly and its count queries do not compete with the daemon and the workers).
fn wait_every(what: &str, timeout: Duration, every: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}

fn schedules(backend: &str, n: usize) {
    let mut p = String::from(ONE);
    p.push_str("schedules:\n");
    for i in 0..n {
        p.push_str(&format!(
            "  s{i:04}:\n    job: one_job\n    cron: \"* * * * *\"\n"
        ));
    }
    // Runs stay QUEUED (max_concurrent_runs 0): this measures the scheduler alone.
    let b = Bench::new(backend, "run_queue:\n  max_concurrent_runs: 0\n", &p);
    let inst = b.instance();
    let defs = b.defs();
    // Start every schedule, at least 8 s before a minute boundary.
    while now_ts().rem_euclid(60.0) > 50.0 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = now_ts();
    for def in defs.schedules.values() {
        start_schedule(&*inst.storage, "bench", def, started).unwrap();
    }
    let d = b.daemon();
    let boundary = (started / 60.0).floor() * 60.0 + 60.0;
    let sels: Vec<String> = defs
        .schedules
        .keys()
        .map(|k| selector_id("bench", k))
        .collect();
    let done = |sel: &String| -> Option<f64> {
        inst.storage
            .list_ticks(sel, 1)
            .unwrap()
            .into_iter()
            .find(|t| t.timestamp == boundary && t.status != "STARTED")
            .and_then(|t| t.body.get("end_timestamp").and_then(|e| e.as_f64()))
    };
    std::thread::sleep(Duration::from_secs_f64((boundary - now_ts()).max(0.0)));
    let mut ends = Vec::with_capacity(n);
    for sel in &sels {
        let mut end = None;
        wait_until("every tick", Duration::from_secs(120), || {
            end = done(sel);
            end.is_some()
        });
        ends.push(end.unwrap_or_default());
    }
    stop(d);
    ends.sort_by(f64::total_cmp);
    let runs = inst
        .storage
        .count_runs(&RunsFilter {
            statuses: Some(vec![RunStatus::Queued]),
            ..Default::default()
        })
        .unwrap();
    println!(
        "schedules {}: {n} schedules due at the same minute: first tick stored {:.3} s, last {:.3} s after the boundary; {runs} runs QUEUED",
        b.backend,
        ends[0] - boundary,
        ends[n - 1] - boundary,
    );
}

fn event_times(inst: &Instance, run_id: &str, ty: EventType) -> Option<f64> {
    event_time_where(inst, run_id, ty, "")
}

fn event_time_where(inst: &Instance, run_id: &str, ty: EventType, prefix: &str) -> Option<f64> {
    inst.storage
        .events_for_run(run_id, None, 1000)
        .unwrap()
        .events
        .iter()
        .find(|e| e.event.event_type == Some(ty) && e.event.message.starts_with(prefix))
        .map(|e| e.event.timestamp)
}

fn dequeue(backend: &str, n: usize, max_concurrent: usize, max_idle: usize) {
    let b = Bench::new(
        backend,
        &format!(
            "run_queue:\n  max_concurrent_runs: {max_concurrent}\nrun_launcher:\n  module: dagster\n  class: DefaultRunLauncher\n  config: {{max_idle_workers: {max_idle}}}\n"
        ),
        ONE,
    );
    let inst = b.instance();
    let defs = b.defs();
    let ids: Vec<String> = (0..n).map(|_| b.enqueue(&inst, &defs)).collect();
    let t0 = now_ts();
    let d = b.daemon();
    let count = |s: RunStatus| {
        inst.storage
            .count_runs(&RunsFilter {
                statuses: Some(vec![s]),
                ..Default::default()
            })
            .unwrap() as usize
    };
    wait_every(
        "every run to finish",
        Duration::from_secs(1800),
        Duration::from_millis(250),
        || count(RunStatus::Success) + count(RunStatus::Failure) == n,
    );
    // The daemon's own memory once every run is done (its idle workers are other processes).
    let (rss, peak) = (
        proc_field(d.id(), "status", "VmRSS:"),
        proc_field(d.id(), "status", "VmHWM:"),
    );
    stop(d);
    report_failures(&inst);
    let mut starting: Vec<f64> = ids
        .iter()
        .filter_map(|id| event_times(&inst, id, EventType::RunStarting))
        .collect();
    starting.sort_by(f64::total_cmp);
    let mut success: Vec<f64> = ids
        .iter()
        .filter_map(|id| event_times(&inst, id, EventType::RunSuccess))
        .collect();
    success.sort_by(f64::total_cmp);
    // A worker is launched when the daemon writes its "Started process" engine event.
    let mut launched: Vec<f64> = ids
        .iter()
        .filter_map(|id| {
            event_time_where(&inst, id, EventType::EngineEvent, "Started process for run")
        })
        .collect();
    launched.sort_by(f64::total_cmp);
    // Per run, median phase durations (ms): claim → worker handed the run, → RUN_START,
    // → RUN_SUCCESS.
    let mut phases: [Vec<f64>; 3] = Default::default();
    for id in &ids {
        let (Some(c), Some(l), Some(st), Some(su)) = (
            event_times(&inst, id, EventType::RunStarting),
            event_time_where(&inst, id, EventType::EngineEvent, "Started process for run"),
            event_times(&inst, id, EventType::RunStart),
            event_times(&inst, id, EventType::RunSuccess),
        ) else {
            continue;
        };
        phases[0].push((l - c) * 1e3);
        phases[1].push((st - l) * 1e3);
        phases[2].push((su - st) * 1e3);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let p90 = |v: &Vec<f64>| v.get(v.len() * 9 / 10).copied().unwrap_or(f64::NAN);
    let [p0, p1, p2] = &mut phases;
    let (m0, m1, m2) = (med(p0), med(p1), med(p2));
    let burst = max_concurrent.min(n);
    let launch_secs = launched[burst - 1] - starting[0];
    let all_launched = launched[launched.len() - 1] - starting[0];
    let e2e = success[success.len() - 1] - starting[0];
    println!(
        "dequeue {}: {n} queued runs, max_concurrent_runs {max_concurrent}: first pass claimed {burst} runs in one transaction and launched them in {:.3} s ({:.0} runs/s); all {n} claimed+launched in {:.2} s ({:.0} runs/s); {} SUCCESS, first claim -> last SUCCESS {:.2} s ({:.0} runs/s end to end); daemon start -> first claim {:.2} s",
        b.backend,
        launch_secs,
        burst as f64 / launch_secs,
        all_launched,
        launched.len() as f64 / all_launched,
        success.len(),
        e2e,
        success.len() as f64 / e2e,
        starting[0] - t0,
    );
    println!(
        "  per run, median: claim -> worker has it {m0:.1} ms; -> RUN_START {m1:.1} ms; -> RUN_SUCCESS {m2:.1} ms"
    );
    println!(
        "  per run, mean: {:.1} / {:.1} / {:.1} ms; p90: {:.1} / {:.1} / {:.1} ms",
        mean(p0),
        mean(p1),
        mean(p2),
        p90(p0),
        p90(p1),
        p90(p2)
    );
    println!("  daemon after {n} runs: RSS {rss}, peak {peak}");
}

/// Prints the failed runs (up to 5) with their error events: a benchmark counts only successes.
fn report_failures(inst: &Instance) {
    let failed = inst
        .storage
        .list_runs(
            &RunsFilter {
                statuses: Some(vec![RunStatus::Failure]),
                ..Default::default()
            },
            None,
            Some(5),
        )
        .unwrap();
    for run in failed {
        let page = inst
            .storage
            .events_for_run(&run.run_id, None, 1000)
            .unwrap();
        for e in page.events.iter().filter(|e| {
            matches!(
                e.event.event_type,
                Some(EventType::RunFailure | EventType::EngineEvent | EventType::StepFailure)
            )
        }) {
            println!("  FAILED run {}: {}", run.run_id, e.event.message);
        }
    }
}

fn latency(backend: &str, n: usize) {
    let b = Bench::new(backend, "run_queue:\n  max_concurrent_runs: 10\n", ONE);
    let inst = b.instance();
    let defs = b.defs();
    let d = b.daemon();
    std::thread::sleep(Duration::from_secs(3));
    let mut lat = Vec::new();
    for _ in 0..n {
        let t0 = Instant::now();
        let id = b.enqueue(&inst, &defs);
        wait_until("SUCCESS", Duration::from_secs(60), || {
            inst.storage
                .get_run(&id)
                .unwrap()
                .unwrap()
                .status
                .is_finished()
        });
        assert_eq!(
            inst.storage.get_run(&id).unwrap().unwrap().status,
            RunStatus::Success
        );
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(200));
    }
    stop(d);
    lat.sort_by(f64::total_cmp);
    println!(
        "latency {}: enqueue (in process) -> daemon -> worker -> SUCCESS over {n} runs: median {:.1} ms, min {:.1}, max {:.1}",
        b.backend,
        lat[n / 2],
        lat[0],
        lat[n - 1]
    );
}

fn proc_field(pid: u32, file: &str, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces): utime is 14th, stime 15th.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn idle(backend: &str) {
    let b = Bench::new(backend, "", ONE);
    let d = b.daemon();
    std::thread::sleep(Duration::from_secs(12));
    let rss = proc_field(d.id(), "status", "VmRSS:");
    let t1 = cpu_ticks(d.id());
    std::thread::sleep(Duration::from_secs(10));
    let t2 = cpu_ticks(d.id());
    let id = d.id();
    stop(d);
    println!(
        "idle {}: RSS after 12 s {rss}; CPU over 10 s {} ms (pid {id})",
        b.backend,
        (t2 - t1) * 10
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let backend = args.get(1).map(String::as_str).unwrap_or("sqlite");
    let n = |d: usize| args.get(2).and_then(|v| v.parse().ok()).unwrap_or(d);
    match mode {
        "schedules" => schedules(backend, n(1000)),
        "dequeue" => dequeue(
            backend,
            n(2000),
            args.get(3).and_then(|v| v.parse().ok()).unwrap_or(200),
            args.get(4).and_then(|v| v.parse().ok()).unwrap_or(32),
        ),
        "latency" => latency(backend, n(20)),
        "idle" => idle(backend),
        _ => {
            eprintln!("usage: daemon_bench schedules|dequeue|latency|idle sqlite|postgres [N] [dequeue: max_concurrent_runs, default 200] [dequeue: max_idle_workers, default 32]");
            std::process::exit(2);
        }
    }
}
