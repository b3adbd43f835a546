#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a test failure
//! GraphQL snapshot tests (one per operation the UI uses, compat doc §3) and the
//! malformed-request fuzz, against a real `dagster-webserver` process with its own temp
//! SQLite DAGSTER_HOME.
//!
//! Snapshots live in `tests/snapshots/<name>.json` with run ids, timestamps, temp paths and
//! digits in log text redacted (see [`redact`]). A missing or different snapshot fails the
//! test; `UPDATE_SNAPSHOTS=1 cargo nextest run -p dagster-webserver --test graphql_api`
//! rewrites them (review the diff). A snapshot file no test names fails
//! `no_unreferenced_snapshots`.

mod common;

use common::{sibling_bin, start_webserver, try_http, Server};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Two assets (b depends on a and fails), a resource with a secret, a schedule and a sensor.
const PIPELINE: &str = r#"location_name: loc
resources:
  db:
    type: mysql
    description: a MySQL resource whose password must never be served
    config:
      host: 127.0.0.1
      port: 3306
      user: u
      password: hunter2-secret
      database: test
pipeline_configs:
  a:
    kind: command
    description: prints hello
    kinds: [shell]
    owners: ["team:data", "someone@example.com"]
    args: [echo, hello]
  b:
    kind: command
    deps: [a]
    group: second
    args: [sh, -c, "echo out; echo err >&2; exit 1"]
jobs:
  both:
    selection: [a, b]
  only_a:
    selection: [a]
schedules:
  nightly:
    job: only_a
    cron: "0 3 * * *"
    execution_timezone: UTC
    default_status: STOPPED
sensors:
  after_both:
    job: only_a
    kind: run_status
    monitored_job: both
"#;

const DEFAULT_COORDINATOR: &str =
    "run_coordinator:\n  module: dagster\n  class: DefaultRunCoordinator\n";

/// Every snapshot a test asserts (checked against the files on disk).
const SNAPSHOTS: &[&str] = &[
    "runs_or_error",
    "run_or_error",
    "logs_for_run",
    "logs_for_run_paged",
    "pipeline_run_logs_subscription",
    "captured_logs",
    "asset_nodes",
    "asset_or_error",
    "assets_latest_info",
    "launch_run",
    "launch_run_reexecution",
    "delete_run",
    "instance",
    "workspace",
    "runs_feed",
    "runs_feed_count",
    "run_tags",
    "runs_feed_root_query",
];

fn start(dagster_yaml: &str, extra_args: &[&str]) -> Server {
    sibling_bin("dagster", "dagster-cli");
    start_webserver(PIPELINE, dagster_yaml, extra_args, &[])
}

fn http(p: u16, m: &str, path: &str, h: &[(&str, &str)], b: &[u8]) -> (u16, String) {
    try_http(p, m, path, h, b).unwrap()
}

fn gql(port: u16, query: &str, variables: serde_json::Value) -> serde_json::Value {
    gql_op(port, query, None, variables)
}

/// [`gql`] of one operation (`operationName`) of a document with several.
fn gql_op(
    port: u16,
    query: &str,
    operation: Option<&str>,
    variables: serde_json::Value,
) -> serde_json::Value {
    let body =
        serde_json::json!({"query": query, "operationName": operation, "variables": variables})
            .to_string();
    let (status, text) = http(
        port,
        "POST",
        "/graphql",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(status, 200, "{query}\n{v}");
    assert!(v.get("errors").is_none(), "{query}\n{v}");
    v["data"].clone()
}

/// Keys whose values change from run to run.
const VOLATILE_KEYS: &[&str] = &[
    "runId",
    "timestamp",
    "startTime",
    "endTime",
    "creationTime",
    "updateTime",
    "launchTime",
    "enqueuedTime",
    "lastHeartbeatTime",
    "latestMaterializationTimestamp",
    "updatedTimestamp",
    "updateTimestamp",
    "versionKey",
    "executablePath",
    "intValue",
    "intRepr",
];

/// Keys whose text keeps its shape but whose digits vary (pids, durations, log timestamps).
const DIGIT_KEYS: &[&str] = &["message", "stdout", "stderr", "text"];

fn redact_str(s: &str, home: &str) -> String {
    let mut s = s.replace(home, "[home]");
    // UUIDs: 8-4-4-4-12 hex
    let b = s.clone();
    let bytes = b.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len() && is_uuid(&bytes[i..i + 36]) {
            out.push_str("[uuid]");
            i += 36;
        } else {
            let ch = b[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    s = out;
    s
}

fn is_uuid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
    })
}

/// Each number (digits, with an optional decimal part: durations print as `0 s` or `0.1 s`
/// depending on the machine's speed) becomes `N`.
fn redact_digits(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_digit() {
            out.push(c);
            continue;
        }
        out.push('N');
        while chars.peek().is_some_and(char::is_ascii_digit) {
            chars.next();
        }
        let mut rest = chars.clone();
        if rest.next() == Some('.') && rest.peek().is_some_and(char::is_ascii_digit) {
            chars.next();
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    out
}

/// Redacts volatile values in place (see the module doc).
fn redact(v: &mut serde_json::Value, home: &str) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if VOLATILE_KEYS.contains(&k.as_str()) && !val.is_null() {
                    *val = serde_json::Value::String("[redacted]".into());
                } else if let serde_json::Value::String(s) = val {
                    let mut r = redact_str(s, home);
                    if DIGIT_KEYS.contains(&k.as_str()) {
                        r = redact_digits(&r);
                    }
                    *s = r;
                } else {
                    redact(val, home);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| redact(i, home)),
        serde_json::Value::String(s) => *s = redact_str(s, home),
        _ => {}
    }
}

fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.json"))
}

fn assert_snapshot(server: &Server, name: &str, mut value: serde_json::Value) {
    assert!(SNAPSHOTS.contains(&name), "add {name} to SNAPSHOTS");
    let home = server.home.path().display().to_string();
    redact(&mut value, &home);
    let text = format!("{}\n", serde_json::to_string_pretty(&value).unwrap());
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "snapshot {} is missing; run with UPDATE_SNAPSHOTS=1 to create it. Got:\n{text}",
            path.display()
        )
    });
    assert!(
        expected == text,
        "snapshot {} differs (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- got\n{text}",
        path.display()
    );
}

/// Waits until the run has finished; returns its status.
fn wait_finished(port: u16, run_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = gql(
            port,
            "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
            serde_json::json!({"id": run_id}),
        );
        let status = d["runOrError"]["status"].as_str().unwrap_or("").to_string();
        if ["SUCCESS", "FAILURE", "CANCELED"].contains(&status.as_str()) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} did not finish within 60 s (status {status})"
        );
        #[allow(clippy::disallowed_methods)] // a plain test thread
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LAUNCH: &str = "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId status jobName runConfigYaml tags { key value } assetSelection { path } } } ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } } ... on PipelineNotFoundError { message } } }";

/// Launches `both` (a succeeds, b fails) and waits for it to finish.
fn launch_both(port: u16) -> String {
    let d = gql(
        port,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "both", "repositoryLocationName": "loc", "repositoryName": "__repository__"}, "runConfigData": "{}", "executionMetadata": {"tags": [{"key": "team", "value": "data"}]}}}),
    );
    assert_eq!(d["launchRun"]["__typename"], "LaunchRunSuccess", "{d}");
    let id = d["launchRun"]["run"]["runId"].as_str().unwrap().to_string();
    assert_eq!(wait_finished(port, &id), "FAILURE");
    id
}

