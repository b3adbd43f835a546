//! Creating runs (validated against the definitions) and re-execution requests.
//!
//! Run config accepted by [`create_run`]: an object (or null) whose only key is `ops`, mapping
//! step keys of the job to `{config: <object>}`; that config is overlaid on the asset's own
//! config when the step runs.

use super::plan::ExecutionPlan;
use super::{ExecError, Result};
use crate::defs::Definitions;
use crate::domain::{
    tags, AssetKey, ErrorInfo, EventData, EventType, LogLevel, Materialization, NewEvent, NewRun,
    Run, RunStatus,
};
use crate::storage::Storage;
use std::collections::{BTreeMap, HashSet};

/// What a caller asks for when creating a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateRun {
    pub job_name: String,
    /// Assets to materialize (must belong to the job); `None` = the whole job.
    pub asset_selection: Option<Vec<AssetKey>>,
    /// Steps to execute; `None` = every step of the (asset-selected) plan.
    pub step_keys: Option<Vec<String>>,
    /// Run config (`{ops: {<step>: {config: {...}}}}`); null means `{}`.
    pub run_config: serde_json::Value,
    pub tags: BTreeMap<String, String>,
    /// Explicit run id; a UUID4 is generated otherwise.
    pub run_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub root_run_id: Option<String>,
}

/// Which steps a re-execution runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReexecutionStrategy {
    /// The steps of the parent that did not succeed (failed, skipped, never ran).
    FromFailure,
    /// Every step of the parent's plan.
    AllSteps,
}

impl ReexecutionStrategy {
    /// Parses the GraphQL enum value (`FROM_FAILURE`, `ALL_STEPS`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FROM_FAILURE" => Some(Self::FromFailure),
            "ALL_STEPS" => Some(Self::AllSteps),
            _ => None,
        }
    }
}

/// Tags of a parent run that are not carried over to a re-execution.
/// Hidden run tag holding the pipeline config file the run's definitions were loaded from, so
/// a run worker started without workspace arguments can load the same code location.
pub const PIPELINE_CONFIG_TAG: &str = ".dagster/pipeline_config";

const NOT_INHERITED: &[&str] = &[
    tags::FAILURE_REASON,
    tags::PARENT_RUN_ID,
    tags::ROOT_RUN_ID,
    tags::IS_RESUME_RETRY,
    tags::RETRY_NUMBER,
    "dagster/will_retry",
    "dagster/auto_retry_run_id",
];

/// Validates the request against `defs`, stores the run (NOT_STARTED) and writes one
/// ASSET_MATERIALIZATION_PLANNED event per planned asset.
pub fn create_run(storage: &dyn Storage, defs: &Definitions, req: CreateRun) -> Result<Run> {
    let plan = ExecutionPlan::build(
        defs,
        &req.job_name,
        req.asset_selection.as_deref(),
        req.step_keys.as_deref(),
    )?;
    let job = defs
        .job(&req.job_name)
        .ok_or_else(|| ExecError::UnknownJob {
            job: req.job_name.clone(),
            location: defs.location_name.clone(),
        })?;
    let run_config = validate_run_config(&job.name, &job.assets, req.run_config)?;

    let mut run_tags = job.tags.clone();
    run_tags.extend(req.tags);
    run_tags.insert(tags::CODE_LOCATION.to_string(), defs.location_name.clone());
    run_tags.insert(
        tags::REPOSITORY.to_string(),
        format!("__repository__@{}", defs.location_name),
    );
    if let Some(file) = &defs.source_file {
        run_tags.insert(PIPELINE_CONFIG_TAG.to_string(), file.display().to_string());
    }
    if let Some(p) = &req.parent_run_id {
        run_tags.insert(tags::PARENT_RUN_ID.to_string(), p.clone());
    }
    if let Some(r) = &req.root_run_id {
        run_tags.insert(tags::ROOT_RUN_ID.to_string(), r.clone());
    }

    for (key, value) in &run_tags {
        tags::check(key, value).map_err(|expected| ExecError::InvalidTag {
            key: key.clone(),
            value: value.clone(),
            expected,
        })?;
    }

    let asset_selection = req.asset_selection.filter(|s| !s.is_empty());
    let run = storage.add_run(NewRun {
        run_id: req.run_id,
        job_name: job.name.clone(),
        tags: run_tags,
        run_config,
        asset_selection,
        step_keys_to_execute: req.step_keys,
        parent_run_id: req.parent_run_id,
        root_run_id: req.root_run_id,
        code_location: Some(defs.location_name.clone()),
        status: None,
    })?;

    let planned: Vec<NewEvent> = plan
        .steps
        .iter()
        .map(|s| {
            NewEvent::new(
                &run.run_id,
                &run.job_name,
                Some(EventType::AssetMaterializationPlanned),
                format!(
                    "{} intends to materialize asset {}",
                    run.job_name,
                    s.asset_key.to_db_string()
                ),
            )
            .step(&s.key)
            .level(LogLevel::Debug)
            .data(EventData::Asset(Materialization {
                asset_key: s.asset_key.clone(),
                description: None,
                metadata: Vec::new(),
                partition: None,
                tags: BTreeMap::new(),
            }))
        })
        .collect();
    if !planned.is_empty() {
        storage.store_events(&planned)?;
    }
    Ok(run)
}

