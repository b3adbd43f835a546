//! `dagster instance info|migrate`.

use crate::common;
use anyhow::Result;
use clap::Subcommand;
use dagster_core::config::home::LAYOUT_DOC;
use dagster_core::instance::SchemaCheck;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum InstanceCommand {
    /// Print $DAGSTER_HOME, the effective instance config and the storage schema state.
    Info,
    /// Apply pending storage migrations.
    Migrate,
}

pub fn run(cmd: InstanceCommand) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    let inst = common::open_instance(&home.home, SchemaCheck::Unchecked)?;
    match cmd {
        InstanceCommand::Info => {
            println!("$DAGSTER_HOME: {}\n", inst.home.root().display());
            println!(
                "Instance configuration:\n-----------------------\n{}",
                inst.config.to_yaml()
            );
            println!("Storage:\n--------\n{}\n", inst.storage.describe());
            let (current, latest) = inst.storage.schema_version()?;
            println!("Storage schema state:\n---------------------");
            println!(
                "current: {}",
                current.as_deref().unwrap_or("(empty database)")
            );
            println!("latest:  {latest}");
            if current.as_deref() != Some(latest.as_str()) {
                println!("The storage needs migrating: run `dagster instance migrate`.");
            }
            println!("\nDAGSTER_HOME layout:\n--------------------\n{LAYOUT_DOC}");
        }
        InstanceCommand::Migrate => {
            println!("$DAGSTER_HOME: {}", inst.home.root().display());
            println!("Updating storage {}", inst.storage.describe());
            let applied = inst.storage.migrate()?;
            if applied.is_empty() {
                println!("Storage is up to date.");
            } else {
                for v in applied {
                    println!("Applied migration {v}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
