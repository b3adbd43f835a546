//! The `postgres` resource type against the real server (127.0.0.1:5432, user postgres,
//! database `test`). Each test uses its own table with a random suffix and drops it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use dagster_core::defs::{
    CancelToken, MaterializeResult, NoopLogger, Resource, ResourceDef, ResourceType, StepContext,
    StepContextParams,
};
use dagster_core::domain::{AssetKey, MetadataValue};
use dagster_pipeline::resources::{
    PostgresResource, PostgresResourceError, PostgresResourceType, PostgresSettings,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOST: &str = "127.0.0.1";
const SECRET: &str = "pw-must-not-leak-7f3a";

fn settings() -> PostgresSettings {
    let mut s = PostgresSettings::new(HOST, "postgres", "test");
    s.connect_timeout = Duration::from_secs(5);
    s
}

/// The test server, or a panic saying how to start it.
fn server() -> PostgresResource {
    let pg = PostgresResource::new("test_pg", settings());
    if let Err(e) = pg.check() {
        panic!("PostgreSQL is not reachable at {HOST}:5432 ({e}); start it (e.g. `service postgresql start`) with trust auth for user postgres and a database `test`");
    }
    pg
}

fn unique_table(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Drops the table when the test ends, even on failure.
struct DropTable<'a>(&'a PostgresResource, String);
impl Drop for DropTable<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .execute(&[format!("DROP TABLE IF EXISTS {}", self.1)]);
    }
}

#[test]
fn statements_run_in_one_transaction_and_counts_are_read() {
    let pg = server();
    let table = unique_table("dagster_pipeline_pg");
    let _guard = DropTable(&pg, table.clone());

    let rows = pg
        .execute(&[
            format!("CREATE TABLE {table} (id bigint PRIMARY KEY, amount bigint NOT NULL)"),
            format!(
                "INSERT INTO {table} VALUES (1, 10), (2, 20); INSERT INTO {table} VALUES (3, 30)"
            ),
            format!("SELECT * FROM {table}"),
            format!("UPDATE {table} SET amount = amount + 1 WHERE id = 1"),
        ])
        .unwrap();
    assert_eq!(rows, 4, "3 inserted + 1 updated; the SELECT does not count");
    assert_eq!(
        pg.query_int(&format!("SELECT count(*) FROM {table}"))
            .unwrap(),
        Some(3)
    );
    // sum(bigint) is numeric
    assert_eq!(
        pg.query_int(&format!("SELECT sum(amount) FROM {table}"))
            .unwrap(),
        Some(61)
    );
    assert_eq!(
        pg.query_int(&format!("SELECT amount FROM {table} WHERE id = 99"))
            .unwrap(),
        None
    );
    let e = pg.query_int("SELECT 'abc'").unwrap_err().to_string();
    assert!(e.contains("not an integer"), "{e}");

    // A failing statement rolls the whole list back.
    let e = pg
        .execute(&[
            format!("INSERT INTO {table} VALUES (4, 40)"),
            format!("INSERT INTO {table} VALUES (1, 0)"),
        ])
        .unwrap_err();
    assert!(
        matches!(e, PostgresResourceError::Statement { index: 2, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "postgres resource `test_pg` ({HOST}:5432): statement 2"
        )),
        "{msg}"
    );
    assert!(msg.contains("duplicate key"), "{msg}");
    assert_eq!(
        pg.query_int(&format!("SELECT count(*) FROM {table}"))
            .unwrap(),
        Some(3)
    );

    let check = pg.check().unwrap();
    assert!(
        check.starts_with(&format!("postgres {HOST}:5432 (server ")),
        "{check}"
    );
}

fn def(config: serde_json::Value) -> ResourceDef {
    ResourceDef {
        name: "reporting_pg".into(),
        type_name: "postgres".into(),
        config,
        secret_keys: vec!["password".into()],
        description: None,
        source: None,
    }
}

