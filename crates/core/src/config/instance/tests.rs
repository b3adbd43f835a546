use super::*;

fn home() -> DagsterHome {
    DagsterHome::new("/home/dh")
}

fn env(name: &str) -> Option<String> {
    match name {
        "PGUSER" => Some("dag ster".into()),
        "PGPASSWORD" => Some("p@ss:w/rd".into()),
        "DAGSTER_PG_URL" => Some(
            "postgresql+psycopg2://u:hunter2@db:5433/d?sslmode=disable&password=hunter2".into(),
        ),
        "MAX_RUNS" => Some("7".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<(InstanceConfig, Vec<Diagnostic>), ConfigErrors> {
    InstanceConfig::from_text(Path::new("/home/dh/dagster.yaml"), text, &home(), &env)
}

fn ok(text: &str) -> (InstanceConfig, Vec<String>) {
    match parse(text) {
        Ok((c, w)) => (c, w.iter().map(|d| d.to_string()).collect()),
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().map(|d| d.to_string()).collect(),
    }
}

fn queue(c: &InstanceConfig) -> &QueueConfig {
    match &c.run_coordinator {
        RunCoordinatorConfig::Queued(q) => q,
        other => panic!("expected a queued coordinator, got {other:?}"),
    }
}

#[test]
fn defaults_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let h = DagsterHome::new(dir.path());
    let (c, warnings) = InstanceConfig::load(&h, &env).unwrap();
    assert_eq!(c, InstanceConfig::defaults(&h));
    assert_eq!(
        c.storage.sqlite_db_path(),
        Some(dir.path().join("storage/dagster.db"))
    );
    assert_eq!(queue(&c), &QueueConfig::default());
    assert_eq!(
        c.compute_logs,
        ComputeLogsConfig::Local {
            base_dir: dir.path().join("logs"),
            polling_timeout: None
        }
    );
    assert!(!c.telemetry.enabled);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].message.contains("no dagster.yaml found"),
        "{}",
        warnings[0]
    );
    // an empty file: defaults, no warning
    let (c2, w2) = ok("# nothing\n");
    assert_eq!(
        c2.storage,
        StorageConfig::Sqlite {
            base_dir: PathBuf::from("/home/dh/storage")
        }
    );
    assert!(w2.is_empty(), "{w2:?}");
}

const VALIDATED_EXAMPLE: &str = "\
storage:
  postgres:
    postgres_db: {username: {env: PGUSER}, password: {env: PGPASSWORD}, hostname: localhost,
                  db_name: dagster, port: 5432, params: {sslmode: disable}}
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 25
    dequeue_interval_seconds: 5
    tag_concurrency_limits:
      - {key: database, value: redshift, limit: 4}
      - {key: team, value: {applyLimitPerUniqueValue: true}, limit: 2}
run_monitoring: {enabled: true, start_timeout_seconds: 180, poll_interval_seconds: 120, max_resume_run_attempts: 0}
run_retries: {enabled: true, max_retries: 3}
compute_logs: {module: dagster._core.storage.local_compute_log_manager, class: LocalComputeLogManager,
               config: {base_dir: /opt/dagster/compute_logs}}
telemetry: {enabled: false}
retention: {schedule: {purge_after_days: 90}, sensor: {purge_after_days: {skipped: 7, failure: 30, success: -1}}}
sensors: {use_threads: true, num_workers: 8}
schedules: {use_threads: true, num_workers: 8}
";

