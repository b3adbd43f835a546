#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a test failure
//! The query cost limits (issue 14) against a real `dagster-webserver` process with the repo's
//! demo code location (`pipeline-config/local.yaml`): a query over a limit is refused with a
//! GraphQL error naming the limit (over HTTP and over the websocket), the limits follow their
//! flags and `DAGSTER_WEBSERVER_*` variables, a too large answer is replaced by the same kind of
//! error, and queries the size of the UI's still work under the default limits.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Web {
    _home: tempfile::TempDir,
    port: u16,
    _web: Proc,
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Web {
    let home = tempfile::tempdir().unwrap();
    let location: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline-config/local.yaml");
    let port = free_port();
    let log = home.path().join("webserver.log");
    let mut cmd = Command::new(webserver_bin());
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-f"])
        .arg(&location)
        .args(args)
        .env("DAGSTER_HOME", home.path())
        .env_remove("DAGSTER_WEBSERVER_TOKEN")
        .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
        .current_dir(home.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let web = Proc {
        name: "dagster-webserver",
        child: cmd.spawn().unwrap(),
    };
    wait_for_server(port, &log);
    Web {
        _home: home,
        port,
        _web: web,
    }
}

fn aliased(n: usize, body: &str) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: {body}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

const RUN: &str = "runId status jobName mode tags { key value } rootRunId parentRunId canTerminate creationTime startTime endTime updateTime runConfigYaml";

/// The cost-limit error of a refused request: its message and limit.
fn cost_error(status: u16, body: &serde_json::Value) -> (String, String) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["data"], serde_json::Value::Null, "{body}");
    let e = &body["errors"][0];
    assert_eq!(e["extensions"]["code"], "QUERY_COST_LIMIT", "{body}");
    (
        e["message"].as_str().unwrap().to_string(),
        e["extensions"]["limit"].as_str().unwrap().to_string(),
    )
}

/// The GraphiQL-style introspection query (what GraphiQL and GraphQL clients send).
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } \
    types { ...FullType } directives { name description locations args { ...InputValue } } } } \
    fragment FullType on __Type { kind name description \
      fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } \
      inputFields { ...InputValue } interfaces { ...TypeRef } \
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } } \
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue } \
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

#[test]
fn over_limit_queries_get_the_cost_limit_error_and_ui_sized_ones_work() {
    let web = start(&[], &[]);
    let port = web.port;

    // Many aliases of a large page: far over max_fields, refused before anything runs.
    let q = aliased(
        50,
        &format!("runsOrError(limit: 1000) {{ ... on Runs {{ results {{ {RUN} }} }} }}"),
    );
    let (status, body) = gql(port, &q, serde_json::json!({}));
    let (message, limit) = cost_error(status, &body);
    assert_eq!(limit, "max_fields");
    assert!(
        message.starts_with("query cost limit: ")
            && message.contains("fields exceeds max_fields 250000"),
        "{message}"
    );
    // A page size from a variable counts too.
    let (status, body) = gql(
        port,
        "query($n: Int) { runsOrError(limit: $n) { ... on Runs { results { runId } } } }",
        serde_json::json!({"n": 1_000_000}),
    );
    assert_eq!(cost_error(status, &body).1, "max_list_size");
    // Introspection repeated 20 times: refused (the lists count with the schema's sizes).
    let (status, body) = gql(
        port,
        &aliased(
            20,
            "__schema { types { name fields { name args { name } } } }",
        ),
        serde_json::json!({}),
    );
    assert_eq!(cost_error(status, &body).1, "max_fields");

    // UI-sized queries work: a runs page, the asset graph, the workspace with its jobs' graphs,
    // and a full introspection query.
    let (status, body) = gql(
        port,
        &format!("{{ runsOrError(limit: 25) {{ ... on Runs {{ count results {{ {RUN} }} }} }} }}"),
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["runsOrError"]["count"], 0, "{body}");
    let (status, body) = gql(
        port,
        "{ assetNodes { id assetKey { path } groupName jobNames dependencyKeys { path } dependedByKeys { path } \
           metadataEntries { label } assetMaterializations(limit: 25) { runId } } \
           workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { ... on RepositoryLocation { \
             repositories { name jobs { name solidHandles { handleID solid { name inputs { dependsOn { solid { name } } } } } } } } } } } } }",
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        !body["data"]["assetNodes"].as_array().unwrap().is_empty(),
        "{body}"
    );
    let (status, body) = gql(port, INTROSPECTION, serde_json::json!({}));
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["__schema"]["types"].as_array().unwrap().len() > 500,
        "{body}"
    );

    // Over the websocket: a `start` over a limit gets an error frame naming it; a normal one runs.
    let mut ws = ws_connect(port, "/graphql", &[]).unwrap();
    ws.init(serde_json::json!({}));
    ws.start("big", &q, serde_json::json!({}));
    let f = ws.expect();
    assert_eq!(f["type"], "error", "{f}");
    assert_eq!(f["id"], "big", "{f}");
    assert!(
        f["payload"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("query cost limit: "),
        "{f}"
    );
    ws.start("small", "{ version }", serde_json::json!({}));
    let data = ws.expect_data("small");
    assert!(data["data"]["version"].is_string(), "{data}");
}

#[test]
fn limits_follow_their_flags_and_variables() {
    let web = start(
        &["--max-query-aliases", "3", "--max-response-bytes", "4000"],
        &[
            ("DAGSTER_WEBSERVER_MAX_QUERY_DEPTH", "4"),
            ("DAGSTER_WEBSERVER_MAX_QUERY_LIST_SIZE", "50"),
        ],
    );
    let port = web.port;
    let (status, body) = gql(port, &aliased(3, "version"), serde_json::json!({}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = gql(port, &aliased(4, "version"), serde_json::json!({}));
    let (message, limit) = cost_error(status, &body);
    assert_eq!(limit, "max_aliases");
    assert!(
        message.starts_with("query cost limit: 4 aliases exceeds max_aliases 3"),
        "{message}"
    );
    assert!(message.contains("--max-query-aliases"), "{message}");
    // Depth, with the levels hidden in a fragment.
    let deep = "{ assetNodes { ...F } } fragment F on AssetNode { repository { location { repositories { name } } } }";
    let (status, body) = gql(port, deep, serde_json::json!({}));
    assert_eq!(cost_error(status, &body).1, "max_depth");
    let (status, body) = gql(
        port,
        "{ runsOrError(limit: 51) { __typename } }",
        serde_json::json!({}),
    );
    assert_eq!(cost_error(status, &body).1, "max_list_size");
    // The answer is bounded while it is written: the asset graph of the demo location is larger
    // than 4000 bytes.
    let (status, body) = gql(
        port,
        "{ assetNodes { id assetKey { path } description groupName jobNames opNames dependencyKeys { path } dependedByKeys { path } } }",
        serde_json::json!({}),
    );
    let (message, limit) = cost_error(status, &body);
    assert_eq!(limit, "max_response_bytes");
    assert!(message.contains("max_response_bytes 4000"), "{message}");
    let (status, body) = gql(port, "{ assetNodes { id } }", serde_json::json!({}));
    assert_eq!(status, 200, "{body}");
    // The server is still fine after all that.
    let (status, _) = try_http(port, "GET", "/server_info", &[], b"").unwrap();
    assert_eq!(status, 200);
}
