//! `workspace.yaml`: which code locations to load.
//!
//! ```yaml
//! load_from:
//!   - pipeline_config: ../pipeline-config/local.yaml          # name: local.yaml
//!   - pipeline_config: {path: prod.yaml, location_name: prod}
//! ```
//!
//! Dagster loads code locations from Python (`python_file`, `python_module`, `python_package`,
//! `autoload_defs_module`, `grpc_server`); this implementation loads each one from a pipeline
//! config file instead, and says so when it meets a Python entry. Paths are relative to the
//! workspace file. The default location name is the file name of the pipeline config (as
//! Dagster uses the basename of a `python_file`). Whether the pipeline config exists is
//! checked when the location is loaded, so one broken location does not hide the others.

use super::home::normalize;
use super::yaml::{
    ConfigErrors, Ctx, Diagnostic, Diagnostics, Document, EnvLookup, Loc, Map, Severity, Value,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed workspace file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The workspace file (absolute).
    pub path: PathBuf,
    pub locations: Vec<LocationConfig>,
}

/// One code location: a pipeline config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationConfig {
    pub name: String,
    /// Absolute path, resolved relative to the workspace file.
    pub pipeline_config: PathBuf,
    /// Where the entry is in the workspace file.
    pub source: Loc,
}

const PYTHON_ENTRIES: &[&str] = &[
    "python_file",
    "python_module",
    "python_package",
    "autoload_defs_module",
    "grpc_server",
];

const PIPELINE_CONFIG_EXAMPLE: &str =
    "`- pipeline_config: {path: ../pipeline-config/local.yaml, location_name: my_location}`";

impl Workspace {
    /// Loads a workspace file. Returns the workspace and its warnings, or every problem found.
    pub fn load(
        path: &Path,
        env: &EnvLookup,
    ) -> Result<(Workspace, Vec<Diagnostic>), ConfigErrors> {
        let path = absolute(path);
        if !path.is_file() {
            let message = if path.exists() {
                format!("workspace file `{}` is not a file", path.display())
            } else {
                format!("workspace file `{}` does not exist", path.display())
            };
            return Err(ConfigErrors(vec![Diagnostic {
                severity: Severity::Error,
                file: path,
                line: 0,
                column: 0,
                key_path: String::new(),
                message,
            }]));
        }
        let doc = Document::load(&path).map_err(|d| ConfigErrors(vec![d]))?;
        Self::from_document(&doc, env)
    }

    /// Parses `text` as the workspace file at `path` (relative paths resolve against its directory).
    pub fn from_text(
        path: &Path,
        text: &str,
        env: &EnvLookup,
    ) -> Result<(Workspace, Vec<Diagnostic>), ConfigErrors> {
        let doc = Document::parse(&absolute(path), text).map_err(|d| ConfigErrors(vec![d]))?;
        Self::from_document(&doc, env)
    }

    fn from_document(
        doc: &Document,
        env: &EnvLookup,
    ) -> Result<(Workspace, Vec<Diagnostic>), ConfigErrors> {
        let diags = Diagnostics::new();
        let base = doc.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let locations = {
            let ctx = Ctx::new(&diags, env);
            let root = doc.root(&ctx);
            let locations = parse_root(&root, &base);
            root.finish();
            locations
        };
        if diags.has_errors() {
            Err(ConfigErrors(diags.into_vec()))
        } else {
            Ok((
                Workspace {
                    path: doc.path.clone(),
                    locations,
                },
                diags.warnings(),
            ))
        }
    }

    /// The location with this name.
    pub fn location(&self, name: &str) -> Option<&LocationConfig> {
        self.locations.iter().find(|l| l.name == name)
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        match std::env::current_dir() {
            Ok(cwd) => normalize(&cwd.join(path)),
            Err(_) => path.to_path_buf(),
        }
    }
}

fn parse_root(root: &Map<'_>, base: &Path) -> Vec<LocationConfig> {
    let Some(list) = root.require("load_from") else {
        return Vec::new();
    };
    if !list.is_seq() {
        list.error(format!(
            "expected a list of code locations, e.g. {PIPELINE_CONFIG_EXAMPLE}"
        ));
        return Vec::new();
    }
    let items = list.as_seq();
    if items.is_empty() {
        list.warn("`load_from` is empty: no code location will be loaded");
    }
    let mut out: Vec<LocationConfig> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for item in items {
        let Some(loc) = parse_entry(&item, base) else {
            continue;
        };
        if let Some(line) = seen.get(&loc.name) {
            item.error(format!(
                "duplicate code location name `{}` (first defined at line {line}); set a distinct `location_name`",
                loc.name
            ));
            continue;
        }
        seen.insert(loc.name.clone(), loc.source.line);
        out.push(loc);
    }
    out
}