#[test]
fn validated_dagster_example_parses() {
    let (c, warnings) = ok(VALIDATED_EXAMPLE);
    match &c.storage {
        StorageConfig::Postgres {
            url,
            display_url,
            should_autocreate_tables,
        } => {
            assert_eq!(
                url,
                "postgresql://dag%20ster:p%40ss%3Aw%2Frd@localhost:5432/dagster?sslmode=disable"
            );
            assert_eq!(
                display_url,
                "postgresql://dag%20ster@localhost:5432/dagster?sslmode=disable"
            );
            assert!(*should_autocreate_tables);
        }
        other => panic!("{other:?}"),
    }
    let q = queue(&c);
    assert_eq!(q.max_concurrent_runs, 25);
    assert_eq!(q.run_limit(), Some(25));
    assert_eq!(
        q.tag_concurrency_limits,
        vec![
            TagConcurrencyLimit {
                key: "database".into(),
                value: TagLimitValue::Exact("redshift".into()),
                limit: 4
            },
            TagConcurrencyLimit {
                key: "team".into(),
                value: TagLimitValue::PerUniqueValue,
                limit: 2
            },
        ]
    );
    assert!(c.run_monitoring.enabled);
    assert_eq!(c.run_monitoring.cancel_timeout_seconds, 180);
    assert_eq!(
        c.run_retries,
        RunRetriesConfig {
            enabled: true,
            max_retries: 3,
            retry_on_asset_or_op_failure: true
        }
    );
    assert_eq!(
        c.compute_logs,
        ComputeLogsConfig::Local {
            base_dir: PathBuf::from("/opt/dagster/compute_logs"),
            polling_timeout: None
        }
    );
    assert_eq!(c.retention.schedule, TickRetention::all(90));
    assert_eq!(
        c.retention.sensor,
        TickRetention {
            started: -1,
            skipped: 7,
            success: -1,
            failure: 30
        }
    );
    assert_eq!(
        c.retention.auto_materialize,
        RetentionConfig::default().auto_materialize
    );
    assert_eq!(
        c.sensors,
        DaemonWorkersConfig {
            use_threads: true,
            num_workers: Some(8),
            num_submit_workers: None
        }
    );
    // not acted on yet: sensors, schedules (run_monitoring's keys are all honoured)
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    for key in ["sensors", "schedules"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("`{key}` is accepted but not acted on yet"))),
            "{key}: {warnings:#?}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("/home/dh/dagster.yaml:20:10: warning: sensors:")),
        "{warnings:#?}"
    );
}

#[test]
fn run_monitoring_warns_only_about_what_it_does_not_do() {
    let (c, w) = ok("run_monitoring: {enabled: true, start_timeout_seconds: 60, cancel_timeout_seconds: 30, max_runtime_seconds: 3600, poll_interval_seconds: 120, cancellation_thread_poll_interval_seconds: 10, max_resume_run_attempts: 0}\n");
    assert!(w.is_empty(), "{w:#?}");
    assert_eq!(c.run_monitoring.start_timeout_seconds, 60);
    assert_eq!(c.run_monitoring.cancel_timeout_seconds, 30);
    assert_eq!(c.run_monitoring.max_runtime_seconds, 3600);
    let (_, w) = ok("run_monitoring:\n  enabled: false\n  max_resume_run_attempts: 3\n  poll_interval_seconds: 1\n  free_slots_after_run_end_seconds: 5\n");
    let expect = [
            ":2:12: warning: run_monitoring.enabled: `enabled` is accepted but not acted on yet: run monitoring is always on",
            ":3:28: warning: run_monitoring.max_resume_run_attempts: `max_resume_run_attempts` is accepted but not acted on yet: a run whose worker died is failed",
            ":4:26: warning: run_monitoring.poll_interval_seconds: `poll_interval_seconds` is accepted but not acted on yet: the daemon checks runs every 2 s",
            ":5:37: warning: run_monitoring.free_slots_after_run_end_seconds:",
        ];
    assert_eq!(w.len(), expect.len(), "{w:#?}");
    for e in expect {
        assert!(w.iter().any(|x| x.contains(e)), "missing `{e}` in {w:#?}");
    }
}

#[test]
fn postgres_db_url_encoding_params_and_redaction() {
    let (c, _) = ok("storage:\n  postgres:\n    postgres_db:\n      username: u\n      password: 'a b&c'\n      hostname: '::1'\n      db_name: d\n      port: 6543\n      params: {sslmode: require, application_name: my app}\n      scheme: postgres\n    should_autocreate_tables: false\n");
    let StorageConfig::Postgres {
        url,
        display_url,
        should_autocreate_tables,
    } = &c.storage
    else {
        panic!("{:?}", c.storage)
    };
    assert_eq!(
        url,
        "postgres://u:a%20b%26c@[::1]:6543/d?sslmode=require&application_name=my%20app"
    );
    assert_eq!(
        display_url,
        "postgres://u@[::1]:6543/d?sslmode=require&application_name=my%20app"
    );
    assert!(!should_autocreate_tables);
    // no password: no colon
    let (c, _) = ok("storage: {postgres: {postgres_db: {username: u, hostname: h, db_name: d}}}\n");
    assert_eq!(c.storage.describe(), "postgresql://u@h:5432/d");
}

