//! `container_kwargs`: the keyword arguments Dagster's DockerRunLauncher passes to docker-py's
//! `containers.create`, read into a typed [`ContainerKwargs`] (from the launcher's config and
//! from a run's `dagster-docker/container_kwargs` tag) and turned into the Docker Engine API's
//! container create body by the launcher.
//!
//! The keys are docker-py's names. A key this implementation does not know is an error naming
//! it (never silently dropped); `image`, `environment` and `network` are refused as Dagster
//! refuses them (they have their own launcher keys), and so is `command` (the launcher sets it).

use serde_json::Value as Json;
use std::collections::BTreeMap;

/// A bad `container_kwargs` entry: the key (dotted path inside `container_kwargs`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KwargsError {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for KwargsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "container_kwargs.{}: {}", self.key, self.message)
    }
}

/// The docker-py keys understood, for error messages.
pub const SUPPORTED_KEYS: &[&str] = &[
    "auto_remove",
    "cap_add",
    "cap_drop",
    "cpu_period",
    "cpu_quota",
    "cpu_shares",
    "cpuset_cpus",
    "detach",
    "devices",
    "dns",
    "entrypoint",
    "extra_hosts",
    "group_add",
    "hostname",
    "init",
    "ipc_mode",
    "labels",
    "mem_limit",
    "memswap_limit",
    "mounts",
    "name",
    "nano_cpus",
    "network_mode",
    "pid_mode",
    "ports",
    "privileged",
    "read_only",
    "restart_policy",
    "security_opt",
    "shm_size",
    "stop_signal",
    "tmpfs",
    "ulimits",
    "user",
    "volumes",
    "working_dir",
];

/// One `mounts` entry (docker-py `Mount`: `target`, `source`, `type`, `read_only`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub target: String,
    pub source: Option<String>,
    /// `volume` (docker-py's default), `bind`, `tmpfs`.
    pub kind: String,
    pub read_only: bool,
}

/// One `ulimits` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// `restart_policy`: `{Name: ..., MaximumRetryCount: N}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: Option<i64>,
}

/// The container settings of `container_kwargs` (docker-py names, typed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerKwargs {
    /// `volumes`: `"host_or_volume:/path[:ro|rw]"` binds (the list form; the mapping form
    /// `{src: {bind, mode}}` is converted to it).
    pub volumes: Vec<String>,
    pub mounts: Vec<MountSpec>,
    pub network_mode: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub auto_remove: Option<bool>,
    pub mem_limit: Option<i64>,
    pub memswap_limit: Option<i64>,
    pub shm_size: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub privileged: Option<bool>,
    pub init: Option<bool>,
    pub read_only: Option<bool>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub dns: Vec<String>,
    /// `"name:ip"` entries (the mapping form `{name: ip}` is converted).
    pub extra_hosts: Vec<String>,
    pub group_add: Vec<String>,
    pub security_opt: Vec<String>,
    /// `"/dev/host:/dev/container[:rwm]"`.
    pub devices: Vec<String>,
    pub tmpfs: BTreeMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    pub restart_policy: Option<RestartPolicy>,
    pub stop_signal: Option<String>,
    pub pid_mode: Option<String>,
    pub ipc_mode: Option<String>,
    /// `"8080/tcp"` → host port (`None`: a random one).
    pub ports: BTreeMap<String, Option<String>>,
}

impl ContainerKwargs {
    /// Reads a `container_kwargs` mapping. Every bad entry is reported.
    pub fn from_json(map: &serde_json::Map<String, Json>) -> Result<Self, Vec<KwargsError>> {
        ContainerKwargs::default().merged_with(map)
    }

    /// `other`'s settings over these (a shallow merge, as Dagster merges a run's
    /// `container_kwargs` over the launcher's: a key set in `other` replaces this one's).
    /// Every bad entry is reported.
    pub fn merged_with(
        &self,
        other_json: &serde_json::Map<String, Json>,
    ) -> Result<Self, Vec<KwargsError>> {
        let mut k = self.clone();
        let errors: Vec<KwargsError> = other_json
            .iter()
            .filter_map(|(key, v)| k.set(key, v).err())
            .collect();
        if errors.is_empty() {
            Ok(k)
        } else {
            Err(errors)
        }
    }

