//! `kind: table_sync` and the `mysql` / `clickhouse` resource types from a pipeline config:
//! config errors with positions, resource checks, and a sync run as a step (StepContext with
//! the instance key-value store) reporting its metadata.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

use dagster_core::defs::{
    CancelToken, Definitions, NoopLogger, Resource, StepContext, StepContextParams,
};
use dagster_core::domain::{AssetKey, MetadataValue};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use sync_support::Env;

fn load(dir: &Path, text: &str) -> Result<Definitions, String> {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    dagster_core::defs::load_definitions_with_env(&dagster_pipeline::registry(), &path, &|_| None)
        .map(|(d, _)| d)
        .map_err(|e| e.to_string())
}

/// The two resources; `ch` is the ClickHouse `config:` (a placeholder server for configs that are
/// only loaded).
fn resources_yaml_with(db: &str, ch: &str) -> String {
    format!(
        "resources:
  src:
    type: mysql
    config: {{host: 127.0.0.1, user: root, database: {db}, connect_timeout_seconds: 5}}
  dst:
    type: clickhouse
    config: {ch}
"
    )
}

fn resources_yaml(db: &str) -> String {
    resources_yaml_with(
        db,
        &format!("{{url: 'http://127.0.0.1:8123', database: {db}, validation: false}}"),
    )
}

#[test]
fn config_problems_are_reported_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(
        dir.path(),
        &format!(
            "{}pipeline_configs:
  s:
    kind: table_sync
    key: a/b
    source: src
    source_table: t
    destination: dst
    destination_table: t
    mode: sometimes
    primary_key: []
    batch_size: 0
    colums: [a]
    invalid_dates: sometimes
  s2:
    kind: table_sync
    key: a/c
    source: src
    source_table: t
    destination: dst
    destination_table: t
    primary_key: id
",
            resources_yaml("x")
        ),
    )
    .unwrap_err();
    for needle in [
        "pipeline.yaml:16:11: error: pipeline_configs.s.mode",
        "unknown mode `sometimes`",
        "`primary_key` is empty",
        "must be between 1 and 10000000, found 0",
        "unknown key `colums` (did you mean `columns`?)",
        "pipeline.yaml:20:20: error: pipeline_configs.s.invalid_dates: unknown invalid_dates `sometimes` (expected null, clamp or fail)",
        "`mode: incremental` needs `cursor_column`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }

    let err = load(
        dir.path(),
        "resources:
  src:
    type: mysql
    config: {host: h, user: u, database: d, tls: maybe, port: 70000}
  dst:
    type: clickhouse
    config: {url: 'https://ch:8443', database: r, compression: zstd}
",
    )
    .unwrap_err();
    for needle in [
        "expected true or false, found `maybe`",
        "must be between 1 and 65535, found 70000",
        "https is not supported",
        "unknown compression `zstd`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
}

#[test]
fn source_query_and_reconciliation_keys_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(
        dir.path(),
        &format!(
            "{}pipeline_configs:
  both:
    kind: table_sync
    key: a/b
    source: src
    source_table: t
    source_query: SELECT * FROM t
    destination: dst
    destination_table: t
    cursor_column: u
    primary_key: id
  neither:
    kind: table_sync
    key: a/c
    source: src
    destination: dst
    destination_table: t
    cursor_column: u
    primary_key: id
    reconcile_every_runs: 0
    reconcile_deletes: maybe
",
            resources_yaml("x")
        ),
    )
    .unwrap_err();
    for needle in [
        "pipeline.yaml:10:9: error: pipeline_configs.both: give either `source_table` or `source_query`, not both",
        "pipeline_configs.neither: missing required key `source_table` (or `source_query`)",
        "pipeline_configs.neither.reconcile_every_runs: must be 1 or more, found 0",
        "pipeline_configs.neither.reconcile_deletes: expected true or false, found `maybe`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    let defs = load(
        dir.path(),
        &format!(
            "{}pipeline_configs:
  q:
    kind: table_sync
    key: a/q
    source: src
    source_query: SELECT id, u FROM t WHERE id > 0
    destination: dst
    destination_table: t
    cursor_column: u
    primary_key: id
    reconcile_deletes: true
",
            resources_yaml("x")
        ),
    );
    assert!(defs.is_ok(), "{:?}", defs.err());
}