#[test]
fn postgres_url_from_env_is_never_shown() {
    let (c, _) = ok("storage:\n  postgres:\n    postgres_url: {env: DAGSTER_PG_URL}\n");
    let StorageConfig::Postgres {
        url, display_url, ..
    } = &c.storage
    else {
        panic!("{:?}", c.storage)
    };
    assert_eq!(
        url,
        "postgresql://u:hunter2@db:5433/d?sslmode=disable&password=hunter2"
    );
    assert_eq!(display_url, "postgresql://u@db:5433/d?sslmode=disable");
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let yaml = c.to_yaml();
    assert!(!yaml.contains("hunter2"), "{yaml}");
    assert!(
        yaml.contains("postgresql://u:***@db:5433/d?sslmode=disable&password=***"),
        "{yaml}"
    );
    // the URL's value never appears in an error either
    let errs = errors("storage: {postgres: {postgres_url: 'mysql://root:topsecret@h/d'}}\n");
    assert!(
        errs[0].contains("unsupported URL scheme `mysql`") && !errs[0].contains("topsecret"),
        "{errs:?}"
    );
    let errs = errors("storage: {postgres: {postgres_url: 'topsecret'}}\n");
    assert!(!errs[0].contains("topsecret"), "{errs:?}");
}

#[test]
fn unset_env_var_names_the_variable() {
    let errs = errors("storage:\n  postgres:\n    postgres_url: {env: NOT_SET_ANYWHERE}\n");
    assert_eq!(
            errs,
            vec!["/home/dh/dagster.yaml:3:19: error: storage.postgres.postgres_url: environment variable `NOT_SET_ANYWHERE` is not set"]
        );
    let (c, _) = ok("run_queue: {max_concurrent_runs: {env: MAX_RUNS}}\n");
    assert_eq!(queue(&c).max_concurrent_runs, 7);
}

#[test]
fn unknown_nested_key_has_position_and_path() {
    let errs = errors("run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config:\n    max_concurent_runs: 3\n");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
            errs[0].starts_with(
                "/home/dh/dagster.yaml:5:5: error: run_coordinator.config.max_concurent_runs: unknown key `max_concurent_runs` (did you mean `max_concurrent_runs`?)"
            ),
            "{}",
            errs[0]
        );
    let errs = errors("storage:\n  postgres:\n    postgres_db: {username: u, hostname: h, db_name: d, passwd: x}\n");
    assert!(
        errs[0].contains("storage.postgres.postgres_db.passwd: unknown key `passwd`"),
        "{errs:#?}"
    );
    let errs = errors("telemetry: {enabled: false}\nstorag: {}\n");
    assert!(errs[0].starts_with("/home/dh/dagster.yaml:2:1: error: storag: unknown key `storag` (did you mean `storage`?)"), "{errs:#?}");
    let errs = errors("retention: {sensor: {purge_after_days: {skiped: 3}}}\n");
    assert!(
        errs[0].contains("retention.sensor.purge_after_days.skiped: unknown key"),
        "{errs:#?}"
    );
}

