//! `dagster run list|show|logs|delete|wipe`.

use crate::common::{self, bad_input};
use crate::output;
use anyhow::Result;
use clap::Subcommand;
use dagster_core::domain::{EventType, RunStatus, RunsFilter};
use dagster_core::instance::{Instance, SchemaCheck};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RunCommand {
    /// List runs, newest first.
    List {
        /// Maximum number of runs.
        #[arg(long)]
        limit: Option<usize>,
        /// Only runs of this job.
        #[arg(short = 'j', long = "job")]
        job: Option<String>,
        /// Only runs with this status (repeatable), e.g. FAILURE.
        #[arg(long)]
        status: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a run: status, timings, steps and its event log.
    Show {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Print the captured stdout/stderr of a run's steps.
    Logs {
        run_id: String,
        /// Only this step.
        #[arg(long)]
        step: Option<String>,
        /// Print stderr instead of stdout.
        #[arg(long)]
        stderr: bool,
    },
    /// Delete a run, its tags, events and compute logs.
    Delete {
        run_id: String,
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Delete all runs and their events.
    Wipe {
        #[arg(short = 'f', long)]
        force: bool,
    },
}

fn open() -> Result<(common::HomeGuard, Instance)> {
    let home = common::resolve_home()?;
    let inst = common::open_instance(&home.home, SchemaCheck::Normal)?;
    Ok((home, inst))
}

pub fn run(cmd: RunCommand) -> Result<ExitCode> {
    match cmd {
        RunCommand::List {
            limit,
            job,
            status,
            json,
        } => {
            let (_h, inst) = open()?;
            let mut statuses = Vec::new();
            for s in &status {
                statuses.push(
                    RunStatus::parse(&s.to_ascii_uppercase())
                        .ok_or_else(|| bad_input(format!("unknown run status `{s}`")))?,
                );
            }
            let filter = RunsFilter {
                job_name: job,
                statuses: if statuses.is_empty() {
                    None
                } else {
                    Some(statuses)
                },
                ..Default::default()
            };
            let runs = inst.storage.list_runs(&filter, None, limit)?;
            if json {
                let v: Vec<serde_json::Value> = runs.iter().map(output::run_json).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for r in &runs {
                    println!("Run: {}", r.run_id);
                    println!("     Job: {}", r.job_name);
                    println!("     Status: {}", r.status);
                    println!("     Created: {}", output::fmt_time(Some(r.create_time)));
                    if let (Some(s), Some(e)) = (r.start_time, r.end_time) {
                        println!("     Duration: {:.3} s", e - s);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RunCommand::Show { run_id, json } => show(&run_id, json),
        RunCommand::Logs {
            run_id,
            step,
            stderr,
        } => {
            let (_h, inst) = open()?;
            let run = inst
                .storage
                .get_run(&run_id)?
                .ok_or_else(|| bad_input(format!("run {run_id} not found")))?;
            let steps = step_keys(&inst, &run.run_id)?;
            let mut out = std::io::stdout().lock();
            let mut any = false;
            for s in steps
                .iter()
                .filter(|s| step.as_ref().is_none_or(|want| want == *s))
            {
                let (o, e) = inst.compute_logs.paths(&run.run_id, s);
                let path = if stderr { e } else { o };
                if let Ok(bytes) = std::fs::read(&path) {
                    any = true;
                    writeln!(
                        out,
                        "==> {s} {} ({}) <==",
                        if stderr { "stderr" } else { "stdout" },
                        path.display()
                    )?;
                    out.write_all(&bytes)?;
                }
            }
            if !any {
                if let Some(s) = step {
                    return Err(bad_input(format!(
                        "no captured logs for step `{s}` of run {run_id}"
                    )));
                }
                eprintln!("run {run_id} has no captured logs");
            }
            Ok(ExitCode::SUCCESS)
        }
        RunCommand::Delete { run_id, force } => {
            let (_h, inst) = open()?;
            if inst.storage.get_run(&run_id)?.is_none() {
                return Err(bad_input(format!("run {run_id} not found")));
            }
            if !force
                && !confirm(&format!(
                    "Delete run {run_id} and its event log? Type DELETE to confirm: "
                ))?
            {
                eprintln!("Aborted.");
                return Ok(ExitCode::from(common::EXIT_BAD_INPUT));
            }
            inst.storage.delete_run(&run_id)?;
            inst.compute_logs.delete_run(&run_id)?;
            println!("Deleted run {run_id}");
            Ok(ExitCode::SUCCESS)
        }
        RunCommand::Wipe { force } => {
            let (_h, inst) = open()?;
            if !force && !confirm("Are you sure you want to delete all run history and event logs? Type DELETE to confirm: ")? {
                eprintln!("Exiting without removing run history and event logs.");
                return Ok(ExitCode::from(common::EXIT_BAD_INPUT));
            }
            let runs = inst.storage.list_runs(&RunsFilter::default(), None, None)?;
            inst.storage.wipe_runs()?;
            for r in runs {
                inst.compute_logs.delete_run(&r.run_id)?;
            }
            println!("Deleted all run history and event logs.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn confirm(prompt: &str) -> Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "DELETE")
}

/// Step keys that appear in a run's events, in first-seen order.
fn step_keys(inst: &Instance, run_id: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = inst.storage.events_for_run(run_id, after, 1000)?;
        for e in &page.events {
            if let Some(s) = &e.event.step_key {
                if !keys.contains(s) {
                    keys.push(s.clone());
                }
            }
        }
        if !page.has_more {
            break;
        }
        after = page.cursor;
    }
    Ok(keys)
}

#[derive(Default, serde::Serialize)]
struct StepStat {
    status: &'static str,
    start: Option<f64>,
    end: Option<f64>,
    attempts: u32,
}

fn show(run_id: &str, json: bool) -> Result<ExitCode> {
    let (_h, inst) = open()?;
    let run = inst
        .storage
        .get_run(run_id)?
        .ok_or_else(|| bad_input(format!("run {run_id} not found")))?;
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = inst.storage.events_for_run(run_id, after, 1000)?;
        events.extend(page.events);
        if !page.has_more {
            break;
        }
        after = page.cursor;
    }
    let mut steps: BTreeMap<String, StepStat> = BTreeMap::new();
    for e in &events {
        let (Some(step), Some(t)) = (&e.event.step_key, e.event.event_type) else {
            continue;
        };
        let st = steps.entry(step.clone()).or_default();
        match t {
            EventType::StepStart => {
                st.status = "IN_PROGRESS";
                st.start.get_or_insert(e.event.timestamp);
                st.attempts += 1;
            }
            EventType::StepRestarted => st.attempts += 1,
            EventType::StepSuccess => {
                st.status = "SUCCESS";
                st.end = Some(e.event.timestamp);
            }
            EventType::StepFailure => {
                st.status = "FAILURE";
                st.end = Some(e.event.timestamp);
            }
            EventType::StepSkipped => st.status = "SKIPPED",
            _ => {}
        }
    }
    if json {
        let v = serde_json::json!({
            "run": output::run_json(&run),
            "steps": steps,
            "events": events,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Run: {}", run.run_id);
    println!("     Job: {}", run.job_name);
    println!("     Status: {}", run.status);
    println!("     Created: {}", output::fmt_time(Some(run.create_time)));
    println!("     Started: {}", output::fmt_time(run.start_time));
    println!("     Ended: {}", output::fmt_time(run.end_time));
    if let Some(p) = &run.parent_run_id {
        println!("     Parent run: {p}");
    }
    let visible: Vec<String> = run
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with(".dagster/"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !visible.is_empty() {
        println!("     Tags: {}", visible.join(", "));
    }
    println!("Steps:");
    for (k, s) in &steps {
        let dur = match (s.start, s.end) {
            (Some(a), Some(b)) => format!("{:.3} s", b - a),
            _ => "-".into(),
        };
        println!(
            "     {k:<32} {:<11} attempts: {}  duration: {dur}",
            if s.status.is_empty() { "-" } else { s.status },
            s.attempts
        );
    }
    println!("Events:");
    for e in &events {
        println!("{}", output::format_record(e));
    }
    println!(
        "Step logs: dagster run logs {} [--step KEY] [--stderr]  (files under {})",
        run.run_id,
        inst.compute_logs.run_dir(&run.run_id).display()
    );
    Ok(ExitCode::SUCCESS)
}
