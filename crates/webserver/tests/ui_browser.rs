#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a test failure
//! Dagster's UI in a real browser (headless Chromium, driven by `tests/ui_browser.py` with
//! Playwright from the test venv), against `dagster-webserver` and `dagster-daemon` as two
//! processes on a seeded instance: the shipped `pipeline-config/local.yaml` and the fixture
//! location `tests/fixtures/ui.yaml`, with runs of every status (SUCCESS, FAILURE with a failed
//! step and its error, CANCELED, QUEUED, and STARTED during the flows), three materializations
//! of an asset with numeric metadata, schedule ticks and a running sensor.
//!
//! * `ui_pages_and_flows`: every page reachable from the navigation renders cleanly; every flow
//!   of the UI works end to end; screenshots of the main pages go to `target/ui-browser/`.
//! * `ui_under_a_path_prefix`: the same under `--path-prefix /dagster`.
//! * `ui_read_only`: `--read-only`: pages render, the UI offers no mutation, one sent is refused.
//! * `ui_with_an_access_token`: `DAGSTER_WEBSERVER_TOKEN`: the UI asks for the token, then works.
//!
//! Needs `chromium` (Debian's package; `CHROMIUM` points elsewhere) and the test venv with
//! `playwright` (scripts/python-venv.sh). The tests run one at a time (nextest group `browser`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A seeded DAGSTER_HOME.
struct Seeded {
    home: tempfile::TempDir,
    failed_run_id: String,
    /// A finished run the flows delete.
    delete_run_id: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: the browser tests need Chromium (`apt-get install chromium`, as .ci/run does), or CHROMIUM=<path to a chromium binary>",
        path.display()
    );
    path
}

fn dagster(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(sibling_bin("dagster", "dagster-cli"))
        .args(args)
        .env("DAGSTER_HOME", home)
        .current_dir(home)
        .output()
        .unwrap()
}

