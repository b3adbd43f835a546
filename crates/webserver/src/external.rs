//! REST routes next to the GraphQL API, as Dagster's webserver has them:
//!
//! * `POST /report_asset_materialization/<asset key>` and `POST
//!   /report_asset_observation/<asset key>`: record a materialization or observation that
//!   happened outside any run (Dagster's runless events). The key is the path (`a/b` is
//!   `["a", "b"]`), or `asset_key` in the JSON body (a list) or in the query string (its JSON
//!   form); `partition`, `description`, `data_version` and `metadata` come from the JSON body or
//!   the query string (metadata as JSON there). The answer is `{}`, or 400/401 with
//!   `{"error": ...}`.
//! * `POST /report_asset_check/<asset key>`: asset checks do not exist here; answered 400 with
//!   the reason.
//! * `GET /download_debug/<run id>`: a gzip-compressed JSON file with the run, its tags and
//!   its whole event log (the UI's "Download debug file"; Dagster's file is a Python pickle,
//!   this one is JSON).

use crate::gql::Server;
use crate::http::{check_token, read_body};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use dagster_core::domain::{AssetKey, MetadataEntry, MetadataValue};
use std::io::Write;

fn error(status: actix_web::http::StatusCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({"error": message.into()}))
}

fn bad(message: impl Into<String>) -> HttpResponse {
    error(actix_web::http::StatusCode::BAD_REQUEST, message)
}

/// The query string's parameters, decoded.
fn query_params(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// The report's fields: JSON body first, then the query string.
struct Params {
    body: serde_json::Map<String, serde_json::Value>,
    query: Vec<(String, String)>,
}

impl Params {
    fn string(&self, key: &str) -> Option<String> {
        match self.body.get(key) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Null) | None => self
                .query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone()),
            Some(other) => Some(other.to_string()),
        }
    }

    /// `metadata`: an object in the body, or its JSON text in the query string.
    fn metadata(&self) -> Result<Vec<MetadataEntry>, String> {
        let value = match self.body.get("metadata") {
            Some(v) => v.clone(),
            None => match self.query.iter().find(|(k, _)| k == "metadata") {
                Some((_, text)) => serde_json::from_str(text)
                    .map_err(|e| format!("Error parsing metadata json: {e}"))?,
                None => return Ok(Vec::new()),
            },
        };
        let serde_json::Value::Object(map) = value else {
            return Err("metadata must be a JSON object of label → value".into());
        };
        Ok(map
            .into_iter()
            .map(|(label, v)| MetadataEntry::new(label, metadata_value(v)))
            .collect())
    }
}

/// A metadata value as given: a plain JSON value, or Dagster's `{"raw_value": ..., "type":
/// ...}` form (`url`, `path`, `md`/`markdown`, `timestamp`, `json`, `text`).
fn metadata_value(v: serde_json::Value) -> MetadataValue {
    use serde_json::Value as J;
    if let J::Object(o) = &v {
        if let (Some(raw), Some(J::String(ty))) = (o.get("raw_value"), o.get("type")) {
            let text = || match raw {
                J::String(s) => s.clone(),
                other => other.to_string(),
            };
            match ty.as_str() {
                "url" => return MetadataValue::Url(text()),
                "path" => return MetadataValue::Path(text()),
                "md" | "markdown" => return MetadataValue::Markdown(text()),
                "text" => return MetadataValue::Text(text()),
                "json" => return MetadataValue::Json(raw.clone()),
                "timestamp" => {
                    if let Some(t) = raw.as_f64() {
                        return MetadataValue::Timestamp(t);
                    }
                }
                _ => {}
            }
        }
    }
    match v {
        J::Bool(b) => MetadataValue::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => MetadataValue::Int(i),
            None => MetadataValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => MetadataValue::Text(s),
        other => MetadataValue::Json(other),
    }
}

/// Which runless event a route records.
#[derive(Clone, Copy)]
enum Report {
    Materialization,
    Observation,
}

