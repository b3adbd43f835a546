//! Sensors: built-in kinds from the pipeline config, cursor, run_key dedupe, ticks; shared by
//! `dagster-daemon` (the SENSOR loop, leader only) and `dagster sensor ...`.
//!
//! Built-in kinds (`SensorDef.kind`, settings in `SensorDef.config`):
//!
//! * `run_status`: `monitored_job: <job>` (required), `run_status: SUCCESS | FAILURE` (default
//!   SUCCESS). One run request per monitored run that reached the status (run_key = its run
//!   id); cursor = the newest update time seen.
//! * `asset_materialized`: `asset: a/b` (required). One run request per new materialization
//!   (run_key = `materialization:<storage id>`); cursor = that storage id.
//! * `table_rows`: `resource: <sql resource>`, `table: <name>`, `cursor_column: <integer
//!   column>` (default `id`). When `MAX(cursor_column)` grew past the cursor, one run request
//!   for the batch (run_key = `rows:<max>`); cursor = the max.
//!
//! Custom sensors implement [`SensorEvaluator`]; [`evaluate_sensor_with`] runs one.
//!
//! Exactly once: a run request carries a run_key; a run already tagged with the same
//! `dagster/sensor_name` and `dagster/run_key` is not created again (also inside one tick), and
//! the cursor only advances after the runs were created, so a crash in between re-derives the
//! same run_keys and creates nothing twice. Two evaluators racing on one cursor (two daemons)
//! serialize per run key on a storage lease (`sensor_run_key/<selector>/<key>`), so the
//! check-then-create is never interleaved.

use super::schedule::selector_id;
use super::{InstigatorStatus, TickStatus};
use crate::defs::{DefaultStatus, Definitions, SensorDef};
use crate::domain::{tags, AssetKey, ErrorInfo, RunStatus, RunsFilter};
use crate::exec::{create_run, CreateRun, RunSubmitter};
use crate::storage::{InstigatorState, Storage, StorageError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const SENSOR: &str = "SENSOR";
/// Run tag naming the sensor that created the run.
pub const SENSOR_NAME_TAG: &str = "dagster/sensor_name";
/// Run tag holding the run key.
pub const RUN_KEY_TAG: &str = "dagster/run_key";
/// Seconds a run-key claim (see [`evaluate_sensor_with`]) outlives an evaluator that crashed
/// before creating the run.
const RUN_KEY_CLAIM_TTL: f64 = 300.0;

/// Errors of sensor operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SensorError {
    #[error("sensor `{sensor}`: {message}")]
    Config { sensor: String, message: String },
    #[error("sensor `{sensor}` evaluation failed: {source}")]
    Evaluation {
        sensor: String,
        #[source]
        source: anyhow::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T, E = SensorError> = std::result::Result<T, E>;

/// The sensor row's body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensorBody {
    pub location: String,
    pub cursor: Option<String>,
    pub last_run_key: Option<String>,
    pub last_tick_timestamp: Option<f64>,
    pub start_timestamp: Option<f64>,
}

/// One run to launch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunRequest {
    pub run_key: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// What an evaluation returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SensorResult {
    pub run_requests: Vec<RunRequest>,
    /// The new cursor (`None` keeps the old one).
    pub cursor: Option<String>,
    pub skip_reason: Option<String>,
}

/// A sensor's logic: given the cursor, what to launch. The Rust API for custom sensors.
pub trait SensorEvaluator {
    fn evaluate(&self, cursor: Option<&str>) -> anyhow::Result<SensorResult>;
}

