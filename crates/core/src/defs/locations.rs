//! Code locations: a workspace (or one pipeline config) loaded into definitions. The host
//! glue shared by the `dagster` CLI, `dagster-webserver` and `dagster-daemon`.
//!
//! [`load_locations`] reads either one pipeline config file (`-f`) or every workspace file
//! (`-w`, repeatable) and loads each code location's definitions with the code location
//! crate's [`LocationLoader`] (the binaries pass `dagster_pipeline::load_with_env`). Every
//! problem of every file is collected and returned at once as [`ConfigErrors`]; warnings are
//! returned next to the result for the caller to print or log.

use super::Definitions;
use crate::config::workspace::Workspace;
use crate::config::yaml::{ConfigErrors, Diagnostic, EnvLookup};
use std::path::{Path, PathBuf};

/// Loads one code location from its pipeline config file: what a code location crate
/// provides (`dagster_pipeline::load_with_env`, its registry of resources and asset kinds).
pub type LocationLoader =
    fn(&Path, &EnvLookup) -> Result<(Definitions, Vec<Diagnostic>), ConfigErrors>;

/// Loaded code locations, in workspace order, with the warnings of every file read.
#[derive(Debug, Clone)]
pub struct LoadedWorkspace {
    /// `(location name, definitions)`; `defs.location_name` equals the name.
    pub locations: Vec<(String, Definitions)>,
    pub warnings: Vec<Diagnostic>,
}

/// A name for a pipeline config given directly (`-f file`) that could not be loaded: its file
/// name (a loaded one is named by its `location_name`, which defaults to the file name too).
pub fn location_name_for_file(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "pipeline".into())
}

/// Loads the code locations of `files` (workspace files) or, if `pipeline_config` is given,
/// of that single pipeline config file (named after its file name), each with `loader`. Uses the process
/// environment for `{env: VAR}`.
pub fn load_locations(
    files: &[PathBuf],
    pipeline_config: Option<&Path>,
    loader: LocationLoader,
) -> Result<LoadedWorkspace, ConfigErrors> {
    load_locations_with_env(
        files,
        pipeline_config,
        loader,
        &crate::config::yaml::process_env,
    )
}

/// Like [`load_locations`] with an injected environment.
pub fn load_locations_with_env(
    files: &[PathBuf],
    pipeline_config: Option<&Path>,
    loader: LocationLoader,
    env: &EnvLookup,
) -> Result<LoadedWorkspace, ConfigErrors> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    // (location name from the workspace, or None: the config's own `location_name`)
    let mut targets: Vec<(Option<String>, PathBuf)> = Vec::new();
    if let Some(p) = pipeline_config {
        targets.push((None, p.to_path_buf()));
    } else {
        for f in files {
            match Workspace::load(f, env) {
                Ok((ws, w)) => {
                    warnings.extend(w);
                    targets.extend(
                        ws.locations
                            .into_iter()
                            .map(|l| (Some(l.name), l.pipeline_config)),
                    );
                }
                Err(e) => errors.extend(e.0),
            }
        }
    }
    let mut locations = Vec::new();
    for (name, path) in targets {
        match loader(&path, env) {
            Ok((mut defs, w)) => {
                warnings.extend(w);
                if let Some(name) = name {
                    defs.location_name = name;
                }
                locations.push((defs.location_name.clone(), defs));
            }
            Err(e) => errors.extend(e.0),
        }
    }
    if errors.is_empty() {
        Ok(LoadedWorkspace {
            locations,
            warnings,
        })
    } else {
        errors.extend(warnings);
        Err(ConfigErrors(errors))
    }
}
