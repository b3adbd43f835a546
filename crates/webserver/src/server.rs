//! What the route handlers share: the [`Server`] data every worker holds, the bounded request
//! body, and the answer to unknown routes.

use crate::cost::{IntrospectionSizes, Limits};
use crate::schema::Schema;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use juniper::futures::StreamExt;
use std::sync::Arc;

/// Largest accepted request body (and websocket frame).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct Server {
    pub state: Arc<AppState>,
    /// Built once, shared by the workers.
    pub schema: Arc<Schema>,
    /// `DAGSTER_WEBSERVER_TOKEN`, if set.
    pub token: Option<String>,
    /// What one GraphQL request may cost ([`crate::cost`]).
    pub limits: Limits,
    /// The schema's introspection list sizes, for [`crate::cost::analyze`].
    pub introspection: IntrospectionSizes,
    /// Permits for the estimated fields of the HTTP requests executing at once
    /// ([`Limits::max_fields_in_flight`]), shared by the workers.
    pub in_flight: Arc<tokio::sync::Semaphore>,
}

/// A plain-text answer.
pub fn text(status: actix_web::http::StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
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
