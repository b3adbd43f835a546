//! Loading and validating pipeline config files (`dagster_core::defs::load_definitions*`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use dagster_core::config::yaml::{ConfigErrors, Diagnostic, Map};
use dagster_core::defs::{
    load_definitions_with_env, AssetDef, Backoff, CatchupPolicy, DefaultStatus, Definitions,
    MaterializeResult, Registry, Resource, ResourceDef, ResourceType, StepContext,
};
use dagster_core::domain::{AssetKey, MetadataValue};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A resource type for tests of the loader (never built).
struct FileDbType;
impl ResourceType for FileDbType {
    fn type_name(&self) -> &'static str {
        "filedb"
    }
    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value> {
        let path = config.req_str("path");
        let password = config.str("password");
        Some(serde_json::json!({"path": path?, "password": password}))
    }
    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>> {
        anyhow::bail!("filedb `{}` is for loader tests only", def.name)
    }
}

fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    r.add_resource_type(Arc::new(FileDbType));
    r
}

fn registry_with_code_asset(deps: &[&str]) -> Registry {
    let mut r = registry();
    let compute =
        |_: &mut StepContext| -> anyhow::Result<MaterializeResult> { Ok(MaterializeResult::new()) };
    r.add_asset(
        AssetDef::new(AssetKey::from_user_string("code/summary"), compute)
            .group("demo")
            .deps(deps.iter().map(|d| AssetKey::from_user_string(d)))
            .resources(&["db"]),
    );
    r
}

