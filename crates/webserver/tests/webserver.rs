#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! End-to-end tests of the `dagster-webserver` binary: each test starts its own server on a free
//! port with its own temp DAGSTER_HOME (SQLite) and talks HTTP to it.

mod common;

use common::{gql, sibling_bin, start_webserver, try_http, venv_python, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

const PIPELINE: &str = r#"location_name: loc
pipeline_configs:
  a:
    kind: command
    args: [echo, hello]
  slow:
    kind: command
    args: [sleep, "30"]
jobs:
  quick:
    selection: [a]
  long:
    selection: [slow]
"#;

const DEFAULT_COORDINATOR: &str =
    "run_coordinator:\n  module: dagster\n  class: DefaultRunCoordinator\n";

/// The `dagster` binary the webserver launches runs with.
fn dagster_bin() -> PathBuf {
    sibling_bin("dagster", "dagster-cli")
}

/// Starts the webserver with the test pipeline; `dagster_yaml` is written to the home.
fn start(dagster_yaml: &str, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
    start_webserver(PIPELINE, dagster_yaml, extra_args, env)
}

fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    try_http(port, method, path, headers, body).unwrap()
}

const LAUNCH: &str = "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId status tags { key value } } } ... on Error { message } } }";

fn launch_quick(port: u16) -> serde_json::Value {
    let (status, v) = gql(
        port,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "quick"}, "runConfigData": "{}", "executionMetadata": {"tags": [{"key": "k", "value": "v"}]}}}),
    );
    assert_eq!(status, 200, "{v}");
    v["data"]["launchRun"].clone()
}

#[test]
fn python_client_six_calls() {
    dagster_bin();
    let python = venv_python();
    let server = start(DEFAULT_COORDINATOR, &[], &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(server.port.to_string())
        .arg("loc")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed ({:?})\nstdout:\n{}\nstderr:\n{}\nwebserver log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(server.home.path().join("webserver.log")).unwrap_or_default()
    );
}

#[test]
fn queued_coordinator_writes_queued_run_and_cancels_it_at_once() {
    let server = start("", &[], &[]);
    let launched = launch_quick(server.port);
    assert_eq!(launched["__typename"], "LaunchRunSuccess", "{launched}");
    assert_eq!(launched["run"]["status"], "QUEUED", "{launched}");
    let tags = launched["run"]["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["key"] == "k" && t["value"] == "v"));
    assert!(!tags
        .iter()
        .any(|t| t["key"].as_str().unwrap().starts_with(".dagster/")));
    let run_id = launched["run"]["runId"].as_str().unwrap().to_string();
    let (_, v) = gql(
        server.port,
        "mutation($id: String!) { terminateRun(runId: $id) { __typename ... on TerminateRunSuccess { run { status canTerminate } } } }",
        serde_json::json!({"id": run_id}),
    );
    assert_eq!(
        v["data"]["terminateRun"]["__typename"], "TerminateRunSuccess",
        "{v}"
    );
    assert_eq!(
        v["data"]["terminateRun"]["run"]["status"], "CANCELED",
        "{v}"
    );
    let (_, v) = gql(
        server.port,
        "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status runConfigYaml jobName mode } } runsOrError(limit: 5) { ... on Runs { count results { runId } } } }",
        serde_json::json!({"id": run_id}),
    );
    assert_eq!(v["data"]["runOrError"]["status"], "CANCELED", "{v}");
    assert_eq!(v["data"]["runOrError"]["runConfigYaml"], "{}\n", "{v}");
    assert_eq!(v["data"]["runsOrError"]["count"], 1, "{v}");
    // No daemon runs against this instance: the log says so (once, not per launch).
    launch_quick(server.port);
    let log = std::fs::read_to_string(server.home.path().join("webserver.log")).unwrap();
    let warning = "run queued, but no dagster-daemon is running against this instance (none has ever heartbeated)";
    assert!(
        log.lines()
            .any(|l| l.contains(warning) && l.contains(&run_id)),
        "{log}"
    );
    assert_eq!(
        log.matches("no dagster-daemon is running").count(),
        1,
        "{log}"
    );
}

#[test]
fn launch_errors_are_union_members() {
    let server = start("", &[], &[]);
    let (_, v) = gql(
        server.port,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "nope", "repositoryLocationName": "loc", "repositoryName": "__repository__"}}}),
    );
    assert_eq!(
        v["data"]["launchRun"]["__typename"], "PipelineNotFoundError",
        "{v}"
    );
    let (_, v) = gql(
        server.port,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "quick"}, "runConfigData": "ops: [1"}}),
    );
    assert_eq!(
        v["data"]["launchRun"]["__typename"], "RunConfigValidationInvalid",
        "{v}"
    );
    let (_, v) = gql(
        server.port,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "quick", "assetSelection": [{"path": ["slow"]}]}}}),
    );
    assert_eq!(
        v["data"]["launchRun"]["__typename"], "InvalidSubsetError",
        "{v}"
    );
    let (_, v) = gql(
        server.port,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "quick"}, "executionMetadata": {"tags": [{"key": "dagster/max_runtime", "value": "1h"}]}}}),
    );
    assert_eq!(v["data"]["launchRun"]["__typename"], "PythonError", "{v}");
    assert!(
        v["data"]["launchRun"]["message"]
            .as_str()
            .unwrap()
            .contains(
            "invalid run tag `dagster/max_runtime` = \"1h\": expected a positive number of seconds"
        ),
        "{v}"
    );
}

