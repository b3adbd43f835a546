//! Runs (compat doc §3.2, §3.3): `runsOrError(filter, cursor, limit)`, `runOrError`, and the
//! `Run` type with the fields computed from the event log (`stats`, `stepStats`,
//! `eventConnection`, `capturedLogs`, `assetMaterializations`) and the definitions
//! (`executionPlan`).
//!
//! Storage access: a runs page is two indexed queries (rows, then their tags) plus one count;
//! the event-derived fields of a run read that run's events (index on `(run_id, id)`) only when
//! they are selected.

use super::assets::Asset;
use super::logs::{self, CapturedLogs, EventConnection, ExpectationResult, MaterializationEvent};
#[allow(unused_imports)]
use super::prelude::*;
use super::runs_feed::RunsFeedEntryValue;
use super::types::*;
use super::{blocking, with_storage, Ctx, ExecutionTag};
use dagster_core::domain::{
    tags, EventRecord, EventType, Run as DomainRun, RunStatus as DomainStatus, RunsFilter,
};
use dagster_core::exec::ExecutionPlan as CorePlan;
use juniper::{graphql_object, GraphQLEnum, GraphQLInputObject, GraphQLObject, GraphQLUnion, ID};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most events read to compute a run's stats and step stats.
const MAX_EVENTS_FOR_STATS: usize = 200_000;
/// Largest page `runsOrError` returns.
pub const MAX_RUNS_PAGE: i32 = 1000;

/// `input RunsFilter` (all conditions AND-ed).
#[derive(GraphQLInputObject, Debug, Clone, Default)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(name = "RunsFilter")]
pub struct RunsFilterInput {
    pub run_ids: Option<Vec<Option<String>>>,
    pub pipeline_name: Option<String>,
    pub tags: Option<Vec<ExecutionTag>>,
    pub statuses: Option<Vec<RunStatus>>,
    /// Runs have no pipeline snapshots here: a snapshot id matches no run.
    pub snapshot_id: Option<String>,
    pub updated_after: Option<f64>,
    pub updated_before: Option<f64>,
    pub created_before: Option<f64>,
    pub created_after: Option<f64>,
    /// Every run's mode is `default`.
    pub mode: Option<String>,
}

impl RunsFilterInput {
    /// The storage filter, or `None` when the filter can match no run.
    pub fn to_domain(&self) -> Option<RunsFilter> {
        if self.snapshot_id.is_some() {
            return None;
        }
        if self.mode.as_deref().is_some_and(|m| m != "default") {
            return None;
        }
        Some(RunsFilter {
            run_ids: self
                .run_ids
                .as_ref()
                .map(|ids| ids.iter().flatten().cloned().collect()),
            job_name: self.pipeline_name.clone(),
            statuses: self
                .statuses
                .as_ref()
                .map(|s| s.iter().map(|st| st.to_domain()).collect()),
            tags: self
                .tags
                .iter()
                .flatten()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
            tag_keys: Vec::new(),
            updated_after: self.updated_after,
            updated_before: self.updated_before,
            created_after: self.created_after,
            created_before: self.created_before,
            exclude_subruns: false,
            oldest_first: false,
        })
    }
}

impl RunStatus {
    pub fn to_domain(self) -> DomainStatus {
        match self {
            RunStatus::Queued => DomainStatus::Queued,
            RunStatus::NotStarted => DomainStatus::NotStarted,
            RunStatus::Managed => DomainStatus::Managed,
            RunStatus::Starting => DomainStatus::Starting,
            RunStatus::Started => DomainStatus::Started,
            RunStatus::Suspended => DomainStatus::Suspended,
            RunStatus::Success => DomainStatus::Success,
            RunStatus::Failure => DomainStatus::Failure,
            RunStatus::Canceling => DomainStatus::Canceling,
            RunStatus::Canceled => DomainStatus::Canceled,
        }
    }
}

interface! {
    pub enum PipelineRunsValue: "PipelineRuns" {
        fields {
            "results": Vec<Run>,
            "count": Option<i32>,
        }
        for [
            Runs,
        ]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = PipelineRunsValue)]
pub struct Runs {
    pub results: Vec<Run>,
    pub count: i32,
}

