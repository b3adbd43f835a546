//! The instance: `DAGSTER_HOME`, its `dagster.yaml`, the storage it names and the compute
//! log manager. Every binary (the `dagster` CLI, its run worker, `dagster-webserver`,
//! `dagster-daemon`) opens the same instance from the same `DAGSTER_HOME`; they coordinate only
//! through it and the storage.

use crate::config::home::DagsterHome;
use crate::config::instance::{ComputeLogsConfig, InstanceConfig, StorageConfig};
use crate::config::yaml::{ConfigErrors, Diagnostic, EnvLookup};
use crate::exec::compute_logs::ComputeLogManager;
use crate::storage::{DbStorage, OpenOptions, Storage, StorageBackend, StorageError};
use std::sync::Arc;

/// Why an instance could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstanceError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    Home(#[from] crate::config::home::HomeError),
    #[error("storage {0}")]
    Storage(#[from] StorageError),
}

/// An open instance.
pub struct Instance {
    pub home: DagsterHome,
    pub config: InstanceConfig,
    /// Warnings found while reading `dagster.yaml` (known keys not acted on, missing file...).
    pub warnings: Vec<Diagnostic>,
    pub storage: Arc<dyn Storage>,
    pub compute_logs: ComputeLogManager,
}

/// How to treat the storage schema when opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaCheck {
    /// Migrate an empty database; refuse one with pending migrations.
    Normal,
    /// Open as is (for `instance migrate` and `instance info`).
    Unchecked,
}

impl Instance {
    /// Reads `dagster.yaml` (process environment), prepares the home layout and opens storage.
    pub fn open(home: DagsterHome) -> Result<Instance, InstanceError> {
        Self::open_with(home, &crate::config::yaml::process_env, SchemaCheck::Normal)
    }

    pub fn open_with(
        home: DagsterHome,
        env: &EnvLookup,
        check: SchemaCheck,
    ) -> Result<Instance, InstanceError> {
        Self::open_with_pool(home, env, check, &OpenOptions::default())
    }

    /// [`Instance::open_with`] with explicit pool options (a run worker uses a small pool, so
    /// hundreds of concurrent workers stay within the database's connection limit).
    pub fn open_with_pool(
        home: DagsterHome,
        env: &EnvLookup,
        check: SchemaCheck,
        opts: &OpenOptions,
    ) -> Result<Instance, InstanceError> {
        let (config, warnings) = InstanceConfig::load(&home, env)?;
        home.ensure_layout()?;
        let backend = storage_backend(&config);
        let storage = match check {
            SchemaCheck::Normal => DbStorage::open(&backend, opts)?,
            SchemaCheck::Unchecked => DbStorage::open_unchecked(&backend, opts)?,
        };
        let compute_logs = match &config.compute_logs {
            ComputeLogsConfig::Local { base_dir, .. } => ComputeLogManager::new(base_dir.clone()),
            ComputeLogsConfig::NoOp => ComputeLogManager::new(home.logs_dir()),
        };
        Ok(Instance {
            home,
            config,
            warnings,
            storage: Arc::new(storage),
            compute_logs,
        })
    }
}

impl Instance {
    /// The run coordinator the instance config names.
    pub fn coordinator_kind(&self) -> crate::exec::CoordinatorKind {
        match self.config.run_coordinator {
            crate::config::instance::RunCoordinatorConfig::Queued(_) => {
                crate::exec::CoordinatorKind::Queued
            }
            _ => crate::exec::CoordinatorKind::Default,
        }
    }

    /// Where this instance's runs go: its storage and run coordinator, with `launcher`.
    pub fn run_submitter(
        &self,
        launcher: impl Into<crate::exec::RunLauncher>,
    ) -> crate::exec::RunSubmitter {
        crate::exec::RunSubmitter::new(self.storage.clone(), launcher, self.coordinator_kind())
    }

    /// The run launcher `run_launcher` configures; worker processes run `dagster_bin`.
    /// `reuse_workers`: worker processes are reused as `run_launcher.config` says (the
    /// daemon); otherwise each run gets a new process (the webserver, the CLI).
    pub fn run_launcher(
        &self,
        dagster_bin: impl Into<std::path::PathBuf>,
        reuse_workers: bool,
    ) -> Result<crate::exec::RunLauncher, crate::exec::ExecError> {
        use crate::config::instance::RunLauncherConfig;
        let home = self.home.root().to_path_buf();
        match &self.config.run_launcher {
            RunLauncherConfig::Default(_) if !reuse_workers => {
                Ok(crate::exec::DefaultRunLauncher::new(dagster_bin, home).into())
            }
            config => crate::exec::RunLauncher::from_config(config, dagster_bin, home),
        }
    }
}

/// The storage backend named by the instance config.
pub fn storage_backend(config: &InstanceConfig) -> StorageBackend {
    match &config.storage {
        StorageConfig::Sqlite { base_dir } => StorageBackend::Sqlite {
            path: base_dir.join("dagster.db"),
        },
        StorageConfig::Postgres { url, .. } => StorageBackend::Postgres { url: url.clone() },
    }
}