const RUN_FIELDS: &str = "id runId status runStatus pipelineName jobName mode runConfigYaml canTerminate \
    tags { key value } rootRunId parentRunId stepKeysToExecute assetSelection { path } assetSelectionCount \
    creationTime startTime endTime updateTime pipelineSnapshotId \
    hasReExecutePermission hasTerminatePermission hasDeletePermission \
    repositoryOrigin { repositoryLocationName repositoryName } \
    stats { __typename ... on RunStatsSnapshot { id stepsSucceeded stepsFailed materializations expectations enqueuedTime launchTime startTime endTime } } \
    stepStats { stepKey status startTime endTime attempts { startTime endTime } materializations { assetKey { path } } } \
    executionPlan { artifactsPersisted assetKeys { path } steps { key kind inputs { dependsOn { key kind } } } }";

const EVENT_FIELDS: &str = "__typename \
    ... on MessageEvent { runId message timestamp level stepKey eventType } \
    ... on DisplayableEvent { label description metadataEntries { __typename label \
        ... on IntMetadataEntry { intValue intRepr } ... on TextMetadataEntry { text } } } \
    ... on MarkerEvent { markerStart markerEnd } \
    ... on ErrorEvent { error { message className } } \
    ... on RunEvent { pipelineName } \
    ... on ExecutionStepFailureEvent { errorSource } \
    ... on ExecutionStepOutputEvent { outputName typeCheck { success } } \
    ... on LogsCapturedEvent { fileKey logKey stepKeys } \
    ... on MaterializationEvent { assetKey { path } partition tags { key value } } \
    ... on FailedToMaterializeEvent { assetKey { path } materializationFailureReason } \
    ... on AssetMaterializationPlannedEvent { assetKey { path } }";

