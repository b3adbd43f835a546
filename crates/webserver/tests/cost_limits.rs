#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a test failure
//! The GraphQL cost limits (issue 14) against a real `dagster-webserver` process with the
//! shipped code location (`pipeline-config/local.yaml`) and runs with events written through
//! `dagster_core` storage: every limit refuses a request over it with `QUERY_COST_LIMIT`, the
//! limit's name and its flag; a request at the limit passes; flags and `DAGSTER_WEBSERVER_*`
//! variables change the limits.
//!
//! The numbers are measured, not assumed: a request's estimated cost is read from the error of
//! a server whose limit is 1 (`extensions.value`), a response's size from the response itself,
//! and the limits of the next server are set from them (printed with `--nocapture`).

mod common;

use common::*;
use dagster_core::config::home::DagsterHome;
use dagster_core::domain::{EventType, NewEvent, NewRun};
use dagster_core::instance::Instance;
use std::path::Path;
use std::process::{Command, Stdio};

const CODE: &str = "QUERY_COST_LIMIT";

const ASSET_GRAPH: &str =
    "query AssetGraph { assetNodes { id assetKey { path } groupName description \
    computeKind kinds jobNames opNames isMaterializable isPartitioned \
    dependencyKeys { path } dependedByKeys { path } } }";

const RUNS: &str =
    "query Runs($limit: Int) { runsOrError(limit: $limit) { __typename ... on Runs { count \
    results { runId status pipelineName tags { key value } } } } }";

const INTROSPECTION: &str = "query Introspection { __schema { queryType { name } mutationType { name } \
    types { ...FullType } directives { name description locations args { ...InputValue } } } } \
    fragment FullType on __Type { kind name description \
      fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } \
        isDeprecated deprecationReason } \
      inputFields { ...InputValue } interfaces { ...TypeRef } \
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } \
      possibleTypes { ...TypeRef } } \
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue } \
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name \
      ofType { kind name ofType { kind name } } } } } }";

/// A webserver on a temporary home with the shipped location and 30 runs of 20 events each.
struct Web {
    home: tempfile::TempDir,
    port: u16,
    _web: Proc,
}

fn seed(home: &Path) {
    let inst = Instance::open(DagsterHome::new(home.to_path_buf())).unwrap();
    for i in 0..30 {
        let run = inst
            .storage
            .add_run(NewRun {
                job_name: "demo_job".into(),
                ..Default::default()
            })
            .unwrap();
        let events: Vec<NewEvent> = (0..20)
            .map(|j| {
                NewEvent::new(
                    &run.run_id,
                    &run.job_name,
                    (j == 0).then_some(EventType::RunStart),
                    format!("event {j} of run {i}"),
                )
            })
            .collect();
        inst.storage.store_events(&events).unwrap();
    }
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Web {
    let home = tempfile::tempdir().unwrap();
    seed(home.path());
    let location = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline-config/local.yaml");
    let port = free_port();
    let log = home.path().join("webserver.log");
    let mut cmd = Command::new(webserver_bin());
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-f"])
        .arg(&location)
        .args(args)
        .args(["--log-level", "info,dagster_webserver::cost=debug"])
        .env("DAGSTER_HOME", home.path())
        .env_remove("DAGSTER_WEBSERVER_TOKEN")
        .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
        .current_dir(home.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for var in [
        "MAX_QUERY_FIELDS",
        "MAX_QUERY_ALIASES",
        "MAX_QUERY_DEPTH",
        "MAX_QUERY_LIST_LIMIT",
        "MAX_RESPONSE_BYTES",
        "MAX_FIELDS_IN_FLIGHT",
    ] {
        cmd.env_remove(format!("DAGSTER_WEBSERVER_{var}"));
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let web = Proc {
        name: "dagster-webserver",
        child: cmd.spawn().unwrap(),
    };
    wait_for_server(port, &log);
    Web {
        home,
        port,
        _web: web,
    }
}

impl Web {
    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("webserver.log")).unwrap_or_default()
    }

    /// POST; the status, the raw body and its JSON.
    fn post(&self, query: &str, variables: serde_json::Value) -> (u16, String, serde_json::Value) {
        let body = serde_json::json!({"query": query, "variables": variables}).to_string();
        let (status, text) = try_http(
            self.port,
            "POST",
            "/graphql",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n--- log\n{}",
                &text[..text.len().min(500)],
                self.log()
            )
        });
        (status, text, v)
    }

    /// A request that must succeed: its raw body.
    fn ok(&self, query: &str, variables: serde_json::Value) -> String {
        let (status, text, v) = self.post(query, variables);
        assert_eq!(
            status,
            200,
            "expected success, got {status}: {}",
            &text[..text.len().min(2000)]
        );
        assert!(
            v.get("errors").is_none(),
            "{}",
            &text[..text.len().min(2000)]
        );
        assert!(v["data"].is_object(), "{}", &text[..text.len().min(2000)]);
        text
    }

    /// A request that must be refused by `limit`: its estimated value.
    fn refused(&self, query: &str, variables: serde_json::Value, limit: &str, flag: &str) -> u64 {
        let (status, text, v) = self.post(query, variables);
        assert_cost_error(status, &v, limit, flag, &text);
        v["errors"][0]["extensions"]["value"].as_u64().unwrap()
    }
}