#[test]
fn read_only_refuses_every_mutation() {
    let server = start("", &["--read-only"], &[]);
    let launched = launch_quick(server.port);
    assert_eq!(launched["__typename"], "UnauthorizedError", "{launched}");
    assert_eq!(launched["message"], "Authorization failed");
    for m in [
        "mutation { terminateRun(runId: \"x\") { __typename } }",
        "mutation { terminateRuns(runIds: [\"x\"]) { ... on TerminateRunsResult { terminateRunResults { __typename } } } }",
        "mutation { reloadRepositoryLocation(repositoryLocationName: \"pipeline.yaml\") { __typename } }",
        "mutation { shutdownRepositoryLocation(repositoryLocationName: \"pipeline.yaml\") { __typename } }",
        "mutation { launchPipelineExecution(executionParams: {selector: {jobName: \"quick\"}}) { __typename } }",
        "mutation { launchRunReexecution(reexecutionParams: {parentRunId: \"x\", strategy: FROM_FAILURE}) { __typename } }",
        "mutation { launchPipelineReexecution(reexecutionParams: {parentRunId: \"x\", strategy: ALL_STEPS}) { __typename } }",
        "mutation { deleteRun(runId: \"x\") { __typename } }",
        "mutation { deletePipelineRun(runId: \"x\") { __typename } }",
        // schedules and sensors (tests/instigators.rs covers each of them)
        "mutation { startSchedule(scheduleSelector: {repositoryName: \"__repository__\", repositoryLocationName: \"loc\", scheduleName: \"s\"}) { __typename } }",
        "mutation { stopRunningSchedule(id: \"x::y\") { __typename } }",
        "mutation { startSensor(sensorSelector: {repositoryName: \"__repository__\", repositoryLocationName: \"loc\", sensorName: \"s\"}) { __typename } }",
        "mutation { stopSensor(id: \"x::y\") { __typename } }",
    ] {
        let (status, v) = gql(server.port, m, serde_json::json!({}));
        assert_eq!(status, 200, "{m}: {v}");
        assert!(v.to_string().contains("UnauthorizedError"), "{m}: {v}");
    }
    // permissions say so; queries still work
    let (_, v) = gql(
        server.port,
        "{ permissions { permission value disabledReason } }",
        serde_json::json!(null),
    );
    let perms = v["data"]["permissions"].as_array().unwrap();
    assert!(
        perms.len() > 10 && perms.iter().all(|p| p["value"] == false),
        "{v}"
    );
    let (status, v) = gql(server.port, "{ version }", serde_json::json!(null));
    assert_eq!(
        (status, v["data"]["version"].as_str()),
        (200, Some("1.13.27"))
    );
}

