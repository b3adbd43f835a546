#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // test helpers; plain threads
//! High-availability acceptance tests of `dagster-daemon` as OS processes, in real time:
//!
//! * two daemons on one Postgres schema, a `* * * * *` schedule for five minutes, the leader
//!   SIGKILLed during minute 2: exactly one run per scheduled minute, none missing, and the
//!   standby takes over within 30 s (about 5–6 minutes of wall time; see `.config/nextest.toml`);
//! * Postgres restarted under a running daemon: a private cluster (`initdb` + `pg_ctl` from
//!   `/usr/lib/postgresql/*/bin`, never the shared server) is stopped and started again; the
//!   daemon logs the lost connection, keeps running and keeps ticking.
//!
//! The run workers are the `dagster` binary next to the daemon binary: build it first with
//! `cargo build -p dagster-cli`.

mod common;

use common::{sigterm, Home};
use dagster_core::domain::{tags, RunStatus, RunsFilter};
use dagster_core::instance::Instance;
use dagster_core::instigator::schedule::{iso_utc, selector_id};
use dagster_core::storage::Tick;
use dagster_core::test_support::TestDb;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn now() -> f64 {
    dagster_core::domain::now_ts()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Home {
    /// Starts `dagster-daemon run` with the production lease TTL (15 s), logging to `log`.
    fn daemon(&self, log: &str) -> Child {
        self.daemon_command(log)
            .env_remove("DAGSTER_DAEMON_LEASE_TTL_SECONDS")
            .spawn()
            .unwrap()
    }
}

const EVERY_MINUTE: &str = r#"location_name: t
pipeline_configs:
  a:
    kind: noop
jobs:
  j:
    selection: [a]
schedules:
  every_minute:
    job: j
    cron: "* * * * *"
    execution_timezone: UTC
    default_status: RUNNING
"#;

fn ticks_ascending(inst: &Instance, sel: &str) -> Vec<Tick> {
    let mut t = inst.storage.list_ticks(sel, 1000).unwrap();
    t.reverse();
    t
}

/// Acceptance 1 of the daemon issue.
#[test]
fn two_daemons_five_minutes_leader_killed_in_minute_two_postgres() {
    let db = TestDb::postgres();
    let home = Home::on_postgres(&db.pg_url().unwrap(), EVERY_MINUTE);
    let inst = home.instance();
    let sel = selector_id("t", "every_minute");
    let mut a = home.daemon("a.log");
    wait_until("daemon a to lead", Duration::from_secs(30), || {
        home.log("a.log").contains("now the leader")
    });
    let mut b = home.daemon("b.log");
    // Minute 1: the first scheduled time after the schedule's clock started.
    wait_until("the first tick", Duration::from_secs(90), || {
        !ticks_ascending(&inst, &sel).is_empty()
    });
    let m1 = ticks_ascending(&inst, &sel)[0].timestamp;
    let expected: Vec<f64> = (0..5).map(|i| m1 + 60.0 * f64::from(i)).collect();
    // Kill the leader 5 s before the end of minute 2, so the next scheduled time falls due
    // while nobody holds the lease: the standby must take over and still tick it once.
    let kill_at = m1 + 55.0;
    assert!(
        now() < kill_at - 1.0,
        "the first tick came too late: {}",
        iso_utc(m1)
    );
    std::thread::sleep(Duration::from_secs_f64(kill_at - now()));
    assert!(
        !home.log("b.log").contains("now the leader"),
        "two leaders:\n{}",
        home.log("b.log")
    );
    a.kill().unwrap(); // SIGKILL: the lease is not released
    let _ = a.wait();
    let killed = now();
    wait_until("the standby to lead", Duration::from_secs(30), || {
        home.log("b.log").contains("now the leader")
    });
    let took_over = now() - killed;
    assert!(took_over < 30.0, "standby took over after {took_over:.1} s");
    let last = expected[4];
    wait_until(
        "five finished ticks",
        Duration::from_secs_f64((last - now()).max(0.0) + 60.0),
        || {
            ticks_ascending(&inst, &sel)
                .iter()
                .filter(|t| t.timestamp <= last && t.status != "STARTED")
                .count()
                >= 5
        },
    );
    // Leave time for a duplicate to show up, should there be one.
    std::thread::sleep(Duration::from_secs(3));
    let ticks: Vec<Tick> = ticks_ascending(&inst, &sel)
        .into_iter()
        .filter(|t| t.timestamp <= last)
        .collect();
    let times: Vec<f64> = ticks.iter().map(|t| t.timestamp).collect();
    assert_eq!(times, expected, "one tick per minute: {ticks:#?}");
    assert!(
        ticks.iter().all(|t| t.status == "SUCCESS"),
        "ticks: {ticks:#?}"
    );
    let runs = inst
        .storage
        .list_runs(
            &RunsFilter {
                tags: vec![(tags::SCHEDULE_NAME.into(), "every_minute".into())],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap();
    let mut per_time: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &runs {
        per_time
            .entry(r.tags[tags::SCHEDULED_EXECUTION_TIME].clone())
            .or_default()
            .push(r.run_id.clone());
    }
    for t in &expected {
        let ids = per_time.remove(&iso_utc(*t)).unwrap_or_default();
        assert_eq!(ids.len(), 1, "runs for {}: {ids:?}", iso_utc(*t));
    }
    // Only a sixth minute may have started meanwhile.
    assert!(
        per_time.keys().all(|k| *k > iso_utc(last)),
        "unexpected runs: {per_time:?}"
    );
    // The minute that fell due while the lease was orphaned was ticked by the standby
    // within 30 s.
    let m3 = expected[2];
    let run_m3 = runs
        .iter()
        .find(|r| r.tags[tags::SCHEDULED_EXECUTION_TIME] == iso_utc(m3))
        .unwrap();
    assert!(
        run_m3.create_time - m3 < 30.0,
        "the tick of {} was late by {:.1} s",
        iso_utc(m3),
        run_m3.create_time - m3
    );
    // Every scheduled run also ran to completion.
    wait_until("the five runs to succeed", Duration::from_secs(60), || {
        expected.iter().all(|t| {
            runs.iter()
                .filter(|r| r.tags[tags::SCHEDULED_EXECUTION_TIME] == iso_utc(*t))
                .all(|r| {
                    inst.storage.get_run(&r.run_id).unwrap().unwrap().status == RunStatus::Success
                })
        })
    });
    assert_eq!(sigterm(&mut b), 0);
}

/// Whether this process runs as root (effective uid 0, from `/proc/self/status`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

/// A private Postgres cluster in a temp dir on a free port, so the test can stop and start it
/// without touching the shared server. Stopped (immediate) and removed on drop.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePg {
    fn bin_dir() -> PathBuf {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path().join("bin"))
                    .collect()
            })
            .unwrap_or_default();
        dirs.retain(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file());
        dirs.sort();
        dirs.pop().unwrap_or_else(|| {
            panic!(
                "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install them with \
                 `apt-get install postgresql`"
            )
        })
    }

    /// Runs a server binary, as the `postgres` OS user when we are root (initdb refuses root).
    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.cmd(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn new() -> PrivatePg {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let out = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "chown: {out:?}");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePg {
            dir,
            bin: Self::bin_dir(),
            port,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.start();
        pg
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-l", &log, "-o", &opts, "-w", "start"],
        );
    }

    fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

