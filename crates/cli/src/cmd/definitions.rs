//! `dagster definitions validate`.

use crate::common::{self, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::config::yaml::ConfigErrors;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DefinitionsCommand {
    /// Load and validate the code location; report every problem with file:line.
    Validate {
        #[command(flatten)]
        ws: WorkspaceArgs,
        /// Also build every resource and connect to it.
        #[arg(long)]
        connect: bool,
    },
}

pub fn run(cmd: DefinitionsCommand) -> Result<ExitCode> {
    let DefinitionsCommand::Validate { ws, connect } = cmd;
    let home = common::resolve_home()?;
    let loc = match common::load_location(&ws, Some(&home.home)) {
        Ok(l) => l,
        Err(e) => {
            if let Some(errs) = e.downcast_ref::<ConfigErrors>() {
                eprint!("{errs}");
                eprintln!("Validation failed.");
                return Ok(ExitCode::from(common::EXIT_BAD_INPUT));
            }
            return Err(e);
        }
    };
    let d = &loc.defs;
    println!(
        "Validation successful for code location {} ({} assets, {} jobs, {} schedules, {} sensors, {} resources).",
        loc.name,
        d.assets.len(),
        d.jobs.len(),
        d.schedules.len(),
        d.sensors.len(),
        d.resources.len()
    );
    if connect && !crate::cmd::resource::check_resources(d, None) {
        return Ok(ExitCode::from(common::EXIT_RUN_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
