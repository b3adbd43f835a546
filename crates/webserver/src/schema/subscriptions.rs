//! The `Subscription` root (compat doc §1.2, §3.4, §3.5), served over websocket by
//! [`crate::ws`]:
//!
//! * `pipelineRunLogs(runId, cursor)`: an unknown run gives one
//!   `PipelineRunLogsSubscriptionFailure` and the stream ends. Otherwise the stored events after
//!   `cursor` come first, in chunks of [`event_chunk_size`] (one payload per chunk,
//!   `hasMorePastEvents` true until the last; one payload with no messages when there are
//!   none), then one payload per new event, for as long as the client stays subscribed (also
//!   after the run finished). `cursor: "HEAD"` skips the stored events. New events are noticed
//!   through the shared event tailer ([`crate::tailer`]): the run's events are read only when
//!   the latest event id moved past what this subscription has seen.
//! * `capturedLogs(logKey, cursor)`: what the step's stdout/stderr files hold after `cursor`,
//!   then every newly appended piece (the files are checked every [`LOG_POLL_INTERVAL`]); the
//!   stream ends once the capture is complete and everything was sent.
//! * `locationStateChangeEvents`: `LOCATION_UPDATED` / `LOCATION_ERROR` for each location
//!   when the workspace is reloaded (`reloadRepositoryLocation`).
//!
//! The payload types reuse `DagsterRunEvent`, `Run`, `CapturedLogs` and the cursors of the
//! `logsForRun` / `capturedLogs` queries ([`super::logs`], [`super::runs`]).

use super::logs::{
    decode_cursor, encode_cursor, parse_log_cursor, read_captured, split_log_key, CapturedLogs,
    DagsterRunEvent, MAX_LOG_CHUNK,
};
#[allow(unused_imports)]
use super::prelude::*;
use super::runs::Run;
use super::types::PythonError;
use super::{blocking, with_storage, Ctx};
use crate::state::{AppState, LocationChange};
use dagster_core::domain::EventRecord;
use juniper::futures::stream::{self, BoxStream, StreamExt};
use juniper::{
    graphql_subscription, FieldError, FieldResult, GraphQLEnum, GraphQLObject, GraphQLUnion, Value,
    ID,
};
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Events per history payload: `DAGSTER_UI_EVENT_LOAD_CHUNK_SIZE` as in Dagster (default 1000,
/// clamped to 1..=10000).
pub fn event_chunk_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        std::env::var("DAGSTER_UI_EVENT_LOAD_CHUNK_SIZE")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(1000, |n| n.clamp(1, 10_000))
    })
}

