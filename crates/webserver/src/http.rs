//! `/graphql` over HTTP (compat doc §1.1): POST JSON / `application/graphql`, GET with a query
//! string, GraphiQL for browsers; request size and nesting limits; captured log downloads.

use crate::schema::{Ctx, Schema};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use juniper::futures::StreamExt;
use juniper::{DefaultScalarValue, InputValue, Variables};
use std::sync::Arc;

pub use crate::auth::{check_token, check_token_or_login};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deepest accepted nesting of `{`, `[` and `(` in a query document.
pub const MAX_QUERY_DEPTH: usize = 40;

pub struct Server {
    pub state: Arc<AppState>,
    /// Built once, shared by the workers.
    pub schema: Arc<Schema>,
    /// `DAGSTER_WEBSERVER_TOKEN`, if set.
    pub token: Option<String>,
}

fn text(status: actix_web::http::StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}

fn graphql_errors(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "data": null,
        "errors": [{"message": message}],
    }))
}

/// Deepest nesting of `{`, `[`, `(` outside strings and comments.
pub fn nesting_depth(query: &str) -> usize {
    let b = query.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                if b[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 2;
                } else {
                    i += 1;
                    while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// The parts of a GraphQL request.
#[derive(Debug, Default)]
struct GqlRequest {
    query: Option<String>,
    variables: Option<serde_json::Value>,
    operation_name: Option<String>,
}

/// Objects given for `runConfigData` become their JSON text (see `RunConfigData`).
pub fn normalize_variables(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k == "runConfigData" && (val.is_object() || val.is_array()) {
                    *val = serde_json::Value::String(val.to_string());
                } else {
                    normalize_variables(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalize_variables),
        _ => {}
    }
}

/// `RunConfigData` is a string scalar and juniper refuses object literals for scalars, so an
/// object or list literal written inline for a `runConfigData:` argument field
/// (`runConfigData: {ops: {a: {config: {x: 1}}}}`) is rewritten into the equivalent JSON string
/// literal before parsing. Strings, block strings and comments are skipped; a variable inside
/// such a literal is an error (pass the whole config as a variable instead).
pub fn inline_run_config_literals(query: &str) -> Result<String, String> {
    const KEY: &[u8] = b"runConfigData";
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut i = 0usize;
    let mut copied = 0usize;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => i = skip_string(b, i),
            c if (c.is_ascii_alphabetic() || c == b'_')
                && b[i..].starts_with(KEY)
                && (i == 0 || !is_name_byte(b[i - 1]))
                && !b.get(i + KEY.len()).is_some_and(|c| is_name_byte(*c)) =>
            {
                let mut j = skip_ignored(b, i + KEY.len());
                if b.get(j) == Some(&b':') {
                    j = skip_ignored(b, j + 1);
                    if matches!(b.get(j), Some(b'{') | Some(b'[')) {
                        let mut p = LiteralParser { b, i: j };
                        let value = p.value(0)?;
                        let text = serde_json::Value::String(value.to_string()).to_string();
                        out.push_str(&query[copied..j]);
                        out.push_str(&text);
                        copied = p.i;
                        i = p.i;
                        continue;
                    }
                }
                i += KEY.len();
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&query[copied..]);
    Ok(out)
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Index just past the string (or block string) starting at `i`.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    if b[i..].starts_with(b"\"\"\"") {
        i += 3;
        while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        return (i + 3).min(b.len());
    }
    i += 1;
    while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(b.len())
}

/// Skips whitespace, commas and comments.
fn skip_ignored(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// A GraphQL value literal parser producing JSON (enum values become strings).
struct LiteralParser<'a> {
    b: &'a [u8],
    i: usize,
}

impl LiteralParser<'_> {
    fn err(&self, what: &str) -> String {
        format!("runConfigData literal: {what} at byte {}", self.i)
    }

    fn value(&mut self, depth: usize) -> Result<serde_json::Value, String> {
        if depth > MAX_QUERY_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.i = skip_ignored(self.b, self.i);
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.err("unexpected end of the query"));
        };
        match c {
            b'{' => {
                self.i += 1;
                let mut map = serde_json::Map::new();
                loop {
                    self.i = skip_ignored(self.b, self.i);
                    match self.b.get(self.i) {
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(serde_json::Value::Object(map));
                        }
                        Some(_) => {
                            let name = self.name()?;
                            self.i = skip_ignored(self.b, self.i);
                            if self.b.get(self.i) != Some(&b':') {
                                return Err(self.err("expected `:`"));
                            }
                            self.i += 1;
                            let v = self.value(depth + 1)?;
                            map.insert(name, v);
                        }
                        None => return Err(self.err("unterminated object")),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.i = skip_ignored(self.b, self.i);
                    match self.b.get(self.i) {
                        Some(b']') => {
                            self.i += 1;
                            return Ok(serde_json::Value::Array(items));
                        }
                        Some(_) => items.push(self.value(depth + 1)?),
                        None => return Err(self.err("unterminated list")),
                    }
                }
            }
            b'"' => {
                let start = self.i;
                let end = skip_string(self.b, start);
                self.i = end;
                let raw = std::str::from_utf8(&self.b[start..end])
                    .map_err(|_| self.err("invalid UTF-8"))?;
                if raw.starts_with("\"\"\"") {
                    let inner = raw
                        .get(3..raw.len().saturating_sub(3))
                        .ok_or_else(|| self.err("unterminated block string"))?;
                    return Ok(serde_json::Value::String(inner.replace("\\\"\"\"", "\"\"\"")));
                }
                serde_json::from_str::<String>(raw)
                    .map(serde_json::Value::String)
                    .map_err(|_| self.err("invalid string"))
            }
            b'$' => Err(self.err(
                "variables inside an inline runConfigData literal are not supported; pass the whole config as a variable",
            )),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.b.len()
                    && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                serde_json::from_str::<serde_json::Number>(text)
                    .map(serde_json::Value::Number)
                    .map_err(|_| self.err("invalid number"))
            }
            _ => {
                let name = self.name()?;
                Ok(match name.as_str() {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    "null" => serde_json::Value::Null,
                    _ => serde_json::Value::String(name),
                })
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.b.len() && is_name_byte(self.b[self.i]) {
            self.i += 1;
        }
        if start == self.i || self.b[start].is_ascii_digit() {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(&self.b[start..self.i]).into_owned())
    }
}

