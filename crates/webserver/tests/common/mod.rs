//! Helpers shared by the webserver test files that start `dagster-webserver` (and
//! `dagster-daemon`) as OS processes: free ports, raw HTTP, GraphQL calls, the binaries next to
//! the test's webserver binary, the Python virtualenv with the official client.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn webserver_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dagster-webserver"))
}

/// `dagster-webserver -p <port> -f <home>/pipeline.yaml <extra_args>` on the DAGSTER_HOME `home`
/// (no token, not read-only), its stderr to `<home>/webserver.log`.
pub fn pipeline_webserver(home: &Path, port: u16, extra_args: &[&str]) -> Command {
    let log = std::fs::File::create(home.join("webserver.log")).unwrap();
    let mut cmd = Command::new(webserver_bin());
    cmd.args(["-p", &port.to_string(), "-f"])
        .arg(home.join("pipeline.yaml"))
        .args(extra_args)
        .env("DAGSTER_HOME", home)
        .env_remove("DAGSTER_WEBSERVER_TOKEN")
        .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
        .current_dir(home)
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

/// A webserver of [`start_webserver`] on its own temp home; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub home: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts [`pipeline_webserver`] (with `env` set) on a new home holding `pipeline` and
/// `dagster_yaml`, and waits until it answers (under its `--path-prefix` if given).
pub fn start_webserver(
    pipeline: &str,
    dagster_yaml: &str,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("pipeline.yaml"), pipeline).unwrap();
    std::fs::write(home.path().join("dagster.yaml"), dagster_yaml).unwrap();
    let port = free_port();
    let mut cmd = pipeline_webserver(home.path(), port, extra_args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let server = Server { child, port, home };
    let prefix = extra_args
        .iter()
        .position(|a| *a == "--path-prefix")
        .and_then(|i| extra_args.get(i + 1))
        .copied()
        .unwrap_or("");
    wait_for_server_under(port, prefix, &server.home.path().join("webserver.log"));
    server
}

/// A workspace binary next to `dagster-webserver` (`dagster`, `dagster-daemon`).
pub fn sibling_bin(name: &str, package: &str) -> PathBuf {
    let bin = webserver_bin().with_file_name(name);
    assert!(
        bin.is_file(),
        "{} is missing: build it first with `cargo build -p {package}` (cargo nextest/test of the workspace builds it)",
        bin.display()
    );
    bin
}

/// The Python of the virtualenv with `dagster-graphql==1.13.27` (scripts/python-venv.sh).
pub fn venv_python() -> PathBuf {
    let venv = std::env::var("DAGSTER_GRAPHQL_VENV").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/python-venv"),
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/python-venv.sh (creates a virtualenv with dagster-graphql==1.13.27 from PyPI), or point DAGSTER_GRAPHQL_VENV at one",
        python.display()
    );
    python
}

/// A child process stopped on drop (SIGTERM, then SIGKILL after 10 s).
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
}

