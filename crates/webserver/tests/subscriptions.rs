#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a test failure
//! GraphQL subscriptions over websocket (compat doc §1.2, §3.4, §3.5) against a real
//! `dagster-webserver` process: the legacy `graphql-ws` protocol, `pipelineRunLogs` (stored
//! events in chunks, cursors, `HEAD`, live events one payload each on SQLite and Postgres,
//! unknown runs, stop), `capturedLogs` (existing bytes, appended bytes, completion), malformed
//! frames, token mode, read-only mode and the path prefix. Runs and events are written by the
//! test itself through `dagster_core` storage, the way a run worker writes them.

mod common;

use common::*;
use dagster_core::config::home::DagsterHome;
use dagster_core::domain::{EventType, NewEvent, NewRun, Run};
use dagster_core::exec::LogStream;
use dagster_core::instance::Instance;
use dagster_core::test_support::TestDb;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const RUN_LOGS: &str = "subscription($runId: ID!, $cursor: String) { pipelineRunLogs(runId: $runId, cursor: $cursor) { __typename \
    ... on PipelineRunLogsSubscriptionSuccess { hasMorePastEvents cursor run { runId status } \
        messages { __typename ... on MessageEvent { runId message eventType } } } \
    ... on PipelineRunLogsSubscriptionFailure { message missingRunId } } }";

const CAPTURED: &str = "subscription($k: [String!]!, $c: String) { capturedLogs(logKey: $k, cursor: $c) { logKey stdout stderr cursor } }";

/// A webserver process on a temporary DAGSTER_HOME (SQLite, or a Postgres schema of its own)
/// plus the test's own `Instance` on the same storage.
struct Env {
    _home: tempfile::TempDir,
    _db: Option<TestDb>,
    inst: Instance,
    port: u16,
    log: PathBuf,
    web: Proc,
}

fn start(postgres: bool, args: &[&str], env: &[(&str, &str)]) -> Env {
    let home = tempfile::tempdir().unwrap();
    let db = postgres.then(TestDb::postgres);
    if let Some(db) = &db {
        std::fs::write(
            home.path().join("dagster.yaml"),
            format!(
                "storage:\n  postgres:\n    postgres_url: \"{}\"\n",
                db.pg_url().unwrap()
            ),
        )
        .unwrap();
    }
    let inst = Instance::open(DagsterHome::new(home.path().to_path_buf())).unwrap();
    let port = free_port();
    let log = home.path().join("webserver.log");
    let mut cmd = Command::new(webserver_bin());
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .env("DAGSTER_HOME", home.path())
        .env_remove("DAGSTER_WEBSERVER_TOKEN")
        .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
        .env_remove("DAGSTER_UI_EVENT_LOAD_CHUNK_SIZE")
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
    let prefix = args
        .iter()
        .position(|a| *a == "--path-prefix")
        .map_or("", |i| args[i + 1]);
    wait_until("the webserver", Duration::from_secs(30), || {
        matches!(
            try_http(port, "GET", &format!("{prefix}/server_info"), &[], b""),
            Ok((200, _))
        )
    });
    Env {
        _home: home,
        _db: db,
        inst,
        port,
        log,
        web,
    }
}

impl Env {
    fn add_run(&self, job: &str) -> Run {
        self.inst
            .storage
            .add_run(NewRun {
                job_name: job.into(),
                ..Default::default()
            })
            .unwrap()
    }

    /// Writes events in one batch; returns their storage ids.
    fn write(&self, run: &Run, events: &[(Option<EventType>, &str)]) -> Vec<i64> {
        let batch: Vec<NewEvent> = events
            .iter()
            .map(|(t, m)| NewEvent::new(&run.run_id, &run.job_name, *t, *m))
            .collect();
        let out = self.inst.storage.store_events(&batch).unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        out.storage_ids
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn connect(&self) -> WsClient {
        let mut ws = ws_connect(self.port, "/graphql", &[]).unwrap();
        assert_eq!(ws.protocol.as_deref(), Some("graphql-ws"));
        ws.init(serde_json::json!({}));
        ws
    }
}

fn cursor(id: i64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(format!("{{\"type\": \"STORAGE_ID\", \"value\": {id}}}"))
}

fn messages(payload: &serde_json::Value) -> Vec<String> {
    payload["data"]["pipelineRunLogs"]["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {payload}"))
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_string())
        .collect()
}