fn assert_cost_error(status: u16, v: &serde_json::Value, limit: &str, flag: &str, text: &str) {
    assert!(
        status == 400 || status == 200,
        "status {status}: {}",
        &text[..text.len().min(2000)]
    );
    let err = &v["errors"][0];
    assert_eq!(err["extensions"]["code"], CODE, "{text}");
    assert_eq!(err["extensions"]["limit"], limit, "{text}");
    assert_eq!(err["extensions"]["flag"], flag, "{text}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains(limit), "{message}");
    assert!(message.contains(flag), "{message}");
    let value = err["extensions"]["value"].as_u64().unwrap();
    let max = err["extensions"]["max"].as_u64().unwrap();
    assert!(value > max, "{text}");
    assert!(message.contains(&max.to_string()), "{message}");
    assert!(v["data"].is_null(), "{text}");
}

fn aliases(n: usize, field: &str) -> String {
    let body: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
    format!("{{ {} }}", body.join(" "))
}

/// `__type(name: "Query")` then `levels` times `ofType`, then `name`: `levels + 2` deep.
fn deep(levels: usize) -> String {
    format!(
        "{{ __type(name: \"Query\") {{ {}name{} }}",
        "ofType { ".repeat(levels),
        " }".repeat(levels + 1)
    )
}

/// The same through a chain of fragments (the text nests only 3 levels).
fn deep_fragments(levels: usize) -> String {
    let mut q = "{ __type(name: \"Query\") { ...F0 } }".to_string();
    for i in 0..levels {
        q.push_str(&format!(
            " fragment F{i} on __Type {{ ofType {{ ...F{} }} }}",
            i + 1
        ));
    }
    q.push_str(&format!(" fragment F{levels} on __Type {{ name }}"));
    q
}

#[test]
fn aliases_depth_and_list_limit() {
    let web = start(
        &[
            "--max-query-aliases",
            "3",
            "--max-query-depth",
            "6",
            "--max-query-list-limit",
            "50",
        ],
        &[],
    );
    // aliases: 3 pass, 4 are refused
    web.ok(&aliases(3, "version"), serde_json::json!({}));
    let v = web.refused(
        &aliases(4, "version"),
        serde_json::json!({}),
        "query aliases",
        "--max-query-aliases",
    );
    assert_eq!(v, 4);
    // aliases inside a fragment count once per spread
    let q = "{ ...F ...G } fragment F on Query { x: version y: version } fragment G on Query { z: version w: version }";
    web.refused(
        q,
        serde_json::json!({}),
        "query aliases",
        "--max-query-aliases",
    );
    // depth: 6 passes, 7 is refused
    web.ok(&deep(4), serde_json::json!({}));
    let v = web.refused(
        &deep(5),
        serde_json::json!({}),
        "query depth",
        "--max-query-depth",
    );
    assert_eq!(v, 7);
    // list limit, literal and variable
    web.ok(RUNS, serde_json::json!({"limit": 50}));
    let v = web.refused(
        RUNS,
        serde_json::json!({"limit": 51}),
        "list limit",
        "--max-query-list-limit",
    );
    assert_eq!(v, 51);
    web.refused(
        "{ runsOrError(limit: 1000) { __typename } }",
        serde_json::json!({}),
        "list limit",
        "--max-query-list-limit",
    );
    // GET /graphql is checked too
    let q = aliases(4, "version")
        .replace(' ', "%20")
        .replace('{', "%7B")
        .replace('}', "%7D");
    let (status, text) =
        try_http(web.port, "GET", &format!("/graphql?query={q}"), &[], b"").unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_cost_error(status, &v, "query aliases", "--max-query-aliases", &text);
    // the websocket path too
    let mut ws = ws_connect(web.port, "/graphql", &[]).unwrap();
    ws.init(serde_json::json!({}));
    ws.start("over", &aliases(4, "version"), serde_json::json!({}));
    let frame = ws.expect();
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["id"], "over", "{frame}");
    assert_eq!(frame["payload"][0]["extensions"]["code"], CODE, "{frame}");
    assert_eq!(
        frame["payload"][0]["extensions"]["limit"], "query aliases",
        "{frame}"
    );
    ws.start("under", &aliases(3, "version"), serde_json::json!({}));
    let data = ws.expect_data("under");
    assert!(data["data"]["a2"].is_string(), "{data}");
}

