//! `DAGSTER_HOME`: the instance directory, and what lives in it.
//!
//! Resolved as Dagster does: the `DAGSTER_HOME` environment variable must hold an absolute
//! path to an existing directory. Unset or empty means "no home" (callers decide what to do:
//! `dagster dev` uses a temporary one). The directory layout is described by [`LAYOUT_DOC`].
//!
//! Env vars: `DAGSTER_HOME`.

use crate::config::yaml::{process_env, EnvLookup};
use std::fmt;
use std::path::{Path, PathBuf};

/// Name of the environment variable holding the instance directory.
pub const DAGSTER_HOME_ENV: &str = "DAGSTER_HOME";

/// The layout of `DAGSTER_HOME`, as a text table (used by the README and
/// `dagster instance info`).
pub const LAYOUT_DOC: &str = "\
path (under DAGSTER_HOME)        holds                                                   safe to delete?
-------------------------------  ------------------------------------------------------  ------------------------------------------
dagster.yaml                     instance config (optional: SQLite + queued runs)        yes: defaults apply (with a warning)
workspace.yaml                   code locations (pipeline configs to load)               no: nothing is loaded without it
storage/dagster.db               SQLite metadata: runs, events, assets, schedule ticks   no: all run history and state is lost
storage/dagster.db-wal, -shm     SQLite write-ahead log sidecars                         no, not while a process is running
logs/<run_id>/                   captured stdout/stderr of each step of a run            yes for finished runs (the UI loses them)
history/<run_id>/worker.log      output of the run worker process                        yes for finished runs
schedules/                       schedule and sensor tick logs                           yes
";

/// Problems resolving or preparing `DAGSTER_HOME`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    #[error("DAGSTER_HOME must be an absolute path, got `{}`", .0.display())]
    NotAbsolute(PathBuf),
    #[error("DAGSTER_HOME `{}` does not exist; create it with `mkdir -p {}`", .0.display(), .0.display())]
    Missing(PathBuf),
    #[error(
        "DAGSTER_HOME `{}` is not a directory; point DAGSTER_HOME at a directory (create one with `mkdir -p <dir>`)",
        .0.display()
    )]
    NotADirectory(PathBuf),
    #[error("cannot inspect DAGSTER_HOME `{}`: {source}", .path.display())]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create directory `{}`: {source}", .path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid run id `{0}` (expected letters, digits, `-` and `_` only)")]
    InvalidRunId(String),
    #[error(
        "`{}` ({owner}) is not writable by this process: {source}; DAGSTER_HOME and its logs/ \
         and history/ must be writable by the user the webserver and the daemon run as (the \
         Docker images run as uid 1000)",
        .path.display()
    )]
    NotWritable {
        path: PathBuf,
        /// "owned by uid N, mode 755", as far as it can be read.
        owner: String,
        source: std::io::Error,
    },
}

/// An instance directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagsterHome {
    root: PathBuf,
}

impl DagsterHome {
    /// A home at `root`, without any check (tests, temporary homes). Use [`DagsterHome::open`]
    /// to validate a user-given path.
    pub fn new(root: impl Into<PathBuf>) -> DagsterHome {
        DagsterHome { root: root.into() }
    }