fn env(name: &str) -> Option<String> {
    match name {
        "DB_PASSWORD" => Some("hunter2".into()),
        "DB_PATH" => Some("/tmp/x.db".into()),
        _ => None,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write(text: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, text).unwrap();
    Fixture { _dir: dir, path }
}

fn load(
    reg: &Registry,
    text: &str,
) -> (
    Fixture,
    Result<(Definitions, Vec<Diagnostic>), ConfigErrors>,
) {
    let f = write(text);
    let r = load_definitions_with_env(reg, &f.path, &env);
    (f, r)
}

fn errors_of(r: Result<(Definitions, Vec<Diagnostic>), ConfigErrors>) -> Vec<Diagnostic> {
    match r {
        Ok((d, _)) => panic!("expected errors, loaded {d:?}"),
        Err(e) => e.errors().cloned().collect(),
    }
}

fn ok_of(
    r: Result<(Definitions, Vec<Diagnostic>), ConfigErrors>,
) -> (Definitions, Vec<Diagnostic>) {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in text"))
}

fn keys(ks: &[AssetKey]) -> Vec<String> {
    ks.iter().map(AssetKey::to_user_string).collect()
}

const THREE_MISTAKES: &str = r#"location_name: three
resources:
  db:
    type: filedb
    config: {path: x.db}
pipeline_configs:
  raw:
    kind: sql
    key: demo/raw
    group: demo
    resource: db
    statements: ["select 1"]
  totals:
    kind: sql
    key: demo/totals
    group: demo
    deps: [demo/raw]
    resource: missing_db
    statements: ["select 2"]
jobs:
  demo_job:
    selection: [demo/raw, demo/nope]
schedules:
  hourly:
    job: demo_job
    cron: "0 0 30 2 *"
"#;

#[test]
fn three_independent_mistakes_give_three_errors_at_their_lines() {
    let (f, r) = load(&registry(), THREE_MISTAKES);
    let errs = errors_of(r);
    let shown: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
    assert_eq!(errs.len(), 3, "{shown:#?}");
    let file = f.path.display().to_string();

    let missing = errs
        .iter()
        .find(|d| d.message.contains("missing_db"))
        .unwrap_or_else(|| panic!("{shown:#?}"));
    assert_eq!(
        missing.line,
        line_of(THREE_MISTAKES, "resource: missing_db")
    );
    assert_eq!(missing.key_path, "pipeline_configs.totals.resource");
    assert!(
        missing.message.contains("requires resource `missing_db`"),
        "{}",
        missing.message
    );
    assert!(missing
        .to_string()
        .starts_with(&format!("{file}:{}:", missing.line)));

    let unknown = errs
        .iter()
        .find(|d| d.message.contains("demo/nope"))
        .unwrap_or_else(|| panic!("{shown:#?}"));
    assert_eq!(unknown.line, line_of(THREE_MISTAKES, "demo/nope"));
    assert_eq!(unknown.key_path, "jobs.demo_job.selection[1]");
    assert!(
        unknown.message.starts_with("unknown asset `demo/nope`"),
        "{}",
        unknown.message
    );

    let cron = errs
        .iter()
        .find(|d| d.key_path == "schedules.hourly.cron")
        .unwrap_or_else(|| panic!("{shown:#?}"));
    assert_eq!(cron.line, line_of(THREE_MISTAKES, "cron:"));
    assert!(cron.message.contains("never fires"), "{}", cron.message);
}

#[test]
fn dependency_cycles_are_named() {
    let text = r#"
pipeline_configs:
  a: {kind: command, args: [true], deps: [b]}
  b: {kind: command, args: [true], deps: [c]}
  c: {kind: command, args: [true], deps: [a]}
  d: {kind: command, args: [true], deps: [d]}
"#;
    let (_f, r) = load(&registry(), text);
    let errs = errors_of(r);
    let msgs: Vec<&str> = errs.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(errs.len(), 2, "{msgs:#?}");
    assert_eq!(errs[0].message, "dependency cycle: a → b → c → a");
    assert_eq!(errs[0].line, line_of(text, "c: {"));
    assert_eq!(errs[0].key_path, "pipeline_configs.c.deps[0]");
    assert_eq!(errs[1].message, "dependency cycle: d → d");
}

#[test]
fn code_assets_join_through_an_asset_entry_and_their_problems_are_reported() {
    let text = r#"
resources:
  db: {type: filedb, config: {path: x.db}}
pipeline_configs:
  totals: {kind: command, key: demo/totals, group: demo, args: [true]}
  summary: {asset: code/summary, group: demo, description: configured here}
jobs:
  demo_job: {selection: ["group:demo"]}
"#;
    let (_f, r) = load(&registry_with_code_asset(&["demo/totals"]), text);
    let (defs, warnings) = ok_of(r);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        keys(&defs.jobs["demo_job"].assets),
        ["demo/totals", "code/summary"]
    );
    let summary = &defs.assets[&AssetKey::from_user_string("code/summary")];
    assert_eq!(keys(&summary.deps), ["demo/totals"]);
    assert_eq!(summary.description.as_deref(), Some("configured here"));

    // A code asset that no entry names is not part of the definitions.
    let text = "pipeline_configs:\n  t: {kind: command, key: demo/totals, args: [true]}\n";
    let (_f, r) = load(&registry_with_code_asset(&["demo/totals"]), text);
    let (defs, _) = ok_of(r);
    assert!(!defs
        .assets
        .contains_key(&AssetKey::from_user_string("code/summary")));

    // Unknown code asset; unknown dependency and missing resource of a code asset; kind + asset.
    let text = r#"
pipeline_configs:
  nope: {asset: code/nope}
  summary: {asset: code/summary}
  both: {asset: code/summary, kind: command, args: [true]}
"#;
    let (_f, r) = load(&registry_with_code_asset(&["demo/gone"]), text);
    let errs = errors_of(r);
    let msgs: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
    for want in [
        "unknown code-defined asset `code/nope`",
        "depends on unknown asset `demo/gone`",
        "either `kind:`",
        "db",
    ] {
        assert!(msgs.iter().any(|m| m.contains(want)), "{want}: {msgs:#?}");
    }
}