fn parse_variables(v: Option<serde_json::Value>) -> Result<Variables<DefaultScalarValue>, String> {
    let mut v = match v {
        None | Some(serde_json::Value::Null) => return Ok(Variables::new()),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => return Ok(Variables::new()),
        Some(serde_json::Value::String(s)) => serde_json::from_str::<serde_json::Value>(&s)
            .map_err(|e| format!("Variables are invalid JSON: {e}"))?,
        Some(other) => other,
    };
    if v.is_null() {
        return Ok(Variables::new());
    }
    if !v.is_object() {
        return Err("Variables must be a JSON object.".into());
    }
    normalize_variables(&mut v);
    let input: InputValue<DefaultScalarValue> =
        serde_json::from_value(v).map_err(|e| format!("Variables are invalid: {e}"))?;
    let mut out = Variables::new();
    if let InputValue::Object(fields) = input {
        for (k, val) in fields {
            out.insert(k.item, val.item);
        }
    }
    Ok(out)
}

async fn execute(server: &Server, req: GqlRequest) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Some(query) = req.query.filter(|q| !q.trim().is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "No GraphQL query found in the request",
        );
    };
    let depth = nesting_depth(&query);
    if depth > MAX_QUERY_DEPTH {
        return graphql_errors(
            StatusCode::BAD_REQUEST,
            &format!(
                "Query is nested too deeply ({depth} levels; the limit is {MAX_QUERY_DEPTH})."
            ),
        );
    }
    let query = match inline_run_config_literals(&query) {
        Ok(q) => q,
        Err(m) => return graphql_errors(StatusCode::BAD_REQUEST, &m),
    };
    let variables = match parse_variables(req.variables) {
        Ok(v) => v,
        Err(m) => return graphql_errors(StatusCode::BAD_REQUEST, &m),
    };
    let ctx = Ctx {
        state: server.state.clone(),
    };
    let op = req.operation_name.filter(|s| !s.is_empty());
    match juniper::execute(&query, op.as_deref(), &server.schema, &variables, &ctx).await {
        Ok((data, errors)) if errors.is_empty() => {
            HttpResponse::Ok().json(serde_json::json!({ "data": data }))
        }
        Ok((data, errors)) => HttpResponse::InternalServerError()
            .json(serde_json::json!({ "data": data, "errors": errors })),
        Err(e) => HttpResponse::BadRequest().json(serde_json::json!({ "data": null, "errors": e })),
    }
}

