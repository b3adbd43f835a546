//! The context a step's computation receives: identity, config, resources, compute-log files,
//! a logger that writes event-log lines, and cancellation.

use super::{Resource, SqlResource};
use crate::domain::{AssetKey, LogLevel};
use crate::storage::KvStore;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cancellation flag shared between the executor and a running step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Receives log lines a step emits through [`StepContext::log`] (written to the event log as
/// plain log messages by the executor).
pub trait StepLogger: Send + Sync {
    fn log(&self, step_key: &str, level: LogLevel, message: &str);
}

/// A logger that drops everything (for tests of a single computation).
pub struct NoopLogger;
impl StepLogger for NoopLogger {
    fn log(&self, _: &str, _: LogLevel, _: &str) {}
}

/// Everything a step computation can use.
pub struct StepContext {
    pub run_id: String,
    pub job_name: String,
    pub step_key: String,
    pub asset_key: AssetKey,
    /// 1-based attempt number (2 after the first retry).
    pub attempt: u32,
    /// The asset's config: its YAML `config:` overlaid with run config `ops.<step_key>.config`.
    pub config: serde_json::Value,
    /// Captured stdout of this step (compute log `.out` file).
    pub stdout: File,
    /// Captured stderr of this step (compute log `.err` file).
    pub stderr: File,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    resources: BTreeMap<String, Arc<dyn Resource>>,
    cancel: CancelToken,
    deadline: Option<Instant>,
    logger: Arc<dyn StepLogger>,
    kv: Option<Arc<dyn KvStore>>,
}

/// Parameters to build a [`StepContext`].
pub struct StepContextParams {
    pub run_id: String,
    pub job_name: String,
    pub step_key: String,
    pub asset_key: AssetKey,
    pub attempt: u32,
    pub config: serde_json::Value,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub resources: BTreeMap<String, Arc<dyn Resource>>,
    pub cancel: CancelToken,
    pub timeout: Option<Duration>,
    pub logger: Arc<dyn StepLogger>,
}

impl StepContext {
    /// Opens (appending) the compute log files and builds the context.
    pub fn new(p: StepContextParams) -> std::io::Result<Self> {
        if let Some(dir) = p.stdout_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let open = |path: &PathBuf| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        };
        Ok(StepContext {
            stdout: open(&p.stdout_path)?,
            stderr: open(&p.stderr_path)?,
            run_id: p.run_id,
            job_name: p.job_name,
            step_key: p.step_key,
            asset_key: p.asset_key,
            attempt: p.attempt,
            config: p.config,
            stdout_path: p.stdout_path,
            stderr_path: p.stderr_path,
            resources: p.resources,
            cancel: p.cancel,
            deadline: p.timeout.map(|t| Instant::now() + t),
            logger: p.logger,
            kv: None,
        })
    }

    /// Gives the step access to the instance's key-value state (the executor does this).
    pub fn with_kv(mut self, kv: Arc<dyn KvStore>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// The instance's key-value state, for state that must survive runs (e.g. a sync cursor
    /// saved after each confirmed batch). Keys should be namespaced by asset key.
    pub fn kv(&self) -> anyhow::Result<&dyn KvStore> {
        self.kv.as_deref().ok_or_else(|| {
            anyhow::anyhow!("no instance state is available to step `{}`", self.step_key)
        })
    }

    /// Like [`StepContext::kv`] but a shared handle, usable while the context is borrowed
    /// mutably (e.g. to log progress between saving cursors).
    pub fn kv_handle(&self) -> anyhow::Result<Arc<dyn KvStore>> {
        self.kv.clone().ok_or_else(|| {
            anyhow::anyhow!("no instance state is available to step `{}`", self.step_key)
        })
    }

    /// Logs a line: to the event log (as a plain log message) and to the step's stderr file.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        let _ = writeln!(
            self.stderr,
            "{} - {} - {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f"),
            level.as_str(),
            message
        );
        self.logger.log(&self.step_key, level, message);
    }
    pub fn info(&mut self, message: &str) {
        self.log(LogLevel::Info, message);
    }
    pub fn warn(&mut self, message: &str) {
        self.log(LogLevel::Warning, message);
    }

    /// A resource by name (it must be listed in the asset's required resources).
    pub fn resource(&self, name: &str) -> anyhow::Result<&Arc<dyn Resource>> {
        self.resources.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "resource `{name}` is not available to step `{}`",
                self.step_key
            )
        })
    }

    /// A resource's SQL interface.
    pub fn sql_resource(&self, name: &str) -> anyhow::Result<&dyn SqlResource> {
        self.resource(name)?
            .as_sql()
            .ok_or_else(|| anyhow::anyhow!("resource `{name}` does not run SQL statements"))
    }

    /// A typed resource by name.
    pub fn typed_resource<T: 'static>(&self, name: &str) -> anyhow::Result<&T> {
        self.resource(name)?
            .as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| {
                anyhow::anyhow!("resource `{name}` is not a {}", std::any::type_name::<T>())
            })
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }
    /// Time left before the step timeout, if it has one (zero once passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}