#[test]
fn selection_forms() {
    let text = r#"
pipeline_configs:
  a: {kind: command, args: [true], group: g}
  b: {kind: command, args: [true], group: g, deps: [a]}
  c: {kind: command, args: [true], deps: [b]}
  d: {kind: command, args: [true], group: other}
  e: {kind: command, args: [true], key: x/e, deps: [d]}
jobs:
  by_key: {selection: [c]}
  by_group: {selection: ["group:g"]}
  everything: {selection: ["*"]}
  upstream: {selection: ["+c"]}
  default_all: {}
  mixed: {selection: ["x/e", "+b", a], tags: {team: data}, max_concurrent_steps: 2}
  single: {selection: "+x/e"}
"#;
    let (_f, r) = load(&registry(), text);
    let (defs, _) = ok_of(r);
    let job = |n: &str| keys(&defs.jobs[n].assets);
    assert_eq!(job("by_key"), ["c"]);
    assert_eq!(job("by_group"), ["a", "b"]);
    assert_eq!(job("everything"), ["a", "b", "c", "d", "x/e"]);
    assert_eq!(job("upstream"), ["a", "b", "c"]);
    assert_eq!(job("default_all"), ["a", "b", "c", "d", "x/e"]);
    assert_eq!(job("mixed"), ["a", "b", "x/e"]);
    assert_eq!(job("single"), ["d", "x/e"]);
    assert_eq!(
        defs.jobs["mixed"].tags.get("team").map(String::as_str),
        Some("data")
    );
    assert_eq!(defs.jobs["mixed"].max_concurrent_steps, Some(2));
    assert_eq!(
        defs.jobs["by_key"].source.as_ref().map(|l| l.line),
        Some(line_of(text, "by_key:"))
    );
    assert_eq!(keys(&defs.job("__ASSET_JOB").unwrap().assets).len(), 5);

    let bad = r#"
pipeline_configs:
  a: {kind: command, args: [true], group: g}
jobs:
  j:
    selection: ["group:gg", "+nope", "a//b", a]
  k: {selection: []}
"#;
    let (_f, r) = load(&registry(), bad);
    let errs = errors_of(r);
    let msgs: Vec<String> = errs
        .iter()
        .map(|d| format!("{}: {}", d.key_path, d.message))
        .collect();
    assert_eq!(errs.len(), 4, "{msgs:#?}");
    assert!(
        msgs[0].starts_with("jobs.j.selection[0]: unknown group `gg` (did you mean `g`?)"),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].starts_with("jobs.j.selection[1]: unknown asset `nope`"),
        "{msgs:#?}"
    );
    assert!(
        msgs[2].starts_with("jobs.j.selection[2]: invalid asset key `a//b`"),
        "{msgs:#?}"
    );
    assert!(
        msgs[3].starts_with("jobs.k.selection: the selection is empty"),
        "{msgs:#?}"
    );
}