#[test]
fn runs_and_logs_snapshots() {
    let server = start(DEFAULT_COORDINATOR, &[]);
    let p = server.port;
    let failed = launch_both(p);
    // a second, successful run of another job
    let d = gql(
        p,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "only_a"}}}),
    );
    let ok = d["launchRun"]["run"]["runId"].as_str().unwrap().to_string();
    assert_eq!(wait_finished(p, &ok), "SUCCESS");

    // runsOrError with each filter
    let q = format!(
        "query($f: RunsFilter, $c: String) {{ \
           all: runsOrError(limit: 30) {{ __typename ... on Runs {{ count results {{ jobName status }} }} }} \
           failed: runsOrError(filter: {{statuses: [FAILURE]}}) {{ ... on Runs {{ count results {{ {RUN_FIELDS} }} }} }} \
           byJob: runsOrError(filter: {{pipelineName: \"only_a\"}}) {{ ... on Runs {{ count results {{ jobName }} }} }} \
           byTag: runsOrError(filter: {{tags: [{{key: \"team\", value: \"data\"}}]}}) {{ ... on Runs {{ count results {{ jobName }} }} }} \
           byIds: runsOrError(filter: $f) {{ ... on Runs {{ count results {{ jobName }} }} }} \
           page2: runsOrError(cursor: $c, limit: 1) {{ ... on Runs {{ count results {{ jobName }} }} }} \
           none: runsOrError(filter: {{createdBefore: 1.0}}) {{ ... on Runs {{ count results {{ jobName }} }} }} \
           snapshot: runsOrError(filter: {{snapshotId: \"x\"}}) {{ ... on Runs {{ count }} }} \
           bad: runsOrError(limit: -1) {{ __typename ... on Error {{ message }} }} \
         }}"
    );
    let d = gql(
        p,
        &q,
        serde_json::json!({"f": {"runIds": [failed.clone(), "nope"]}, "c": ok}),
    );
    assert_eq!(d["all"]["count"], 2, "{d}");
    assert_eq!(d["page2"]["results"][0]["jobName"], "both", "{d}");
    assert_snapshot(&server, "runs_or_error", d);

    // runOrError: the failed run, with everything the run page selects
    let q = format!(
        "query($id: ID!) {{ runOrError(runId: $id) {{ __typename ... on Run {{ {RUN_FIELDS} }} }} \
         missing: pipelineRunOrError(runId: \"nope\") {{ __typename ... on RunNotFoundError {{ runId message }} }} }}"
    );
    let d = gql(p, &q, serde_json::json!({"id": failed}));
    assert_eq!(d["runOrError"]["stats"]["stepsFailed"], 1, "{d}");
    assert_snapshot(&server, "run_or_error", d);

    // logsForRun: every event with the UI's per-type fields
    let logs_q = &format!("query($id: ID!, $after: String, $limit: Int) {{ logsForRun(runId: $id, afterCursor: $after, limit: $limit) {{ __typename \
        ... on EventConnection {{ hasMore cursor events {{ {EVENT_FIELDS} }} }} \
        ... on RunNotFoundError {{ message }} }} }}");
    let mut d = gql(p, logs_q, serde_json::json!({"id": failed}));
    let events = d["logsForRun"]["events"].as_array().unwrap().clone();
    let events_cursor = d["logsForRun"]["cursor"].clone();
    assert!(!d["logsForRun"]["hasMore"].as_bool().unwrap());
    pid_event_first_after_launch(&mut d["logsForRun"]["events"]);
    assert_snapshot(&server, "logs_for_run", d);
    // paging: 3 events, then the next 3 after the returned cursor; unknown run; bad cursor
    let first = gql(p, logs_q, serde_json::json!({"id": failed, "limit": 3}));
    let cursor = first["logsForRun"]["cursor"].as_str().unwrap().to_string();
    let second = gql(
        p,
        logs_q,
        serde_json::json!({"id": failed, "limit": 3, "after": cursor}),
    );
    assert_eq!(first["logsForRun"]["events"][0], events[0]);
    assert_eq!(second["logsForRun"]["events"][0], events[3]);
    assert_eq!(second["logsForRun"]["hasMore"], true);
    let mut second = second;
    pid_event_first_after_launch(&mut second["logsForRun"]["events"]);
    let unknown = gql(p, logs_q, serde_json::json!({"id": "nope"}));
    let bad = gql(
        p,
        "{ logsForRun(runId: \"x\", afterCursor: \"%%%\") { __typename } }",
        serde_json::json!({}),
    );
    assert_snapshot(
        &server,
        "logs_for_run_paged",
        serde_json::json!({"first": first, "second": second, "unknown": unknown, "badCursor": bad}),
    );

    // pipelineRunLogs over websocket (the UI's PipelineRunLogsSubscription): the finished
    // run's events, the same as logsForRun's, in one chunk; the subscription then stays open.
    let sub = format!(
        "subscription($id: ID!, $c: String) {{ pipelineRunLogs(runId: $id, cursor: $c) {{ __typename \
           ... on PipelineRunLogsSubscriptionSuccess {{ hasMorePastEvents cursor run {{ runId status }} messages {{ {EVENT_FIELDS} }} }} \
           ... on PipelineRunLogsSubscriptionFailure {{ message missingRunId }} }} }}"
    );
    let mut ws = common::ws_connect(p, "/graphql", &[]).unwrap();
    ws.init(serde_json::json!({}));
    ws.start("1", &sub, serde_json::json!({"id": failed}));
    let mut payload = ws.expect_data("1");
    let logs = &payload["data"]["pipelineRunLogs"];
    assert_eq!(logs["messages"].as_array().unwrap(), &events);
    assert_eq!(logs["cursor"], events_cursor);
    assert_eq!(logs["hasMorePastEvents"], false);
    ws.expect_silence(Duration::from_millis(500));
    ws.start("2", &sub, serde_json::json!({"id": "nope"}));
    let missing = ws.expect_data("2");
    assert_eq!(ws.expect()["type"], "complete");
    pid_event_first_after_launch(&mut payload["data"]["pipelineRunLogs"]["messages"]);
    assert_snapshot(
        &server,
        "pipeline_run_logs_subscription",
        serde_json::json!({"history": payload, "unknown": missing}),
    );

    // capturedLogs of the failed step, whole and in 2-byte pieces, and the /logs download
    let q = "query($k: [String!]!, $c: String, $l: Int) { capturedLogs(logKey: $k, cursor: $c, limit: $l) { logKey stdout stderr cursor } \
             capturedLogsMetadata(logKey: $k) { stdoutDownloadUrl stdoutLocation stderrDownloadUrl stderrLocation } }";
    let key = serde_json::json!([failed, "compute_logs", "b"]);
    let whole = gql(p, q, serde_json::json!({"k": key}));
    assert_eq!(whole["capturedLogs"]["stdout"], "out\n");
    let piece = gql(p, q, serde_json::json!({"k": key, "c": "1:0", "l": 2}));
    assert_eq!(piece["capturedLogs"]["stdout"], "ut");
    let url = whole["capturedLogsMetadata"]["stdoutDownloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = http(p, "GET", &url, &[], b"");
    assert_eq!((status, body.as_str()), (200, "out\n"));
    let via_run = gql(
        p,
        "query($id: ID!) { runOrError(runId: $id) { ... on Run { capturedLogs(fileKey: \"b\") { stdout } } } }",
        serde_json::json!({"id": failed}),
    );
    assert_eq!(via_run["runOrError"]["capturedLogs"]["stdout"], "out\n");
    assert_snapshot(
        &server,
        "captured_logs",
        serde_json::json!({"whole": whole, "piece": piece}),
    );
    for bad in [
        format!("/logs/{failed}/compute_logs/../out"),
        format!("/logs/{failed}/compute_logs/b/passwd"),
        "/logs/../../etc/passwd".to_string(),
        "/logs/..%2F..%2Fetc/compute_logs/passwd/out".to_string(),
        format!("/logs/{failed}/x/b/out"),
    ] {
        let (status, body) = http(p, "GET", &bad, &[], b"");
        assert!(status == 400 || status == 404, "{bad}: {status} {body}");
        assert!(!body.contains("root:"), "{bad}: {body}");
    }
    let (status, _) = http(p, "GET", "/logs/nope/compute_logs/b/err", &[], b"");
    assert_eq!(status, 404);

    // assets: the graph and the history
    let d = gql(
        p,
        "{ assetNodes(loadMaterializations: true) { id assetKey { path } dependencyKeys { path } dependedByKeys { path } \
             groupName opName opNames jobNames description(characterLimit: 5) computeKind kinds \
             owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } } \
             isMaterializable isObservable isExecutable isPartitioned hasMaterializePermission \
             repository { name location { name } } \
             assetMaterializations(limit: 1) { runId stepKey timestamp } } \
           group: assetNodes(group: {groupName: \"second\", repositoryName: \"__repository__\", repositoryLocationName: \"loc\"}) { id } \
           job: assetNodes(pipeline: {pipelineName: \"only_a\", repositoryName: \"__repository__\", repositoryLocationName: \"loc\"}) { id } \
           keys: assetNodes(assetKeys: [{path: [\"b\"]}]) { id } \
           node: assetNodeOrError(assetKey: {path: [\"a\"]}) { __typename ... on AssetNode { id } } }",
        serde_json::json!({}),
    );
    assert_snapshot(&server, "asset_nodes", d);
    let d = gql(
        p,
        "{ assetOrError(assetKey: {path: [\"a\"]}) { __typename ... on Asset { id key { path } latestMaterializationTimestamp \
             definition { id } \
             assetMaterializations(limit: 10) { __typename runId stepKey timestamp eventType label description \
               metadataEntries { __typename label ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text } } \
               runOrError { __typename ... on Run { jobName status } } \
               stepStats { stepKey status } } \
             none: assetMaterializations(beforeTimestampMillis: \"1000\") { runId } } } \
           missing: assetOrError(assetKey: {path: [\"nope\"]}) { __typename ... on AssetNotFoundError { message } } \
           catalog: assetsOrError { __typename ... on AssetConnection { cursor nodes { id key { path } } } } }",
        serde_json::json!({}),
    );
    assert_eq!(
        d["assetOrError"]["assetMaterializations"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{d}"
    );
    assert_snapshot(&server, "asset_or_error", d);

    // re-execution of the failed run: FROM_FAILURE (only b) and ALL_STEPS (a and b)
    let q = "mutation($p: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $p) { __typename \
             ... on LaunchRunSuccess { run { runId jobName stepKeysToExecute parentRunId rootRunId tags { key value } } } \
             ... on PythonError { message } } }";
    let from_failure = gql(
        p,
        q,
        serde_json::json!({"p": {"parentRunId": failed, "strategy": "FROM_FAILURE"}}),
    );
    let all_steps = gql(
        p,
        q,
        serde_json::json!({"p": {"parentRunId": failed, "strategy": "ALL_STEPS", "extraTags": [{"key": "x", "value": "y"}]}}),
    );
    let not_finished_or_ok = gql(
        p,
        q,
        serde_json::json!({"p": {"parentRunId": ok, "strategy": "FROM_FAILURE"}}),
    );
    let child = from_failure["launchRunReexecution"]["run"]["runId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        from_failure["launchRunReexecution"]["run"]["parentRunId"],
        failed.as_str()
    );
    wait_finished(p, &child);
    let all_child = all_steps["launchRunReexecution"]["run"]["runId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_finished(p, &all_child);
    assert_snapshot(
        &server,
        "launch_run_reexecution",
        serde_json::json!({"fromFailure": from_failure, "allSteps": all_steps, "succeededParent": not_finished_or_ok}),
    );
    // The older form the UI sends for "Selected step": executionParams naming the parent in
    // executionMetadata and the steps in stepKeys; an unknown step is an InvalidStepError.
    let q = "mutation($p: ExecutionParams!) { launchPipelineReexecution(executionParams: $p) { __typename \
             ... on LaunchRunSuccess { run { runId stepKeysToExecute parentRunId } } \
             ... on InvalidStepError { invalidStepKey } } }";
    let selected = |steps: serde_json::Value| {
        gql(
            p,
            q,
            serde_json::json!({"p": {"selector": {"jobName": "both", "repositoryLocationName": "loc", "repositoryName": "__repository__"},
                "executionMetadata": {"parentRunId": failed, "rootRunId": failed}, "stepKeys": steps}}),
        )["launchPipelineReexecution"]
            .clone()
    };
    let one = selected(serde_json::json!(["a"]));
    assert_eq!(
        one["run"]["stepKeysToExecute"],
        serde_json::json!(["a"]),
        "{one}"
    );
    assert_eq!(one["run"]["parentRunId"], failed.as_str(), "{one}");
    assert_eq!(
        wait_finished(p, one["run"]["runId"].as_str().unwrap()),
        "SUCCESS"
    );
    let unknown = selected(serde_json::json!(["nope"]));
    assert_eq!(
        unknown,
        serde_json::json!({"__typename": "InvalidStepError", "invalidStepKey": "nope"})
    );

    // deleteRun: the run, its events and its compute logs go
    let q = "mutation($id: String!) { deleteRun(runId: $id) { __typename ... on DeletePipelineRunSuccess { runId } ... on RunNotFoundError { message } } }";
    let first = gql(p, q, serde_json::json!({"id": child}));
    let again = gql(p, q, serde_json::json!({"id": child}));
    let after = gql(
        p,
        "query($id: ID!) { runOrError(runId: $id) { __typename } logsForRun(runId: $id) { __typename } }",
        serde_json::json!({"id": child}),
    );
    assert_eq!(after["runOrError"]["__typename"], "RunNotFoundError");
    let (status, _) = http(
        p,
        "GET",
        &format!("/logs/{child}/compute_logs/b/out"),
        &[],
        b"",
    );
    assert_eq!(status, 404, "compute logs of a deleted run are gone");
    assert_snapshot(
        &server,
        "delete_run",
        serde_json::json!({"first": first, "again": again, "after": after}),
    );
}

#[test]
fn launch_snapshots() {
    let server = start("", &[]); // QueuedRunCoordinator: runs stay QUEUED
    let p = server.port;
    let yaml = gql(
        p,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "both", "assetSelection": [{"path": ["a"]}]}, "runConfigData": "ops:\n  a:\n    config: {}\n", "mode": "default"}}),
    );
    let object = gql(
        p,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"pipelineName": "only_a", "repositoryLocationName": "loc", "repositoryName": "__repository__"}, "runConfigData": {"ops": {"a": {"config": {"k": [1, "two"]}}}}}}),
    );
    let inline = gql(
        p,
        "mutation { launchPipelineExecution(executionParams: {selector: {jobName: \"only_a\"}, runConfigData: {ops: {a: {config: {k: \"v\", n: 2, b: true}}}}}) { __typename ... on LaunchRunSuccess { run { status runConfigYaml } } } }",
        serde_json::json!({}),
    );
    let bad_config = gql(
        p,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "only_a"}, "runConfigData": {"ops": {"zzz": {}}}}}),
    );
    let unknown_job = gql(
        p,
        LAUNCH,
        serde_json::json!({"p": {"selector": {"jobName": "nope", "repositoryLocationName": "loc", "repositoryName": "__repository__"}}}),
    );
    assert_eq!(inline["launchPipelineExecution"]["run"]["status"], "QUEUED");
    // the queued runs plan to materialize `a` (three runs) and `b` (none: `both` ran with an
    // asset selection of `a` only)
    let d = gql(
        p,
        "{ assetsLatestInfo(assetKeys: [{path: [\"a\"]}, {path: [\"b\"]}]) { id assetKey { path } \
             unstartedRunIds inProgressRunIds latestRun { id } latestMaterialization { runId } } }",
        serde_json::json!({}),
    );
    assert_eq!(
        d["assetsLatestInfo"][0]["unstartedRunIds"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{d}"
    );
    assert_snapshot(&server, "assets_latest_info", d);
    assert_snapshot(
        &server,
        "launch_run",
        serde_json::json!({"yaml": yaml, "object": object, "inline": inline, "badConfig": bad_config, "unknownJob": unknown_job}),
    );

    let d = gql(
        p,
        "{ version instance { id info hasInfo runQueuingSupported runLauncher { name } \
             runQueueConfig { maxConcurrentRuns isOpConcurrencyAware } autoMaterializePaused supportsConcurrencyLimits \
             daemonHealth { id allDaemonStatuses { id daemonType required healthy lastHeartbeatTime lastHeartbeatErrors { message } } \
               backfill: daemonStatus(daemonType: \"BACKFILL\") { id required healthy } } } \
           permissions { permission value disabledReason } }",
        serde_json::json!({}),
    );
    let info = d["instance"]["info"].as_str().unwrap();
    assert!(info.contains("QueuedRunCoordinator"), "{info}");
    assert_snapshot(&server, "instance", d);

    let d = gql(
        p,
        "{ workspaceOrError { __typename ... on Workspace { id locationEntries { id name loadStatus \
             locationOrLoadError { __typename ... on RepositoryLocation { id name isReloadSupported \
               repositories { name origin { repositoryLocationName repositoryName } \
                 jobs { name isAssetJob } pipelines { name } \
                 assetNodes { id groupName } assetGroups { groupName assetKeys { path } } \
                 schedules { id name cronSchedule pipelineName executionTimezone mode \
                   scheduleState { id selectorId name instigationType status runningCount hasStartPermission } } \
                 sensors { id name sensorType minIntervalSeconds targets { pipelineName mode } \
                   sensorState { id selectorId status instigationType } } \
                 allTopLevelResourceDetails { name description resourceType isTopLevel configuredValues { key value type } } } } } } } } \
           locationStatusesOrError { __typename ... on WorkspaceLocationStatusEntries { entries { id name loadStatus } } } \
           repositoriesOrError { __typename ... on RepositoryConnection { nodes { name location { name } } } } }",
        serde_json::json!({}),
    );
    let text = d.to_string();
    assert!(
        !text.contains("hunter2"),
        "a resource secret was served: {text}"
    );
    assert!(text.contains("\"value\":\"***\""), "{text}");
    assert_snapshot(&server, "workspace", d);
}

