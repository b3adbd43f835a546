//! Batched event writing.
//!
//! Steps emit many small events; writing each in its own transaction would dominate the run
//! time of short steps. [`EventWriter`] collects events from every step (and from step threads
//! through the step logger) on a channel and a single background task stores them with one
//! [`EventLogStore::store_events`](crate::storage::EventLogStore::store_events) call per batch:
//!
//! * when [`BATCH_SIZE`] events are pending, or [`BATCH_INTERVAL`] after the first pending
//!   event, whichever comes first;
//! * at once for run-lifecycle events (RUN_START, RUN_SUCCESS...), so status changes are
//!   visible immediately, together with everything emitted before them;
//! * on [`EventWriter::flush`].
//!
//! Storage calls run on the blocking pool. Events keep their emission order. A storage error
//! is kept and returned by the next `flush`/`write_now` (the events of that batch are lost);
//! [`EventWriter::has_failed`] tells the executor to stop early.
//!
//! An optional [`RunObserver`] sees every event as it is emitted (the CLI prints live progress
//! with it). Run-lifecycle events are shown to it only once stored and not refused, so an
//! observer never sees a RUN_SUCCESS that storage rejected.

use super::{ExecError, Result};
use crate::domain::NewEvent;
use crate::storage::{Storage, StorageError, StoreOutcome};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Pending events that trigger a write.
pub const BATCH_SIZE: usize = 64;
/// Longest time an event waits before being written.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(50);

/// Sees every event of a run as it is emitted.
pub trait RunObserver: Send + Sync {
    fn on_event(&self, event: &NewEvent);
}

type FlushReply = oneshot::Sender<std::result::Result<StoreOutcome, StorageError>>;

enum Msg {
    Event(Box<NewEvent>),
    Flush(FlushReply),
    Close(oneshot::Sender<()>),
}

struct Inner {
    tx: mpsc::UnboundedSender<Msg>,
    observer: Option<Arc<dyn RunObserver>>,
    failed: Arc<AtomicBool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Batching event writer; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct EventWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter")
            .field("failed", &self.has_failed())
            .finish()
    }
}

impl EventWriter {
    /// Starts the background task (must be called inside a tokio runtime).
    pub fn new(storage: Arc<dyn Storage>, observer: Option<Arc<dyn RunObserver>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let failed = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run_task(storage, observer.clone(), rx, failed.clone()));
        EventWriter {
            inner: Arc::new(Inner {
                tx,
                observer,
                failed,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    /// Queues an event (never blocks). Run-lifecycle events are written at once.
    pub fn emit(&self, event: NewEvent) {
        let lifecycle = event.event_type.is_some_and(|t| t.is_run_status_event());
        if !lifecycle {
            if let Some(o) = &self.inner.observer {
                o.on_event(&event);
            }
        }
        if self.inner.tx.send(Msg::Event(Box::new(event))).is_err() {
            tracing::debug!("event emitted after the event writer stopped; dropped");
        }
    }

    /// Writes everything pending. Returns the run-status events refused since the last flush,
    /// or the storage error that lost events since then.
    pub async fn flush(&self) -> Result<StoreOutcome> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Flush(tx))
            .map_err(|_| ExecError::WriterClosed)?;
        match rx.await {
            Ok(r) => r.map_err(ExecError::Storage),
            Err(_) => Err(ExecError::WriterClosed),
        }
    }

    /// Emits an event and writes it with everything pending before it.
    pub async fn write_now(&self, event: NewEvent) -> Result<StoreOutcome> {
        self.emit(event);
        self.flush().await
    }

    /// True once a write has failed (storage unreachable...).
    pub fn has_failed(&self) -> bool {
        self.inner.failed.load(Ordering::SeqCst)
    }

    /// Writes what is pending and stops the background task. Later events are dropped.
    pub async fn close(&self) -> Result<()> {
        let result = self.flush().await.map(|_| ());
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Msg::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let task = self.inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        result
    }
}

struct TaskState {
    storage: Arc<dyn Storage>,
    observer: Option<Arc<dyn RunObserver>>,
    failed: Arc<AtomicBool>,
    pending: Vec<NewEvent>,
    /// Refusals since the last flush reply.
    rejected: Vec<(String, String, Option<crate::domain::RunStatus>)>,
    /// First storage error since the last flush reply.
    error: Option<StorageError>,
}

impl TaskState {
    async fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let storage = self.storage.clone();
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let r = span.in_scope(|| storage.store_events(&batch));
            (batch, r)
        })
        .await;
        match joined {
            Ok((batch, Ok(outcome))) => {
                if let Some(o) = &self.observer {
                    for e in batch
                        .iter()
                        .filter(|e| e.event_type.is_some_and(|t| t.is_run_status_event()))
                    {
                        let refused = outcome.rejected.iter().any(|(run_id, ty, _)| {
                            *run_id == e.run_id
                                && e.event_type
                                    .is_some_and(|t| t.name() == ty || t.stored_value() == ty)
                        });
                        if !refused {
                            o.on_event(e);
                        }
                    }
                }
                self.rejected.extend(outcome.rejected);
            }
            Ok((batch, Err(e))) => {
                tracing::error!(error = %e, events = batch.len(), "storing events failed; events lost");
                self.failed.store(true, Ordering::SeqCst);
                self.error.get_or_insert(e);
            }
            Err(e) => {
                tracing::error!(error = %e, "event writing task failed; events lost");
                self.failed.store(true, Ordering::SeqCst);
                self.error.get_or_insert(StorageError::Corrupt {
                    what: "event writer".into(),
                    message: format!("storage call did not complete: {e}"),
                });
            }
        }
    }

    fn take_reply(&mut self) -> std::result::Result<StoreOutcome, StorageError> {
        let rejected = std::mem::take(&mut self.rejected);
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(StoreOutcome {
                storage_ids: Vec::new(),
                rejected,
            }),
        }
    }
}

async fn run_task(
    storage: Arc<dyn Storage>,
    observer: Option<Arc<dyn RunObserver>>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    failed: Arc<AtomicBool>,
) {
    let mut st = TaskState {
        storage,
        observer,
        failed,
        pending: Vec::new(),
        rejected: Vec::new(),
        error: None,
    };
    let mut deadline = tokio::time::Instant::now();
    loop {
        let msg = if st.pending.is_empty() {
            rx.recv().await
        } else {
            tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(deadline) => {
                    st.write_pending().await;
                    continue;
                }
            }
        };
        match msg {
            None => {
                st.write_pending().await;
                return;
            }
            Some(Msg::Event(e)) => {
                let now = e.event_type.is_some_and(|t| t.is_run_status_event());
                if st.pending.is_empty() {
                    deadline = tokio::time::Instant::now() + BATCH_INTERVAL;
                }
                st.pending.push(*e);
                if now || st.pending.len() >= BATCH_SIZE {
                    st.write_pending().await;
                }
            }
            Some(Msg::Flush(reply)) => {
                st.write_pending().await;
                let _ = reply.send(st.take_reply());
            }
            Some(Msg::Close(done)) => {
                st.write_pending().await;
                let _ = done.send(());
                return;
            }
        }
    }
}
