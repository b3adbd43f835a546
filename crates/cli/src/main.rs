//! `dagster`: the command line of the Rust Dagster implementation.
//!
//! Names and flags follow Dagster's CLI (`dagster job execute -j`, `dagster run list`, ...).
//! Exit codes: 0 success, 1 a run failed (or a command failed at run time), 2 bad input
//! (usage, configuration or definitions errors).

mod cmd;
mod common;
mod output;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dagster",
    version,
    about = "Dagster command line (Rust implementation)",
    propagate_version = true
)]
struct Cli {
    /// Log level of the command's own diagnostics (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "DAGSTER_LOG_LEVEL")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Jobs: list, execute in process, launch through the run coordinator.
    #[command(subcommand)]
    Job(cmd::job::JobCommand),
    /// Assets: list, materialize.
    #[command(subcommand)]
    Asset(cmd::asset::AssetCommand),
    /// Runs: list, show, logs, delete, wipe.
    #[command(subcommand)]
    Run(cmd::run::RunCommand),
    /// Resources: list, check (connect and report).
    #[command(subcommand)]
    Resource(cmd::resource::ResourceCommand),
    /// Instance: info, migrate.
    #[command(subcommand)]
    Instance(cmd::instance::InstanceCommand),
    /// Definitions: validate.
    #[command(subcommand)]
    Definitions(cmd::definitions::DefinitionsCommand),
    /// Internal API used by run launchers.
    #[command(subcommand)]
    Api(cmd::api::ApiCommand),
    /// Schedules: list, start, stop, preview, logs.
    #[command(subcommand)]
    Schedule(cmd::schedule::ScheduleCommand),
    /// Sensors: list, start, stop, preview, cursor.
    #[command(subcommand)]
    Sensor(cmd::sensor::SensorCommand),
    /// Start a local deployment: webserver and daemon together on this instance.
    #[command(disable_help_flag = true)]
    Dev(cmd::dev::DevArgs),
}

fn main() -> ExitCode {
    // Output cut off by the reader (`dagster run list | head`) ends the process quietly, as for
    // other Unix tools, instead of panicking in `println!` on a broken pipe.
    sigpipe::reset();
    let cli = Cli::parse();
    common::init_tracing(&cli.log_level);
    let result = match cli.command {
        Command::Job(c) => cmd::job::run(c),
        Command::Asset(c) => cmd::asset::run(c),
        Command::Run(c) => cmd::run::run(c),
        Command::Resource(c) => cmd::resource::run(c),
        Command::Instance(c) => cmd::instance::run(c),
        Command::Definitions(c) => cmd::definitions::run(c),
        Command::Api(c) => cmd::api::run(c),
        Command::Dev(c) => cmd::dev::run(c),
        Command::Schedule(c) => cmd::schedule::run(c),
        Command::Sensor(c) => cmd::sensor::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => common::report_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_command_definition_is_well_formed() {
        Cli::command().debug_assert();
    }
}