#[test]
fn the_sql_kind_runs_on_postgres_from_a_pipeline_config() {
    let _ = server();
    let table = unique_table("dagster_pipeline_kind");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(
        &path,
        format!(
            r#"
resources:
  pg:
    type: postgres
    config: {{host: {{env: PGHOST_FOR_TEST}}, user: postgres, password: {{env: PGPW_FOR_TEST}}, database: test, connect_timeout_seconds: 5}}
pipeline_configs:
  t:
    kind: sql
    resource: pg
    statements:
      - CREATE TABLE {table} (x int)
      - INSERT INTO {table} SELECT generate_series(1, 42)
    row_count_query: SELECT count(*) FROM {table}
"#
        ),
    )
    .unwrap();
    let env = |n: &str| match n {
        "PGHOST_FOR_TEST" => Some(HOST.to_string()),
        "PGPW_FOR_TEST" => Some(SECRET.to_string()),
        _ => None,
    };
    let (defs, _) = dagster_core::defs::load_definitions_with_env(
        &dagster_pipeline::base_registry(),
        &path,
        &env,
    )
    .unwrap();
    let rdef = &defs.resources["pg"];
    assert!(!format!("{rdef:?}").contains(SECRET));
    let pg = PostgresResourceType.build(rdef).unwrap();
    let typed = pg.as_any().downcast_ref::<PostgresResource>().unwrap();
    let _guard = DropTable(typed, table.clone());

    let mut resources: BTreeMap<String, Arc<dyn Resource>> = BTreeMap::new();
    resources.insert("pg".into(), pg.clone());
    let mut ctx = StepContext::new(StepContextParams {
        run_id: "r".into(),
        job_name: "j".into(),
        step_key: "t".into(),
        asset_key: AssetKey::from_user_string("t"),
        attempt: 1,
        config: serde_json::json!({}),
        stdout_path: dir.path().join("t.out"),
        stderr_path: dir.path().join("t.err"),
        resources,
        cancel: CancelToken::new(),
        timeout: None,
        logger: Arc::new(NoopLogger),
    })
    .unwrap();
    let r: MaterializeResult = defs.assets[&AssetKey::from_user_string("t")]
        .compute
        .compute(&mut ctx)
        .unwrap();
    let meta = |l: &str| {
        r.metadata
            .iter()
            .find(|m| m.label == l)
            .map(|m| m.value.clone())
    };
    assert_eq!(meta("rows_affected"), Some(MetadataValue::Int(42)));
    assert_eq!(meta("row_count"), Some(MetadataValue::Int(42)));
}

#[test]
fn connection_errors_name_host_and_port_but_never_the_password() {
    // Nothing listens on port 1.
    let pg = PostgresResourceType
        .build(&def(serde_json::json!({
            "host": HOST, "port": 1, "user": "postgres", "password": SECRET, "database": "test",
            "pool_size": 1, "connect_timeout_seconds": 1, "sslmode": "disable", "application_name": "t"
        })))
        .unwrap();
    let e = format!("{:#}", pg.check().unwrap_err());
    assert!(
        e.contains(&format!(
            "postgres resource `reporting_pg` ({HOST}:1): cannot connect"
        )),
        "{e}"
    );
    assert!(e.to_lowercase().contains("refused"), "{e}");
    assert!(!e.contains(SECRET), "{e}");
    let e = format!(
        "{:#}",
        pg.as_sql()
            .unwrap()
            .execute_statements(&["SELECT 1".into()])
            .unwrap_err()
    );
    assert!(
        e.contains(&format!("{HOST}:1")) && !e.contains(SECRET),
        "{e}"
    );

    // Reachable server, wrong database.
    let mut s = settings();
    s.database = "no_such_database_for_dagster_tests".into();
    s.connect_timeout = Duration::from_secs(1);
    s.password = Some(SECRET.into());
    assert!(!format!("{s:?}").contains(SECRET));
    let pg = PostgresResource::new("reporting_pg", s);
    assert!(!format!("{pg:?}").contains(SECRET));
    let e = format!("{:#}", pg.check().unwrap_err());
    assert!(e.contains(&format!("{HOST}:5432")), "{e}");
    assert!(e.contains("does not exist"), "{e}");
    assert!(!e.contains(SECRET), "{e}");
}

#[test]
fn config_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "resources:\n  a: {type: postgres, config: {host: h, user: u, database: d, sslmode: require}}\n  b: {type: postgres, config: {host: h, port: 70000, pool_size: 0, pasword: x}}\n",
    )
    .unwrap();
    let err = dagster_core::defs::load_definitions_with_env(
        &dagster_pipeline::base_registry(),
        &path,
        &|_| None,
    )
    .unwrap_err();
    let msgs: Vec<String> = err
        .errors()
        .map(|d| format!("{}: {}", d.key_path, d.message))
        .collect();
    let expect = [
        "resources.a.config.sslmode: sslmode `require` needs TLS",
        "resources.b.config: missing required key `user`",
        "resources.b.config: missing required key `database`",
        "resources.b.config.port: must be between 1 and 65535",
        "resources.b.config.pool_size: must be between 1 and 1000",
        "resources.b.config.pasword: unknown key `pasword` (did you mean `password`?)",
    ];
    for e in expect {
        assert!(
            msgs.iter().any(|m| m.starts_with(e)),
            "missing `{e}` in {msgs:#?}"
        );
    }
    assert_eq!(msgs.len(), expect.len(), "{msgs:#?}");
}