fn cfg_str(def: &SensorDef, key: &str) -> Option<String> {
    def.config
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn config_err(def: &SensorDef, message: impl Into<String>) -> SensorError {
    SensorError::Config {
        sensor: def.name.clone(),
        message: message.into(),
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

struct RunStatusSensor<'a> {
    storage: &'a dyn Storage,
    job: String,
    status: RunStatus,
}

impl SensorEvaluator for RunStatusSensor<'_> {
    fn evaluate(&self, cursor: Option<&str>) -> anyhow::Result<SensorResult> {
        let after: Option<f64> = cursor.and_then(|c| c.parse().ok());
        let Some(after) = after else {
            // First evaluation: start from now, do not fire for history.
            return Ok(SensorResult {
                cursor: Some(crate::domain::now_ts().to_string()),
                skip_reason: Some(
                    "initialized the cursor; only runs finishing from now on count".into(),
                ),
                ..Default::default()
            });
        };
        let mut runs = self.storage.list_runs(
            &RunsFilter {
                job_name: Some(self.job.clone()),
                statuses: Some(vec![self.status]),
                updated_after: Some(after),
                ..Default::default()
            },
            None,
            Some(100),
        )?;
        runs.reverse();
        let mut result = SensorResult::default();
        let mut newest = after;
        for r in runs {
            newest = newest.max(r.update_time);
            result.run_requests.push(RunRequest {
                run_key: Some(r.run_id.clone()),
                tags: BTreeMap::from([("dagster/monitored_run_id".to_string(), r.run_id)]),
            });
        }
        result.cursor = Some(newest.to_string());
        if result.run_requests.is_empty() {
            result.skip_reason = Some(format!(
                "no new {} run of job `{}`",
                self.status.as_str(),
                self.job
            ));
        }
        Ok(result)
    }
}

struct AssetSensor<'a> {
    storage: &'a dyn Storage,
    key: AssetKey,
}

impl SensorEvaluator for AssetSensor<'_> {
    fn evaluate(&self, cursor: Option<&str>) -> anyhow::Result<SensorResult> {
        let after: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let mats = self.storage.materializations(&self.key, None, 100)?;
        let mut result = SensorResult::default();
        let mut newest = after;
        for m in mats.iter().rev().filter(|m| m.storage_id > after) {
            newest = newest.max(m.storage_id);
            result.run_requests.push(RunRequest {
                run_key: Some(format!("materialization:{}", m.storage_id)),
                tags: BTreeMap::new(),
            });
        }
        result.cursor = Some(newest.to_string());
        if result.run_requests.is_empty() {
            result.skip_reason = Some(format!(
                "no new materialization of {}",
                self.key.to_user_string()
            ));
        }
        Ok(result)
    }
}

struct TableRowsSensor {
    resource: std::sync::Arc<dyn crate::defs::Resource>,
    resource_name: String,
    sql: String,
}

impl SensorEvaluator for TableRowsSensor {
    fn evaluate(&self, cursor: Option<&str>) -> anyhow::Result<SensorResult> {
        let sql = self
            .resource
            .as_sql()
            .ok_or_else(|| anyhow::anyhow!("resource `{}` does not run SQL", self.resource_name))?;
        let max = sql.query_i64(&self.sql)?;
        let after: Option<i64> = cursor.and_then(|c| c.parse().ok());
        let mut result = SensorResult::default();
        match (max, after) {
            (Some(m), Some(a)) if m > a => {
                result.run_requests.push(RunRequest {
                    run_key: Some(format!("rows:{m}")),
                    tags: BTreeMap::from([("dagster/sensor_cursor".to_string(), m.to_string())]),
                });
                result.cursor = Some(m.to_string());
            }
            (Some(m), None) => {
                result.run_requests.push(RunRequest {
                    run_key: Some(format!("rows:{m}")),
                    tags: BTreeMap::from([("dagster/sensor_cursor".to_string(), m.to_string())]),
                });
                result.cursor = Some(m.to_string());
            }
            _ => result.skip_reason = Some("no new rows".into()),
        }
        Ok(result)
    }
}

