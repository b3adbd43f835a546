//! Reading `dagster.yaml`: the root mapping and the small value readers.

use super::*;

pub(super) fn warn_not_acted_on(map: &Map<'_>, key: &str, logical: &str) {
    if let Some((_, why)) = NOT_ACTED_ON_YET.iter().find(|(k, _)| *k == logical) {
        map.not_acted_on(key, why);
    }
}

pub(super) fn warn_no_effect(map: &Map<'_>, key: &str, logical: &str) {
    if let Some((_, why)) = NO_EFFECT.iter().find(|(k, _)| *k == logical) {
        if let Some(v) = map.get(key) {
            v.warn(format!(
                "`{key}` has no effect in this implementation: {why}"
            ));
        }
    }
}

pub(super) fn parse_root(root: &Map<'_>, home: &DagsterHome) -> InstanceConfig {
    let mut cfg = InstanceConfig::defaults(home);
    cfg.storage = parse_storage(root, home);

    let (concurrency, runs, pools) = parse_concurrency(root);
    cfg.concurrency = concurrency;
    cfg.run_coordinator = parse_run_coordinator(root, runs.as_ref(), pools.as_ref());

    if let Some(v) = root.get("run_launcher") {
        if let Some(l) = parse_run_launcher(&v) {
            cfg.run_launcher = l;
        }
    }
    if let Some(v) = root.get("compute_logs") {
        if let Some(c) = parse_compute_logs(&v, home) {
            cfg.compute_logs = c;
        }
    }
    if let Some(v) = root.get("local_artifact_storage") {
        if let Some(c) = parse_local_artifact_storage(&v, home) {
            cfg.local_artifact_storage = c;
        }
    }
    if let Some(m) = root.map("telemetry") {
        cfg.telemetry.enabled = m.bool("enabled").unwrap_or(false);
        if cfg.telemetry.enabled {
            if let Some(v) = m.get("enabled") {
                v.warn("telemetry is accepted but nothing is ever sent");
            }
        }
        m.finish();
    }

    if let Some(m) = root.map("run_monitoring") {
        cfg.run_monitoring = parse_run_monitoring(&m);
    }
    warn_not_acted_on(root, "run_retries", "run_retries");
    if let Some(m) = root.map("run_retries") {
        let d = RunRetriesConfig::default();
        cfg.run_retries = RunRetriesConfig {
            enabled: m.bool("enabled").unwrap_or(d.enabled),
            max_retries: uint(&m, "max_retries", d.max_retries),
            retry_on_asset_or_op_failure: m
                .bool("retry_on_asset_or_op_failure")
                .unwrap_or(d.retry_on_asset_or_op_failure),
        };
        m.finish();
    }
    if let Some(m) = root.map("retention") {
        let d = RetentionConfig::default();
        cfg.retention = RetentionConfig {
            schedule: parse_tick_retention(&m, "schedule", d.schedule),
            sensor: parse_tick_retention(&m, "sensor", d.sensor),
            auto_materialize: parse_tick_retention(&m, "auto_materialize", d.auto_materialize),
        };
        m.finish();
    }
    for (key, slot) in [
        ("schedules", &mut cfg.schedules),
        ("sensors", &mut cfg.sensors),
        ("backfills", &mut cfg.backfills),
    ] {
        warn_not_acted_on(root, key, key);
        if let Some(m) = root.map(key) {
            *slot = DaemonWorkersConfig {
                use_threads: m.bool("use_threads").unwrap_or(false),
                num_workers: opt_positive(&m, "num_workers"),
                num_submit_workers: opt_positive(&m, "num_submit_workers"),
            };
            m.finish();
        }
    }
    if let Some(v) = root.get("scheduler") {
        if let Some(s) = parse_scheduler(&v) {
            cfg.scheduler = s;
        }
    }
    warn_not_acted_on(root, "auto_materialize", "auto_materialize");
    if let Some(m) = root.map("auto_materialize") {
        cfg.auto_materialize = parse_auto_materialize(&m);
    }
    warn_not_acted_on(root, "freshness", "freshness");
    if let Some(m) = root.map("freshness") {
        cfg.freshness.enabled = m.bool("enabled").unwrap_or(true);
        m.finish();
    }
    warn_not_acted_on(root, "nux", "nux");
    if let Some(m) = root.map("nux") {
        cfg.nux.enabled = m.bool("enabled").unwrap_or(true);
        m.finish();
    }
    warn_no_effect(root, "code_servers", "code_servers");
    if let Some(m) = root.map("code_servers") {
        let d = CodeServersConfig::default();
        cfg.code_servers = CodeServersConfig {
            local_startup_timeout: uint(&m, "local_startup_timeout", d.local_startup_timeout),
            reload_timeout: uint(&m, "reload_timeout", d.reload_timeout),
            wait_for_local_processes_on_shutdown: m
                .bool("wait_for_local_processes_on_shutdown")
                .unwrap_or(d.wait_for_local_processes_on_shutdown),
        };
        m.finish();
    }
    warn_no_effect(root, "python_logs", "python_logs");
    if let Some(m) = root.map("python_logs") {
        m.str_list("managed_python_loggers");
        m.str("python_log_level");
        if let Some(h) = m.map("dagster_handler_config") {
            for key in ["handlers", "formatters", "filters"] {
                if let Some(x) = h.map(key) {
                    x.entries();
                }
            }
            h.finish();
        }
        m.finish();
    }
    warn_no_effect(root, "instance_class", "instance_class");
    if let Some(v) = root.get("instance_class") {
        read_permissive_class(&v);
    }
    warn_no_effect(root, "defs_state_storage", "defs_state_storage");
    if let Some(v) = root.get("defs_state_storage") {
        read_permissive_class(&v);
    }
    warn_no_effect(root, "secrets", "secrets");
    if let Some(m) = root.map("secrets") {
        match m.get("custom") {
            Some(v) => read_permissive_class(&v),
            None => m.error("expected `custom: {module, class, config}`"),
        }
        m.finish();
    }
    cfg
}