#[test]
fn legacy_storage_forms() {
    let pg = "config: {postgres_db: {username: u, password: pw, hostname: h, db_name: d}}";
    let text = format!(
            "run_storage: {{module: dagster_postgres.run_storage, class: PostgresRunStorage, {pg}}}\n\
             event_log_storage: {{module: dagster_postgres.event_log, class: PostgresEventLogStorage, {pg}}}\n\
             schedule_storage: {{module: dagster_postgres, class: PostgresScheduleStorage, {pg}}}\n"
        );
    let (c, _) = ok(&text);
    assert_eq!(c.storage.describe(), "postgresql://u@h:5432/d");

    let (c, _) = ok("run_storage: {module: dagster.core.storage.runs, class: SqliteRunStorage, config: {base_dir: db}}\n\
             event_log_storage: {module: dagster._core.storage.event_log, class: ConsolidatedSqliteEventLogStorage, config: {base_dir: /home/dh/db}}\n\
             schedule_storage: {module: dagster._core.storage.schedules, class: SqliteScheduleStorage, config: {base_dir: ./db/}}\n");
    assert_eq!(
        c.storage.sqlite_db_path(),
        Some(PathBuf::from("/home/dh/db/dagster.db"))
    );

    // different databases
    let errs = errors(&format!(
            "run_storage: {{module: dagster_postgres, class: PostgresRunStorage, {pg}}}\n\
             event_log_storage: {{module: dagster._core.storage.event_log, class: SqliteEventLogStorage, config: {{base_dir: /x}}}}\n\
             schedule_storage: {{module: dagster_postgres, class: PostgresScheduleStorage, {pg}}}\n"
        ));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("all storage must be in one database"),
        "{}",
        errs[0]
    );
    assert!(
        errs[0].contains("`event_log_storage` uses SQLite at /x/dagster.db"),
        "{}",
        errs[0]
    );
    assert!(!errs[0].contains("pw@"), "{}", errs[0]);
    // a missing one defaults to SQLite
    let errs = errors(&format!(
        "run_storage: {{module: dagster_postgres, class: PostgresRunStorage, {pg}}}\n"
    ));
    assert!(
        errs[0].contains("`event_log_storage` is not set and defaults to SQLite"),
        "{errs:#?}"
    );
    // wrong module / class / slot
    let errs = errors("run_storage: {module: dagster_postgres.event_log, class: PostgresRunStorage, config: {}}\n");
    assert!(
            errs[0].contains("run_storage.module: module `dagster_postgres.event_log` does not provide `PostgresRunStorage`; accepted modules: dagster_postgres, dagster_postgres.run_storage"),
            "{errs:#?}"
        );
    let errs = errors("run_storage: {module: x, class: RedisRunStorage}\n");
    assert!(errs[0].contains("unknown storage class `RedisRunStorage` for `run_storage`; accepted: SqliteRunStorage, DagsterSqliteStorage, PostgresRunStorage, DagsterPostgresStorage"), "{errs:#?}");
    let errs = errors("schedule_storage: {module: dagster._core.storage.runs, class: SqliteRunStorage, config: {base_dir: x}}\n");
    assert!(
        errs[0].contains("`SqliteRunStorage` cannot be used as `schedule_storage`"),
        "{errs:#?}"
    );
    let errs = errors("run_storage: {module: dagster_mysql, class: MySQLRunStorage, config: {}}\n");
    assert!(
        errs[0].contains("`MySQLRunStorage` is not supported (use sqlite or postgres)"),
        "{errs:#?}"
    );
}

#[test]
fn mutual_exclusions() {
    let errs = errors("storage: {sqlite: {base_dir: /a}}\nrun_storage: {module: dagster_postgres, class: PostgresRunStorage}\n");
    assert!(
        errs[0].contains("run_storage: `run_storage` cannot be used together with `storage`"),
        "{errs:#?}"
    );
    let errs = errors("storage: {sqlite: {}, postgres: {postgres_url: 'postgresql://h/d'}}\n");
    assert!(
        errs.iter().any(|e| e.contains("exactly one of")),
        "{errs:#?}"
    );
    let errs = errors("storage: {mysql: {mysql_url: x}}\n");
    assert!(
        errs[0].contains("`storage.mysql` is not supported (use sqlite or postgres)"),
        "{errs:#?}"
    );
    let errs = errors("storage: {custom: {module: m, class: C}}\n");
    assert!(
        errs[0].contains("`storage.custom` is not supported"),
        "{errs:#?}"
    );
    let errs = errors("storage: {postgres: {postgres_url: 'postgresql://h/d', postgres_db: {username: u, hostname: h, db_name: d}}}\n");
    assert!(
        errs[0].contains("either `postgres_url` or `postgres_db`"),
        "{errs:#?}"
    );
    let errs = errors("run_queue: {max_concurrent_runs: 3}\nrun_coordinator: {module: dagster, class: QueuedRunCoordinator}\n");
    assert!(
        errs[0].contains("`run_queue` cannot be used together with `run_coordinator` (line 2)"),
        "{errs:#?}"
    );
    let errs = errors("concurrency:\n  runs: {max_concurrent_runs: 4}\nrun_queue:\n  max_concurrent_runs: 3\n  tag_concurrency_limits: []\n");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].contains("run_queue.max_concurrent_runs: `max_concurrent_runs` here is incompatible with the `concurrency > runs` config (line 2)"), "{errs:#?}");
    let errs = errors("concurrency: {pools: {default_limit: 1}}\nrun_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config: {block_op_concurrency_limited_runs: {enabled: true, op_concurrency_slot_buffer: 1}}\n");
    assert!(
        errs[0].contains("incompatible with the `concurrency > pools` config"),
        "{errs:#?}"
    );
    let errs =
        errors("concurrency: {pools: {default_limit: 1}, default_op_concurrency_limit: 2}\n");
    assert!(
        errs[0]
            .contains("`default_op_concurrency_limit` cannot be combined with `concurrency.pools`"),
        "{errs:#?}"
    );
}