/// Checks the run config shape; returns it normalized (`null` → `{}`).
fn validate_run_config(
    job: &str,
    job_assets: &[AssetKey],
    config: serde_json::Value,
) -> Result<serde_json::Value> {
    let err = |message: String| ExecError::InvalidRunConfig {
        job: job.to_string(),
        message,
    };
    let obj = match config {
        serde_json::Value::Null => return Ok(serde_json::json!({})),
        serde_json::Value::Object(o) => o,
        other => {
            return Err(err(format!(
                "expected an object, got {}",
                json_kind(&other)
            )))
        }
    };
    for (k, v) in &obj {
        if k != "ops" {
            return Err(err(format!("unknown key `{k}` (only `ops` is supported)")));
        }
        let ops = v
            .as_object()
            .ok_or_else(|| err(format!("`ops` must be an object, got {}", json_kind(v))))?;
        let step_keys: HashSet<String> = job_assets.iter().map(AssetKey::to_step_key).collect();
        for (step, op) in ops {
            if !step_keys.contains(step) {
                return Err(err(format!(
                    "`ops.{step}`: no step `{step}` in job `{job}`"
                )));
            }
            let op = op.as_object().ok_or_else(|| {
                err(format!(
                    "`ops.{step}` must be an object, got {}",
                    json_kind(op)
                ))
            })?;
            for (ok, ov) in op {
                if ok != "config" {
                    return Err(err(format!(
                        "`ops.{step}.{ok}`: unknown key (only `config` is supported)"
                    )));
                }
                if !ov.is_object() {
                    return Err(err(format!(
                        "`ops.{step}.config` must be an object, got {}",
                        json_kind(ov)
                    )));
                }
            }
        }
    }
    Ok(serde_json::Value::Object(obj))
}

/// What kind of JSON value `v` is, for error messages ("a string", "an object", ...).
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Records that a run could not start (e.g. its code location failed to load in the worker):
/// RUN_FAILURE with the error and `dagster/failure_reason=JOB_INITIALIZATION_FAILURE`. Returns
/// the run's status afterwards (FAILURE, or the status that made storage refuse it).
pub fn fail_run_before_start(
    storage: &dyn Storage,
    run: &Run,
    error: ErrorInfo,
) -> Result<RunStatus> {
    let message = format!("Run {} could not start: {error}", run.run_id);
    let failure = NewEvent::run_failure(
        &run.run_id,
        &run.job_name,
        message,
        error,
        "JOB_INITIALIZATION_FAILURE",
    );
    let outcome = storage.store_events(&[failure])?;
    Ok(match outcome.rejected.first() {
        Some((_, _, Some(status))) => *status,
        Some((_, _, None)) => return Err(ExecError::RunNotFound(run.run_id.clone())),
        None => RunStatus::Failure,
    })
}

