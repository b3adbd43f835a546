//! Storage: one trait per aggregate, two backends (SQLite, Postgres) behind them.
//!
//! * [`RunStore`]: runs and their tags, conditional status transitions, worker heartbeats.
//! * [`EventLogStore`]: the event log (batched writes, cursor pagination) and the asset
//!   materialization index. Writing a run-lifecycle event moves the run status in the same
//!   transaction, conditionally (see [`RunStatus::allowed_predecessors`]).
//! * [`InstigatorStore`]: schedule/sensor state, cursors and ticks.
//! * [`DaemonStore`]: daemon heartbeats.
//! * [`KvStore`]: small key-value pairs (daemon cursors, instance flags).
//!
//! [`DbStorage`] implements all of them on a diesel + r2d2 pool. Migrations are embedded and
//! applied by `dagster instance migrate` and on first use of an empty database.
//!
//! Errors: [`StorageError`] (thiserror, non-exhaustive). Callers in binaries wrap it in anyhow.

use crate::domain::{
    AssetKey, EventRecord, EventType, InstigatorStatus, NewEvent, NewRun, Run, RunStatus,
    RunsFilter, TickStatus,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod db;
pub mod notify;
mod schema;

pub use db::{DbStorage, OpenOptions, StorageBackend};

/// Storage errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Could not get a connection (server down, bad URL, pool timeout). The message names
    /// the backend and host:port but never a password.
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("database error on {target}: {source}")]
    Query {
        target: String,
        #[source]
        source: diesel::result::Error,
    },
    #[error("migration of {target} failed: {message}")]
    Migration { target: String, message: String },
    #[error("run {0} not found")]
    RunNotFound(String),
    #[error("run {0} already exists")]
    RunExists(String),
    #[error("tick {0} not found")]
    TickNotFound(i64),
    #[error("corrupt stored data in {what}: {message}")]
    Corrupt { what: String, message: String },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// One page of a run's events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    /// Storage id of the last event returned (or the `after` cursor given when empty).
    pub cursor: Option<i64>,
    pub has_more: bool,
}

/// What happened to a batch of events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreOutcome {
    /// Storage ids assigned, in input order (rejected status events get none).
    pub storage_ids: Vec<i64>,
    /// Run-status events refused because the run was not in an allowed predecessor status
    /// (e.g. RUN_SUCCESS after the run was CANCELED): `(run_id, event type name, current status)`.
    /// They are not written as-is; an ENGINE_EVENT records the refusal instead.
    pub rejected: Vec<(String, String, Option<RunStatus>)>,
}

/// Latest-materialization index entry for an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRecord {
    pub asset_key: AssetKey,
    pub last_materialization: Option<EventRecord>,
    pub last_run_id: Option<String>,
}