fn logs_of(payload: &serde_json::Value) -> &serde_json::Value {
    assert!(payload.get("errors").is_none(), "{payload}");
    let p = &payload["data"]["pipelineRunLogs"];
    assert_eq!(p["__typename"], "PipelineRunLogsSubscriptionSuccess", "{p}");
    p
}

const SHORT: Duration = Duration::from_millis(700);

/// History in chunks (chunk size 3 via DAGSTER_UI_EVENT_LOAD_CHUNK_SIZE), a mid cursor, HEAD,
/// an unknown run, a bad cursor, stop, queries over the socket, and the protocol frames; the
/// server runs --read-only (subscriptions are reads).
#[test]
fn run_logs_history_cursors_and_protocol() {
    let env = start(
        false,
        &["--read-only"],
        &[("DAGSTER_UI_EVENT_LOAD_CHUNK_SIZE", "3")],
    );
    let run = env.add_run("job");
    let other = env.add_run("other");
    let texts: Vec<String> = (0..7).map(|i| format!("line {i}")).collect();
    let mut ids = Vec::new();
    for t in &texts {
        ids.extend(env.write(&run, &[(None, t)]));
        env.write(&other, &[(None, "noise")]);
    }
    let mut ws = env.connect();

    // Stored events: chunks of 3, 3, 1; the cursor is the last event's of each chunk.
    ws.start("1", RUN_LOGS, serde_json::json!({"runId": run.run_id}));
    let mut got = Vec::new();
    for (i, chunk) in [(0usize, 3usize), (3, 3), (6, 1)].iter().enumerate() {
        let p = ws.expect_data("1");
        let l = logs_of(&p);
        assert_eq!(messages(&p), texts[chunk.0..chunk.0 + chunk.1], "{p}");
        assert_eq!(l["hasMorePastEvents"], i < 2, "{p}");
        assert_eq!(l["cursor"], cursor(ids[chunk.0 + chunk.1 - 1]), "{p}");
        assert_eq!(l["run"]["runId"], run.run_id.as_str());
        assert_eq!(l["run"]["status"], "NOT_STARTED");
        assert_eq!(l["messages"][0]["__typename"], "LogMessageEvent");
        got.extend(messages(&p));
    }
    assert_eq!(got, texts);
    // The subscription stays open: no complete, no more frames.
    ws.expect_silence(SHORT);

    // A mid cursor: only what follows it.
    ws.start(
        "2",
        RUN_LOGS,
        serde_json::json!({"runId": run.run_id, "cursor": cursor(ids[4])}),
    );
    let p = ws.expect_data("2");
    assert_eq!(messages(&p), texts[5..7]);
    assert_eq!(logs_of(&p)["hasMorePastEvents"], false);
    // A bare storage id works too; at the end of the log: one payload with no messages.
    ws.start(
        "3",
        RUN_LOGS,
        serde_json::json!({"runId": run.run_id, "cursor": ids[6].to_string()}),
    );
    let p = ws.expect_data("3");
    assert!(messages(&p).is_empty(), "{p}");
    assert_eq!(logs_of(&p)["cursor"], cursor(ids[6]));
    // HEAD: nothing stored is sent.
    ws.start(
        "head",
        RUN_LOGS,
        serde_json::json!({"runId": run.run_id, "cursor": "HEAD"}),
    );
    ws.expect_silence(SHORT);

    // Unknown run: one Failure payload, then complete.
    ws.start("missing", RUN_LOGS, serde_json::json!({"runId": "nope"}));
    let p = ws.expect_data("missing");
    assert_eq!(
        p["data"]["pipelineRunLogs"],
        serde_json::json!({"__typename": "PipelineRunLogsSubscriptionFailure", "message": "Could not load run with id nope", "missingRunId": "nope"})
    );
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "missing"})
    );
    // A bad cursor: an error in the payload, then complete; the connection stays.
    ws.start(
        "bad",
        RUN_LOGS,
        serde_json::json!({"runId": run.run_id, "cursor": "%%%"}),
    );
    let p = ws.expect_data("bad");
    let msg = p["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("invalid event cursor"), "{p}");
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "bad"})
    );

    // Stop 1, 2, 3 (the others stay): a new event reaches "head" only.
    for id in ["1", "2", "3"] {
        ws.stop(id);
    }
    // The server handles a connection's messages in order: once a later query is answered, the
    // stops have taken effect (without this, the event below can race a stop).
    ws.start("sync", "{ version }", serde_json::json!(null));
    ws.expect_data("sync");
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "sync"})
    );
    let new_ids = env.write(&run, &[(None, "after stop")]);
    let p = ws.expect_data("head");
    assert_eq!(messages(&p), ["after stop"]);
    assert_eq!(logs_of(&p)["cursor"], cursor(new_ids[0]));
    ws.expect_silence(SHORT);

    // Queries and (refused, read-only) mutations run over the socket too: data, then complete.
    ws.start("q", "{ version }", serde_json::json!(null));
    assert_eq!(
        ws.expect_data("q"),
        serde_json::json!({"data": {"version": "1.13.27"}})
    );
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "q"})
    );
    ws.start(
        "m",
        "mutation { deletePipelineRun(runId: \"x\") { __typename } }",
        serde_json::json!({}),
    );
    assert_eq!(
        ws.expect_data("m")["data"]["deletePipelineRun"]["__typename"],
        "UnauthorizedError"
    );
    assert_eq!(ws.expect()["type"], "complete");

    // connection_terminate closes the socket.
    ws.send(serde_json::json!({"type": "connection_terminate"}));
    assert!(matches!(
        ws.next_frame(Duration::from_secs(10)),
        Frame::Closed
    ));
    assert!(env.log().contains("read-only"), "{}", env.log());
}