#[test]
fn token_mode_requires_bearer_token() {
    let server = start("", &[], &[("DAGSTER_WEBSERVER_TOKEN", "s3cret")]);
    let p = server.port;
    let q = br#"{"query": "{ version }"}"#;
    let json = ("Content-Type", "application/json");
    let (status, body) = http(p, "POST", "/graphql", &[json], q);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Unauthorized"), "{body}");
    let (status, _) = http(
        p,
        "POST",
        "/graphql",
        &[json, ("Authorization", "Bearer wrong")],
        q,
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        p,
        "POST",
        "/graphql",
        &[json, ("Authorization", "Bearer s3cret")],
        q,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(p, "GET", "/graphql?query=%7Bversion%7D", &[], b"");
    assert_eq!(status, 401);
    for open in ["/server_info", "/dagit_info", "/health"] {
        let (status, body) = http(p, "GET", open, &[], b"");
        assert_eq!(status, 200, "{open}: {body}");
    }
    // A browser signs in once: a page asks for the token, a right token sets the session
    // cookie (not the token itself), which then opens the API and the UI.
    let html = ("Accept", "text/html");
    let (status, body) = http(p, "GET", "/runs", &[html], b"");
    assert_eq!(status, 401);
    assert!(body.contains("name=\"token\""), "{body}");
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let (status, body) = http(p, "POST", "/login", &[form], b"token=wrong&next=%2Fruns");
    assert_eq!(status, 401);
    assert!(body.contains("not this server's token"), "{body}");
    let (status, head, _) =
        common::http_raw(p, "POST", "/login", &[form], b"token=s3cret&next=%2Fruns");
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /runs"), "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {head}"))
        .to_string();
    assert!(!cookie.contains("s3cret"), "{cookie}");
    assert!(head.to_ascii_lowercase().contains("httponly"), "{head}");
    let (status, body) = http(
        p,
        "GET",
        "/graphql?query=%7Bversion%7D",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(p, "GET", "/runs", &[html, ("Cookie", &cookie)], b"");
    assert_eq!(status, 200);
    assert!(body.contains("__NEXT_DATA__"), "{body}");
    // An open redirect is not possible: `next` stays on this server.
    let (status, head, _) = common::http_raw(
        p,
        "POST",
        "/login",
        &[form],
        b"token=s3cret&next=https%3A%2F%2Fevil.example%2F",
    );
    assert_eq!(status, 303);
    assert!(
        head.contains("location: /\r") || head.ends_with("location: /"),
        "{head}"
    );
}

/// `POST /report_asset_materialization|observation/<key>` record runless events that the
/// GraphQL API then serves; `/report_asset_check` is refused (no checks here); a read-only
/// server refuses reports; `/download_debug/<run>` is the run and its events as gzip'd JSON.
#[test]
fn reported_asset_events_and_debug_download() {
    let server = start(DEFAULT_COORDINATOR, &[], &[]);
    let p = server.port;
    let json = ("Content-Type", "application/json");
    let (status, body) = http(
        p,
        "POST",
        "/report_asset_materialization/ext/table",
        &[json],
        br#"{"description": "loaded by an external tool", "metadata": {"rows": 42, "source": {"raw_value": "https://example.com/x", "type": "url"}}}"#,
    );
    assert_eq!((status, body.as_str()), (200, "{}"));
    let (status, body) = http(
        p,
        "POST",
        "/report_asset_observation?asset_key=%5B%22ext%22%2C%22table%22%5D&metadata=%7B%22lag%22%3A%201.5%7D",
        &[],
        b"",
    );
    assert_eq!((status, body.as_str()), (200, "{}"));
    let (_, v) = gql(
        p,
        "{ assetOrError(assetKey: {path: [\"ext\", \"table\"]}) { ... on Asset { assetMaterializations { runId description metadataEntries { label ... on IntMetadataEntry { intValue } ... on UrlMetadataEntry { url } } } assetObservations { runId metadataEntries { label ... on FloatMetadataEntry { floatValue } } } } } }",
        serde_json::json!({}),
    );
    let asset = &v["data"]["assetOrError"];
    assert_eq!(asset["assetMaterializations"][0]["runId"], "", "{v}");
    assert_eq!(
        asset["assetMaterializations"][0]["description"], "loaded by an external tool",
        "{v}"
    );
    let entries = &asset["assetMaterializations"][0]["metadataEntries"];
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["intValue"] == 42),
        "{v}"
    );
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["url"] == "https://example.com/x"),
        "{v}"
    );
    assert_eq!(
        asset["assetObservations"][0]["metadataEntries"][0]["floatValue"], 1.5,
        "{v}"
    );
    for (path, body, ct, want) in [
        (
            "/report_asset_materialization/",
            b"".as_slice(),
            None,
            "Empty asset key",
        ),
        (
            "/report_asset_materialization/a",
            b"x=1",
            Some("application/x-www-form-urlencoded"),
            "Unhandled content type",
        ),
        (
            "/report_asset_materialization/a",
            b"{",
            Some("application/json"),
            "not valid JSON",
        ),
        (
            "/report_asset_materialization/a",
            br#"{"metadata": 3}"#,
            Some("application/json"),
            "metadata must be",
        ),
        (
            "/report_asset_check/a",
            br#"{"passed": true}"#,
            Some("application/json"),
            "Asset checks are not supported",
        ),
    ] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let (status, text) = http(p, "POST", path, &headers, body);
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains(want), "{path}: {text}");
    }

    let run = launch_quick(p);
    let run_id = run["run"]["runId"].as_str().unwrap().to_string();
    let (status, head, bytes) =
        common::http_raw(p, "GET", &format!("/download_debug/{run_id}"), &[], b"");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("application/gzip"), "{head}");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    let debug: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(debug["run"]["run_id"], run_id.as_str(), "{debug}");
    assert!(
        debug["events"].as_array().is_some_and(|e| !e.is_empty()),
        "{debug}"
    );
    let (status, _, _) = common::http_raw(p, "GET", "/download_debug/no-such-run", &[], b"");
    assert_eq!(status, 404);

    let ro = start("", &["--read-only"], &[]);
    let (status, text) = http(ro.port, "POST", "/report_asset_materialization/a", &[], b"");
    assert_eq!(status, 401, "{text}");
}

