//! GraphQL over websocket on `/graphql` (compat doc §1.2): the legacy `graphql-ws` protocol of
//! `subscriptions-transport-ws`, which the Dagster UI speaks.
//!
//! The upgrade is answered with subprotocol `graphql-ws`. The protocol itself (`connection_init`
//! → `connection_ack`, `start` → `data`… `complete`, `stop`, `connection_terminate`) is
//! `juniper_graphql_ws`; this module feeds it frames and writes its answers, and adds what the
//! HTTP endpoint also enforces:
//!
//! * the access token (`DAGSTER_WEBSERVER_TOKEN`): a wrong `Authorization` header on the upgrade
//!   is refused with 401; without the header the token must come in the `connection_init`
//!   payload as `Authorization`/`authorization` (the UI passes its headers as connection
//!   params), otherwise the server answers `connection_error` and closes;
//! * the nesting limit and the inline `runConfigData` rewrite of `start` queries, and the
//!   frame size limit ([`MAX_BODY_BYTES`]);
//! * the cost limits ([`crate::cost`]): a `start` over a limit gets an `error` frame with the
//!   `QUERY_COST_LIMIT` error; a query or mutation holds its estimated fields in the
//!   fields-in-flight budget until it completes (a subscription waits for room to start but does
//!   not hold it: it lives as long as the page); an answer larger than `--max-response-bytes`
//!   is replaced by an `error` frame;
//! * frames that are not JSON, not a known message or not valid get an `error` frame (with the
//!   operation id when there is one); the connection stays open.
//!
//! No keep-alive (`ka`) frames are sent, as in Dagster; websocket pings are answered.

use crate::auth::token_matches;
use crate::cost::{self, LimitError};
use crate::gql::{
    inline_run_config_literals, nesting_depth, normalize_variables, Costs, Server, MAX_BODY_BYTES,
    MAX_QUERY_DEPTH,
};
use crate::schema::Ctx;
use crate::schema::Schema;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::AggregatedMessage;
use juniper::futures::{future, SinkExt, StreamExt};
use juniper::{DefaultScalarValue, ExecutionError, FieldError, Value, Variables};
use juniper_graphql_ws::graphql_ws::{ClientMessage, Connection, ServerMessage};
use juniper_graphql_ws::{ArcSchema, ConnectionConfig};
use std::pin::pin;
use std::time::Duration;

/// The subprotocol we speak.
pub const SUBPROTOCOL: &str = "graphql-ws";
/// Operations one connection may run at once.
pub const MAX_OPERATIONS: usize = 100;

/// True for a websocket upgrade request.
pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// The connection_init payload did not carry the token.
#[derive(Debug)]
struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unauthorized: this server requires the DAGSTER_WEBSERVER_TOKEN, as `Authorization: Bearer <token>` on the upgrade request or as `Authorization` in the connection_init payload")
    }
}

impl std::error::Error for Unauthorized {}

/// The token from a `connection_init` payload (`Authorization` or `authorization`, with or
/// without `Bearer `).
fn init_token(params: &Variables<DefaultScalarValue>) -> Option<String> {
    ["Authorization", "authorization"].iter().find_map(|k| {
        let v = params.get(*k)?.as_scalar()?;
        let s = juniper::ScalarValue::try_as_str(v)?;
        Some(s.strip_prefix("Bearer ").unwrap_or(s).trim().to_string())
    })
}

/// An `error` frame (the payload is a list of GraphQL errors, as juniper's own).
fn error_frame(id: Option<&str>, message: &str) -> String {
    error_frame_with(id, serde_json::json!({"message": message}))
}

fn error_frame_with(id: Option<&str>, error: serde_json::Value) -> String {
    let mut frame = serde_json::json!({"type": "error", "payload": [error]});
    if let Some(id) = id {
        frame["id"] = serde_json::Value::String(id.to_string());
    }
    frame.to_string()
}

/// The `error` frame of a `start` (or an answer) over a cost limit.
fn cost_error_frame(id: &str, e: &LimitError) -> String {
    error_frame_with(Some(id), e.to_graphql())
}

