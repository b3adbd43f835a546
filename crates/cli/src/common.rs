//! Shared CLI plumbing: instance and workspace resolution, errors and exit codes.

use anyhow::{Context, Result};
use clap::Args;
use dagster_core::config::home::DagsterHome;
use dagster_core::config::yaml::{ConfigErrors, Diagnostic};
use dagster_core::defs::Definitions;
use dagster_core::instance::{Instance, SchemaCheck};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code for a failed run.
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code for bad input (usage, config, definitions).
pub const EXIT_BAD_INPUT: u8 = 2;

/// An error caused by user input: exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);
impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BadInput {}

pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}

pub fn init_tracing(level: &str) {
    dagster_core::logging::init(level, "warn", Default::default(), false);
}

/// Prints an error with its causes and picks the exit code.
pub fn report_error(e: &anyhow::Error) -> ExitCode {
    let is_input = e
        .chain()
        .any(|c| c.is::<BadInput>() || c.is::<ConfigErrors>())
        || e.chain().any(|c| {
            c.downcast_ref::<dagster_core::instance::InstanceError>()
                .is_some_and(|ie| matches!(ie, dagster_core::instance::InstanceError::Config(_)))
        });
    let mut first = true;
    for cause in e.chain() {
        if first {
            eprintln!("Error: {}", cause.to_string().trim_end());
            first = false;
        } else {
            eprintln!("  caused by: {}", cause.to_string().trim_end());
        }
    }
    ExitCode::from(if is_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_RUN_FAILED
    })
}

pub fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        eprintln!("{w}");
    }
}

/// Where the code location comes from (Dagster's workspace flags, for a pipeline config).
#[derive(Args, Debug, Clone, Default)]
pub struct WorkspaceArgs {
    /// Path to a workspace.yaml (repeatable). Default: ./workspace.yaml, then $DAGSTER_HOME/workspace.yaml.
    #[arg(short = 'w', long = "workspace")]
    pub workspace: Vec<PathBuf>,
    /// Path to a pipeline config file, instead of a workspace.
    #[arg(short = 'f', long = "pipeline-config")]
    pub pipeline_config: Option<PathBuf>,
    /// Code location name, when the workspace has several.
    #[arg(short = 'l', long = "location")]
    pub location: Option<String>,
}

/// A loaded code location.
pub struct Location {
    pub name: String,
    pub defs: Definitions,
}

/// Resolves the workspace and loads the selected location's definitions. Configuration
/// problems are returned as [`ConfigErrors`] (exit code 2).
pub fn load_location(args: &WorkspaceArgs, home: Option<&DagsterHome>) -> Result<Location> {
    let mut all = load_all_locations(args, home)?;
    if args.pipeline_config.is_some() {
        let (name, mut defs) = all
            .pop()
            .ok_or_else(|| bad_input("the pipeline config defines no code location"))?;
        let name = args.location.clone().unwrap_or(name);
        defs.location_name = name.clone();
        return Ok(Location { name, defs });
    }
    let (name, defs) = match &args.location {
        Some(n) => all
            .into_iter()
            .find(|(name, _)| name == n)
            .ok_or_else(|| bad_input(format!("no code location named `{n}` in the workspace")))?,
        None => {
            if all.len() > 1 {
                let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
                return Err(bad_input(format!(
                    "the workspace has several code locations ({}): choose one with -l",
                    names.join(", ")
                )));
            }
            all.pop()
                .ok_or_else(|| bad_input("no code location in the workspace"))?
        }
    };
    Ok(Location { name, defs })
}

/// Loads every code location of the workspace (or the single `-f` pipeline config) through
/// the shared loader [`dagster_core::defs::locations::load_locations`] with this code location
/// crate's loader; prints the warnings.
pub fn load_all_locations(
    args: &WorkspaceArgs,
    home: Option<&DagsterHome>,
) -> Result<Vec<(String, Definitions)>> {
    let files = if args.pipeline_config.is_some() {
        Vec::new()
    } else {
        workspace_files(args, home)?
    };
    let loaded = dagster_core::defs::locations::load_locations(
        &files,
        args.pipeline_config.as_deref(),
        dagster_pipeline::load_with_env,
    )
    .with_context(|| {
        if files.is_empty() {
            "loading the pipeline config".to_string()
        } else {
            format!("loading the workspace {}", display_paths(&files))
        }
    })?;
    print_warnings(&loaded.warnings);
    Ok(loaded.locations)
}

