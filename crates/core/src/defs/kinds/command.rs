//! `kind: command`: runs a process as the body of an asset.
//!
//! Keys (next to the common asset keys):
//!
//! | key | meaning |
//! |-----|---------|
//! | `args` | required list: the program, then its arguments (no shell; use `[sh, -c, "..."]` for one) |
//! | `env` | mapping of extra environment variables; values may be `{env: VAR}` |
//! | `cwd` | working directory, relative to the pipeline config file (default: the current directory) |
//! | `inherit_env` | pass this process's environment on (default `true`); with `false` only `env` and the `DAGSTER_*` variables are set (add `PATH` yourself) |
//! | `success_codes` | exit codes that count as success (default `[0]`) |
//!
//! The process runs in its own process group with stdin closed and stdout/stderr written
//! straight into the step's compute-log files. It also receives `DAGSTER_RUN_ID`,
//! `DAGSTER_JOB_NAME`, `DAGSTER_STEP_KEY`, `DAGSTER_ASSET_KEY`, `DAGSTER_STEP_ATTEMPT` and
//! `DAGSTER_STEP_CONFIG` (the step config as JSON). On cancellation or step timeout the whole
//! group gets SIGTERM, then SIGKILL after [`KILL_GRACE`]. The materialization records
//! `exit_code`, `duration_ms` and `command` (arguments taken from `{env: VAR}` are shown as
//! `***`; `env` values are never recorded).

use crate::config::yaml::Map;
use crate::defs::{AssetCompute, AssetKind, MaterializeResult, StepContext};
use crate::domain::MetadataValue;
use anyhow::{anyhow, bail, Context as _};
use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a running command is checked for exit, cancellation and timeout.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Time between SIGTERM and SIGKILL when a command is stopped.
pub const KILL_GRACE: Duration = Duration::from_secs(3);
/// Lines of stderr quoted as the cause of a failed command.
pub const STDERR_TAIL_LINES: usize = 20;

/// `kind: command`.
pub struct CommandKind;

/// A command to run as an asset body. `Debug` shows neither `env` values nor arguments taken
/// from environment variables (they may be secrets).
#[derive(Clone, PartialEq, Eq)]
pub struct CommandAsset {
    /// The program followed by its arguments (never empty).
    pub args: Vec<String>,
    /// Positions in `args` whose value came from an environment variable (hidden in metadata).
    pub hidden_args: BTreeSet<usize>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub inherit_env: bool,
    pub success_codes: Vec<i32>,
}

impl CommandAsset {
    /// A command with the defaults: inherited environment, current directory, success on 0.
    pub fn new(args: Vec<String>) -> Self {
        CommandAsset {
            args,
            hidden_args: BTreeSet::new(),
            env: Vec::new(),
            cwd: None,
            inherit_env: true,
            success_codes: vec![0],
        }
    }

    fn program(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or("")
    }

    /// The command line for display: shell-quoted, environment-sourced arguments as `***`.
    pub fn display_line(&self) -> String {
        self.args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if self.hidden_args.contains(&i) {
                    "***".to_string()
                } else {
                    shell_quote(a)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The PATH the program is looked up in.
    fn lookup_path(&self) -> String {
        if let Some((_, v)) = self.env.iter().rev().find(|(k, _)| k == "PATH") {
            return v.clone();
        }
        if self.inherit_env {
            std::env::var("PATH").unwrap_or_else(|_| "unset".into())
        } else {
            "unset: inherit_env is false".into()
        }
    }
}

impl std::fmt::Debug for CommandAsset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandAsset")
            .field("command", &self.display_line())
            .field(
                "env",
                &self
                    .env
                    .iter()
                    .map(|(k, _)| format!("{k}=***"))
                    .collect::<Vec<_>>(),
            )
            .field("cwd", &self.cwd)
            .field("inherit_env", &self.inherit_env)
            .field("success_codes", &self.success_codes)
            .finish()
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '+' | '@' | '%')
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl AssetKind for CommandKind {
    fn kind_name(&self) -> &'static str {
        "command"
    }