#[test]
fn run_coordinator_shapes() {
    let (c, w) = ok("run_queue:\n  max_concurrent_runs: -1\n  dequeue_interval_seconds: 2\n  tag_concurrency_limits: [{key: k, limit: 1}]\n");
    let q = queue(&c);
    assert_eq!(
        (
            q.max_concurrent_runs,
            q.run_limit(),
            q.dequeue_interval_seconds
        ),
        (-1, None, 2)
    );
    assert_eq!(q.tag_concurrency_limits[0].value, TagLimitValue::Any);
    assert!(w.is_empty(), "{w:?}");

    let (c, w) = ok("concurrency:\n  runs:\n    max_concurrent_runs: 0\n    tag_concurrency_limits: [{key: k, value: v, limit: 3}]\n");
    let q = queue(&c);
    assert_eq!(q.max_concurrent_runs, 0);
    assert_eq!(
        q.tag_concurrency_limits[0].value,
        TagLimitValue::Exact("v".into())
    );
    assert!(w.is_empty(), "{w:?}");

    let (c, _) = ok(
        "run_coordinator: {module: dagster._core.run_coordinator, class: DefaultRunCoordinator}\n",
    );
    assert_eq!(c.run_coordinator, RunCoordinatorConfig::Default);
    let (_, w) = ok("run_coordinator: {module: dagster.core.run_coordinator, class: DefaultRunCoordinator}\nconcurrency: {runs: {max_concurrent_runs: 2}}\n");
    assert!(
        w[0].contains("has no effect with DefaultRunCoordinator"),
        "{w:?}"
    );

    let errs = errors("run_queue: {dequeue_interval_seconds: 0}\n");
    assert!(
        errs[0].contains("run_queue.dequeue_interval_seconds: must be at least 1"),
        "{errs:?}"
    );
    let errs = errors("run_queue: {max_concurrent_runs: -2}\n");
    assert!(
        errs[0]
            .contains("must be -1 (unlimited), 0 (launch nothing) or a positive number, found -2"),
        "{errs:?}"
    );
    let errs = errors("run_coordinator: {module: dagster, class: DefaultRunCoordinator, config: {max_concurrent_runs: 1}}\n");
    assert!(
        errs[0].contains("`DefaultRunCoordinator` takes no config"),
        "{errs:?}"
    );
    let errs = errors("run_coordinator: {module: my.module, class: QueuedRunCoordinator}\n");
    assert!(
        errs[0].contains("accepted modules: dagster, dagster._core.run_coordinator"),
        "{errs:?}"
    );
    let errs = errors("run_coordinator: {module: x, class: MyCoordinator}\n");
    assert!(
        errs[0].contains("run coordinator `MyCoordinator` is not supported"),
        "{errs:?}"
    );
    let errs = errors("run_queue: {tag_concurrency_limits: [{key: k, value: {applyLimitPerUniqueValue: true, x: 1}, limit: -1}]}\n");
    assert_eq!(errs.len(), 2, "{errs:#?}");

    let (c, w) = ok("run_queue: {dequeue_use_threads: true, dequeue_num_workers: 4, block_op_concurrency_limited_runs: {enabled: false}}\n");
    assert!(queue(&c).dequeue_use_threads);
    assert!(!queue(&c).block_op_concurrency_limited_runs.enabled);
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(
        w[0].contains(
            "run_queue.dequeue_use_threads: `dequeue_use_threads` is accepted but not acted on yet"
        ),
        "{w:#?}"
    );
}

