//! The `sqlite` resource type and the `sql` asset kind on a temporary SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use dagster_core::defs::{
    CancelToken, Definitions, MaterializeResult, NoopLogger, Resource, StepContext,
    StepContextParams,
};
use dagster_core::domain::{AssetKey, MetadataValue};
use dagster_pipeline::resources::{SqliteResource, SqliteResourceError};
use diesel::RunQueryDsl;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(dir: &Path, text: &str) -> Definitions {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    match dagster_core::defs::load_definitions_with_env(
        &dagster_pipeline::base_registry(),
        &path,
        &no_env,
    ) {
        Ok((d, _)) => d,
        Err(e) => panic!("{e}"),
    }
}

fn resources(defs: &Definitions) -> BTreeMap<String, Arc<dyn Resource>> {
    defs.resources
        .values()
        .map(|def| {
            (
                def.name.clone(),
                defs.registry.resource_types[&def.type_name]
                    .build(def)
                    .unwrap(),
            )
        })
        .collect()
}

fn context(dir: &Path, key: &str, resources: BTreeMap<String, Arc<dyn Resource>>) -> StepContext {
    let asset_key = AssetKey::from_user_string(key);
    StepContext::new(StepContextParams {
        run_id: "r".into(),
        job_name: "j".into(),
        step_key: asset_key.to_step_key(),
        asset_key,
        attempt: 1,
        config: serde_json::json!({}),
        stdout_path: dir.join(format!("logs/{key}.out")),
        stderr_path: dir.join(format!("logs/{key}.err")),
        resources,
        cancel: CancelToken::new(),
        timeout: None,
        logger: Arc::new(NoopLogger),
    })
    .unwrap()
}

fn run(defs: &Definitions, dir: &Path, key: &str) -> anyhow::Result<MaterializeResult> {
    let mut ctx = context(dir, key, resources(defs));
    defs.assets[&AssetKey::from_user_string(key)]
        .compute
        .compute(&mut ctx)
}

fn meta(r: &MaterializeResult, label: &str) -> Option<MetadataValue> {
    r.metadata
        .iter()
        .find(|m| m.label == label)
        .map(|m| m.value.clone())
}

fn pipeline(db: &Path) -> String {
    format!(
        r#"
resources:
  db: {{type: sqlite, config: {{path: "{}"}}}}
pipeline_configs:
  items:
    kind: sql
    resource: db
    statements:
      - CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)
      - "INSERT OR REPLACE INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'); UPDATE items SET name = upper(name) WHERE id < 3"
      - SELECT * FROM items
    row_count_query: "SELECT count(*) FROM items;"
  broken:
    kind: sql
    resource: db
    statements:
      - CREATE TABLE created_then_rolled_back (x INTEGER)
      - INSERT INTO no_such_table VALUES (1)
  from_file: {{kind: sql, resource: db, file: build.sql}}
"#,
        db.display()
    )
}

#[test]
fn sql_kind_runs_statements_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("build.sql"), "CREATE TABLE IF NOT EXISTS f (x INTEGER);\nDELETE FROM f;\nINSERT INTO f VALUES (1), (2);\n")
        .unwrap();
    let db = dir.path().join("data/test.db");
    let defs = load(dir.path(), &pipeline(&db));

    let r = run(&defs, dir.path(), "items").unwrap();
    // 3 inserted + 2 updated; the SELECT changes nothing.
    assert_eq!(meta(&r, "rows_affected"), Some(MetadataValue::Int(5)));
    assert_eq!(meta(&r, "statements"), Some(MetadataValue::Int(3)));
    assert_eq!(meta(&r, "row_count"), Some(MetadataValue::Int(3)));
    assert!(matches!(meta(&r, "duration_ms"), Some(MetadataValue::Int(ms)) if ms >= 0));

    let e = run(&defs, dir.path(), "broken").unwrap_err().to_string();
    assert!(e.starts_with("sqlite resource `db` ("), "{e}");
    assert!(
        e.contains("statement 2 (`INSERT INTO no_such_table VALUES (1)`) failed"),
        "{e}"
    );
    assert!(e.contains("no such table"), "{e}");

    let r = run(&defs, dir.path(), "from_file").unwrap();
    assert_eq!(meta(&r, "statements"), Some(MetadataValue::Int(1)));

    // The failed transaction left nothing behind; the file statements all ran.
    let res = resources(&defs);
    let sql = res["db"].as_sql().unwrap();
    assert_eq!(
        sql.query_i64("SELECT count(*) FROM sqlite_master WHERE name = 'created_then_rolled_back'")
            .unwrap(),
        Some(0)
    );
    assert_eq!(sql.query_i64("SELECT sum(x) FROM f").unwrap(), Some(3));
    assert_eq!(
        sql.query_i64("SELECT x FROM f WHERE x > 100").unwrap(),
        None
    );
    let check = res["db"].check().unwrap();
    assert!(
        check.starts_with(&format!("sqlite {} (SQLite 3.", db.display())),
        "{check}"
    );
}

