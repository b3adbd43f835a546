#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! The Docker deployment files (`docker-compose-dagster.yml`, `Dockerfile.webserver`,
//! `Dockerfile.daemon`, `dagster-home/docker/`). There is no Docker engine on the test machines,
//! so they are checked statically (what the compose file wires together, what the images
//! contain) and by running the images' own commands, read from the Dockerfiles, as two processes
//! of this build: the webserver's `CMD` and the daemon's `CMD` on one DAGSTER_HOME made of the
//! files the images copy, with the storage settings the compose file passes, against a fresh
//! Postgres database. The demo job launched through the webserver is run by the daemon, and both
//! health checks (`HEALTHCHECK`) pass.

mod common;

use common::*;
use dagster_core::domain::RunStatus;
use dagster_core::storage::RunStore;
use dagster_core::test_support::TestDb;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where the images keep DAGSTER_HOME and the code location.
const IMAGE_HOME: &str = "/opt/dagster/dagster_home";
const IMAGE_APP: &str = "/opt/dagster/app";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// One instruction of a Dockerfile (continuation lines joined, comments dropped).
#[derive(Debug, Clone)]
struct Instr {
    op: String,
    args: String,
}

/// The instructions of each stage of a Dockerfile, in order.
fn stages(dockerfile: &str) -> Vec<Vec<Instr>> {
    let mut out: Vec<Vec<Instr>> = Vec::new();
    let mut pending = String::new();
    for line in read(dockerfile).lines() {
        let t = line.trim();
        if pending.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let (op, args) = pending.split_once(' ').unwrap_or((pending.as_str(), ""));
        let instr = Instr {
            op: op.to_uppercase(),
            args: args.trim().to_string(),
        };
        if instr.op == "FROM" {
            out.push(Vec::new());
        }
        out.last_mut()
            .unwrap_or_else(|| panic!("{dockerfile}: an instruction before FROM"))
            .push(instr);
        pending.clear();
    }
    out
}

fn json_array(dockerfile: &str, instr: &Instr) -> Vec<String> {
    serde_json::from_str(&instr.args).unwrap_or_else(|e| {
        panic!(
            "{dockerfile}: {} must be a JSON array (exec form, so signals reach the process): {e}",
            instr.op
        )
    })
}

/// What an image runs and where, from its final stage.
#[derive(Debug)]
struct Image {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
    home: String,
    user: String,
}

/// The workspace's `[[bin]]` names.
fn workspace_bins() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    for krate in std::fs::read_dir(repo().join("crates")).unwrap() {
        let manifest = krate.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        let mut in_bin = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_bin = t == "[[bin]]";
            } else if let Some(name) = t.strip_prefix("name = ").filter(|_| in_bin) {
                bins.insert(name.trim_matches('"').to_string());
            }
        }
    }
    bins
}

