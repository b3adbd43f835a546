//! Schedules: cron iteration in a time zone, schedule state (RUNNING/STOPPED) and tick
//! evaluation, shared by `dagster-daemon` (the SCHEDULER loop) and `dagster schedule ...`.
//!
//! Exactly once: every (schedule, scheduled time) pair is first inserted as a tick with a unique
//! key ([`InstigatorStore::create_tick`] with `unique = true`). Only the caller whose insert
//! succeeds creates the run; a second daemon's insert is refused by the database. If the
//! process dies between the tick insert and the run creation, the next evaluation finds the
//! STARTED tick and finishes it, reusing a run already tagged with that schedule and time
//! instead of creating a second one.
//!
//! DST (as Dagster): cron times are matched on the local wall clock of `execution_timezone`; a
//! local time that does not exist (spring forward) fires at the first valid instant after the
//! transition, an ambiguous one (fall back) fires once, at its later occurrence.

use super::{InstigatorStatus, TickStatus};
use crate::defs::{CatchupPolicy, DefaultStatus, Definitions, ScheduleDef};
use crate::domain::{tags, ErrorInfo, RunStatus, RunsFilter};
use crate::exec::{create_run, CreateRun, RunSubmitter};
use crate::storage::{InstigatorState, Storage, StorageError, Tick};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `instigator_type` / `tick_type` of schedules.
pub const SCHEDULE: &str = "SCHEDULE";

/// Errors of schedule operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("invalid cron `{cron}` of schedule `{schedule}`: {message}")]
    Cron {
        schedule: String,
        cron: String,
        message: String,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub type Result<T, E = ScheduleError> = std::result::Result<T, E>;

/// What the schedule row's body holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleBody {
    pub location: String,
    pub cron: String,
    pub timezone: String,
    /// When the schedule was (last) started: no tick before it.
    pub start_timestamp: Option<f64>,
    /// Checkpoint: every scheduled time ≤ this was evaluated (or deliberately skipped).
    pub last_iteration_timestamp: Option<f64>,
}

/// Selector id of a schedule or sensor: sha1 of Dagster's serialized `InstigatorSelector`.
pub fn selector_id(location: &str, name: &str) -> String {
    let json = serde_json::json!({
        "__class__": "InstigatorSelector",
        "location_name": location,
        "name": name,
        "repository_name": "__repository__",
    });
    sha1_hex(python_json(&json).as_bytes())
}

/// A content id as Dagster computes them: sha1 of the serialized object (sorted keys, Python's
/// default separators).
pub fn content_id(v: &serde_json::Value) -> String {
    sha1_hex(python_json(v).as_bytes())
}

/// JSON with Python's default separators (`", "`, `": "`) and sorted keys.
fn python_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}: {}",
                        serde_json::Value::String(k.clone()),
                        python_json(&m[k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(python_json).collect::<Vec<_>>().join(", ")
            )
        }
        other => other.to_string(),
    }
}

/// SHA-1 (FIPS 180-4), used only for content ids, not for security.
fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

fn parse_cron(schedule: &str, cron: &str) -> Result<croner::Cron> {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    parser.parse(cron).map_err(|e| ScheduleError::Cron {
        schedule: schedule.to_string(),
        cron: cron.to_string(),
        message: e.to_string(),
    })
}

/// Maps a local wall-clock time to an instant: as is if it exists, the later occurrence if it
/// is ambiguous, the first valid instant after the transition if it does not exist.
fn resolve_local(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Tz>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(_, later) => Some(later),
        LocalResult::None => {
            // Inside a gap: walk forward a minute at a time to the first wall time that exists
            // (gaps are whole minutes in the tz database, at most a few hours).
            let mut n = naive;
            for _ in 0..(48 * 60) {
                n += Duration::minutes(1);
                n = n
                    .date()
                    .and_hms_opt(chrono::Timelike::hour(&n), chrono::Timelike::minute(&n), 0)
                    .unwrap_or(n);
                match tz.from_local_datetime(&n) {
                    LocalResult::Single(t) => return Some(t),
                    LocalResult::Ambiguous(first, _) => return Some(first),
                    LocalResult::None => {}
                }
            }
            None
        }
    }
}