/// How often a `capturedLogs` subscription looks at its files.
pub const LOG_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a run-log subscription waits before reading again after a storage error.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct PipelineRunLogsSubscriptionSuccess {
    pub run: Run,
    pub messages: Vec<DagsterRunEvent>,
    pub has_more_past_events: bool,
    pub cursor: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct PipelineRunLogsSubscriptionFailure {
    pub message: String,
    pub missing_run_id: Option<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum PipelineRunLogsSubscriptionPayload {
    PipelineRunLogsSubscriptionSuccess(PipelineRunLogsSubscriptionSuccess),
    PipelineRunLogsSubscriptionFailure(PipelineRunLogsSubscriptionFailure),
}

/// Dagster's variant names (`LOCATION_UPDATED`, …).
#[allow(clippy::enum_variant_names)]
#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum LocationStateChangeEventType {
    LocationUpdated,
    LocationDisconnected,
    LocationReconnected,
    LocationError,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct LocationStateChangeEvent {
    pub event_type: LocationStateChangeEventType,
    pub message: String,
    pub location_name: String,
    pub server_id: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct LocationStateChangeSubscription {
    pub event: LocationStateChangeEvent,
}

type Items<T> = BoxStream<'static, FieldResult<T>>;

fn field_error(e: PythonError) -> FieldError {
    FieldError::new(e.message, Value::null())
}

pub struct Subscription;

#[graphql_subscription]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl Subscription {
    /// A run's stored events after `cursor` in chunks, then each new event as it is written
    /// (`cursor: "HEAD"`: new events only).
    async fn pipeline_run_logs(
        ctx: &Ctx,
        run_id: ID,
        cursor: Option<String>,
    ) -> FieldResult<Items<PipelineRunLogsSubscriptionPayload>> {
        pipeline_run_logs(ctx, run_id.to_string(), cursor).await
    }

    /// A step's captured stdout/stderr after `cursor`, then each appended piece, until the
    /// capture is complete.
    async fn captured_logs(
        ctx: &Ctx,
        log_key: Vec<String>,
        cursor: Option<String>,
    ) -> FieldResult<Items<CapturedLogs>> {
        captured_logs(ctx, log_key, cursor)
    }

    /// Code location reloads.
    async fn location_state_change_events(
        ctx: &Ctx,
    ) -> BoxStream<'static, LocationStateChangeSubscription> {
        location_changes(ctx.state.location_events.subscribe())
    }
}

// ---------------------------------------------------------------------------------------------
// pipelineRunLogs

async fn pipeline_run_logs(
    ctx: &Ctx,
    run_id: String,
    cursor: Option<String>,
) -> FieldResult<Items<PipelineRunLogsSubscriptionPayload>> {
    // Subscribed before anything is read, so no change after the reads below is missed.
    let changes = ctx.state.latest_event.subscribe();
    let cursor = cursor.filter(|c| !c.trim().is_empty());
    let head = cursor.as_deref() == Some("HEAD");
    let after = match cursor.as_deref() {
        Some(c) if !head => Some(decode_cursor(c).map_err(|m| {
            FieldError::new(
                format!("pipelineRunLogs(runId: {run_id:?}): {m}"),
                Value::null(),
            )
        })?),
        _ => None,
    };
    let st = ctx.state.clone();
    let id = run_id.clone();
    let (run, latest) = blocking(move || {
        let run = st
            .instance
            .storage
            .get_run(&id)
            .map_err(|e| PythonError::from_error(&e))?;
        // For HEAD: everything up to the current end of the log counts as already seen.
        let latest = match (&run, head) {
            (Some(_), true) => st
                .instance
                .storage
                .latest_event_id()
                .map_err(|e| PythonError::from_error(&e))?,
            _ => None,
        };
        Ok((run, latest))
    })
    .await
    .map_err(field_error)?;
    let Some(run) = run else {
        let failure = PipelineRunLogsSubscriptionFailure {
            message: format!("Could not load run with id {run_id}"),
            missing_run_id: Some(run_id),
        };
        return Ok(stream::once(async move {
            Ok(PipelineRunLogsSubscriptionPayload::PipelineRunLogsSubscriptionFailure(failure))
        })
        .boxed());
    };
    let follower = RunLogs {
        state: ctx.state.clone(),
        run_id,
        run: Run::new(run),
        after: if head { latest } else { after },
        seen: if head { latest } else { None },
        history: !head,
        queue: VecDeque::new(),
        more: false,
        retry: false,
        changes,
    };
    Ok(stream::unfold(follower, |mut f| async move {
        let item = f.next().await?;
        Some((item, f))
    })
    .boxed())
}

/// The state of one `pipelineRunLogs` subscription.
struct RunLogs {
    state: Arc<AppState>,
    run_id: String,
    run: Run,
    /// Storage id of the last event sent (exclusive lower bound of the next read).
    after: Option<i64>,
    /// The latest event id of the whole log when this subscription last read its run.
    seen: Option<i64>,
    /// Still sending stored events in chunks.
    history: bool,
    /// New events read but not sent yet (one payload each).
    queue: VecDeque<EventRecord>,
    /// The last read filled a whole chunk: read again without waiting.
    more: bool,
    /// The last read failed: read again after [`RETRY_AFTER_ERROR`].
    retry: bool,
    changes: watch::Receiver<Option<i64>>,
}

impl RunLogs {
    async fn read(&self) -> Result<dagster_core::storage::EventPage, PythonError> {
        let st = self.state.clone();
        let id = self.run_id.clone();
        let after = self.after;
        blocking(move || {
            st.instance
                .storage
                .events_for_run(&id, after, event_chunk_size())
                .map_err(|e| PythonError::from_error(&e))
        })
        .await
    }

    /// Reloads the run (its status moves with the events); keeps the old one on errors or
    /// when the run was deleted meanwhile.
    async fn refresh_run(&mut self) {
        let id = self.run_id.clone();
        let res = with_storage(&self.state, move |s| s.get_run(&id)).await;
        if let Ok(Some(r)) = res {
            self.run = Run::new(r);
        }
    }

    fn success(
        &self,
        messages: Vec<EventRecord>,
        has_more_past_events: bool,
        cursor: Option<i64>,
    ) -> PipelineRunLogsSubscriptionPayload {
        PipelineRunLogsSubscriptionPayload::PipelineRunLogsSubscriptionSuccess(
            PipelineRunLogsSubscriptionSuccess {
                run: self.run.clone(),
                messages: messages
                    .into_iter()
                    .map(DagsterRunEvent::from_record)
                    .collect(),
                has_more_past_events,
                cursor: encode_cursor(cursor.unwrap_or(0)),
            },
        )
    }

    /// The next payload; `None` ends the stream (only when the server shuts down). A failed
    /// read is reported once (an error item) and retried every [`RETRY_AFTER_ERROR`].
    async fn next(&mut self) -> Option<FieldResult<PipelineRunLogsSubscriptionPayload>> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                let cursor = Some(ev.storage_id);
                return Some(Ok(self.success(vec![ev], false, cursor)));
            }
            if self.retry {
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
            } else if !self.history && !self.more {
                // Wait until the log grew past what this subscription has seen and read.
                loop {
                    let latest = *self.changes.borrow_and_update();
                    if latest != self.seen {
                        self.seen = latest;
                        if latest > self.after {
                            break;
                        }
                    }
                    if self.changes.changed().await.is_err() {
                        return None;
                    }
                }
            }
            match self.read().await {
                Ok(page) if self.history => {
                    self.retry = false;
                    self.after = page.cursor;
                    self.history = page.has_more;
                    return Some(Ok(self.success(page.events, page.has_more, page.cursor)));
                }
                Ok(page) => {
                    self.retry = false;
                    self.more = page.has_more;
                    self.after = page.cursor;
                    if !page.events.is_empty() {
                        self.queue.extend(page.events);
                        self.refresh_run().await;
                    }
                }
                Err(e) => {
                    let first = !self.retry;
                    self.retry = true;
                    if first {
                        tracing::warn!(run_id = %self.run_id, error = %e.message, "pipelineRunLogs: cannot read the run's events; retrying");
                        return Some(Err(field_error(e)));
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// capturedLogs

fn captured_logs(
    ctx: &Ctx,
    log_key: Vec<String>,
    cursor: Option<String>,
) -> FieldResult<Items<CapturedLogs>> {
    split_log_key(&log_key).map_err(field_error)?;
    let offsets = parse_log_cursor(cursor.as_deref()).map_err(field_error)?;
    let tail = LogTail {
        ctx: ctx.clone(),
        log_key,
        offsets,
        first: true,
        pending: true,
        done: false,
    };
    Ok(stream::unfold(tail, |mut t| async move {
        let item = t.next().await?;
        Some((item, t))
    })
    .boxed())
}

/// The state of one `capturedLogs` subscription.
struct LogTail {
    ctx: Ctx,
    log_key: Vec<String>,
    offsets: (u64, u64),
    /// Nothing sent yet: the first read is sent even when empty.
    first: bool,
    /// The last read returned data: read again at once.
    pending: bool,
    done: bool,
}

impl LogTail {
    async fn next(&mut self) -> Option<FieldResult<CapturedLogs>> {
        if self.done {
            return None;
        }
        loop {
            if !self.pending {
                tokio::time::sleep(LOG_POLL_INTERVAL).await;
            }
            let read =
                match read_captured(&self.ctx, self.log_key.clone(), self.offsets, MAX_LOG_CHUNK)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(field_error(e)));
                    }
                };
            let new_data = read.offsets != self.offsets;
            self.offsets = read.offsets;
            self.pending = new_data;
            if new_data || self.first {
                self.first = false;
                return Some(Ok(read.logs));
            }
            if read.complete {
                // The marker existed before this read, which found nothing new: all was sent.
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// locationStateChangeEvents

fn location_changes(
    rx: broadcast::Receiver<LocationChange>,
) -> BoxStream<'static, LocationStateChangeSubscription> {
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(c) => {
                    let event = LocationStateChangeEvent {
                        event_type: if c.error {
                            LocationStateChangeEventType::LocationError
                        } else {
                            LocationStateChangeEventType::LocationUpdated
                        },
                        message: c.message,
                        location_name: c.location_name,
                        server_id: None,
                    };
                    return Some((LocationStateChangeSubscription { event }, rx));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}