#[test]
fn a_full_file_is_read_into_definitions() {
    let text = r#"
location_name: full
resources:
  db:
    type: filedb
    description: The test database
    config:
      path: {env: DB_PATH}
      password: {env: DB_PASSWORD}
pipeline_configs:
  raw:
    kind: sql
    key: demo/raw
    group: demo
    description: Raw rows
    kinds: [filedb, sql]
    owners: ["team:data", "me@example.com"]
    metadata: {note: x, n: 3, ratio: 0.5, flag: true, quoted: "7", nested: {a: [1, 2]}}
    config: {limit: 10}
    retry: {max_retries: 2, delay_seconds: 1.5, backoff: exponential}
    timeout_seconds: 600
    resource: db
    statements: ["create table t(x)", "insert into t values (1)"]
    row_count_query: select count(*) from t
  report:
    kind: command
    args: [sh, -c, "echo hi"]
    deps: demo/raw
jobs:
  demo_job:
    description: The demo
    selection: ["group:demo", report]
schedules:
  demo_hourly:
    job: demo_job
    cron: "@hourly"
    execution_timezone: Europe/Berlin
    default_status: RUNNING
    catchup: {all: 10}
    tags: {kind: scheduled}
    run_config: {ops: {demo__raw: {config: {limit: 1}}}}
    description: Every hour
  nightly: {job: __ASSET_JOB, cron: "15 2 * * *", catchup: none}
sensors:
  orders_sensor:
    job: demo_job
    kind: table_rows
    minimum_interval_seconds: 60
    default_status: RUNNING
    description: New orders
    resource: db
    table: orders
  on_failure: {job: demo_job, kind: run_status}
"#;
    let (f, r) = load(&registry(), text);
    let (defs, warnings) = ok_of(r);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(defs.location_name, "full");
    assert_eq!(defs.source_file.as_deref(), Some(f.path.as_path()));

    let db = &defs.resources["db"];
    assert_eq!(db.type_name, "filedb");
    assert_eq!(db.description.as_deref(), Some("The test database"));
    assert_eq!(db.config["password"], "hunter2");
    assert_eq!(db.redacted_config()["password"], "***");
    assert!(!format!("{db:?}").contains("hunter2"));
    assert!(!format!("{defs:?}").contains("hunter2"));

    let raw = &defs.assets[&AssetKey::from_user_string("demo/raw")];
    assert_eq!(raw.group, "demo");
    assert_eq!(raw.description.as_deref(), Some("Raw rows"));
    assert_eq!(raw.kinds, ["sql", "filedb"]);
    assert_eq!(raw.owners, ["team:data", "me@example.com"]);
    assert_eq!(raw.required_resources, ["db"]);
    assert_eq!(raw.config, serde_json::json!({"limit": 10}));
    assert_eq!(raw.retry.max_retries, 2);
    assert_eq!(raw.retry.delay, Duration::from_millis(1500));
    assert_eq!(raw.retry.backoff, Backoff::Exponential);
    assert_eq!(raw.timeout, Some(Duration::from_secs(600)));
    assert_eq!(
        raw.source.as_ref().map(|l| l.line),
        Some(line_of(text, "kind: sql"))
    );
    let md: Vec<(String, MetadataValue)> = raw
        .metadata
        .iter()
        .map(|m| (m.label.clone(), m.value.clone()))
        .collect();
    assert_eq!(
        md,
        vec![
            ("note".into(), MetadataValue::Text("x".into())),
            ("n".into(), MetadataValue::Int(3)),
            ("ratio".into(), MetadataValue::Float(0.5)),
            ("flag".into(), MetadataValue::Bool(true)),
            ("quoted".into(), MetadataValue::Text("7".into())),
            (
                "nested".into(),
                MetadataValue::Json(serde_json::json!({"a": [1, 2]}))
            ),
        ]
    );
    let report = &defs.assets[&AssetKey::from_user_string("report")];
    assert_eq!(report.group, "default");
    assert_eq!(report.kinds, ["command"]);
    assert_eq!(keys(&report.deps), ["demo/raw"]);
    assert_eq!(report.retry.max_retries, 0);
    assert_eq!(
        defs.topo_order(&defs.jobs["demo_job"].assets),
        defs.jobs["demo_job"].assets
    );

    let s = &defs.schedules["demo_hourly"];
    assert_eq!(s.job, "demo_job");
    assert_eq!(s.cron, "0 * * * *");
    assert_eq!(s.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(s.default_status, DefaultStatus::Running);
    assert_eq!(s.catchup, CatchupPolicy::All(10));
    assert_eq!(s.tags.get("kind").map(String::as_str), Some("scheduled"));
    assert_eq!(
        s.run_config,
        serde_json::json!({"ops": {"demo__raw": {"config": {"limit": 1}}}})
    );
    assert_eq!(
        s.source.as_ref().map(|l| l.line),
        Some(line_of(text, "job: demo_job"))
    );
    let n = &defs.schedules["nightly"];
    assert_eq!(
        (n.timezone, n.default_status, n.catchup),
        (chrono_tz::UTC, DefaultStatus::Stopped, CatchupPolicy::None)
    );

    let sensor = &defs.sensors["orders_sensor"];
    assert_eq!(sensor.kind, "table_rows");
    assert_eq!(sensor.minimum_interval_seconds, 60);
    assert_eq!(sensor.default_status, DefaultStatus::Running);
    assert_eq!(
        sensor.config,
        serde_json::json!({"resource": "db", "table": "orders"})
    );
    assert_eq!(defs.sensors["on_failure"].minimum_interval_seconds, 30);
}

#[test]
fn every_kind_of_mistake_is_reported_with_its_position() {
    let text = r#"
location_name: many
resourcez: {}
resources:
  db: {type: postgresx, config: {host: x}}
  db2: {type: filedb, config: {path: x, port: 1}}
  db3: {type: filedb}
  bad-name: {type: filedb, config: {path: {env: NOT_SET_ANYWHERE}}}
pipeline_configs:
  a: {kind: sqll, args: [true]}
  b: {kind: command, args: [true], deps: [zz], typo_key: 1, retry: {max_retries: -1, backof: constant}}
  c: {kind: command, key: b, args: [true], timeout_seconds: 0, owners: [nobody]}
  d: {kind: command, args: "true", group: "bad group"}
  e: {kind: sql, resource: db2}
jobs:
  __ASSET_JOB: {selection: [b]}
  j: {selection: [b], max_concurrent_steps: 0, tags: {dagster/priority: high, team: x}}
schedules:
  s1: {job: nojob, cron: "61 * * * *", execution_timezone: Mars/Base}
  s2: {job: j, cron: "* * * *", default_status: PAUSED, catchup: sometimes, tags: {dagster/max_runtime: 1h}}
  j_s: {job: j, cron: "0 * * * *"}
sensors:
  j_s: {job: j, kind: table_rows, minimum_interval_second: 5}
  s4: {job: j, kind: weird}
"#;
    let (_f, r) = load(&registry(), text);
    let errs = errors_of(r);
    let got: Vec<(usize, String, String)> = errs
        .iter()
        .map(|d| (d.line, d.key_path.clone(), d.message.clone()))
        .collect();
    let expect = |needle_line: &str, path: &str, msg: &str| {
        let line = line_of(text, needle_line);
        assert!(
            got.iter()
                .any(|(l, p, m)| *l == line && p == path && m.contains(msg)),
            "missing error at line {line} `{path}`: {msg}\n{got:#?}"
        );
    };
    expect(
        "resourcez",
        "resourcez",
        "unknown key `resourcez` (did you mean `resources`?)",
    );
    expect(
        "db: {type: postgresx",
        "resources.db.type",
        "unknown resource type `postgresx` (registered: filedb)",
    );
    expect("db2:", "resources.db2.config.port", "unknown key `port`");
    expect("db3:", "resources.db3", "missing required key `config`");
    expect(
        "bad-name:",
        "resources.bad-name",
        "invalid resource name `bad-name`",
    );
    expect(
        "bad-name:",
        "resources.bad-name.config.path",
        "environment variable `NOT_SET_ANYWHERE` is not set",
    );
    expect(
        "a: {kind: sqll",
        "pipeline_configs.a.kind",
        "unknown asset kind `sqll` (did you mean `sql`?)",
    );
    expect(
        "b: {kind",
        "pipeline_configs.b.deps[0]",
        "depends on unknown asset `zz`",
    );
    expect(
        "b: {kind",
        "pipeline_configs.b.typo_key",
        "unknown key `typo_key`",
    );
    expect(
        "b: {kind",
        "pipeline_configs.b.retry.max_retries",
        "must be at least 0",
    );
    expect(
        "b: {kind",
        "pipeline_configs.b.retry.backof",
        "did you mean `backoff`",
    );
    expect(
        "c: {kind",
        "pipeline_configs.c.key",
        "asset key `b` is already defined by `pipeline_configs.b`",
    );
    expect(
        "c: {kind",
        "pipeline_configs.c.timeout_seconds",
        "more than zero",
    );
    expect(
        "c: {kind",
        "pipeline_configs.c.owners[0]",
        "invalid owner `nobody`",
    );
    expect("d: {kind", "pipeline_configs.d.args", "expected a list");
    expect(
        "d: {kind",
        "pipeline_configs.d.group",
        "invalid group name `bad group`",
    );
    expect(
        "e: {kind",
        "pipeline_configs.e",
        "missing required key `statements` (or `file`)",
    );
    expect("__ASSET_JOB:", "jobs.__ASSET_JOB", "reserved");
    expect(
        "j: {selection",
        "jobs.j.max_concurrent_steps",
        "must be at least 1",
    );
    expect(
        "j: {selection",
        "jobs.j.tags.dagster/priority",
        "tag `dagster/priority`: expected an integer, e.g. \"10\" or \"-1\", found `high`",
    );
    expect(
        "s2:",
        "schedules.s2.tags.dagster/max_runtime",
        "tag `dagster/max_runtime`: expected a positive number of seconds",
    );
    expect("s1:", "schedules.s1.job", "unknown job `nojob`");
    expect(
        "s1:",
        "schedules.s1.cron",
        "invalid cron `61 * * * *`: minute 61 is out of range 0-59",
    );
    expect(
        "s1:",
        "schedules.s1.execution_timezone",
        "unknown time zone `Mars/Base`",
    );
    expect("s2:", "schedules.s2.cron", "has 4 fields");
    expect(
        "s2:",
        "schedules.s2.default_status",
        "expected RUNNING or STOPPED",
    );
    expect(
        "s2:",
        "schedules.s2.catchup",
        "expected latest, none or {all: N}",
    );
    expect(
        "j_s: {job: j, kind",
        "sensors.j_s",
        "a schedule is also named `j_s`",
    );
    expect(
        "j_s: {job: j, kind",
        "sensors.j_s.minimum_interval_second",
        "did you mean `minimum_interval_seconds`",
    );
    expect("s4:", "sensors.s4.kind", "unknown sensor kind `weird`");
    assert_eq!(errs.len(), 30, "{got:#?}");
}

#[test]
fn duplicate_yaml_keys_and_unreadable_files() {
    let text = "pipeline_configs:\n  a: {kind: command, args: [true]}\n  a: {kind: command, args: [false]}\n";
    let (_f, r) = load(&registry(), text);
    let errs = errors_of(r);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 3);
    assert!(
        errs[0]
            .message
            .contains("duplicate key `a` (first defined at line 2)"),
        "{}",
        errs[0].message
    );

    let r = load_definitions_with_env(&registry(), Path::new("/nonexistent/pipeline.yaml"), &env);
    let errs = errors_of(r);
    assert!(
        errs[0].message.starts_with("cannot read file"),
        "{}",
        errs[0].message
    );
}

