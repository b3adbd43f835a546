//! `dagster-pipeline`: the code location of the data pipeline.
//!
//! Laid out like Dagster's `dagster-pipeline/` project:
//!
//! * [`resources`]: resource types (`sqlite`, `postgres`, `mysql`, `clickhouse`) that `resources:` entries may use;
//! * [`assets`]: the `table_sync` asset kind ([`assets::table_sync`]) and code-defined assets (the Rust API); YAML assets live in `pipeline-config/`;
//! * [`jobs`]: jobs are asset selections declared in the pipeline config.
//!
//! [`registry`] is what the pipeline provides in Rust; [`load`] reads a pipeline config file
//! (`pipeline-config/local.yaml`, `pipeline-config/prod.yaml`) against it.

pub mod assets;
pub mod jobs;
pub mod resources;

use dagster_core::config::yaml::{ConfigErrors, Diagnostic, EnvLookup};
use dagster_core::defs::{Definitions, Registry};
use std::path::Path;
use std::sync::Arc;

/// The pipeline's registry: built-in asset kinds, its resource types and code assets.
///
/// A code asset joins the definitions only when a `pipeline_configs` entry names it
/// (`asset: demo/summary`), so any pipeline config can be loaded with this registry.
pub fn registry() -> Registry {
    let mut r = base_registry();
    for asset in assets::all() {
        r.add_asset(asset);
    }
    r
}

/// The built-in asset kinds and the pipeline's resource types, without code assets.
pub fn base_registry() -> Registry {
    let mut r = Registry::with_builtins();
    r.add_resource_type(Arc::new(resources::SqliteResourceType));
    r.add_resource_type(Arc::new(resources::PostgresResourceType));
    r.add_resource_type(Arc::new(resources::MysqlResourceType));
    r.add_resource_type(Arc::new(resources::ClickhouseResourceType));
    r.add_asset_kind(Arc::new(assets::table_sync::TableSyncKind));
    r
}

/// Loads a pipeline config file with the process environment; returns the definitions and
/// warnings, or every problem found.
pub fn load(path: &Path) -> Result<(Definitions, Vec<Diagnostic>), ConfigErrors> {
    dagster_core::defs::load_definitions(&registry(), path)
}

/// Like [`load`] with an injected environment (for tests and tools).
pub fn load_with_env(
    path: &Path,
    env: &EnvLookup,
) -> Result<(Definitions, Vec<Diagnostic>), ConfigErrors> {
    dagster_core::defs::load_definitions_with_env(&registry(), path, env)
}