#[test]
fn typed_access_and_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteResource::open(
        "typed",
        dir.path().join("nested/dir/t.db"),
        Duration::from_secs(10),
    )
    .unwrap();
    db.execute(&["CREATE TABLE t (worker INTEGER, n INTEGER)".into()])
        .unwrap();
    let db = Arc::new(db);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for n in 0..25 {
                    db.execute(&[format!("INSERT INTO t VALUES ({w}, {n})")])
                        .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(db.query_int("SELECT count(*) FROM t").unwrap(), Some(100));

    // A code asset reaches the typed resource through the step context.
    let mut res: BTreeMap<String, Arc<dyn Resource>> = BTreeMap::new();
    res.insert("typed".into(), db.clone());
    let ctx = context(dir.path(), "x", res);
    let typed = ctx.typed_resource::<SqliteResource>("typed").unwrap();
    let n = typed
        .with_connection(|c| diesel::sql_query("DELETE FROM t WHERE worker = 0").execute(c))
        .unwrap();
    assert_eq!(n, 25);
    assert!(ctx.typed_resource::<String>("typed").is_err());

    let e = db.execute(&["SELEC 1".into()]).unwrap_err();
    assert!(
        matches!(e, SqliteResourceError::Statement { index: 1, .. }),
        "{e}"
    );
}

#[test]
fn config_paths_resolve_against_dagster_home_and_bad_configs_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "resources:\n  a: {type: sqlite, config: {path: x/a.db}}\n  b: {type: sqlite, config: {path: ':memory:'}}\n  c: {type: sqlite, config: {path: c.db, busy_timeout_ms: -1, journal: wal}}\n  d: {type: sqlite, config: {}}\n",
    )
    .unwrap();
    let env = |n: &str| (n == "DAGSTER_HOME").then(|| "/srv/dagster-home".to_string());
    let err = dagster_core::defs::load_definitions_with_env(
        &dagster_pipeline::base_registry(),
        &path,
        &env,
    )
    .unwrap_err();
    let msgs: Vec<String> = err
        .errors()
        .map(|d| format!("{}:{}: {}", d.line, d.key_path, d.message))
        .collect();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert!(
        msgs[0].starts_with("3:resources.b.config.path: give a file path"),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].starts_with("4:resources.c.config.busy_timeout_ms: must be zero or more"),
        "{msgs:#?}"
    );
    assert!(
        msgs[2].starts_with("4:resources.c.config.journal: unknown key `journal`"),
        "{msgs:#?}"
    );
    assert!(
        msgs[3].starts_with("5:resources.d.config: missing required key `path`"),
        "{msgs:#?}"
    );

    std::fs::write(
        &path,
        "resources:\n  a: {type: sqlite, config: {path: x/a.db}}\n",
    )
    .unwrap();
    let (defs, _) = dagster_core::defs::load_definitions_with_env(
        &dagster_pipeline::base_registry(),
        &path,
        &env,
    )
    .unwrap();
    assert_eq!(
        defs.resources["a"].config,
        serde_json::json!({"path": "/srv/dagster-home/x/a.db", "busy_timeout_ms": 5000})
    );
}