/// Builds the evaluator of a built-in sensor kind.
pub fn builtin_evaluator<'a>(
    storage: &'a dyn Storage,
    defs: &Definitions,
    def: &SensorDef,
) -> Result<Box<dyn SensorEvaluator + 'a>> {
    match def.kind.as_str() {
        "run_status" => {
            let job = cfg_str(def, "monitored_job").ok_or_else(|| {
                config_err(def, "`monitored_job` is required for kind run_status")
            })?;
            let status = match cfg_str(def, "run_status").as_deref() {
                None | Some("SUCCESS") => RunStatus::Success,
                Some("FAILURE") => RunStatus::Failure,
                Some(other) => {
                    return Err(config_err(
                        def,
                        format!("`run_status: {other}`: expected SUCCESS or FAILURE"),
                    ))
                }
            };
            Ok(Box::new(RunStatusSensor {
                storage,
                job,
                status,
            }))
        }
        "asset_materialized" => {
            let asset = cfg_str(def, "asset").ok_or_else(|| {
                config_err(def, "`asset` is required for kind asset_materialized")
            })?;
            Ok(Box::new(AssetSensor {
                storage,
                key: AssetKey::from_user_string(&asset),
            }))
        }
        "table_rows" => {
            let rname = cfg_str(def, "resource")
                .ok_or_else(|| config_err(def, "`resource` is required for kind table_rows"))?;
            let table = cfg_str(def, "table")
                .ok_or_else(|| config_err(def, "`table` is required for kind table_rows"))?;
            let column = cfg_str(def, "cursor_column").unwrap_or_else(|| "id".into());
            if !is_identifier(&table) || !is_identifier(&column) {
                return Err(config_err(
                    def,
                    "`table` and `cursor_column` must be plain identifiers (letters, digits, _, .)",
                ));
            }
            let rdef = defs
                .resources
                .get(&rname)
                .ok_or_else(|| config_err(def, format!("unknown resource `{rname}`")))?;
            let rtype = defs
                .registry
                .resource_types
                .get(&rdef.type_name)
                .ok_or_else(|| {
                    config_err(def, format!("unknown resource type `{}`", rdef.type_name))
                })?;
            let resource = rtype
                .build(rdef)
                .map_err(|source| SensorError::Evaluation {
                    sensor: def.name.clone(),
                    source,
                })?;
            Ok(Box::new(TableRowsSensor {
                resource,
                resource_name: rname,
                sql: format!("SELECT MAX({column}) FROM {table}"),
            }))
        }
        other => Err(config_err(def, format!("unknown sensor kind `{other}`"))),
    }
}

/// Effective status: the stored RUNNING/STOPPED, else the code default.
pub fn effective_status(state: Option<&InstigatorState>, def: &SensorDef) -> InstigatorStatus {
    super::effective_status(state, def.default_status)
}

pub fn sensor_state(
    storage: &dyn Storage,
    location: &str,
    name: &str,
) -> Result<Option<InstigatorState>> {
    Ok(storage.get_instigator(&selector_id(location, name))?)
}

fn save(
    storage: &dyn Storage,
    location: &str,
    name: &str,
    status: Option<InstigatorStatus>,
    body: &SensorBody,
) -> Result<()> {
    storage.upsert_instigator(&InstigatorState {
        selector_id: selector_id(location, name),
        name: name.to_string(),
        instigator_type: SENSOR.into(),
        status: status.unwrap_or(InstigatorStatus::DeclaredInCode),
        body: serde_json::to_value(body).unwrap_or_default(),
    })?;
    Ok(())
}

fn current(
    storage: &dyn Storage,
    location: &str,
    name: &str,
) -> Result<(Option<InstigatorStatus>, SensorBody)> {
    let state = sensor_state(storage, location, name)?;
    let status = state.as_ref().map(|s| s.status);
    let body = state
        .as_ref()
        .map(super::body_of::<SensorBody>)
        .unwrap_or_else(|| SensorBody {
            location: location.to_string(),
            ..Default::default()
        });
    Ok((status, body))
}

/// Starts (`running = true`) or stops a sensor.
pub fn set_running(
    storage: &dyn Storage,
    location: &str,
    def: &SensorDef,
    running: bool,
    now: f64,
) -> Result<()> {
    let (_, mut body) = current(storage, location, &def.name)?;
    if running {
        body.start_timestamp = Some(now);
    }
    save(
        storage,
        location,
        &def.name,
        Some(if running {
            InstigatorStatus::Running
        } else {
            InstigatorStatus::Stopped
        }),
        &body,
    )
}

