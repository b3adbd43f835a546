//! The run coordinator, concurrency, compute logs, artifacts, scheduler and the other sections.

use super::*;

// ---------------------------------------------------------------------------------------
// run coordinator, concurrency
// ---------------------------------------------------------------------------------------

/// `concurrency.runs`, read before the run coordinator it overrides.
pub(super) struct RunsSection<'a> {
    value: Value<'a>,
    max_concurrent_runs: Option<i64>,
    tag_concurrency_limits: Option<Vec<TagConcurrencyLimit>>,
}

pub(super) fn parse_concurrency<'a>(
    root: &Map<'a>,
) -> (ConcurrencyConfig, Option<RunsSection<'a>>, Option<Loc>) {
    let mut cfg = ConcurrencyConfig::default();
    let Some(c) = root.map("concurrency") else {
        return (cfg, None, None);
    };
    warn_not_acted_on(&c, "pools", "concurrency.pools");
    let pools_v = c.get("pools");
    if let Some(pm) = pools_v.as_ref().and_then(|v| v.as_map()) {
        cfg.pools.default_limit = opt_uint(&pm, "default_limit");
        if let Some(gv) = pm.get("granularity") {
            match gv.as_str().as_deref() {
                Some("run") => cfg.pools.granularity = PoolGranularity::Run,
                Some("op") => cfg.pools.granularity = PoolGranularity::Op,
                Some(other) => gv.error(format!("expected `run` or `op`, found `{other}`")),
                None => {}
            }
        }
        cfg.pools.op_granularity_run_buffer = uint(&pm, "op_granularity_run_buffer", 0);
        pm.finish();
    }
    warn_not_acted_on(
        &c,
        "default_op_concurrency_limit",
        "concurrency.default_op_concurrency_limit",
    );
    if let Some(v) = c.get("default_op_concurrency_limit") {
        if pools_v.is_some() {
            v.error("`default_op_concurrency_limit` cannot be combined with `concurrency.pools` (use `pools.default_limit`)");
        } else {
            cfg.default_op_concurrency_limit = non_negative(&v);
        }
    }
    let runs = c.get("runs").and_then(|v| {
        let rm = v.as_map()?;
        let max_concurrent_runs = rm.get("max_concurrent_runs").and_then(|x| max_runs(&x));
        let tag_concurrency_limits = rm
            .get("tag_concurrency_limits")
            .map(|x| parse_tag_limits(&x));
        rm.finish();
        Some(RunsSection {
            value: v,
            max_concurrent_runs,
            tag_concurrency_limits,
        })
    });
    c.finish();
    (cfg, runs, pools_v.map(|v| v.loc()))
}

pub(super) fn max_runs(v: &Value<'_>) -> Option<i64> {
    let i = v.as_int()?;
    if i < -1 {
        v.error(format!(
            "`max_concurrent_runs` must be -1 (unlimited), 0 (launch nothing) or a positive number, found {i}"
        ));
        return None;
    }
    Some(i)
}

pub(super) fn parse_tag_limits(v: &Value<'_>) -> Vec<TagConcurrencyLimit> {
    let mut out = Vec::new();
    for item in v.as_seq() {
        let Some(m) = item.as_map() else { continue };
        let key = m.req_str("key");
        let value = match m.get("value") {
            None => Some(TagLimitValue::Any),
            Some(vv) if vv.is_map() && !is_env_ref(&vv) => vv.as_map().and_then(|vm| {
                let per = vm
                    .require("applyLimitPerUniqueValue")
                    .and_then(|b| b.as_bool());
                vm.finish();
                per.map(|p| {
                    if p {
                        TagLimitValue::PerUniqueValue
                    } else {
                        TagLimitValue::Any
                    }
                })
            }),
            Some(vv) => vv.as_str().map(TagLimitValue::Exact),
        };
        let limit = m.require("limit").and_then(|lv| {
            let i = lv.as_int()?;
            match u32::try_from(i) {
                Ok(u) => Some(u),
                Err(_) => {
                    lv.error(format!(
                        "`limit` must be between 0 and {}, found {i}",
                        u32::MAX
                    ));
                    None
                }
            }
        });
        m.finish();
        if let (Some(key), Some(value), Some(limit)) = (key, value, limit) {
            out.push(TagConcurrencyLimit { key, value, limit });
        }
    }
    out
}