#[test]
fn launcher_compute_logs_artifacts_scheduler() {
    let (c, w) = ok("run_launcher: {module: dagster, class: DefaultRunLauncher}\n\
             compute_logs: {module: dagster._core.storage.noop_compute_log_manager, class: NoOpComputeLogManager}\n\
             local_artifact_storage: {module: dagster._core.storage.root, class: LocalArtifactStorage, config: {base_dir: art}}\n");
    assert_eq!(
        c.run_launcher,
        RunLauncherConfig::Default(WorkerReuse::default())
    );
    assert_eq!(c.compute_logs, ComputeLogsConfig::NoOp);
    assert_eq!(
        c.local_artifact_storage.storage_dir(),
        PathBuf::from("/home/dh/art/storage")
    );
    assert!(w.is_empty(), "{w:?}");
    let (c, w) = ok("run_launcher: {module: dagster, class: DefaultRunLauncher, config: {max_runs_per_worker: 1, max_idle_workers: 4, worker_idle_timeout_seconds: 5}}\n");
    assert_eq!(
        c.run_launcher.worker_reuse(),
        WorkerReuse {
            max_runs_per_worker: 1,
            max_idle_workers: 4,
            idle_timeout_seconds: 5
        }
    );
    assert!(w.is_empty(), "{w:?}");
    let errs = errors("run_launcher: {module: dagster, class: DefaultRunLauncher, config: {max_runs_per_worker: 0}}\n");
    assert!(errs[0].contains("max_runs_per_worker"), "{errs:?}");
    let errs = errors(
        "run_launcher: {module: dagster_k8s, class: K8sRunLauncher, config: {job_namespace: x}}\n",
    );
    assert!(
        errs[0].contains("`K8sRunLauncher` is not supported"),
        "{errs:?}"
    );
    let errs = errors("compute_logs: {module: dagster_aws.s3.compute_log_manager, class: S3ComputeLogManager, config: {bucket: b}}\n");
    assert!(
        errs[0].contains("compute log manager `S3ComputeLogManager` is not supported"),
        "{errs:?}"
    );
    let errs = errors("compute_logs: {module: dagster._core.storage.local_compute_log_manager, class: LocalComputeLogManager}\n");
    assert!(errs[0].contains("needs `config: {base_dir"), "{errs:?}");
    let (c, w) = ok("compute_logs: {module: dagster.core.storage.local_compute_log_manager, class: LocalComputeLogManager, config: {base_dir: cl, polling_timeout: 0.5}}\n");
    assert_eq!(
        c.compute_logs,
        ComputeLogsConfig::Local {
            base_dir: PathBuf::from("/home/dh/cl"),
            polling_timeout: Some(0.5)
        }
    );
    assert!(w.is_empty());
    let (c, w) = ok("scheduler: {module: dagster._core.scheduler, class: DagsterDaemonScheduler, config: {max_catchup_runs: 2}}\n");
    assert_eq!(
        c.scheduler,
        SchedulerConfig {
            max_catchup_runs: 2,
            max_tick_retries: 0
        }
    );
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains("`max_catchup_runs` is accepted but not acted on yet"),
        "{w:?}"
    );
    let (c, w) = ok("scheduler: {module: dagster, class: DagsterDaemonScheduler, config: {max_tick_retries: 2}}\n");
    assert_eq!(c.scheduler.max_tick_retries, 2);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn warnings_for_keys_not_acted_on_and_without_effect() {
    let text = "\
telemetry: {enabled: true}
nux: {enabled: false}
freshness: {enabled: false}
auto_materialize: {enabled: false, run_tags: {a: b}, minimum_interval_seconds: 30}
backfills: {use_threads: true, num_workers: 4, num_submit_workers: 2}
concurrency: {pools: {default_limit: 1, granularity: run}}
python_logs: {managed_python_loggers: [my_logger], python_log_level: INFO, dagster_handler_config: {handlers: {h: {class: x}}}}
code_servers: {local_startup_timeout: 60}
secrets: {custom: {module: m, class: C, config: {anything: 1}}}
instance_class: {module: m, class: C}
defs_state_storage: {module: m, class: C, config: {x: 1}}
";
    let (c, w) = ok(text);
    assert!(c.telemetry.enabled);
    assert!(!c.nux.enabled && !c.freshness.enabled && !c.auto_materialize.enabled);
    assert_eq!(
        c.auto_materialize.run_tags.get("a").map(String::as_str),
        Some("b")
    );
    assert_eq!(
        c.concurrency.pools,
        PoolsConfig {
            default_limit: Some(1),
            granularity: PoolGranularity::Run,
            op_granularity_run_buffer: 0
        }
    );
    assert_eq!(c.code_servers.local_startup_timeout, 60);
    let expect = [
            ":1:22: warning: telemetry.enabled: telemetry is accepted but nothing is ever sent",
            "nux: `nux` is accepted but not acted on yet",
            "freshness: `freshness` is accepted but not acted on yet",
            "auto_materialize: `auto_materialize` is accepted but not acted on yet",
            "backfills: `backfills` is accepted but not acted on yet",
            "concurrency.pools: `pools` is accepted but not acted on yet: op concurrency pools are not implemented yet",
            "python_logs: `python_logs` has no effect in this implementation",
            "code_servers: `code_servers` has no effect in this implementation",
            "secrets: `secrets` has no effect in this implementation",
            "instance_class: `instance_class` has no effect in this implementation",
            "defs_state_storage: `defs_state_storage` has no effect in this implementation",
        ];
    assert_eq!(w.len(), expect.len(), "{w:#?}");
    for e in expect {
        assert!(w.iter().any(|x| x.contains(e)), "missing `{e}` in {w:#?}");
    }
    // every not-acted-on entry names a reason
    assert!(NOT_ACTED_ON_YET
        .iter()
        .all(|(k, why)| !k.is_empty() && !why.is_empty()));
}

