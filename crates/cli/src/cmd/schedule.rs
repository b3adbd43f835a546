//! `dagster schedule list|start|stop|restart|preview|logs` (outputs as Dagster's).

use crate::common::{self, bad_input, WorkspaceArgs};
use anyhow::Result;
use clap::Subcommand;
use dagster_core::defs::{Definitions, ScheduleDef};
use dagster_core::domain::now_ts;
use dagster_core::instance::SchemaCheck;
use dagster_core::instigator::{schedule, InstigatorStatus};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// List schedules with their status.
    List {
        #[command(flatten)]
        ws: WorkspaceArgs,
        /// Only running schedules.
        #[arg(long, conflicts_with = "stopped")]
        running: bool,
        /// Only stopped schedules.
        #[arg(long)]
        stopped: bool,
        /// Only print names.
        #[arg(long)]
        name: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Start a schedule (or every schedule).
    Start {
        #[command(flatten)]
        ws: WorkspaceArgs,
        #[arg(required_unless_present = "start_all")]
        schedule_name: Option<String>,
        #[arg(long = "start-all")]
        start_all: bool,
    },
    /// Stop a schedule.
    Stop {
        #[command(flatten)]
        ws: WorkspaceArgs,
        schedule_name: String,
    },
    /// Restart a running schedule (stop, then start: it ticks from now on, with no catch-up).
    Restart {
        #[command(flatten)]
        ws: WorkspaceArgs,
        #[arg(required_unless_present = "restart_all_running")]
        schedule_name: Option<String>,
        /// Restart every running schedule.
        #[arg(long = "restart-all-running")]
        restart_all_running: bool,
    },
    /// The next 5 tick times of a schedule, in its time zone.
    Preview {
        #[command(flatten)]
        ws: WorkspaceArgs,
        schedule_name: String,
    },
    /// Recent ticks of a schedule.
    Logs {
        #[command(flatten)]
        ws: WorkspaceArgs,
        schedule_name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

fn find<'a>(
    locs: &'a [(String, Definitions)],
    name: &str,
) -> Result<(&'a Definitions, &'a ScheduleDef)> {
    locs.iter()
        .find_map(|(_, d)| d.schedules.get(name).map(|s| (d, s)))
        .ok_or_else(|| bad_input(format!("no schedule named `{name}` in the workspace")))
}

/// Every schedule of the workspace with its location and effective status (RUNNING/STOPPED).
type WithStatus<'a> = (
    &'a String,
    &'a Definitions,
    &'a ScheduleDef,
    InstigatorStatus,
);

fn with_status<'a>(
    storage: &dyn dagster_core::storage::Storage,
    locs: &'a [(String, Definitions)],
) -> Result<Vec<WithStatus<'a>>> {
    let mut out = Vec::new();
    for (loc, defs) in locs {
        for def in defs.schedules.values() {
            let state = schedule::schedule_state(storage, loc, def)?;
            out.push((
                loc,
                defs,
                def,
                schedule::effective_status(state.as_ref(), def),
            ));
        }
    }
    Ok(out)
}