// ---------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------

pub(super) fn non_negative(v: &Value<'_>) -> Option<u64> {
    let i = v.as_int()?;
    match u64::try_from(i) {
        Ok(u) => Some(u),
        Err(_) => {
            v.error(format!("must not be negative, found {i}"));
            None
        }
    }
}

pub(super) fn opt_uint(m: &Map<'_>, key: &str) -> Option<u64> {
    m.get(key).and_then(|v| non_negative(&v))
}

pub(super) fn uint(m: &Map<'_>, key: &str, default: u64) -> u64 {
    opt_uint(m, key).unwrap_or(default)
}

pub(super) fn opt_positive(m: &Map<'_>, key: &str) -> Option<u64> {
    let v = m.get(key)?;
    let n = non_negative(&v)?;
    if n == 0 {
        v.error("must be at least 1");
        return None;
    }
    Some(n)
}

/// True for `{env: VAR}` (a mapping that is really a scalar source).
pub(super) fn is_env_ref(v: &Value<'_>) -> bool {
    v.is_map() && v.as_map().is_some_and(|m| m.keys() == ["env"])
}

/// A `{module, class, config}` value.
pub(super) struct ClassRef<'a> {
    pub(super) module: String,
    pub(super) class: String,
    pub(super) module_v: Value<'a>,
    pub(super) class_v: Value<'a>,
    pub(super) config: Option<Value<'a>>,
}

impl<'a> ClassRef<'a> {
    pub(super) fn config_map(&self) -> Option<Map<'a>> {
        self.config.as_ref().and_then(|v| v.as_map())
    }
    /// Errors unless the module is one of `accepted`.
    pub(super) fn check_module(&self, accepted: &[&str]) -> bool {
        if accepted.contains(&self.module.as_str()) {
            return true;
        }
        self.module_v.error(format!(
            "module `{}` does not provide `{}`; accepted modules: {}",
            self.module,
            self.class,
            accepted.join(", ")
        ));
        false
    }
    /// Errors for each config key of a class that takes no config.
    pub(super) fn no_config(&self) {
        if let Some(m) = self.config_map() {
            for (k, v) in m.entries() {
                v.error(format!(
                    "`{}` takes no config (unknown key `{k}`)",
                    self.class
                ));
            }
        }
    }
}

pub(super) fn read_class<'a>(v: &Value<'a>) -> Option<ClassRef<'a>> {
    let m = v.as_map()?;
    let module_v = m.require("module");
    let class_v = m.require("class");
    let config = m.get("config");
    m.finish();
    let (module_v, class_v) = (module_v?, class_v?);
    let module = module_v.as_str()?;
    let class = class_v.as_str()?;
    Some(ClassRef {
        module,
        class,
        module_v,
        class_v,
        config,
    })
}

/// A class whose config is free-form (Python-only keys).
pub(super) fn read_permissive_class(v: &Value<'_>) {
    if let Some(c) = read_class(v) {
        if let Some(m) = c.config_map() {
            m.entries();
        }
    }
}