#[derive(serde::Deserialize, Default)]
struct QueryParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

fn from_query_string(req: &HttpRequest) -> Result<GqlRequest, Box<HttpResponse>> {
    let p = web::Query::<QueryParams>::from_query(req.query_string()).map_err(|e| {
        Box::new(text(
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("Invalid query string: {e}"),
        ))
    })?;
    let p = p.into_inner();
    Ok(GqlRequest {
        query: p.query,
        variables: p.variables.map(serde_json::Value::String),
        operation_name: p.operation_name,
    })
}

/// `GET /graphql`: a websocket upgrade goes to [`crate::ws`]; otherwise GraphiQL for
/// browsers, or a query from the query string.
pub async fn graphql_get(
    server: web::Data<Server>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    if crate::ws::is_upgrade(&req) {
        return crate::ws::graphql_ws(server, req, payload).await;
    }
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return crate::ui::graphiql(&server);
    }
    match from_query_string(&req) {
        Ok(g) => execute(&server, g).await,
        Err(r) => *r,
    }
}

#[derive(serde::Deserialize)]
struct JsonBody {
    query: Option<String>,
    variables: Option<serde_json::Value>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

/// The request body, at most [`MAX_BODY_BYTES`]; a larger one is answered 413 (and the rest
/// of it is not read: the connection is closed after the answer).
pub async fn read_body(
    req: &HttpRequest,
    payload: &mut web::Payload,
) -> Result<web::BytesMut, Box<HttpResponse>> {
    use actix_web::http::StatusCode;
    let too_large = || {
        Box::new(
            HttpResponse::PayloadTooLarge()
                .force_close()
                .json(serde_json::json!({
                    "data": null,
                    "errors": [{"message": format!("Request body is larger than {MAX_BODY_BYTES} bytes.")}],
                })),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(c) => {
                if body.len() + c.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&c);
            }
            Err(e) => {
                return Err(Box::new(text(
                    StatusCode::BAD_REQUEST,
                    format!("Could not read the request body: {e}"),
                )))
            }
        }
    }
    Ok(body)
}

pub async fn graphql_post(
    server: web::Data<Server>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let body = match read_body(&req, &mut payload).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let gql = if content_type.contains("application/json") {
        match serde_json::from_slice::<JsonBody>(&body) {
            Ok(b) => GqlRequest {
                query: b.query,
                variables: b.variables,
                operation_name: b.operation_name,
            },
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("GraphQL request is invalid JSON: {e}"),
                )
            }
        }
    } else if content_type.contains("application/graphql") {
        match String::from_utf8(body.to_vec()) {
            Ok(q) => GqlRequest {
                query: Some(q),
                ..Default::default()
            },
            Err(_) => return text(StatusCode::BAD_REQUEST, "GraphQL request is not UTF-8"),
        }
    } else {
        match from_query_string(&req) {
            Ok(g) => g,
            Err(r) => return *r,
        }
    };
    execute(&server, gql).await
}