/// The code locations a command acts on: all of them, or the one named with `-l`.
pub fn selected_locations(
    args: &WorkspaceArgs,
    home: Option<&DagsterHome>,
) -> Result<Vec<(String, Definitions)>> {
    let all = load_all_locations(args, home)?;
    match &args.location {
        Some(l) if args.pipeline_config.is_none() => {
            let picked: Vec<(String, Definitions)> =
                all.into_iter().filter(|(n, _)| n == l).collect();
            if picked.is_empty() {
                return Err(bad_input(format!(
                    "no code location named `{l}` in the workspace"
                )));
            }
            Ok(picked)
        }
        _ => Ok(all),
    }
}

fn display_paths(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn workspace_files(args: &WorkspaceArgs, home: Option<&DagsterHome>) -> Result<Vec<PathBuf>> {
    if !args.workspace.is_empty() {
        return Ok(args.workspace.clone());
    }
    let cwd = Path::new("workspace.yaml");
    if cwd.is_file() {
        return Ok(vec![cwd.to_path_buf()]);
    }
    if let Some(h) = home {
        let p = h.workspace_yaml();
        if p.is_file() {
            return Ok(vec![p]);
        }
    }
    Err(bad_input(
        "no workspace found: pass -w path/to/workspace.yaml or -f path/to/pipeline-config.yaml, or put a \
         workspace.yaml in the current directory or in $DAGSTER_HOME",
    ))
}

/// The instance home: $DAGSTER_HOME, or a temporary one (deleted at exit) like Dagster's
/// ephemeral instance.
pub struct HomeGuard {
    pub home: DagsterHome,
    _temp: Option<tempfile::TempDir>,
}

pub fn resolve_home() -> Result<HomeGuard> {
    match DagsterHome::from_env().map_err(|e| bad_input(e.to_string()))? {
        Some(home) => Ok(HomeGuard { home, _temp: None }),
        None => {
            let temp = tempfile::Builder::new()
                .prefix(".tmp_dagster_home_")
                .tempdir()
                .context("creating a temporary DAGSTER_HOME")?;
            eprintln!(
                "warning: DAGSTER_HOME is not set: using a temporary instance at {} that is deleted on exit. \
                 Set DAGSTER_HOME to an absolute directory to keep runs.",
                temp.path().display()
            );
            let home = DagsterHome::new(temp.path().to_path_buf());
            Ok(HomeGuard {
                home,
                _temp: Some(temp),
            })
        }
    }
}

pub fn open_instance(home: &DagsterHome, check: SchemaCheck) -> Result<Instance> {
    open_instance_with(home, check, &Default::default())
}

/// [`open_instance`] with explicit storage pool options.
pub fn open_instance_with(
    home: &DagsterHome,
    check: SchemaCheck,
    opts: &dagster_core::storage::OpenOptions,
) -> Result<Instance> {
    let inst = Instance::open_with_pool(
        home.clone(),
        &dagster_core::config::yaml::process_env,
        check,
        opts,
    )?;
    print_warnings(&inst.warnings);
    Ok(inst)
}

/// A tokio runtime for commands that execute runs.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Reads run config from `-c` files (merged in order) and `--config-json`.
pub fn read_run_config(files: &[PathBuf], json: Option<&str>) -> Result<serde_json::Value> {
    let mut merged = serde_json::Value::Object(Default::default());
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| bad_input(format!("cannot read config file {}: {e}", f.display())))?;
        let v: serde_json::Value = serde_yaml::from_str(&text)
            .map_err(|e| bad_input(format!("{}: invalid YAML: {e}", f.display())))?;
        merge_json(&mut merged, v);
    }
    if let Some(j) = json {
        let v: serde_json::Value = serde_json::from_str(j)
            .map_err(|e| bad_input(format!("--config-json: invalid JSON: {e}")))?;
        merge_json(&mut merged, v);
    }
    if !merged.is_object() {
        return Err(bad_input("run config must be a mapping"));
    }
    Ok(merged)
}

fn merge_json(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge_json(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Parses `--tags '{"k": "v"}'`.
pub fn parse_tags(tags: Option<&str>) -> Result<std::collections::BTreeMap<String, String>> {
    let Some(t) = tags else {
        return Ok(Default::default());
    };
    let v: serde_json::Value =
        serde_json::from_str(t).map_err(|e| bad_input(format!("--tags: invalid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad_input("--tags must be a JSON object of string values"))?;
    obj.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            other => Ok((k.clone(), other.to_string())),
        })
        .collect()
}