async fn report(
    server: web::Data<Server>,
    req: HttpRequest,
    mut payload: web::Payload,
    kind: Report,
) -> HttpResponse {
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let route = match kind {
        Report::Materialization => "report_asset_materialization",
        Report::Observation => "report_asset_observation",
    };
    let body = match read_body(&req, &mut payload).await {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body = match content_type {
        None if body.is_empty() => serde_json::Map::new(),
        Some(ct) if ct.split(';').next().map(str::trim) == Some("application/json") => {
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(serde_json::Value::Object(o)) => o,
                Ok(_) => return bad("the JSON body must be an object"),
                Err(e) => return bad(format!("the body is not valid JSON: {e}")),
            }
        }
        other => {
            return bad(format!(
                "Unhandled content type {}, expect no body or application/json",
                other.unwrap_or("(none, with a body)")
            ))
        }
    };
    let params = Params {
        body,
        query: query_params(&req),
    };
    let from_path = req.match_info().get("key").filter(|k| !k.is_empty());
    let key = match (from_path, params.body.get("asset_key")) {
        (Some(path), _) => Some(AssetKey::from_user_string(path)),
        (None, Some(serde_json::Value::Array(parts))) => parts
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(AssetKey),
        (None, Some(_)) => return bad("asset_key in the body must be a list of strings"),
        (None, None) => match params.query.iter().find(|(k, _)| k == "asset_key") {
            Some((_, v)) => match AssetKey::from_db_string(v) {
                Some(k) => Some(k),
                None => {
                    return bad(format!(
                        "asset_key {v:?} in the query string is not a JSON list of strings"
                    ))
                }
            },
            None => None,
        },
    };
    let Some(key) = key.filter(|k| !k.0.is_empty() && k.0.iter().all(|p| !p.is_empty())) else {
        return bad(format!(
            "Empty asset key, must provide asset key as url path after /{route}/ or query param asset_key."
        ));
    };
    if server.state.read_only {
        return error(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Not authorized to report runless asset events.",
        );
    }
    let mut metadata = match params.metadata() {
        Ok(m) => m,
        Err(e) => return bad(e),
    };
    if let Some(v) = params.string("data_version") {
        metadata.push(MetadataEntry::new(
            "dagster/data_version",
            MetadataValue::Text(v),
        ));
    }
    let event = crate::schema::asset_catalog::runless_event(
        &key,
        matches!(kind, Report::Observation),
        params.string("partition"),
        params.string("description"),
        metadata,
    );
    let st = server.state.clone();
    match web::block(move || st.instance.storage.store_events(&[event])).await {
        Ok(Ok(_)) => HttpResponse::Ok().json(serde_json::json!({})),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "recording a reported asset event failed");
            error(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("Could not record the event: {e}"),
            )
        }
        Err(e) => error(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("blocking task failed: {e}"),
        ),
    }
}

pub async fn report_materialization(
    server: web::Data<Server>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    report(server, req, payload, Report::Materialization).await
}

pub async fn report_observation(
    server: web::Data<Server>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    report(server, req, payload, Report::Observation).await
}

/// `POST /report_asset_check/...`: there are no asset checks to report on.
pub async fn report_check(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    bad("Asset checks are not supported by this deployment: no check evaluation can be recorded.")
}

/// `GET /download_debug/<run id>`: the run and its events as gzip-compressed JSON.
pub async fn download_debug(server: web::Data<Server>, req: HttpRequest) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(r) = check_token(&server, &req) {
        return r;
    }
    let run_id = req.match_info().get("run_id").unwrap_or("").to_string();
    let st = server.state.clone();
    let id = run_id.clone();
    let res = web::block(move || -> Result<Option<Vec<u8>>, String> {
        let storage = &st.instance.storage;
        let Some(run) = storage.get_run(&id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let mut events = Vec::new();
        let mut after = None;
        loop {
            let page = storage
                .events_for_run(&id, after, 10_000)
                .map_err(|e| e.to_string())?;
            after = page.cursor;
            let more = page.has_more;
            events.extend(page.events);
            if !more {
                break;
            }
        }
        let payload = serde_json::json!({
            "format": "dagster-rs debug file 1",
            "dagster_version": crate::VERSION,
            "run": run,
            "events": events,
        });
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(payload.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        enc.finish().map(Some).map_err(|e| e.to_string())
    })
    .await;
    match res {
        Ok(Ok(Some(bytes))) => HttpResponse::Ok()
            .content_type("application/gzip")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.json.gz\"",
                    run_id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
                ),
            ))
            .body(bytes),
        Ok(Ok(None)) => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("Run {run_id} not found")),
        Ok(Err(e)) => HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR)
            .content_type("text/plain; charset=utf-8")
            .body(format!("Cannot build the debug file of run {run_id}: {e}")),
        Err(e) => HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR)
            .content_type("text/plain; charset=utf-8")
            .body(format!("blocking task failed: {e}")),
    }
}
