//! `dagster-core`: the domain model, instance configuration, storage and execution engine of
//! the Rust Dagster implementation. No web framework lives here (actix and juniper belong to
//! `dagster-webserver`).
//!
//! Error policy: library boundaries return typed `thiserror` enums (`StorageError`,
//! `ConfigErrors`, `DefinitionsError`...); `anyhow` is used only where user code (asset bodies)
//! returns errors and in binaries.

pub mod config;
pub mod daemon_health;
pub mod defs;
pub mod domain;
pub mod exec;
pub mod instance;
pub mod instigator;
pub mod logging;
pub mod storage;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
