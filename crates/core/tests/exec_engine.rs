//! Execution engine tests against real storage: one isolated database per test, SQLite by
//! default and Postgres (`DAGSTER_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`)
//! for the `*_postgres` variants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // step bodies in tests run on plain threads

use anyhow::Context as _;
use dagster_core::defs::{
    AssetDef, Backoff, Definitions, JobDef, MaterializeResult, Registry, Resource, ResourceDef,
    ResourceType, RetryPolicy, StepContext, ASSET_JOB_NAME,
};
use dagster_core::domain::{
    tags, AssetKey, EventData, EventRecord, EventType, LogLevel, MetadataValue, NewEvent, Run,
    RunStatus,
};
use dagster_core::exec::{
    create_run, execute_run, execute_run_with_interrupt, fail_run_before_start,
    reexecution_request, request_cancel, submit_run, ComputeLogManager, CoordinatorKind, CreateRun,
    DefaultRunLauncher, ExecContext, ExecError, ExecOptions, Interrupt, LogStream,
    ReexecutionStrategy, RunObserver, PIPELINE_CONFIG_TAG,
};
use dagster_core::storage::Storage;
use dagster_core::test_support::TestDb;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Harness

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Harness {
    _db: TestDb,
    storage: Arc<dyn Storage>,
    home: tempfile::TempDir,
    defs: Arc<Definitions>,
    options: ExecOptions,
}

fn key(s: &str) -> AssetKey {
    AssetKey::from_user_string(s)
}

fn job(name: &str, assets: &[&str], max_concurrent_steps: Option<usize>) -> JobDef {
    JobDef {
        name: name.into(),
        description: None,
        assets: assets.iter().map(|a| key(a)).collect(),
        tags: BTreeMap::from([("team".to_string(), "data".to_string())]),
        max_concurrent_steps,
        source: None,
    }
}

fn definitions(
    assets: Vec<AssetDef>,
    jobs: Vec<JobDef>,
    registry: Registry,
    resources: Vec<ResourceDef>,
) -> Definitions {
    Definitions {
        location_name: "test_location".into(),
        source_file: None,
        assets: assets.into_iter().map(|a| (a.key.clone(), a)).collect(),
        jobs: jobs.into_iter().map(|j| (j.name.clone(), j)).collect(),
        schedules: BTreeMap::new(),
        sensors: BTreeMap::new(),
        resources: resources.into_iter().map(|r| (r.name.clone(), r)).collect(),
        registry,
    }
}

impl Harness {
    fn new(defs: Definitions) -> Self {
        Self::on(Backend::Sqlite, defs)
    }

    fn on(backend: Backend, defs: Definitions) -> Self {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres(),
        };
        let storage: Arc<dyn Storage> = Arc::new(db.storage());
        Harness {
            _db: db,
            storage,
            home: tempfile::tempdir().unwrap(),
            defs: Arc::new(defs),
            options: ExecOptions {
                cancel_poll_interval: Duration::from_millis(20),
                heartbeat_interval: Duration::from_millis(100),
                ..ExecOptions::default()
            },
        }
    }

    fn logs(&self) -> ComputeLogManager {
        ComputeLogManager::for_home(self.home.path())
    }

    fn ctx(&self) -> ExecContext {
        let mut c = ExecContext::new(self.storage.clone(), self.defs.clone(), self.logs());
        c.options = self.options.clone();
        c
    }

    fn create(&self, job_name: &str) -> Run {
        create_run(
            self.storage.as_ref(),
            &self.defs,
            CreateRun {
                job_name: job_name.into(),
                ..CreateRun::default()
            },
        )
        .unwrap()
    }

    async fn run(&self, job_name: &str) -> (Run, RunStatus) {
        let run = self.create(job_name);
        let status = execute_run(&self.ctx(), &run.run_id).await.unwrap();
        (run, status)
    }

    fn events(&self, run_id: &str) -> Vec<EventRecord> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.storage.events_for_run(run_id, after, 1000).unwrap();
            out.extend(page.events.iter().cloned());
            if !page.has_more {
                return out;
            }
            after = page.cursor;
        }
    }

    fn status(&self, run_id: &str) -> RunStatus {
        self.storage.get_run(run_id).unwrap().unwrap().status
    }
}

fn types(events: &[EventRecord]) -> Vec<Option<EventType>> {
    events.iter().map(|e| e.event.event_type).collect()
}

fn step_types(events: &[EventRecord], step: &str) -> Vec<EventType> {
    events
        .iter()
        .filter(|e| e.event.step_key.as_deref() == Some(step))
        .filter_map(|e| e.event.event_type)
        .filter(|t| *t != EventType::AssetMaterializationPlanned)
        .collect()
}

fn position(events: &[EventRecord], t: EventType, step: Option<&str>) -> usize {
    events
        .iter()
        .position(|e| {
            e.event.event_type == Some(t) && (step.is_none() || e.event.step_key.as_deref() == step)
        })
        .unwrap_or_else(|| panic!("no {t} for {step:?}"))
}

fn find<'a>(events: &'a [EventRecord], t: EventType, step: &str) -> &'a NewEvent {
    &events[position(events, t, Some(step))].event
}

fn noop(_: &mut StepContext) -> anyhow::Result<MaterializeResult> {
    Ok(MaterializeResult::new())
}

