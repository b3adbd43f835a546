//! Built-in asset kinds usable from YAML: `command` and `sql`.

use super::{AssetCompute, AssetKind};
use crate::config::yaml::Map;
use std::sync::Arc;

/// `kind: command`: runs a process (args, env, cwd, timeout), stdout/stderr captured.
pub struct CommandKind;
/// `kind: sql`: runs statements on a named resource.
pub struct SqlKind;

impl AssetKind for CommandKind {
    fn kind_name(&self) -> &'static str {
        "command"
    }
    fn build(&self, _entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)> {
        None
    }
}

impl AssetKind for SqlKind {
    fn kind_name(&self) -> &'static str {
        "sql"
    }
    fn build(&self, _entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)> {
        None
    }
}