fn check_dockerfile(dockerfile: &str) -> Image {
    let stages = stages(dockerfile);
    assert!(
        stages.len() >= 2,
        "{dockerfile}: a build stage and a runtime stage"
    );
    // The build stage: the toolchain of rust-toolchain.toml, the workspace's binaries.
    let build = &stages[0];
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert!(
        build[0].args.starts_with(&format!("rust:{channel}-")),
        "{dockerfile}: build stage `FROM {}` should use Rust {channel} (rust-toolchain.toml)",
        build[0].args
    );
    let cargo = build
        .iter()
        .find(|i| i.op == "RUN" && i.args.contains("cargo build"))
        .unwrap_or_else(|| panic!("{dockerfile}: no `cargo build` in the build stage"));
    assert!(
        cargo.args.contains("--locked"),
        "{dockerfile}: cargo build --locked"
    );
    let packages: Vec<&str> = cargo
        .args
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "-p")
        .map(|w| w[1])
        .collect();
    for p in ["dagster-cli", "dagster-webserver", "dagster-daemon"] {
        assert!(packages.contains(&p), "{dockerfile}: cargo build -p {p}");
        assert!(
            repo()
                .join("crates")
                .join(p.trim_start_matches("dagster-"))
                .join("Cargo.toml")
                .is_file(),
            "{dockerfile}: no crate for package {p}"
        );
    }
    let bins = workspace_bins();
    for b in ["dagster", "dagster-webserver", "dagster-daemon"] {
        assert!(
            bins.contains(b),
            "no [[bin]] {b} in the workspace: {bins:?}"
        );
        assert!(
            cargo.args.contains(&format!("target/release/{b} ")) || cargo.args.ends_with(b),
            "{dockerfile}: the build stage does not keep {b}"
        );
    }

    // The runtime stage.
    let last = stages.last().unwrap();
    let find = |op: &'static str| last.iter().filter(move |i| i.op == op);
    for copy in find("COPY") {
        if copy.args.starts_with("--from=") {
            continue;
        }
        let parts: Vec<&str> = copy
            .args
            .split_whitespace()
            .filter(|p| !p.starts_with("--"))
            .collect();
        for src in &parts[..parts.len() - 1] {
            assert!(
                repo().join(src).exists(),
                "{dockerfile}: COPY source {src} does not exist in the repository"
            );
        }
    }
    let home = find("ENV")
        .find_map(|i| i.args.strip_prefix("DAGSTER_HOME=").map(str::to_string))
        .unwrap_or_else(|| panic!("{dockerfile}: ENV DAGSTER_HOME=... in the runtime stage"));
    let user = find("USER")
        .next_back()
        .unwrap_or_else(|| panic!("{dockerfile}: the runtime stage must not run as root (USER)"))
        .args
        .clone();
    assert!(
        user != "root" && user != "0",
        "{dockerfile}: runs as {user}"
    );
    let entrypoint = json_array(dockerfile, find("ENTRYPOINT").next_back().unwrap());
    assert_eq!(
        entrypoint.first().map(String::as_str),
        Some("tini"),
        "{dockerfile}: an init as PID 1 reaps exited run workers and forwards SIGTERM"
    );
    let cmd = json_array(dockerfile, find("CMD").next_back().unwrap());
    assert!(
        bins.contains(&cmd[0]),
        "{dockerfile}: CMD runs {}, not a binary of this workspace",
        cmd[0]
    );
    let hc = find("HEALTHCHECK")
        .next_back()
        .unwrap_or_else(|| panic!("{dockerfile}: no HEALTHCHECK"));
    let (_, hc_cmd) = hc
        .args
        .split_once("CMD ")
        .unwrap_or_else(|| panic!("{dockerfile}: HEALTHCHECK ... CMD [...]"));
    let healthcheck = serde_json::from_str(hc_cmd).unwrap();
    Image {
        entrypoint,
        cmd,
        healthcheck,
        home,
        user,
    }
}

fn map<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("docker-compose-dagster.yml: no `{key}` in {v:?}"))
}