/// The Dagster 1.13.27 UI's runs page query (compat doc §3.2: `RunsFeedRootQuery` with the
/// fragments it spreads, the `PartitionBackfill` ones included).
const RUNS_FEED_ROOT_QUERY: &str = "query RunsFeedRootQuery($limit: Int!, $cursor: String, $filter: RunsFilter, $view: RunsFeedView!) {
  runsFeedOrError(limit: $limit, cursor: $cursor, filter: $filter, view: $view) {
    ... on RunsFeedConnection { cursor hasMore results { id ...RunsFeedTableEntryFragment } }
    ...PythonErrorFragment
  }
}
fragment RunsFeedTableEntryFragment on RunsFeedEntry {
  __typename id runStatus creationTime startTime endTime tags { key value } jobName
  ... on Run {
    repositoryOrigin { id repositoryLocationName repositoryName }
    assetSelectionPreview: assetSelection(limit: 25) { ... on AssetKey { path } }
    assetSelectionCount
    assetCheckSelectionPreview: assetCheckSelection(limit: 25) { name assetKey { path } }
    assetCheckSelectionCount
    ...RunActionsMenuRunFragment
  }
  ... on PartitionBackfill {
    backfillStatus: status partitionSetName
    partitionSet { id ...PartitionSetForBackfillTableFragment }
    assetSelection { path }
    hasCancelPermission hasResumePermission isAssetBackfill numPartitions
    ...BackfillStepStatusDialogBackfillFragment
  }
}
fragment PartitionSetForBackfillTableFragment on PartitionSet {
  id name mode pipelineName repositoryOrigin { id repositoryName repositoryLocationName }
}
fragment BackfillStepStatusDialogBackfillFragment on PartitionBackfill {
  id partitionNames
  partitionSet { id mode name pipelineName repositoryOrigin { id repositoryName repositoryLocationName } }
}
fragment RunActionsMenuRunFragment on Run {
  id assetCheckSelectionCount tags { key value } hasReExecutePermission hasTerminatePermission
  hasDeletePermission canTerminate mode status pipelineName pipelineSnapshotId
  repositoryOrigin { id repositoryName repositoryLocationName } hasRunMetricsEnabled
}
fragment PythonErrorFragment on PythonError { message stack errorChain { ...PythonErrorChain } }
fragment PythonErrorChain on ErrorChainLink { isExplicitLink error { message stack } }";

/// The 1.13.27 UI's other runs feed query (`RunsFeedQuery` of the redesigned runs page).
const RUNS_FEED_QUERY: &str = "query RunsFeedQuery($limit: Int!, $cursor: String, $filter: RunsFilter, $view: RunsFeedView!) {
  runsFeedOrError(limit: $limit, cursor: $cursor, filter: $filter, view: $view) {
    ... on RunsFeedConnection { cursor hasMore results { ...RunsFeedEntryFragment } }
    ... on PythonError { message }
  }
}
fragment RunsFeedEntryFragment on RunsFeedEntry {
  __typename
  ... on Run { ...RunSummaryFragment }
  ... on PartitionBackfill { ...BackfillSummaryFragment }
}
fragment RunSummaryFragment on Run {
  id runId runStatus creationTime startTime endTime jobName mode pipelineSnapshotId
  repositoryOrigin { id repositoryName repositoryLocationName } tags { key value }
  parentRunId rootRunId assetSelectionPreview: assetSelection(limit: 25) { path } assetSelectionCount
  assetCheckSelectionPreview: assetCheckSelection(limit: 25) { assetKey { path } name }
  assetCheckSelectionCount hasReExecutePermission hasTerminatePermission hasDeletePermission
  canTerminate hasRunMetricsEnabled
}
fragment BackfillSummaryFragment on PartitionBackfill {
  id backfillStatus: status runStatus creationTime startTime endTime backfillJobName: jobName
  partitionSetName isAssetBackfill title user tags { key value } hasCancelPermission hasResumePermission
}";