pub trait RunStore: Send + Sync {
    /// Creates a run (status NOT_STARTED unless given) with its tags.
    fn add_run(&self, run: NewRun) -> Result<Run>;
    fn get_run(&self, run_id: &str) -> Result<Option<Run>>;
    /// Newest first. `cursor` = run id of the last run of the previous page.
    fn list_runs(
        &self,
        filter: &RunsFilter,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Run>>;
    fn count_runs(&self, filter: &RunsFilter) -> Result<i64>;
    /// Every distinct run tag key (hidden `.dagster/*` ones included), sorted.
    fn run_tag_keys(&self) -> Result<Vec<String>>;
    /// Distinct tag values per key, keys and values sorted (bytewise): only the `keys` given
    /// (all when `None`), only values starting with `value_prefix` (exact, case-sensitive), at
    /// most `limit` (key, value) pairs in all (the first ones in the database's order).
    fn run_tag_values(
        &self,
        keys: Option<&[String]>,
        value_prefix: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<(String, Vec<String>)>>;
    /// Adds or replaces tags on a run.
    fn add_run_tags(&self, run_id: &str, tags: &BTreeMap<String, String>) -> Result<()>;
    /// Deletes a run, its tags and its events. Returns false if it did not exist.
    fn delete_run(&self, run_id: &str) -> Result<bool>;
    /// Deletes every run, tag and event.
    fn wipe_runs(&self) -> Result<()>;
    /// Records that the run worker of `run_id` is alive (unix seconds) with its pid.
    fn record_worker_heartbeat(&self, run_id: &str, pid: u32, at: f64) -> Result<()>;
    /// Last worker heartbeat `(pid, unix seconds)`.
    fn worker_heartbeat(&self, run_id: &str) -> Result<Option<(u32, f64)>>;
}

pub trait EventLogStore: Send + Sync {
    /// Writes a batch in one transaction. Run-lifecycle events move the run's status with a
    /// conditional update (refused transitions are reported in [`StoreOutcome::rejected`]);
    /// asset events update the asset index.
    fn store_events(&self, events: &[NewEvent]) -> Result<StoreOutcome>;
    /// Events of a run with storage id > `after`, ascending, at most `limit`.
    fn events_for_run(&self, run_id: &str, after: Option<i64>, limit: usize) -> Result<EventPage>;
    /// Events of one step of a run, ascending, at most `limit` (the newest are dropped).
    fn events_for_step(
        &self,
        run_id: &str,
        step_key: &str,
        limit: usize,
    ) -> Result<Vec<EventRecord>>;
    /// The largest event storage id (of any run), `None` for an empty event log. One indexed
    /// query; followers of the log (the webserver's subscriptions) poll it to learn that
    /// something was written.
    fn latest_event_id(&self) -> Result<Option<i64>>;
    /// All asset keys with index records (optionally restricted to `keys`).
    fn asset_records(&self, keys: Option<&[AssetKey]>) -> Result<Vec<AssetRecord>>;
    /// Materialization events of an asset, newest first, storage id < `before`.
    fn materializations(
        &self,
        key: &AssetKey,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRecord>> {
        self.asset_events(key, &[EventType::AssetMaterialization], before, limit)
    }
    /// Asset events of `types` (materializations, observations, failures to materialize) of
    /// an asset, newest first, storage id < `before`; one indexed query.
    fn asset_events(
        &self,
        key: &AssetKey,
        types: &[EventType],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRecord>>;
    /// Removes an asset's index entry and its asset events from the index (not run logs).
    fn wipe_asset(&self, key: &AssetKey) -> Result<()>;
}

/// Schedule/sensor state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstigatorState {
    /// sha1 of the instigator selector (location, repository, name).
    pub selector_id: String,
    pub name: String,
    /// SCHEDULE or SENSOR.
    pub instigator_type: String,
    pub status: InstigatorStatus,
    /// Free-form state: cron string, start timestamp, cursor, last run key...
    pub body: serde_json::Value,
}

/// A schedule or sensor tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub id: i64,
    pub selector_id: String,
    pub status: TickStatus,
    /// SCHEDULE or SENSOR.
    pub tick_type: String,
    /// Schedule: the scheduled time; sensor: evaluation start (unix seconds).
    pub timestamp: f64,
    pub body: serde_json::Value,
}

/// Which ticks [`InstigatorStore::find_ticks`] returns (every bound exclusive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickFilter {
    /// Tick timestamps (unix seconds) after / before.
    pub after: Option<f64>,
    pub before: Option<f64>,
    /// Only these statuses.
    pub statuses: Option<Vec<TickStatus>>,
    /// Tick ids below this one (paging newest first).
    pub before_id: Option<i64>,
}

pub trait InstigatorStore: Send + Sync {
    fn get_instigator(&self, selector_id: &str) -> Result<Option<InstigatorState>>;
    fn list_instigators(&self, instigator_type: Option<&str>) -> Result<Vec<InstigatorState>>;
    /// Inserts or replaces the state.
    fn upsert_instigator(&self, state: &InstigatorState) -> Result<()>;
    /// Creates a tick. For `unique` ticks (schedules) a second tick with the same
    /// (selector_id, timestamp) is refused by a unique constraint: returns `Ok(None)`.
    fn create_tick(
        &self,
        selector_id: &str,
        tick_type: &str,
        timestamp: f64,
        unique: bool,
        body: &serde_json::Value,
    ) -> Result<Option<Tick>>;
    fn update_tick(&self, id: i64, status: TickStatus, body: &serde_json::Value) -> Result<()>;
    /// Newest first.
    fn list_ticks(&self, selector_id: &str, limit: usize) -> Result<Vec<Tick>>;
    /// One tick by id.
    fn get_tick(&self, id: i64) -> Result<Option<Tick>>;
    /// Ticks of `selector_id` matching `filter`, newest first, at most `limit`.
    fn find_ticks(&self, selector_id: &str, filter: &TickFilter, limit: usize)
        -> Result<Vec<Tick>>;
    /// Moves tick `id` from status `from` to `to` with a new body, only if it is still `from`
    /// (one conditional UPDATE): of several evaluators retrying the same FAILURE tick, exactly
    /// one gets `true`.
    fn transition_tick(
        &self,
        id: i64,
        from: TickStatus,
        to: TickStatus,
        body: &serde_json::Value,
    ) -> Result<bool>;
    /// The ticks of `selector_id` an evaluator may have to finish, oldest first: every
    /// STARTED tick, and every FAILURE tick whose `failure_count` (from its body) is between 1
    /// and `max_failure_count`. One indexed query, however many ticks the instigator has.
    fn ticks_to_resume(&self, selector_id: &str, max_failure_count: u64) -> Result<Vec<Tick>>;
    /// Deletes the ticks of `tick_type` (SCHEDULE, SENSOR) in `status` whose timestamp is
    /// before `before` (unix seconds); returns how many (tick retention).
    fn purge_ticks(&self, tick_type: &str, status: TickStatus, before: f64) -> Result<usize>;
}

/// A daemon heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonHeartbeat {
    pub daemon_type: String,
    pub daemon_id: String,
    /// Unix seconds.
    pub timestamp: f64,
    pub errors: Vec<crate::domain::ErrorInfo>,
}