/// Frames that are not JSON, not a message, unknown, invalid or too deep: an `error` frame
/// each (with the id when there is one); the connection and the server keep working.
#[test]
fn malformed_frames_get_error_frames() {
    let env = start(false, &[], &[]);
    let mut ws = env.connect();
    let cases = [
        ("not json", None, "not JSON"),
        ("[1, 2]", None, "JSON object"),
        ("{\"type\": \"bogus\", \"id\": \"b\"}", Some("b"), "bogus"),
        ("{\"type\": \"start\", \"id\": \"s\"}", Some("s"), "payload"),
        (
            "{\"type\": \"start\", \"id\": \"v\", \"payload\": {\"query\": \"{ version }\", \"variables\": [1]}}",
            Some("v"),
            "variables",
        ),
        ("{\"type\": \"stop\"}", None, "id"),
    ];
    for (text, id, needle) in cases {
        ws.send_text(text);
        let f = ws.expect();
        assert_eq!(f["type"], "error", "{text}: {f}");
        assert_eq!(f.get("id").and_then(|v| v.as_str()), id, "{text}: {f}");
        let m = f["payload"][0]["message"].as_str().unwrap();
        assert!(m.contains(needle), "{text}: {m}");
    }
    // Too deep a query; then a query that does not validate (juniper's error frame).
    let deep = format!("{{ version {} }}", "{".repeat(60));
    ws.start("deep", &deep, serde_json::json!({}));
    let f = ws.expect();
    assert_eq!(f["type"], "error");
    assert!(f["payload"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nested too deeply"));
    ws.start("invalid", "subscription { nope }", serde_json::json!({}));
    let f = ws.expect();
    assert_eq!(
        (f["type"].as_str(), f["id"].as_str()),
        (Some("error"), Some("invalid")),
        "{f}"
    );
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "invalid"})
    );
    // Binary frames that are not UTF-8, and a ping.
    ws.ws
        .send(tungstenite::Message::Binary(vec![0xff, 0xfe].into()))
        .unwrap();
    assert_eq!(ws.expect()["type"], "error");
    ws.ws
        .send(tungstenite::Message::Ping(vec![1, 2, 3].into()))
        .unwrap();
    ws.ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    match ws.ws.read().unwrap() {
        tungstenite::Message::Pong(p) => assert_eq!(&p[..], &[1, 2, 3]),
        other => panic!("expected a pong, got {other:?}"),
    }
    // A repeated id is ignored while the first operation runs.
    let run = env.add_run("job");
    env.write(&run, &[(None, "one")]);
    ws.start("r", RUN_LOGS, serde_json::json!({"runId": run.run_id}));
    assert_eq!(messages(&ws.expect_data("r")), ["one"]);
    ws.start("r", RUN_LOGS, serde_json::json!({"runId": run.run_id}));
    ws.expect_silence(SHORT);
    // Still fine: the same connection answers, and so does HTTP.
    ws.start("q", "{ version }", serde_json::json!({}));
    assert_eq!(ws.expect_data("q")["data"]["version"], "1.13.27");
    let (status, v) = gql(env.port, "{ version }", serde_json::json!({}));
    assert_eq!(
        (status, v["data"]["version"].as_str()),
        (200, Some("1.13.27"))
    );
    // A frame larger than the limit closes this connection only.
    // (The server may close while the frame is still being written: any end counts, a
    // timeout does not.)
    let big = format!("{{\"type\": \"x\", \"pad\": \"{}\"}}", "a".repeat(2 << 20));
    let _ = ws.ws.send(tungstenite::Message::text(big));
    ws.ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loop {
        match ws.ws.read() {
            Ok(tungstenite::Message::Close(_)) => break,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the connection stayed open after an oversized frame")
            }
            Err(_) => break,
        }
    }
    let mut again = env.connect();
    again.start("q", "{ version }", serde_json::json!({}));
    assert_eq!(again.expect_data("q")["data"]["version"], "1.13.27");
    // Upgrades offering only another subprotocol are refused.
    let (status, _) = try_http(
        env.port,
        "GET",
        "/graphql",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Protocol", "graphql-transport-ws"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(status, 400);
}