/// The 1.13.27 UI's backfill lookups that reach this server although it has no backfills:
/// `InstanceWarningQuery` (every page), `RunningBackfillsNoticeQuery` (asset pages),
/// `CheckBackfillStatus` (re-executing a run of a backfill), the backfill row's and partitions
/// dialog's queries, and the backfills table's fragments.
const BACKFILL_QUERIES: &str = "query InstanceWarningQuery {
  instance { id ...InstanceHealthFragment }
  partitionBackfillsOrError(status: REQUESTED) { ... on PartitionBackfills { results { id } } }
}
fragment InstanceHealthFragment on Instance { id daemonHealth { id ...DaemonHealthFragment } hasInfo }
fragment DaemonHealthFragment on DaemonHealth { id allDaemonStatuses { id ...DaemonStatusForList } }
fragment DaemonStatusForList on DaemonStatus {
  id daemonType required healthy lastHeartbeatErrors { ...PythonErrorFragment } lastHeartbeatTime
}
query RunningBackfillsNoticeQuery {
  partitionBackfillsOrError(status: REQUESTED) {
    ... on PartitionBackfills { results { id partitionSetName assetSelection { path } } }
  }
}
query CheckBackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) { ... on PartitionBackfill { id status } }
}
query BackfillPartitionsDialogContentQuery($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) { ... on PartitionBackfill { id partitionNames } }
}
query SingleBackfillQuery($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    ... on PartitionBackfill { id cancelableRuns { id runId status } }
  }
}
query BackfillLookups($backfillId: String!) {
  notFound: partitionBackfillOrError(backfillId: $backfillId) {
    __typename ... on Error { message } ... on BackfillNotFoundError { backfillId }
    ... on PartitionBackfill { ...BackfillTableFragment }
  }
  filtered: partitionBackfillsOrError(cursor: \"x\", limit: 10, filters: {statuses: [REQUESTED, COMPLETED_SUCCESS], createdAfter: 1.5, selectorId: \"s\"}) {
    __typename ... on PartitionBackfills { results { ...BackfillTableFragment } } ...PythonErrorFragment
  }
}
fragment BackfillTableFragment on PartitionBackfill {
  id status isAssetBackfill isValidSerialization numPartitions timestamp partitionSetName
  partitionSet { id ...PartitionSetForBackfillTableFragment } assetSelection { path } tags { key value }
  error { ...PythonErrorFragment } ...BackfillActionsBackfillFragment
}
fragment BackfillActionsBackfillFragment on PartitionBackfill {
  id hasCancelPermission hasResumePermission isAssetBackfill status
  ...BackfillStepStatusDialogBackfillFragment ...BackfillTerminationDialogBackfillFragment
}
fragment BackfillTerminationDialogBackfillFragment on PartitionBackfill { id status isAssetBackfill }
fragment PartitionSetForBackfillTableFragment on PartitionSet {
  id name mode pipelineName repositoryOrigin { id repositoryName repositoryLocationName }
}
fragment BackfillStepStatusDialogBackfillFragment on PartitionBackfill {
  id partitionNames
  partitionSet { id mode name pipelineName repositoryOrigin { id repositoryName repositoryLocationName } }
}
fragment PythonErrorFragment on PythonError { message stack errorChain { ...PythonErrorChain } }
fragment PythonErrorChain on ErrorChainLink { isExplicitLink error { message stack } }";

/// Replaces the timestamp part of runs feed cursors (`<run id>::<backfill id>::<timestamp>`).
fn redact_feed_cursors(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                match val {
                    serde_json::Value::String(c) if k == "cursor" && c.contains("::") => {
                        if let Some((head, ts)) = c.rsplit_once("::") {
                            if !ts.is_empty() {
                                *c = format!("{head}::[timestamp]");
                            }
                        }
                    }
                    other => redact_feed_cursors(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_feed_cursors),
        _ => {}
    }
}

