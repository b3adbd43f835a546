//! `dagster sensor list|start|stop|preview|cursor` (outputs as Dagster's).

use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::defs::{Definitions, SensorDef};
use dagster_core::domain::now_ts;
use dagster_core::instance::SchemaCheck;
use dagster_core::instigator::{sensor, InstigatorStatus};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SensorCommand {
    /// List sensors with their status.
    List {
        #[command(flatten)]
        ws: WorkspaceArgs,
        #[arg(long, conflicts_with = "stopped")]
        running: bool,
        #[arg(long)]
        stopped: bool,
        /// Only print names.
        #[arg(long)]
        name: bool,
        #[arg(long)]
        json: bool,
    },
    /// Start a sensor (or every sensor).
    Start {
        #[command(flatten)]
        ws: WorkspaceArgs,
        #[arg(required_unless_present = "start_all")]
        sensor_name: Option<String>,
        #[arg(long = "start-all")]
        start_all: bool,
    },
    /// Stop a sensor.
    Stop {
        #[command(flatten)]
        ws: WorkspaceArgs,
        sensor_name: String,
    },
    /// Evaluate a sensor once without launching runs or saving its cursor.
    Preview {
        #[command(flatten)]
        ws: WorkspaceArgs,
        sensor_name: String,
        /// Evaluate from this cursor instead of the stored one.
        #[arg(long)]
        since: Option<String>,
    },
    /// Show, set or delete a sensor's cursor.
    Cursor {
        #[command(flatten)]
        ws: WorkspaceArgs,
        sensor_name: String,
        #[arg(long, conflicts_with = "delete")]
        set: Option<String>,
        #[arg(long)]
        delete: bool,
    },
}

fn find<'a>(
    locs: &'a [(String, Definitions)],
    name: &str,
) -> Result<(&'a Definitions, &'a SensorDef)> {
    locs.iter()
        .find_map(|(_, d)| d.sensors.get(name).map(|s| (d, s)))
        .ok_or_else(|| bad_input(format!("no sensor named `{name}` in the workspace")))
}

pub fn run(cmd: SensorCommand) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    let ws = match &cmd {
        SensorCommand::List { ws, .. }
        | SensorCommand::Start { ws, .. }
        | SensorCommand::Stop { ws, .. }
        | SensorCommand::Preview { ws, .. }
        | SensorCommand::Cursor { ws, .. } => ws.clone(),
    };
    let locs = common::selected_locations(&ws, Some(&home.home))?;
    let inst = common::open_instance(&home.home, SchemaCheck::Normal)?;
    let storage = &*inst.storage;
    match cmd {
        SensorCommand::List {
            running,
            stopped,
            name,
            json,
            ..
        } => {
            let mut out = Vec::new();
            for (loc, defs) in &locs {
                for def in defs.sensors.values() {
                    let state = sensor::sensor_state(storage, loc, &def.name)?;
                    let status = sensor::effective_status(state.as_ref(), def);
                    if (running && status != InstigatorStatus::Running)
                        || (stopped && status != InstigatorStatus::Stopped)
                    {
                        continue;
                    }
                    out.push((loc.clone(), def, status));
                }
            }
            if json {
                let v: Vec<serde_json::Value> = out
                    .iter()
                    .map(|(loc, d, s)| {
                        serde_json::json!({"name": d.name, "location": loc, "status": s, "kind": d.kind,
                            "job": d.job, "minimum_interval_seconds": d.minimum_interval_seconds})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (_, d, s) in &out {
                    if name {
                        println!("{}", d.name);
                    } else {
                        let title = format!("Sensor: {} [{s}]", d.name);
                        println!("{title}\n{}", "*".repeat(title.len()));
                    }
                }
            }
        }
        SensorCommand::Start {
            sensor_name,
            start_all,
            ..
        } => {
            let names: Vec<String> = if start_all {
                locs.iter()
                    .flat_map(|(_, d)| d.sensors.keys().cloned())
                    .collect()
            } else {
                sensor_name.into_iter().collect()
            };
            for n in names {
                let (defs, def) = find(&locs, &n)?;
                sensor::set_running(storage, &defs.location_name, def, true, now_ts())?;
                println!("Started sensor {n}");
            }
        }
        SensorCommand::Stop { sensor_name, .. } => {
            let (defs, def) = find(&locs, &sensor_name)?;
            sensor::set_running(storage, &defs.location_name, def, false, now_ts())?;
            println!("Stopped sensor {sensor_name}");
        }
        SensorCommand::Preview {
            sensor_name, since, ..
        } => {
            let (defs, def) = find(&locs, &sensor_name)?;
            let cursor = match since {
                Some(c) => Some(c),
                None => {
                    sensor::sensor_state(storage, &defs.location_name, &def.name)?.and_then(|s| {
                        s.body
                            .get("cursor")
                            .and_then(|c| c.as_str())
                            .map(str::to_string)
                    })
                }
            };
            let result =
                sensor::builtin_evaluator(storage, defs, def)?.evaluate(cursor.as_deref())?;
            if result.run_requests.is_empty() {
                println!(
                    "Sensor returned false for {sensor_name}, skipping: {}",
                    result.skip_reason.unwrap_or_default()
                );
            } else {
                println!(
                    "Sensor returning run requests for {} run(s):",
                    result.run_requests.len()
                );
                for r in &result.run_requests {
                    println!("  run_key: {}", r.run_key.as_deref().unwrap_or("-"));
                }
            }
            if let Some(c) = result.cursor {
                println!("New cursor: {c}");
            }
        }
        SensorCommand::Cursor {
            sensor_name,
            set,
            delete,
            ..
        } => {
            let (defs, def) = find(&locs, &sensor_name)?;
            if delete {
                sensor::set_cursor(storage, &defs.location_name, def, None)?;
                println!("Cleared cursor of sensor {sensor_name}");
            } else if let Some(c) = set {
                sensor::set_cursor(storage, &defs.location_name, def, Some(c.clone()))?;
                println!("Set cursor of sensor {sensor_name} to {c}");
            } else {
                let c =
                    sensor::sensor_state(storage, &defs.location_name, &def.name)?.and_then(|s| {
                        s.body
                            .get("cursor")
                            .and_then(|c| c.as_str())
                            .map(str::to_string)
                    });
                println!("{}", c.unwrap_or_else(|| "(no cursor)".into()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