#[test]
fn http_rules_and_malformed_requests() {
    let server = start("", &[], &[]);
    let p = server.port;
    let json = ("Content-Type", "application/json");

    // GET with a query string; variables as a JSON string
    let (status, body) = http(p, "GET", "/graphql?query=%7Bversion%7D", &[], b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("1.13.27"));
    let (status, body) = http(
        p,
        "POST",
        "/graphql",
        &[json],
        br#"{"query": "query($id: ID!) { runOrError(runId: $id) { __typename } }", "variables": "{\"id\": \"x\"}"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("RunNotFoundError"), "{body}");
    // application/graphql
    let (status, body) = http(
        p,
        "POST",
        "/graphql",
        &[("Content-Type", "application/graphql")],
        b"{ version }",
    );
    assert_eq!(status, 200, "{body}");
    // GraphiQL for browsers
    let (status, body) = http(p, "GET", "/graphql", &[("Accept", "text/html")], b"");
    assert_eq!(status, 200);
    assert!(body.contains("GraphiQL"));
    // From the UI bundle's own copy, never from a CDN; and the files it names are served.
    assert!(!body.contains("https://"), "{body}");
    for file in [
        "/vendor/graphiql/graphiql.min.js",
        "/vendor/graphiql/graphiql.min.css",
        "/vendor/graphiql/react.production.min.js",
    ] {
        assert!(body.contains(file), "{body}");
        assert_eq!(http(p, "GET", file, &[], b"").0, 200, "{file}");
    }

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("bad JSON", b"{\"query\": ".to_vec(), 400, "invalid JSON"),
        (
            "missing query",
            b"{}".to_vec(),
            400,
            "No GraphQL query found",
        ),
        (
            "unknown field",
            br#"{"query": "{ nope }"}"#.to_vec(),
            400,
            "nope",
        ),
        (
            "parse error",
            br#"{"query": "{ version "}"#.to_vec(),
            400,
            "errors",
        ),
        (
            "variables not an object",
            br#"{"query": "{ version }", "variables": [1]}"#.to_vec(),
            400,
            "errors",
        ),
        (
            "deep nesting",
            format!("{{\"query\": \"{}\"}}", "{a".repeat(5000)).into_bytes(),
            400,
            "nested too deeply",
        ),
        ("huge body", vec![b' '; 2 * 1024 * 1024], 413, "larger than"),
        (
            "unknown operation",
            br#"{"query": "{ version }", "operationName": "X"}"#.to_vec(),
            400,
            "errors",
        ),
    ];
    for (name, body, want, needle) in cases {
        let (status, text) = http(p, "POST", "/graphql", &[json], &body);
        assert_eq!(status, want, "{name}: {text}");
        assert!(text.contains(needle), "{name}: {text}");
    }
    let (status, v) = gql(p, "{ nope }", serde_json::json!({}));
    assert_eq!(status, 400);
    assert!(
        v["data"].is_null() && v["errors"][0]["message"].is_string(),
        "{v}"
    );

    // random garbage: always a 4xx with a body, and the server stays up
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces: [&[u8]; 14] = [
        b"{",
        b"}",
        b"[",
        b"\"query\"",
        b":",
        b"\"",
        b"mutation",
        b"{ version }",
        b"$x",
        b"\\u0000",
        b"\xff\xfe",
        b"variables",
        b"null",
        b"runConfigData",
    ];
    for i in 0..300 {
        let n = (next() % 40) as usize;
        let mut body = Vec::new();
        for _ in 0..n {
            body.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let ct = if i % 3 == 0 {
            "application/graphql"
        } else {
            "application/json"
        };
        let (status, text) = http(p, "POST", "/graphql", &[("Content-Type", ct)], &body);
        assert!(
            (400..500).contains(&status) || status == 200,
            "case {i} {:?}: {status} {text}",
            String::from_utf8_lossy(&body)
        );
        assert!(!text.is_empty(), "case {i}: empty body");
    }
    let (status, _) = http(p, "GET", "/health", &[], b"");
    assert_eq!(status, 200);
}

/// Dagster's UI as the browser gets it: `index.html` for the UI's own routes with every
/// placeholder filled (prefix, instance id, telemetry off, poll rate, a fresh nonce that is the
/// one in the CSP header), never cached; the build's hashed files gzip-compressed and cached
/// for a year, decompressed for a client without gzip, revalidated by ETag; a missing file of a
/// build folder is 404, not HTML; the same under a path prefix.
#[test]
fn ui_is_served_with_its_placeholders_and_caching() {
    let server = start(
        "",
        &["--path-prefix", "/dagster", "--live-data-poll-rate", "1500"],
        &[],
    );
    let p = server.port;
    let (status, head, body) = common::http_raw(p, "GET", "/dagster/runs/abc", &[], b"");
    assert_eq!(status, 200, "{head}");
    let page = String::from_utf8(body).unwrap();
    for placeholder in [
        "BUILDTIME_ASSETPREFIX_REPLACE_ME",
        "__PATH_PREFIX__",
        "__TELEMETRY_ENABLED__",
        "__LIVE_DATA_POLL_RATE__",
        "__INSTANCE_ID__",
        "NONCE-PLACEHOLDER",
    ] {
        assert!(!page.contains(placeholder), "{placeholder} left in {page}");
    }
    assert!(page.contains("\"pathPrefix\": \"/dagster\""), "{page}");
    assert!(page.contains("\"telemetryEnabled\": false"), "{page}");
    assert!(page.contains("\"liveDataPollRate\": \"1500\""), "{page}");
    assert!(
        page.contains("src=\"/dagster/_next/static/chunks/"),
        "{page}"
    );
    let head_l = head.to_ascii_lowercase();
    assert!(head_l.contains("cache-control: no-store"), "{head}");
    let csp = head_l
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("no CSP: {head}"))
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap()
        .to_string();
    assert!(page.contains(&format!("nonce=\"{nonce}\"")), "{page}");
    let (_, head2, _) = common::http_raw(p, "GET", "/dagster/", &[], b"");
    assert!(
        !head2.contains(&nonce),
        "the nonce is not fresh per response"
    );

    let chunk = page
        .split("src=\"/dagster/")
        .nth(2)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let url = format!("/dagster/{chunk}");
    let (status, head, gz) =
        common::http_raw(p, "GET", &url, &[("Accept-Encoding", "gzip, br")], b"");
    assert_eq!(status, 200, "{head}");
    let head_l = head.to_ascii_lowercase();
    assert!(head_l.contains("content-encoding: gzip"), "{head}");
    assert!(head_l.contains("max-age=31536000, immutable"), "{head}");
    assert!(
        head_l.contains("content-type: application/javascript"),
        "{head}"
    );
    let etag = head_l
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap()
        .to_string();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    let (status, _, raw) = common::http_raw(p, "GET", &url, &[], b"");
    assert_eq!(status, 200);
    assert_eq!(
        raw, plain,
        "a client without gzip gets the same file, decompressed"
    );
    let (status, _, body) = common::http_raw(p, "GET", &url, &[("If-None-Match", &etag)], b"");
    assert_eq!((status, body.len()), (304, 0));
    let (status, _, _) =
        common::http_raw(p, "GET", "/dagster/_next/static/chunks/nope.js", &[], b"");
    assert_eq!(status, 404);
    // Outside the prefix: a redirect into it, the top-level files, 404 for the rest.
    let (status, head, _) = common::http_raw(p, "GET", "/", &[], b"");
    assert_eq!(status, 307);
    assert!(
        head.to_ascii_lowercase().contains("location: /dagster"),
        "{head}"
    );
    assert_eq!(common::http_raw(p, "GET", "/favicon.svg", &[], b"").0, 200);
    assert_eq!(common::http_raw(p, "GET", "/runs", &[], b"").0, 404);
    let (status, _, license) = common::http_raw(p, "GET", "/dagster/LICENSE", &[], b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&license).contains("Apache License"));
}
