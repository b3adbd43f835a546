//! Built-in asset kinds usable from YAML: `command` and `sql`.
//!
//! An [`AssetKind`](super::AssetKind) reads its own keys from a `pipeline_configs` entry and
//! returns the computation; the common keys (`key`, `group`, `deps`, `retry`, ...) are read by
//! the loader. See [`command`] and [`sql`] for each kind's keys.

pub mod command;
pub mod sql;

pub use command::{CommandAsset, CommandKind};
pub use sql::{SqlAsset, SqlKind};

/// Resolves a path written in a pipeline config file against the file's directory.
pub(crate) fn relative_to_file(file: &std::path::Path, path: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match file.parent() {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

/// A short one-line preview of a text (SQL statement, command line) for messages.
pub(crate) fn preview(text: &str, max_chars: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max_chars {
        let head: String = one_line.chars().take(max_chars.saturating_sub(3)).collect();
        format!("{head}...")
    } else {
        one_line
    }
}
