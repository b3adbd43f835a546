//! The webserver's shared state: the instance, the run launcher and the loaded code
//! locations (behind a `RwLock`, replaced as a whole on reload).

use dagster_core::defs::Definitions;
use dagster_core::exec::RunSubmitter;
use dagster_core::instance::Instance;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Where the code locations are read from (the `-w` / `-f` flags).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub workspace_files: Vec<PathBuf>,
    pub pipeline_config: Option<PathBuf>,
}

/// One code location as the webserver sees it: loaded definitions or the load error.
#[derive(Debug, Clone)]
pub struct LocationEntry {
    pub name: String,
    pub defs: Result<Arc<Definitions>, String>,
    /// Unix seconds of the last (re)load.
    pub updated: f64,
}

pub struct AppState {
    pub instance: Instance,
    /// Where launched runs go (the instance's storage, run coordinator and launcher).
    pub runs: RunSubmitter,
    pub read_only: bool,
    /// `--path-prefix` without a trailing `/` (empty by default); used in URLs we return.
    pub path_prefix: String,
    pub sources: Sources,
    pub locations: RwLock<Vec<LocationEntry>>,
    /// The largest event storage id seen by the event tailer ([`crate::tailer`]); subscriptions
    /// `subscribe()` to it and look at their run only when it moves.
    pub latest_event: tokio::sync::watch::Sender<Option<i64>>,
    /// Code location changes (reloads), for `locationStateChangeEvents`.
    pub location_events: tokio::sync::broadcast::Sender<LocationChange>,
    /// Set to true when the process got a stop signal: open websocket connections close (the
    /// graceful shutdown would otherwise wait for them).
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// `--live-data-poll-rate` (ms), handed to the UI in `index.html`.
    pub live_data_poll_rate_ms: u32,
    /// The instance id shown by the UI, read once ([`AppState::run_storage_id`]).
    pub storage_id: std::sync::OnceLock<String>,
}

impl AppState {
    /// The storage's `run_storage_id`, read at the first call that finds it (the UI's
    /// instance id). `None` while storage cannot be read.
    pub fn run_storage_id(&self) -> Option<String> {
        if let Some(id) = self.storage_id.get() {
            return Some(id.clone());
        }
        match self.instance.storage.run_storage_id() {
            Ok(Some(id)) => Some(self.storage_id.get_or_init(|| id).clone()),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the instance's storage id");
                None
            }
        }
    }
}

/// What happened to a code location (`LocationStateChangeEvent`).
#[derive(Debug, Clone)]
pub struct LocationChange {
    pub location_name: String,
    /// True when the location failed to load.
    pub error: bool,
    pub message: String,
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A name for the whole workspace when it failed before any location name was known.
fn fallback_name(sources: &Sources) -> String {
    if let Some(p) = &sources.pipeline_config {
        return dagster_core::defs::locations::location_name_for_file(p);
    }
    sources
        .workspace_files
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "workspace".into())
}

/// Loads every code location (blocking: reads files). On failure the previous entries are
/// kept and marked with the error; with no previous entries one entry carries it.
pub fn load(sources: &Sources, previous: &[LocationEntry]) -> Vec<LocationEntry> {
    let at = now();
    match dagster_core::defs::locations::load_locations(
        &sources.workspace_files,
        sources.pipeline_config.as_deref(),
        dagster_pipeline::load_with_env,
    ) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            loaded
                .locations
                .into_iter()
                .map(|(name, defs)| LocationEntry {
                    name,
                    defs: Ok(Arc::new(defs)),
                    updated: at,
                })
                .collect()
        }
        Err(e) => {
            let message = e.to_string();
            tracing::error!("loading the code locations failed:\n{message}");
            if previous.is_empty() {
                vec![LocationEntry {
                    name: fallback_name(sources),
                    defs: Err(message),
                    updated: at,
                }]
            } else {
                previous
                    .iter()
                    .map(|p| LocationEntry {
                        name: p.name.clone(),
                        defs: Err(message.clone()),
                        updated: at,
                    })
                    .collect()
            }
        }
    }
}

impl AppState {
    /// A snapshot of the current locations (cheap: definitions are shared).
    pub fn locations(&self) -> Vec<LocationEntry> {
        match self.locations.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the locations and announces each one to `locationStateChangeEvents`
    /// subscribers (nobody listening is fine).
    pub fn set_locations(&self, entries: Vec<LocationEntry>) {
        let changes: Vec<LocationChange> = entries
            .iter()
            .map(|e| LocationChange {
                location_name: e.name.clone(),
                error: e.defs.is_err(),
                message: match &e.defs {
                    Ok(_) => format!("Location {} has been updated.", e.name),
                    Err(m) => format!("Error loading location {}: {m}", e.name),
                },
            })
            .collect();
        match self.locations.write() {
            Ok(mut g) => *g = entries,
            Err(poisoned) => *poisoned.into_inner() = entries,
        }
        for c in changes {
            let _ = self.location_events.send(c);
        }
    }
}
