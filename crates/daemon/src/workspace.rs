//! The code locations the daemon evaluates schedules and sensors (and retries runs) against:
//! loaded at start and reloaded every 60 s. A broken workspace is logged and the previous
//! definitions are kept; it never stops the daemon (the queue and monitoring do not need it).

use dagster_core::config::home::DagsterHome;
use dagster_core::defs::Definitions;
use std::path::{Path, PathBuf};

/// Seconds between two loads of the workspace.
pub const RELOAD_SECONDS: f64 = 60.0;

/// The workspace files and the definitions last loaded from them.
pub struct Workspace {
    files: Vec<PathBuf>,
    pipeline_config: Option<PathBuf>,
    locations: Vec<(String, Definitions)>,
    last_reload: f64,
}

impl Workspace {
    /// Loads `-w` files or the `-f` pipeline config; with neither, `./workspace.yaml`, else
    /// `$DAGSTER_HOME/workspace.yaml`, else nothing (warned about).
    pub fn load(home: &DagsterHome, files: Vec<PathBuf>, pipeline_config: Option<PathBuf>) -> Self {
        let mut files = files;
        if files.is_empty() && pipeline_config.is_none() {
            let cwd = PathBuf::from("workspace.yaml");
            let default = home.workspace_yaml();
            if cwd.is_file() {
                files.push(cwd);
            } else if default.is_file() {
                files.push(default);
            } else {
                tracing::warn!("no workspace (-w, -f, ./workspace.yaml or $DAGSTER_HOME/workspace.yaml): no schedules or sensors are evaluated");
            }
        }
        let locations = load_locations(&files, pipeline_config.as_deref()).unwrap_or_else(|e| {
            tracing::error!(
                "the workspace has errors; schedules and sensors wait for a fixed one:\n{e}"
            );
            Vec::new()
        });
        Workspace {
            files,
            pipeline_config,
            locations,
            last_reload: dagster_core::domain::now_ts(),
        }
    }

    /// The definitions of each code location, by location name.
    pub fn locations(&self) -> &[(String, Definitions)] {
        &self.locations
    }

    /// Loads the workspace again if [`RELOAD_SECONDS`] have passed since the last load.
    pub fn reload_if_due(&mut self, now: f64) {
        if now - self.last_reload < RELOAD_SECONDS {
            return;
        }
        self.last_reload = now;
        match load_locations(&self.files, self.pipeline_config.as_deref()) {
            Ok(l) => self.locations = l,
            Err(e) => {
                tracing::error!("the workspace has errors; keeping the previous definitions:\n{e}")
            }
        }
    }
}

/// Loads the workspace; errors are returned as text (logged by the caller).
fn load_locations(
    files: &[PathBuf],
    pipeline_config: Option<&Path>,
) -> Result<Vec<(String, Definitions)>, String> {
    if files.is_empty() && pipeline_config.is_none() {
        return Ok(Vec::new());
    }
    match dagster_core::defs::locations::load_locations(
        files,
        pipeline_config,
        dagster_pipeline::load_with_env,
    ) {
        Ok(l) => {
            for w in &l.warnings {
                tracing::warn!("{w}");
            }
            Ok(l.locations)
        }
        Err(e) => Err(e.to_string()),
    }
}