    fn build(&self, entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)> {
        let mut ok = true;
        let mut cmd = CommandAsset::new(Vec::new());
        match entry.require("args") {
            Some(av) if av.is_seq() => {
                let items = av.as_seq();
                for (i, item) in items.iter().enumerate() {
                    if item.is_map() {
                        cmd.hidden_args.insert(i);
                    }
                    match item.as_str() {
                        Some(s) => cmd.args.push(s),
                        None => ok = false,
                    }
                }
                if items.is_empty() {
                    av.error(
                        "`args` needs at least the program to run, e.g. [sh, -c, 'echo hello']",
                    );
                    ok = false;
                } else if cmd.args.first().is_some_and(|p| p.trim().is_empty()) {
                    av.error("the program (first item of `args`) is empty");
                    ok = false;
                }
            }
            Some(av) => {
                av.error("expected a list: the program followed by its arguments, e.g. [sh, -c, 'echo hello']");
                ok = false;
            }
            None => ok = false,
        }
        if let Some(ev) = entry.get("env") {
            if let Some(em) = ev.as_map() {
                for (name, v) in em.entries() {
                    if name.is_empty() || name.contains('=') || name.contains('\0') {
                        v.error(format!("invalid environment variable name `{name}`"));
                        ok = false;
                        continue;
                    }
                    match v.as_str() {
                        Some(value) => cmd.env.push((name, value)),
                        None => ok = false,
                    }
                }
            } else {
                ok = false;
            }
        }
        if let Some(cv) = entry.get("cwd") {
            match cv.as_str() {
                Some(c) if !c.trim().is_empty() => {
                    cmd.cwd = Some(super::relative_to_file(entry.file(), c.trim()))
                }
                Some(_) => {
                    cv.error("`cwd` cannot be empty");
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(iv) = entry.get("inherit_env") {
            match iv.as_bool() {
                Some(b) => cmd.inherit_env = b,
                None => ok = false,
            }
        }
        if let Some(sv) = entry.get("success_codes") {
            let items = if sv.is_seq() {
                sv.as_seq()
            } else {
                vec![sv.clone()]
            };
            let given = items.len();
            let mut codes = Vec::new();
            for item in items {
                match item.as_int().map(i32::try_from) {
                    Some(Ok(c)) => codes.push(c),
                    Some(Err(_)) => {
                        item.error("not a valid exit code");
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            if given == 0 {
                sv.error("`success_codes` cannot be empty");
                ok = false;
            }
            cmd.success_codes = codes;
        }
        if !ok {
            return None;
        }
        Some((Arc::new(cmd), Vec::new()))
    }
}

/// How a command ended.
enum Outcome {
    Exited(ExitStatus),
    Cancelled,
    TimedOut,
}

impl AssetCompute for CommandAsset {
    fn compute(&self, ctx: &mut StepContext) -> anyhow::Result<MaterializeResult> {
        let program = self.program().to_string();
        if program.is_empty() {
            bail!("command has no program (empty `args`)");
        }
        if ctx.is_cancelled() {
            bail!("command `{program}` cancelled before it started");
        }
        let budget = ctx.remaining();
        if budget == Some(Duration::ZERO) {
            bail!("command `{program}` timed out before it started");
        }
        let mut command = Command::new(&program);
        command.args(&self.args[1..]);
        if !self.inherit_env {
            command.env_clear();
        }
        command
            .env("DAGSTER_RUN_ID", &ctx.run_id)
            .env("DAGSTER_JOB_NAME", &ctx.job_name)
            .env("DAGSTER_STEP_KEY", &ctx.step_key)
            .env("DAGSTER_ASSET_KEY", ctx.asset_key.to_user_string())
            .env("DAGSTER_STEP_ATTEMPT", ctx.attempt.to_string())
            .env("DAGSTER_STEP_CONFIG", ctx.config.to_string());
        for (k, v) in &self.env {
            command.env(k, v);
        }
        if let Some(cwd) = &self.cwd {
            if !cwd.is_dir() {
                bail!(
                    "working directory `{}` of command `{program}` does not exist",
                    cwd.display()
                );
            }
            command.current_dir(cwd);
        }
        let stdout = ctx
            .stdout
            .try_clone()
            .context("cannot share the stdout compute log with the command")?;
        let stderr = ctx
            .stderr
            .try_clone()
            .context("cannot share the stderr compute log with the command")?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0);

        let line = self.display_line();
        ctx.info(&format!("running command: {line}"));
        let stderr_start = std::fs::metadata(&ctx.stderr_path)
            .map(|m| m.len())
            .unwrap_or(0);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| spawn_error(&e, &program, &self.lookup_path()))?;

        let outcome = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Outcome::Exited(status),
                Ok(None) => {}
                Err(e) => {
                    stop_group(&mut child);
                    return Err(anyhow!("cannot wait for command `{program}`: {e}"));
                }
            }
            if ctx.is_cancelled() {
                stop_group(&mut child);
                break Outcome::Cancelled;
            }
            if ctx.remaining() == Some(Duration::ZERO) {
                stop_group(&mut child);
                break Outcome::TimedOut;
            }
            pause();
        };
        let elapsed = started.elapsed();
        match outcome {
            Outcome::Cancelled => Err(anyhow!(
                "command `{program}` cancelled after {}; its process group was killed",
                secs(elapsed)
            )),
            Outcome::TimedOut => Err(anyhow!(
                "command `{program}` timed out after {}; its process group was killed",
                secs(budget.unwrap_or(elapsed))
            )),
            Outcome::Exited(status) => {
                let code = match status.code() {
                    Some(c) => c,
                    None => {
                        let signal = status.signal().unwrap_or_default();
                        return Err(with_stderr_cause(
                            format!("command `{program}` was killed by signal {signal}"),
                            &ctx.stderr_path,
                            stderr_start,
                        ));
                    }
                };
                if !self.success_codes.contains(&code) {
                    return Err(with_stderr_cause(
                        format!("command `{program}` exited with status {code}"),
                        &ctx.stderr_path,
                        stderr_start,
                    ));
                }
                ctx.info(&format!(
                    "command `{program}` exited with status {code} after {}",
                    secs(elapsed)
                ));
                Ok(MaterializeResult::new()
                    .with("exit_code", MetadataValue::Int(i64::from(code)))
                    .with(
                        "duration_ms",
                        MetadataValue::Int(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)),
                    )
                    .with("command", MetadataValue::Text(line)))
            }
        }
    }
}

fn spawn_error(e: &std::io::Error, program: &str, path: &str) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::NotFound if program.contains('/') => {
            anyhow!("command `{program}` not found: no such file")
        }
        std::io::ErrorKind::NotFound => anyhow!("command `{program}` not found in PATH ({path})"),
        std::io::ErrorKind::PermissionDenied => {
            anyhow!("command `{program}` cannot be executed: permission denied")
        }
        _ => anyhow!("cannot start command `{program}`: {e}"),
    }
}

