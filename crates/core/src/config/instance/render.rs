//! `InstanceConfig::to_yaml`'s pieces: each section rendered back to YAML.

use super::*;

// ---------------------------------------------------------------------------------------
// to_yaml helpers
// ---------------------------------------------------------------------------------------

pub(super) fn mapping(pairs: Vec<(&str, Y)>) -> Y {
    let mut m = serde_yaml::Mapping::new();
    for (k, v) in pairs {
        m.insert(Y::from(k), v);
    }
    Y::Mapping(m)
}

pub(super) fn path_y(p: &Path) -> Y {
    Y::from(p.display().to_string())
}

pub(super) fn opt_u(v: Option<u64>) -> Option<Y> {
    v.map(Y::from)
}

/// A mapping leaving out None values.
pub(super) fn mapping_opt(pairs: Vec<(&str, Option<Y>)>) -> Y {
    mapping(
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
    )
}

pub(super) fn class_yaml(module: &str, class: &str, config: Option<Y>) -> Y {
    let mut pairs = vec![("module", Y::from(module)), ("class", Y::from(class))];
    if let Some(c) = config {
        pairs.push(("config", c));
    }
    mapping(pairs)
}

pub(super) fn storage_yaml(s: &StorageConfig) -> Y {
    match s {
        StorageConfig::Sqlite { base_dir } => mapping(vec![(
            "sqlite",
            mapping(vec![("base_dir", path_y(base_dir))]),
        )]),
        StorageConfig::Postgres {
            url,
            should_autocreate_tables,
            ..
        } => mapping(vec![(
            "postgres",
            mapping(vec![
                ("postgres_url", Y::from(redact_url(url, Some("***")))),
                (
                    "should_autocreate_tables",
                    Y::from(*should_autocreate_tables),
                ),
            ]),
        )]),
    }
}

pub(super) fn run_coordinator_yaml(rc: &RunCoordinatorConfig) -> Y {
    match rc {
        RunCoordinatorConfig::Default => class_yaml("dagster", "DefaultRunCoordinator", None),
        RunCoordinatorConfig::Queued(q) => {
            let limits: Vec<Y> = q
                .tag_concurrency_limits
                .iter()
                .map(|t| {
                    let value = match &t.value {
                        TagLimitValue::Any => None,
                        TagLimitValue::Exact(v) => Some(Y::from(v.as_str())),
                        TagLimitValue::PerUniqueValue => {
                            Some(mapping(vec![("applyLimitPerUniqueValue", Y::from(true))]))
                        }
                    };
                    mapping_opt(vec![
                        ("key", Some(Y::from(t.key.as_str()))),
                        ("value", value),
                        ("limit", Some(Y::from(t.limit))),
                    ])
                })
                .collect();
            let config = mapping_opt(vec![
                ("max_concurrent_runs", Some(Y::from(q.max_concurrent_runs))),
                ("tag_concurrency_limits", Some(Y::Sequence(limits))),
                (
                    "dequeue_interval_seconds",
                    Some(Y::from(q.dequeue_interval_seconds)),
                ),
                ("dequeue_use_threads", Some(Y::from(q.dequeue_use_threads))),
                ("dequeue_num_workers", opt_u(q.dequeue_num_workers)),
                (
                    "max_user_code_failure_retries",
                    Some(Y::from(q.max_user_code_failure_retries)),
                ),
                (
                    "user_code_failure_retry_delay",
                    Some(Y::from(q.user_code_failure_retry_delay)),
                ),
                (
                    "block_op_concurrency_limited_runs",
                    Some(mapping_opt(vec![
                        (
                            "enabled",
                            Some(Y::from(q.block_op_concurrency_limited_runs.enabled)),
                        ),
                        (
                            "op_concurrency_slot_buffer",
                            opt_u(
                                Some(
                                    q.block_op_concurrency_limited_runs
                                        .op_concurrency_slot_buffer,
                                )
                                .filter(|n| *n > 0),
                            ),
                        ),
                    ])),
                ),
            ]);
            class_yaml("dagster", "QueuedRunCoordinator", Some(config))
        }
    }
}

pub(super) fn compute_logs_yaml(c: &ComputeLogsConfig) -> Y {
    match c {
        ComputeLogsConfig::Local {
            base_dir,
            polling_timeout,
        } => class_yaml(
            "dagster._core.storage.local_compute_log_manager",
            "LocalComputeLogManager",
            Some(mapping_opt(vec![
                ("base_dir", Some(path_y(base_dir))),
                ("polling_timeout", polling_timeout.map(Y::from)),
            ])),
        ),
        ComputeLogsConfig::NoOp => class_yaml(
            "dagster._core.storage.noop_compute_log_manager",
            "NoOpComputeLogManager",
            None,
        ),
    }
}