pub(super) const COORDINATOR_MODULES_QUEUED: &[&str] = &[
    "dagster",
    "dagster._core.run_coordinator",
    "dagster._core.run_coordinator.queued_run_coordinator",
    "dagster.core.run_coordinator",
    "dagster.core.run_coordinator.queued_run_coordinator",
];
pub(super) const COORDINATOR_MODULES_DEFAULT: &[&str] = &[
    "dagster",
    "dagster._core.run_coordinator",
    "dagster._core.run_coordinator.default_run_coordinator",
    "dagster.core.run_coordinator",
    "dagster.core.run_coordinator.default_run_coordinator",
];

pub(super) fn parse_run_coordinator(
    root: &Map<'_>,
    runs: Option<&RunsSection<'_>>,
    pools: Option<&Loc>,
) -> RunCoordinatorConfig {
    let mut queue = QueueConfig::default();
    let rq = root.get("run_queue");
    let rc = root.get("run_coordinator");
    if let (Some(q), Some(c)) = (&rq, &rc) {
        q.error(format!(
            "`run_queue` cannot be used together with `run_coordinator` (line {}): configure the queue in one place",
            c.loc().line
        ));
    }
    let mut result_default = false;
    if let Some(q) = &rq {
        if let Some(m) = q.as_map() {
            read_queue_fields(&m, &mut queue, runs, pools);
        }
    }
    if let Some(c) = &rc {
        if let Some(cr) = read_class(c) {
            match cr.class.as_str() {
                "QueuedRunCoordinator" => {
                    if cr.check_module(COORDINATOR_MODULES_QUEUED) {
                        if let Some(m) = cr.config_map() {
                            read_queue_fields(&m, &mut queue, runs, pools);
                        }
                    }
                }
                "DefaultRunCoordinator" => {
                    if cr.check_module(COORDINATOR_MODULES_DEFAULT) {
                        cr.no_config();
                        result_default = true;
                    }
                }
                other => cr.class_v.error(format!(
                    "run coordinator `{other}` is not supported (use QueuedRunCoordinator or DefaultRunCoordinator)"
                )),
            }
        }
    }
    if let Some(r) = runs {
        if result_default {
            r.value.warn("`concurrency.runs` has no effect with DefaultRunCoordinator (runs are launched immediately)");
        }
        if let Some(n) = r.max_concurrent_runs {
            queue.max_concurrent_runs = n;
        }
        if let Some(t) = &r.tag_concurrency_limits {
            queue.tag_concurrency_limits = t.clone();
        }
    }
    if result_default {
        RunCoordinatorConfig::Default
    } else {
        RunCoordinatorConfig::Queued(queue)
    }
}

pub(super) fn read_queue_fields(
    m: &Map<'_>,
    q: &mut QueueConfig,
    runs: Option<&RunsSection<'_>>,
    pools: Option<&Loc>,
) {
    for key in ["max_concurrent_runs", "tag_concurrency_limits"] {
        let Some(v) = m.get(key) else { continue };
        if let Some(r) = runs {
            v.error(format!(
                "`{key}` here is incompatible with the `concurrency > runs` config (line {}): set it in one place",
                r.value.loc().line
            ));
            continue;
        }
        if key == "max_concurrent_runs" {
            if let Some(n) = max_runs(&v) {
                q.max_concurrent_runs = n;
            }
        } else {
            q.tag_concurrency_limits = parse_tag_limits(&v);
        }
    }
    // 0 would make the daemon spin: at least one second.
    if let Some(n) = opt_positive(m, "dequeue_interval_seconds") {
        q.dequeue_interval_seconds = n;
    }
    warn_not_acted_on(m, "dequeue_use_threads", "queue.dequeue_use_threads");
    q.dequeue_use_threads = m
        .bool("dequeue_use_threads")
        .unwrap_or(q.dequeue_use_threads);
    warn_not_acted_on(m, "dequeue_num_workers", "queue.dequeue_num_workers");
    if let Some(n) = opt_positive(m, "dequeue_num_workers") {
        q.dequeue_num_workers = Some(n);
    }
    warn_not_acted_on(
        m,
        "max_user_code_failure_retries",
        "queue.max_user_code_failure_retries",
    );
    q.max_user_code_failure_retries = uint(
        m,
        "max_user_code_failure_retries",
        q.max_user_code_failure_retries,
    );
    warn_not_acted_on(
        m,
        "user_code_failure_retry_delay",
        "queue.user_code_failure_retry_delay",
    );
    q.user_code_failure_retry_delay = uint(
        m,
        "user_code_failure_retry_delay",
        q.user_code_failure_retry_delay,
    );
    warn_not_acted_on(
        m,
        "block_op_concurrency_limited_runs",
        "queue.block_op_concurrency_limited_runs",
    );
    if let Some(b) = m.map("block_op_concurrency_limited_runs") {
        q.block_op_concurrency_limited_runs.enabled = b
            .bool("enabled")
            .unwrap_or(q.block_op_concurrency_limited_runs.enabled);
        if let Some(v) = b.get("op_concurrency_slot_buffer") {
            if let Some(p) = pools {
                v.error(format!(
                    "`op_concurrency_slot_buffer` is incompatible with the `concurrency > pools` config (line {}): \
                     use `concurrency.pools.op_granularity_run_buffer`",
                    p.line
                ));
            } else if let Some(n) = non_negative(&v) {
                q.block_op_concurrency_limited_runs
                    .op_concurrency_slot_buffer = n;
            }
        }
        b.finish();
    }
    m.finish();
}