fn parse_entry(item: &Value<'_>, base: &Path) -> Option<LocationConfig> {
    let m = item.as_map()?;
    let keys = m.keys();
    if keys.len() != 1 {
        item.error(format!(
            "each `load_from` entry must have exactly one key (found {}), e.g. {PIPELINE_CONFIG_EXAMPLE}",
            keys.len()
        ));
        m.known(PYTHON_ENTRIES);
        m.known(&["pipeline_config"]);
        m.finish();
        return None;
    }
    for key in PYTHON_ENTRIES {
        if let Some(v) = m.get(key) {
            v.error(format!(
                "`{key}` is not supported: this implementation loads code locations from a pipeline config \
                 file, not from Python code; write {PIPELINE_CONFIG_EXAMPLE}"
            ));
        }
    }
    let v = m.get("pipeline_config");
    m.finish();
    let v = v?;
    let (path, name) = if v.is_map() && !is_env_ref(&v) {
        let pm = v.as_map()?;
        let path = match (pm.get("path"), pm.get("relative_path")) {
            (Some(_), Some(r)) => {
                r.error("set either `path` or `relative_path`, not both");
                None
            }
            (Some(p), None) | (None, Some(p)) => p.as_str(),
            (None, None) => {
                pm.error("missing `path` (the pipeline config file)");
                None
            }
        };
        let name = pm.get("location_name").and_then(|n| {
            let s = n.as_str()?;
            if s.trim().is_empty() {
                n.error("`location_name` must not be empty");
                return None;
            }
            Some(s)
        });
        pm.finish();
        (path?, name)
    } else {
        (v.as_str()?, None)
    };
    if path.trim().is_empty() {
        v.error("the pipeline config path must not be empty");
        return None;
    }
    let full = normalize(&base.join(&path));
    let name = match name {
        Some(n) => n,
        None => match full.file_name() {
            Some(f) => f.to_string_lossy().into_owned(),
            None => {
                v.error(format!("`{path}` does not name a file"));
                return None;
            }
        },
    };
    Some(LocationConfig {
        name,
        pipeline_config: full,
        source: item.loc(),
    })
}

/// True for `{env: VAR}`.
fn is_env_ref(v: &Value<'_>) -> bool {
    v.is_map() && v.as_map().is_some_and(|m| m.keys() == ["env"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PIPE").then(|| "from-env.yaml".to_string())
    }

    fn parse(text: &str) -> Result<(Workspace, Vec<Diagnostic>), ConfigErrors> {
        Workspace::from_text(Path::new("/ws/dir/workspace.yaml"), text, &env)
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("expected errors for {text}"),
            Err(e) => e.errors().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn short_and_long_forms_resolve_paths_and_names() {
        let text = "load_from:\n  - pipeline_config: ../pipeline-config/local.yaml\n  - pipeline_config: {path: /abs/p.yaml, location_name: prod}\n  - pipeline_config: {relative_path: ./sub/x.yaml}\n  - pipeline_config: {env: PIPE}\n";
        let (ws, warnings) = parse(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let got: Vec<(&str, &Path, usize)> = ws
            .locations
            .iter()
            .map(|l| (l.name.as_str(), l.pipeline_config.as_path(), l.source.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("local.yaml", Path::new("/ws/pipeline-config/local.yaml"), 2),
                ("prod", Path::new("/abs/p.yaml"), 3),
                ("x.yaml", Path::new("/ws/dir/sub/x.yaml"), 4),
                ("from-env.yaml", Path::new("/ws/dir/from-env.yaml"), 5),
            ]
        );
        assert_eq!(
            ws.location("prod").map(|l| l.pipeline_config.clone()),
            Some(PathBuf::from("/abs/p.yaml"))
        );
    }

    #[test]
    fn python_entries_explain_pipeline_config() {
        let errs = errors("load_from:\n  - python_file: defs.py\n  - grpc_server: {host: localhost, port: 4000}\n");
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].contains("workspace.yaml:2:18: error: load_from[0].python_file: `python_file` is not supported"), "{}", errs[0]);
        assert!(errs[0].contains("pipeline_config: {path:"), "{}", errs[0]);
        assert!(errs[1].contains("load_from[1].grpc_server"), "{}", errs[1]);
    }

    #[test]
    fn duplicates_unknown_keys_and_shapes() {
        let errs =
            errors("load_from:\n  - pipeline_config: a/x.yaml\n  - pipeline_config: b/x.yaml\n");
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(
            errs[0],
            "/ws/dir/workspace.yaml:3:20: error: load_from[1]: duplicate code location name `x.yaml` \
             (first defined at line 2); set a distinct `location_name`"
        );
        let errs = errors("load_from:\n  - pipeline_config: {path: a.yaml, location: x}\n");
        assert!(
            errs[0].contains("load_from[0].pipeline_config.location: unknown key `location`"),
            "{errs:#?}"
        );
        let errs = errors("load_from:\n  - {pipeline_config: a.yaml, python_file: b.py}\n");
        assert!(errs[0].contains("exactly one key"), "{errs:#?}");
        let errs = errors("load_from: a.yaml\n");
        assert!(errs[0].contains("expected a list"), "{errs:#?}");
        let errs = errors("locations: []\n");
        assert!(
            errs.iter()
                .any(|e| e.contains("missing required key `load_from`")),
            "{errs:#?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("unknown key `locations`")),
            "{errs:#?}"
        );
        let errs =
            errors("load_from:\n  - pipeline_config: {path: a.yaml, relative_path: b.yaml}\n");
        assert!(errs[0].contains("not both"), "{errs:#?}");
        let errs = errors("load_from:\n  - pipeline_config: {env: UNSET}\n");
        assert!(
            errs[0].contains("environment variable `UNSET` is not set"),
            "{errs:#?}"
        );
    }

    #[test]
    fn empty_list_warns_and_missing_file_errors() {
        let (ws, warnings) = parse("load_from: []\n").unwrap();
        assert!(ws.locations.is_empty());
        assert!(
            warnings[0].message.contains("no code location"),
            "{warnings:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("workspace.yaml");
        let err = Workspace::load(&missing, &env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("does not exist") && err.contains(&missing.display().to_string()),
            "{err}"
        );
    }
}
