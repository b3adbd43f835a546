//! Human output: live run progress and run/event rendering.

use dagster_core::domain::{EventData, EventRecord, NewEvent, Run};
use dagster_core::exec::RunObserver;
use std::io::Write;

/// Prints each event of a running job as it happens (to stderr).
pub struct ProgressPrinter {
    pub verbose: bool,
}

impl RunObserver for ProgressPrinter {
    fn on_event(&self, e: &NewEvent) {
        let line = format_event(e, self.verbose);
        if let Some(line) = line {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }
}

fn ts(t: f64) -> String {
    chrono::DateTime::from_timestamp_micros((t * 1e6) as i64)
        .map(|d| d.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

/// One line for an event; `None` for noise when not verbose.
pub fn format_event(e: &NewEvent, verbose: bool) -> Option<String> {
    let kind = e.event_type.map(|t| t.name()).unwrap_or("LOG");
    if !verbose
        && matches!(
            kind,
            "LOGS_CAPTURED" | "STEP_OUTPUT" | "ASSET_MATERIALIZATION_PLANNED"
        )
    {
        return None;
    }
    let step = e.step_key.as_deref().unwrap_or("-");
    let mut line = format!(
        "{} {:<8} {:<28} {:<22} {}",
        ts(e.timestamp),
        e.level.as_str(),
        step,
        kind,
        e.message
    );
    match &e.data {
        EventData::Failure { error, .. } => {
            for (i, m) in error.chain().iter().enumerate() {
                line.push_str(&format!(
                    "\n{:>14}{} {}",
                    "",
                    if i == 0 { "error:" } else { "caused by:" },
                    m
                ));
            }
        }
        EventData::Retry {
            error: Some(error), ..
        } => {
            line.push_str(&format!("\n{:>14}error: {}", "", error));
        }
        EventData::Asset(m) if verbose || !m.metadata.is_empty() => {
            for md in &m.metadata {
                line.push_str(&format!("\n{:>14}{}: {}", "", md.label, md.value));
            }
        }
        _ => {}
    }
    Some(line)
}

pub fn format_record(r: &EventRecord) -> String {
    format_event(&r.event, true).unwrap_or_default()
}

pub fn fmt_time(t: Option<f64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp_micros((t * 1e6) as i64))
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn run_json(run: &Run) -> serde_json::Value {
    serde_json::json!({
        "run_id": run.run_id,
        "job_name": run.job_name,
        "status": run.status.as_str(),
        "tags": run.tags,
        "create_time": run.create_time,
        "update_time": run.update_time,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "parent_run_id": run.parent_run_id,
        "root_run_id": run.root_run_id,
        "asset_selection": run.asset_selection.as_ref().map(|s| s.iter().map(|k| k.to_user_string()).collect::<Vec<_>>()),
    })
}
