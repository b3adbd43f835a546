//! Configuration files: `dagster.yaml` (instance), `workspace.yaml`, `DAGSTER_HOME`, and the
//! positioned YAML reader they share.

pub mod home;
pub mod instance;
pub mod workspace;
pub mod yaml;