/// Scheduled times in `(after, until]` (unix seconds), ascending, at most `limit`.
pub fn tick_times(
    schedule: &str,
    cron: &str,
    tz: Tz,
    after: f64,
    until: f64,
    limit: usize,
) -> Result<Vec<DateTime<Tz>>> {
    let parsed = parse_cron(schedule, cron)?;
    let mut out: Vec<DateTime<Tz>> = Vec::new();
    let Some(after_dt) = DateTime::<Utc>::from_timestamp(after.floor() as i64, 0) else {
        return Ok(out);
    };
    // Iterate the wall clock (as if it were UTC, which has no DST) from a little before the
    // local time of `after`, so the later occurrence of an ambiguous hour is not missed.
    let local_start = after_dt.with_timezone(&tz).naive_local() - Duration::hours(3);
    let stop = DateTime::<Utc>::from_timestamp(until.min(4e12) as i64, 0)
        .map(|u| u.with_timezone(&tz).naive_local() + Duration::hours(3));
    for wall in parsed.iter_after(Utc.from_utc_datetime(&local_start)) {
        let wall = wall.naive_utc();
        if stop.is_some_and(|s| wall > s) {
            // Instants never decrease as wall times increase: nothing later can be due.
            break;
        }
        let Some(t) = resolve_local(tz, wall) else {
            continue;
        };
        let ts = t.timestamp() as f64;
        if ts <= after || ts > until || out.last().is_some_and(|l| l.timestamp() as f64 >= ts) {
            continue;
        }
        out.push(t);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// The next `n` tick times after `after` (for `dagster schedule preview`).
pub fn next_ticks(def: &ScheduleDef, after: f64, n: usize) -> Result<Vec<DateTime<Tz>>> {
    tick_times(&def.name, &def.cron, def.timezone, after, f64::MAX, n)
}

/// UTC ISO-8601 as Dagster's `.dagster/scheduled_execution_time` (`2026-11-24T06:21:00+00:00`).
pub fn iso_utc(ts: f64) -> String {
    DateTime::<Utc>::from_timestamp(ts.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
        .unwrap_or_default()
}

/// Effective status of a schedule: the stored RUNNING/STOPPED, else the code default.
pub fn effective_status(state: Option<&InstigatorState>, def: &ScheduleDef) -> InstigatorStatus {
    super::effective_status(state, def.default_status)
}

/// The stored state of a schedule, if any.
pub fn schedule_state(
    storage: &dyn Storage,
    location: &str,
    def: &ScheduleDef,
) -> Result<Option<InstigatorState>> {
    Ok(storage.get_instigator(&selector_id(location, &def.name))?)
}

fn new_body(location: &str, def: &ScheduleDef, now: f64) -> ScheduleBody {
    ScheduleBody {
        location: location.to_string(),
        cron: def.cron.clone(),
        timezone: def.timezone.name().to_string(),
        start_timestamp: Some(now),
        last_iteration_timestamp: Some(now),
    }
}

/// Starts a schedule (records `now` as its start: no tick before it).
pub fn start_schedule(
    storage: &dyn Storage,
    location: &str,
    def: &ScheduleDef,
    now: f64,
) -> Result<()> {
    set_status(storage, location, def, InstigatorStatus::Running, now)
}

/// Stops a schedule.
pub fn stop_schedule(
    storage: &dyn Storage,
    location: &str,
    def: &ScheduleDef,
    now: f64,
) -> Result<()> {
    set_status(storage, location, def, InstigatorStatus::Stopped, now)
}

/// Resets a schedule to its code default (`DECLARED_IN_CODE`, as Dagster's `resetSchedule`).
/// If that starts it, `now` becomes its start (no tick before it).
pub fn reset_schedule(
    storage: &dyn Storage,
    location: &str,
    def: &ScheduleDef,
    now: f64,
) -> Result<()> {
    let sel = selector_id(location, &def.name);
    let existing = storage.get_instigator(&sel)?;
    let was_running = effective_status(existing.as_ref(), def) == InstigatorStatus::Running;
    let mut body = existing
        .as_ref()
        .map(super::body_of::<ScheduleBody>)
        .unwrap_or_else(|| new_body(location, def, now));
    if def.default_status == DefaultStatus::Running && !was_running {
        body.start_timestamp = Some(now);
        body.last_iteration_timestamp = Some(now);
    }
    storage.upsert_instigator(&InstigatorState {
        selector_id: sel,
        name: def.name.clone(),
        instigator_type: SCHEDULE.into(),
        status: InstigatorStatus::DeclaredInCode,
        body: serde_json::to_value(&body).unwrap_or_default(),
    })?;
    Ok(())
}

fn set_status(
    storage: &dyn Storage,
    location: &str,
    def: &ScheduleDef,
    status: InstigatorStatus,
    now: f64,
) -> Result<()> {
    let sel = selector_id(location, &def.name);
    let existing = storage.get_instigator(&sel)?;
    let was_running = effective_status(existing.as_ref(), def) == InstigatorStatus::Running;
    let mut body = existing
        .as_ref()
        .map(super::body_of::<ScheduleBody>)
        .unwrap_or_else(|| new_body(location, def, now));
    if status == InstigatorStatus::Running && !was_running {
        body.start_timestamp = Some(now);
        body.last_iteration_timestamp = Some(now);
    }
    storage.upsert_instigator(&InstigatorState {
        selector_id: sel,
        name: def.name.clone(),
        instigator_type: SCHEDULE.into(),
        status,
        body: serde_json::to_value(&body).unwrap_or_default(),
    })?;
    Ok(())
}

/// What one tick did.
#[derive(Debug, Clone, PartialEq)]
pub struct TickOutcome {
    pub schedule: String,
    pub scheduled_time: f64,
    pub tick_id: i64,
    /// SUCCESS, FAILURE or SKIPPED.
    pub status: TickStatus,
    pub run_ids: Vec<String>,
}

/// Instance settings of schedule evaluation (`scheduler` in `dagster.yaml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// A FAILURE tick is evaluated again while its `failure_count` is at most this (Dagster's
    /// `scheduler.config.max_tick_retries`, default 0: never).
    pub max_tick_retries: u64,
}

/// How many times a tick failed (`failure_count` in its body).
fn failure_count(t: &Tick) -> u64 {
    t.body
        .get("failure_count")
        .and_then(|c| c.as_u64())
        .unwrap_or(0)
}

/// Evaluates one schedule at `now` with default [`ScheduleOptions`]; see
/// [`evaluate_schedule_with`].
pub fn evaluate_schedule(
    submitter: &RunSubmitter,
    defs: &Definitions,
    def: &ScheduleDef,
    now: f64,
) -> Result<Vec<TickOutcome>> {
    let opts = ScheduleOptions::default();
    evaluate_schedule_with(submitter, defs, def, now, &opts)
}

/// Evaluates one schedule at `now`: finishes interrupted ticks, retries failed ones that
/// `max_tick_retries` allows, then creates a tick (and a run) for each due scheduled time
/// allowed by the catch-up policy. Ticks already taken by another evaluator are skipped
/// silently.
pub fn evaluate_schedule_with(
    submitter: &RunSubmitter,
    defs: &Definitions,
    def: &ScheduleDef,
    now: f64,
    opts: &ScheduleOptions,
) -> Result<Vec<TickOutcome>> {
    let storage = submitter.storage();
    let location = defs.location_name.as_str();
    let sel = selector_id(location, &def.name);
    let state = storage.get_instigator(&sel)?;
    if effective_status(state.as_ref(), def) != InstigatorStatus::Running {
        return Ok(Vec::new());
    }
    let mut outcomes = Vec::new();
    for t in storage.ticks_to_resume(&sel, opts.max_tick_retries)? {
        // The latest attempt: the scheduled time, or when a retry started.
        let attempt = t
            .body
            .get("attempt_timestamp")
            .and_then(|a| a.as_f64())
            .unwrap_or(t.timestamp);
        if t.status == TickStatus::Started && now - attempt > 5.0 {
            // Left by a crashed evaluator (older than a few seconds, so a tick another live
            // evaluator is finishing right now is left alone).
            tracing::warn!(schedule = %def.name, tick = t.id, "resuming an interrupted tick");
            outcomes.push(finish_tick(submitter, defs, def, &t));
        } else if t.status == TickStatus::Failure
            && (1..=opts.max_tick_retries).contains(&failure_count(&t))
        {
            let mut body = t.body.clone();
            body["attempt_timestamp"] = serde_json::json!(now);
            // Conditional FAILURE -> STARTED: one evaluator retries, another skips.
            if storage.transition_tick(t.id, TickStatus::Failure, TickStatus::Started, &body)? {
                tracing::info!(schedule = %def.name, tick = t.id, failures = failure_count(&t), max_tick_retries = opts.max_tick_retries, "retrying a failed tick");
                let retry = Tick {
                    status: TickStatus::Started,
                    body,
                    ..t
                };
                outcomes.push(finish_tick(submitter, defs, def, &retry));
            }
        }
    }
    let Some(state) = state else {
        // Running by default and never seen: start the clock now, no catch-up.
        let body = new_body(location, def, now);
        storage.upsert_instigator(&InstigatorState {
            selector_id: sel,
            name: def.name.clone(),
            instigator_type: SCHEDULE.into(),
            status: InstigatorStatus::DeclaredInCode,
            body: serde_json::to_value(&body).unwrap_or_default(),
        })?;
        return Ok(outcomes);
    };
    let mut body = super::body_of::<ScheduleBody>(&state);
    let after = body
        .start_timestamp
        .unwrap_or(now)
        .max(body.last_iteration_timestamp.unwrap_or(0.0));
    let mut due = tick_times(&def.name, &def.cron, def.timezone, after, now, 100_000)?;
    let keep = match def.catchup {
        CatchupPolicy::Latest => 1,
        CatchupPolicy::All(n) => n as usize,
        CatchupPolicy::None => {
            // Only the tick of the current minute, never a missed one.
            due.retain(|t| now - t.timestamp() as f64 <= 60.0);
            1
        }
    };
    if due.len() > keep {
        let skipped = due.len() - keep;
        tracing::info!(schedule = %def.name, skipped, "catch-up policy: not running {skipped} missed tick(s)");
        due.drain(..skipped);
    }
    for t in &due {
        let ts = t.timestamp() as f64;
        let tick_body = serde_json::json!({
            "schedule_name": def.name,
            "location": location,
            "scheduled_execution_time": iso_utc(ts),
            "run_ids": [],
        });
        let Some(tick) = storage.create_tick(&sel, SCHEDULE, ts, true, &tick_body)? else {
            tracing::debug!(schedule = %def.name, time = %iso_utc(ts), "tick already taken");
            continue;
        };
        outcomes.push(finish_tick(submitter, defs, def, &tick));
    }
    body.cron = def.cron.clone();
    body.timezone = def.timezone.name().to_string();
    body.location = location.to_string();
    body.last_iteration_timestamp = Some(now.max(body.last_iteration_timestamp.unwrap_or(0.0)));
    storage.upsert_instigator(&InstigatorState {
        body: serde_json::to_value(&body).unwrap_or_default(),
        ..state
    })?;
    Ok(outcomes)
}

/// Creates (or finds) the run of a STARTED tick, submits it and completes the tick.
fn finish_tick(
    submitter: &RunSubmitter,
    defs: &Definitions,
    def: &ScheduleDef,
    tick: &Tick,
) -> TickOutcome {
    let storage = submitter.storage();
    let iso = iso_utc(tick.timestamp);
    let result = (|| -> std::result::Result<Vec<String>, Box<dyn std::error::Error>> {
        let filter = RunsFilter {
            tags: vec![
                (tags::SCHEDULE_NAME.to_string(), def.name.clone()),
                (tags::SCHEDULED_EXECUTION_TIME.to_string(), iso.clone()),
                (tags::CODE_LOCATION.to_string(), defs.location_name.clone()),
            ],
            ..Default::default()
        };
        if let Some(existing) = storage
            .list_runs(&filter, None, Some(1))?
            .into_iter()
            .next()
        {
            if existing.status == RunStatus::NotStarted {
                submitter.submit(&existing)?;
            }
            return Ok(vec![existing.run_id]);
        }
        let mut run_tags: BTreeMap<String, String> = def.tags.clone();
        run_tags.insert(tags::SCHEDULE_NAME.into(), def.name.clone());
        run_tags.insert(tags::SCHEDULED_EXECUTION_TIME.into(), iso.clone());
        run_tags.insert(tags::TICK.into(), tick.id.to_string());
        let run = create_run(
            storage,
            defs,
            CreateRun {
                job_name: def.job.clone(),
                run_config: def.run_config.clone(),
                tags: run_tags,
                ..Default::default()
            },
        )?;
        submitter.submit(&run)?;
        Ok(vec![run.run_id])
    })();
    let mut body = tick.body.clone();
    let (status, run_ids) = match result {
        Ok(ids) => {
            body["run_ids"] = serde_json::json!(ids);
            if let Some(o) = body.as_object_mut() {
                o.remove("error");
            }
            (TickStatus::Success, ids)
        }
        Err(e) => {
            tracing::error!(schedule = %def.name, time = %iso, error = %e, "schedule tick failed");
            body["error"] =
                serde_json::to_value(ErrorInfo::from_error(e.as_ref())).unwrap_or_default();
            body["failure_count"] = serde_json::json!(failure_count(tick) + 1);
            (TickStatus::Failure, Vec::new())
        }
    };
    body["end_timestamp"] = serde_json::json!(crate::domain::now_ts());
    if let Err(e) = storage.update_tick(tick.id, status, &body) {
        tracing::error!(schedule = %def.name, tick = tick.id, error = %e, "cannot complete the tick; it is resumed on the next pass");
    }
    TickOutcome {
        schedule: def.name.clone(),
        scheduled_time: tick.timestamp,
        tick_id: tick.id,
        status,
        run_ids,
    }
}

/// Evaluates every schedule of every location; errors are per schedule. Schedules are
/// evaluated on up to 8 threads (each evaluation is a handful of storage round trips, so a
/// thousand schedules due on the same minute finish within seconds on Postgres too).
pub fn evaluate_all(
    submitter: &RunSubmitter,
    locations: &[(String, Definitions)],
    now: f64,
    opts: &ScheduleOptions,
) -> Vec<(String, Result<Vec<TickOutcome>>)> {
    let work: Vec<(&Definitions, &ScheduleDef)> = locations
        .iter()
        .flat_map(|(_, d)| d.schedules.values().map(move |s| (d, s)))
        .collect();
    let threads = work.len().clamp(1, 8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, String, Result<Vec<TickOutcome>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((defs, def)) = work.get(i) else {
                            break;
                        };
                        let r = evaluate_schedule_with(submitter, defs, def, now, opts);
                        mine.push((i, def.name.clone(), r));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, n, r)| (n, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> f64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp() as f64
    }

    #[test]
    fn selector_id_matches_dagster() {
        assert_eq!(
            selector_id("defs.py", "every_min"),
            "8f05c83375b8335d038d4d4a8ac292d55949da0b"
        );
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn every_minute_in_utc() {
        let t = tick_times(
            "s",
            "* * * * *",
            chrono_tz::UTC,
            ts("2026-11-24T06:20:00Z"),
            ts("2026-11-24T06:23:30Z"),
            100,
        )
        .unwrap();
        let got: Vec<String> = t.iter().map(|t| iso_utc(t.timestamp() as f64)).collect();
        assert_eq!(
            got,
            [
                "2026-11-24T06:21:00+00:00",
                "2026-11-24T06:22:00+00:00",
                "2026-11-24T06:23:00+00:00"
            ]
        );
    }

    #[test]
    fn spring_forward_gap_fires_after_transition() {
        // US/Eastern 2026-03-08: 02:00 → 03:00. 02:30 does not exist: fires at 03:00 EDT.
        let tz: Tz = "America/New_York".parse().unwrap();
        let t = tick_times(
            "s",
            "30 2 * * *",
            tz,
            ts("2026-03-07T12:00:00Z"),
            ts("2026-03-09T12:00:00Z"),
            10,
        )
        .unwrap();
        let got: Vec<String> = t.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            got,
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
        );
        // Every minute across the gap: 01:59 EST then 03:00 EDT, once.
        let t = tick_times(
            "s",
            "* * * * *",
            tz,
            ts("2026-03-08T06:58:00Z"),
            ts("2026-03-08T07:01:00Z"),
            10,
        )
        .unwrap();
        let got: Vec<String> = t.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            got,
            [
                "2026-03-08T01:59:00-05:00",
                "2026-03-08T03:00:00-04:00",
                "2026-03-08T03:01:00-04:00"
            ]
        );
    }

    #[test]
    fn fall_back_ambiguous_fires_once_at_later_occurrence() {
        // US/Eastern 2026-11-01: 02:00 EDT → 01:00 EST; 01:30 happens twice.
        let tz: Tz = "America/New_York".parse().unwrap();
        let t = tick_times(
            "s",
            "30 1 * * *",
            tz,
            ts("2026-10-31T12:00:00Z"),
            ts("2026-11-02T12:00:00Z"),
            10,
        )
        .unwrap();
        let got: Vec<String> = t.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            got,
            ["2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"]
        );
    }
}
