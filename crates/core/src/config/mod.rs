//! Configuration files: `dagster.yaml` (instance), `workspace.yaml`, `DAGSTER_HOME`, and the
//! positioned YAML reader they share.

pub mod yaml;
