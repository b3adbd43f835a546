//! `dagster resource list|check`: the resources of the code location, and a live connection check.

use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::defs::Definitions;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ResourceCommand {
    /// List resources with their type and (redacted) config.
    List {
        #[command(flatten)]
        ws: WorkspaceArgs,
        #[arg(long)]
        json: bool,
    },
    /// Connect to one resource (or all) and report what was reached.
    Check {
        /// Resource name; all resources when omitted.
        name: Option<String>,
        #[command(flatten)]
        ws: WorkspaceArgs,
    },
}

pub fn run(cmd: ResourceCommand) -> Result<ExitCode> {
    match cmd {
        ResourceCommand::List { ws, json } => {
            let home = common::resolve_home()?;
            let loc = common::load_location(&ws, Some(&home.home))?;
            if json {
                let items: Vec<serde_json::Value> = loc
                    .defs
                    .resources
                    .values()
                    .map(|r| serde_json::json!({"name": r.name, "type": r.type_name, "config": r.redacted_config()}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                for r in loc.defs.resources.values() {
                    println!("Resource: {} ({})", r.name, r.type_name);
                    println!("     Config: {}", r.redacted_config());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ResourceCommand::Check { name, ws } => {
            let home = common::resolve_home()?;
            let loc = common::load_location(&ws, Some(&home.home))?;
            if let Some(n) = &name {
                if !loc.defs.resources.contains_key(n) {
                    let known: Vec<&str> = loc.defs.resources.keys().map(String::as_str).collect();
                    return Err(bad_input(format!(
                        "no resource named `{n}` (defined: {})",
                        known.join(", ")
                    )));
                }
            }
            let ok = check_resources(&loc.defs, name.as_deref());
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(common::EXIT_RUN_FAILED)
            })
        }
    }
}

/// Builds and checks resources (all, or the named one); prints one line each. True if all passed.
pub fn check_resources(defs: &Definitions, only: Option<&str>) -> bool {
    let mut all_ok = true;
    for r in defs
        .resources
        .values()
        .filter(|r| only.is_none_or(|n| n == r.name))
    {
        let result = defs
            .registry
            .resource_types
            .get(&r.type_name)
            .ok_or_else(|| anyhow::anyhow!("unknown resource type `{}`", r.type_name))
            .and_then(|t| t.build(r))
            .and_then(|res| res.check());
        match result {
            Ok(msg) => println!("resource {}: ok: {msg}", r.name),
            Err(e) => {
                all_ok = false;
                let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
                println!(
                    "resource {}: FAILED: {}",
                    r.name,
                    chain.join(": caused by: ")
                );
            }
        }
    }
    all_ok
}