fn feed_ids(page: &serde_json::Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {page}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn runs_feed_snapshots() {
    let server = start("", &[]); // QueuedRunCoordinator without a daemon: runs stay QUEUED
    let p = server.port;
    let launch = |job: &str, tags: serde_json::Value| -> String {
        let mut selector = serde_json::json!({"jobName": job});
        if job == "both" {
            selector["assetSelection"] = serde_json::json!([{"path": ["a"]}, {"path": ["b"]}]);
        }
        let d = gql(
            p,
            LAUNCH,
            serde_json::json!({"p": {"selector": selector, "executionMetadata": {"tags": tags}}}),
        );
        assert_eq!(d["launchRun"]["__typename"], "LaunchRunSuccess", "{d}");
        d["launchRun"]["run"]["runId"].as_str().unwrap().to_string()
    };
    let tag = |k: &str, v: &str| serde_json::json!({"key": k, "value": v});
    let r1 = launch(
        "both",
        serde_json::json!([tag("n", "1"), tag("team", "data")]),
    );
    let r2 = launch(
        "both",
        serde_json::json!([
            tag("n", "2"),
            tag("team", "data"),
            tag("dagster/backfill", "bf1")
        ]),
    );
    let r3 = launch(
        "only_a",
        serde_json::json!([
            tag("n", "3"),
            tag("team", "dev"),
            tag(".dagster/note", "hidden")
        ]),
    );
    let r4 = launch(
        "only_a",
        serde_json::json!([
            tag("n", "4"),
            tag("team", "web"),
            tag("dagster/external_job_source", "AIRFLOW")
        ]),
    );

    // runsFeedOrError: ROOTS over two pages (and the empty third), RUNS, BACKFILLS, filters
    let q = "query($c: String, $view: RunsFeedView!, $limit: Int!, $f: RunsFilter) { \
               runsFeedOrError(limit: $limit, cursor: $c, view: $view, filter: $f) { __typename \
                 ... on RunsFeedConnection { cursor hasMore results { __typename id runStatus jobName tags { key value } \
                   ... on Run { runId creationTime } } } \
                 ... on PythonError { message } } }";
    let page = |c: Option<&str>, view: &str, limit: i64, f: serde_json::Value| {
        gql(
            p,
            q,
            serde_json::json!({"c": c, "view": view, "limit": limit, "f": f}),
        )["runsFeedOrError"]
            .clone()
    };
    let roots1 = page(None, "ROOTS", 2, serde_json::Value::Null);
    assert_eq!(feed_ids(&roots1), [r4.as_str(), r3.as_str()], "{roots1}");
    assert_eq!(roots1["hasMore"], true);
    let cursor1 = roots1["cursor"].as_str().unwrap().to_string();
    let (run_part, ts_part) = cursor1.split_once("::::").unwrap();
    assert_eq!(run_part, r3, "the cursor names the last run of the page");
    assert_eq!(
        ts_part.parse::<f64>().unwrap(),
        roots1["results"][1]["creationTime"].as_f64().unwrap(),
        "the cursor holds the last run's creation time"
    );
    let roots2 = page(Some(&cursor1), "ROOTS", 2, serde_json::Value::Null);
    assert_eq!(feed_ids(&roots2), [r1.as_str()], "{roots2}");
    assert_eq!(roots2["hasMore"], false);
    let roots3 = page(
        roots2["cursor"].as_str(),
        "ROOTS",
        2,
        serde_json::Value::Null,
    );
    assert_eq!(feed_ids(&roots3), Vec::<String>::new());
    assert_eq!(
        roots3["cursor"], roots2["cursor"],
        "an empty page keeps the cursor"
    );
    let runs = page(None, "RUNS", 30, serde_json::Value::Null);
    assert_eq!(
        feed_ids(&runs),
        [r4.as_str(), r3.as_str(), r2.as_str(), r1.as_str()]
    );
    assert_eq!(runs["hasMore"], false);
    // exactly one page's worth: no further page
    let runs_exact = page(None, "RUNS", 4, serde_json::Value::Null);
    assert_eq!(runs_exact["hasMore"], false);
    let backfills = page(None, "BACKFILLS", 30, serde_json::Value::Null);
    let team_data = serde_json::json!({"tags": [{"key": "team", "value": "data"}]});
    let roots_data = page(None, "ROOTS", 30, team_data.clone());
    assert_eq!(feed_ids(&roots_data), [r1.as_str()]);
    let runs_data = page(None, "RUNS", 30, team_data.clone());
    assert_eq!(feed_ids(&runs_data), [r2.as_str(), r1.as_str()]);
    let runs_only_a = page(
        None,
        "RUNS",
        1,
        serde_json::json!({"pipelineName": "only_a", "statuses": ["QUEUED"]}),
    );
    assert_eq!(feed_ids(&runs_only_a), [r4.as_str()]);
    assert_eq!(runs_only_a["hasMore"], true, "r3 is next");
    let succeeded = page(
        None,
        "ROOTS",
        30,
        serde_json::json!({"statuses": ["SUCCESS"]}),
    );
    // malformed cursors and limits are errors naming what was wrong; an unknown run is the end
    let bad_cursor = page(Some("not-a-cursor"), "ROOTS", 2, serde_json::Value::Null);
    assert_eq!(bad_cursor["__typename"], "PythonError");
    assert!(
        bad_cursor["message"]
            .as_str()
            .unwrap()
            .contains("\"not-a-cursor\""),
        "{bad_cursor}"
    );
    let bad_timestamp = page(Some("x::::soon"), "ROOTS", 2, serde_json::Value::Null);
    assert_eq!(bad_timestamp["__typename"], "PythonError");
    let unknown_run = page(Some("nope::::"), "ROOTS", 2, serde_json::Value::Null);
    assert_eq!(unknown_run["results"], serde_json::json!([]));
    let bad_limit = page(None, "ROOTS", -1, serde_json::Value::Null);
    assert_eq!(bad_limit["__typename"], "PythonError");
    let mut d = serde_json::json!({
        "roots1": roots1, "roots2": roots2, "roots3": roots3, "runs": runs, "backfills": backfills,
        "rootsTeamData": roots_data, "runsTeamData": runs_data, "runsOnlyA": runs_only_a,
        "succeeded": succeeded, "badCursor": bad_cursor, "badTimestamp": bad_timestamp,
        "unknownRun": unknown_run, "badLimit": bad_limit,
    });
    redact_feed_cursors(&mut d);
    assert_snapshot(&server, "runs_feed", d);

    // runsFeedCountOrError
    let d = gql(
        p,
        "query($f: RunsFilter) { \
           roots: runsFeedCountOrError(view: ROOTS) { __typename ... on RunsFeedCount { count } } \
           runs: runsFeedCountOrError(view: RUNS) { ... on RunsFeedCount { count } } \
           backfills: runsFeedCountOrError(view: BACKFILLS) { ... on RunsFeedCount { count } } \
           rootsTeamData: runsFeedCountOrError(view: ROOTS, filter: $f) { ... on RunsFeedCount { count } } \
           runsTeamData: runsFeedCountOrError(view: RUNS, filter: $f) { ... on RunsFeedCount { count } } \
           snapshot: runsFeedCountOrError(view: RUNS, filter: {snapshotId: \"x\"}) { ... on RunsFeedCount { count } } }",
        serde_json::json!({"f": team_data}),
    );
    assert_eq!(d["roots"]["count"], 3, "{d}");
    assert_eq!(d["runs"]["count"], 4, "{d}");
    assert_eq!(d["rootsTeamData"]["count"], 1, "{d}");
    assert_eq!(d["runsTeamData"]["count"], 2, "{d}");
    assert_snapshot(&server, "runs_feed_count", d);

    // runTagKeysOrError / runTagsOrError
    let d = gql(
        p,
        "{ runTagKeysOrError { __typename ... on RunTagKeys { keys } ... on PythonError { message } } \
           byKeys: runTagsOrError(tagKeys: [\"team\", \"n\"]) { __typename ... on RunTags { tags { key values } } } \
           prefix: runTagsOrError(tagKeys: [\"team\"], valuePrefix: \"d\") { ... on RunTags { tags { key values } } } \
           limited: runTagsOrError(tagKeys: [\"n\", \"team\"], limit: 5) { ... on RunTags { tags { key values } } } \
           all: runTagsOrError { ... on RunTags { tags { key values } } } \
           hidden: runTagsOrError(tagKeys: [\".dagster/note\"]) { ... on RunTags { tags { key values } } } \
           none: runTagsOrError(tagKeys: []) { ... on RunTags { tags { key } } } \
           zero: runTagsOrError(tagKeys: [\"team\"], limit: 0) { ... on RunTags { tags { key values } } } \
           badLimit: runTagsOrError(limit: -1) { __typename ... on PythonError { message } } }",
        serde_json::json!({}),
    );
    let keys = d["runTagKeysOrError"]["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k == "dagster/backfill"), "{d}");
    assert!(
        !d.to_string().contains("\".dagster/"),
        "hidden tags were served: {d}"
    );
    assert_eq!(
        d["prefix"]["tags"],
        serde_json::json!([{"key": "team", "values": ["data", "dev"]}])
    );
    assert_snapshot(&server, "run_tags", d);

    // the UI's RunsFeedRootQuery (its PartitionBackfill fragments included), RunsFeedQuery
    // and RunFeedTabsCountQuery validate and execute
    let root = gql(
        p,
        RUNS_FEED_ROOT_QUERY,
        serde_json::json!({"limit": 30, "view": "ROOTS", "filter": {}}),
    );
    let oldest = &root["runsFeedOrError"]["results"][2];
    assert_eq!(oldest["assetSelectionCount"], 2, "{root}");
    assert_eq!(
        oldest["assetSelectionPreview"],
        serde_json::json!([{"path": ["a"]}, {"path": ["b"]}])
    );
    let bad = gql(
        p,
        RUNS_FEED_ROOT_QUERY,
        serde_json::json!({"limit": 30, "view": "ROOTS", "cursor": "::"}),
    );
    let tabs = gql(
        p,
        "query RunFeedTabsCountQuery($queuedFilter: RunsFilter!, $inProgressFilter: RunsFilter!, $view: RunsFeedView!) { \
           queuedCount: runsFeedCountOrError(filter: $queuedFilter, view: $view) { ... on RunsFeedCount { count } } \
           inProgressCount: runsFeedCountOrError(filter: $inProgressFilter, view: $view) { ... on RunsFeedCount { count } } }",
        serde_json::json!({"queuedFilter": {"statuses": ["QUEUED"]}, "inProgressFilter": {"statuses": ["STARTED", "CANCELING"]}, "view": "ROOTS"}),
    );
    assert_eq!(tabs["queuedCount"]["count"], 3, "{tabs}");
    let backfills_view = gql(
        p,
        RUNS_FEED_ROOT_QUERY,
        serde_json::json!({"limit": 30, "view": "BACKFILLS"}),
    );
    assert_eq!(
        feed_ids(&backfills_view["runsFeedOrError"]),
        Vec::<String>::new()
    );
    let summaries = gql(
        p,
        RUNS_FEED_QUERY,
        serde_json::json!({"limit": 2, "view": "RUNS"}),
    );
    assert_eq!(
        feed_ids(&summaries["runsFeedOrError"]),
        [r4.as_str(), r3.as_str()]
    );
    let source = gql(
        p,
        "query($id: ID!) { runOrError(runId: $id) { ... on Run { externalJobSource } } }",
        serde_json::json!({"id": r4}),
    );
    assert_eq!(source["runOrError"]["externalJobSource"], "airflow");

    // the UI's backfill lookups: no backfill is ever found or listed
    let backfill = |op: &str, vars: serde_json::Value| gql_op(p, BACKFILL_QUERIES, Some(op), vars);
    let id = serde_json::json!({"backfillId": "bf1"});
    let warning = backfill("InstanceWarningQuery", serde_json::json!({}));
    assert_eq!(
        warning["partitionBackfillsOrError"],
        serde_json::json!({"results": []})
    );
    let lookups = backfill("BackfillLookups", id.clone());
    assert_eq!(
        lookups["notFound"],
        serde_json::json!({"__typename": "BackfillNotFoundError", "message": "Backfill bf1 could not be found.", "backfillId": "bf1"})
    );
    let backfills = serde_json::json!({
        "instanceWarning": warning["partitionBackfillsOrError"],
        "runningNotice": backfill("RunningBackfillsNoticeQuery", serde_json::json!({})),
        "checkStatus": backfill("CheckBackfillStatus", id.clone()),
        "partitionsDialog": backfill("BackfillPartitionsDialogContentQuery", id.clone()),
        "singleBackfill": backfill("SingleBackfillQuery", id),
        "lookups": lookups,
    });
    let mut d = serde_json::json!({
        "root": root,
        "badCursor": bad,
        "tabs": tabs,
        "backfillsView": backfills_view,
        "runsFeedQuery": summaries,
        "backfills": backfills,
    });
    redact_feed_cursors(&mut d);
    assert_snapshot(&server, "runs_feed_root_query", d);
}

/// Introspection of every type: kinds, fields with their types and arguments, input
/// fields, enum values, union members, interfaces.
const SCHEMA_INTROSPECTION: &str = "{ __schema { types { ...T } } } \
    fragment T on __Type { kind name \
      fields(includeDeprecated: true) { name type { ...R } args { name type { ...R } } } \
      inputFields { name type { ...R } } enumValues(includeDeprecated: true) { name } \
      possibleTypes { name } interfaces { name } } \
    fragment R on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// Differences from Dagster's schema that are deliberate: a job selector may leave out the
/// code location and repository (the job is then looked up in every loaded location).
const ALLOWED_DIFFERENCES: &[&str] = &[
    "JobOrPipelineSelector.repositoryName",
    "JobOrPipelineSelector.repositoryLocationName",
];

/// Fields of an introspected type by name (`fields` or `inputFields`), each with its type and
/// its arguments sorted by name.
fn fields_by_name(
    t: &serde_json::Value,
    key: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    t[key]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| {
                    let mut args: Vec<serde_json::Value> =
                        f["args"].as_array().cloned().unwrap_or_default();
                    args.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                    (
                        f["name"].as_str().unwrap().to_string(),
                        serde_json::json!({"type": f["type"], "args": args}),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn sorted_names(v: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every type this server serves is Dagster 1.13.27's, as introspected from the official
/// `dagster-graphql` schema in the test venv: same kind; every field we serve has Dagster's
/// type, nullability and arguments; unions, enums and interfaces have Dagster's members and
/// input objects Dagster's fields. Dagster has fields (and types) we do not serve; those are
/// allowed, the ones we do serve must be exact (the UI relies on their shape), apart from
/// [`ALLOWED_DIFFERENCES`].
#[test]
fn served_schema_matches_dagster() {
    let server = start("", &[]);
    let ours = gql(server.port, SCHEMA_INTROSPECTION, serde_json::json!({}));
    let mut python = Command::new(common::venv_python())
        .args([
            "-c",
            "import json, sys\n\
             from dagster_graphql.schema import create_schema\n\
             r = create_schema().execute(sys.stdin.read())\n\
             print(json.dumps({'data': r.data, 'errors': [str(e) for e in r.errors or []]}))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    python
        .stdin
        .take()
        .unwrap()
        .write_all(SCHEMA_INTROSPECTION.as_bytes())
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {:?}", out.status);
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs["errors"], serde_json::json!([]), "{theirs}");
    let by_name = |v: &serde_json::Value| -> std::collections::BTreeMap<String, serde_json::Value> {
        v["types"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| !t["name"].as_str().unwrap().starts_with("__"))
            .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
            .collect()
    };
    let (ours, theirs) = (
        by_name(&ours["__schema"]),
        by_name(&theirs["data"]["__schema"]),
    );
    assert!(ours.len() > 500, "only {} types served", ours.len());
    let mut problems = Vec::new();
    for (name, a) in &ours {
        let Some(b) = theirs.get(name) else {
            problems.push(format!("{name}: not a type of Dagster's"));
            continue;
        };
        if a["kind"] != b["kind"] {
            problems.push(format!(
                "{name}: {} here, {} in Dagster",
                a["kind"], b["kind"]
            ));
            continue;
        }
        for key in ["enumValues", "possibleTypes", "interfaces"] {
            // An interface's implementers: the ones of Dagster's that are served here.
            let mut theirs = sorted_names(&b[key]);
            if a["kind"] == "INTERFACE" && key == "possibleTypes" {
                theirs.retain(|t| ours.contains_key(t));
            }
            if sorted_names(&a[key]) != theirs {
                problems.push(format!(
                    "{name}.{key}: {:?} here, {theirs:?} in Dagster",
                    sorted_names(&a[key])
                ));
            }
        }
        let (our_fields, their_fields) = (fields_by_name(a, "fields"), fields_by_name(b, "fields"));
        for (field, sig) in &our_fields {
            match their_fields.get(field) {
                None => problems.push(format!("{name}.{field}: not in Dagster's schema")),
                Some(theirs) if theirs != sig => {
                    problems.push(format!("{name}.{field}: {sig} here, {theirs} in Dagster"))
                }
                Some(_) => {}
            }
        }
        let (our_inputs, their_inputs) = (
            fields_by_name(a, "inputFields"),
            fields_by_name(b, "inputFields"),
        );
        for field in our_inputs.keys().chain(their_inputs.keys()) {
            let id = format!("{name}.{field}");
            if our_inputs.get(field) != their_inputs.get(field)
                && !ALLOWED_DIFFERENCES.contains(&id.as_str())
            {
                problems.push(format!(
                    "input {id}: {:?} here, {:?} in Dagster",
                    our_inputs.get(field),
                    their_inputs.get(field)
                ));
            }
        }
    }
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} differences from Dagster's schema:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn no_unreferenced_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_string)
        })
        .collect();
    on_disk.sort();
    let mut named: Vec<String> = SNAPSHOTS.iter().map(|s| s.to_string()).collect();
    named.sort();
    assert_eq!(on_disk, named, "snapshot files vs SNAPSHOTS");
}

/// Seeded xorshift64*: the fuzz is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn percent_encode(b: &[u8]) -> String {
    b.iter()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                (*c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect()
}

/// One malformed or oversized request: `(method, path, headers, body)`.
fn malformed_request(rng: &mut Rng, i: usize) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\"query\"",
        ":",
        "\"",
        ",",
        "mutation",
        "query",
        "{ version }",
        "$x",
        "\\u0000",
        "variables",
        "null",
        "runConfigData",
        "launchRun",
        "...",
        "on",
        "@skip",
        "fragment",
        "__typename",
        "1e999",
        "-",
        "true",
        "#",
        "\"\"\"",
    ];
    const TYPES: &[&str] = &[
        "application/json",
        "application/graphql",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
        "",
    ];
    let kind = i % 10;
    let json = "application/json".to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    let (method, path, body): (&str, String, Vec<u8>) = match kind {
        // random bytes
        0 => {
            let n = rng.below(512);
            let body = (0..n).map(|_| (rng.next() & 0xff) as u8).collect();
            headers.push(("Content-Type".into(), rng.pick(TYPES).to_string()));
            ("POST", "/graphql".into(), body)
        }
        // broken JSON / GraphQL assembled from pieces
        1 | 2 => {
            let n = 1 + rng.below(60);
            let mut body = Vec::new();
            for _ in 0..n {
                body.extend_from_slice(rng.pick(PIECES).as_bytes());
            }
            // an unterminated list on a new line at the end (a `#` comment ends at the newline):
            // never a valid document or JSON value
            body.extend_from_slice(b"\n[");
            headers.push(("Content-Type".into(), rng.pick(TYPES).to_string()));
            ("POST", "/graphql".into(), body)
        }
        // deep nesting
        3 => {
            let depth = 41 + rng.below(20_000);
            let open = *rng.pick(&["{a", "[", "(x:", "{"]);
            let q = open.repeat(depth);
            let body = serde_json::json!({"query": q}).to_string().into_bytes();
            headers.push(("Content-Type".into(), json.clone()));
            ("POST", "/graphql".into(), body)
        }
        // oversized body (a Content-Length over the limit, sent in full)
        4 => {
            let body = vec![b'{'; 1024 * 1024 + 1 + rng.below(4096)];
            headers.push(("Content-Type".into(), json.clone()));
            ("POST", "/graphql".into(), body)
        }
        // unknown fields, wrong argument types, unknown types in fragments
        5 => {
            let q = *rng.pick(&[
                "{ nope }",
                "{ runsOrError(limit: \"x\") { __typename } }",
                "{ runOrError { __typename } }",
                "{ version { x } }",
                "{ ... on Nope { a } }",
                "mutation { launchRun(executionParams: {}) { __typename } }",
                "mutation { deleteRun(runId: 5) { __typename } }",
                "subscription { pipelineRunLogs(runId: \"x\") { __typename } }",
                "{ logsForRun(runId: \"x\", limit: 1.5) { __typename } }",
                "query Q { version } query Q { version }",
                "{ runsOrError(filter: {statuses: [NOPE]}) { __typename } }",
                "{ capturedLogs(logKey: null) { stdout } }",
            ]);
            let extra = rng.below(3);
            let body = match extra {
                0 => serde_json::json!({"query": q}),
                1 => {
                    serde_json::json!({"query": q, "unknownField": [1, 2], "extensions": {"a": 1}})
                }
                _ => serde_json::json!({"query": q, "operationName": "Missing"}),
            };
            headers.push(("Content-Type".into(), json.clone()));
            ("POST", "/graphql".into(), body.to_string().into_bytes())
        }
        // bad variables (each pair is invalid: wrong shape, wrong type, missing required)
        6 => {
            let run = "query($id: ID!) { runOrError(runId: $id) { __typename } }";
            let launch =
                "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename } }";
            let runs = "query($x: Int) { runsOrError(limit: $x) { __typename } }";
            let (q, vars) = rng
                .pick(&[
                    (run, serde_json::json!([1, 2])),
                    (run, serde_json::json!("not json")),
                    (run, serde_json::json!("[1]")),
                    (run, serde_json::json!(17)),
                    (run, serde_json::json!({"id": {"nested": true}})),
                    (run, serde_json::json!({"id": null})),
                    (run, serde_json::json!({})),
                    (launch, serde_json::json!({"p": {"selector": 5}})),
                    (launch, serde_json::json!({"p": {"selector": {"jobName": "x"}, "runConfigData": 12}})),
                    (launch, serde_json::json!({"p": {"selector": {"jobName": "x"}, "bogus": 1}})),
                    (runs, serde_json::json!({"x": "ten"})),
                    (runs, serde_json::json!({"x": 1e300})),
                ])
                .clone();
            let body = serde_json::json!({"query": q, "variables": vars}).to_string();
            headers.push(("Content-Type".into(), json.clone()));
            ("POST", "/graphql".into(), body.into_bytes())
        }
        // GET with bad query strings
        7 => {
            let n = 1 + rng.below(200);
            let raw: Vec<u8> = (0..n).map(|_| (rng.next() & 0xff) as u8).collect();
            let qs = match rng.below(4) {
                0 => format!("query={}", percent_encode(&raw)),
                1 => format!("query=%7Bversion%7D&variables={}", percent_encode(&raw)),
                2 => "query=%E0%A4%A&variables=%ZZ".to_string(),
                _ => format!("{}=1&&&=", percent_encode(&raw)),
            };
            ("GET", format!("/graphql?{qs}"), Vec::new())
        }
        // wrong methods and content types with a valid-looking body
        8 => {
            let method = *rng.pick(&["PUT", "DELETE", "PATCH", "POST"]);
            headers.push(("Content-Type".into(), rng.pick(TYPES).to_string()));
            (method, "/graphql".into(), b"{\"query\": 1}".to_vec())
        }
        // truncated UTF-8 / NUL bytes in a JSON string, or a broken /logs path
        _ => {
            if rng.below(2) == 0 {
                let mut body = b"{\"query\": \"{ version \xff\xfe\x00 }\"}".to_vec();
                body.truncate(5 + rng.below(body.len() - 5));
                headers.push(("Content-Type".into(), json.clone()));
                ("POST", "/graphql".into(), body)
            } else {
                let n = rng.below(40);
                let raw: Vec<u8> = (0..n).map(|_| (rng.next() & 0xff) as u8).collect();
                ("GET", format!("/logs/{}", percent_encode(&raw)), Vec::new())
            }
        }
    };
    (method.to_string(), path, headers, body)
}

#[test]
fn thousand_malformed_requests_get_4xx_with_a_body() {
    let server = start("", &[]);
    let p = server.port;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..1000 {
        let (method, path, headers, body) = malformed_request(&mut rng, i);
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, text) = http(p, &method, &path, &h, &body);
        let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).to_string();
        assert!(
            (400..500).contains(&status),
            "case {i} {method} {path} {shown:?}: {status} {text}"
        );
        assert!(!text.is_empty(), "case {i} {method} {path}: empty body");
        if path == "/graphql" && status != 405 {
            // GraphQL errors JSON, or the text/plain messages Dagster also answers with
            let json_errors = serde_json::from_str::<serde_json::Value>(&text)
                .is_ok_and(|v| v["errors"].is_array());
            assert!(
                json_errors
                    || text.contains("invalid JSON")
                    || text.contains("No GraphQL query found")
                    || text.contains("Invalid query string")
                    || text.contains("not UTF-8"),
                "case {i} {method} {shown:?}: {status} {text}"
            );
        }
    }
    let (status, _) = http(p, "GET", "/health", &[], b"");
    assert_eq!(status, 200, "the server survived");
    let log = std::fs::read_to_string(server.home.path().join("webserver.log")).unwrap();
    assert!(!log.contains("panicked"), "a handler panicked:\n{log}");
}

/// The launcher writes "Started process for run (pid: N)." right after spawning the worker, and the
/// worker writes its own first events at the same time (as in Dagster): which one lands first
/// depends on the machine's load. For a deterministic snapshot, that event is moved right after the
/// events written before the spawn (the first three), or to the front of a later page.
fn pid_event_first_after_launch(events: &mut serde_json::Value) {
    let Some(list) = events.as_array_mut() else {
        return;
    };
    let is_pid = |e: &serde_json::Value| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Started process for run"))
    };
    if let Some(i) = list.iter().position(is_pid) {
        let e = list.remove(i);
        let at = if list.len() > 3
            && list
                .first()
                .is_some_and(|f| f["eventType"] == "ASSET_MATERIALIZATION_PLANNED")
        {
            3
        } else {
            0
        };
        list.insert(at.min(list.len()), e);
    }
}
