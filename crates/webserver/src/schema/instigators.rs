//! Schedule and sensor mutations (compat doc §3.11) with Dagster's names and result unions:
//! `startSchedule`, `stopRunningSchedule`, `resetSchedule`, `startSensor`, `stopSensor`,
//! `resetSensor`, `setSensorCursor`, and the types they return (`InstigationState`, `Sensor`,
//! `ScheduleNotFoundError`, ...).
//!
//! They only write the instigator row in storage (through `dagster_core::instigator::schedule` /
//! `dagster_core::instigator::sensor`, the functions `dagster schedule|sensor start|stop` use); the daemon
//! reads it on its next pass. Ids: an instigator's GraphQL id is Dagster's compound id
//! `<origin id>::<selector id>`; the selector id alone finds the stored row.

#[allow(unused_imports)]
use super::prelude::*;
use super::runs::Run;
use super::types::{PythonError, UnauthorizedError, REPOSITORY_NAME};
use super::workspace::{InstigationState, InstigationStatus, InstigationType, Sensor};
use super::{blocking, Ctx};
use dagster_core::defs::{Definitions, ScheduleDef, SensorDef};
use dagster_core::domain::{now_ts, tags, ErrorInfo, RunsFilter};
use dagster_core::instigator::schedule::{self, selector_id};
use dagster_core::instigator::{sensor, InstigatorStatus, TickStatus};
use dagster_core::storage::{InstigatorState as StoredState, Storage, Tick, TickFilter};
use juniper::{graphql_object, GraphQLEnum, GraphQLInputObject, GraphQLObject, GraphQLUnion, ID};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Inputs

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct ScheduleSelector {
    pub repository_name: String,
    pub repository_location_name: String,
    pub schedule_name: String,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct SensorSelector {
    pub repository_name: String,
    pub repository_location_name: String,
    pub sensor_name: String,
}

#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum InstigationTickStatus {
    Started,
    Skipped,
    Success,
    Failure,
}

impl InstigationTickStatus {
    /// The stored tick status.
    pub fn stored(self) -> TickStatus {
        match self {
            InstigationTickStatus::Started => TickStatus::Started,
            InstigationTickStatus::Skipped => TickStatus::Skipped,
            InstigationTickStatus::Success => TickStatus::Success,
            InstigationTickStatus::Failure => TickStatus::Failure,
        }
    }
}

fn status_of(running: bool) -> InstigationStatus {
    if running {
        InstigationStatus::Running
    } else {
        InstigationStatus::Stopped
    }
}