#[test]
fn to_yaml_round_trips() {
    let h = home();
    let defaults = InstanceConfig::defaults(&h);
    let yaml = defaults.to_yaml();
    let (back, _) = ok(&yaml);
    assert_eq!(
        InstanceConfig {
            config_file: None,
            ..back
        },
        defaults,
        "{yaml}"
    );

    let (c, _) = ok(VALIDATED_EXAMPLE);
    let yaml = c.to_yaml();
    assert!(
        yaml.contains(
            "postgres_url: postgresql://dag%20ster:***@localhost:5432/dagster?sslmode=disable"
        ),
        "{yaml}"
    );
    assert!(!yaml.contains("p%40ss"), "{yaml}");
    let (back, _) = ok(&yaml);
    assert_eq!(back.run_coordinator, c.run_coordinator, "{yaml}");
    assert_eq!(back.retention, c.retention);
    assert_eq!(back.sensors, c.sensors);
    assert_eq!(back.compute_logs, c.compute_logs);

    let (c, _) = ok("run_queue: {block_op_concurrency_limited_runs: {op_concurrency_slot_buffer: 2}}\nconcurrency: {default_op_concurrency_limit: 3}\n");
    let (back, _) = ok(&c.to_yaml());
    assert_eq!(
        InstanceConfig {
            config_file: None,
            ..back
        },
        InstanceConfig {
            config_file: None,
            ..c
        }
    );
}

#[test]
fn percent_encoding_and_url_redaction() {
    assert_eq!(
        percent_encode("aZ09-._~ /?#@:%+"),
        "aZ09-._~%20%2F%3F%23%40%3A%25%2B"
    );
    assert_eq!(percent_encode("é"), "%C3%A9");
    assert_eq!(
        redact_url("postgresql://u:p@h/d", None),
        "postgresql://u@h/d"
    );
    assert_eq!(
        redact_url("postgresql://u:p:q@w@h:1/d#f", Some("***")),
        "postgresql://u:***@h:1/d#f"
    );
    assert_eq!(
        redact_url("postgresql://h/d?password=x&a=b", None),
        "postgresql://h/d?a=b"
    );
    assert_eq!(
        redact_url("postgresql://h/d?password=x", None),
        "postgresql://h/d"
    );
    assert_eq!(redact_url("not a url", None), "<url>");
}