const SENSOR_EVERY_SECOND: &str = r#"location_name: t
pipeline_configs:
  a:
    kind: noop
jobs:
  j:
    selection: [a]
sensors:
  after_j:
    job: j
    kind: asset_materialized
    asset: nothing/here
    minimum_interval_seconds: 1
    default_status: RUNNING
"#;

/// Acceptance 4 of the daemon issue.
#[test]
fn daemon_survives_a_postgres_restart() {
    let pg = PrivatePg::new();
    let home = Home::on_postgres(&pg.url(), SENSOR_EVERY_SECOND);
    let inst = home.instance();
    let sel = selector_id("t", "after_j");
    let mut d = home.daemon("daemon.log");
    let ticks_after = |t: f64| {
        inst.storage
            .list_ticks(&sel, 1000)
            .map(|v| v.iter().filter(|x| x.timestamp > t).count())
            .unwrap_or(0)
    };
    wait_until("sensor ticks", Duration::from_secs(30), || {
        ticks_after(0.0) >= 2
    });
    let first = home.enqueue(&inst, "j", &[]);
    wait_until("a run before the restart", Duration::from_secs(30), || {
        inst.storage.get_run(&first).unwrap().unwrap().status == RunStatus::Success
    });

    pg.stop();
    // Longer than the pool's 10 s connection timeout, so the daemon's own calls fail.
    std::thread::sleep(Duration::from_secs(15));
    assert!(
        d.try_wait().unwrap().is_none(),
        "the daemon exited while Postgres was down:\n{}",
        home.log("daemon.log")
    );
    pg.start();
    let restarted = now();
    wait_until(
        "sensor ticks after the restart",
        Duration::from_secs(90),
        || ticks_after(restarted) >= 3,
    );
    let second = home.enqueue(&inst, "j", &[]);
    wait_until("a run after the restart", Duration::from_secs(60), || {
        inst.storage.get_run(&second).unwrap().unwrap().status == RunStatus::Success
    });
    assert!(d.try_wait().unwrap().is_none(), "the daemon exited");
    let log = home.log("daemon.log");
    assert!(
        log.contains("cannot connect to postgres://postgres@127.0.0.1"),
        "the lost connection is not logged:\n{log}"
    );
    assert!(log.contains("retrying"), "no retry logged:\n{log}");
    assert_eq!(sigterm(&mut d), 0);
}