#[test]
fn location_name_defaults_to_the_file_name_and_empty_files_load() {
    let (_f, r) = load(&registry(), "# nothing yet\n");
    let (defs, _) = ok_of(r);
    assert_eq!(defs.location_name, "pipeline.yaml");
    assert!(defs.assets.is_empty() && defs.jobs.is_empty());
}

#[test]
fn sql_kind_reads_statements_from_a_file_next_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sql")).unwrap();
    std::fs::write(
        dir.path().join("sql/build.sql"),
        "create table t(x);\ninsert into t values (1);\n",
    )
    .unwrap();
    let path = dir.path().join("p.yaml");
    let text = r#"
resources: {db: {type: filedb, config: {path: x}}}
pipeline_configs:
  t: {kind: sql, resource: db, file: sql/build.sql}
  u: {kind: sql, resource: db, file: sql/missing.sql}
  v: {kind: sql, resource: db, file: sql/build.sql, statements: [x]}
"#;
    std::fs::write(&path, text).unwrap();
    let errs = errors_of(load_definitions_with_env(&registry(), &path, &env));
    let msgs: Vec<String> = errs
        .iter()
        .map(|d| format!("{}: {}", d.key_path, d.message))
        .collect();
    assert_eq!(errs.len(), 2, "{msgs:#?}");
    assert!(
        msgs[0].starts_with("pipeline_configs.u.file: cannot read SQL file"),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].starts_with("pipeline_configs.v.file: give either `statements` or `file`"),
        "{msgs:#?}"
    );

    std::fs::write(&path, text.lines().take(4).collect::<Vec<_>>().join("\n")).unwrap();
    let (defs, _) = ok_of(load_definitions_with_env(&registry(), &path, &env));
    assert!(defs.assets.contains_key(&AssetKey::from_user_string("t")));
}