/// Resets a sensor to its code default (`DECLARED_IN_CODE`, as Dagster's `resetSensor`); the
/// cursor is kept. If that starts it, `now` becomes its start.
pub fn reset_sensor(
    storage: &dyn Storage,
    location: &str,
    def: &SensorDef,
    now: f64,
) -> Result<()> {
    let state = sensor_state(storage, location, &def.name)?;
    let was_running = effective_status(state.as_ref(), def) == InstigatorStatus::Running;
    let (_, mut body) = current(storage, location, &def.name)?;
    if def.default_status == DefaultStatus::Running && !was_running {
        body.start_timestamp = Some(now);
    }
    // No status stored: the code default applies.
    save(storage, location, &def.name, None, &body)
}

/// Sets (`Some`) or clears the cursor.
pub fn set_cursor(
    storage: &dyn Storage,
    location: &str,
    def: &SensorDef,
    cursor: Option<String>,
) -> Result<()> {
    let (status, mut body) = current(storage, location, &def.name)?;
    body.cursor = cursor;
    save(storage, location, &def.name, status, &body)
}

/// What a sensor tick did.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorTickOutcome {
    pub sensor: String,
    pub tick_id: i64,
    /// SUCCESS, SKIPPED or FAILURE.
    pub status: TickStatus,
    pub run_ids: Vec<String>,
    pub skip_reason: Option<String>,
}

/// Evaluates a built-in sensor if it is RUNNING and its minimum interval has passed.
pub fn evaluate_sensor(
    submitter: &RunSubmitter,
    defs: &Definitions,
    def: &SensorDef,
    now: f64,
) -> Result<Option<SensorTickOutcome>> {
    let storage = submitter.storage();
    let (status, body) = current(storage, &defs.location_name, &def.name)?;
    let running = match status {
        Some(InstigatorStatus::Running) => true,
        Some(InstigatorStatus::Stopped) => false,
        _ => def.default_status == DefaultStatus::Running,
    };
    if !running {
        return Ok(None);
    }
    if body
        .last_tick_timestamp
        .is_some_and(|t| now - t < def.minimum_interval_seconds as f64)
    {
        return Ok(None);
    }
    let evaluator = builtin_evaluator(storage, defs, def);
    evaluate_sensor_with(submitter, defs, def, now, evaluator).map(Some)
}

/// (run ids, new cursor, skip reason, run keys) of an evaluation.
type Evaluated = (Vec<String>, Option<String>, Option<String>, Vec<String>);