pub fn run(cmd: ScheduleCommand) -> Result<ExitCode> {
    let home = common::resolve_home()?;
    let ws = match &cmd {
        ScheduleCommand::List { ws, .. }
        | ScheduleCommand::Start { ws, .. }
        | ScheduleCommand::Stop { ws, .. }
        | ScheduleCommand::Restart { ws, .. }
        | ScheduleCommand::Preview { ws, .. }
        | ScheduleCommand::Logs { ws, .. } => ws.clone(),
    };
    let locs = common::selected_locations(&ws, Some(&home.home))?;
    if let ScheduleCommand::Preview { schedule_name, .. } = &cmd {
        let (_, def) = find(&locs, schedule_name)?;
        for t in schedule::next_ticks(def, now_ts(), 5)? {
            println!("{}", t.format("%Y-%m-%d %H:%M:%S%z"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let inst = common::open_instance(&home.home, SchemaCheck::Normal)?;
    let storage = &*inst.storage;
    match cmd {
        ScheduleCommand::List {
            running,
            stopped,
            name,
            json,
            ..
        } => {
            let out: Vec<_> = with_status(storage, &locs)?
                .into_iter()
                .filter(|(.., status)| {
                    !((running && *status != InstigatorStatus::Running)
                        || (stopped && *status != InstigatorStatus::Stopped))
                })
                .map(|(loc, _, def, status)| (loc, def, status))
                .collect();
            if json {
                let v: Vec<serde_json::Value> = out
                    .iter()
                    .map(|(loc, d, s)| {
                        serde_json::json!({"name": d.name, "location": loc, "status": s, "cron_schedule": d.cron,
                            "execution_timezone": d.timezone.name(), "job": d.job})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if name {
                for (_, d, _) in &out {
                    println!("{}", d.name);
                }
            } else {
                for (_, d, s) in &out {
                    let title = format!("Schedule: {} [{s}]", d.name);
                    println!("{title}\n{}", "*".repeat(title.len()));
                    println!("Cron Schedule: {}", d.cron);
                }
            }
        }
        ScheduleCommand::Start {
            schedule_name,
            start_all,
            ..
        } => {
            let names: Vec<String> = if start_all {
                locs.iter()
                    .flat_map(|(_, d)| d.schedules.keys().cloned())
                    .collect()
            } else {
                schedule_name.into_iter().collect()
            };
            for n in names {
                let (defs, def) = find(&locs, &n)?;
                schedule::start_schedule(storage, &defs.location_name, def, now_ts())?;
                println!("Started schedule {n}");
            }
        }
        ScheduleCommand::Stop { schedule_name, .. } => {
            let (defs, def) = find(&locs, &schedule_name)?;
            schedule::stop_schedule(storage, &defs.location_name, def, now_ts())?;
            println!("Stopped schedule {schedule_name}");
        }
        ScheduleCommand::Restart {
            schedule_name,
            restart_all_running,
            ..
        } => {
            let targets: Vec<_> = with_status(storage, &locs)?
                .into_iter()
                .filter(|(_, _, def, _)| {
                    restart_all_running || schedule_name.as_deref() == Some(def.name.as_str())
                })
                .collect();
            if let Some(n) = schedule_name.as_deref().filter(|_| targets.is_empty()) {
                return Err(bad_input(format!(
                    "no schedule named `{n}` in the workspace"
                )));
            }
            for (_, defs, def, status) in targets {
                if status != InstigatorStatus::Running {
                    if restart_all_running {
                        continue;
                    }
                    return Err(bad_input(format!(
                        "Cannot restart a schedule that is not running: `{}` is {status}",
                        def.name
                    )));
                }
                let now = now_ts();
                schedule::stop_schedule(storage, &defs.location_name, def, now)?;
                schedule::start_schedule(storage, &defs.location_name, def, now)?;
                println!("Restarted schedule {}", def.name);
            }
        }
        ScheduleCommand::Logs {
            schedule_name,
            limit,
            ..
        } => {
            let (defs, _) = find(&locs, &schedule_name)?;
            let sel = schedule::selector_id(&defs.location_name, &schedule_name);
            for t in storage.list_ticks(&sel, limit)? {
                let runs = t.body.get("run_ids").cloned().unwrap_or_default();
                let mut line = format!(
                    "{}  {:<8} tick {}  runs {}",
                    schedule::iso_utc(t.timestamp),
                    t.status,
                    t.id,
                    runs
                );
                if let Some(e) = t.body.get("error").and_then(|e| e.get("message")) {
                    line.push_str(&format!("  error: {e}"));
                }
                if let Some(r) = t.body.get("skip_reason").and_then(|r| r.as_str()) {
                    line.push_str(&format!("  skipped: {r}"));
                }
                println!("{line}");
            }
        }
        ScheduleCommand::Preview { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
