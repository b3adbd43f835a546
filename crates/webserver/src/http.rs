//! `/graphql` over HTTP (compat doc §1.1): POST JSON / `application/graphql`, GET with a query
//! string, GraphiQL for browsers; request size and nesting limits; the access token check.

use crate::schema::{Ctx, Schema};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use juniper::futures::StreamExt;
use juniper::{DefaultScalarValue, InputValue, Variables};
use std::sync::Arc;

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

fn eq_constant_time(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `None` when the request may proceed; otherwise the 401 answer.
pub fn check_token(server: &Server, req: &HttpRequest) -> Option<HttpResponse> {
    let token = server.token.as_deref()?;
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if eq_constant_time(g.as_bytes(), token.as_bytes()) => None,
        _ => Some(
            HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .json(serde_json::json!({
                    "data": null,
                    "errors": [{"message": "Unauthorized: this server requires `Authorization: Bearer <token>` (DAGSTER_WEBSERVER_TOKEN)"}],
                })),
        ),
    }
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
fn normalize_variables(v: &mut serde_json::Value) {
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

pub async fn graphql_get(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return graphiql(&req);
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

pub async fn graphql_post(
    server: web::Data<Server>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let too_large = || {
        graphql_errors(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request body is larger than {MAX_BODY_BYTES} bytes."),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(c) => {
                if body.len() + c.len() > MAX_BODY_BYTES {
                    return too_large();
                }
                body.extend_from_slice(&c);
            }
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("Could not read the request body: {e}"),
                )
            }
        }
    }
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

fn graphiql(req: &HttpRequest) -> HttpResponse {
    let path = req.path();
    let page = GRAPHIQL_HTML.replace("__GRAPHQL_PATH__", &path.replace(['"', '<', '>', '\\'], ""));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page)
}

pub async fn root(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let prefix = req.path().trim_end_matches('/').to_string();
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, format!("{prefix}/graphql")))
        .finish()
}

const GRAPHIQL_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dagster-webserver GraphiQL</title>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
<script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
<script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({ url: "__GRAPHQL_PATH__" });
  ReactDOM.createRoot(document.getElementById("graphiql"))
    .render(React.createElement(GraphiQL, { fetcher }));
</script>
</body>
</html>
"#;

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
    fn run_config_objects_become_text() {
        let mut v = serde_json::json!({"p": {"runConfigData": {"ops": {}}, "x": 1}});
        normalize_variables(&mut v);
        assert_eq!(v["p"]["runConfigData"], "{\"ops\":{}}");
        let vars = parse_variables(Some(serde_json::json!("{\"a\": 1}"))).unwrap();
        assert!(vars.contains_key("a"));
        assert!(parse_variables(Some(serde_json::json!([1]))).is_err());
    }
}