/// Sleeps in small slices until `total` passes or the step is cancelled.
fn sleep_with_checks(ctx: &StepContext, total: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + total;
    while Instant::now() < end {
        if ctx.is_cancelled() {
            anyhow::bail!("step {} cancelled", ctx.step_key);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn talking(
    name: &'static str,
) -> impl Fn(&mut StepContext) -> anyhow::Result<MaterializeResult> + Send + Sync {
    move |ctx: &mut StepContext| {
        writeln!(ctx.stdout, "hello from {name}")?;
        ctx.info(&format!("log line of {name}"));
        Ok(MaterializeResult::new().with("rows", MetadataValue::Int(42)))
    }
}

fn diamond_assets() -> Vec<AssetDef> {
    vec![
        AssetDef::new(key("a"), talking("a")),
        AssetDef::new(key("b"), talking("b")).deps([key("a")]),
        AssetDef::new(key("c"), talking("c")).deps([key("a")]),
        AssetDef::new(key("d"), talking("d")).deps([key("b"), key("c")]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Tests

#[derive(Default)]
struct Recorder(Mutex<Vec<(Option<EventType>, Option<String>)>>);
impl RunObserver for Recorder {
    fn on_event(&self, e: &NewEvent) {
        self.0
            .lock()
            .unwrap()
            .push((e.event_type, e.step_key.clone()));
    }
}

async fn diamond_succeeds_with_event_sequence_and_compute_logs_on(backend: Backend) {
    let h = Harness::on(
        backend,
        definitions(
            diamond_assets(),
            vec![job("diamond", &["a", "b", "c", "d"], None)],
            Registry::default(),
            vec![],
        ),
    );
    let run = h.create("diamond");
    assert_eq!(run.status, RunStatus::NotStarted);
    assert_eq!(
        run.tags.get(tags::CODE_LOCATION).map(String::as_str),
        Some("test_location")
    );
    assert_eq!(run.tags.get("team").map(String::as_str), Some("data"));

    let recorder = Arc::new(Recorder::default());
    let mut ctx = h.ctx();
    ctx.observer = Some(recorder.clone());
    let status = execute_run(&ctx, &run.run_id).await.unwrap();
    assert_eq!(status, RunStatus::Success);
    assert_eq!(h.status(&run.run_id), RunStatus::Success);

    let ev = h.events(&run.run_id);
    let t = types(&ev);
    // Planned events first, one per asset.
    assert!(
        t[..4]
            .iter()
            .all(|x| *x == Some(EventType::AssetMaterializationPlanned)),
        "{t:?}"
    );
    assert_eq!(t[4], Some(EventType::RunStart));
    assert_eq!(t[5], Some(EventType::EngineEvent));
    assert!(
        ev[5]
            .event
            .message
            .starts_with("Executing steps in process (pid "),
        "{}",
        ev[5].event.message
    );
    assert_eq!(*t.last().unwrap(), Some(EventType::RunSuccess));

    for step in ["a", "b", "c", "d"] {
        assert_eq!(
            step_types(&ev, step),
            vec![
                EventType::LogsCaptured,
                EventType::StepStart,
                EventType::StepOutput,
                EventType::AssetMaterialization,
                EventType::StepSuccess
            ],
            "step {step}"
        );
        // A plain log line (no event type) from ctx.info.
        assert!(ev.iter().any(|e| e.event.event_type.is_none()
            && e.event.step_key.as_deref() == Some(step)
            && e.event.message == format!("log line of {step}")
            && e.event.level == LogLevel::Info));
        let (out, err) = h.logs().paths(&run.run_id, step);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("hello from {step}\n")
        );
        assert!(std::fs::read_to_string(&err)
            .unwrap()
            .contains(&format!("INFO - log line of {step}")));
        assert!(h.logs().is_complete(&run.run_id, step));
        let chunk = h
            .logs()
            .read(&run.run_id, step, LogStream::Stdout, 0, 1024)
            .unwrap();
        assert_eq!(chunk.data, format!("hello from {step}\n"));
        match &find(&ev, EventType::LogsCaptured, step).data {
            EventData::LogsCaptured {
                file_key,
                stdout_path,
                ..
            } => {
                assert_eq!(file_key, step);
                assert_eq!(stdout_path, &out.display().to_string());
            }
            other => panic!("{other:?}"),
        }
        match &find(&ev, EventType::AssetMaterialization, step).data {
            EventData::Asset(m) => {
                assert_eq!(m.asset_key, key(step));
                assert_eq!(m.metadata[0].label, "rows");
            }
            other => panic!("{other:?}"),
        }
    }
    // Dependencies respected.
    let success = |s| position(&ev, EventType::StepSuccess, Some(s));
    let start = |s| position(&ev, EventType::StepStart, Some(s));
    assert!(success("a") < start("b") && success("a") < start("c"));
    assert!(success("b") < start("d") && success("c") < start("d"));

    // The observer saw everything, including the lifecycle event.
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.contains(&(Some(EventType::RunStart), None)));
    assert!(seen.contains(&(Some(EventType::RunSuccess), None)));
    assert!(seen.contains(&(Some(EventType::StepSuccess), Some("d".into()))));

    // The worker heartbeat was recorded.
    let (pid, _) = h.storage.worker_heartbeat(&run.run_id).unwrap().unwrap();
    assert_eq!(pid, std::process::id());

    // A finished run is not executed again.
    let again = execute_run(&h.ctx(), &run.run_id).await.unwrap_err();
    assert!(
        matches!(
            again,
            ExecError::RunFinished {
                status: RunStatus::Success,
                ..
            }
        ),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diamond_succeeds_with_event_sequence_and_compute_logs() {
    diamond_succeeds_with_event_sequence_and_compute_logs_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diamond_succeeds_with_event_sequence_and_compute_logs_postgres() {
    diamond_succeeds_with_event_sequence_and_compute_logs_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bound_is_respected() {
    /// Each step waits (bounded) until `want` steps run at once, so the maximum observed is
    /// exactly the bound when the executor is right, without relying on sleeps overlapping.
    #[derive(Default)]
    struct Gauge {
        running: AtomicUsize,
        max: AtomicUsize,
        want: AtomicUsize,
        done: AtomicUsize,
    }
    let gauge: Arc<Gauge> = Arc::default();
    let mk = |name: &str| {
        let g = gauge.clone();
        AssetDef::new(key(name), move |_: &mut StepContext| {
            let now = g.running.fetch_add(1, Ordering::SeqCst) + 1;
            g.max.fetch_max(now, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(3);
            while g.running.load(Ordering::SeqCst) < g.want.load(Ordering::SeqCst)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            g.max
                .fetch_max(g.running.load(Ordering::SeqCst), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(10));
            g.running.fetch_sub(1, Ordering::SeqCst);
            g.done.fetch_add(1, Ordering::SeqCst);
            Ok(MaterializeResult::new())
        })
    };
    let names = ["p1", "p2", "p3", "p4", "p5", "p6"];
    let mut h = Harness::new(definitions(
        names.iter().map(|n| mk(n)).collect(),
        vec![job("wide", &names, Some(3))],
        Registry::default(),
        vec![],
    ));

    // The explicit option wins over the job's setting.
    h.options.max_concurrent_steps = Some(2);
    gauge.want.store(2, Ordering::SeqCst);
    let (_, status) = h.run("wide").await;
    assert_eq!(status, RunStatus::Success);
    assert_eq!(gauge.done.load(Ordering::SeqCst), 6);
    assert_eq!(
        gauge.max.load(Ordering::SeqCst),
        2,
        "at most 2, and 2 did run at once"
    );

    // Without it the job's max_concurrent_steps (3) applies.
    h.options.max_concurrent_steps = None;
    gauge.want.store(3, Ordering::SeqCst);
    gauge.max.store(0, Ordering::SeqCst);
    let (run, status) = h.run("wide").await;
    assert_eq!(status, RunStatus::Success);
    assert_eq!(gauge.max.load(Ordering::SeqCst), 3);
    let engine = h
        .events(&run.run_id)
        .into_iter()
        .find(|e| e.event.event_type == Some(EventType::EngineEvent))
        .unwrap();
    assert!(
        engine.event.message.contains("max 3 concurrent steps"),
        "{}",
        engine.event.message
    );
}

async fn failing_step_fails_run_and_skips_downstream_on(backend: Backend) {
    let ran_downstream = Arc::new(AtomicU32::new(0));
    let r1 = ran_downstream.clone();
    let r2 = ran_downstream.clone();
    let assets = vec![
        AssetDef::new(key("a"), noop),
        AssetDef::new(key("b"), |_: &mut StepContext| {
            Err::<MaterializeResult, _>(anyhow::anyhow!("connection refused"))
                .context("loading table orders")
        })
        .deps([key("a")]),
        AssetDef::new(key("c"), move |_: &mut StepContext| {
            r1.fetch_add(1, Ordering::SeqCst);
            Ok(MaterializeResult::new())
        })
        .deps([key("b")]),
        AssetDef::new(key("d"), move |_: &mut StepContext| {
            r2.fetch_add(1, Ordering::SeqCst);
            Ok(MaterializeResult::new())
        })
        .deps([key("c")]),
        AssetDef::new(key("e"), noop),
    ];
    let h = Harness::on(
        backend,
        definitions(
            assets,
            vec![job("j", &["a", "b", "c", "d", "e"], None)],
            Registry::default(),
            vec![],
        ),
    );
    let (run, status) = h.run("j").await;
    assert_eq!(status, RunStatus::Failure);
    assert_eq!(h.status(&run.run_id), RunStatus::Failure);
    assert_eq!(ran_downstream.load(Ordering::SeqCst), 0);

    let ev = h.events(&run.run_id);
    let failure = find(&ev, EventType::StepFailure, "b");
    assert_eq!(failure.level, LogLevel::Error);
    match &failure.data {
        EventData::Failure { error, reason } => {
            assert_eq!(
                error.chain(),
                vec!["loading table orders", "connection refused"]
            );
            assert_eq!(reason.as_deref(), Some("USER_CODE_ERROR"));
        }
        other => panic!("{other:?}"),
    }
    assert!(step_types(&ev, "b").contains(&EventType::AssetFailedToMaterialize));
    assert_eq!(step_types(&ev, "c"), vec![EventType::StepSkipped]);
    assert_eq!(step_types(&ev, "d"), vec![EventType::StepSkipped]);
    assert!(find(&ev, EventType::StepSkipped, "c")
        .message
        .contains("upstream step \"b\" failed"));
    assert!(find(&ev, EventType::StepSkipped, "d")
        .message
        .contains("\"b\" failed"));
    assert!(step_types(&ev, "e").contains(&EventType::StepSuccess));

    let run_failure = &ev[position(&ev, EventType::RunFailure, None)].event;
    assert_eq!(
        run_failure.message,
        "Execution of run for \"j\" failed. Steps failed: ['b']."
    );
    match &run_failure.data {
        EventData::Failure { reason, .. } => assert_eq!(reason.as_deref(), Some("STEP_FAILURE")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_step_fails_run_and_skips_downstream() {
    failing_step_fails_run_and_skips_downstream_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_step_fails_run_and_skips_downstream_postgres() {
    failing_step_fails_run_and_skips_downstream_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_then_success() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let flaky = AssetDef::new(key("flaky"), move |ctx: &mut StepContext| {
        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
        assert_eq!(ctx.attempt, n);
        if n == 1 {
            anyhow::bail!("transient failure");
        }
        Ok(MaterializeResult::new())
    })
    .retry(RetryPolicy {
        max_retries: 2,
        delay: Duration::from_millis(10),
        backoff: Backoff::Exponential,
    });
    let h = Harness::new(definitions(
        vec![flaky],
        vec![],
        Registry::default(),
        vec![],
    ));
    let (run, status) = h.run(ASSET_JOB_NAME).await;
    assert_eq!(status, RunStatus::Success);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let ev = h.events(&run.run_id);
    assert_eq!(
        step_types(&ev, "flaky"),
        vec![
            EventType::LogsCaptured,
            EventType::StepStart,
            EventType::StepUpForRetry,
            EventType::StepRestarted,
            EventType::StepOutput,
            EventType::AssetMaterialization,
            EventType::StepSuccess
        ]
    );
    match &find(&ev, EventType::StepUpForRetry, "flaky").data {
        EventData::Retry {
            attempt,
            max_retries,
            wait_seconds,
            error,
        } => {
            assert_eq!((*attempt, *max_retries), (1, 2));
            assert_eq!(*wait_seconds, Some(0.01));
            assert_eq!(error.as_ref().unwrap().message, "transient failure");
        }
        other => panic!("{other:?}"),
    }
    match &find(&ev, EventType::StepRestarted, "flaky").data {
        EventData::Retry { attempt, .. } => assert_eq!(*attempt, 2),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_exhausted_fail_the_step() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let bad = AssetDef::new(key("bad"), move |_: &mut StepContext| {
        c.fetch_add(1, Ordering::SeqCst);
        anyhow::bail!("always fails")
    })
    .retry(RetryPolicy {
        max_retries: 2,
        delay: Duration::ZERO,
        backoff: Backoff::Constant,
    });
    let h = Harness::new(definitions(vec![bad], vec![], Registry::default(), vec![]));
    let (run, status) = h.run(ASSET_JOB_NAME).await;
    assert_eq!(status, RunStatus::Failure);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let ev = h.events(&run.run_id);
    let t = step_types(&ev, "bad");
    assert_eq!(
        t.iter()
            .filter(|x| **x == EventType::StepUpForRetry)
            .count(),
        2
    );
    assert_eq!(
        t.iter().filter(|x| **x == EventType::StepFailure).count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_fails_the_step_not_the_worker() {
    let assets = vec![
        AssetDef::new(
            key("boom"),
            |_: &mut StepContext| -> anyhow::Result<MaterializeResult> {
                panic!("kaboom at row 7")
            },
        ),
        AssetDef::new(key("fine"), noop),
    ];
    let h = Harness::new(definitions(assets, vec![], Registry::default(), vec![]));
    let (run, status) = h.run(ASSET_JOB_NAME).await;
    assert_eq!(status, RunStatus::Failure);
    let ev = h.events(&run.run_id);
    match &find(&ev, EventType::StepFailure, "boom").data {
        EventData::Failure { error, .. } => {
            assert_eq!(error.class_name.as_deref(), Some("Panic"));
            assert!(
                error.message.contains("kaboom at row 7"),
                "{}",
                error.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(step_types(&ev, "fine").contains(&EventType::StepSuccess));
    assert!(h.logs().is_complete(&run.run_id, "boom"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_timeout() {
    let slow = AssetDef::new(key("slow"), |ctx: &mut StepContext| {
        sleep_with_checks(ctx, Duration::from_secs(30))?;
        Ok(MaterializeResult::new())
    })
    .timeout(Duration::from_millis(200));
    let h = Harness::new(definitions(vec![slow], vec![], Registry::default(), vec![]));
    let started = Instant::now();
    let (run, status) = h.run(ASSET_JOB_NAME).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status, RunStatus::Failure);
    let ev = h.events(&run.run_id);
    match &find(&ev, EventType::StepFailure, "slow").data {
        EventData::Failure { error, .. } => {
            assert_eq!(error.message, "Step slow timed out after 0.2 s");
            assert_eq!(error.class_name.as_deref(), Some("Timeout"));
        }
        other => panic!("{other:?}"),
    }
}

async fn wait_for_event(h: &Harness, run_id: &str, t: EventType, step: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ev = h.events(run_id);
        if ev
            .iter()
            .any(|e| e.event.event_type == Some(t) && e.event.step_key.as_deref() == Some(step))
        {
            return;
        }
        assert!(Instant::now() < deadline, "no {t} for {step}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn cancel_defs(after_cancel_ok: Arc<AtomicBool>) -> Definitions {
    let assets = vec![
        AssetDef::new(key("long"), |ctx: &mut StepContext| {
            sleep_with_checks(ctx, Duration::from_secs(30))?;
            Ok(MaterializeResult::new())
        }),
        AssetDef::new(key("after"), move |_: &mut StepContext| {
            after_cancel_ok.store(true, Ordering::SeqCst);
            Ok(MaterializeResult::new())
        })
        .deps([key("long")]),
    ];
    definitions(assets, vec![], Registry::default(), vec![])
}

async fn cancel_through_storage_on(backend: Backend) {
    let ran_after = Arc::new(AtomicBool::new(false));
    let h = Arc::new(Harness::on(backend, cancel_defs(ran_after.clone())));
    let run = h.create(ASSET_JOB_NAME);
    let ctx = h.ctx();
    let id = run.run_id.clone();
    let worker = tokio::spawn(async move { execute_run(&ctx, &id).await });
    // Events are batched (≤ 50 ms); wait until the step is visibly running.
    wait_for_event(&h, &run.run_id, EventType::StepStart, "long").await;
    assert_eq!(h.status(&run.run_id), RunStatus::Started);
    let started = Instant::now();
    assert_eq!(
        request_cancel(h.storage.as_ref(), &run.run_id).unwrap(),
        RunStatus::Canceling
    );
    let status = worker.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status, RunStatus::Canceled);
    assert_eq!(h.status(&run.run_id), RunStatus::Canceled);
    assert!(!ran_after.load(Ordering::SeqCst));

    let ev = h.events(&run.run_id);
    assert!(!types(&ev).contains(&Some(EventType::RunSuccess)));
    assert!(types(&ev).contains(&Some(EventType::RunCanceling)));
    assert_eq!(*types(&ev).last().unwrap(), Some(EventType::RunCanceled));
    match &find(&ev, EventType::StepFailure, "long").data {
        EventData::Failure { error, reason } => {
            assert_eq!(reason.as_deref(), Some("INTERRUPT"));
            assert!(error.message.contains("interrupted"), "{}", error.message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(step_types(&ev, "after"), vec![EventType::StepSkipped]);
    assert!(find(&ev, EventType::StepSkipped, "after")
        .message
        .contains("canceled"));

    // A finished run cannot be canceled.
    let e = request_cancel(h.storage.as_ref(), &run.run_id).unwrap_err();
    assert!(
        matches!(
            e,
            ExecError::CannotCancel {
                status: RunStatus::Canceled,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_through_storage() {
    cancel_through_storage_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_through_storage_postgres() {
    cancel_through_storage_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_cancels_the_run() {
    let h = Arc::new(Harness::new(cancel_defs(Arc::new(AtomicBool::new(false)))));
    let run = h.create(ASSET_JOB_NAME);
    let ctx = h.ctx();
    let interrupt = Interrupt::new();
    let trigger = interrupt.clone();
    let id = run.run_id.clone();
    let worker =
        tokio::spawn(async move { execute_run_with_interrupt(&ctx, &id, &interrupt).await });
    wait_for_event(&h, &run.run_id, EventType::StepStart, "long").await;
    trigger.trigger();
    assert_eq!(worker.await.unwrap().unwrap(), RunStatus::Canceled);
    let ev = h.events(&run.run_id);
    let canceling = position(&ev, EventType::RunCanceling, None);
    let canceled = position(&ev, EventType::RunCanceled, None);
    assert!(canceling < canceled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceled_before_start_is_finished_by_the_worker() {
    let h = Harness::new(definitions(
        vec![AssetDef::new(key("a"), noop)],
        vec![],
        Registry::default(),
        vec![],
    ));
    let run = h.create(ASSET_JOB_NAME);
    let starting = NewEvent::new(&run.run_id, &run.job_name, Some(EventType::RunStarting), "");
    h.storage.store_events(&[starting]).unwrap();
    assert_eq!(
        request_cancel(h.storage.as_ref(), &run.run_id).unwrap(),
        RunStatus::Canceling
    );
    assert_eq!(
        execute_run(&h.ctx(), &run.run_id).await.unwrap(),
        RunStatus::Canceled
    );
    assert!(!types(&h.events(&run.run_id)).contains(&Some(EventType::StepStart)));
}

async fn reexecution_from_failure_runs_only_failed_and_skipped_steps_on(backend: Backend) {
    let fixed = Arc::new(AtomicBool::new(false));
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let mk = |name: &'static str, deps: &[&str]| {
        let fixed = fixed.clone();
        let calls = calls.clone();
        AssetDef::new(key(name), move |_: &mut StepContext| {
            calls.lock().unwrap().push(name.to_string());
            if name == "b" && !fixed.load(Ordering::SeqCst) {
                anyhow::bail!("b is broken");
            }
            Ok(MaterializeResult::new())
        })
        .deps(deps.iter().map(|d| key(d)))
    };
    let assets = vec![
        mk("a", &[]),
        mk("b", &["a"]),
        mk("c", &["a"]),
        mk("d", &["b", "c"]),
    ];
    let h = Harness::on(
        backend,
        definitions(
            assets,
            vec![job("diamond", &["a", "b", "c", "d"], None)],
            Registry::default(),
            vec![],
        ),
    );
    let (parent, status) = h.run("diamond").await;
    assert_eq!(status, RunStatus::Failure);
    let parent = h.storage.get_run(&parent.run_id).unwrap().unwrap();

    let req = reexecution_request(
        h.storage.as_ref(),
        &parent,
        ReexecutionStrategy::FromFailure,
    )
    .unwrap();
    assert_eq!(req.step_keys, Some(vec!["b".to_string(), "d".to_string()]));
    assert_eq!(req.parent_run_id.as_deref(), Some(parent.run_id.as_str()));
    assert_eq!(req.root_run_id.as_deref(), Some(parent.run_id.as_str()));
    assert_eq!(
        req.tags.get(tags::IS_RESUME_RETRY).map(String::as_str),
        Some("true")
    );

    fixed.store(true, Ordering::SeqCst);
    calls.lock().unwrap().clear();
    let child = create_run(h.storage.as_ref(), &h.defs, req).unwrap();
    assert_eq!(child.tags.get(tags::PARENT_RUN_ID), Some(&parent.run_id));
    assert_eq!(child.tags.get(tags::ROOT_RUN_ID), Some(&parent.run_id));
    assert_eq!(child.parent_run_id.as_deref(), Some(parent.run_id.as_str()));
    let planned: Vec<String> = h
        .events(&child.run_id)
        .iter()
        .filter(|e| e.event.event_type == Some(EventType::AssetMaterializationPlanned))
        .map(|e| e.event.step_key.clone().unwrap())
        .collect();
    assert_eq!(planned, vec!["b", "d"]);
    assert_eq!(
        execute_run(&h.ctx(), &child.run_id).await.unwrap(),
        RunStatus::Success
    );
    assert_eq!(*calls.lock().unwrap(), vec!["b", "d"]);

    // A successful run has nothing to re-execute from failure; ALL_STEPS is fine. The
    // grandchild keeps the root.
    let child = h.storage.get_run(&child.run_id).unwrap().unwrap();
    let e = reexecution_request(h.storage.as_ref(), &child, ReexecutionStrategy::FromFailure)
        .unwrap_err();
    assert!(matches!(e, ExecError::NotReexecutable { .. }), "{e}");
    let all =
        reexecution_request(h.storage.as_ref(), &child, ReexecutionStrategy::AllSteps).unwrap();
    assert_eq!(all.step_keys, child.step_keys_to_execute);
    assert_eq!(all.root_run_id.as_deref(), Some(parent.run_id.as_str()));
    assert_eq!(all.parent_run_id.as_deref(), Some(child.run_id.as_str()));

    // An unfinished run cannot be re-executed.
    let fresh = h.create("diamond");
    let e =
        reexecution_request(h.storage.as_ref(), &fresh, ReexecutionStrategy::AllSteps).unwrap_err();
    assert!(matches!(e, ExecError::NotReexecutable { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reexecution_from_failure_runs_only_failed_and_skipped_steps() {
    reexecution_from_failure_runs_only_failed_and_skipped_steps_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reexecution_from_failure_runs_only_failed_and_skipped_steps_postgres() {
    reexecution_from_failure_runs_only_failed_and_skipped_steps_on(Backend::Postgres).await;
}

async fn hundred_asset_chain_completes_on(backend: Backend) {
    let mut assets = vec![AssetDef::new(key("n0"), noop)];
    for i in 1..100 {
        assets.push(AssetDef::new(key(&format!("n{i}")), noop).deps([key(&format!("n{}", i - 1))]));
    }
    let h = Harness::on(
        backend,
        definitions(assets, vec![], Registry::default(), vec![]),
    );
    let run = h.create(ASSET_JOB_NAME);
    let started = Instant::now();
    let status = execute_run(&h.ctx(), &run.run_id).await.unwrap();
    eprintln!("100-asset chain executed in {:?}", started.elapsed());
    assert_eq!(status, RunStatus::Success);
    let ev = h.events(&run.run_id);
    assert_eq!(
        ev.iter()
            .filter(|e| e.event.event_type == Some(EventType::StepSuccess))
            .count(),
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_asset_chain_completes() {
    hundred_asset_chain_completes_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_asset_chain_completes_postgres() {
    hundred_asset_chain_completes_on(Backend::Postgres).await;
}

struct Counter(u32);
impl Resource for Counter {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn check(&self) -> anyhow::Result<String> {
        Ok("counter".into())
    }
}
struct CounterType;
impl ResourceType for CounterType {
    fn type_name(&self) -> &'static str {
        "counter"
    }
    fn read_config(&self, _: &dagster_core::config::yaml::Map<'_>) -> Option<serde_json::Value> {
        None
    }
    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>> {
        match def.config.get("start").and_then(serde_json::Value::as_u64) {
            Some(n) => Ok(Arc::new(Counter(n as u32))),
            None => Err(anyhow::anyhow!("127.0.0.1:1 unreachable"))
                .context(format!("resource {} cannot connect", def.name)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_run_config_reach_the_step() {
    let seen: Arc<Mutex<Option<(u32, serde_json::Value)>>> = Arc::default();
    let s = seen.clone();
    let mut registry = Registry::default();
    registry.add_resource_type(Arc::new(CounterType));
    let resource = |name: &str, config: serde_json::Value| ResourceDef {
        name: name.into(),
        type_name: "counter".into(),
        config,
        secret_keys: vec![],
        description: None,
        source: None,
    };
    let mut uses = AssetDef::new(key("uses"), move |ctx: &mut StepContext| {
        let c = ctx.typed_resource::<Counter>("good")?;
        *s.lock().unwrap() = Some((c.0, ctx.config.clone()));
        Ok(MaterializeResult::new())
    })
    .resources(&["good"]);
    uses.config = serde_json::json!({"limit": 1, "mode": "full"});
    let broken = AssetDef::new(key("broken"), noop).resources(&["bad"]);
    let h = Harness::new(definitions(
        vec![uses, broken],
        vec![],
        registry,
        vec![
            resource("good", serde_json::json!({"start": 7})),
            resource("bad", serde_json::json!({})),
        ],
    ));
    let run = create_run(
        h.storage.as_ref(),
        &h.defs,
        CreateRun {
            job_name: ASSET_JOB_NAME.into(),
            run_config: serde_json::json!({"ops": {"uses": {"config": {"limit": 5}}}}),
            ..CreateRun::default()
        },
    )
    .unwrap();
    assert_eq!(
        execute_run(&h.ctx(), &run.run_id).await.unwrap(),
        RunStatus::Failure
    );
    assert_eq!(
        *seen.lock().unwrap(),
        Some((7, serde_json::json!({"limit": 5, "mode": "full"})))
    );
    let ev = h.events(&run.run_id);
    match &find(&ev, EventType::StepFailure, "broken").data {
        EventData::Failure { error, .. } => {
            let chain = error.chain();
            assert_eq!(chain[0], "resource `bad` failed to initialize");
            assert!(chain.contains(&"resource bad cannot connect"));
            assert!(chain.contains(&"127.0.0.1:1 unreachable"));
        }
        other => panic!("{other:?}"),
    }
    assert!(types(&ev).contains(&Some(EventType::ResourceInitFailure)));
    assert!(step_types(&ev, "uses").contains(&EventType::StepSuccess));

    // Bad run config is refused at creation.
    let e = create_run(
        h.storage.as_ref(),
        &h.defs,
        CreateRun {
            job_name: ASSET_JOB_NAME.into(),
            run_config: serde_json::json!({"ops": {"nope": {"config": {}}}}),
            ..CreateRun::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, ExecError::InvalidRunConfig { .. }), "{e}");

    // So is a tag the daemon acts on whose value it could not read.
    let with_tag = |key: &str, value: &str| {
        create_run(
            h.storage.as_ref(),
            &h.defs,
            CreateRun {
                job_name: ASSET_JOB_NAME.into(),
                tags: [(key.to_string(), value.to_string())].into(),
                ..CreateRun::default()
            },
        )
    };
    for (key, value) in [
        ("dagster/priority", "high"),
        ("dagster/max_retries", "-1"),
        ("dagster/max_runtime", "0"),
        ("dagster/retry_strategy", "SOME"),
    ] {
        let e = with_tag(key, value).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("invalid run tag `{key}` = \"{value}\": expected ")),
            "{e}"
        );
    }
    for (key, value) in [
        ("dagster/priority", " -3 "),
        ("dagster/max_retries", "2"),
        ("dagster/max_runtime", "0.5"),
        ("dagster/retry_strategy", "ALL_STEPS"),
        ("team", "anything"),
    ] {
        with_tag(key, value).unwrap_or_else(|e| panic!("{key}={value}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_run_validates_against_definitions() {
    let h = Harness::new(definitions(
        diamond_assets(),
        vec![job("diamond", &["a", "b", "c", "d"], None)],
        Registry::default(),
        vec![],
    ));
    let mk = |job: &str, sel: Option<Vec<AssetKey>>, steps: Option<Vec<String>>| {
        create_run(
            h.storage.as_ref(),
            &h.defs,
            CreateRun {
                job_name: job.into(),
                asset_selection: sel,
                step_keys: steps,
                ..CreateRun::default()
            },
        )
    };
    assert!(matches!(
        mk("nope", None, None),
        Err(ExecError::UnknownJob { .. })
    ));
    assert!(matches!(
        mk("diamond", Some(vec![key("zzz")]), None),
        Err(ExecError::UnknownAsset { .. })
    ));
    assert!(matches!(
        mk("diamond", None, Some(vec!["zzz".into()])),
        Err(ExecError::UnknownStepKey { .. })
    ));
    let run = mk("diamond", Some(vec![key("b"), key("d")]), None).unwrap();
    assert_eq!(run.asset_selection, Some(vec![key("b"), key("d")]));
    let (status, ev) = (
        execute_run(&h.ctx(), &run.run_id).await.unwrap(),
        h.events(&run.run_id),
    );
    assert_eq!(status, RunStatus::Success);
    assert!(step_types(&ev, "a").is_empty());
    assert!(step_types(&ev, "d").contains(&EventType::StepSuccess));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_and_launcher() {
    let h = Harness::new(definitions(
        vec![AssetDef::new(key("a"), noop)],
        vec![],
        Registry::default(),
        vec![],
    ));

    // Queued: RUN_ENQUEUED, then cancel in queue is immediate.
    let launcher = DefaultRunLauncher::new("/nonexistent/dagster", h.home.path());
    let run = h.create(ASSET_JOB_NAME);
    assert_eq!(
        submit_run(
            h.storage.as_ref(),
            &launcher.clone().into(),
            CoordinatorKind::Queued,
            &run
        )
        .unwrap(),
        RunStatus::Queued
    );
    assert_eq!(h.status(&run.run_id), RunStatus::Queued);
    assert_eq!(
        request_cancel(h.storage.as_ref(), &run.run_id).unwrap(),
        RunStatus::Canceled
    );
    let t = types(&h.events(&run.run_id));
    assert!(
        t.ends_with(&[
            Some(EventType::RunEnqueued),
            Some(EventType::RunCanceling),
            Some(EventType::RunCanceled)
        ]),
        "{t:?}"
    );

    // Default with a missing executable: RUN_FAILURE recorded, not an error.
    let run = h.create(ASSET_JOB_NAME);
    let status = submit_run(
        h.storage.as_ref(),
        &launcher.clone().into(),
        CoordinatorKind::Default,
        &run,
    )
    .unwrap();
    assert_eq!(status, RunStatus::Failure);
    assert_eq!(h.status(&run.run_id), RunStatus::Failure);
    let ev = h.events(&run.run_id);
    let engine = find_any(&ev, EventType::EngineEvent);
    match &engine.data {
        EventData::Engine { error: Some(e), .. } => {
            assert!(e.message.contains("/nonexistent/dagster"), "{}", e.message)
        }
        other => panic!("{other:?}"),
    }

    // Default with a real executable: spawned detached, log file written, pid recorded.
    let sh = DefaultRunLauncher::new("/bin/sh", h.home.path());
    let run = h.create(ASSET_JOB_NAME);
    assert_eq!(
        submit_run(
            h.storage.as_ref(),
            &sh.clone().into(),
            CoordinatorKind::Default,
            &run
        )
        .unwrap(),
        RunStatus::Starting
    );
    let ev = h.events(&run.run_id);
    let started = find_any(&ev, EventType::EngineEvent);
    assert!(
        started
            .message
            .starts_with("Started process for run (pid: "),
        "{}",
        started.message
    );
    let log = sh.worker_log_path(&run.run_id);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
        assert!(
            Instant::now() < deadline,
            "worker log {} stays empty",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // `sh api ...` fails: the worker wrote its error to worker.log.
    assert!(std::fs::read_to_string(&log).unwrap().contains("api"));
}

fn find_any(events: &[EventRecord], t: EventType) -> &NewEvent {
    &events
        .iter()
        .find(|e| e.event.event_type == Some(t))
        .unwrap()
        .event
}

// ---------------------------------------------------------------------------------------------
// A wrapper over the real storage that counts event writes and can make them fail (to test the
// engine's reaction to a storage outage). Everything else is delegated unchanged.

mod wrapped {
    use dagster_core::domain::*;
    use dagster_core::storage::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    pub struct Wrapped {
        pub inner: Arc<dyn Storage>,
        pub fail_events: Arc<AtomicBool>,
        pub store_calls: AtomicUsize,
        pub events_stored: AtomicUsize,
    }

    impl RunStore for Wrapped {
        fn add_run(&self, run: NewRun) -> Result<Run> {
            self.inner.add_run(run)
        }
        fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
            self.inner.get_run(run_id)
        }
        fn list_runs(&self, f: &RunsFilter, c: Option<&str>, l: Option<usize>) -> Result<Vec<Run>> {
            self.inner.list_runs(f, c, l)
        }
        fn count_runs(&self, f: &RunsFilter) -> Result<i64> {
            self.inner.count_runs(f)
        }
        fn run_tag_keys(&self) -> Result<Vec<String>> {
            self.inner.run_tag_keys()
        }
        fn run_tag_values(
            &self,
            keys: Option<&[String]>,
            value_prefix: Option<&str>,
            limit: Option<usize>,
        ) -> Result<Vec<(String, Vec<String>)>> {
            self.inner.run_tag_values(keys, value_prefix, limit)
        }
        fn add_run_tags(&self, run_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
            self.inner.add_run_tags(run_id, tags)
        }
        fn delete_run(&self, run_id: &str) -> Result<bool> {
            self.inner.delete_run(run_id)
        }
        fn wipe_runs(&self) -> Result<()> {
            self.inner.wipe_runs()
        }
        fn record_worker_heartbeat(&self, run_id: &str, pid: u32, at: f64) -> Result<()> {
            self.inner.record_worker_heartbeat(run_id, pid, at)
        }
        fn worker_heartbeat(&self, run_id: &str) -> Result<Option<(u32, f64)>> {
            self.inner.worker_heartbeat(run_id)
        }
    }
    impl EventLogStore for Wrapped {
        fn store_events(&self, events: &[NewEvent]) -> Result<StoreOutcome> {
            if self.fail_events.load(Ordering::SeqCst) {
                return Err(StorageError::Connect {
                    target: "test database".into(),
                    message: "connection reset".into(),
                });
            }
            self.store_calls.fetch_add(1, Ordering::SeqCst);
            self.events_stored.fetch_add(events.len(), Ordering::SeqCst);
            self.inner.store_events(events)
        }
        fn events_for_run(
            &self,
            run_id: &str,
            after: Option<i64>,
            limit: usize,
        ) -> Result<EventPage> {
            self.inner.events_for_run(run_id, after, limit)
        }
        fn events_for_step(
            &self,
            run_id: &str,
            step: &str,
            limit: usize,
        ) -> Result<Vec<EventRecord>> {
            self.inner.events_for_step(run_id, step, limit)
        }
        fn latest_event_id(&self) -> Result<Option<i64>> {
            self.inner.latest_event_id()
        }
        fn asset_records(&self, keys: Option<&[AssetKey]>) -> Result<Vec<AssetRecord>> {
            self.inner.asset_records(keys)
        }
        fn materializations(
            &self,
            key: &AssetKey,
            before: Option<i64>,
            limit: usize,
        ) -> Result<Vec<EventRecord>> {
            self.inner.materializations(key, before, limit)
        }
        fn asset_events(
            &self,
            key: &AssetKey,
            types: &[dagster_core::domain::EventType],
            before: Option<i64>,
            limit: usize,
        ) -> Result<Vec<EventRecord>> {
            self.inner.asset_events(key, types, before, limit)
        }
        fn wipe_asset(&self, key: &AssetKey) -> Result<()> {
            self.inner.wipe_asset(key)
        }
    }
    impl InstigatorStore for Wrapped {
        fn get_instigator(&self, id: &str) -> Result<Option<InstigatorState>> {
            self.inner.get_instigator(id)
        }
        fn get_tick(&self, id: i64) -> Result<Option<Tick>> {
            self.inner.get_tick(id)
        }
        fn find_ticks(
            &self,
            id: &str,
            f: &dagster_core::storage::TickFilter,
            limit: usize,
        ) -> Result<Vec<Tick>> {
            self.inner.find_ticks(id, f, limit)
        }
        fn list_instigators(&self, t: Option<&str>) -> Result<Vec<InstigatorState>> {
            self.inner.list_instigators(t)
        }
        fn upsert_instigator(&self, s: &InstigatorState) -> Result<()> {
            self.inner.upsert_instigator(s)
        }
        fn create_tick(
            &self,
            id: &str,
            t: &str,
            ts: f64,
            u: bool,
            b: &serde_json::Value,
        ) -> Result<Option<Tick>> {
            self.inner.create_tick(id, t, ts, u, b)
        }
        fn update_tick(
            &self,
            id: i64,
            s: dagster_core::domain::TickStatus,
            b: &serde_json::Value,
        ) -> Result<()> {
            self.inner.update_tick(id, s, b)
        }
        fn list_ticks(&self, id: &str, l: usize) -> Result<Vec<Tick>> {
            self.inner.list_ticks(id, l)
        }
        fn transition_tick(
            &self,
            id: i64,
            from: dagster_core::domain::TickStatus,
            to: dagster_core::domain::TickStatus,
            b: &serde_json::Value,
        ) -> Result<bool> {
            self.inner.transition_tick(id, from, to, b)
        }
        fn purge_ticks(
            &self,
            t: &str,
            s: dagster_core::domain::TickStatus,
            before: f64,
        ) -> Result<usize> {
            self.inner.purge_ticks(t, s, before)
        }
        fn ticks_to_resume(&self, id: &str, max: u64) -> Result<Vec<Tick>> {
            self.inner.ticks_to_resume(id, max)
        }
    }
    impl DaemonStore for Wrapped {
        fn add_heartbeat(&self, hb: &DaemonHeartbeat) -> Result<()> {
            self.inner.add_heartbeat(hb)
        }
        fn heartbeats(&self) -> Result<Vec<DaemonHeartbeat>> {
            self.inner.heartbeats()
        }
        fn wipe_heartbeats(&self) -> Result<()> {
            self.inner.wipe_heartbeats()
        }
    }
    impl KvStore for Wrapped {
        fn kv_get(&self, k: &str) -> Result<Option<String>> {
            self.inner.kv_get(k)
        }
        fn kv_set(&self, k: &str, v: &str) -> Result<()> {
            self.inner.kv_set(k, v)
        }
        fn kv_delete(&self, k: &str) -> Result<()> {
            self.inner.kv_delete(k)
        }
        fn kv_try_lease(&self, k: &str, o: &str, now: f64, ttl: f64) -> Result<bool> {
            self.inner.kv_try_lease(k, o, now, ttl)
        }
        fn kv_release_lease(&self, k: &str, o: &str) -> Result<()> {
            self.inner.kv_release_lease(k, o)
        }
        fn kv_purge_expired_leases(&self, p: &str, before: f64) -> Result<usize> {
            self.inner.kv_purge_expired_leases(p, before)
        }
    }
    impl Storage for Wrapped {
        fn describe(&self) -> String {
            format!("wrapped {}", self.inner.describe())
        }
        fn migrate(&self) -> Result<Vec<String>> {
            self.inner.migrate()
        }
        fn schema_version(&self) -> Result<(Option<String>, String)> {
            self.inner.schema_version()
        }
        fn run_storage_id(&self) -> Result<Option<String>> {
            self.inner.run_storage_id()
        }
    }
}

fn wrap(h: &mut Harness) -> Arc<wrapped::Wrapped> {
    let w = Arc::new(wrapped::Wrapped {
        inner: h.storage.clone(),
        fail_events: Arc::default(),
        store_calls: Default::default(),
        events_stored: Default::default(),
    });
    h.storage = w.clone();
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_written_in_batches() {
    let mut assets = vec![AssetDef::new(key("n0"), noop)];
    for i in 1..50 {
        assets.push(AssetDef::new(key(&format!("n{i}")), noop).deps([key(&format!("n{}", i - 1))]));
    }
    let mut h = Harness::new(definitions(assets, vec![], Registry::default(), vec![]));
    let w = wrap(&mut h);
    let run = h.create(ASSET_JOB_NAME);
    let before = w.store_calls.load(Ordering::SeqCst);
    assert_eq!(
        execute_run(&h.ctx(), &run.run_id).await.unwrap(),
        RunStatus::Success
    );
    let calls = w.store_calls.load(Ordering::SeqCst) - before;
    let events = h.events(&run.run_id).len() - 50; // minus the planned events
    assert!(events > 250, "{events}");
    assert!(
        calls * 4 < events,
        "{calls} store_events calls for {events} events"
    );
}

async fn storage_outage_stops_the_run_with_an_error_on(backend: Backend) {
    let fail: Arc<AtomicBool> = Arc::default();
    let ran_b = Arc::new(AtomicBool::new(false));
    let (f, rb) = (fail.clone(), ran_b.clone());
    let assets = vec![
        AssetDef::new(key("a"), move |_: &mut StepContext| {
            f.store(true, Ordering::SeqCst);
            // Give the writer a batch that fails.
            std::thread::sleep(Duration::from_millis(120));
            Ok(MaterializeResult::new())
        }),
        AssetDef::new(key("b"), move |_: &mut StepContext| {
            rb.store(true, Ordering::SeqCst);
            Ok(MaterializeResult::new())
        })
        .deps([key("a")]),
    ];
    let mut h = Harness::on(
        backend,
        definitions(assets, vec![], Registry::default(), vec![]),
    );
    let w = wrap(&mut h);
    let fail_flag = w.fail_events.clone();
    let run = h.create(ASSET_JOB_NAME);
    let watcher = tokio::spawn(async move {
        while !fail.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        fail_flag.store(true, Ordering::SeqCst);
    });
    let err = tokio::time::timeout(Duration::from_secs(10), execute_run(&h.ctx(), &run.run_id))
        .await
        .expect("the executor must not hang when storage fails")
        .unwrap_err();
    watcher.await.unwrap();
    assert!(matches!(err, ExecError::Storage(_)), "{err}");
    assert!(err.to_string().contains("connection reset"), "{err}");
    assert!(!ran_b.load(Ordering::SeqCst));
    // Storage back: the run was not claimed successful.
    w.fail_events.store(false, Ordering::SeqCst);
    assert_ne!(h.status(&run.run_id), RunStatus::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_outage_stops_the_run_with_an_error() {
    storage_outage_stops_the_run_with_an_error_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_outage_stops_the_run_with_an_error_postgres() {
    storage_outage_stops_the_run_with_an_error_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_cancel_is_never_overwritten_by_success() {
    let h = Arc::new(Harness::new(cancel_defs(Arc::new(AtomicBool::new(false)))));
    let run = h.create(ASSET_JOB_NAME);
    let ctx = h.ctx();
    let id = run.run_id.clone();
    let worker = tokio::spawn(async move { execute_run(&ctx, &id).await });
    wait_for_event(&h, &run.run_id, EventType::StepStart, "long").await;
    // "Mark as canceled immediately" from outside: the worker finds a finished run.
    let forced = NewEvent::new(
        &run.run_id,
        &run.job_name,
        Some(EventType::RunCanceled),
        "forced",
    );
    assert!(h
        .storage
        .store_events(&[forced])
        .unwrap()
        .rejected
        .is_empty());
    assert_eq!(worker.await.unwrap().unwrap(), RunStatus::Canceled);
    assert_eq!(h.status(&run.run_id), RunStatus::Canceled);
    assert!(!types(&h.events(&run.run_id)).contains(&Some(EventType::RunSuccess)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_to_start_records_the_reason() {
    let mut d = definitions(
        vec![AssetDef::new(key("a"), noop)],
        vec![],
        Registry::default(),
        vec![],
    );
    d.source_file = Some("/srv/pipeline-config/local.yaml".into());
    let h = Harness::new(d);
    let run = h.create(ASSET_JOB_NAME);
    assert_eq!(
        run.tags.get(PIPELINE_CONFIG_TAG).map(String::as_str),
        Some("/srv/pipeline-config/local.yaml")
    );
    let status = fail_run_before_start(
        h.storage.as_ref(),
        &run,
        dagster_core::domain::ErrorInfo::new("cannot load code location `x`"),
    )
    .unwrap();
    assert_eq!(status, RunStatus::Failure);
    let ev = h.events(&run.run_id);
    let f = find_any(&ev, EventType::RunFailure);
    assert!(
        f.message.contains("cannot load code location `x`"),
        "{}",
        f.message
    );
    // Executing it now is refused.
    let e = execute_run(&h.ctx(), &run.run_id).await.unwrap_err();
    assert!(matches!(e, ExecError::RunFinished { .. }), "{e}");
}