pub(super) fn run_monitoring_yaml(r: &RunMonitoringConfig) -> Y {
    mapping_opt(vec![
        ("enabled", Some(Y::from(r.enabled))),
        (
            "start_timeout_seconds",
            Some(Y::from(r.start_timeout_seconds)),
        ),
        (
            "cancel_timeout_seconds",
            Some(Y::from(r.cancel_timeout_seconds)),
        ),
        ("max_runtime_seconds", Some(Y::from(r.max_runtime_seconds))),
        (
            "max_resume_run_attempts",
            Some(Y::from(r.max_resume_run_attempts)),
        ),
        (
            "poll_interval_seconds",
            Some(Y::from(r.poll_interval_seconds)),
        ),
        (
            "cancellation_thread_poll_interval_seconds",
            Some(Y::from(r.cancellation_thread_poll_interval_seconds)),
        ),
        (
            "free_slots_after_run_end_seconds",
            opt_u(r.free_slots_after_run_end_seconds),
        ),
    ])
}

pub(super) fn retention_yaml(t: &TickRetention) -> Y {
    mapping(vec![(
        "purge_after_days",
        mapping(vec![
            ("started", Y::from(t.started)),
            ("skipped", Y::from(t.skipped)),
            ("success", Y::from(t.success)),
            ("failure", Y::from(t.failure)),
        ]),
    )])
}

pub(super) fn workers_yaml(w: &DaemonWorkersConfig) -> Y {
    mapping_opt(vec![
        ("use_threads", Some(Y::from(w.use_threads))),
        ("num_workers", opt_u(w.num_workers)),
        ("num_submit_workers", opt_u(w.num_submit_workers)),
    ])
}

pub(super) fn concurrency_yaml(c: &ConcurrencyConfig) -> Y {
    let granularity = match c.pools.granularity {
        PoolGranularity::Run => "run",
        PoolGranularity::Op => "op",
    };
    let pools = (c.pools != PoolsConfig::default()).then(|| {
        mapping_opt(vec![
            ("default_limit", opt_u(c.pools.default_limit)),
            ("granularity", Some(Y::from(granularity))),
            (
                "op_granularity_run_buffer",
                Some(Y::from(c.pools.op_granularity_run_buffer)),
            ),
        ])
    });
    mapping_opt(vec![
        ("pools", pools),
        (
            "default_op_concurrency_limit",
            opt_u(c.default_op_concurrency_limit),
        ),
    ])
}

pub(super) fn auto_materialize_yaml(a: &AutoMaterializeConfig) -> Y {
    let mut tags = serde_yaml::Mapping::new();
    for (k, v) in &a.run_tags {
        tags.insert(Y::from(k.as_str()), Y::from(v.as_str()));
    }
    mapping_opt(vec![
        ("enabled", Some(Y::from(a.enabled))),
        (
            "minimum_interval_seconds",
            opt_u(a.minimum_interval_seconds),
        ),
        ("run_tags", Some(Y::Mapping(tags))),
        (
            "respect_materialization_data_versions",
            Some(Y::from(a.respect_materialization_data_versions)),
        ),
        ("max_tick_retries", Some(Y::from(a.max_tick_retries))),
        ("use_sensors", Some(Y::from(a.use_sensors))),
        ("use_threads", Some(Y::from(a.use_threads))),
        ("num_workers", opt_u(a.num_workers)),
    ])
}

pub(super) fn run_launcher_yaml(r: &RunLauncherConfig) -> Y {
    match r {
        RunLauncherConfig::Default(_) => class_yaml("dagster", "DefaultRunLauncher", None),
        RunLauncherConfig::Docker(d) => {
            let strings =
                |v: &[String]| Y::Sequence(v.iter().map(|s| Y::from(s.as_str())).collect());
            let config = mapping_opt(vec![
                ("image", d.image.as_deref().map(Y::from)),
                (
                    "registry",
                    d.registry.as_ref().map(|r| {
                        mapping(vec![
                            ("url", Y::from(r.url.as_str())),
                            ("username", Y::from(r.username.as_str())),
                            ("password", Y::from("***")),
                        ])
                    }),
                ),
                (
                    "env_vars",
                    (!d.env_vars.is_empty()).then(|| strings(&d.env_vars_redacted())),
                ),
                (
                    "networks",
                    (!d.networks.is_empty()).then(|| strings(&d.networks)),
                ),
                (
                    "container_kwargs",
                    (!d.container_kwargs_json.is_empty())
                        .then(|| serde_yaml::to_value(&d.container_kwargs_json).unwrap_or(Y::Null)),
                ),
            ]);
            class_yaml("dagster_docker", "DockerRunLauncher", Some(config))
        }
    }
}