/// `runsOrError`: newest first; `cursor` = run id of the last run of the previous page.
pub async fn runs_or_error(
    ctx: &Ctx,
    filter: Option<RunsFilterInput>,
    cursor: Option<String>,
    limit: Option<i32>,
) -> RunsOrError {
    if let Some(l) = limit.filter(|l| *l < 0) {
        return RunsOrError::InvalidPipelineRunsFilterError(InvalidPipelineRunsFilterError {
            message: format!("limit must not be negative (got {l})"),
        });
    }
    let Some(filter) = filter.unwrap_or_default().to_domain() else {
        return RunsOrError::Runs(Runs {
            results: Vec::new(),
            count: 0,
        });
    };
    let limit = limit.map(|l| l.min(MAX_RUNS_PAGE) as usize);
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = &st.instance.storage;
        let runs = storage
            .list_runs(&filter, cursor.as_deref(), limit)
            .map_err(|e| PythonError::from_error(&e))?;
        let count = storage
            .count_runs(&filter)
            .map_err(|e| PythonError::from_error(&e))?;
        Ok((runs, count))
    })
    .await;
    match res {
        Ok((runs, count)) => RunsOrError::Runs(Runs {
            results: runs.into_iter().map(Run::new).collect(),
            count: i32::try_from(count).unwrap_or(i32::MAX),
        }),
        Err(e) => RunsOrError::PythonError(e),
    }
}

/// `runOrError` / `pipelineRunOrError`.
pub async fn run_or_error(ctx: &Ctx, run_id: String) -> RunOrError {
    let id = run_id.clone();
    let res = with_storage(&ctx.state, move |s| s.get_run(&id)).await;
    match res {
        Ok(Some(r)) => RunOrError::Run(Run::new(r)),
        Ok(None) => RunOrError::RunNotFoundError(RunNotFoundError::new(&run_id)),
        Err(e) => RunOrError::PythonError(e),
    }
}

/// Reads up to [`MAX_EVENTS_FOR_STATS`] events of a run (ascending), on the blocking pool.
pub async fn run_events(ctx: &Ctx, run_id: &str) -> Result<Vec<EventRecord>, PythonError> {
    let st = ctx.state.clone();
    let id = run_id.to_string();
    blocking(move || {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = st
                .instance
                .storage
                .events_for_run(&id, after, 10_000)
                .map_err(|e| PythonError::from_error(&e))?;
            let done = !page.has_more || page.events.is_empty();
            after = page.cursor;
            out.extend(page.events);
            if done || out.len() >= MAX_EVENTS_FOR_STATS {
                return Ok(out);
            }
        }
    })
    .await
}

