//! `kind: noop`: an asset whose computation does nothing and succeeds. For placeholders
//! (an asset produced outside the pipeline that other assets depend on) and for measuring
//! the engine's own overhead. It has no keys of its own.

use crate::config::yaml::Map;
use crate::defs::{AssetCompute, AssetKind, MaterializeResult, StepContext};
use std::sync::Arc;

/// `kind: noop`.
pub struct NoopKind;

struct NoopAsset;

impl AssetCompute for NoopAsset {
    fn compute(&self, _ctx: &mut StepContext) -> anyhow::Result<MaterializeResult> {
        Ok(MaterializeResult::new())
    }
}

impl AssetKind for NoopKind {
    fn kind_name(&self) -> &'static str {
        "noop"
    }
    fn build(&self, _entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)> {
        Some((Arc::new(NoopAsset), Vec::new()))
    }
    fn default_kinds(&self) -> Vec<String> {
        Vec::new()
    }
}
