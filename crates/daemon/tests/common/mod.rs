//! Helpers shared by the daemon test files: the binaries, a temp DAGSTER_HOME with a
//! one-location workspace, `dagster-daemon run` on it, SIGTERM, runs by run key.
#![allow(dead_code)] // each test file uses a different subset

use dagster_core::config::home::DagsterHome;
use dagster_core::domain::RunsFilter;
use dagster_core::exec::{create_run, submit_run, CoordinatorKind, CreateRun, DefaultRunLauncher};
use dagster_core::instance::Instance;
use dagster_core::instigator::sensor::RUN_KEY_TAG;
use dagster_core::storage::{DbStorage, RunStore};
use dagster_core::test_support::TestDb;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dagster-daemon"))
}

pub fn dagster_bin() -> PathBuf {
    let p = daemon_bin().with_file_name("dagster");
    assert!(
        p.is_file(),
        "{} is missing: build the run worker first with `cargo build -p dagster-cli`",
        p.display()
    );
    p
}

pub fn sigterm(child: &mut Child) -> i32 {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap().code().unwrap_or(-1)
}

/// How many runs carry the sensor run key `key`.
pub fn runs_with_key(s: &DbStorage, key: &str) -> usize {
    s.list_runs(
        &RunsFilter {
            tags: vec![(RUN_KEY_TAG.into(), key.into())],
            ..Default::default()
        },
        None,
        None,
    )
    .unwrap()
    .len()
}

/// A DAGSTER_HOME (SQLite, or a Postgres URL) with a one-location workspace (`t`, from
/// `pipeline.yaml`).
pub struct Home {
    dir: tempfile::TempDir,
    _db: Option<TestDb>,
}

impl Home {
    /// A home on `db` (its Postgres URL; SQLite for `None` or a SQLite test database), with
    /// `extra_yaml` in `dagster.yaml`. The home keeps `db`.
    pub fn new(db: Option<TestDb>, extra_yaml: &str, pipeline: &str) -> Home {
        let url = db.as_ref().and_then(|d| d.pg_url());
        Home {
            _db: db,
            ..Home::write(url.as_deref(), extra_yaml, pipeline)
        }
    }

    /// A home on the Postgres database at `pg_url`.
    pub fn on_postgres(pg_url: &str, pipeline: &str) -> Home {
        Home::write(Some(pg_url), "", pipeline)
    }

    fn write(pg_url: Option<&str>, extra_yaml: &str, pipeline: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::new();
        if let Some(url) = pg_url {
            yaml.push_str(&format!(
                "storage:\n  postgres:\n    postgres_url: \"{url}\"\n"
            ));
        }
        yaml.push_str(extra_yaml);
        std::fs::write(dir.path().join("dagster.yaml"), yaml).unwrap();
        std::fs::write(dir.path().join("pipeline.yaml"), pipeline).unwrap();
        std::fs::write(
            dir.path().join("workspace.yaml"),
            "load_from:\n  - pipeline_config: {path: pipeline.yaml, location_name: t}\n",
        )
        .unwrap();
        Home { dir, _db: None }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn instance(&self) -> Instance {
        Instance::open(DagsterHome::new(self.path().to_path_buf())).unwrap()
    }

    /// `dagster-daemon run` on this home, heartbeating every second, stderr to `log`.
    pub fn daemon_command(&self, log: &str) -> Command {
        let _ = dagster_bin();
        let mut cmd = Command::new(daemon_bin());
        cmd.args(["run"])
            .env("DAGSTER_HOME", self.path())
            .env("DAGSTER_DAEMON_HEARTBEAT_INTERVAL", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path().join(log)).unwrap());
        cmd
    }

    pub fn log(&self, log: &str) -> String {
        std::fs::read_to_string(self.path().join(log)).unwrap_or_default()
    }

    /// Creates a run of `job` with `tags` and submits it to the queue; returns its id.
    pub fn enqueue(&self, inst: &Instance, job: &str, tags: &[(&str, &str)]) -> String {
        let (mut defs, _) = dagster_pipeline::load(&self.path().join("pipeline.yaml")).unwrap();
        defs.location_name = "t".into();
        let run = create_run(
            &*inst.storage,
            &defs,
            CreateRun {
                job_name: job.into(),
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                ..Default::default()
            },
        )
        .unwrap();
        let launcher = DefaultRunLauncher::new(dagster_bin(), self.path());
        submit_run(
            &*inst.storage,
            &launcher.into(),
            CoordinatorKind::Queued,
            &run,
        )
        .unwrap();
        run.run_id
    }
}