/// Runs one tick of `def` with `evaluator` (a custom sensor, or the result of
/// [`builtin_evaluator`]), regardless of status and interval.
pub fn evaluate_sensor_with(
    submitter: &RunSubmitter,
    defs: &Definitions,
    def: &SensorDef,
    now: f64,
    evaluator: Result<Box<dyn SensorEvaluator + '_>>,
) -> Result<SensorTickOutcome> {
    let storage = submitter.storage();
    let location = defs.location_name.as_str();
    let sel = selector_id(location, &def.name);
    let (status, mut body) = current(storage, location, &def.name)?;
    let tick_body =
        serde_json::json!({"sensor_name": def.name, "location": location, "run_ids": []});
    let tick = storage
        .create_tick(&sel, SENSOR, now, false, &tick_body)?
        .ok_or_else(|| config_err(def, "the tick could not be created"))?;
    let mut tb = tick_body;
    let outcome = (|| -> std::result::Result<Evaluated, Box<dyn std::error::Error>> {
        let result = evaluator?
            .evaluate(body.cursor.as_deref())
            .map_err(|source| SensorError::Evaluation {
                sensor: def.name.clone(),
                source,
            })?;
        let mut run_ids = Vec::new();
        let claim_owner = format!("sensor_tick:{}", tick.id);
        let mut keys_seen = BTreeSet::new();
        let mut run_keys = Vec::new();
        for req in result.run_requests {
            if let Some(k) = &req.run_key {
                if !keys_seen.insert(k.clone()) {
                    continue; // duplicate inside this tick
                }
                run_keys.push(k.clone());
                // Two evaluators (daemons) on the same cursor: the one holding the claim
                // checks and creates; the other skips the key. Released once the run exists,
                // so a later evaluation finds it; a crash in between frees it after the TTL.
                let claim = format!("sensor_run_key/{sel}/{k}");
                if !storage.kv_try_lease(&claim, &claim_owner, now, RUN_KEY_CLAIM_TTL)? {
                    continue;
                }
                let existing = storage.list_runs(
                    &RunsFilter {
                        tags: vec![
                            (SENSOR_NAME_TAG.to_string(), def.name.clone()),
                            (RUN_KEY_TAG.to_string(), k.clone()),
                            (tags::CODE_LOCATION.to_string(), location.to_string()),
                        ],
                        ..Default::default()
                    },
                    None,
                    Some(1),
                )?;
                if let Some(r) = existing.into_iter().next() {
                    if r.status == RunStatus::NotStarted {
                        submitter.submit(&r)?;
                        run_ids.push(r.run_id);
                    }
                    storage.kv_release_lease(&claim, &claim_owner)?;
                    continue;
                }
            }
            let mut run_tags = req.tags.clone();
            run_tags.insert(SENSOR_NAME_TAG.into(), def.name.clone());
            run_tags.insert(tags::TICK.into(), tick.id.to_string());
            if let Some(k) = &req.run_key {
                run_tags.insert(RUN_KEY_TAG.into(), k.clone());
            }
            let run = create_run(
                storage,
                defs,
                CreateRun {
                    job_name: def.job.clone(),
                    tags: run_tags,
                    ..Default::default()
                },
            )?;
            submitter.submit(&run)?;
            run_ids.push(run.run_id);
            if let Some(k) = &req.run_key {
                storage.kv_release_lease(&format!("sensor_run_key/{sel}/{k}"), &claim_owner)?;
            }
        }
        Ok((run_ids, result.cursor, result.skip_reason, run_keys))
    })();
    let (tick_status, run_ids, skip_reason) = match outcome {
        Ok((run_ids, cursor, skip_reason, run_keys)) => {
            if cursor.is_some() {
                body.cursor = cursor;
            }
            if let Some(k) = run_keys.last() {
                body.last_run_key = Some(k.clone());
            }
            tb["run_ids"] = serde_json::json!(run_ids);
            tb["run_keys"] = serde_json::json!(run_keys);
            tb["cursor"] = serde_json::json!(body.cursor);
            if run_ids.is_empty() {
                let reason = skip_reason.unwrap_or_else(|| {
                    if run_keys.is_empty() {
                        "the sensor requested no run".into()
                    } else {
                        "every run key already has a run".into()
                    }
                });
                tb["skip_reason"] = serde_json::json!(reason);
                (TickStatus::Skipped, run_ids, Some(reason))
            } else {
                (TickStatus::Success, run_ids, None)
            }
        }
        Err(e) => {
            tracing::error!(sensor = %def.name, error = %e, "sensor tick failed");
            tb["error"] =
                serde_json::to_value(ErrorInfo::from_error(e.as_ref())).unwrap_or_default();
            (TickStatus::Failure, Vec::new(), None)
        }
    };
    body.location = location.to_string();
    body.last_tick_timestamp = Some(now);
    tb["end_timestamp"] = serde_json::json!(crate::domain::now_ts());
    storage.update_tick(tick.id, tick_status, &tb)?;
    save(storage, location, &def.name, status, &body)?;
    Ok(SensorTickOutcome {
        sensor: def.name.clone(),
        tick_id: tick.id,
        status: tick_status,
        run_ids,
        skip_reason,
    })
}

/// Evaluates every due sensor of every location; errors are per sensor.
pub fn evaluate_all(
    submitter: &RunSubmitter,
    locations: &[(String, Definitions)],
    now: f64,
) -> Vec<(String, Result<Option<SensorTickOutcome>>)> {
    let mut out = Vec::new();
    for (_, defs) in locations {
        for def in defs.sensors.values() {
            out.push((def.name.clone(), evaluate_sensor(submitter, defs, def, now)));
        }
    }
    out
}