#[test]
fn resource_checks_report_what_they_reached() {
    let env = Env::new();
    let m = env.src.check().unwrap();
    assert!(m.contains("127.0.0.1:3306") && m.contains("+00:00"), "{m}");
    let c = env.dst.check().unwrap();
    assert!(
        c.contains(&sync_support::ch_addr()) && c.contains(&sync_support::ch_version()),
        "{c}"
    );
}

#[test]
fn a_sync_step_reports_its_metadata_and_keeps_its_cursor_in_instance_state() {
    let env = Env::new();
    env.mysql(&[
        "CREATE TABLE orders (id INT UNSIGNED NOT NULL PRIMARY KEY, amount DECIMAL(10,2) NULL, modified DATETIME NOT NULL)",
        "INSERT INTO orders SELECT seq, seq / 4, TIMESTAMP('2024-01-01') + INTERVAL (seq DIV 10) MINUTE FROM seq_1_to_250",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let defs = load(
        dir.path(),
        &format!(
            "{}pipeline_configs:
  orders_sync:
    kind: table_sync
    key: reporting/orders
    group: replica_sync
    source: src
    source_table: orders
    destination: dst
    destination_table: orders
    mode: incremental
    cursor_column: modified
    primary_key: [id]
    batch_size: 100
jobs:
  sync_job:
    selection: [\"group:replica_sync\"]
",
            resources_yaml_with(&env.name, &sync_support::ch_yaml_config(&env.name))
        ),
    )
    .unwrap();
    let key = AssetKey::from_user_string("reporting/orders");
    let asset = &defs.assets[&key];
    let resources = step_resources(&defs, &key);
    let run = |resources: BTreeMap<String, Arc<dyn Resource>>| {
        let mut ctx = StepContext::new(StepContextParams {
            run_id: "r".into(),
            job_name: "sync_job".into(),
            step_key: key.to_step_key(),
            asset_key: key.clone(),
            attempt: 1,
            config: serde_json::json!({}),
            stdout_path: dir.path().join("logs/o.out"),
            stderr_path: dir.path().join("logs/o.err"),
            resources,
            cancel: CancelToken::new(),
            timeout: None,
            logger: Arc::new(NoopLogger),
        })
        .unwrap()
        .with_kv(env.kv.clone());
        asset.compute.compute(&mut ctx)
    };
    let r = run(resources.clone()).unwrap();
    let meta = |r: &dagster_core::defs::MaterializeResult, l: &str| {
        r.metadata
            .iter()
            .find(|m| m.label == l)
            .map(|m| m.value.clone())
            .unwrap_or_else(|| panic!("no metadata `{l}`"))
    };
    assert_eq!(meta(&r, "rows_read"), MetadataValue::Int(250));
    assert_eq!(meta(&r, "rows_written"), MetadataValue::Int(250));
    assert_eq!(meta(&r, "batches"), MetadataValue::Int(3));
    assert_eq!(meta(&r, "destination_row_count"), MetadataValue::Int(250));
    assert_eq!(
        meta(&r, "cursor_after"),
        MetadataValue::Text("(2024-01-01 00:25:00, 250)".into())
    );
    assert!(matches!(meta(&r, "bytes"), MetadataValue::Int(n) if n > 0));
    assert!(matches!(meta(&r, "duration_ms"), MetadataValue::Int(_)));
    assert!(matches!(
        meta(&r, "rows_per_second"),
        MetadataValue::Float(_)
    ));
    let log = std::fs::read_to_string(dir.path().join("logs/o.err")).unwrap();
    assert!(log.contains("batch 3: 50 rows (250 in total)"), "{log}");
    // The cursor lives in the instance state under the asset key.
    assert!(env
        .kv
        .kv_get("table_sync/reporting/orders")
        .unwrap()
        .unwrap()
        .contains("2024-01-01 00:25:00"));
    let r = run(resources).unwrap();
    assert_eq!(meta(&r, "rows_read"), MetadataValue::Int(0));
    assert_eq!(
        meta(&r, "cursor_before"),
        MetadataValue::Text("(2024-01-01 00:25:00, 250)".into())
    );
}

/// `invalid_dates:` reaches the sync: `clamp` writes a zero date as the type's minimum and
/// warns, `fail` fails the step naming the column, the key and the value.
#[test]
fn invalid_dates_from_the_pipeline_config() {
    let env = Env::new();
    env.mysql(&["CREATE TABLE ev (id INT NOT NULL PRIMARY KEY, day DATE NOT NULL, modified DATETIME NOT NULL)"]);
    {
        use mysql::prelude::Queryable;
        let mut conn = env.src.connection().unwrap();
        conn.query_drop("SET SESSION sql_mode = ''").unwrap();
        conn.query_drop("INSERT INTO ev VALUES (1, '0000-00-00', '2024-01-01'), (2, '2024-03-01', '2024-01-01')")
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let yaml = |policy: &str| {
        format!(
            "{}pipeline_configs:
  ev_clamp:
    kind: table_sync
    key: reporting/ev_clamp
    source: src
    source_table: ev
    destination: dst
    destination_table: ev_clamp
    cursor_column: modified
    primary_key: id
    invalid_dates: {policy}
",
            resources_yaml_with(&env.name, &sync_support::ch_yaml_config(&env.name))
        )
    };
    let run = |policy: &str| {
        let defs = load(dir.path(), &yaml(policy)).unwrap();
        let key = AssetKey::from_user_string("reporting/ev_clamp");
        let asset = &defs.assets[&key];
        let resources = step_resources(&defs, &key);
        let mut ctx = StepContext::new(StepContextParams {
            run_id: "r".into(),
            job_name: "j".into(),
            step_key: key.to_step_key(),
            asset_key: key.clone(),
            attempt: 1,
            config: serde_json::json!({}),
            stdout_path: dir.path().join(format!("logs/{policy}.out")),
            stderr_path: dir.path().join(format!("logs/{policy}.err")),
            resources,
            cancel: CancelToken::new(),
            timeout: None,
            logger: Arc::new(NoopLogger),
        })
        .unwrap()
        .with_kv(env.kv.clone());
        let r = asset.compute.compute(&mut ctx);
        let log = std::fs::read_to_string(dir.path().join(format!("logs/{policy}.err")))
            .unwrap_or_default();
        (r, log)
    };
    let (r, log) = run("fail");
    let e = format!("{:#}", r.unwrap_err());
    assert!(
        e.contains("column `day`")
            && e.contains("`0000-00-00` is a zero date")
            && e.contains("invalid_dates: fail"),
        "{e}"
    );
    assert!(!log.contains("rows in"), "{log}");
    let (r, log) = run("clamp");
    let r = r.unwrap();
    let invalid = r
        .metadata
        .iter()
        .find(|m| m.label == "invalid_dates")
        .map(|m| m.value.clone());
    assert_eq!(invalid, Some(MetadataValue::Int(1)));
    assert!(
        log.contains("1 zero/invalid or out-of-range dates were clamped"),
        "{log}"
    );
    let days = env.ch_rows(&format!(
        "SELECT toInt32(day) FROM `{}`.ev_clamp_dedup ORDER BY id",
        env.name
    ));
    assert_eq!(
        days[0][0],
        Some(sync_support::ch_date_min_days().to_string())
    );
}

/// The resources an asset's step needs, built from the loaded definitions.
fn step_resources(defs: &Definitions, key: &AssetKey) -> BTreeMap<String, Arc<dyn Resource>> {
    defs.assets[key]
        .required_resources
        .iter()
        .map(|n| {
            let def = &defs.resources[n];
            (
                n.clone(),
                defs.registry.resource_types[&def.type_name]
                    .build(def)
                    .unwrap(),
            )
        })
        .collect()
}
