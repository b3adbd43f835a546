//! Code-defined assets (the Rust API). YAML assets live in `pipeline-config/*.yaml`; assets
//! whose body is Rust code are declared here and join every loaded code location.

pub mod demo;
pub mod table_sync;

use dagster_core::defs::AssetDef;

/// Every code-defined asset of the pipeline.
pub fn all() -> Vec<AssetDef> {
    vec![demo::summary()]
}