#[test]
fn field_limit_against_measured_estimates() {
    // Measure: with a limit of 1 every request is refused, and the error carries its estimate.
    let probe = start(&["--max-query-fields", "1"], &[]);
    let introspection = probe.refused(
        INTROSPECTION,
        serde_json::json!({}),
        "query fields",
        "--max-query-fields",
    );
    let graph = probe.refused(
        ASSET_GRAPH,
        serde_json::json!({}),
        "query fields",
        "--max-query-fields",
    );
    let runs = probe.refused(
        RUNS,
        serde_json::json!({"limit": 25}),
        "query fields",
        "--max-query-fields",
    );
    println!("estimated fields: introspection {introspection}, asset graph {graph}, runs(limit: 25) {runs}");
    // A full introspection counts what it returns: far more than its ~60 selected fields.
    assert!(introspection > 1_000, "{introspection}");
    // limit: multiplies: runs(limit: 25) > 25 × the 7 fields of one result
    assert!(runs > 25 * 7, "{runs}");
    drop(probe);

    // At the estimate it passes, one below it is refused; the flag and the variable both work.
    let at = start(&["--max-query-fields", &introspection.to_string()], &[]);
    at.ok(INTROSPECTION, serde_json::json!({}));
    drop(at);
    let below = start(
        &[],
        &[(
            "DAGSTER_WEBSERVER_MAX_QUERY_FIELDS",
            &(introspection - 1).to_string(),
        )],
    );
    let v = below.refused(
        INTROSPECTION,
        serde_json::json!({}),
        "query fields",
        "--max-query-fields",
    );
    assert_eq!(v, introspection);
    below.ok(ASSET_GRAPH, serde_json::json!({}));
}

#[test]
fn response_bytes_are_bounded() {
    let web = start(&[], &[]);
    let graph = web.ok(ASSET_GRAPH, serde_json::json!({})).len() as u64;
    let runs = web.ok(RUNS, serde_json::json!({"limit": 30})).len() as u64;
    println!("response bytes: asset graph {graph}, runs(limit: 30) {runs}");
    drop(web);
    let at = start(&["--max-response-bytes", &graph.to_string()], &[]);
    at.ok(ASSET_GRAPH, serde_json::json!({}));
    drop(at);
    let below = start(
        &[],
        &[(
            "DAGSTER_WEBSERVER_MAX_RESPONSE_BYTES",
            &(graph - 1).to_string(),
        )],
    );
    below.refused(
        ASSET_GRAPH,
        serde_json::json!({}),
        "response bytes",
        "--max-response-bytes",
    );
    // a smaller answer still passes
    below.ok("{ version }", serde_json::json!({}));
    // over websocket, the answer is replaced by an error frame
    let mut ws = ws_connect(below.port, "/graphql", &[]).unwrap();
    ws.init(serde_json::json!({}));
    ws.start("big", ASSET_GRAPH, serde_json::json!({}));
    let frame = ws.expect();
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["id"], "big", "{frame}");
    assert_eq!(frame["payload"][0]["extensions"]["code"], CODE, "{frame}");
    assert_eq!(
        frame["payload"][0]["extensions"]["limit"], "response bytes",
        "{frame}"
    );
}