/// `GET /logs/<run_id>/compute_logs/<file_key>/out|err`: a step's captured stdout/stderr as
/// an attachment (compat doc §1). Each path part must be a plain name (no `.`/`..`, separators
/// or NUL), and the file is resolved by the compute log manager, so nothing outside the
/// compute-log directory can be read. 404 when the file does not exist.
pub async fn logs_download(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    use actix_web::http::StatusCode;
    use dagster_core::exec::compute_logs::COMPUTE_LOGS_DIR;
    use dagster_core::exec::LogStream;
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let tail = req.match_info().get("tail").unwrap_or("");
    let parts: Vec<&str> = tail.split('/').collect();
    let bad = |why: &str| {
        text(
            StatusCode::BAD_REQUEST,
            format!("Invalid log path /logs/{tail}: {why}"),
        )
    };
    let [run_id, dir, file_key, ext] = parts.as_slice() else {
        return bad("expected /logs/<run id>/compute_logs/<file key>/out|err");
    };
    if *dir != COMPUTE_LOGS_DIR {
        return bad("expected /logs/<run id>/compute_logs/<file key>/out|err");
    }
    let stream = match *ext {
        "out" => LogStream::Stdout,
        "err" => LogStream::Stderr,
        _ => return bad("the last part must be `out` or `err`"),
    };
    for p in [run_id, file_key] {
        if p.is_empty() || *p == "." || *p == ".." || p.contains(['\\', '\0', '/']) {
            return bad("path parts must be plain names");
        }
    }
    let path = server
        .state
        .instance
        .compute_logs
        .path(run_id, file_key, stream);
    let filename = format!("{run_id}__{COMPUTE_LOGS_DIR}__{file_key}.{ext}")
        .replace(|c: char| c == '"' || c.is_control(), "_");
    let file = match web::block(move || std::fs::File::open(path)).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return text(
                StatusCode::NOT_FOUND,
                format!("No captured log at /logs/{tail}"),
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, path = %tail, "reading a compute log failed");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Cannot read /logs/{tail}: {e}"),
            );
        }
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("blocking task failed: {e}"),
            )
        }
    };
    // Streams the file in 64 KiB chunks read on the blocking pool.
    let body = juniper::futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let res = web::block(move || {
            use std::io::Read;
            let mut buf = vec![0u8; 64 * 1024];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match res {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(web::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
            Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
        }
    });
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .streaming(body)
}

/// Every unknown route or method: 404 with a GraphQL-style error body (never an empty answer).
/// The connection is closed after the answer, since the request body was not read.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound()
        .force_close()
        .json(serde_json::json!({
            "data": null,
            "errors": [{"message": format!("Not found: {} {}", req.method(), req.path())}],
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_strings_and_comments() {
        assert_eq!(nesting_depth("{ a { b } }"), 2);
        assert_eq!(nesting_depth("{ a(x: \"{{{{\") } # {{{{"), 2);
        assert_eq!(nesting_depth("{ a(x: \"\"\"{{{\"\"\") }"), 2);
        assert_eq!(nesting_depth(&"{".repeat(1000)), 1000);
    }

    #[test]
    fn inline_run_config_objects_become_strings() {
        let q = r#"mutation { launchRun(executionParams: {selector: {jobName: "j"}, runConfigData: {ops: {a: {config: {x: 1, y: "s}", z: [true, null, ENUM], w: -1.5e3}}}}}) { __typename } }"#;
        let out = inline_run_config_literals(q).unwrap();
        let expected = serde_json::json!({"ops": {"a": {"config": {"x": 1, "y": "s}", "z": [true, null, "ENUM"], "w": -1500.0}}}});
        let lit = serde_json::Value::String(expected.to_string()).to_string();
        assert!(out.contains(&format!("runConfigData: {lit}")), "{out}");
        assert!(out.ends_with("}) { __typename } }"), "{out}");
        // strings and comments are left alone; strings as values are untouched
        let q =
            "# runConfigData: {a: 1}\n{ f(x: \"runConfigData: {\", runConfigData: \"ops: {}\") }";
        assert_eq!(inline_run_config_literals(q).unwrap(), q);
        assert!(inline_run_config_literals("{ f(runConfigData: {a: $v}) }").is_err());
        assert!(inline_run_config_literals("{ f(runConfigData: {a: ").is_err());
        assert!(inline_run_config_literals(&format!(
            "{{ f(runConfigData: {}) }}",
            "[".repeat(100)
        ))
        .is_err());
    }

    #[test]
    fn run_config_objects_become_text() {
        let mut v = serde_json::json!({"p": {"runConfigData": {"ops": {}}, "x": 1}});
        normalize_variables(&mut v);
        assert_eq!(v["p"]["runConfigData"], "{\"ops\":{}}");
        let vars = parse_variables(Some(serde_json::json!("{\"a\": 1}"))).unwrap();
        assert!(vars.contains_key("a"));
        assert!(parse_variables(Some(serde_json::json!([1]))).is_err());
    }
}