// ---------------------------------------------------------------------------------------------
// InstigationState: how the mutations build it, and the fields `workspace::InstigationState`
// delegates here (`typeSpecificData`, `runs`, `runsCount`, `ticks`)

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ScheduleData {
    pub cron_schedule: String,
    pub start_timestamp: Option<f64>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct SensorData {
    pub last_tick_timestamp: Option<f64>,
    pub last_run_key: Option<String>,
    pub last_cursor: Option<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum InstigationTypeSpecificData {
    SensorData(SensorData),
    ScheduleData(ScheduleData),
}

fn schedule_state(
    location: &str,
    def: &ScheduleDef,
    stored: Option<&StoredState>,
) -> InstigationState {
    InstigationState {
        location: location.to_string(),
        name: def.name.clone(),
        kind: InstigationType::Schedule,
        status: status_of(schedule::effective_status(stored, def) == InstigatorStatus::Running),
    }
}

fn sensor_state(location: &str, def: &SensorDef, stored: Option<&StoredState>) -> InstigationState {
    InstigationState {
        location: location.to_string(),
        name: def.name.clone(),
        kind: InstigationType::Sensor,
        status: status_of(sensor::effective_status(stored, def) == InstigatorStatus::Running),
    }
}

/// A stored row whose definition is no longer loaded: its stored status as is.
fn orphan_state(stored: &StoredState) -> InstigationState {
    InstigationState {
        location: stored
            .body
            .get("location")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        name: stored.name.clone(),
        kind: if stored.instigator_type == sensor::SENSOR {
            InstigationType::Sensor
        } else {
            InstigationType::Schedule
        },
        status: status_of(stored.status == InstigatorStatus::Running),
    }
}

async fn stored_row(
    ctx: &Ctx,
    state: &InstigationState,
) -> Result<Option<StoredState>, PythonError> {
    let st = ctx.state.clone();
    let sel = selector_id(&state.location, &state.name);
    blocking(move || {
        st.instance
            .storage
            .get_instigator(&sel)
            .map_err(|e| storage_err(&e))
    })
    .await
}

/// `InstigationState.typeSpecificData`: `ScheduleData` (cron string; start while running) or
/// `SensorData` (last tick, last run key, cursor), from the definition and the stored row.
pub async fn type_specific_data(
    ctx: &Ctx,
    state: &InstigationState,
) -> Result<Option<InstigationTypeSpecificData>, PythonError> {
    let row = stored_row(ctx, state).await?;
    let body = row.map(|r| r.body).unwrap_or_default();
    let f = |k: &str| body.get(k).and_then(|v| v.as_f64());
    let text = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Ok(Some(match state.kind {
        InstigationType::Sensor => InstigationTypeSpecificData::SensorData(SensorData {
            last_tick_timestamp: f("last_tick_timestamp"),
            last_run_key: text("last_run_key"),
            last_cursor: text("cursor"),
        }),
        _ => {
            let cron = location_defs(ctx, REPOSITORY_NAME, &state.location)
                .and_then(|d| d.schedules.get(&state.name).map(|s| s.cron.clone()))
                .or_else(|| text("cron"))
                .unwrap_or_default();
            InstigationTypeSpecificData::ScheduleData(ScheduleData {
                cron_schedule: cron,
                // Dagster clears the start when a schedule stops.
                start_timestamp: if state.status == InstigationStatus::Running {
                    f("start_timestamp")
                } else {
                    None
                },
            })
        }
    }))
}

fn runs_filter(state: &InstigationState) -> RunsFilter {
    let name_tag = match state.kind {
        InstigationType::Sensor => tags::SENSOR_NAME,
        _ => tags::SCHEDULE_NAME,
    };
    RunsFilter {
        tags: vec![
            (name_tag.to_string(), state.name.clone()),
            (tags::CODE_LOCATION.to_string(), state.location.clone()),
        ],
        ..Default::default()
    }
}

/// `InstigationState.runs(limit)`: the runs this schedule or sensor created, newest first.
pub async fn runs(
    ctx: &Ctx,
    state: &InstigationState,
    limit: Option<i32>,
) -> Result<Vec<Run>, PythonError> {
    let st = ctx.state.clone();
    let filter = runs_filter(state);
    let limit = limit.map(|l| l.clamp(0, 1000) as usize);
    let runs = blocking(move || {
        st.instance
            .storage
            .list_runs(&filter, None, limit)
            .map_err(|e| storage_err(&e))
    })
    .await?;
    Ok(runs.into_iter().map(Run::new).collect())
}

/// `InstigationState.runsCount`.
pub async fn runs_count(ctx: &Ctx, state: &InstigationState) -> Result<i32, PythonError> {
    let st = ctx.state.clone();
    let filter = runs_filter(state);
    let n = blocking(move || {
        st.instance
            .storage
            .count_runs(&filter)
            .map_err(|e| storage_err(&e))
    })
    .await?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// `InstigationState.ticks(limit)`: the most recent ticks, newest first (default 20, at most
/// 1000).
/// Tick `tick_id` of the instigator (its storage id, or Dagster's `<origin>:<timestamp>` id).
pub async fn tick(
    ctx: &Ctx,
    state: &InstigationState,
    tick_id: &str,
) -> Result<InstigationTick, PythonError> {
    let Ok(id) = tick_id.parse::<i64>() else {
        return Err(PythonError::new(format!(
            "invalid tick id `{tick_id}`: expected a number"
        )));
    };
    let st = ctx.state.clone();
    let sel = selector_id(&state.location, &state.name);
    let kind = state.kind;
    let origin = tick_origin(state);
    blocking(move || {
        let tick = st
            .instance
            .storage
            .get_tick(id)
            .map_err(|e| storage_err(&e))?
            .filter(|t| t.selector_id == sel)
            .ok_or_else(|| PythonError::new(format!("Tick {id} not found")))?;
        Ok(InstigationTick { origin, kind, tick })
    })
    .await
}

/// The arguments of `InstigationState.ticks`.
#[derive(Debug, Clone, Default)]
pub struct TicksQuery {
    pub day_range: Option<i32>,
    pub day_offset: Option<i32>,
    pub limit: Option<i32>,
    pub cursor: Option<String>,
    pub statuses: Option<Vec<InstigationTickStatus>>,
    pub before_timestamp: Option<f64>,
    pub after_timestamp: Option<f64>,
}

impl TicksQuery {
    fn filter(&self, now: f64) -> Result<TickFilter, PythonError> {
        const DAY: f64 = 86_400.0;
        let mut f = TickFilter {
            after: self.after_timestamp,
            before: self.before_timestamp,
            ..Default::default()
        };
        if let Some(range) = self.day_range {
            let offset = f64::from(self.day_offset.unwrap_or(0).max(0));
            let end = now - offset * DAY;
            f.before = Some(f.before.map_or(end, |b| b.min(end)));
            let start = end - f64::from(range.max(0)) * DAY;
            f.after = Some(f.after.map_or(start, |a| a.max(start)));
        }
        if let Some(s) = &self.statuses {
            f.statuses = Some(s.iter().map(|s| s.stored()).collect());
        }
        if let Some(c) = self
            .cursor
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            f.before_id = Some(c.parse::<i64>().map_err(|_| {
                PythonError::new(format!("invalid cursor {c:?}: expected a tick id"))
            })?);
        }
        Ok(f)
    }
}

pub async fn ticks(
    ctx: &Ctx,
    state: &InstigationState,
    q: TicksQuery,
) -> Result<Vec<InstigationTick>, PythonError> {
    let st = ctx.state.clone();
    let sel = selector_id(&state.location, &state.name);
    let limit = q.limit.map_or(20, |l| l.clamp(0, 1000) as usize);
    let filter = q.filter(now_ts())?;
    let ticks = blocking(move || {
        st.instance
            .storage
            .find_ticks(&sel, &filter, limit)
            .map_err(|e| storage_err(&e))
    })
    .await?;
    let origin = tick_origin(state);
    Ok(ticks
        .into_iter()
        .map(|tick| InstigationTick {
            origin: origin.clone(),
            kind: state.kind,
            tick,
        })
        .collect())
}

/// The origin part of the instigator's compound id (tick ids are `<origin>:<timestamp>`).
fn tick_origin(state: &InstigationState) -> String {
    let id = super::workspace::instigator_id(&state.location, &state.name);
    id.split("::").next().unwrap_or_default().to_string()
}

/// One schedule or sensor tick (`job_ticks` row).
#[derive(Debug, Clone)]
pub struct InstigationTick {
    origin: String,
    kind: InstigationType,
    tick: Tick,
}

impl InstigationTick {
    fn strings(&self, key: &str) -> Vec<String> {
        self.tick
            .body
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[graphql_object]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
impl InstigationTick {
    fn id(&self) -> ID {
        ID::new(format!("{}:{}", self.origin, self.tick.timestamp))
    }
    fn tick_id(&self) -> ID {
        ID::new(self.tick.id.to_string())
    }
    fn status(&self) -> InstigationTickStatus {
        match self.tick.status {
            TickStatus::Started => InstigationTickStatus::Started,
            TickStatus::Skipped => InstigationTickStatus::Skipped,
            TickStatus::Success => InstigationTickStatus::Success,
            TickStatus::Failure => InstigationTickStatus::Failure,
        }
    }
    fn timestamp(&self) -> f64 {
        self.tick.timestamp
    }
    fn run_ids(&self) -> Vec<String> {
        self.strings("run_ids")
    }
    fn run_keys(&self) -> Vec<String> {
        self.strings("run_keys")
    }
    fn error(&self) -> Option<PythonError> {
        self.tick
            .body
            .get("error")
            .and_then(|e| serde_json::from_value::<ErrorInfo>(e.clone()).ok())
            .map(|e| PythonError::from_info(&e))
    }
    fn skip_reason(&self) -> Option<&str> {
        self.tick.body.get("skip_reason").and_then(|v| v.as_str())
    }
    fn cursor(&self) -> Option<&str> {
        self.tick.body.get("cursor").and_then(|v| v.as_str())
    }
    fn end_timestamp(&self) -> Option<f64> {
        self.tick.body.get("end_timestamp").and_then(|v| v.as_f64())
    }
    fn instigation_type(&self) -> InstigationType {
        self.kind
    }
    /// The runs this tick launched (those still stored), in launch order.
    async fn runs(&self, ctx: &Ctx) -> Result<Vec<Run>, PythonError> {
        tick_runs(ctx, self.strings("run_ids")).await
    }
    fn origin_run_ids(&self) -> Vec<String> {
        Vec::new()
    }
    fn log_key(&self) -> Option<Vec<String>> {
        None
    }
    /// Ticks keep no log lines of their own here (sensor and schedule evaluations log to the
    /// daemon's log).
    fn log_events(&self) -> InstigationEventConnection {
        InstigationEventConnection {
            events: Vec::new(),
            cursor: String::new(),
            has_more: false,
        }
    }
    fn requested_job_run_count(&self) -> i32 {
        i32::try_from(self.strings("run_ids").len()).unwrap_or(i32::MAX)
    }
    fn requested_asset_materialization_count(&self) -> i32 {
        0
    }
    fn requested_asset_keys(&self) -> Vec<AssetKey> {
        Vec::new()
    }
    fn requested_materializations_for_assets(&self) -> Vec<RequestedMaterializationsForAsset> {
        Vec::new()
    }
    /// One entry per job the tick's runs belong to (partition keys: none, nothing is
    /// partitioned).
    async fn requested_runs_for_jobs(
        &self,
        ctx: &Ctx,
    ) -> Result<Vec<RequestedRunsForJob>, PythonError> {
        let runs = tick_runs(ctx, self.strings("run_ids")).await?;
        let mut jobs: Vec<String> = runs.iter().map(|r| r.0.job_name.clone()).collect();
        jobs.dedup();
        Ok(jobs
            .into_iter()
            .map(|job_name| RequestedRunsForJob {
                job_name,
                partition_keys: Vec::new(),
            })
            .collect())
    }
    fn dynamic_partitions_request_results(&self) -> Vec<DynamicPartitionsRequestResult> {
        Vec::new()
    }
    fn auto_materialize_asset_evaluation_id(&self) -> Option<ID> {
        None
    }
}

async fn tick_runs(ctx: &Ctx, run_ids: Vec<String>) -> Result<Vec<Run>, PythonError> {
    if run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let st = ctx.state.clone();
    blocking(move || {
        let filter = RunsFilter {
            run_ids: Some(run_ids),
            oldest_first: true,
            ..Default::default()
        };
        st.instance
            .storage
            .list_runs(&filter, None, Some(1000))
            .map(|runs| runs.into_iter().map(Run::new).collect())
            .map_err(|e| storage_err(&e))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Results and errors

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = super::types::ErrorValue)]
pub struct ScheduleNotFoundError {
    pub message: String,
    pub schedule_name: String,
}

impl ScheduleNotFoundError {
    pub fn new(name: &str) -> Self {
        ScheduleNotFoundError {
            message: format!("Schedule {name} could not be found."),
            schedule_name: name.to_string(),
        }
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx, impl = super::types::ErrorValue)]
pub struct SensorNotFoundError {
    pub message: String,
    pub sensor_name: String,
}

impl SensorNotFoundError {
    pub fn new(name: &str) -> Self {
        SensorNotFoundError {
            message: format!("Could not find `{name}` in the currently loaded repository."),
            sensor_name: name.to_string(),
        }
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct ScheduleStateResult {
    pub schedule_state: InstigationState,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum ScheduleMutationResult {
    PythonError(PythonError),
    UnauthorizedError(UnauthorizedError),
    ScheduleStateResult(ScheduleStateResult),
    ScheduleNotFoundError(ScheduleNotFoundError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum SensorOrError {
    Sensor(Sensor),
    SensorNotFoundError(SensorNotFoundError),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct StopSensorMutationResult {
    pub instigation_state: Option<InstigationState>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum StopSensorMutationResultOrError {
    StopSensorMutationResult(StopSensorMutationResult),
    UnauthorizedError(UnauthorizedError),
    PythonError(PythonError),
}

// ---------------------------------------------------------------------------------------------
// Lookups

/// The loaded definitions of `location` if the selector names our one repository.
pub(super) fn location_defs(
    ctx: &Ctx,
    repository: &str,
    location: &str,
) -> Option<Arc<Definitions>> {
    if repository != REPOSITORY_NAME {
        return None;
    }
    ctx.state
        .locations()
        .into_iter()
        .find(|e| e.name == location)
        .and_then(|e| e.defs.ok())
}

pub(super) fn find_schedule(
    ctx: &Ctx,
    sel: &ScheduleSelector,
) -> Option<(Arc<Definitions>, ScheduleDef)> {
    let defs = location_defs(ctx, &sel.repository_name, &sel.repository_location_name)?;
    let def = defs.schedules.get(&sel.schedule_name)?.clone();
    Some((defs, def))
}

pub(super) fn find_sensor(
    ctx: &Ctx,
    sel: &SensorSelector,
) -> Option<(Arc<Definitions>, SensorDef)> {
    let defs = location_defs(ctx, &sel.repository_name, &sel.repository_location_name)?;
    let def = defs.sensors.get(&sel.sensor_name)?.clone();
    Some((defs, def))
}

/// What a stop mutation names: a loaded definition, or only a selector id (a stored row whose
/// definition is gone).
enum Target<D> {
    Loaded(Arc<Definitions>, D),
    Stored(String),
}

fn schedule_by_selector_id(ctx: &Ctx, sel_id: &str) -> Target<ScheduleDef> {
    for e in ctx.state.locations() {
        let Ok(defs) = e.defs else { continue };
        let found = defs
            .schedules
            .values()
            .find(|d| selector_id(&defs.location_name, &d.name) == sel_id)
            .cloned();
        if let Some(def) = found {
            return Target::Loaded(defs, def);
        }
    }
    Target::Stored(sel_id.to_string())
}

fn sensor_by_selector_id(ctx: &Ctx, sel_id: &str) -> Target<SensorDef> {
    for e in ctx.state.locations() {
        let Ok(defs) = e.defs else { continue };
        let found = defs
            .sensors
            .values()
            .find(|d| selector_id(&defs.location_name, &d.name) == sel_id)
            .cloned();
        if let Some(def) = found {
            return Target::Loaded(defs, def);
        }
    }
    Target::Stored(sel_id.to_string())
}

/// The selector id named by `id` (compound `<origin>::<selector>`) or by the origin id and
/// selector id arguments, as Dagster's stop mutations read them.
fn stop_target(
    id: Option<String>,
    origin_id: Option<String>,
    selector_id: Option<String>,
    origin_arg: &str,
    selector_arg: &str,
) -> Result<String, PythonError> {
    let split = |s: &str| s.split_once("::").map(|(_, sel)| sel.to_string());
    if let Some(id) = id.filter(|s| !s.is_empty()) {
        return split(&id).ok_or_else(|| {
            PythonError::new(format!(
                "invalid id `{id}`: expected `<origin id>::<selector id>`"
            ))
        });
    }
    if let Some(sel) = origin_id.as_deref().and_then(split) {
        return Ok(sel);
    }
    match (origin_id, selector_id) {
        (Some(_), Some(sel)) => Ok(sel),
        _ => Err(PythonError::new(format!(
            "Must specify id or {origin_arg} and {selector_arg}"
        ))),
    }
}

fn storage_err(e: &(dyn std::error::Error + 'static)) -> PythonError {
    PythonError::from_error(e)
}

fn stored(storage: &dyn Storage, sel: &str) -> Result<Option<StoredState>, PythonError> {
    storage.get_instigator(sel).map_err(|e| storage_err(&e))
}

// ---------------------------------------------------------------------------------------------
// Schedule mutations

/// Which state change a schedule mutation makes.
#[derive(Debug, Clone, Copy)]
enum ScheduleChange {
    Start,
    Reset,
}

async fn change_schedule(
    ctx: &Ctx,
    sel: ScheduleSelector,
    change: ScheduleChange,
) -> ScheduleMutationResult {
    type R = ScheduleMutationResult;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let Some((defs, def)) = find_schedule(ctx, &sel) else {
        return R::ScheduleNotFoundError(ScheduleNotFoundError::new(&sel.schedule_name));
    };
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = st.instance.storage.as_ref();
        let loc = defs.location_name.as_str();
        let now = now_ts();
        match change {
            ScheduleChange::Start => schedule::start_schedule(storage, loc, &def, now),
            ScheduleChange::Reset => schedule::reset_schedule(storage, loc, &def, now),
        }
        .map_err(|e| storage_err(&e))?;
        let state = schedule::schedule_state(storage, loc, &def).map_err(|e| storage_err(&e))?;
        Ok(schedule_state(loc, &def, state.as_ref()))
    })
    .await;
    match res {
        Ok(schedule_state) => R::ScheduleStateResult(ScheduleStateResult { schedule_state }),
        Err(e) => R::PythonError(e),
    }
}

pub async fn start_schedule(ctx: &Ctx, sel: ScheduleSelector) -> ScheduleMutationResult {
    change_schedule(ctx, sel, ScheduleChange::Start).await
}

pub async fn reset_schedule(ctx: &Ctx, sel: ScheduleSelector) -> ScheduleMutationResult {
    change_schedule(ctx, sel, ScheduleChange::Reset).await
}

pub async fn stop_running_schedule(
    ctx: &Ctx,
    id: Option<String>,
    schedule_origin_id: Option<String>,
    schedule_selector_id: Option<String>,
) -> ScheduleMutationResult {
    type R = ScheduleMutationResult;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let sel_id = match stop_target(
        id,
        schedule_origin_id,
        schedule_selector_id,
        "scheduleOriginId",
        "scheduleSelectorId",
    ) {
        Ok(s) => s,
        Err(e) => return R::PythonError(e),
    };
    let target = schedule_by_selector_id(ctx, &sel_id);
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = st.instance.storage.as_ref();
        match target {
            Target::Loaded(defs, def) => {
                let loc = defs.location_name.as_str();
                schedule::stop_schedule(storage, loc, &def, now_ts())
                    .map_err(|e| storage_err(&e))?;
                let state =
                    schedule::schedule_state(storage, loc, &def).map_err(|e| storage_err(&e))?;
                Ok(schedule_state(loc, &def, state.as_ref()))
            }
            Target::Stored(sel) => match stored(storage, &sel)? {
                Some(row) if row.instigator_type == schedule::SCHEDULE => {
                    let row = StoredState {
                        status: InstigatorStatus::Stopped,
                        ..row
                    };
                    storage
                        .upsert_instigator(&row)
                        .map_err(|e| storage_err(&e))?;
                    Ok(orphan_state(&row))
                }
                _ => Err(PythonError::new(format!(
                    "no schedule with selector id {sel} is loaded or stored"
                ))),
            },
        }
    })
    .await;
    match res {
        Ok(schedule_state) => R::ScheduleStateResult(ScheduleStateResult { schedule_state }),
        Err(e) => R::PythonError(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Sensor mutations

/// Which state change a sensor mutation makes.
#[derive(Debug, Clone)]
enum SensorChange {
    Start,
    Reset,
    Cursor(Option<String>),
}

async fn change_sensor(ctx: &Ctx, sel: SensorSelector, change: SensorChange) -> SensorOrError {
    type R = SensorOrError;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let Some((defs, def)) = find_sensor(ctx, &sel) else {
        return R::SensorNotFoundError(SensorNotFoundError::new(&sel.sensor_name));
    };
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = st.instance.storage.as_ref();
        let loc = defs.location_name.clone();
        let now = now_ts();
        match change {
            SensorChange::Start => sensor::set_running(storage, &loc, &def, true, now),
            SensorChange::Reset => sensor::reset_sensor(storage, &loc, &def, now),
            SensorChange::Cursor(c) => sensor::set_cursor(storage, &loc, &def, c),
        }
        .map_err(|e| storage_err(&e))?;
        Ok(Sensor { location: loc, def })
    })
    .await;
    match res {
        Ok(s) => R::Sensor(s),
        Err(e) => R::PythonError(e),
    }
}

pub async fn start_sensor(ctx: &Ctx, sel: SensorSelector) -> SensorOrError {
    change_sensor(ctx, sel, SensorChange::Start).await
}

pub async fn reset_sensor(ctx: &Ctx, sel: SensorSelector) -> SensorOrError {
    change_sensor(ctx, sel, SensorChange::Reset).await
}

pub async fn set_sensor_cursor(
    ctx: &Ctx,
    cursor: Option<String>,
    sel: SensorSelector,
) -> SensorOrError {
    change_sensor(ctx, sel, SensorChange::Cursor(cursor)).await
}

pub async fn stop_sensor(
    ctx: &Ctx,
    id: Option<String>,
    job_origin_id: Option<String>,
    job_selector_id: Option<String>,
) -> StopSensorMutationResultOrError {
    type R = StopSensorMutationResultOrError;
    if ctx.state.read_only {
        return R::UnauthorizedError(UnauthorizedError::new());
    }
    let sel_id = match stop_target(
        id,
        job_origin_id,
        job_selector_id,
        "jobOriginId",
        "jobSelectorId",
    ) {
        Ok(s) => s,
        Err(e) => return R::PythonError(e),
    };
    let target = sensor_by_selector_id(ctx, &sel_id);
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = st.instance.storage.as_ref();
        match target {
            Target::Loaded(defs, def) => {
                let loc = defs.location_name.as_str();
                sensor::set_running(storage, loc, &def, false, now_ts())
                    .map_err(|e| storage_err(&e))?;
                let state =
                    sensor::sensor_state(storage, loc, &def.name).map_err(|e| storage_err(&e))?;
                Ok(Some(sensor_state(loc, &def, state.as_ref())))
            }
            Target::Stored(sel) => match stored(storage, &sel)? {
                Some(row) if row.instigator_type == sensor::SENSOR => {
                    let row = StoredState {
                        status: InstigatorStatus::Stopped,
                        ..row
                    };
                    storage
                        .upsert_instigator(&row)
                        .map_err(|e| storage_err(&e))?;
                    Ok(Some(orphan_state(&row)))
                }
                _ => Err(PythonError::new(format!(
                    "no sensor with selector id {sel} is loaded or stored"
                ))),
            },
        }
    })
    .await;
    match res {
        Ok(instigation_state) => {
            R::StopSensorMutationResult(StopSensorMutationResult { instigation_state })
        }
        Err(e) => R::PythonError(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_target_reads_compound_ids_and_pairs() {
        let t = |id: Option<&str>, o: Option<&str>, s: Option<&str>| {
            stop_target(
                id.map(str::to_string),
                o.map(str::to_string),
                s.map(str::to_string),
                "scheduleOriginId",
                "scheduleSelectorId",
            )
            .map_err(|e| e.message)
        };
        assert_eq!(t(Some("o::s"), None, None), Ok("s".into()));
        assert_eq!(t(None, Some("o::s"), None), Ok("s".into()));
        assert_eq!(t(None, Some("o"), Some("s")), Ok("s".into()));
        assert!(t(Some("nocolons"), None, None)
            .unwrap_err()
            .contains("invalid id"));
        assert_eq!(
            t(None, Some("o"), None),
            Err("Must specify id or scheduleOriginId and scheduleSelectorId".into())
        );
    }
}
