//! Postgres `LISTEN`/`NOTIFY` wake-ups for the run queue.
//!
//! Storage sends `NOTIFY dagster_runs` (payload `<schema> <status> <run id>`) in the transaction
//! that makes a run QUEUED or CANCELING or finishes it (a slot freed for the queue), so it is delivered exactly when the change is visible
//! (after commit) and never for a rolled-back change. [`RunListener`] holds one plain
//! connection (the sync `postgres` crate: diesel cannot `LISTEN`) on its own OS thread and calls
//! a wake-up function for every notification of its schema. It reconnects with backoff (1 s up
//! to 30 s) when the connection is lost; meanwhile [`RunListener::is_connected`] is false and the
//! caller falls back to polling. SQLite has no notifications: callers poll.

use super::StorageBackend;
use postgres::fallible_iterator::FallibleIterator;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The notification channel (channels are per database, so the payload names the schema).
pub const RUN_CHANNEL: &str = "dagster_runs";

/// How long the listener waits for a notification before checking the connection.
const PING_INTERVAL: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A background `LISTEN` on [`RUN_CHANNEL`]; see the module docs.
#[derive(Debug, Clone)]
pub struct RunListener {
    connected: Arc<AtomicBool>,
}

impl RunListener {
    /// Starts listening on a Postgres backend (`None` for SQLite). `wake` is called from the
    /// listener's thread for each notification of this backend's schema, and once after every
    /// (re)connection (changes made while disconnected were not announced).
    pub fn spawn(
        backend: &StorageBackend,
        wake: impl Fn() + Send + 'static,
    ) -> std::io::Result<Option<RunListener>> {
        let StorageBackend::Postgres { url } = backend else {
            return Ok(None);
        };
        let url = url.clone();
        let target = backend.describe();
        let secrets = backend.secrets();
        let connected = Arc::new(AtomicBool::new(false));
        let flag = connected.clone();
        std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || listen_forever(&url, &target, &secrets, &flag, &wake))?;
        Ok(Some(RunListener { connected }))
    }

    /// Whether the `LISTEN` connection is up (notifications arrive).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

#[allow(clippy::disallowed_methods)] // a plain OS thread of its own, not a tokio worker
fn listen_forever(
    url: &str,
    target: &str,
    secrets: &[String],
    connected: &AtomicBool,
    wake: &dyn Fn(),
) {
    let mut backoff = Duration::from_secs(1);
    let mut was_up = false;
    loop {
        let err = listen_once(url, connected, wake, &mut backoff, &mut was_up);
        connected.store(false, Ordering::Relaxed);
        let mut message = err.to_string();
        for s in secrets {
            message = message.replace(s.as_str(), "***");
        }
        if was_up {
            tracing::warn!(storage = target, error = %message, "lost the LISTEN connection; polling until it is back, reconnecting in {} s", backoff.as_secs());
        } else {
            tracing::debug!(storage = target, error = %message, "cannot LISTEN; reconnecting in {} s", backoff.as_secs());
        }
        was_up = false;
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects, listens and forwards notifications until the connection fails.
fn listen_once(
    url: &str,
    connected: &AtomicBool,
    wake: &dyn Fn(),
    backoff: &mut Duration,
    was_up: &mut bool,
) -> postgres::Error {
    let mut run = || -> Result<std::convert::Infallible, postgres::Error> {
        let mut config = postgres::Config::from_str(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("dagster-rs-listen");
        let mut client = config.connect(postgres::NoTls)?;
        client.batch_execute(&format!("LISTEN {RUN_CHANNEL}"))?;
        let schema: Option<String> = client.query_one("SELECT current_schema()", &[])?.get(0);
        let prefix = format!("{} ", schema.unwrap_or_default());
        connected.store(true, Ordering::Relaxed);
        *backoff = Duration::from_secs(1);
        *was_up = true;
        tracing::debug!("listening for run queue notifications");
        wake();
        loop {
            {
                let mut notes = client.notifications();
                let mut it = notes.timeout_iter(PING_INTERVAL);
                while let Some(n) = it.next()? {
                    if n.payload().starts_with(&prefix) {
                        wake();
                    }
                }
            }
            // Quiet for a while: make sure the connection is still there.
            client.batch_execute("SELECT 1")?;
        }
    };
    match run() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}