impl Proc {
    /// SIGTERM and wait (up to 10 s, then SIGKILL); returns the exit code (-1 if killed).
    pub fn stop(&mut self) -> i32 {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code().unwrap_or(-1);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code().unwrap_or(-1);
            }
            #[allow(clippy::disallowed_methods)] // a plain test thread
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        -1
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 100 ms until it is true; panics with `what` after `timeout` (a deadline,
/// not a timing assertion).
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        #[allow(clippy::disallowed_methods)] // a plain test thread
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request on a fresh connection; returns the status and the body (read until the
/// response is complete, chunked bodies decoded).
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(request_head(method, path, headers, body.len()).as_bytes())?;
    let _ = s.write_all(body); // the server may answer (413) before reading everything
                               // Read until the response is complete (Content-Length or the last chunk), not until EOF:
                               // a server that closes lazily must not slow the test down.
    let mut out: Vec<u8> = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if response_complete(&out) {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

/// True when `raw` holds a whole HTTP response.
fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= len;
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Waits (up to 30 s) until the webserver on `port` answers `/server_info`.
pub fn wait_for_server(port: u16, log: &Path) {
    wait_for_server_under(port, "", log);
}

/// [`wait_for_server`] for a webserver under the path prefix `prefix`.
pub fn wait_for_server_under(port: u16, prefix: &str, log: &Path) {
    let probe = format!("{prefix}/server_info");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = try_http(port, "GET", &probe, &[], b"") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "webserver did not answer /server_info within 30 s; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        #[allow(clippy::disallowed_methods)] // a plain test thread
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// POSTs a GraphQL request; returns the HTTP status and the JSON body.
pub fn gql(port: u16, query: &str, variables: serde_json::Value) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"query": query, "variables": variables}).to_string();
    let (status, text) = try_http(
        port,
        "POST",
        "/graphql",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

/// What a websocket read gave.
#[derive(Debug)]
pub enum Frame {
    Json(serde_json::Value),
    /// The server closed the connection (close frame or EOF).
    Closed,
    /// Nothing within the wait.
    Silent,
}

/// A blocking websocket client speaking the legacy `graphql-ws` protocol
/// (subscriptions-transport-ws), for the subscription tests.
pub struct WsClient {
    pub ws: tungstenite::WebSocket<TcpStream>,
    /// The `Sec-WebSocket-Protocol` the server chose.
    pub protocol: Option<String>,
}

/// Opens `ws://127.0.0.1:<port><path>` offering subprotocol `graphql-ws`, with extra headers.
/// A refused upgrade gives `Err((HTTP status, body))`.
pub fn ws_connect(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WsClient, (u16, String)> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{port}{path}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-ws".parse().unwrap());
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    match tungstenite::client(req, stream) {
        Ok((ws, resp)) => Ok(WsClient {
            ws,
            protocol: resp
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => Err((
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string(),
        )),
        Err(e) => panic!("websocket handshake with 127.0.0.1:{port}{path} failed: {e}"),
    }
}

impl WsClient {
    pub fn send_text(&mut self, text: &str) {
        self.ws.send(tungstenite::Message::text(text)).unwrap();
    }

    pub fn send(&mut self, v: serde_json::Value) {
        self.send_text(&v.to_string());
    }

    /// Sends connection_init with `payload` and expects connection_ack.
    pub fn init(&mut self, payload: serde_json::Value) {
        self.send(serde_json::json!({"type": "connection_init", "payload": payload}));
        let ack = self.expect();
        assert_eq!(
            ack,
            serde_json::json!({"type": "connection_ack"}),
            "expected connection_ack"
        );
    }

    /// Starts operation `id`.
    pub fn start(&mut self, id: &str, query: &str, variables: serde_json::Value) {
        self.send(serde_json::json!({"id": id, "type": "start", "payload": {"query": query, "variables": variables}}));
    }

    pub fn stop(&mut self, id: &str) {
        self.send(serde_json::json!({"id": id, "type": "stop"}));
    }

    /// The next frame within `wait` (pings and pongs are skipped).
    pub fn next_frame(&mut self, wait: Duration) -> Frame {
        self.ws.get_ref().set_read_timeout(Some(wait)).unwrap();
        loop {
            match self.ws.read() {
                Ok(tungstenite::Message::Text(t)) => {
                    return Frame::Json(
                        serde_json::from_str(&t)
                            .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {t}")),
                    )
                }
                Ok(tungstenite::Message::Close(_)) => return Frame::Closed,
                Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)) => continue,
                Ok(other) => panic!("unexpected websocket message {other:?}"),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Frame::Silent
                }
                Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ),
                ) => return Frame::Closed,
                Err(e) => panic!("websocket read failed: {e}"),
            }
        }
    }

    /// The next JSON frame (waits up to 30 s; panics otherwise).
    pub fn expect(&mut self) -> serde_json::Value {
        match self.next_frame(Duration::from_secs(30)) {
            Frame::Json(v) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next `data` payload of operation `id` (other frames fail the test).
    pub fn expect_data(&mut self, id: &str) -> serde_json::Value {
        let f = self.expect();
        assert_eq!(f["type"], "data", "expected data for {id}: {f}");
        assert_eq!(f["id"], id, "{f}");
        f["payload"].clone()
    }

    /// Asserts that no frame arrives within `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        match self.next_frame(wait) {
            Frame::Silent => {}
            other => panic!("expected no frame within {wait:?}, got {other:?}"),
        }
    }
}

/// An HTTP/1.1 request head (`Connection: close`).
fn request_head(method: &str, path: &str, headers: &[(&str, &str)], body_len: usize) -> String {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {body_len}\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// `dagster-daemon run` on `home` (its stderr to `log`), stopped on drop.
pub fn spawn_daemon(home: &Path, log: &Path) -> Proc {
    Proc {
        name: "dagster-daemon",
        child: std::process::Command::new(sibling_bin("dagster-daemon", "dagster-daemon"))
            .arg("run")
            .env("DAGSTER_HOME", home)
            .current_dir(home)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    }
}

/// One request on a fresh connection, read to the end: the status, the head (status line and
/// headers) and the raw body bytes (not chunked: for bodies with a Content-Length).
pub fn http_raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request_head(method, path, headers, body.len()).as_bytes())
        .unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("an HTTP status");
    (status, head, out[split + 4..].to_vec())
}

/// The defaults, as `--help` prints them.
pub fn help_defaults() -> std::collections::HashMap<String, u64> {
    let out = std::process::Command::new(webserver_bin())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    let mut defaults = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        let t = line.trim();
        if let Some(flag) = t.split_whitespace().find(|w| w.starts_with("--max-")) {
            current = Some(flag.trim_end_matches(',').to_string());
        }
        if let (Some(flag), Some(i)) = (&current, t.find("[default: ")) {
            let rest = &t[i + "[default: ".len()..];
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = n.parse() {
                defaults.insert(flag.clone(), n);
            }
            current = None;
        }
    }
    for flag in [
        "--max-query-fields",
        "--max-query-aliases",
        "--max-query-depth",
        "--max-query-list-limit",
        "--max-response-bytes",
        "--max-fields-in-flight",
    ] {
        assert!(defaults.contains_key(flag), "{flag} not in --help:\n{help}");
    }
    println!("defaults: {defaults:?}");
    defaults
}

/// The per-request cost lines of a webserver log written with
/// `--log-level info,dagster_webserver::cost=debug`: for each of `fields`, `aliases`, `depth`,
/// `list_limit`, `response_bytes`, the largest value and the operation that had it.
pub fn max_costs(log: &str) -> std::collections::HashMap<String, (u64, String)> {
    let mut max: std::collections::HashMap<String, (u64, String)> =
        std::collections::HashMap::new();
    for line in log.lines() {
        if !(line.contains("graphql request cost") || line.contains("graphql websocket answer")) {
            continue;
        }
        let op = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("op="))
            .unwrap_or("")
            .trim_matches('"')
            .to_string();
        for w in line.split_whitespace() {
            let Some((k, v)) = w.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else {
                continue;
            };
            let e = max.entry(k.to_string()).or_insert((0, String::new()));
            if v > e.0 {
                *e = (v, op.clone());
            }
        }
    }
    max
}
