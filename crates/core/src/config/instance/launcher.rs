//! `run_launcher`: `DefaultRunLauncher` (a local run worker process per run, our worker-reuse
//! keys) and `DockerRunLauncher` (a container per run, Dagster's `dagster_docker` keys).

use super::container_kwargs::ContainerKwargs;
use super::*;

/// Launchers of Dagster's we know and do not implement.
const UNSUPPORTED_LAUNCHERS: &[&str] = &[
    "K8sRunLauncher",
    "EcsRunLauncher",
    "CeleryK8sRunLauncher",
    "CeleryDockerRunLauncher",
    "CeleryRunLauncher",
];

pub(super) fn parse_run_launcher(v: &Value<'_>) -> Option<RunLauncherConfig> {
    let c = read_class(v)?;
    match c.class.as_str() {
        "DefaultRunLauncher" => {
            if c.check_module(&[
                "dagster",
                "dagster._core.launcher",
                "dagster._core.launcher.default_run_launcher",
                "dagster.core.launcher",
                "dagster.core.launcher.default_run_launcher",
            ]) {
                return Some(RunLauncherConfig::Default(parse_worker_reuse(&c)));
            }
        }
        "DockerRunLauncher" => {
            if c.check_module(&["dagster_docker", "dagster_docker.docker_run_launcher"]) {
                return parse_docker(&c).map(|d| RunLauncherConfig::Docker(Box::new(d)));
            }
        }
        class if UNSUPPORTED_LAUNCHERS.contains(&class) => c.class_v.error(format!(
            "`{class}` is not supported: runs execute in a local worker process (DefaultRunLauncher) or in a Docker container each (DockerRunLauncher)"
        )),
        class => c.class_v.error(format!(
            "run launcher `{class}` is not supported (use DefaultRunLauncher or DockerRunLauncher)"
        )),
    }
    None
}

fn parse_worker_reuse(c: &ClassRef<'_>) -> WorkerReuse {
    let d = WorkerReuse::default();
    let Some(m) = c.config_map() else {
        return d;
    };
    warn_no_effect(&m, "wait_for_processes", "run_launcher.wait_for_processes");
    m.bool("wait_for_processes");
    let reuse = WorkerReuse {
        max_runs_per_worker: opt_positive(&m, "max_runs_per_worker")
            .unwrap_or(d.max_runs_per_worker),
        max_idle_workers: uint(&m, "max_idle_workers", d.max_idle_workers),
        idle_timeout_seconds: uint(&m, "worker_idle_timeout_seconds", d.idle_timeout_seconds),
    };
    m.finish();
    reuse
}

/// `DockerRunLauncher`'s config: `image`, `registry`, `env_vars`, `network` / `networks`,
/// `container_kwargs` (checked here, so a bad key fails at load with its line, not at launch).
fn parse_docker(c: &ClassRef<'_>) -> Option<DockerLauncherConfig> {
    let mut d = DockerLauncherConfig::default();
    let Some(m) = c.config_map() else {
        return Some(d);
    };
    let mut ok = true;
    if let Some(v) = m.get("image") {
        match v.as_str() {
            Some(image) if valid_image(&image) => d.image = Some(image),
            Some(image) => {
                v.error(format!(
                    "Docker image name `{image}` is not correctly formatted"
                ));
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some(r) = m.map("registry") {
        let (url, username, password) = (
            r.req_str("url"),
            r.req_str("username"),
            r.req_str("password"),
        );
        r.finish();
        match (url, username, password) {
            (Some(url), Some(username), Some(password)) => {
                d.registry = Some(DockerRegistry {
                    url,
                    username,
                    password,
                })
            }
            _ => ok = false,
        }
    }
    if let Some(v) = m.get("env_vars") {
        for e in v.as_seq() {
            match e.as_str() {
                Some(s) if !s.is_empty() && !s.starts_with('=') => d.env_vars.push(s),
                Some(_) => {
                    e.error("expected `NAME` or `NAME=value`");
                    ok = false;
                }
                None => ok = false,
            }
        }
    }
    let network = m.get("network");
    let networks = m.get("networks");
    if let (Some(_), Some(list)) = (&network, &networks) {
        list.error("cannot set both `network` and `networks`");
        ok = false;
    }
    if let Some(n) = network.and_then(|v| v.as_str()) {
        d.networks.push(n);
    } else if let Some(list) = networks {
        d.networks = list.as_str_list();
    }
    if let Some(v) = m.get("container_kwargs") {
        match v.to_json() {
            serde_json::Value::Object(o) => match ContainerKwargs::from_json(&o) {
                Ok(k) => {
                    d.container_kwargs = k;
                    d.container_kwargs_json = o;
                }
                Err(errors) => {
                    ok = false;
                    let inner = v.as_map();
                    for e in errors {
                        match inner.as_ref().and_then(|i| i.get(&e.key)) {
                            Some(at) => at.error(e.message),
                            None => v.error(e.to_string()),
                        }
                    }
                }
            },
            _ => {
                v.error("expected a mapping of docker-py `containers.create` arguments");
                ok = false;
            }
        }
    }
    m.finish();
    ok.then_some(d)
}

/// A plausible image reference: `[registry/]name[:tag][@digest]`, no spaces, a lowercase name.
fn valid_image(image: &str) -> bool {
    let name = image.split('@').next().unwrap_or_default();
    let repo = match name.rsplit_once(':') {
        // `host:5000/name` has its colon before a slash: that is a port, not a tag.
        Some((r, tag)) if !tag.contains('/') => r,
        _ => name,
    };
    let path = repo.split_once('/').map_or(repo, |(first, rest)| {
        if first.contains(['.', ':']) || first == "localhost" {
            rest
        } else {
            repo
        }
    });
    !image.is_empty()
        && !image.chars().any(char::is_whitespace)
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::valid_image;

    #[test]
    fn image_references() {
        for ok in [
            "dagster-rs-daemon",
            "dagster-rs-daemon:latest",
            "localhost:5000/team/app:1.2",
            "registry.example.com/app@sha256:abc",
            "debian:bookworm-slim",
        ] {
            assert!(valid_image(ok), "{ok}");
        }
        for bad in ["", "Upper/Case", "has space:1", ":tag"] {
            assert!(!valid_image(bad), "{bad}");
        }
    }
}