/// Subscribed to a run, events written afterwards arrive one payload each, in order, with
/// their own cursor and the run's current status; after stop nothing more arrives.
fn live_events(postgres: bool) {
    let env = start(postgres, &[], &[]);
    let run = env.add_run("job");
    let first = env.write(&run, &[(None, "stored")]);
    let mut ws = env.connect();
    ws.start("live", RUN_LOGS, serde_json::json!({"runId": run.run_id}));
    let p = ws.expect_data("live");
    assert_eq!(messages(&p), ["stored"]);
    assert_eq!(logs_of(&p)["cursor"], cursor(first[0]));
    // A second subscription on the same connection, from HEAD.
    ws.start(
        "head",
        RUN_LOGS,
        serde_json::json!({"runId": run.run_id, "cursor": "HEAD"}),
    );
    ws.expect_silence(SHORT);

    // One batch of three (run starting/started, a log line) and then one more event.
    let batch = env.write(
        &run,
        &[
            (Some(EventType::RunStarting), "starting"),
            (Some(EventType::RunStart), "started"),
            (None, "working"),
        ],
    );
    let other = env.add_run("other");
    env.write(&other, &[(None, "noise")]);
    let last = env.write(&run, &[(Some(EventType::RunSuccess), "done")]);
    let expected: Vec<(i64, &str)> = batch
        .iter()
        .copied()
        .zip(["starting", "started", "working"])
        .chain([(last[0], "done")])
        .collect();
    let mut per_id: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    for _ in 0..expected.len() * 2 {
        let f = ws.expect();
        assert_eq!(f["type"], "data", "{f}");
        per_id
            .entry(f["id"].as_str().unwrap().to_string())
            .or_default()
            .push(f["payload"].clone());
    }
    for id in ["live", "head"] {
        let payloads = &per_id[id];
        assert_eq!(payloads.len(), expected.len(), "{id}: {payloads:?}");
        for (p, (sid, text)) in payloads.iter().zip(&expected) {
            assert_eq!(messages(p), [*text], "{id}: {p}");
            let l = logs_of(p);
            assert_eq!(l["cursor"], cursor(*sid), "{id}: {p}");
            assert_eq!(l["hasMorePastEvents"], false);
        }
        // The run is reloaded with the events: the last payload shows it finished.
        assert_eq!(
            logs_of(payloads.last().unwrap())["run"]["status"],
            "SUCCESS",
            "{id}"
        );
    }
    assert_eq!(
        per_id["live"][1]["data"]["pipelineRunLogs"]["messages"][0]["eventType"],
        "RUN_START"
    );
    // The finished run is still followed; stop ends that.
    ws.expect_silence(SHORT);
    ws.stop("live");
    let after = env.write(&run, &[(None, "late line")]);
    let p = ws.expect_data("head");
    assert_eq!(messages(&p), ["late line"]);
    assert_eq!(logs_of(&p)["cursor"], cursor(after[0]));
    ws.expect_silence(SHORT);
    ws.stop("head");
    env.write(&run, &[(None, "unheard")]);
    ws.expect_silence(SHORT);
    // Closing the socket ends the subscriptions; the server stays up.
    drop(ws);
    let (status, _) = gql(env.port, "{ version }", serde_json::json!({}));
    assert_eq!(status, 200, "{}", env.log());
}