fn strs(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, found {v:?}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// `{env: VAR}` references of a YAML file.
fn env_refs(rel: &str) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Mapping(m) => {
                if m.len() == 1 {
                    if let Some(Value::String(var)) = m.get("env") {
                        out.insert(var.clone());
                        return;
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Sequence(s) => s.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(&serde_yaml::from_str(&read(rel)).unwrap(), &mut out);
    out
}

#[test]
fn compose_file_and_images_wire_two_containers_through_dagster_home_and_postgres() {
    let web = check_dockerfile("Dockerfile.webserver");
    let daemon = check_dockerfile("Dockerfile.daemon");
    assert_eq!(web.home, IMAGE_HOME);
    assert_eq!(daemon.home, IMAGE_HOME);
    assert_eq!(web.cmd[0], "dagster-webserver");
    assert_eq!(daemon.cmd[..2], ["dagster-daemon", "run"]);
    assert_eq!(daemon.healthcheck, ["dagster-daemon", "liveness-check"]);

    let compose: Value =
        serde_yaml::from_str(&read("docker-compose-dagster.yml")).expect("valid YAML");
    let services = map(&compose, "services");
    let declared_volumes: BTreeSet<String> = map(&compose, "volumes")
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for (name, dockerfile) in [
        ("webserver", "Dockerfile.webserver"),
        ("daemon", "Dockerfile.daemon"),
    ] {
        let svc = map(services, name);
        assert_eq!(
            map(map(svc, "build"), "dockerfile").as_str(),
            Some(dockerfile)
        );
        assert_eq!(
            map(map(map(svc, "depends_on"), "postgres"), "condition").as_str(),
            Some("service_healthy"),
            "{name} waits for the storage"
        );
        let volumes = strs(map(svc, "volumes"));
        // DAGSTER_HOME is a named volume, the same in both containers.
        let home = volumes
            .iter()
            .find_map(|v| v.strip_suffix(&format!(":{IMAGE_HOME}")))
            .unwrap_or_else(|| panic!("{name}: no volume at {IMAGE_HOME}: {volumes:?}"));
        assert!(
            declared_volumes.contains(home),
            "{name}: DAGSTER_HOME volume {home} is not a named volume"
        );
        // Bind mounts come from this repository and are read-only.
        for v in volumes.iter().filter(|v| v.starts_with("./")) {
            let src = v.split(':').next().unwrap();
            assert!(repo().join(src).exists(), "{name}: {src} does not exist");
            assert!(v.ends_with(":ro"), "{name}: {v} should be read-only");
        }
        // Every variable the instance config and the code location read is passed.
        let env = map(svc, "environment").as_mapping().unwrap();
        let workspace = read("dagster-home/docker/workspace.yaml");
        assert!(workspace.contains(&format!("{IMAGE_APP}/pipeline-config/prod.yaml")));
        for var in env_refs("dagster-home/docker/dagster.yaml")
            .into_iter()
            .chain(env_refs("pipeline-config/prod.yaml"))
        {
            assert!(
                env.contains_key(var.as_str()),
                "{name}: environment lacks {var}"
            );
        }
    }
    // Same volumes and environment: the two containers see the same home and config.
    assert_eq!(
        map(map(services, "webserver"), "volumes"),
        map(map(services, "daemon"), "volumes")
    );
    assert_eq!(
        map(map(services, "webserver"), "environment"),
        map(map(services, "daemon"), "environment")
    );
    assert!(
        strs(map(map(services, "webserver"), "ports")).contains(&"3004:3004".to_string()),
        "the webserver publishes port 3004"
    );
    let port_arg = web.cmd.iter().position(|a| a == "-p").unwrap();
    assert_eq!(web.cmd[port_arg + 1], "3004");
    assert!(web
        .healthcheck
        .iter()
        .any(|a| a.contains(":3004/server_info")));
    // The storage password has no default: compose refuses to start without it.
    let pw = map(
        map(map(services, "webserver"), "environment"),
        "DAGSTER_POSTGRES_PASSWORD",
    );
    assert!(pw.as_str().unwrap().contains(":?"), "{pw:?}");
    assert_eq!(web.user, daemon.user);
    assert_eq!(web.entrypoint, daemon.entrypoint);
}

/// Maps a path inside the images to this test's home / this checkout.
fn host_path(arg: &str, home: &Path) -> String {
    if let Some(rest) = arg.strip_prefix(IMAGE_HOME) {
        format!("{}{rest}", home.display())
    } else if let Some(rest) = arg.strip_prefix(IMAGE_APP) {
        format!("{}{rest}", repo().display())
    } else {
        arg.to_string()
    }
}

#[test]
fn the_images_commands_run_the_demo_job_as_two_processes() {
    let web_image = check_dockerfile("Dockerfile.webserver");
    let daemon_image = check_dockerfile("Dockerfile.daemon");
    let db = TestDb::postgres_database();
    let pg = db.pg_params().unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // DAGSTER_HOME as the images have it: the two files they copy (the workspace's code
    // location path mapped to this checkout).
    std::fs::copy(
        repo().join("dagster-home/docker/dagster.yaml"),
        h.join("dagster.yaml"),
    )
    .unwrap();
    let workspace = read("dagster-home/docker/workspace.yaml")
        .replace(IMAGE_APP, repo().canonicalize().unwrap().to_str().unwrap());
    std::fs::write(h.join("workspace.yaml"), workspace).unwrap();
    let port = free_port();
    // The compose file's environment, with this machine's services.
    let env: Vec<(&str, String)> = vec![
        ("DAGSTER_HOME", h.display().to_string()),
        ("DAGSTER_POSTGRES_HOSTNAME", pg.host.clone()),
        ("DAGSTER_POSTGRES_PORT", pg.port.to_string()),
        ("DAGSTER_POSTGRES_USER", pg.user.clone()),
        ("DAGSTER_POSTGRES_PASSWORD", "unused-with-trust-auth".into()),
        ("DAGSTER_POSTGRES_DB", pg.dbname.clone()),
        ("MYSQL_REPLICA_HOST", "127.0.0.1".into()),
        ("MYSQL_REPLICA_USER", "root".into()),
        ("MYSQL_REPLICA_PASSWORD", "unused".into()),
        ("MYSQL_REPLICA_DATABASE", "test".into()),
        ("CLICKHOUSE_URL", "http://127.0.0.1:8123".into()),
        ("CLICKHOUSE_USER", "default".into()),
        ("CLICKHOUSE_PASSWORD", "unused".into()),
        ("REPORTING_PG_HOST", pg.host.clone()),
        ("REPORTING_PG_USER", pg.user.clone()),
        ("REPORTING_PG_PASSWORD", "unused".into()),
        ("REPORTING_PG_DATABASE", pg.dbname.clone()),
    ];
    let spawn = |image: &Image, name: &'static str, log: &Path| -> Proc {
        let bin = match image.cmd[0].as_str() {
            "dagster-webserver" => webserver_bin(),
            other => sibling_bin(other, other),
        };
        let args: Vec<String> = image
            .cmd
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, a)| {
                // The image's port, moved to a free one (tests run in parallel).
                if i > 0 && image.cmd[i] == "-p" {
                    port.to_string()
                } else {
                    host_path(a, h)
                }
            })
            .collect();
        Proc {
            name,
            child: Command::new(bin)
                .args(&args)
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .env_remove("DAGSTER_WEBSERVER_TOKEN")
                .env_remove("DAGSTER_WEBSERVER_READ_ONLY")
                .env_remove("DAGSTER_WEBSERVER_PORT")
                .current_dir(h)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .unwrap(),
        }
    };
    let daemon_log = h.join("daemon.log");
    let web_log = h.join("webserver.log");
    let mut daemon = spawn(&daemon_image, "dagster-daemon", &daemon_log);
    let mut web = spawn(&web_image, "dagster-webserver", &web_log);
    let logs = || {
        format!(
            "webserver log:\n{}\ndaemon log:\n{}",
            std::fs::read_to_string(&web_log).unwrap_or_default(),
            std::fs::read_to_string(&daemon_log).unwrap_or_default()
        )
    };
    wait_for_server(port, &web_log);

    let (status, d) = gql(
        port,
        "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } } }",
        serde_json::json!({"p": {"selector": {"jobName": "demo_job", "repositoryLocationName": "dagster-pipeline", "repositoryName": "__repository__"}}}),
    );
    assert_eq!(status, 200, "{d}");
    let launched = &d["data"]["launchRun"];
    assert_eq!(
        launched["__typename"],
        "LaunchRunSuccess",
        "{d}\n{}",
        logs()
    );
    assert_eq!(launched["run"]["status"], "QUEUED", "{d}");
    let run_id = launched["run"]["runId"].as_str().unwrap().to_string();

    // The storage, read by this (third) process through the same database.
    let storage = db.storage();
    wait_until(
        &format!("run {run_id} to finish\n{}", logs()),
        Duration::from_secs(60),
        || {
            storage
                .get_run(&run_id)
                .unwrap()
                .is_some_and(|r| r.status.is_finished())
        },
    );
    let run = storage.get_run(&run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Success, "{}", logs());

    // The images' health checks, run the same way: retried, as Docker does within the start
    // period (each daemon loop writes its first heartbeat after its first pass).
    let daemon_check = || {
        Command::new(sibling_bin("dagster-daemon", "dagster-daemon"))
            .args(&daemon_image.healthcheck[1..])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    };
    let start = std::time::Instant::now();
    let out = loop {
        let out = daemon_check();
        if out.status.success() {
            break out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "daemon HEALTHCHECK failed for 30 s: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            logs()
        );
        #[allow(clippy::disallowed_methods)] // a plain test thread
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = String::from_utf8_lossy(&out.stdout);
    for d in [
        "SCHEDULER",
        "SENSOR",
        "QUEUED_RUN_COORDINATOR",
        "MONITORING",
    ] {
        assert!(report.contains(&format!("{d}: healthy")), "{report}");
    }
    let url = web_image
        .healthcheck
        .iter()
        .find(|a| a.starts_with("http://"))
        .unwrap();
    let path = &url[url.find("/server_info").unwrap()..];
    assert_eq!(try_http(port, "GET", path, &[], b"").unwrap().0, 200);
    // The documented "open http://localhost:3004": Dagster's UI, from the binary itself.
    let (status, page) = try_http(port, "GET", "/", &[("Accept", "text/html")], b"").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("__NEXT_DATA__") && page.contains("/_next/static/"),
        "{page}"
    );

    assert_eq!(web.stop(), 0, "webserver exit code\n{}", logs());
    assert_eq!(daemon.stop(), 0, "daemon exit code\n{}", logs());
    // No secret in either log.
    let all = logs();
    assert!(!all.contains("unused-with-trust-auth"), "{all}");
}