pub trait DaemonStore: Send + Sync {
    fn add_heartbeat(&self, hb: &DaemonHeartbeat) -> Result<()>;
    fn heartbeats(&self) -> Result<Vec<DaemonHeartbeat>>;
    fn wipe_heartbeats(&self) -> Result<()>;
}

pub trait KvStore: Send + Sync {
    fn kv_get(&self, key: &str) -> Result<Option<String>>;
    fn kv_set(&self, key: &str, value: &str) -> Result<()>;
    fn kv_delete(&self, key: &str) -> Result<()>;
    /// Takes or renews the lease `key` for `owner` until `now + ttl` (unix seconds). Succeeds
    /// when the lease is free, expired, or already held by `owner`. One compare-and-swap
    /// statement (insert-if-absent, or update-where-value-unchanged), so of several
    /// processes racing for a free lease exactly one gets it, on SQLite and Postgres.
    fn kv_try_lease(&self, key: &str, owner: &str, now: f64, ttl: f64) -> Result<bool>;
    /// Gives the lease up if `owner` holds it.
    fn kv_release_lease(&self, key: &str, owner: &str) -> Result<()>;
    /// Deletes the leases whose key starts with `prefix` and that expired before `before`
    /// (left behind by processes that died holding them); a lease renewed meanwhile is kept.
    /// Returns how many were deleted.
    fn kv_purge_expired_leases(&self, prefix: &str, before: f64) -> Result<usize>;
}

/// Everything an instance needs from storage.
pub trait Storage: RunStore + EventLogStore + InstigatorStore + DaemonStore + KvStore {
    /// Human description of the backend without secrets, e.g. `sqlite:/home/x/storage/dagster.db`
    /// or `postgres://dagster@db:5432/dagster`.
    fn describe(&self) -> String;
    /// Applies pending migrations; returns the versions applied.
    fn migrate(&self) -> Result<Vec<String>>;
    /// `(current schema version, latest known version)`.
    fn schema_version(&self) -> Result<(Option<String>, String)>;
    /// The instance's storage id (a UUID written by the first migration; Dagster's
    /// `instance_info.run_storage_id`, shown by the UI as the instance id).
    fn run_storage_id(&self) -> Result<Option<String>>;
}
