use super::AssetKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Run status (Dagster's `DagsterRunStatus`; stored as its name in `runs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Queued,
    NotStarted,
    Managed,
    Starting,
    Started,
    Suspended,
    Success,
    Failure,
    Canceling,
    Canceled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 10] = [
        RunStatus::Queued,
        RunStatus::NotStarted,
        RunStatus::Managed,
        RunStatus::Starting,
        RunStatus::Started,
        RunStatus::Suspended,
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::Canceling,
        RunStatus::Canceled,
    ];
    /// Statuses that count against `max_concurrent_runs`.
    pub const ACTIVE: [RunStatus; 3] = [
        RunStatus::Starting,
        RunStatus::Started,
        RunStatus::Canceling,
    ];
    pub const FINISHED: [RunStatus; 3] =
        [RunStatus::Success, RunStatus::Failure, RunStatus::Canceled];
    pub const NOT_FINISHED: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::NotStarted,
        RunStatus::Starting,
        RunStatus::Started,
        RunStatus::Suspended,
        RunStatus::Canceling,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "QUEUED",
            RunStatus::NotStarted => "NOT_STARTED",
            RunStatus::Managed => "MANAGED",
            RunStatus::Starting => "STARTING",
            RunStatus::Started => "STARTED",
            RunStatus::Suspended => "SUSPENDED",
            RunStatus::Success => "SUCCESS",
            RunStatus::Failure => "FAILURE",
            RunStatus::Canceling => "CANCELING",
            RunStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }

    /// The statuses a run may be in for a transition to `self` to be accepted. Every status
    /// change in storage is a conditional update against this set, so a finished run never
    /// changes status again (Dagster allows CANCELED → SUCCESS; we do not).
    pub fn allowed_predecessors(self) -> &'static [RunStatus] {
        use RunStatus::*;
        match self {
            Queued => &[NotStarted],
            NotStarted => &[],
            Managed => &[NotStarted],
            Starting => &[NotStarted, Queued],
            Started => &[NotStarted, Starting, Queued, Suspended],
            Suspended => &[Started],
            Success => &[Started],
            Failure => &[NotStarted, Queued, Starting, Started, Suspended],
            Canceling => &[NotStarted, Queued, Starting, Started, Suspended],
            Canceled => &[NotStarted, Queued, Starting, Started, Suspended, Canceling],
        }
    }

    /// The status a run-lifecycle event moves a run to, if any (compat doc §4.1).
    pub fn from_event(event: super::EventType) -> Option<Self> {
        use super::EventType as E;
        Some(match event {
            E::RunEnqueued => RunStatus::Queued,
            E::RunStarting => RunStatus::Starting,
            E::RunStart | E::RunResumed => RunStatus::Started,
            E::RunSuccess => RunStatus::Success,
            E::RunFailure => RunStatus::Failure,
            E::RunCanceling => RunStatus::Canceling,
            E::RunCanceled => RunStatus::Canceled,
            E::RunSuspended => RunStatus::Suspended,
            _ => return None,
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: String,
    pub job_name: String,
    pub status: RunStatus,
    /// All tags, including hidden `.dagster/*` ones.
    pub tags: BTreeMap<String, String>,
    /// Run config as given (JSON object; `{}` when empty).
    pub run_config: serde_json::Value,
    /// Assets this run materializes; `None` = the whole job.
    pub asset_selection: Option<Vec<AssetKey>>,
    /// Steps to execute; `None` = all steps of the (asset-selected) plan.
    pub step_keys_to_execute: Option<Vec<String>>,
    pub parent_run_id: Option<String>,
    pub root_run_id: Option<String>,
    /// Code location the job came from.
    pub code_location: Option<String>,
    /// Unix seconds.
    pub create_time: f64,
    pub update_time: f64,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
}

/// What a caller supplies to create a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// Optional explicit id (`dagster job launch --run-id`); a UUID4 is generated otherwise.
    pub run_id: Option<String>,
    pub job_name: String,
    pub tags: BTreeMap<String, String>,
    pub run_config: serde_json::Value,
    pub asset_selection: Option<Vec<AssetKey>>,
    pub step_keys_to_execute: Option<Vec<String>>,
    pub parent_run_id: Option<String>,
    pub root_run_id: Option<String>,
    pub code_location: Option<String>,
    /// Initial status; NOT_STARTED for almost every caller.
    pub status: Option<RunStatus>,
}

/// Run list filter; all conditions AND-ed (GraphQL `RunsFilter`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunsFilter {
    pub run_ids: Option<Vec<String>>,
    pub job_name: Option<String>,
    pub statuses: Option<Vec<RunStatus>>,
    /// Each tag must match exactly.
    pub tags: Vec<(String, String)>,
    /// Each of these tag keys must be set (with any value).
    #[serde(default)]
    pub tag_keys: Vec<String>,
    /// Exclusive bounds on `update_time` / `create_time` (unix seconds).
    pub updated_after: Option<f64>,
    pub updated_before: Option<f64>,
    pub created_after: Option<f64>,
    pub created_before: Option<f64>,
    /// Leaves out runs that belong to a backfill (tagged `dagster/backfill`): the runs feed's
    /// `ROOTS` view (Dagster's `exclude_subruns`).
    #[serde(default)]
    pub exclude_subruns: bool,
    /// Oldest first (and a cursor pages forward) instead of newest first: the run queue.
    #[serde(default)]
    pub oldest_first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_runs_accept_no_transition() {
        for target in RunStatus::ALL {
            for finished in RunStatus::FINISHED {
                assert!(
                    !target.allowed_predecessors().contains(&finished),
                    "{finished} -> {target}"
                );
            }
        }
    }

    #[test]
    fn status_names_round_trip() {
        for st in RunStatus::ALL {
            assert_eq!(RunStatus::parse(st.as_str()), Some(st));
        }
    }
}
