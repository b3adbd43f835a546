//! `pipeline-config/local.yaml` and `prod.yaml` load clean, and the demo job runs end to end
//! on a temporary SQLite database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use dagster_core::defs::{
    CancelToken, Definitions, MaterializeResult, NoopLogger, Resource, StepContext,
    StepContextParams,
};
use dagster_core::domain::{AssetKey, MetadataValue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn config_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pipeline-config")
        .join(name)
}

fn keys(ks: &[AssetKey]) -> Vec<String> {
    ks.iter().map(AssetKey::to_user_string).collect()
}

fn load(name: &str, env: &dagster_core::config::yaml::EnvLookup) -> Definitions {
    match dagster_pipeline::load_with_env(&config_file(name), env) {
        Ok((defs, warnings)) => {
            assert!(warnings.is_empty(), "{name}: {warnings:#?}");
            defs
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

fn check_demo(defs: &Definitions) {
    assert_eq!(defs.location_name, "dagster-pipeline");
    let demo = &defs.jobs["demo_job"];
    assert_eq!(
        keys(&demo.assets),
        [
            "demo/raw_orders",
            "demo/daily_totals",
            "demo/report",
            "demo/summary"
        ]
        .map(String::from)
    );
    assert_eq!(
        keys(&defs.topo_order(&demo.assets)),
        [
            "demo/raw_orders",
            "demo/daily_totals",
            "demo/report",
            "demo/summary"
        ]
        .map(String::from)
    );
    let s = &defs.schedules["demo_hourly"];
    assert_eq!(
        (s.job.as_str(), s.cron.as_str(), s.timezone),
        ("demo_job", "0 * * * *", chrono_tz::UTC)
    );
    assert_eq!(s.default_status, dagster_core::defs::DefaultStatus::Stopped);
    let raw = &defs.assets[&AssetKey::from_user_string("demo/raw_orders")];
    assert_eq!(raw.kinds, ["sql", "sqlite"]);
    assert_eq!(raw.required_resources, ["demo_db"]);
    let summary = &defs.assets[&AssetKey::from_user_string("demo/summary")];
    assert_eq!(keys(&summary.deps), ["demo/daily_totals"]);
    assert_eq!(summary.group, "demo");
}

fn check_replica_sync(defs: &Definitions) {
    let job = &defs.jobs["sc_amt_replica_to_reporting_service"];
    assert_eq!(keys(&job.assets), ["reporting/customers".to_string()]);
    let a = &defs.assets[&AssetKey::from_user_string("reporting/customers")];
    assert_eq!(a.group, "replica_sync");
    assert_eq!(a.kinds, ["mysql", "clickhouse"]);
    assert_eq!(a.required_resources, ["mysql_replica", "reporting"]);
    assert_eq!(defs.resources["mysql_replica"].type_name, "mysql");
    assert_eq!(defs.resources["reporting"].type_name, "clickhouse");
}

#[test]
fn local_yaml_loads_clean() {
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_string_lossy().into_owned();
    let defs = load("local.yaml", &move |n| {
        (n == "DAGSTER_HOME").then(|| home_str.clone())
    });
    check_demo(&defs);
    check_replica_sync(&defs);
    assert_eq!(defs.resources.len(), 3);
    assert_eq!(defs.resources["mysql_replica"].config["host"], "127.0.0.1");
    assert_eq!(defs.resources["reporting"].config["validation"], false);
    let db = &defs.resources["demo_db"];
    assert_eq!(
        db.config["path"],
        serde_json::json!(home.path().join("demo/demo.db").to_string_lossy())
    );
}

#[test]
fn prod_yaml_loads_clean_with_its_environment() {
    let env = |n: &str| -> Option<String> {
        match n {
            "REPORTING_PG_HOST" => Some("pg.internal".into()),
            "REPORTING_PG_USER" => Some("reporter".into()),
            "REPORTING_PG_PASSWORD" => Some("s3cret-prod-pw".into()),
            "REPORTING_PG_DATABASE" => Some("reporting".into()),
            "DAGSTER_HOME" => Some("/var/lib/dagster".into()),
            "MYSQL_REPLICA_HOST" => Some("mysql.internal".into()),
            "MYSQL_REPLICA_USER" => Some("replica".into()),
            "MYSQL_REPLICA_PASSWORD" => Some("s3cret-mysql-pw".into()),
            "MYSQL_REPLICA_DATABASE" => Some("service".into()),
            "CLICKHOUSE_URL" => Some("http://ch.internal:8123".into()),
            "CLICKHOUSE_USER" => Some("sync".into()),
            "CLICKHOUSE_PASSWORD" => Some("s3cret-ch-pw".into()),
            _ => None,
        }
    };
    let defs = load("prod.yaml", &env);
    check_demo(&defs);
    let pg = &defs.resources["reporting_pg"];
    assert_eq!(pg.type_name, "postgres");
    assert_eq!(pg.config["host"], "pg.internal");
    assert_eq!(pg.config["port"], 5432);
    assert_eq!(pg.config["password"], "s3cret-prod-pw");
    assert_eq!(pg.redacted_config()["password"], "***");
    assert!(!format!("{defs:?}").contains("s3cret-prod-pw"));
    check_replica_sync(&defs);
    assert_eq!(
        defs.resources["mysql_replica"].config["host"],
        "mysql.internal"
    );
    assert_eq!(
        defs.resources["reporting"].config["url"],
        "http://ch.internal:8123"
    );
    for secret in ["s3cret-mysql-pw", "s3cret-ch-pw"] {
        assert!(!format!("{defs:?}").contains(secret));
    }
    // Building the resources does not connect (the hosts do not exist).
    let started = std::time::Instant::now();
    let built = build_resources(&defs, &["mysql_replica".into(), "reporting".into()]);
    assert_eq!(built.len(), 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        defs.resources["demo_db"].config["path"],
        "/var/lib/dagster/demo/demo.db"
    );

    // Without the environment every variable is named.
    let err = dagster_pipeline::load_with_env(&config_file("prod.yaml"), &|_| None).unwrap_err();
    let msgs: Vec<String> = err.errors().map(|d| d.message.clone()).collect();
    for var in [
        "REPORTING_PG_HOST",
        "REPORTING_PG_USER",
        "REPORTING_PG_PASSWORD",
        "REPORTING_PG_DATABASE",
        "MYSQL_REPLICA_HOST",
        "MYSQL_REPLICA_USER",
        "MYSQL_REPLICA_PASSWORD",
        "MYSQL_REPLICA_DATABASE",
        "CLICKHOUSE_URL",
        "CLICKHOUSE_USER",
        "CLICKHOUSE_PASSWORD",
    ] {
        assert!(
            msgs.iter()
                .any(|m| m == &format!("environment variable `{var}` is not set")),
            "{msgs:#?}"
        );
    }
    assert_eq!(msgs.len(), 11, "{msgs:#?}");
}

fn build_resources(defs: &Definitions, names: &[String]) -> BTreeMap<String, Arc<dyn Resource>> {
    names
        .iter()
        .map(|n| {
            let def = &defs.resources[n];
            let rt = &defs.registry.resource_types[&def.type_name];
            (n.clone(), rt.build(def).unwrap())
        })
        .collect()
}

fn run_asset(defs: &Definitions, dir: &Path, key: &AssetKey) -> (MaterializeResult, PathBuf) {
    let asset = &defs.assets[key];
    let out = dir.join(format!("logs/{}.out", asset.step_key()));
    let mut ctx = StepContext::new(StepContextParams {
        run_id: "demo-run".into(),
        job_name: "demo_job".into(),
        step_key: asset.step_key(),
        asset_key: key.clone(),
        attempt: 1,
        config: asset.config.clone(),
        stdout_path: out.clone(),
        stderr_path: dir.join(format!("logs/{}.err", asset.step_key())),
        resources: build_resources(defs, &asset.required_resources),
        cancel: CancelToken::new(),
        timeout: asset.timeout,
        logger: Arc::new(NoopLogger),
    })
    .unwrap();
    let r = asset
        .compute
        .compute(&mut ctx)
        .unwrap_or_else(|e| panic!("{key}: {e:#}"));
    (r, out)
}

fn meta(r: &MaterializeResult, label: &str) -> Option<MetadataValue> {
    r.metadata
        .iter()
        .find(|m| m.label == label)
        .map(|m| m.value.clone())
}

#[test]
fn the_demo_job_runs_end_to_end_and_is_idempotent() {
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_string_lossy().into_owned();
    let defs = load("local.yaml", &move |n| {
        (n == "DAGSTER_HOME").then(|| home_str.clone())
    });
    let order = defs.topo_order(&defs.jobs["demo_job"].assets);
    for round in 0..2 {
        let mut results = BTreeMap::new();
        for key in &order {
            let (r, out) = run_asset(&defs, home.path(), key);
            results.insert(key.to_user_string(), (r, out));
        }
        let (raw, _) = &results["demo/raw_orders"];
        assert_eq!(
            meta(raw, "row_count"),
            Some(MetadataValue::Int(500)),
            "round {round}"
        );
        assert_eq!(
            meta(raw, "rows_affected"),
            Some(MetadataValue::Int(500)),
            "round {round}"
        );
        let (totals, _) = &results["demo/daily_totals"];
        assert_eq!(
            meta(totals, "row_count"),
            Some(MetadataValue::Int(30)),
            "round {round}"
        );
        let (summary, _) = &results["demo/summary"];
        assert_eq!(
            meta(summary, "raw_orders_rows"),
            Some(MetadataValue::Int(500))
        );
        assert_eq!(
            meta(summary, "daily_totals_rows"),
            Some(MetadataValue::Int(30))
        );
        let (report, out) = &results["demo/report"];
        assert_eq!(meta(report, "exit_code"), Some(MetadataValue::Int(0)));
        let printed = std::fs::read_to_string(out).unwrap();
        assert!(
            printed.starts_with("demo report (run demo-run): daily totals rebuilt at "),
            "{printed}"
        );
    }
    assert!(home.path().join("demo/demo.db").is_file());
}
