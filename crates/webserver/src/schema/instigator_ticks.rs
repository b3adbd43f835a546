//! Instigator lookups (`scheduleOrError`, `sensorOrError`, `instigationStateOrError`), dry
//! runs and future ticks (`scheduleDryRun`, `sensorDryRun`, `Schedule.futureTicks`,
//! `InstigationState.nextTick`), and the types of what a tick requested.

#![allow(dead_code)] // error members of Dagster's unions that these lookups never produce

use super::prelude::*;
use dagster_core::defs::{ScheduleDef, SensorDef};
use dagster_core::domain::now_ts;
use dagster_core::instigator::schedule::{self, selector_id};
use dagster_core::instigator::sensor;

/// A tick that has not happened: when it will happen and, for a schedule, the run it will
/// request.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DryRunInstigationTick {
    pub timestamp: Option<f64>,
    pub evaluation_result: Option<TickEvaluation>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct DryRunInstigationTicks {
    pub results: Vec<DryRunInstigationTick>,
    /// The timestamp to continue from.
    pub cursor: f64,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct TickEvaluation {
    pub dynamic_partitions_requests: Option<Vec<DynamicPartitionRequest>>,
    pub run_requests: Option<Vec<RunRequest>>,
    pub skip_reason: Option<String>,
    pub error: Option<PythonError>,
    pub cursor: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RunRequest {
    pub run_key: Option<String>,
    pub tags: Vec<PipelineTag>,
    pub run_config_yaml: String,
    pub asset_selection: Option<Vec<AssetKey>>,
    pub asset_checks: Option<Vec<AssetCheckHandle>>,
    pub job_name: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct InstigationEvent {
    pub message: String,
    pub timestamp: String,
    pub level: LogLevel,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct InstigationEventConnection {
    pub events: Vec<InstigationEvent>,
    pub cursor: String,
    pub has_more: bool,
}

#[derive(GraphQLInputObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub struct InstigationSelector {
    pub repository_name: String,
    pub repository_location_name: String,
    pub name: String,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx, impl = ErrorValue)]
pub struct InstigationStateNotFoundError {
    pub message: String,
    pub name: String,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum InstigationStateOrError {
    InstigationState(InstigationState),
    InstigationStateNotFoundError(InstigationStateNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum Instigator {
    Schedule(Schedule),
    Sensor(Sensor),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RequestedMaterializationsForAsset {
    pub asset_key: AssetKey,
    pub partition_keys: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct RequestedRunsForJob {
    pub job_name: String,
    pub partition_keys: Vec<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ScheduleDryRunResult {
    DryRunInstigationTick(DryRunInstigationTick),
    PythonError(PythonError),
    ScheduleNotFoundError(ScheduleNotFoundError),
    UnauthorizedError(UnauthorizedError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum ScheduleOrError {
    Schedule(Schedule),
    ScheduleNotFoundError(ScheduleNotFoundError),
    PythonError(PythonError),
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub enum SensorDryRunResult {
    PythonError(PythonError),
    SensorNotFoundError(SensorNotFoundError),
    UnauthorizedError(UnauthorizedError),
    DryRunInstigationTick(DryRunInstigationTick),
}

/// What a sensor watches, for the UI's sensor page.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue, context = Ctx)]
pub struct SensorMetadata {
    pub asset_keys: Option<Vec<AssetKey>>,
}

pub fn sensor_metadata(def: &SensorDef) -> SensorMetadata {
    let asset = (def.kind == "asset_materialized")
        .then(|| def.config.get("asset").and_then(|v| v.as_str()))
        .flatten();
    SensorMetadata {
        asset_keys: asset.map(|a| {
            vec![AssetKey::from(
                &dagster_core::domain::AssetKey::from_user_string(a),
            )]
        }),
    }
}

fn yaml_of(v: &serde_json::Value) -> String {
    if v.as_object().is_some_and(|o| o.is_empty()) || v.is_null() {
        return "{}\n".into();
    }
    serde_yaml::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// The run a schedule requests for the tick at `ts`.
fn schedule_request(def: &ScheduleDef, ts: f64) -> RunRequest {
    let mut tags: Vec<PipelineTag> = def
        .tags
        .iter()
        .map(|(k, v)| PipelineTag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    tags.push(PipelineTag {
        key: "dagster/schedule_name".into(),
        value: def.name.clone(),
    });
    RunRequest {
        run_key: None,
        tags,
        run_config_yaml: yaml_of(&def.run_config),
        asset_selection: None,
        asset_checks: None,
        job_name: Some(def.job.clone()),
    }
    .with_scheduled_time(ts)
}

impl RunRequest {
    fn with_scheduled_time(mut self, ts: f64) -> Self {
        self.tags.push(PipelineTag {
            key: ".dagster/scheduled_execution_time".into(),
            value: schedule::iso_utc(ts),
        });
        self
    }
}

fn schedule_tick(def: &ScheduleDef, ts: f64) -> DryRunInstigationTick {
    DryRunInstigationTick {
        timestamp: Some(ts),
        evaluation_result: Some(TickEvaluation {
            dynamic_partitions_requests: None,
            run_requests: Some(vec![schedule_request(def, ts)]),
            skip_reason: None,
            error: None,
            cursor: None,
        }),
    }
}

/// The schedule's ticks after `cursor` (default now), at most `limit` (default 10, at most
/// 1000), not after `until`.
pub fn future_ticks(
    def: &ScheduleDef,
    cursor: Option<f64>,
    limit: Option<i32>,
    until: Option<f64>,
) -> Result<DryRunInstigationTicks, PythonError> {
    let after = cursor.unwrap_or_else(now_ts);
    let limit = limit.unwrap_or(10).clamp(0, 1000) as usize;
    let times = schedule::tick_times(
        &def.name,
        &def.cron,
        def.timezone,
        after,
        until.unwrap_or(f64::MAX),
        limit,
    )
    .map_err(|e| PythonError::from_error(&e))?;
    let results: Vec<DryRunInstigationTick> = times
        .iter()
        .map(|t| schedule_tick(def, t.timestamp() as f64))
        .collect();
    let cursor = results.last().and_then(|t| t.timestamp).unwrap_or(after);
    Ok(DryRunInstigationTicks { results, cursor })
}

/// Tick times around `start` (default now): `lower` before it and `upper` after it.
pub fn potential_tick_timestamps(
    def: &ScheduleDef,
    start: Option<f64>,
    upper: Option<i32>,
    lower: Option<i32>,
) -> Result<Vec<f64>, PythonError> {
    let start = start.unwrap_or_else(now_ts);
    let upper = upper.unwrap_or(10).clamp(0, 1000) as usize;
    let lower = lower.unwrap_or(10).clamp(0, 1000) as usize;
    let err = |e: dagster_core::instigator::schedule::ScheduleError| PythonError::from_error(&e);
    let mut out = Vec::new();
    if lower > 0 {
        // Walk back in growing windows until enough earlier ticks are found.
        let mut window = 86_400.0;
        loop {
            let from = start - window;
            let ticks =
                schedule::tick_times(&def.name, &def.cron, def.timezone, from, start, usize::MAX)
                    .map_err(err)?;
            if ticks.len() >= lower || window > 86_400.0 * 366.0 * 5.0 {
                let skip = ticks.len().saturating_sub(lower);
                out.extend(ticks.iter().skip(skip).map(|t| t.timestamp() as f64));
                break;
            }
            window *= 4.0;
        }
    }
    out.extend(
        schedule::tick_times(&def.name, &def.cron, def.timezone, start, f64::MAX, upper)
            .map_err(err)?
            .iter()
            .map(|t| t.timestamp() as f64),
    );
    Ok(out)
}

pub fn schedule_or_error(ctx: &Ctx, sel: &ScheduleSelector) -> ScheduleOrError {
    match find_schedule(ctx, sel) {
        Some((defs, def)) => ScheduleOrError::Schedule(Schedule {
            location: defs.location_name.clone(),
            def,
        }),
        None => {
            ScheduleOrError::ScheduleNotFoundError(ScheduleNotFoundError::new(&sel.schedule_name))
        }
    }
}

pub fn sensor_or_error(ctx: &Ctx, sel: &SensorSelector) -> SensorOrError {
    match find_sensor(ctx, sel) {
        Some((defs, def)) => SensorOrError::Sensor(Sensor {
            location: defs.location_name.clone(),
            def,
        }),
        None => SensorOrError::SensorNotFoundError(SensorNotFoundError::new(&sel.sensor_name)),
    }
}

/// The state of the schedule or sensor named by the selector (or by `id`, a selector id).
pub async fn instigation_state_or_error(
    ctx: &Ctx,
    sel: InstigationSelector,
    id: Option<String>,
) -> InstigationStateOrError {
    let defs = location_defs(ctx, &sel.repository_name, &sel.repository_location_name);
    let found = defs.and_then(|defs| {
        let loc = defs.location_name.clone();
        let by_id = |name: &str| id.as_deref().is_none_or(|i| i == selector_id(&loc, name));
        if let Some(s) = defs.schedules.get(&sel.name).filter(|s| by_id(&s.name)) {
            return Some(Instigator::Schedule(Schedule {
                location: loc.clone(),
                def: s.clone(),
            }));
        }
        defs.sensors
            .get(&sel.name)
            .filter(|s| by_id(&s.name))
            .map(|s| {
                Instigator::Sensor(Sensor {
                    location: loc.clone(),
                    def: s.clone(),
                })
            })
    });
    let res = match found {
        Some(Instigator::Schedule(s)) => {
            instigation_state_of(
                ctx,
                &s.location,
                &s.def.name,
                InstigationType::Schedule,
                s.def.default_status,
            )
            .await
        }
        Some(Instigator::Sensor(s)) => {
            instigation_state_of(
                ctx,
                &s.location,
                &s.def.name,
                InstigationType::Sensor,
                s.def.default_status,
            )
            .await
        }
        None => {
            return InstigationStateOrError::InstigationStateNotFoundError(
                InstigationStateNotFoundError {
                    message: format!(
                        "Could not find instigation state for {} in {}",
                        sel.name, sel.repository_location_name
                    ),
                    name: sel.name,
                },
            )
        }
    };
    match res {
        Ok(s) => InstigationStateOrError::InstigationState(s),
        Err(e) => InstigationStateOrError::PythonError(e),
    }
}

/// `scheduleDryRun`: the tick at `timestamp` (default: the next one) and the run it requests.
pub fn schedule_dry_run(
    ctx: &Ctx,
    sel: ScheduleSelector,
    timestamp: Option<f64>,
) -> ScheduleDryRunResult {
    if ctx.state.read_only {
        return ScheduleDryRunResult::UnauthorizedError(UnauthorizedError::new());
    }
    let Some((_, def)) = find_schedule(ctx, &sel) else {
        return ScheduleDryRunResult::ScheduleNotFoundError(ScheduleNotFoundError::new(
            &sel.schedule_name,
        ));
    };
    let ts = match timestamp {
        Some(t) => t,
        None => match schedule::next_ticks(&def, now_ts(), 1) {
            Ok(t) => t.first().map_or_else(now_ts, |t| t.timestamp() as f64),
            Err(e) => return ScheduleDryRunResult::PythonError(PythonError::from_error(&e)),
        },
    };
    ScheduleDryRunResult::DryRunInstigationTick(schedule_tick(&def, ts))
}

/// `sensorDryRun`: evaluates the sensor once with `cursor` (default: its stored cursor)
/// without recording a tick or launching anything.
pub async fn sensor_dry_run(
    ctx: &Ctx,
    sel: SensorSelector,
    cursor: Option<String>,
) -> SensorDryRunResult {
    if ctx.state.read_only {
        return SensorDryRunResult::UnauthorizedError(UnauthorizedError::new());
    }
    let Some((defs, def)) = find_sensor(ctx, &sel) else {
        return SensorDryRunResult::SensorNotFoundError(SensorNotFoundError::new(&sel.sensor_name));
    };
    let st = ctx.state.clone();
    let res = blocking(move || {
        let storage = st.instance.storage.as_ref();
        let cursor = match cursor {
            Some(c) => Some(c),
            None => sensor::sensor_state(storage, &defs.location_name, &def.name)
                .map_err(|e| PythonError::from_error(&e))?
                .and_then(|s| {
                    s.body
                        .get("cursor")
                        .and_then(|c| c.as_str())
                        .map(str::to_string)
                }),
        };
        let started = now_ts();
        let evaluation = sensor::builtin_evaluator(storage, &defs, &def)
            .map_err(|e| PythonError::from_error(&e))
            .and_then(|ev| {
                ev.evaluate(cursor.as_deref())
                    .map_err(|e| PythonError::new(format!("{e:#}")))
            });
        let result = match evaluation {
            Ok(r) => TickEvaluation {
                dynamic_partitions_requests: None,
                run_requests: Some(
                    r.run_requests
                        .into_iter()
                        .map(|rr| RunRequest {
                            run_key: rr.run_key,
                            tags: rr
                                .tags
                                .into_iter()
                                .map(|(key, value)| PipelineTag { key, value })
                                .collect(),
                            run_config_yaml: "{}\n".into(),
                            asset_selection: None,
                            asset_checks: None,
                            job_name: Some(def.job.clone()),
                        })
                        .collect(),
                ),
                skip_reason: r.skip_reason,
                error: None,
                cursor: r.cursor.or(cursor),
            },
            Err(e) => TickEvaluation {
                dynamic_partitions_requests: None,
                run_requests: None,
                skip_reason: None,
                error: Some(e),
                cursor,
            },
        };
        Ok(DryRunInstigationTick {
            timestamp: Some(started),
            evaluation_result: Some(result),
        })
    })
    .await;
    match res {
        Ok(t) => SensorDryRunResult::DryRunInstigationTick(t),
        Err(e) => SensorDryRunResult::PythonError(e),
    }
}

/// When a running sensor ticks next: its last tick plus its minimum interval (or now).
pub async fn sensor_next_tick(
    ctx: &Ctx,
    location: &str,
    def: &SensorDef,
) -> Result<Option<DryRunInstigationTick>, PythonError> {
    let st = ctx.state.clone();
    let (loc, def) = (location.to_string(), def.clone());
    blocking(move || {
        let storage = st.instance.storage.as_ref();
        let state = sensor::sensor_state(storage, &loc, &def.name)
            .map_err(|e| PythonError::from_error(&e))?;
        if sensor::effective_status(state.as_ref(), &def)
            != dagster_core::instigator::InstigatorStatus::Running
        {
            return Ok(None);
        }
        let last = state
            .as_ref()
            .and_then(|s| s.body.get("last_tick_timestamp").and_then(|v| v.as_f64()));
        let next = last.map_or_else(now_ts, |l| l + def.minimum_interval_seconds as f64);
        Ok(Some(DryRunInstigationTick {
            timestamp: Some(next),
            evaluation_result: None,
        }))
    })
    .await
}

/// When a running schedule ticks next, with the run it will request.
pub async fn schedule_next_tick(
    ctx: &Ctx,
    location: &str,
    def: &ScheduleDef,
) -> Result<Option<DryRunInstigationTick>, PythonError> {
    let st = ctx.state.clone();
    let (loc, def) = (location.to_string(), def.clone());
    blocking(move || {
        let storage = st.instance.storage.as_ref();
        let state = schedule::schedule_state(storage, &loc, &def)
            .map_err(|e| PythonError::from_error(&e))?;
        if schedule::effective_status(state.as_ref(), &def)
            != dagster_core::instigator::InstigatorStatus::Running
        {
            return Ok(None);
        }
        let next =
            schedule::next_ticks(&def, now_ts(), 1).map_err(|e| PythonError::from_error(&e))?;
        Ok(next
            .first()
            .map(|t| schedule_tick(&def, t.timestamp() as f64)))
    })
    .await
}