/// Parses one client frame; an error carries the operation id (if any) and the message.
fn parse_frame(text: &str) -> Result<ClientMessage<DefaultScalarValue>, (Option<String>, String)> {
    let mut v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| (None, format!("Invalid message: not JSON ({e})")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err((None, "Invalid message: expected a JSON object".into()));
    };
    let id = match obj.get("id") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => {
            // subscriptions-transport-ws ids are strings; take numbers as their text.
            let s = n.to_string();
            obj.insert("id".into(), serde_json::Value::String(s.clone()));
            Some(s)
        }
        _ => None,
    };
    let invalid = |m: String| (id.clone(), m);
    if obj.get("type").and_then(|t| t.as_str()) == Some("start") {
        let Some(payload) = obj.get_mut("payload").and_then(|p| p.as_object_mut()) else {
            return Err(invalid(
                "Invalid start message: `payload` must be an object".into(),
            ));
        };
        let Some(query) = payload.get("query").and_then(|q| q.as_str()) else {
            return Err(invalid(
                "Invalid start message: `payload.query` must be a string".into(),
            ));
        };
        let depth = nesting_depth(query);
        if depth > MAX_QUERY_DEPTH {
            return Err(invalid(format!(
                "Query is nested too deeply ({depth} levels; the limit is {MAX_QUERY_DEPTH})."
            )));
        }
        let query = inline_run_config_literals(query).map_err(invalid)?;
        payload.insert("query".into(), serde_json::Value::String(query));
        if let Some(vars) = payload.get_mut("variables") {
            if let serde_json::Value::String(s) = vars {
                *vars = if s.trim().is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_str(s).map_err(|e| {
                        invalid(format!(
                            "Invalid start message: variables are invalid JSON ({e})"
                        ))
                    })?
                };
            }
            if !(vars.is_object() || vars.is_null()) {
                return Err(invalid(
                    "Invalid start message: variables must be a JSON object".into(),
                ));
            }
            normalize_variables(vars);
        }
    }
    serde_json::from_value(v).map_err(|e| invalid(format!("Invalid message: {e}")))
}

/// `GET /graphql` with `Upgrade: websocket`.
pub async fn graphql_ws(
    server: web::Data<Server>,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    // With a token configured, a header that is present must be right; a missing one means
    // the token is expected in connection_init.
    // A browser signed in to the UI carries the session cookie instead.
    let mut authorized = server.token.is_none();
    if let Some(token) = server.token.as_deref() {
        match crate::auth::bearer(&req) {
            Some(Some(g)) if token_matches(g, token) => authorized = true,
            Some(_) => return crate::auth::unauthorized(),
            None => authorized = crate::auth::cookie_ok(&req, token),
        }
    }
    let offered: Vec<String> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .filter(|p| !p.is_empty())
        .collect();
    if !offered.is_empty() && !offered.iter().any(|p| p == SUBPROTOCOL) {
        return HttpResponse::BadRequest().json(serde_json::json!({
            "data": null,
            "errors": [{"message": format!(
                "Unsupported websocket subprotocol(s) {offered:?}: this server speaks `{SUBPROTOCOL}` (subscriptions-transport-ws)"
            )}],
        }));
    }
    let (response, session, messages) =
        match actix_ws::handle_with_protocols(&req, body, &[SUBPROTOCOL]) {
            Ok(parts) => parts,
            Err(e) => return e.error_response(),
        };
    let messages = messages
        .max_frame_size(MAX_BODY_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_BODY_BYTES);
    let ctx = Ctx {
        state: server.state.clone(),
    };
    let token = server.token.clone();
    let init = move |params: Variables<DefaultScalarValue>| {
        let ok = authorized
            || match (token.as_deref(), init_token(&params)) {
                (Some(t), Some(given)) => token_matches(&given, t),
                _ => false,
            };
        future::ready(if ok {
            Ok(ConnectionConfig::new(ctx)
                .with_keep_alive_interval(Duration::ZERO)
                .with_max_in_flight_operations(MAX_OPERATIONS)
                .with_panic_handler(|_, _: &Ctx| {
                    Some(ExecutionError::at_origin(FieldError::new(
                        "internal error while resolving this operation",
                        Value::null(),
                    )))
                }))
        } else {
            Err(Unauthorized)
        })
    };
    let connection = Connection::new(ArcSchema(server.schema.clone()), init);
    let shutdown = server.state.shutdown.subscribe();
    let limits = Limiter {
        schema: server.schema.clone(),
        costs: server.costs.clone(),
    };
    actix_web::rt::spawn(serve(connection, session, messages, shutdown, limits));
    response
}