#[test]
fn fields_in_flight_wait_or_refuse() {
    let probe = start(&["--max-fields-in-flight", "1"], &[]);
    let weight = probe.refused(
        RUNS,
        serde_json::json!({"limit": 30}),
        "fields in flight",
        "--max-fields-in-flight",
    );
    println!("estimated fields of runs(limit: 30): {weight}");
    drop(probe);
    // A budget of exactly one request: eight at once all succeed (they wait for each other).
    let web = start(&["--max-fields-in-flight", &weight.to_string()], &[]);
    let port = web.port;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let (status, v) = gql(port, RUNS, serde_json::json!({"limit": 30}));
                assert_eq!(status, 200, "{v}");
                assert_eq!(
                    v["data"]["runsOrError"]["results"]
                        .as_array()
                        .unwrap()
                        .len(),
                    30
                );
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(web);
    let web = start(
        &[],
        &[(
            "DAGSTER_WEBSERVER_MAX_FIELDS_IN_FLIGHT",
            &(weight - 1).to_string(),
        )],
    );
    web.refused(
        RUNS,
        serde_json::json!({"limit": 30}),
        "fields in flight",
        "--max-fields-in-flight",
    );
}

#[test]
fn defaults_refuse_the_expensive_shapes() {
    let d = help_defaults();
    let web = start(&[], &[]);
    // What the UI-like requests cost, for the record.
    let graph = web.ok(ASSET_GRAPH, serde_json::json!({}));
    web.ok(INTROSPECTION, serde_json::json!({}));
    web.ok(RUNS, serde_json::json!({"limit": 100}));
    println!("asset graph answer: {} bytes", graph.len());
    // The shapes of issue 14: 200 aliases of the asset graph, of runs with events, of
    // introspection; each is refused by some limit before it runs.
    let selection = ASSET_GRAPH
        .strip_prefix("query AssetGraph { ")
        .and_then(|s| s.strip_suffix(" }"))
        .unwrap()
        .to_string();
    let shapes = [
        ("200 × asset graph", aliases(200, &selection)),
        (
            "200 × runs with events",
            aliases(
                200,
                "runsOrError(limit: 100) { ... on Runs { results { runId eventConnection { events { __typename ... on MessageEvent { message timestamp } } } } } }",
            ),
        ),
        (
            "200 × introspection",
            aliases(200, "__schema { types { name fields { name args { name type { name } } } } }"),
        ),
        (
            "20 × introspection",
            aliases(20, "__schema { types { kind name description fields { name description args { name description type { kind name ofType { kind name } } defaultValue } type { kind name ofType { kind name ofType { kind name } } } } inputFields { name type { name } } enumValues { name } } }"),
        ),
        (
            "deep (through fragments)",
            deep_fragments(d["--max-query-depth"] as usize),
        ),
        (
            "large limit",
            format!(
                "{{ runsOrError(limit: {}) {{ __typename }} }}",
                d["--max-query-list-limit"] + 1
            ),
        ),
    ];
    for (what, q) in shapes {
        let (status, text, v) = web.post(&q, serde_json::json!({}));
        println!(
            "{what}: {status} {}",
            v["errors"][0]["message"].as_str().unwrap_or("(no error)")
        );
        assert_eq!(
            v["errors"][0]["extensions"]["code"],
            CODE,
            "{what}: {}",
            &text[..text.len().min(1000)]
        );
    }
}
