//! `/graphql` over HTTP (compat doc §1.1): POST JSON / `application/graphql`, GET with a query
//! string, GraphiQL for browsers; request size and nesting limits; captured log downloads.

use crate::cost::{self, LimitError};
use crate::gql::{
    inline_run_config_literals, nesting_depth, parse_variables, MAX_BODY_BYTES, MAX_QUERY_DEPTH,
};
use crate::schema::Ctx;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use juniper::futures::StreamExt;
use juniper::DefaultScalarValue;

pub use crate::auth::{check_token, check_token_or_login};
pub use crate::gql::Server;

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

/// The parts of a GraphQL request.
#[derive(Debug, Default)]
struct GqlRequest {
    query: Option<String>,
    variables: Option<serde_json::Value>,
    operation_name: Option<String>,
}

/// A GraphQL answer (`data`, and `errors` when there are any), serialized without an
/// intermediate `serde_json::Value` copy.
#[derive(serde::Serialize)]
struct Answer<'a> {
    data: &'a juniper::Value<DefaultScalarValue>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [juniper::ExecutionError<DefaultScalarValue>],
}

fn cost_error(e: &LimitError) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({
        "data": null,
        "errors": [e.to_graphql()],
    }))
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
    let op = req.operation_name.filter(|s| !s.is_empty());
    let costs = &server.costs;
    let analysis = match costs.admit(&server.schema, &query, op.as_deref(), &variables) {
        Ok(a) => a,
        Err(e) => return cost_error(&e),
    };
    let weight = analysis.as_ref().map_or(1, |a| a.cost.fields);
    // Waits for room in the fields-in-flight budget; held until the answer is serialized.
    let permit = match costs.in_flight.acquire(weight).await {
        Ok(p) => p,
        Err(e) => return cost_error(&e),
    };
    let ctx = Ctx {
        state: server.state.clone(),
    };
    let result = juniper::execute(&query, op.as_deref(), &server.schema, &variables, &ctx).await;
    let resolved = match (&result, &analysis) {
        (Ok((data, _)), Some(_)) if tracing::enabled!(target: cost::LOG_TARGET, tracing::Level::DEBUG) => {
            cost::count_values(data)
        }
        _ => 0,
    };
    let (status, body) = match &result {
        Ok((data, errors)) => {
            let status = if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            let answer = Answer { data, errors };
            (
                status,
                cost::serialize_bounded(&answer, costs.limits.max_response_bytes),
            )
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            cost::serialize_bounded(
                &serde_json::json!({ "data": null, "errors": e }),
                costs.limits.max_response_bytes,
            ),
        ),
    };
    drop(result);
    drop(permit);
    match body {
        Ok(bytes) => {
            if let Some(a) = &analysis {
                costs.record(a, resolved, bytes.len() as u64);
            }
            HttpResponse::build(status)
                .content_type("application/json")
                .body(bytes)
        }
        Err(cost::SerializeError::Limit(e)) => cost_error(&e),
        Err(cost::SerializeError::Json(e)) => {
            tracing::error!(error = %e, "cannot serialize a GraphQL answer");
            graphql_errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot serialize the answer: {e}"),
            )
        }
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
