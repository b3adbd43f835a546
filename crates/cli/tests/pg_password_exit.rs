#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! Short-lived commands against Postgres with password authentication exit cleanly.
//!
//! Found by the compose deployment on a real engine (docs/CONTAINERS.md): with
//! scram-sha-256 authentication `dagster run list` and `dagster-daemon liveness-check` printed
//! their answer and then died with SIGSEGV in libcrypto (here 7 of 30 runs), because the storage
//! pool kept one idle connection and opened it again in a background thread after each checkout,
//! while the process was already exiting. The test's own Postgres server (the machine's
//! PostgreSQL 15 binaries, run as the `postgres` user on a free port, in a temporary directory)
//! is the only one here that asks for a password: the shared one trusts local connections.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding `initdb` and `pg_ctl` (Debian: /usr/lib/postgresql/<major>/bin).
fn pg_bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .expect(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install them with \
             `apt-get install postgresql-15`",
        )
}

fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

fn run_ok(c: &mut Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private Postgres server that requires scram-sha-256 passwords; stopped on drop.
struct ScramServer {
    bindir: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl ScramServer {
    const USER: &'static str = "dagster";
    const PASSWORD: &'static str = "s3cret-pw";

    fn start() -> Self {
        let bindir = pg_bindir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, Self::PASSWORD).unwrap();
        run_ok(
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path()),
            "chown of the test server's directory to the postgres user",
        );
        run_ok(
            as_postgres(&bindir.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", Self::USER, "--auth=scram-sha-256"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        run_ok(
            as_postgres(&bindir.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1",
                    dir.path().display()
                ))
                .arg("-l")
                .arg(dir.path().join("server.log"))
                .args(["-w", "start"]),
            "pg_ctl start",
        );
        ScramServer {
            bindir,
            data,
            port,
            _dir: dir,
        }
    }
}

impl Drop for ScramServer {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn run_list_with_a_password_exits_cleanly() {
    let server = ScramServer::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("dagster.yaml"),
        format!(
            "storage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n      port: {}\n      username: {}\n      password: {}\n      db_name: postgres\n",
            server.port,
            ScramServer::USER,
            ScramServer::PASSWORD
        ),
    )
    .unwrap();
    let mut crashes = Vec::new();
    for i in 0..30 {
        let out = Command::new(env!("CARGO_BIN_EXE_dagster"))
            .args(["run", "list"])
            .env("DAGSTER_HOME", home.path())
            .current_dir(home.path())
            .output()
            .unwrap();
        if !out.status.success() {
            crashes.push(format!(
                "run {i}: {} (signal {:?}): {}",
                out.status,
                out.status.signal(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        crashes.is_empty(),
        "`dagster run list` against scram-sha-256 Postgres failed {} of 30 times:\n{}",
        crashes.len(),
        crashes.join("\n")
    );
}