/// Dagster's `examples/deploy_docker/dagster.yaml` loads unchanged (its Postgres settings from
/// environment variables, as in that example's compose file).
#[test]
fn dagster_docker_example_loads() {
    let text = include_str!("../../../../../scripts/containers/docker-example/dagster.yaml");
    let env = |name: &str| match name {
        "DAGSTER_POSTGRES_USER" => Some("postgres_user".to_string()),
        "DAGSTER_POSTGRES_PASSWORD" => Some("postgres_password".to_string()),
        "DAGSTER_POSTGRES_DB" => Some("postgres_db".to_string()),
        _ => None,
    };
    let (c, warnings) =
        InstanceConfig::from_text(Path::new("/home/dh/dagster.yaml"), text, &home(), &env)
            .unwrap_or_else(|e| panic!("unexpected errors:\n{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let RunLauncherConfig::Docker(d) = &c.run_launcher else {
        panic!("{:?}", c.run_launcher);
    };
    assert_eq!(d.networks, vec!["docker_example_network"]);
    assert_eq!(
        d.env_vars,
        vec![
            "DAGSTER_POSTGRES_USER",
            "DAGSTER_POSTGRES_PASSWORD",
            "DAGSTER_POSTGRES_DB"
        ]
    );
    assert_eq!(d.image, None);
    assert_eq!(c.run_launcher.worker_reuse().max_runs_per_worker, 1);
    let yaml = c.to_yaml();
    assert!(yaml.contains("class: DockerRunLauncher"), "{yaml}");
    assert!(!yaml.contains("postgres_password"), "{yaml}");
}

#[test]
fn docker_launcher_keys_and_errors() {
    let (c, w) = ok("run_launcher:
  module: dagster_docker
  class: DockerRunLauncher
  config:
    image: dagster-rs-daemon:latest
    registry: {url: r.example.com, username: u, password: s3cret}
    env_vars: [A, B=2]
    networks: [one, two]
    container_kwargs:
      volumes: [/opt/dagster/dagster_home:/opt/dagster/dagster_home]
      mem_limit: 1g
      auto_remove: true
");
    assert!(w.is_empty(), "{w:?}");
    let RunLauncherConfig::Docker(d) = &c.run_launcher else {
        panic!("{:?}", c.run_launcher);
    };
    assert_eq!(d.image.as_deref(), Some("dagster-rs-daemon:latest"));
    assert_eq!(d.networks, vec!["one", "two"]);
    assert_eq!(d.container_kwargs.mem_limit, Some(1 << 30));
    assert_eq!(d.container_kwargs.auto_remove, Some(true));
    assert!(!format!("{d:?}").contains("s3cret"));
    assert!(format!("{d:?}").contains("B=***"), "{d:?}");
    let yaml = c.to_yaml();
    assert!(!yaml.contains("s3cret"), "{yaml}");
    assert!(yaml.contains("B=***"), "{yaml}");
    assert!(yaml.contains("mem_limit: 1g"), "{yaml}");
    let round = ok(&yaml).0;
    let RunLauncherConfig::Docker(again) = &round.run_launcher else {
        panic!("{:?}", round.run_launcher);
    };
    assert_eq!(again.container_kwargs, d.container_kwargs);

    let errs = errors(
        "run_launcher:
  module: dagster_docker
  class: DockerRunLauncher
  config:
    network: a
    networks: [b]
    image: Not Valid
    container_kwargs:
      environment: {A: 1}
      volums: [/a:/a]
",
    );
    let all = errs.join("\n");
    assert!(all.contains(":6 ") || all.contains(":6:"), "{all}");
    assert!(
        all.contains("cannot set both `network` and `networks`"),
        "{all}"
    );
    assert!(
        all.contains("`Not Valid` is not correctly formatted"),
        "{all}"
    );
    assert!(
        all.contains("run_launcher.config.container_kwargs.environment"),
        "{all}"
    );
    assert!(
        all.contains("Use the 'env_vars' config key instead"),
        "{all}"
    );
    assert!(all.contains("unknown key `volums`"), "{all}");
}