/// What a finished run did, read from its events: the planned step keys (from
/// ASSET_MATERIALIZATION_PLANNED, in plan order) and the steps that reached STEP_SUCCESS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStepHistory {
    pub planned: Vec<String>,
    pub succeeded: HashSet<String>,
}

/// Reads a run's step history from its event log.
pub fn run_step_history(storage: &dyn Storage, run_id: &str) -> Result<RunStepHistory> {
    let mut out = RunStepHistory::default();
    let mut after: Option<i64> = None;
    loop {
        let page = storage.events_for_run(run_id, after, 10_000)?;
        for r in &page.events {
            let step = r.event.step_key.as_ref();
            match r.event.event_type {
                Some(EventType::StepSuccess) => {
                    if let Some(k) = step {
                        out.succeeded.insert(k.clone());
                    }
                }
                Some(EventType::AssetMaterializationPlanned) => {
                    let key = step
                        .cloned()
                        .or_else(|| r.event.asset_key().map(AssetKey::to_step_key));
                    if let Some(k) = key {
                        if !out.planned.contains(&k) {
                            out.planned.push(k);
                        }
                    }
                }
                _ => {}
            }
        }
        if !page.has_more || page.events.is_empty() {
            return Ok(out);
        }
        after = page.cursor;
    }
}

/// Builds the request for re-executing `parent` (same job, asset selection and run config; the
/// parent's tags except per-run system tags; `dagster/parent_run_id`, `dagster/root_run_id`).
/// `FromFailure` selects the parent's planned steps without STEP_SUCCESS (failed, skipped,
/// never ran) and tags the run `dagster/is_resume_retry=true`. Errors if the parent has not
/// finished or, for `FromFailure`, if it has nothing to re-execute.
pub fn reexecution_request(
    storage: &dyn Storage,
    parent: &Run,
    strategy: ReexecutionStrategy,
) -> Result<CreateRun> {
    let refuse = |reason: String| ExecError::NotReexecutable {
        run_id: parent.run_id.clone(),
        reason,
    };
    if !parent.status.is_finished() {
        return Err(refuse(format!(
            "it has not finished (status {})",
            parent.status
        )));
    }
    let step_keys = match strategy {
        ReexecutionStrategy::AllSteps => parent.step_keys_to_execute.clone(),
        ReexecutionStrategy::FromFailure => {
            if parent.status == RunStatus::Success {
                return Err(refuse(
                    "it succeeded; there is no failure to re-execute from".into(),
                ));
            }
            let history = run_step_history(storage, &parent.run_id)?;
            if history.planned.is_empty() {
                return Err(refuse("its event log has no planned steps".into()));
            }
            let todo: Vec<String> = history
                .planned
                .into_iter()
                .filter(|k| !history.succeeded.contains(k))
                .collect();
            if todo.is_empty() {
                return Err(refuse(
                    "every step of it succeeded; there is nothing to re-execute".into(),
                ));
            }
            Some(todo)
        }
    };
    let mut run_tags: BTreeMap<String, String> = parent
        .tags
        .iter()
        .filter(|(k, _)| !NOT_INHERITED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let root = parent
        .root_run_id
        .clone()
        .unwrap_or_else(|| parent.run_id.clone());
    run_tags.insert(tags::PARENT_RUN_ID.to_string(), parent.run_id.clone());
    run_tags.insert(tags::ROOT_RUN_ID.to_string(), root.clone());
    if strategy == ReexecutionStrategy::FromFailure {
        run_tags.insert(tags::IS_RESUME_RETRY.to_string(), "true".to_string());
    }
    Ok(CreateRun {
        job_name: parent.job_name.clone(),
        asset_selection: parent.asset_selection.clone(),
        step_keys,
        run_config: parent.run_config.clone(),
        tags: run_tags,
        run_id: None,
        parent_run_id: Some(parent.run_id.clone()),
        root_run_id: Some(root),
    })
}
