//! `dagster dev`: runs `dagster-webserver` and `dagster-daemon run` together on this instance.

use crate::common::{self, WorkspaceArgs};
use anyhow::{Context, Result};
use clap::Args;
use std::process::{Command, ExitCode};

#[derive(Args)]
pub struct DevArgs {
    /// Print help (`-h` is the host, as in Dagster).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Webserver port.
    #[arg(short = 'p', long, default_value_t = 3000)]
    pub port: u16,
    /// Webserver host.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    pub host: String,
    /// How the webserver and daemon write log lines: colored (text), json or rich.
    #[arg(long = "log-format", default_value = "colored", value_parser = clap::builder::PossibleValuesParser::new(dagster_core::logging::LOG_FORMATS))]
    pub log_format: String,
    #[command(flatten)]
    pub ws: WorkspaceArgs,
}

pub fn run(args: DevArgs) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    // Validate the code location up front so a broken config fails here with file:line.
    common::load_location(&args.ws, Some(&home.home))?;
    let exe = std::env::current_exe().context("locating the dagster binary")?;
    let dir = exe.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let mut ws_flags: Vec<String> = Vec::new();
    for w in &args.ws.workspace {
        ws_flags.push("-w".into());
        ws_flags.push(w.display().to_string());
    }
    if let Some(f) = &args.ws.pipeline_config {
        ws_flags.push("-f".into());
        ws_flags.push(f.display().to_string());
    }
    let root = home.home.root().to_path_buf();
    let mut web = Command::new(dir.join("dagster-webserver"))
        .args(["-h", &args.host, "-p", &args.port.to_string()])
        .args(["--log-format", &args.log_format])
        .args(&ws_flags)
        .env("DAGSTER_HOME", &root)
        .spawn()
        .with_context(|| format!("starting {}", dir.join("dagster-webserver").display()))?;
    let mut daemon = Command::new(dir.join("dagster-daemon"))
        .arg("run")
        .args(["--log-format", &args.log_format])
        .args(&ws_flags)
        .env("DAGSTER_HOME", &root)
        .spawn()
        .with_context(|| format!("starting {}", dir.join("dagster-daemon").display()))?;
    eprintln!(
        "dagster dev: webserver on http://{}:{} and daemon running on {}",
        args.host,
        args.port,
        root.display()
    );
    let rt = common::runtime()?;
    rt.block_on(async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    eprintln!("Shutting down webserver and daemon...");
    for child in [&mut web, &mut daemon] {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    let _ = web.wait();
    let _ = daemon.wait();
    Ok(ExitCode::SUCCESS)
}