    fn set(&mut self, key: &str, v: &Json) -> Result<(), KwargsError> {
        let err = |message: String| KwargsError {
            key: key.to_string(),
            message,
        };
        match key {
            "image" => {
                return Err(err(
                    "'image' cannot be used in 'container_kwargs'. Use the 'image' config key instead."
                        .into(),
                ))
            }
            "environment" => {
                return Err(err(
                    "'environment' cannot be used in 'container_kwargs'. Use the 'env_vars' config key instead."
                        .into(),
                ))
            }
            "network" => {
                return Err(err(
                    "'network' cannot be used in 'container_kwargs'. Use the 'networks' config key instead."
                        .into(),
                ))
            }
            "command" => {
                return Err(err(
                    "'command' cannot be used in 'container_kwargs': the launcher runs `dagster api execute-run <run_id>` (use 'entrypoint' to wrap it)"
                        .into(),
                ))
            }
            // Always detached; docker-py's own default for create.
            "detach" => {
                bool_of(v).map_err(err)?;
            }
            "volumes" => self.volumes = volumes(v).map_err(err)?,
            "mounts" => self.mounts = mounts(v).map_err(err)?,
            "network_mode" => self.network_mode = Some(string(v).map_err(err)?),
            "labels" => self.labels = string_map(v, '=').map_err(err)?,
            "user" => self.user = Some(scalar_string(v).map_err(err)?),
            "working_dir" => self.working_dir = Some(string(v).map_err(err)?),
            "hostname" => self.hostname = Some(string(v).map_err(err)?),
            "name" => self.name = Some(string(v).map_err(err)?),
            "entrypoint" => self.entrypoint = Some(command_list(v).map_err(err)?),
            "auto_remove" => self.auto_remove = Some(bool_of(v).map_err(err)?),
            "mem_limit" => self.mem_limit = Some(bytes(v).map_err(err)?),
            "memswap_limit" => self.memswap_limit = Some(bytes(v).map_err(err)?),
            "shm_size" => self.shm_size = Some(bytes(v).map_err(err)?),
            "cpu_period" => self.cpu_period = Some(int(v).map_err(err)?),
            "cpu_quota" => self.cpu_quota = Some(int(v).map_err(err)?),
            "cpu_shares" => self.cpu_shares = Some(int(v).map_err(err)?),
            "nano_cpus" => self.nano_cpus = Some(int(v).map_err(err)?),
            "cpuset_cpus" => self.cpuset_cpus = Some(string(v).map_err(err)?),
            "privileged" => self.privileged = Some(bool_of(v).map_err(err)?),
            "init" => self.init = Some(bool_of(v).map_err(err)?),
            "read_only" => self.read_only = Some(bool_of(v).map_err(err)?),
            "cap_add" => self.cap_add = strings(v).map_err(err)?,
            "cap_drop" => self.cap_drop = strings(v).map_err(err)?,
            "dns" => self.dns = strings(v).map_err(err)?,
            "group_add" => self.group_add = strings(v).map_err(err)?,
            "security_opt" => self.security_opt = strings(v).map_err(err)?,
            "devices" => self.devices = strings(v).map_err(err)?,
            "extra_hosts" => self.extra_hosts = pairs(v, ":").map_err(err)?,
            "tmpfs" => self.tmpfs = string_map(v, ':').map_err(err)?,
            "ulimits" => self.ulimits = ulimits(v).map_err(err)?,
            "restart_policy" => self.restart_policy = Some(restart_policy(v).map_err(err)?),
            "stop_signal" => self.stop_signal = Some(string(v).map_err(err)?),
            "pid_mode" => self.pid_mode = Some(string(v).map_err(err)?),
            "ipc_mode" => self.ipc_mode = Some(string(v).map_err(err)?),
            "ports" => self.ports = ports(v).map_err(err)?,
            _ => {
                return Err(err(format!(
                    "unknown key `{key}` (supported: {})",
                    SUPPORTED_KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

fn string(v: &Json) -> Result<String, String> {
    match v {
        Json::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, found {}", kind(other))),
    }
}

/// A string, or a number written as one (`user: 1000`).
fn scalar_string(v: &Json) -> Result<String, String> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        other => Err(format!("expected a string, found {}", kind(other))),
    }
}

fn bool_of(v: &Json) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("expected true or false, found {}", kind(v)))
}

fn int(v: &Json) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("expected an integer, found {}", kind(v)))
}

fn strings(v: &Json) -> Result<Vec<String>, String> {
    match v {
        Json::Array(items) => items.iter().map(scalar_string).collect(),
        Json::String(s) => Ok(vec![s.clone()]),
        other => Err(format!("expected a list of strings, found {}", kind(other))),
    }
}

/// A command as a list, or a string split on whitespace.
fn command_list(v: &Json) -> Result<Vec<String>, String> {
    match v {
        Json::String(s) => Ok(s.split_whitespace().map(str::to_string).collect()),
        Json::Array(_) => strings(v),
        other => Err(format!(
            "expected a string or a list, found {}",
            kind(other)
        )),
    }
}

/// docker-py's memory sizes: an integer (bytes) or a string with a unit `b`, `k`, `m`, `g`.
fn bytes(v: &Json) -> Result<i64, String> {
    match v {
        Json::Number(n) => n
            .as_i64()
            .filter(|b| *b >= 0)
            .ok_or_else(|| format!("expected a non-negative number of bytes, found {n}")),
        Json::String(s) => parse_bytes(s)
            .ok_or_else(|| format!("expected a size such as `512m` or `2g`, found `{s}`")),
        other => Err(format!(
            "expected a size such as `512m`, found {}",
            kind(other)
        )),
    }
}

fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s.as_str(), ""),
    };
    let n: i64 = digits.parse().ok()?;
    let mult: i64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn volumes(v: &Json) -> Result<Vec<String>, String> {
    match v {
        Json::Array(_) => {
            let binds = strings(v)?;
            for b in &binds {
                if !b.contains(':') {
                    return Err(format!(
                        "`{b}`: expected `source:/path/in/container[:ro|rw]`"
                    ));
                }
            }
            Ok(binds)
        }
        Json::Object(m) => m
            .iter()
            .map(|(src, spec)| match spec {
                Json::Object(o) => {
                    let bind = o.get("bind").and_then(Json::as_str).ok_or_else(|| {
                        format!("`{src}`: expected `{{bind: /path/in/container, mode: rw}}`")
                    })?;
                    let mode = o.get("mode").and_then(Json::as_str).unwrap_or("rw");
                    Ok(format!("{src}:{bind}:{mode}"))
                }
                Json::String(bind) => Ok(format!("{src}:{bind}")),
                other => Err(format!(
                    "`{src}`: expected `{{bind: ..., mode: ...}}`, found {}",
                    kind(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "expected a list or a mapping, found {}",
            kind(other)
        )),
    }
}

fn mounts(v: &Json) -> Result<Vec<MountSpec>, String> {
    let Json::Array(items) = v else {
        return Err(format!("expected a list of mounts, found {}", kind(v)));
    };
    items
        .iter()
        .map(|m| {
            let Json::Object(o) = m else {
                return Err(format!(
                    "expected a mount `{{target, source, type, read_only}}`, found {}",
                    kind(m)
                ));
            };
            for k in o.keys() {
                if !["target", "source", "type", "read_only"].contains(&k.as_str()) {
                    return Err(format!(
                        "unknown mount key `{k}` (supported: target, source, type, read_only)"
                    ));
                }
            }
            let target = o
                .get("target")
                .and_then(Json::as_str)
                .ok_or("a mount needs `target`")?
                .to_string();
            let kind = o.get("type").and_then(Json::as_str).unwrap_or("volume");
            if !["volume", "bind", "tmpfs"].contains(&kind) {
                return Err(format!(
                    "mount type `{kind}` is not one of volume, bind, tmpfs"
                ));
            }
            Ok(MountSpec {
                target,
                source: o.get("source").and_then(Json::as_str).map(str::to_string),
                kind: kind.to_string(),
                read_only: o.get("read_only").and_then(Json::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

/// A mapping of strings, or a list of `key<sep>value` (a missing value is empty): `labels`
/// (`=`), `tmpfs` (`:`).
fn string_map(v: &Json, sep: char) -> Result<BTreeMap<String, String>, String> {
    match v {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), scalar_string(v)?)))
            .collect(),
        Json::Array(_) => Ok(strings(v)?
            .into_iter()
            .map(|s| match s.split_once(sep) {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (s, String::new()),
            })
            .collect()),
        other => Err(format!(
            "expected a mapping or a list, found {}",
            kind(other)
        )),
    }
}

/// A list of `a<sep>b`, or a mapping `{a: b}` converted to that form.
fn pairs(v: &Json, sep: &str) -> Result<Vec<String>, String> {
    match v {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| Ok(format!("{k}{sep}{}", scalar_string(v)?)))
            .collect(),
        _ => strings(v),
    }
}

fn ulimits(v: &Json) -> Result<Vec<Ulimit>, String> {
    let Json::Array(items) = v else {
        return Err(format!(
            "expected a list of `{{name, soft, hard}}`, found {}",
            kind(v)
        ));
    };
    items
        .iter()
        .map(|u| {
            let o = u
                .as_object()
                .ok_or_else(|| format!("expected `{{name, soft, hard}}`, found {}", kind(u)))?;
            let name = o
                .get("name")
                .and_then(Json::as_str)
                .ok_or("a ulimit needs `name`")?
                .to_string();
            let soft = o.get("soft").and_then(Json::as_i64);
            let hard = o.get("hard").and_then(Json::as_i64);
            let (soft, hard) = match (soft, hard) {
                (Some(s), Some(h)) => (s, h),
                (Some(s), None) => (s, s),
                (None, Some(h)) => (h, h),
                (None, None) => return Err(format!("ulimit `{name}` needs `soft` or `hard`")),
            };
            Ok(Ulimit { name, soft, hard })
        })
        .collect()
}

fn restart_policy(v: &Json) -> Result<RestartPolicy, String> {
    let o = v.as_object().ok_or_else(|| {
        format!(
            "expected `{{Name: ..., MaximumRetryCount: N}}`, found {}",
            kind(v)
        )
    })?;
    let name = o
        .get("Name")
        .or_else(|| o.get("name"))
        .and_then(Json::as_str)
        .ok_or("a restart policy needs `Name`")?;
    if !["", "no", "always", "unless-stopped", "on-failure"].contains(&name) {
        return Err(format!(
            "restart policy `{name}` is not one of no, always, unless-stopped, on-failure"
        ));
    }
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: o
            .get("MaximumRetryCount")
            .or_else(|| o.get("maximum_retry_count"))
            .and_then(Json::as_i64),
    })
}

/// `{"8080/tcp": 8080}`, `{"8080": null}` (random host port), `{"8080/tcp": "127.0.0.1:8080"}`.
fn ports(v: &Json) -> Result<BTreeMap<String, Option<String>>, String> {
    let Json::Object(m) = v else {
        return Err(format!(
            "expected a mapping of container port to host port, found {}",
            kind(v)
        ));
    };
    m.iter()
        .map(|(k, v)| {
            let port = if k.contains('/') {
                k.clone()
            } else {
                format!("{k}/tcp")
            };
            let host = match v {
                Json::Null => None,
                other => Some(scalar_string(other)?),
            };
            Ok((port, host))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Json) -> Result<ContainerKwargs, Vec<KwargsError>> {
        ContainerKwargs::from_json(v.as_object().expect("an object"))
    }

    #[test]
    fn reads_docker_py_forms() {
        let k = read(json!({
            "volumes": {"/data": {"bind": "/opt/data", "mode": "ro"}},
            "mem_limit": "512m",
            "labels": ["team=data", "tier"],
            "extra_hosts": {"db": "10.0.0.2"},
            "user": 1000,
            "entrypoint": "tini --",
            "auto_remove": true,
            "ports": {"8080": null, "9090/udp": 9091},
            "ulimits": [{"name": "nofile", "soft": 1024}],
        }))
        .expect("valid");
        assert_eq!(k.volumes, vec!["/data:/opt/data:ro"]);
        assert_eq!(k.mem_limit, Some(512 << 20));
        assert_eq!(k.labels.get("team").map(String::as_str), Some("data"));
        assert_eq!(k.labels.get("tier").map(String::as_str), Some(""));
        assert_eq!(k.extra_hosts, vec!["db:10.0.0.2"]);
        assert_eq!(k.user.as_deref(), Some("1000"));
        assert_eq!(k.entrypoint, Some(vec!["tini".into(), "--".into()]));
        assert_eq!(k.ports.get("8080/tcp"), Some(&None));
        assert_eq!(k.ports.get("9090/udp"), Some(&Some("9091".into())));
        assert_eq!(
            k.ulimits,
            vec![Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 1024
            }]
        );
    }

    #[test]
    fn refuses_what_dagster_refuses_and_unknown_keys() {
        let errs = read(json!({
            "image": "x", "environment": {}, "network": "n", "command": "c",
            "volumez": [], "mem_limit": "lots"
        }))
        .expect_err("invalid");
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "command",
                "environment",
                "image",
                "mem_limit",
                "network",
                "volumez"
            ]
        );
        let unknown = errs.iter().find(|e| e.key == "volumez").expect("reported");
        assert!(unknown.message.contains("supported: "), "{unknown}");
        let image = errs.iter().find(|e| e.key == "image").expect("reported");
        assert!(
            image.message.contains("Use the 'image' config key"),
            "{image}"
        );
    }

    #[test]
    fn run_kwargs_replace_launcher_kwargs_key_by_key() {
        let base =
            read(json!({"volumes": ["/a:/a"], "mem_limit": 100, "user": "1"})).expect("valid");
        let run = json!({"volumes": ["/b:/b"], "user": "2"});
        let k = base
            .merged_with(run.as_object().expect("an object"))
            .expect("valid");
        assert_eq!(k.volumes, vec!["/b:/b"]);
        assert_eq!(k.user.as_deref(), Some("2"));
        assert_eq!(k.mem_limit, Some(100));
    }
}