fn dagster_ok(home: &Path, args: &[&str]) -> String {
    let out = dagster(home, args);
    assert!(
        out.status.success(),
        "dagster {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The instance every browser test starts from (see the module doc).
fn seed() -> Seeded {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui.yaml");
    let shipped = repo_root().join("pipeline-config/local.yaml");
    // Runs tagged ui-test/hold stay QUEUED (a limit of 0 for that tag).
    std::fs::write(
        h.join("dagster.yaml"),
        "concurrency:\n  runs:\n    tag_concurrency_limits:\n      - {key: ui-test/hold, limit: 0}\n",
    )
    .unwrap();
    std::fs::write(
        h.join("workspace.yaml"),
        format!(
            "load_from:\n  - pipeline_config:\n      path: {}\n      location_name: dagster-pipeline\n  - pipeline_config:\n      path: {}\n      location_name: ui_fixture\n",
            shipped.display(),
            fixture.display()
        ),
    )
    .unwrap();
    dagster_ok(
        h,
        &["job", "execute", "-j", "demo_job", "-l", "dagster-pipeline"],
    );
    for _ in 0..3 {
        dagster_ok(
            h,
            &["job", "execute", "-j", "metrics_job", "-l", "ui_fixture"],
        );
    }
    let failed = dagster(
        h,
        &["job", "execute", "-j", "failing_job", "-l", "ui_fixture"],
    );
    assert!(!failed.status.success(), "failing_job succeeded");
    let hold = r#"{"ui-test/hold": "1"}"#;
    dagster_ok(
        h,
        &[
            "job",
            "launch",
            "-j",
            "metrics_job",
            "-l",
            "ui_fixture",
            "--tags",
            hold,
        ],
    );
    dagster_ok(
        h,
        &[
            "job",
            "launch",
            "-j",
            "slow_job",
            "-l",
            "ui_fixture",
            "--tags",
            hold,
        ],
    );

    let inst = dagster_core::instance::Instance::open(
        dagster_core::config::home::DagsterHome::new(h.to_path_buf()),
    )
    .unwrap();
    let runs = inst
        .storage
        .list_runs(&dagster_core::domain::RunsFilter::default(), None, None)
        .unwrap();
    let of = |job: &str, status: dagster_core::domain::RunStatus| {
        runs.iter()
            .find(|r| r.job_name == job && r.status == status)
            .unwrap_or_else(|| panic!("no {status:?} run of {job}: {runs:#?}"))
            .run_id
            .clone()
    };
    let failed_run_id = of("failing_job", dagster_core::domain::RunStatus::Failure);
    let delete_run_id = of("metrics_job", dagster_core::domain::RunStatus::Success);
    // A queued run terminated before it started ends CANCELED.
    let slow = of("slow_job", dagster_core::domain::RunStatus::Queued);
    dagster_core::exec::request_cancel(inst.storage.as_ref(), &slow).unwrap();
    assert_eq!(
        inst.storage.get_run(&slow).unwrap().unwrap().status,
        dagster_core::domain::RunStatus::Canceled
    );

    // Three ticks of the every-minute schedule, one per past minute.
    let ws = dagster_core::defs::locations::load_locations(
        &[h.join("workspace.yaml")],
        None,
        dagster_pipeline::load_with_env,
    )
    .unwrap();
    let (_, defs) = ws
        .locations
        .iter()
        .find(|(n, _)| n == "ui_fixture")
        .unwrap();
    let def = defs.schedules.get("metrics_every_minute").unwrap();
    let now = dagster_core::domain::now_ts();
    let minute = (now / 60.0).floor() * 60.0;
    dagster_core::instigator::schedule::start_schedule(
        inst.storage.as_ref(),
        "ui_fixture",
        def,
        minute - 200.0,
    )
    .unwrap();
    let launcher =
        dagster_core::exec::DefaultRunLauncher::new(sibling_bin("dagster", "dagster-cli"), h);
    for t in [minute - 179.0, minute - 119.0, minute - 59.0] {
        dagster_core::instigator::schedule::evaluate_schedule(
            &dagster_core::exec::RunSubmitter::new(
                inst.storage.clone(),
                launcher.clone(),
                dagster_core::exec::CoordinatorKind::Queued,
            ),
            defs,
            def,
            t,
        )
        .unwrap();
    }
    dagster_core::instigator::schedule::stop_schedule(
        inst.storage.as_ref(),
        "ui_fixture",
        def,
        now,
    )
    .unwrap();
    // The sensor runs: the daemon ticks it (it launches metrics_job after failing_job failed).
    dagster_ok(h, &["sensor", "start", "after_failure", "-l", "ui_fixture"]);
    Seeded {
        home,
        failed_run_id,
        delete_run_id,
    }
}

/// The webserver and the daemon on a seeded home.
struct Deployment {
    seeded: Seeded,
    port: u16,
    _web: Proc,
    _daemon: Proc,
}

fn deploy(web_args: &[&str], web_env: &[(&str, &str)]) -> Deployment {
    let seeded = seed();
    let h = seeded.home.path();
    let daemon = spawn_daemon(h, &h.join("daemon.log"));
    let port = free_port();
    let web_log = h.join("webserver.log");
    let mut cmd = Command::new(webserver_bin());
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-w"])
        .arg(h.join("workspace.yaml"))
        // The cost of every GraphQL request (see `ui_costs_are_far_below_the_limits`).
        .args(["--log-level", "info,dagster_webserver::cost=debug"])
        .args(web_args)
        .env("DAGSTER_HOME", h)
        .env_remove("DAGSTER_WEBSERVER_TOKEN")
        .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
        .current_dir(h)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&web_log).unwrap());
    for (k, v) in web_env {
        cmd.env(k, v);
    }
    let web = Proc {
        name: "dagster-webserver",
        child: cmd.spawn().unwrap(),
    };
    wait_for_server_at(port, web_args, &web_log);
    Deployment {
        seeded,
        port,
        _web: web,
        _daemon: daemon,
    }
}

fn path_prefix<'a>(web_args: &[&'a str]) -> &'a str {
    web_args
        .iter()
        .position(|a| *a == "--path-prefix")
        .and_then(|i| web_args.get(i + 1).copied())
        .unwrap_or("")
}

/// Waits for `/server_info` (under the path prefix when one is given).
fn wait_for_server_at(port: u16, web_args: &[&str], log: &Path) {
    let prefix = path_prefix(web_args);
    wait_until(
        &format!("the webserver to answer (log: {})", log.display()),
        Duration::from_secs(30),
        || {
            matches!(
                try_http(port, "GET", &format!("{prefix}/server_info"), &[], b""),
                Ok((200, _))
            )
        },
    );
}