#[test]
fn live_events_sqlite() {
    live_events(false);
}

#[test]
fn live_events_postgres() {
    live_events(true);
}

/// `capturedLogs`: what the files hold after the cursor, then each appended piece, and the
/// end of the stream once the capture is complete.
#[test]
fn captured_logs_follow_the_files() {
    let env = start(false, &[], &[]);
    let run = env.add_run("job");
    let logs = &env.inst.compute_logs;
    let out_path = logs.path(&run.run_id, "step", LogStream::Stdout);
    std::fs::create_dir_all(out_path.parent().unwrap()).unwrap();
    std::fs::write(&out_path, "hello\n").unwrap();
    let key = serde_json::json!([run.run_id, "compute_logs", "step"]);
    let mut ws = env.connect();
    ws.start("c", CAPTURED, serde_json::json!({"k": key}));
    let p = ws.expect_data("c");
    assert_eq!(
        p["data"]["capturedLogs"],
        serde_json::json!({"logKey": key, "stdout": "hello\n", "stderr": null, "cursor": "6:0"})
    );
    // Appends to both streams arrive as new pieces only.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&out_path)
        .unwrap()
        .write_all(b"more\n")
        .unwrap();
    let p = ws.expect_data("c");
    assert_eq!(p["data"]["capturedLogs"]["stdout"], "more\n");
    assert_eq!(p["data"]["capturedLogs"]["cursor"], "11:0");
    std::fs::write(logs.path(&run.run_id, "step", LogStream::Stderr), "oops\n").unwrap();
    let p = ws.expect_data("c");
    assert_eq!(p["data"]["capturedLogs"]["stderr"], "oops\n");
    assert_eq!(p["data"]["capturedLogs"]["stdout"], "");
    assert_eq!(p["data"]["capturedLogs"]["cursor"], "11:5");
    ws.expect_silence(SHORT);
    // Capture complete: the stream ends.
    logs.mark_complete(&run.run_id, "step").unwrap();
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "c"})
    );
    // From a cursor, on a complete capture: the rest, then complete.
    ws.start("c2", CAPTURED, serde_json::json!({"k": key, "c": "6:0"}));
    let p = ws.expect_data("c2");
    assert_eq!(p["data"]["capturedLogs"]["stdout"], "more\n");
    assert_eq!(
        ws.expect(),
        serde_json::json!({"type": "complete", "id": "c2"})
    );
    // A bad key or cursor: an error, then complete.
    ws.start("bad", CAPTURED, serde_json::json!({"k": ["x"]}));
    let p = ws.expect_data("bad");
    assert!(p["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown log key"));
    assert_eq!(ws.expect()["type"], "complete");
}