/// Sends SIGTERM to the process group, waits up to [`KILL_GRACE`] for the leader, then SIGKILLs
/// whatever is left of the group and reaps the leader.
fn stop_group(child: &mut Child) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let group = i32::try_from(child.id())
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw);
    if let Some(g) = group {
        let _ = killpg(g, Signal::SIGTERM);
    }
    let deadline = Instant::now() + KILL_GRACE;
    let mut exited = false;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) => {
                exited = true;
                break;
            }
            Ok(None) => pause(),
            Err(_) => break,
        }
    }
    if let Some(g) = group {
        let _ = killpg(g, Signal::SIGKILL);
    }
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// "12 s", "1.5 s".
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 0.05 {
        format!("{} s", s.round())
    } else {
        format!("{s:.1} s")
    }
}

/// The error `message`, caused by the last lines the command wrote to stderr (if any).
fn with_stderr_cause(message: String, stderr_path: &Path, start: u64) -> anyhow::Error {
    let tail = stderr_tail(stderr_path, start, STDERR_TAIL_LINES);
    if tail.trim().is_empty() {
        anyhow!("{message} (nothing on stderr)")
    } else {
        anyhow::Error::msg(tail).context(message)
    }
}

/// The last `lines` lines written to the file after byte `start` (reads at most 64 KiB).
fn stderr_tail(path: &Path, start: u64, lines: usize) -> String {
    const MAX_BYTES: u64 = 64 * 1024;
    let read = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        let from = start.max(len.saturating_sub(MAX_BYTES)).min(len);
        f.seek(SeekFrom::Start(from))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(buf)
    };
    let Ok(bytes) = read() else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits one poll interval. Step computations run on their own OS thread (never a tokio
/// worker), so a blocking sleep is right here.
#[allow(clippy::disallowed_methods)]
fn pause() {
    std::thread::sleep(POLL_INTERVAL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_line_quotes_and_hides() {
        let mut c = CommandAsset::new(vec![
            "sh".into(),
            "-c".into(),
            "echo 'hi'".into(),
            "secret".into(),
        ]);
        c.hidden_args.insert(3);
        assert_eq!(c.display_line(), r#"sh -c 'echo '\''hi'\''' ***"#);
        c.env.push(("TOKEN".into(), "t0ps3cret".into()));
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("t0ps3cret")
                && !debug.contains("secret\"")
                && debug.contains("TOKEN=***"),
            "{debug}"
        );
    }

    #[test]
    fn secs_formats() {
        assert_eq!(secs(Duration::from_millis(999)), "1 s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
    }
}