impl Deployment {
    /// Runs one scenario of ui_browser.py; panics with its output and the servers' logs.
    fn scenario(&self, base_path: &str, scenario: &str, extra: &[&str]) {
        let data = serde_json::json!({
            "failed_run_id": self.seeded.failed_run_id,
            "delete_run_id": self.seeded.delete_run_id,
        })
        .to_string();
        let out_dir = repo_root().join("target/ui-browser");
        std::fs::create_dir_all(&out_dir).unwrap();
        let out = Command::new(venv_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui_browser.py"))
            .args([
                "--base",
                &format!("http://127.0.0.1:{}{base_path}", self.port),
            ])
            .args(["--json", &data])
            .arg("--out")
            .arg(&out_dir)
            .arg("--chromium")
            .arg(chromium())
            .args(extra)
            .arg(scenario)
            .output()
            .unwrap();
        let h = self.seeded.home.path();
        assert!(
            out.status.success(),
            "UI scenario `{scenario}` failed ({:?})\n--- stdout\n{}\n--- stderr\n{}\n--- webserver log (tail)\n{}\n--- daemon log (tail)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&h.join("webserver.log")),
            tail(&h.join("daemon.log")),
        );
        println!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

impl Deployment {
    /// Every request the UI sent during the scenarios (logged by the webserver with its cost)
    /// stays under a quarter of each default cost limit (issue 14).
    fn ui_costs_are_far_below_the_limits(&self) {
        let log = std::fs::read_to_string(self.seeded.home.path().join("webserver.log")).unwrap();
        let max = max_costs(&log);
        let defaults = help_defaults();
        println!("UI's largest GraphQL costs: {max:?}");
        let checks = [
            ("fields", "--max-query-fields"),
            ("fields", "--max-fields-in-flight"),
            ("aliases", "--max-query-aliases"),
            ("depth", "--max-query-depth"),
            ("list_limit", "--max-query-list-limit"),
            ("response_bytes", "--max-response-bytes"),
        ];
        assert!(
            max.get("fields").is_some_and(|(n, _)| *n > 0),
            "no cost lines in the webserver log"
        );
        for (key, flag) in checks {
            let (value, op) = max.get(key).cloned().unwrap_or_default();
            let limit = defaults[flag];
            println!("UI max {key} = {value} ({op}); default {flag} = {limit}");
            assert!(
                value.saturating_mul(4) < limit,
                "the UI's {key} reaches {value} ({op}): not under a quarter of the default {flag} {limit}"
            );
        }
    }
}

fn tail(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn ui_pages_and_flows() {
    let d = deploy(&[], &[]);
    d.scenario("", "crawl", &["--min-pages", "100", "--max-pages", "200"]);
    d.scenario("", "flows", &[]);
    // The main pages as PNGs in target/ui-browser/ (scripts/ui-screenshots.sh copies them to
    // docs/).
    d.scenario("", "screenshots", &[]);
    d.ui_costs_are_far_below_the_limits();
}

#[test]
fn ui_under_a_path_prefix() {
    let d = deploy(&["--path-prefix", "/dagster"], &[]);
    // `/` redirects into the prefix.
    let (status, _) = try_http(d.port, "GET", "/", &[], b"").unwrap();
    assert_eq!(status, 307);
    d.scenario(
        "/dagster",
        "crawl",
        &["--min-pages", "25", "--max-pages", "30"],
    );
    d.scenario("/dagster", "flows", &["--quick"]);
}

#[test]
fn ui_read_only() {
    let d = deploy(&["--read-only"], &[]);
    d.scenario("", "crawl", &["--min-pages", "25", "--max-pages", "30"]);
    d.scenario("", "readonly", &[]);
}

#[test]
fn ui_with_an_access_token() {
    const TOKEN: &str = "ui-test-token-0123456789";
    let d = deploy(&[], &[("DAGSTER_WEBSERVER_TOKEN", TOKEN)]);
    d.scenario("", "token", &["--token", TOKEN]);
    d.scenario(
        "",
        "crawl",
        &["--token", TOKEN, "--min-pages", "25", "--max-pages", "30"],
    );
    d.scenario("", "flows", &["--token", TOKEN, "--quick"]);
}