/// Token mode: a wrong header is refused with 401; without the header the token must come in
/// connection_init; a right header needs nothing more. Served under the path prefix.
#[test]
fn token_mode_and_path_prefix() {
    let env = start(
        false,
        &["--path-prefix", "/dagster"],
        &[("DAGSTER_WEBSERVER_TOKEN", "s3cret-token")],
    );
    let path = "/dagster/graphql";
    let (status, body) = ws_connect(env.port, path, &[("Authorization", "Bearer wrong")])
        .err()
        .unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("s3cret"), "{body}");
    // No header, no token in connection_init: connection_error, then the socket closes.
    let mut ws = ws_connect(env.port, path, &[]).unwrap();
    ws.send(serde_json::json!({"type": "connection_init", "payload": {}}));
    let f = ws.expect();
    assert_eq!(f["type"], "connection_error", "{f}");
    assert!(f["payload"]["message"]
        .as_str()
        .unwrap()
        .contains("Unauthorized"));
    assert!(!f.to_string().contains("s3cret"));
    assert!(matches!(
        ws.next_frame(Duration::from_secs(10)),
        Frame::Closed
    ));
    // A wrong token in connection_init: the same.
    let mut ws = ws_connect(env.port, path, &[]).unwrap();
    ws.send(
        serde_json::json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}),
    );
    assert_eq!(ws.expect()["type"], "connection_error");
    // Operations before connection_init are not run.
    let mut ws = ws_connect(env.port, path, &[]).unwrap();
    ws.start("early", "{ version }", serde_json::json!({}));
    ws.expect_silence(SHORT);
    // The token as connection params (how the UI passes its headers).
    ws.init(serde_json::json!({"Authorization": "Bearer s3cret-token"}));
    ws.start("q", "{ version }", serde_json::json!({}));
    assert_eq!(ws.expect_data("q")["data"]["version"], "1.13.27");
    let mut ws = ws_connect(env.port, path, &[]).unwrap();
    ws.init(serde_json::json!({"authorization": "Bearer s3cret-token"}));
    // The right header on the upgrade.
    let mut ws = ws_connect(env.port, path, &[("Authorization", "Bearer s3cret-token")]).unwrap();
    ws.init(serde_json::json!({}));
    let run = env.add_run("job");
    env.write(&run, &[(None, "hi")]);
    ws.start("r", RUN_LOGS, serde_json::json!({"runId": run.run_id}));
    assert_eq!(messages(&ws.expect_data("r")), ["hi"]);
    // Without the prefix there is no websocket route.
    let (status, _) = ws_connect(
        env.port,
        "/graphql",
        &[("Authorization", "Bearer s3cret-token")],
    )
    .err()
    .unwrap();
    assert_eq!(status, 404);
}

/// A stop signal closes open websockets (code 1001), so the graceful shutdown does not wait
/// for them; the process exits 0.
#[test]
fn sigterm_closes_open_subscriptions() {
    let mut env = start(false, &[], &[]);
    let run = env.add_run("job");
    let mut ws = env.connect();
    ws.start("1", RUN_LOGS, serde_json::json!({"runId": run.run_id}));
    ws.expect_data("1");
    let started = std::time::Instant::now();
    let code = env.web.stop();
    assert_eq!(code, 0, "{}", env.log());
    // Proc::stop escalates to SIGKILL after 10 s: well before that is the point.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?}\n{}",
        started.elapsed(),
        env.log()
    );
    ws.ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    match ws.ws.read() {
        Ok(tungstenite::Message::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), 1001)
        }
        other => panic!("expected a close frame (going away), got {other:?}"),
    }
}
