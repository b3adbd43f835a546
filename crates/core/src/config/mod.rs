//! Configuration files: `dagster.yaml` (instance), `workspace.yaml`, and the reader they share.

pub mod yaml;