/// `RepositoryOrigin` of a run or a repository.
#[derive(Debug, Clone)]
pub struct RepositoryOrigin {
    pub location: String,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl RepositoryOrigin {
    /// Content id: sha1 of the origin's serialized form.
    fn id(&self) -> String {
        repository_origin_id(&self.location)
    }
    fn repository_location_name(&self) -> &str {
        &self.location
    }
    fn repository_name(&self) -> &str {
        REPOSITORY_NAME
    }
    fn repository_location_metadata(&self) -> Vec<RepositoryMetadata> {
        Vec::new()
    }
}

pub fn repository_origin_id(location: &str) -> String {
    dagster_core::instigator::schedule::content_id(&serde_json::json!({
        "__class__": "RemoteRepositoryOrigin",
        "code_location_origin": {"__class__": "ManagedGrpcPythonEnvCodeLocationOrigin", "location_name": location},
        "repository_name": REPOSITORY_NAME,
    }))
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RepositoryMetadata {
    pub key: String,
    pub value: String,
}

/// Dagster spells this type `AssetCheckHandle`.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(name = "AssetCheckhandle", context = Ctx)]
pub struct AssetCheckHandle {
    pub name: String,
    pub asset_key: AssetKey,
}

interface! {
    pub enum PipelineRunStatsSnapshotValue: "PipelineRunStatsSnapshot" {
        fields {
            "id": String,
            "runId": String,
            "stepsSucceeded": i32,
            "stepsFailed": i32,
            "materializations": i32,
            "expectations": i32,
            "enqueuedTime": Option<f64>,
            "launchTime": Option<f64>,
            "startTime": Option<f64>,
            "endTime": Option<f64>,
        }
        for [
            RunStatsSnapshot,
        ]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = PipelineRunStatsSnapshotValue)]
pub struct RunStatsSnapshot {
    pub id: String,
    pub run_id: String,
    pub steps_succeeded: i32,
    pub steps_failed: i32,
    pub materializations: i32,
    pub expectations: i32,
    pub enqueued_time: Option<f64>,
    pub launch_time: Option<f64>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunStatsSnapshotOrError {
    RunStatsSnapshot(RunStatsSnapshot),
    PythonError(PythonError),
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum StepEventStatus {
    Skipped,
    Success,
    Failure,
    InProgress,
}

#[derive(GraphQLObject, Debug, Clone, Default)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunMarker {
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
}

interface! {
    pub enum PipelineRunStepStatsValue: "PipelineRunStepStats" {
        fields {
            "runId": String,
            "stepKey": String,
            "status": Option<StepEventStatus>,
            "startTime": Option<f64>,
            "endTime": Option<f64>,
            "materializations": Vec<MaterializationEvent>,
            "expectationResults": Vec<ExpectationResult>,
        }
        for [
            RunStepStats,
        ]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = PipelineRunStepStatsValue)]
pub struct RunStepStats {
    pub run_id: String,
    pub step_key: String,
    pub status: Option<StepEventStatus>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub materializations: Vec<MaterializationEvent>,
    pub expectation_results: Vec<ExpectationResult>,
    pub attempts: Vec<RunMarker>,
    pub markers: Vec<RunMarker>,
}

/// Stats of one run from its events (RUN_ENQUEUED/STARTING/START/terminal times, step counts).
pub fn run_stats(run_id: &str, events: &[EventRecord]) -> RunStatsSnapshot {
    let mut s = RunStatsSnapshot {
        id: format!("stats-{run_id}"),
        run_id: run_id.to_string(),
        steps_succeeded: 0,
        steps_failed: 0,
        materializations: 0,
        expectations: 0,
        enqueued_time: None,
        launch_time: None,
        start_time: None,
        end_time: None,
    };
    for r in events {
        let ts = Some(r.event.timestamp);
        match r.event.event_type {
            Some(EventType::StepSuccess) => s.steps_succeeded += 1,
            Some(EventType::StepFailure) => s.steps_failed += 1,
            Some(EventType::AssetMaterialization) => s.materializations += 1,
            Some(EventType::RunEnqueued) => s.enqueued_time = ts,
            Some(EventType::RunStarting) => s.launch_time = ts,
            Some(EventType::RunStart) => s.start_time = ts,
            Some(EventType::RunSuccess | EventType::RunFailure | EventType::RunCanceled) => {
                s.end_time = ts
            }
            _ => {}
        }
    }
    s
}

/// Per-step stats, in the order steps first appear in the log.
pub fn step_stats(run_id: &str, events: &[EventRecord]) -> Vec<RunStepStats> {
    let mut order: Vec<String> = Vec::new();
    let mut by_key: BTreeMap<String, RunStepStats> = BTreeMap::new();
    for r in events {
        let Some(key) = r.event.step_key.as_deref() else {
            continue;
        };
        let Some(t) = r.event.event_type else {
            continue;
        };
        let tracked = matches!(
            t,
            EventType::StepStart
                | EventType::StepRestarted
                | EventType::StepSuccess
                | EventType::StepFailure
                | EventType::StepSkipped
                | EventType::StepUpForRetry
                | EventType::AssetMaterialization
        );
        if !tracked {
            continue;
        }
        let s = by_key.entry(key.to_string()).or_insert_with(|| {
            order.push(key.to_string());
            RunStepStats {
                run_id: run_id.to_string(),
                step_key: key.to_string(),
                status: None,
                start_time: None,
                end_time: None,
                materializations: Vec::new(),
                expectation_results: Vec::new(),
                attempts: Vec::new(),
                markers: Vec::new(),
            }
        });
        let ts = r.event.timestamp;
        match t {
            EventType::StepStart | EventType::StepRestarted => {
                s.status = Some(StepEventStatus::InProgress);
                s.start_time.get_or_insert(ts);
                s.attempts.push(RunMarker {
                    start_time: Some(ts),
                    end_time: None,
                });
            }
            EventType::StepUpForRetry => {
                if let Some(a) = s.attempts.last_mut() {
                    a.end_time = Some(ts);
                }
            }
            EventType::StepSuccess | EventType::StepFailure | EventType::StepSkipped => {
                s.status = Some(match t {
                    EventType::StepSuccess => StepEventStatus::Success,
                    EventType::StepFailure => StepEventStatus::Failure,
                    _ => StepEventStatus::Skipped,
                });
                s.end_time = Some(ts);
                if let Some(a) = s.attempts.last_mut() {
                    a.end_time.get_or_insert(ts);
                }
            }
            EventType::AssetMaterialization => {
                s.materializations
                    .push(MaterializationEvent::new(Arc::new(r.clone())));
            }
            _ => {}
        }
    }
    order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .collect()
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum StepKind {
    Compute,
    UnresolvedMapped,
    UnresolvedCollect,
}

#[derive(Debug, Clone)]
pub struct ExecutionStep {
    key: String,
    deps: Vec<String>,
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl ExecutionStep {
    fn key(&self) -> &str {
        &self.key
    }
    #[graphql(name = "solidHandleID")]
    fn solid_handle_id(&self) -> &str {
        &self.key
    }
    fn kind(&self) -> StepKind {
        StepKind::Compute
    }
    fn inputs(&self) -> Vec<ExecutionStepInput> {
        self.deps
            .iter()
            .map(|d| ExecutionStepInput {
                name: d.clone(),
                depends_on: vec![ExecutionStep {
                    key: d.clone(),
                    deps: Vec::new(),
                }],
            })
            .collect()
    }
    fn outputs(&self) -> Vec<ExecutionStepOutput> {
        vec![ExecutionStepOutput {
            name: "result".into(),
        }]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ExecutionStepInput {
    pub name: String,
    pub depends_on: Vec<ExecutionStep>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ExecutionStepOutput {
    pub name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ExecutionPlan {
    pub steps: Vec<ExecutionStep>,
    pub artifacts_persisted: bool,
    pub asset_selection: Vec<String>,
    pub asset_keys: Vec<AssetKey>,
    pub asset_check_keys: Vec<AssetCheckHandle>,
}

impl ExecutionPlan {
    fn from_core(plan: &CorePlan) -> Self {
        ExecutionPlan {
            steps: plan
                .steps
                .iter()
                .map(|s| ExecutionStep {
                    key: s.key.clone(),
                    deps: s.deps.clone(),
                })
                .collect(),
            artifacts_persisted: true,
            asset_selection: plan
                .steps
                .iter()
                .map(|s| s.asset_key.to_user_string())
                .collect(),
            asset_keys: plan
                .steps
                .iter()
                .map(|s| AssetKey::from(&s.asset_key))
                .collect(),
            asset_check_keys: Vec::new(),
        }
    }
}

/// `Run` (implements `PipelineRun` and `RunsFeedEntry`).
#[derive(Debug, Clone)]
pub struct Run(pub Arc<DomainRun>);

impl Run {
    /// The graph of the run's job in its code location, when loaded.
    fn job_graph(&self, ctx: &Ctx) -> Option<std::sync::Arc<JobGraph>> {
        let location = self.0.code_location.as_deref()?;
        find_job(ctx, location, REPOSITORY_NAME, &self.0.job_name).ok()
    }

    pub fn new(r: DomainRun) -> Self {
        Run(Arc::new(r))
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = [PipelineRunValue, RunsFeedEntryValue])]
impl Run {
    fn id(&self) -> ID {
        ID::new(&self.0.run_id)
    }
    fn run_id(&self) -> &str {
        &self.0.run_id
    }
    fn status(&self) -> RunStatus {
        self.0.status.into()
    }
    fn run_status(&self) -> RunStatus {
        self.0.status.into()
    }
    fn pipeline_name(&self) -> &str {
        &self.0.job_name
    }
    fn job_name(&self) -> &str {
        &self.0.job_name
    }
    fn mode(&self) -> &str {
        "default"
    }
    fn repository_origin(&self) -> Option<RepositoryOrigin> {
        self.0.code_location.as_ref().map(|l| RepositoryOrigin {
            location: l.clone(),
        })
    }
    fn solid_selection(&self) -> Option<Vec<String>> {
        None
    }
    fn resolved_op_selection(&self) -> Option<Vec<String>> {
        None
    }
    fn step_keys_to_execute(&self) -> Option<Vec<String>> {
        self.0.step_keys_to_execute.clone()
    }
    /// At most `limit` keys (all when absent).
    fn asset_selection(&self, limit: Option<i32>) -> Option<Vec<AssetKey>> {
        self.0.asset_selection.as_ref().map(|keys| {
            let n = limit.map_or(keys.len(), |l| usize::try_from(l).unwrap_or(0));
            keys.iter().take(n).map(AssetKey::from).collect()
        })
    }
    fn asset_selection_count(&self) -> i32 {
        self.0
            .asset_selection
            .as_ref()
            .map_or(0, |k| i32::try_from(k.len()).unwrap_or(i32::MAX))
    }
    fn asset_check_selection(&self, limit: Option<i32>) -> Option<Vec<AssetCheckHandle>> {
        let _ = limit;
        None
    }
    fn asset_check_selection_count(&self) -> i32 {
        0
    }
    fn asset_checks(&self) -> Option<Vec<AssetCheckHandle>> {
        None
    }
    fn run_config_yaml(&self) -> String {
        run_config_yaml(&self.0.run_config)
    }
    /// The run config as JSON text.
    fn run_config(&self) -> super::RunConfigData {
        super::RunConfigData(self.0.run_config.to_string())
    }
    /// Tags without the hidden `.dagster/*` ones.
    fn tags(&self) -> Vec<PipelineTag> {
        self.0
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with(".dagster/"))
            .map(|(k, v)| PipelineTag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    }
    fn root_run_id(&self) -> Option<&str> {
        self.0.root_run_id.as_deref()
    }
    fn parent_run_id(&self) -> Option<&str> {
        self.0.parent_run_id.as_deref()
    }
    fn can_terminate(&self) -> bool {
        matches!(self.0.status, DomainStatus::Queued | DomainStatus::Started)
    }
    fn creation_time(&self) -> f64 {
        self.0.create_time
    }
    fn start_time(&self) -> Option<f64> {
        self.0.start_time
    }
    fn end_time(&self) -> Option<f64> {
        self.0.end_time
    }
    fn update_time(&self) -> Option<f64> {
        Some(self.0.update_time)
    }
    /// The snapshot id of the run's job as its code location defines it now (snapshots are
    /// not stored per run: a job changed since the run has another id).
    fn pipeline_snapshot_id(&self, ctx: &Ctx) -> Option<String> {
        self.job_graph(ctx).map(|g| g.snapshot_id())
    }
    /// The run's job: its snapshot when the job is loaded, else a name only.
    fn pipeline(&self, ctx: &Ctx) -> PipelineReferenceValue {
        match self.job_graph(ctx) {
            Some(g) => PipelineReferenceValue::PipelineSnapshot(PipelineSnapshot(g)),
            None => PipelineReferenceValue::UnknownPipeline(UnknownPipeline {
                name: self.0.job_name.clone(),
                solid_selection: None,
            }),
        }
    }
    fn parent_pipeline_snapshot_id(&self) -> Option<String> {
        None
    }
    fn has_re_execute_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_terminate_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_delete_permission(ctx: &Ctx) -> bool {
        !ctx.state.read_only
    }
    fn has_concurrency_key_slots(&self) -> bool {
        false
    }
    fn root_concurrency_keys(&self) -> Option<Vec<String>> {
        None
    }
    fn all_pools(&self) -> Option<Vec<String>> {
        None
    }
    fn has_unconstrained_root_nodes(&self) -> bool {
        true
    }
    /// A run metrics tag set to a true value, once the run has started.
    fn has_run_metrics_enabled(&self) -> bool {
        if matches!(
            self.0.status,
            DomainStatus::Queued | DomainStatus::NotStarted | DomainStatus::Starting
        ) {
            return false;
        }
        tags::RUN_METRICS.iter().any(|k| {
            self.0
                .tags
                .get(*k)
                .is_some_and(|v| !matches!(v.to_lowercase().as_str(), "false" | "none" | "0" | ""))
        })
    }
    /// The `dagster/external_job_source` tag, lowercased.
    fn external_job_source(&self) -> Option<String> {
        self.0
            .tags
            .get(tags::EXTERNAL_JOB_SOURCE)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_lowercase())
    }
    async fn stats(&self, ctx: &Ctx) -> RunStatsSnapshotOrError {
        match run_events(ctx, &self.0.run_id).await {
            Ok(events) => {
                RunStatsSnapshotOrError::RunStatsSnapshot(run_stats(&self.0.run_id, &events))
            }
            Err(e) => RunStatsSnapshotOrError::PythonError(e),
        }
    }
    async fn step_stats(&self, ctx: &Ctx) -> Result<Vec<RunStepStats>, PythonError> {
        let events = run_events(ctx, &self.0.run_id).await?;
        Ok(step_stats(&self.0.run_id, &events))
    }
    /// The plan of the run from its code location's current definitions (null when the
    /// location is not loaded or the job no longer exists).
    fn execution_plan(&self, ctx: &Ctx) -> Option<ExecutionPlan> {
        let location = self.0.code_location.as_deref()?;
        let entries = ctx.state.locations();
        let defs = entries
            .iter()
            .find(|e| e.name == location)
            .and_then(|e| e.defs.as_ref().ok())?;
        let plan = CorePlan::for_run(defs, &self.0).ok()?;
        Some(ExecutionPlan::from_core(&plan))
    }
    async fn event_connection(
        &self,
        ctx: &Ctx,
        after_cursor: Option<String>,
        limit: Option<i32>,
    ) -> Result<EventConnection, PythonError> {
        logs::event_connection(ctx, &self.0.run_id, after_cursor, limit).await
    }
    async fn captured_logs(
        &self,
        ctx: &Ctx,
        file_key: String,
    ) -> Result<CapturedLogs, PythonError> {
        let key = dagster_core::exec::ComputeLogManager::log_key(&self.0.run_id, &file_key);
        logs::captured_logs(ctx, key, None, None).await
    }
    /// Assets this run materializes (its asset selection, else the assets planned in its log).
    async fn assets(&self, ctx: &Ctx) -> Result<Vec<Asset>, PythonError> {
        if let Some(sel) = &self.0.asset_selection {
            return Ok(sel.iter().cloned().map(Asset::new).collect());
        }
        let events = run_events(ctx, &self.0.run_id).await?;
        let mut keys = Vec::new();
        for r in &events {
            if r.event.event_type == Some(EventType::AssetMaterializationPlanned) {
                if let Some(k) = r.event.asset_key() {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
        }
        Ok(keys.into_iter().map(Asset::new).collect())
    }
    async fn asset_materializations(
        &self,
        ctx: &Ctx,
    ) -> Result<Vec<MaterializationEvent>, PythonError> {
        let events = run_events(ctx, &self.0.run_id).await?;
        Ok(events
            .into_iter()
            .filter(|r| r.event.event_type == Some(EventType::AssetMaterialization))
            .map(|r| MaterializationEvent::new(Arc::new(r)))
            .collect())
    }
}

/// `{}\n` for an empty config, YAML otherwise.
pub fn run_config_yaml(config: &serde_json::Value) -> String {
    match config {
        serde_json::Value::Null => "{}\n".into(),
        serde_json::Value::Object(o) if o.is_empty() => "{}\n".into(),
        other => serde_yaml::to_string(other).unwrap_or_else(|_| "{}\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagster_core::domain::NewEvent;

    fn ev(id: i64, t: EventType, step: Option<&str>, ts: f64) -> EventRecord {
        let mut e = NewEvent::new("r", "j", Some(t), "");
        e.timestamp = ts;
        e.step_key = step.map(str::to_string);
        EventRecord {
            storage_id: id,
            event: e,
        }
    }

    #[test]
    fn stats_and_step_stats_follow_the_log() {
        let events = vec![
            ev(1, EventType::RunEnqueued, None, 1.0),
            ev(2, EventType::RunStarting, None, 2.0),
            ev(3, EventType::RunStart, None, 3.0),
            ev(4, EventType::StepStart, Some("a"), 4.0),
            ev(5, EventType::StepUpForRetry, Some("a"), 5.0),
            ev(6, EventType::StepRestarted, Some("a"), 6.0),
            ev(7, EventType::StepSuccess, Some("a"), 7.0),
            ev(8, EventType::StepStart, Some("b"), 8.0),
            ev(9, EventType::StepFailure, Some("b"), 9.0),
            ev(10, EventType::RunFailure, None, 10.0),
        ];
        let s = run_stats("r", &events);
        assert_eq!((s.steps_succeeded, s.steps_failed), (1, 1));
        assert_eq!(
            (s.enqueued_time, s.launch_time, s.start_time, s.end_time),
            (Some(1.0), Some(2.0), Some(3.0), Some(10.0))
        );
        let steps = step_stats("r", &events);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].step_key, "a");
        assert_eq!(steps[0].status, Some(StepEventStatus::Success));
        assert_eq!(steps[0].attempts.len(), 2);
        assert_eq!(steps[0].attempts[0].end_time, Some(5.0));
        assert_eq!(
            (steps[0].start_time, steps[0].end_time),
            (Some(4.0), Some(7.0))
        );
        assert_eq!(steps[1].status, Some(StepEventStatus::Failure));
    }

    #[test]
    fn impossible_filters_match_nothing() {
        let f = RunsFilterInput {
            snapshot_id: Some("x".into()),
            ..Default::default()
        };
        assert!(f.to_domain().is_none());
        let f = RunsFilterInput {
            mode: Some("default".into()),
            run_ids: Some(vec![Some("a".into()), None]),
            ..Default::default()
        };
        assert_eq!(f.to_domain().unwrap().run_ids, Some(vec!["a".to_string()]));
    }
}