/// What the cost limits of one connection need.
struct Limiter {
    schema: std::sync::Arc<Schema>,
    costs: std::sync::Arc<Costs>,
}

/// The operation ids of one connection: running ones, and stopped ones whose `complete` is
/// still to come (and to be dropped).
#[derive(Default)]
struct Operations {
    /// connection_init was received (before it, `start` is ignored by the protocol).
    initialized: bool,
    running: std::collections::HashSet<String>,
    stopped: std::collections::HashMap<String, usize>,
    /// The fields-in-flight permits of running queries and mutations.
    permits: std::collections::HashMap<String, tokio::sync::OwnedSemaphorePermit>,
}

impl Operations {
    fn started(&mut self, id: &str) {
        if self.initialized {
            self.running.insert(id.to_string());
        }
    }

    fn stopped(&mut self, id: &str) {
        self.permits.remove(id);
        if self.running.remove(id) {
            *self.stopped.entry(id.to_string()).or_default() += 1;
        }
    }

    /// A `complete` for `id` came from the protocol: whether to send it.
    fn completed(&mut self, id: &str) -> bool {
        self.permits.remove(id);
        if let Some(n) = self.stopped.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                self.stopped.remove(id);
            }
            return false;
        }
        self.running.remove(id);
        true
    }
}