    /// A home at `root`, which must be an absolute path to an existing directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<DagsterHome, HomeError> {
        let root = root.into();
        if !root.is_absolute() {
            return Err(HomeError::NotAbsolute(root));
        }
        match std::fs::metadata(&root) {
            Ok(m) if m.is_dir() => Ok(DagsterHome { root }),
            Ok(_) => Err(HomeError::NotADirectory(root)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HomeError::Missing(root)),
            Err(source) => Err(HomeError::Inspect { path: root, source }),
        }
    }

    /// Reads `DAGSTER_HOME` from the process environment. Unset or empty: `Ok(None)`.
    pub fn from_env() -> Result<Option<DagsterHome>, HomeError> {
        Self::from_env_lookup(&process_env)
    }

    /// Like [`DagsterHome::from_env`] with an injected environment.
    pub fn from_env_lookup(env: &EnvLookup) -> Result<Option<DagsterHome>, HomeError> {
        match env(DAGSTER_HOME_ENV) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => Self::open(PathBuf::from(v)).map(Some),
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `dagster.yaml` (instance config; optional).
    pub fn dagster_yaml(&self) -> PathBuf {
        self.root.join("dagster.yaml")
    }
    /// `workspace.yaml` (code locations).
    pub fn workspace_yaml(&self) -> PathBuf {
        self.root.join("workspace.yaml")
    }
    /// `storage/`: the default SQLite metadata database lives here.
    pub fn storage_dir(&self) -> PathBuf {
        self.root.join("storage")
    }
    /// `storage/dagster.db`: the default SQLite metadata database.
    pub fn sqlite_db_path(&self) -> PathBuf {
        self.storage_dir().join(SQLITE_DB_FILE)
    }
    /// `logs/`: captured stdout/stderr per run and step (default compute log directory).
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// `history/`: run worker process output, one directory per run.
    pub fn history_dir(&self) -> PathBuf {
        self.root.join("history")
    }
    /// `history/<run_id>/`.
    pub fn run_history_dir(&self, run_id: &str) -> Result<PathBuf, HomeError> {
        check_run_id(run_id)?;
        Ok(self.history_dir().join(run_id))
    }
    /// `history/<run_id>/worker.log`: output of the run worker process.
    pub fn worker_log_path(&self, run_id: &str) -> Result<PathBuf, HomeError> {
        Ok(self.run_history_dir(run_id)?.join("worker.log"))
    }
    /// `schedules/`: schedule and sensor tick logs.
    pub fn schedules_dir(&self) -> PathBuf {
        self.root.join("schedules")
    }

    /// Creates `storage/`, `logs/`, `history/` and `schedules/` if missing.
    pub fn ensure_layout(&self) -> Result<(), HomeError> {
        for dir in [
            self.storage_dir(),
            self.logs_dir(),
            self.history_dir(),
            self.schedules_dir(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| HomeError::CreateDir {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Checks that this process can create files in the home and in the directories run workers
    /// write (`logs/`, `history/`), so that a long-running process stops at start with the
    /// reason instead of failing its first run (in Docker: a volume owned by another user than
    /// the image's). Directories not created yet are skipped ([`DagsterHome::ensure_layout`]
    /// creates them).
    pub fn check_writable(&self) -> Result<(), HomeError> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        for dir in [self.root.clone(), self.logs_dir(), self.history_dir()] {
            if !dir.is_dir() {
                continue;
            }
            let probe = dir.join(format!(".write-check-{}", std::process::id()));
            match std::fs::File::create(&probe) {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                }
                Err(source) => {
                    let owner = std::fs::metadata(&dir).map_or_else(
                        |_| "owner unknown".to_string(),
                        |m| {
                            format!(
                                "owned by uid {}, mode {:o}",
                                m.uid(),
                                m.permissions().mode() & 0o7777
                            )
                        },
                    );
                    return Err(HomeError::NotWritable {
                        path: dir,
                        owner,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Resolves a path from a config file: absolute paths stay, relative ones are taken
    /// relative to this home (never to the process working directory, so the webserver and
    /// the daemon agree whatever directory they were started in).
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            normalize(p)
        } else {
            normalize(&self.root.join(p))
        }
    }
}

impl fmt::Display for DagsterHome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root.display())
    }
}

/// File name of the SQLite metadata database inside its base directory.
pub const SQLITE_DB_FILE: &str = "dagster.db";

fn check_run_id(run_id: &str) -> Result<(), HomeError> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 128
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(HomeError::InvalidRunId(run_id.chars().take(64).collect()))
    }
}

/// Removes `.` and resolves `..` lexically (no file system access, symlinks untouched).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_check_names_the_directory_and_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let home = DagsterHome::new(dir.path());
        home.ensure_layout().unwrap();
        home.check_writable().unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            4,
            "the probe file is removed"
        );
        // No process can create files in /proc, root included (tests may run as root, for whom
        // permission bits do not stop a write).
        let err = DagsterHome::new("/proc")
            .check_writable()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`/proc` (owned by uid 0, mode 555) is not writable"),
            "{err}"
        );
        assert!(err.contains("uid 1000"), "{err}");
    }

    #[test]
    fn unset_or_empty_is_none() {
        let unset = |_: &str| None;
        assert!(matches!(DagsterHome::from_env_lookup(&unset), Ok(None)));
        let empty = |_: &str| Some("  ".to_string());
        assert!(matches!(DagsterHome::from_env_lookup(&empty), Ok(None)));
    }

    #[test]
    fn relative_missing_and_file_are_errors() {
        let rel = |_: &str| Some("relative/home".to_string());
        let err = DagsterHome::from_env_lookup(&rel)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("must be an absolute path") && err.contains("relative/home"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let m = missing.display().to_string();
        let env = move |_: &str| Some(m.clone());
        let err = DagsterHome::from_env_lookup(&env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("does not exist") && err.contains("mkdir -p"),
            "{err}"
        );
        assert!(err.contains(&missing.display().to_string()), "{err}");

        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let f = file.display().to_string();
        let env = move |_: &str| Some(f.clone());
        let err = DagsterHome::from_env_lookup(&env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("is not a directory"), "{err}");
    }

    #[test]
    fn layout_paths_and_ensure_layout() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let env = move |_: &str| Some(d.clone());
        let home = DagsterHome::from_env_lookup(&env).unwrap().unwrap();
        assert_eq!(home.root(), dir.path());
        assert_eq!(home.sqlite_db_path(), dir.path().join("storage/dagster.db"));
        assert_eq!(
            home.worker_log_path("abc-123").unwrap(),
            dir.path().join("history/abc-123/worker.log")
        );
        assert!(home.worker_log_path("../etc").is_err());
        home.ensure_layout().unwrap();
        for sub in ["storage", "logs", "history", "schedules"] {
            assert!(dir.path().join(sub).is_dir(), "{sub}");
        }
        assert_eq!(home.resolve("a/../b/./c"), dir.path().join("b/c"));
        assert_eq!(home.resolve("/abs/x"), PathBuf::from("/abs/x"));
        for name in [
            "storage/dagster.db",
            "logs/",
            "history/",
            "schedules/",
            "dagster.yaml",
        ] {
            assert!(LAYOUT_DOC.contains(name), "{name}");
        }
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/a/b/../../../c")), PathBuf::from("/c"));
        assert_eq!(normalize(Path::new("../x/./y")), PathBuf::from("../x/y"));
        assert_eq!(normalize(Path::new("a/../../x")), PathBuf::from("../x"));
    }
}