// ---------------------------------------------------------------------------------------
// compute logs, artifacts, scheduler, other sections
// ---------------------------------------------------------------------------------------

pub(super) fn parse_compute_logs(v: &Value<'_>, home: &DagsterHome) -> Option<ComputeLogsConfig> {
    let c = read_class(v)?;
    match c.class.as_str() {
        "LocalComputeLogManager" => {
            if !c.check_module(&[
                "dagster._core.storage.local_compute_log_manager",
                "dagster.core.storage.local_compute_log_manager",
            ]) {
                return None;
            }
            let Some(m) = c.config_map() else {
                c.class_v
                    .error("`LocalComputeLogManager` needs `config: {base_dir: <directory>}`");
                return None;
            };
            let base_dir = m.req_str("base_dir");
            let polling_timeout = m.get("polling_timeout").and_then(|pv| {
                let f = pv.as_float()?;
                if f < 0.0 {
                    pv.error("`polling_timeout` must not be negative");
                    return None;
                }
                Some(f)
            });
            m.finish();
            Some(ComputeLogsConfig::Local {
                base_dir: home.resolve(&base_dir?),
                polling_timeout,
            })
        }
        "NoOpComputeLogManager" => {
            if !c.check_module(&[
                "dagster._core.storage.noop_compute_log_manager",
                "dagster.core.storage.noop_compute_log_manager",
            ]) {
                return None;
            }
            c.no_config();
            Some(ComputeLogsConfig::NoOp)
        }
        other => {
            c.class_v.error(format!(
                "compute log manager `{other}` is not supported (use LocalComputeLogManager or NoOpComputeLogManager)"
            ));
            None
        }
    }
}

pub(super) fn parse_local_artifact_storage(
    v: &Value<'_>,
    home: &DagsterHome,
) -> Option<LocalArtifactStorageConfig> {
    let c = read_class(v)?;
    if c.class != "LocalArtifactStorage" {
        c.class_v.error(format!(
            "artifact storage `{}` is not supported (use LocalArtifactStorage)",
            c.class
        ));
        return None;
    }
    if !c.check_module(&["dagster._core.storage.root", "dagster.core.storage.root"]) {
        return None;
    }
    let Some(m) = c.config_map() else {
        c.class_v
            .error("`LocalArtifactStorage` needs `config: {base_dir: <directory>}`");
        return None;
    };
    let base_dir = m.req_str("base_dir");
    m.finish();
    Some(LocalArtifactStorageConfig {
        base_dir: home.resolve(&base_dir?),
    })
}

pub(super) fn parse_scheduler(v: &Value<'_>) -> Option<SchedulerConfig> {
    let c = read_class(v)?;
    if c.class != "DagsterDaemonScheduler" {
        c.class_v.error(format!(
            "scheduler `{}` is not supported (use DagsterDaemonScheduler)",
            c.class
        ));
        return None;
    }
    if !c.check_module(&[
        "dagster",
        "dagster._core.scheduler",
        "dagster.core.scheduler",
    ]) {
        return None;
    }
    let d = SchedulerConfig::default();
    let Some(m) = c.config_map() else {
        return Some(d);
    };
    warn_not_acted_on(&m, "max_catchup_runs", "scheduler.max_catchup_runs");
    let s = SchedulerConfig {
        max_catchup_runs: uint(&m, "max_catchup_runs", d.max_catchup_runs),
        max_tick_retries: uint(&m, "max_tick_retries", d.max_tick_retries),
    };
    m.finish();
    Some(s)
}