/// Pumps one websocket connection: client frames into the protocol state machine, its
/// answers back to the client, until either side ends.
async fn serve<S, I>(
    connection: Connection<S, I>,
    session: actix_ws::Session,
    mut messages: actix_ws::AggregatedMessageStream,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    limiter: Limiter,
) where
    S: juniper_graphql_ws::Schema<ScalarValue = DefaultScalarValue>,
    I: juniper_graphql_ws::Init<DefaultScalarValue, S::Context> + Send,
{
    let (mut to_protocol, mut from_protocol) = connection.split();
    // juniper answers `stop` with a `complete` for that id; Dagster sends nothing more for a
    // stopped operation, so that `complete` is dropped. Both futures run on this one task.
    let ops = std::rc::Rc::new(std::cell::RefCell::new(Operations::default()));
    let ops_out = ops.clone();
    let mut out = session.clone();
    let max_bytes = limiter.costs.limits.max_response_bytes;
    let output = async move {
        while let Some(msg) = from_protocol.next().await {
            if let ServerMessage::Complete { id } = &msg {
                if !ops_out.borrow_mut().completed(id) {
                    continue;
                }
            }
            let text = match cost::serialize_bounded(&msg, max_bytes) {
                Ok(t) => {
                    if let ServerMessage::Data { id, .. } = &msg {
                        tracing::debug!(
                            target: cost::LOG_TARGET,
                            id = id.as_str(),
                            response_bytes = t.len(),
                            "graphql websocket answer"
                        );
                    }
                    String::from_utf8(t).unwrap_or_default()
                }
                Err(cost::SerializeError::Limit(e)) => match &msg {
                    ServerMessage::Data { id, .. } | ServerMessage::Error { id, .. } => {
                        cost_error_frame(id, &e)
                    }
                    _ => error_frame(None, &e.message()),
                },
                Err(cost::SerializeError::Json(e)) => {
                    tracing::error!(error = %e, "cannot serialize a websocket answer");
                    error_frame(None, &format!("cannot serialize the answer: {e}"))
                }
            };
            drop(msg);
            if out.text(text).await.is_err() {
                return;
            }
        }
    };
    let mut back = session.clone();
    let input = async move {
        while let Some(frame) = messages.next().await {
            let text = match frame {
                Ok(AggregatedMessage::Text(t)) => t.to_string(),
                Ok(AggregatedMessage::Binary(b)) => match String::from_utf8(b.to_vec()) {
                    Ok(t) => t,
                    Err(_) => {
                        if back
                            .text(error_frame(
                                None,
                                "Invalid message: binary frame is not UTF-8",
                            ))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                },
                Ok(AggregatedMessage::Ping(p)) => {
                    if back.pong(&p).await.is_err() {
                        return;
                    }
                    continue;
                }
                Ok(AggregatedMessage::Pong(_)) => continue,
                Ok(AggregatedMessage::Close(_)) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "websocket protocol error; closing");
                    break;
                }
            };
            match parse_frame(&text) {
                Ok(msg) => {
                    if let ClientMessage::Start { id, payload } = &msg {
                        if ops.borrow().initialized {
                            match admit(&limiter, payload).await {
                                Ok(Some(permit)) => {
                                    ops.borrow_mut().permits.insert(id.clone(), permit);
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    if back.text(cost_error_frame(id, &e)).await.is_err() {
                                        return;
                                    }
                                    continue;
                                }
                            }
                        }
                    }
                    match &msg {
                        // Messages are handled in order: a start after init runs (if the
                        // init is refused, the connection ends anyway).
                        ClientMessage::ConnectionInit { .. } => ops.borrow_mut().initialized = true,
                        ClientMessage::Start { id, .. } => ops.borrow_mut().started(id),
                        ClientMessage::Stop { id } => ops.borrow_mut().stopped(id),
                        _ => {}
                    }
                    let _ = to_protocol.send(msg).await;
                }
                Err((id, message)) => {
                    if back
                        .text(error_frame(id.as_deref(), &message))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = to_protocol.send(ClientMessage::ConnectionTerminate).await;
    };
    let stopping = async move {
        // An error means the state is gone: the process is ending too.
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let code = match future::select(future::select(pin!(input), pin!(output)), pin!(stopping)).await
    {
        future::Either::Left(_) => actix_ws::CloseCode::Normal,
        future::Either::Right(_) => actix_ws::CloseCode::Away,
    };
    let _ = session.close(Some(code.into())).await;
}

/// The cost check of a `start`: waits for room in the fields-in-flight budget; the permit is
/// kept for a query or mutation (until its `complete`), not for a subscription.
async fn admit(
    limiter: &Limiter,
    payload: &juniper_graphql_ws::graphql_ws::StartPayload<DefaultScalarValue>,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, LimitError> {
    let Some(analysis) = limiter.costs.admit(
        &limiter.schema,
        &payload.query,
        payload.operation_name.as_deref(),
        &payload.variables,
    )?
    else {
        return Ok(None);
    };
    limiter.costs.record(&analysis, 0, 0);
    let permit = limiter
        .costs
        .in_flight
        .acquire(analysis.cost.fields)
        .await?;
    Ok(match analysis.operation_type {
        Some(juniper::OperationType::Subscription) => None,
        _ => Some(permit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert!(matches!(
            parse_frame(r#"{"type":"connection_init","payload":{}}"#),
            Ok(ClientMessage::ConnectionInit { .. })
        ));
        assert!(matches!(
            parse_frame(r#"{"type":"start","id":1,"payload":{"query":"{ version }","variables":"{\"a\": 1}"}}"#),
            Ok(ClientMessage::Start { id, .. }) if id == "1"
        ));
        assert_eq!(parse_frame("nope").unwrap_err().0, None);
        assert_eq!(parse_frame("[1]").unwrap_err().0, None);
        let (id, m) = parse_frame(r#"{"type":"bogus","id":"7"}"#).unwrap_err();
        assert_eq!(id.as_deref(), Some("7"));
        assert!(m.contains("bogus"), "{m}");
        let deep = format!(
            r#"{{"type":"start","id":"d","payload":{{"query":"{}"}}}}"#,
            "{".repeat(100)
        );
        let (id, m) = parse_frame(&deep).unwrap_err();
        assert_eq!(id.as_deref(), Some("d"));
        assert!(m.contains("nested too deeply"), "{m}");
        assert!(parse_frame(
            r#"{"type":"start","id":"x","payload":{"query":"{ a }","variables":[1]}}"#
        )
        .is_err());
        let mut p = Variables::new();
        p.insert(
            "Authorization".into(),
            juniper::InputValue::scalar("Bearer abc"),
        );
        assert_eq!(init_token(&p).as_deref(), Some("abc"));
        // complete after stop is dropped once; starts before init are not tracked
        let mut ops = Operations::default();
        ops.started("early");
        ops.stopped("early");
        assert!(ops.completed("early"));
        ops.initialized = true;
        ops.started("a");
        ops.started("b");
        ops.stopped("a");
        ops.stopped("never-started");
        assert!(!ops.completed("a"));
        assert!(ops.completed("a"));
        assert!(ops.completed("b"));
        assert!(ops.completed("never-started"));
        assert_eq!(
            error_frame(Some("1"), "m"),
            r#"{"id":"1","payload":[{"message":"m"}],"type":"error"}"#
        );
    }
}