pub(super) fn parse_run_monitoring(m: &Map<'_>) -> RunMonitoringConfig {
    let d = RunMonitoringConfig::default();
    let r = RunMonitoringConfig {
        enabled: m.bool("enabled").unwrap_or(d.enabled),
        start_timeout_seconds: uint(m, "start_timeout_seconds", d.start_timeout_seconds),
        cancel_timeout_seconds: uint(m, "cancel_timeout_seconds", d.cancel_timeout_seconds),
        max_runtime_seconds: uint(m, "max_runtime_seconds", d.max_runtime_seconds),
        max_resume_run_attempts: uint(m, "max_resume_run_attempts", d.max_resume_run_attempts),
        poll_interval_seconds: uint(m, "poll_interval_seconds", d.poll_interval_seconds),
        cancellation_thread_poll_interval_seconds: uint(
            m,
            "cancellation_thread_poll_interval_seconds",
            d.cancellation_thread_poll_interval_seconds,
        ),
        free_slots_after_run_end_seconds: opt_uint(m, "free_slots_after_run_end_seconds"),
    };
    // Only what asks for something this implementation does not do is warned about: the
    // daemon polls every 2 s and run workers check for cancellation every 250 ms, at least
    // as often as any setting of Dagster's intervals.
    let warn_if = |key: &str, asks: bool| {
        if asks {
            warn_not_acted_on(m, key, &format!("run_monitoring.{key}"));
        }
    };
    warn_if("enabled", !r.enabled);
    warn_if("max_resume_run_attempts", r.max_resume_run_attempts > 0);
    warn_if("poll_interval_seconds", r.poll_interval_seconds < 2);
    warn_if(
        "free_slots_after_run_end_seconds",
        r.free_slots_after_run_end_seconds.is_some(),
    );
    m.finish();
    r
}

pub(super) fn parse_tick_retention(
    m: &Map<'_>,
    key: &str,
    default: TickRetention,
) -> TickRetention {
    let Some(section) = m.map(key) else {
        return default;
    };
    let mut r = default;
    if let Some(v) = section.get("purge_after_days") {
        let days = |x: &Value<'_>| -> Option<i64> {
            let i = x.as_int()?;
            if i < -1 {
                x.error(format!(
                    "must be -1 (keep forever) or a number of days, found {i}"
                ));
                return None;
            }
            Some(i)
        };
        if v.is_map() && !is_env_ref(&v) {
            if let Some(pm) = v.as_map() {
                for (status, slot) in [
                    ("started", &mut r.started),
                    ("skipped", &mut r.skipped),
                    ("success", &mut r.success),
                    ("failure", &mut r.failure),
                ] {
                    if let Some(d) = pm.get(status).and_then(|x| days(&x)) {
                        *slot = d;
                    }
                }
                pm.finish();
            }
        } else if let Some(d) = days(&v) {
            r = TickRetention::all(d);
        }
    }
    section.finish();
    r
}

pub(super) fn parse_auto_materialize(m: &Map<'_>) -> AutoMaterializeConfig {
    let d = AutoMaterializeConfig::default();
    let run_tags = m
        .map("run_tags")
        .map(|tm| {
            tm.entries()
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s)))
                .collect()
        })
        .unwrap_or_default();
    let r = AutoMaterializeConfig {
        enabled: m.bool("enabled").unwrap_or(d.enabled),
        minimum_interval_seconds: opt_uint(m, "minimum_interval_seconds"),
        run_tags,
        respect_materialization_data_versions: m
            .bool("respect_materialization_data_versions")
            .unwrap_or(d.respect_materialization_data_versions),
        max_tick_retries: uint(m, "max_tick_retries", d.max_tick_retries),
        use_sensors: m.bool("use_sensors").unwrap_or(d.use_sensors),
        use_threads: m.bool("use_threads").unwrap_or(d.use_threads),
        num_workers: opt_positive(m, "num_workers"),
    };
    m.finish();
    r
}
