//! diesel + r2d2 implementation of the storage traits for SQLite and Postgres.
//!
//! One `table!` schema ([`super::schema`]) serves both backends. [`DbStorage`] holds one of two
//! r2d2 pools; the private macros [`with_conn!`] and [`write_tx!`] expand the same diesel DSL body
//! once per backend, so every query is written once and type-checked against both. Write
//! transactions are `BEGIN IMMEDIATE` on SQLite (the write lock is taken up front, so a
//! read-then-write never fails with `SQLITE_BUSY` on lock upgrade) and ordinary transactions on
//! Postgres, where writers of the same run are serialized by a transaction-scoped advisory lock
//! (so storage ids of one run are assigned in commit order and run cursors never skip events).
//!
//! Every value is a bound parameter; no SQL is built with `format!`.
//!
//! Migrations are embedded from `migrations/sqlite` and `migrations/postgres` and applied by
//! [`Storage::migrate`] (`dagster instance migrate`) or by [`DbStorage::open`] on an empty
//! database. See `DEVELOPING.md` in this directory for how to change the schema.
//!
//! One module per trait: [`run_store`] (`RunStore`), [`event_store`] (`EventLogStore`), [`instigator_store`]
//! (`InstigatorStore`), [`kv_store`] (`DaemonStore`, `KvStore`); opening, pools and migrations in
//! [`connect`]; the row types, macros and helpers they share here.

use super::schema::{
    asset_keys, daemon_heartbeats, event_logs, instance_info, instigators, job_ticks, kvs,
    run_tags, runs,
};
use super::{
    AssetRecord, DaemonHeartbeat, DaemonStore, EventLogStore, EventPage, InstigatorState,
    InstigatorStore, KvStore, Result, RunStore, Storage, StorageError, StoreOutcome, Tick,
    TickFilter,
};
use crate::domain::{
    tags, AssetKey, EventData, EventRecord, EventType, InstigatorStatus, LogLevel, MetadataEntry,
    MetadataValue, NewEvent, NewRun, Run, RunStatus, RunsFilter, TickStatus,
};
use chrono::{DateTime, NaiveDateTime};
use diesel::backend::Backend;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sql_types::{Double, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::upsert::excluded;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Serializes concurrent migrations of the same Postgres schema (two processes starting on an
/// empty database at once).
const PG_MIGRATION_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('dagster-rs migrations ' || current_schema(), 0))";
/// Serializes writers of one run (bound parameter: the run id).
const PG_RUN_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
/// [`PG_RUN_LOCK`] for several runs in one round trip, taken in the order of the (sorted)
/// array, so two writers always lock in the same order.
const PG_RUN_LOCKS: &str = "SELECT pg_advisory_xact_lock(hashtextextended(t.id, 0)) \
    FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n";
/// `NOTIFY` of run-queue changes, one per element of the bound array (`<status> <run id>`), in
/// one round trip; the payload is `<schema> <status> <run id>`, so listeners on other schemas
/// of the same database (channels are per database) can ignore it.
const PG_NOTIFY_RUNS: &str =
    "SELECT pg_notify($1, current_schema() || ' ' || p) FROM unnest($2::text[]) AS p";
/// Sets `run_body` of several runs in one round trip (bound arrays: run ids, bodies).
const PG_SET_RUN_BODIES: &str = "UPDATE runs SET run_body = v.body \
    FROM unnest($1::text[], $2::text[]) AS v(id, body) WHERE runs.run_id = v.id";

/// Rows per multi-row INSERT / ids per `IN (...)` list (well under SQLite's bind limit).
const CHUNK: usize = 500;

/// The distinct run tag keys in ascending order, found by stepping through the key index
/// (`idx_run_tags` on SQLite, `idx_run_tags_key` on Postgres) from one key to the next: one
/// index probe per distinct key instead of reading every tag row (`SELECT DISTINCT` does the
/// latter on Postgres, which has no skip scan).
const DISTINCT_TAG_KEYS: &str = "WITH RECURSIVE tag_keys(key) AS ( \
        SELECT MIN(key) FROM run_tags \
        UNION ALL \
        SELECT (SELECT MIN(t.key) FROM run_tags t WHERE t.key > tag_keys.key) \
        FROM tag_keys WHERE tag_keys.key IS NOT NULL \
    ) \
    SELECT key FROM tag_keys WHERE key IS NOT NULL ORDER BY key";

/// A `run_tags` row read by raw SQL.
#[derive(QueryableByName)]
struct TagRow {
    #[diesel(sql_type = Text)]
    run_id: String,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    value: String,
}

/// A row of [`DISTINCT_TAG_KEYS`] (`MIN` over no rows is NULL).
#[derive(QueryableByName)]
struct TagKeyRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
}

/// Where the storage lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// A SQLite database file (created with its parent directory if missing).
    Sqlite { path: PathBuf },
    /// A libpq connection string: `postgres://user:password@host:port/db?params` or
    /// `host=... user=... password=... dbname=...`.
    Postgres { url: String },
}

impl StorageBackend {
    /// Human description without secrets: `sqlite:/path/to/db` or
    /// `postgres://user@host:port/db`.
    pub fn describe(&self) -> String {
        match self {
            StorageBackend::Sqlite { path } => format!("sqlite:{}", path.display()),
            StorageBackend::Postgres { url } => {
                let p = PgParts::parse(url);
                let user = p.user.map(|u| format!("{u}@")).unwrap_or_default();
                let host = p.host.unwrap_or_else(|| "localhost".to_string());
                let port = p.port.unwrap_or_else(|| "5432".to_string());
                let db = p.dbname.unwrap_or_default();
                format!("postgres://{user}{host}:{port}/{db}")
            }
        }
    }

    /// Secrets that must never appear in messages (the password, raw and percent-decoded).
    pub(super) fn secrets(&self) -> Vec<String> {
        match self {
            StorageBackend::Sqlite { .. } => Vec::new(),
            StorageBackend::Postgres { url } => {
                let mut out = Vec::new();
                if let Some(pw) = PgParts::parse(url).password.filter(|p| !p.is_empty()) {
                    let decoded = percent_decode(&pw);
                    if decoded != pw && !decoded.is_empty() {
                        out.push(decoded);
                    }
                    out.push(pw);
                }
                out
            }
        }
    }
}

impl fmt::Debug for StorageBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageBackend::Sqlite { path } => {
                f.debug_struct("Sqlite").field("path", path).finish()
            }
            StorageBackend::Postgres { .. } => f
                .debug_struct("Postgres")
                .field("url", &self.describe())
                .finish_non_exhaustive(),
        }
    }
}

/// Per-connection session setup for SQLite.
#[derive(Debug)]
struct SqliteSession;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSession {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout first: switching to WAL needs a lock another new connection may hold.
        conn.batch_execute(
            "PRAGMA busy_timeout = 30000; PRAGMA journal_mode = WAL; \
             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Per-connection session setup for Postgres.
#[derive(Debug)]
struct PgSession;

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PgSession {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SET application_name = 'dagster-rs'")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;
type PgPool = Pool<ConnectionManager<PgConnection>>;

#[derive(Clone)]
enum Pools {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// Storage on SQLite or Postgres; implements every storage trait. Cheap to clone (the pool is
/// shared).
///
/// All methods block: async callers must run them on a blocking thread.
#[derive(Clone)]
pub struct DbStorage {
    pools: Pools,
    target: String,
    secrets: Vec<String>,
}

impl fmt::Debug for DbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbStorage")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Internal error of a query body: a diesel error (mapped to [`StorageError::Query`] with the
/// backend description at the boundary) or an already typed storage error.
enum DbErr {
    Diesel(diesel::result::Error),
    Storage(StorageError),
}

impl From<diesel::result::Error> for DbErr {
    fn from(e: diesel::result::Error) -> Self {
        DbErr::Diesel(e)
    }
}

impl From<StorageError> for DbErr {
    fn from(e: StorageError) -> Self {
        DbErr::Storage(e)
    }
}

fn corrupt(what: impl Into<String>, message: impl fmt::Display) -> DbErr {
    DbErr::Storage(StorageError::Corrupt {
        what: what.into(),
        message: message.to_string(),
    })
}

fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<String, DbErr> {
    serde_json::to_string(v).map_err(|e| corrupt(what, e))
}

fn from_json<T: serde::de::DeserializeOwned>(
    what: impl FnOnce() -> String,
    s: &str,
) -> Result<T, DbErr> {
    serde_json::from_str(s).map_err(|e| corrupt(what(), e))
}

/// Runs `$body` with `$c` bound to a pooled connection of whichever backend is configured; the
/// body is expanded once per backend and evaluates to `Result<T, DbErr>`.
macro_rules! with_conn {
    ($s:expr, |$c:ident| $body:expr) => {{
        let s: &DbStorage = $s;
        let r: std::result::Result<_, DbErr> = match &s.pools {
            Pools::Sqlite(p) => {
                let mut guard = s.checkout(p)?;
                let $c: &mut SqliteConnection = &mut guard;
                (|| -> std::result::Result<_, DbErr> { $body })()
            }
            Pools::Pg(p) => {
                let mut guard = s.checkout(p)?;
                let $c: &mut PgConnection = &mut guard;
                (|| -> std::result::Result<_, DbErr> { $body })()
            }
        };
        r.map_err(|e| s.fail(e))
    }};
}

/// Sets run tags (`(run id, key, value)` items, each `(run id, key)` at most once), replacing
/// existing values: one multi-row upsert per [`CHUNK`] rows.
macro_rules! upsert_run_tags {
    ($c:ident, $items:expr) => {{
        let rows: Vec<_> = $items
            .map(|(id, k, v): (&str, &str, &str)| {
                (
                    run_tags::run_id.eq(id),
                    run_tags::key.eq(k),
                    run_tags::value.eq(v),
                )
            })
            .collect();
        for chunk in rows.chunks(CHUNK) {
            diesel::insert_into(run_tags::table)
                .values(chunk)
                .on_conflict((run_tags::run_id, run_tags::key))
                .do_update()
                .set(run_tags::value.eq(excluded(run_tags::value)))
                .execute($c)?;
        }
    }};
}

/// Upserts the asset rows of a batch of stored events (`BTreeMap<key, AssetUpdate>`), in key
/// order so that concurrent batches lock them in the same order.
macro_rules! upsert_assets {
    ($c:ident, $assets:expr) => {{
        let c = &mut *$c;
        let now = now_dt();
        for (key, update) in $assets {
            match update.materialization {
                Some((record, run_id, at)) => {
                    let json = to_json("materialization record", &record)?;
                    let upsert = diesel::insert_into(asset_keys::table)
                        .values((
                            asset_keys::asset_key.eq(&key),
                            asset_keys::last_materialization.eq(Some(json)),
                            asset_keys::last_run_id.eq(Some(run_id)),
                            asset_keys::last_materialization_timestamp.eq(Some(at)),
                            asset_keys::create_timestamp.eq(now),
                        ))
                        .on_conflict(asset_keys::asset_key)
                        .do_update()
                        .set((
                            asset_keys::last_materialization
                                .eq(excluded(asset_keys::last_materialization)),
                            asset_keys::last_run_id.eq(excluded(asset_keys::last_run_id)),
                            asset_keys::last_materialization_timestamp
                                .eq(excluded(asset_keys::last_materialization_timestamp)),
                            asset_keys::wipe_timestamp.eq(None::<NaiveDateTime>),
                        ));
                    // `ON CONFLICT ... DO UPDATE ... WHERE`: a concurrent batch may commit an
                    // older materialization after a newer one.
                    diesel::query_dsl::methods::FilterDsl::filter(
                        upsert,
                        asset_keys::last_materialization_timestamp
                            .is_null()
                            .or(asset_keys::last_materialization_timestamp
                                .le(excluded(asset_keys::last_materialization_timestamp))),
                    )
                    .execute(c)?;
                }
                None => {
                    diesel::insert_into(asset_keys::table)
                        .values((
                            asset_keys::asset_key.eq(&key),
                            asset_keys::create_timestamp.eq(now),
                        ))
                        .on_conflict(asset_keys::asset_key)
                        .do_update()
                        .set(asset_keys::wipe_timestamp.eq(None::<NaiveDateTime>))
                        .execute(c)?;
                }
            }
        }
    }};
}

/// Like [`with_conn!`] inside one write transaction (`BEGIN IMMEDIATE` on SQLite).
macro_rules! write_tx {
    ($s:expr, |$c:ident| $body:expr) => {{
        let s: &DbStorage = $s;
        let r: std::result::Result<_, DbErr> = match &s.pools {
            Pools::Sqlite(p) => {
                let mut guard = s.checkout(p)?;
                guard.immediate_transaction(
                    |$c: &mut SqliteConnection| -> std::result::Result<_, DbErr> { $body },
                )
            }
            Pools::Pg(p) => {
                let mut guard = s.checkout(p)?;
                let conn: &mut PgConnection = &mut guard;
                conn.transaction(|$c: &mut PgConnection| -> std::result::Result<_, DbErr> { $body })
            }
        };
        r.map_err(|e| s.fail(e))
    }};
}

/// Like [`write_tx!`] holding the migration lock; `$m` is the backend's embedded migrations.
macro_rules! migration_tx {
    ($s:expr, |$c:ident, $m:ident| $body:expr) => {{
        let s: &DbStorage = $s;
        let r: std::result::Result<_, DbErr> = match &s.pools {
            Pools::Sqlite(p) => {
                let mut guard = s.checkout(p)?;
                let $m = SQLITE_MIGRATIONS;
                guard.immediate_transaction(
                    |$c: &mut SqliteConnection| -> std::result::Result<_, DbErr> { $body },
                )
            }
            Pools::Pg(p) => {
                let mut guard = s.checkout(p)?;
                let $m = PG_MIGRATIONS;
                let conn: &mut PgConnection = &mut guard;
                conn.transaction(|$c: &mut PgConnection| -> std::result::Result<_, DbErr> {
                    diesel::sql_query(PG_MIGRATION_LOCK).execute($c)?;
                    $body
                })
            }
        };
        r.map_err(|e| s.fail(e))
    }};
}

/// Applies a [`RunsFilter`] to a boxed `runs` query (all conditions AND-ed).
macro_rules! filter_runs {
    ($q:expr, $f:expr) => {{
        let f: &RunsFilter = $f;
        let mut q = $q;
        if let Some(ids) = &f.run_ids {
            q = q.filter(runs::run_id.eq_any(ids));
        }
        if let Some(job) = &f.job_name {
            q = q.filter(runs::pipeline_name.eq(job));
        }
        if let Some(statuses) = &f.statuses {
            q = q.filter(
                runs::status.eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
        }
        for (k, v) in &f.tags {
            q = q.filter(
                runs::run_id.eq_any(
                    run_tags::table
                        .filter(run_tags::key.eq(k))
                        .filter(run_tags::value.eq(v))
                        .select(run_tags::run_id),
                ),
            );
        }
        for k in &f.tag_keys {
            q = q.filter(
                runs::run_id.eq_any(
                    run_tags::table
                        .filter(run_tags::key.eq(k))
                        .select(run_tags::run_id),
                ),
            );
        }
        if let Some(t) = f.updated_after {
            q = q.filter(runs::update_timestamp.gt(ts_to_dt(t)));
        }
        if let Some(t) = f.updated_before {
            q = q.filter(runs::update_timestamp.lt(ts_to_dt(t)));
        }
        if let Some(t) = f.created_after {
            q = q.filter(runs::create_timestamp.gt(ts_to_dt(t)));
        }
        if let Some(t) = f.created_before {
            q = q.filter(runs::create_timestamp.lt(ts_to_dt(t)));
        }
        if f.exclude_subruns {
            // Correlated on the unique (run_id, key) index: one probe per candidate run.
            q = q.filter(diesel::dsl::not(diesel::dsl::exists(
                run_tags::table
                    .filter(run_tags::run_id.eq(runs::run_id))
                    .filter(run_tags::key.eq(tags::BACKFILL)),
            )));
        }
        q
    }};
}

diesel::define_sql_function! {
    /// `substr(text, start, length)`: characters on both backends (1-based start).
    fn substr(x: Text, start: diesel::sql_types::Integer, len: diesel::sql_types::Integer) -> Text;
}

diesel::define_sql_function! {
    /// `COALESCE` for nullable float columns.
    fn coalesce(x: Nullable<Double>, y: Nullable<Double>) -> Nullable<Double>;
}

/// Backend-specific statements inside write transactions.
trait RunLocks {
    /// Serializes writers of the given runs until the transaction ends. `run_ids` must be
    /// sorted (consistent lock order, no deadlocks).
    fn lock_runs(&mut self, run_ids: &[&str]) -> QueryResult<()>;
    /// Whether `store_events` updates the asset rows after its transaction (Postgres: row
    /// locks) rather than inside it (SQLite: the transaction holds the database lock anyway,
    /// and a second one would cost a second fsync).
    fn assets_after_commit(&self) -> bool;
    /// `(run_id, key, value)` of the runs' tags.
    fn tags_of_runs(&mut self, run_ids: &[&str]) -> QueryResult<Vec<(String, String, String)>>;
    /// Replaces the runs' `run_body` (`(run id, body)`).
    fn set_run_bodies(&mut self, bodies: &[(&str, String)]) -> QueryResult<()>;
}

impl RunLocks for SqliteConnection {
    fn lock_runs(&mut self, _run_ids: &[&str]) -> QueryResult<()> {
        // BEGIN IMMEDIATE already gives the transaction the single database write lock.
        Ok(())
    }

    fn assets_after_commit(&self) -> bool {
        false
    }

    fn tags_of_runs(&mut self, run_ids: &[&str]) -> QueryResult<Vec<(String, String, String)>> {
        run_tags::table
            .filter(run_tags::run_id.eq_any(run_ids))
            .select((run_tags::run_id, run_tags::key, run_tags::value))
            .load(self)
    }

    fn set_run_bodies(&mut self, bodies: &[(&str, String)]) -> QueryResult<()> {
        // In process: a statement per run costs no round trip.
        for (id, body) in bodies {
            diesel::update(runs::table.filter(runs::run_id.eq(id)))
                .set(runs::run_body.eq(body))
                .execute(self)?;
        }
        Ok(())
    }
}

impl RunLocks for PgConnection {
    fn lock_runs(&mut self, run_ids: &[&str]) -> QueryResult<()> {
        match run_ids {
            [] => {}
            [id] => {
                diesel::sql_query(PG_RUN_LOCK)
                    .bind::<Text, _>(*id)
                    .execute(self)?;
            }
            // A batch (the queue's claim, its launch events): one round trip, not one per run.
            ids => {
                diesel::sql_query(PG_RUN_LOCKS)
                    .bind::<diesel::sql_types::Array<Text>, _>(ids)
                    .execute(self)?;
            }
        }
        Ok(())
    }

    fn assets_after_commit(&self) -> bool {
        true
    }

    fn tags_of_runs(&mut self, run_ids: &[&str]) -> QueryResult<Vec<(String, String, String)>> {
        // Not `run_id = ANY($1)`: with a bound array Postgres compares every row of a
        // sequential scan with every id (the run queue's 1,000 runs: most of its CPU); a
        // semi-join on the unnested ids hashes them or probes the index.
        let rows: Vec<TagRow> = diesel::sql_query(
            "SELECT run_id, key, value FROM run_tags WHERE run_id IN (SELECT unnest($1::text[]))",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(run_ids)
        .load(self)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.run_id, r.key, r.value))
            .collect())
    }

    fn set_run_bodies(&mut self, bodies: &[(&str, String)]) -> QueryResult<()> {
        match bodies {
            [] => {}
            [(id, body)] => {
                diesel::update(runs::table.filter(runs::run_id.eq(id)))
                    .set(runs::run_body.eq(body))
                    .execute(self)?;
            }
            _ => {
                for chunk in bodies.chunks(CHUNK) {
                    let (ids, texts): (Vec<&str>, Vec<&str>) =
                        chunk.iter().map(|(id, b)| (*id, b.as_str())).unzip();
                    diesel::sql_query(PG_SET_RUN_BODIES)
                        .bind::<diesel::sql_types::Array<Text>, _>(ids)
                        .bind::<diesel::sql_types::Array<Text>, _>(texts)
                        .execute(self)?;
                }
            }
        }
        Ok(())
    }
}

/// Wake-ups for run-queue listeners, inside write transactions.
trait RunNotify {
    /// Announces that these runs became QUEUED or CANCELING (`(status, run id)`). On Postgres a
    /// `NOTIFY` on [`super::notify::RUN_CHANNEL`] per run, delivered when the transaction
    /// commits (never on rollback); SQLite has no listeners (the daemon polls).
    fn notify_runs(&mut self, runs: &[(RunStatus, &str)]) -> QueryResult<()>;
}

impl RunNotify for SqliteConnection {
    fn notify_runs(&mut self, _runs: &[(RunStatus, &str)]) -> QueryResult<()> {
        Ok(())
    }
}

impl RunNotify for PgConnection {
    fn notify_runs(&mut self, runs: &[(RunStatus, &str)]) -> QueryResult<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let payloads: Vec<String> = runs
            .iter()
            .map(|(status, run_id)| format!("{} {run_id}", status.as_str()))
            .collect();
        diesel::sql_query(PG_NOTIFY_RUNS)
            .bind::<Text, _>(super::notify::RUN_CHANNEL)
            .bind::<diesel::sql_types::Array<Text>, _>(payloads)
            .execute(self)?;
        Ok(())
    }
}

/// Float unix seconds to naive UTC, rounded to microseconds (the precision of both backends)
/// and clamped to years 1..=9999 so that no input can make a query fail or panic.
fn ts_to_dt(ts: f64) -> NaiveDateTime {
    const MIN: f64 = -62_135_596_800.0;
    const MAX: f64 = 253_402_300_799.0;
    let ts = if ts.is_nan() { 0.0 } else { ts.clamp(MIN, MAX) };
    DateTime::from_timestamp_micros((ts * 1e6).round() as i64)
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

fn dt_to_ts(dt: NaiveDateTime) -> f64 {
    dt.and_utc().timestamp_micros() as f64 / 1e6
}

fn now_dt() -> NaiveDateTime {
    ts_to_dt(crate::domain::now_ts())
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = runs)]
struct RunRow {
    run_id: String,
    pipeline_name: String,
    status: String,
    run_body: String,
    create_timestamp: NaiveDateTime,
    update_timestamp: NaiveDateTime,
    start_time: Option<f64>,
    end_time: Option<f64>,
}

impl RunRow {
    /// Rebuilds a run: the body supplies the static fields, the columns and `run_tags` are the
    /// truth for status, times and tags.
    fn into_run(self, tags: BTreeMap<String, String>) -> Result<Run, DbErr> {
        let run_id = self.run_id;
        let mut run: Run = from_json(|| format!("runs.run_body of run {run_id}"), &self.run_body)?;
        run.status = RunStatus::parse(&self.status).ok_or_else(|| {
            corrupt(
                format!("runs.status of run {run_id}"),
                format!("unknown status {:?}", self.status),
            )
        })?;
        run.run_id = run_id;
        run.job_name = self.pipeline_name;
        run.tags = tags;
        run.create_time = dt_to_ts(self.create_timestamp);
        run.update_time = dt_to_ts(self.update_timestamp);
        run.start_time = self.start_time;
        run.end_time = self.end_time;
        Ok(run)
    }
}

/// A status column's value (`parse` is the status type's), or a corruption error naming `what`.
fn parse_status<T>(
    parse: fn(&str) -> Option<T>,
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<T, DbErr> {
    parse(text).ok_or_else(|| corrupt(what(), format!("unknown status `{text}`")))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = job_ticks)]
struct TickRow {
    id: i64,
    selector_id: String,
    status: String,
    tick_type: String,
    timestamp: f64,
    tick_body: String,
}

/// A tick body's `failure_count` (the `job_ticks.failure_count` column mirrors it).
fn body_failure_count(body: &serde_json::Value) -> i64 {
    body.get("failure_count")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
}

impl TickRow {
    fn into_tick(self) -> Result<Tick, DbErr> {
        let id = self.id;
        let status = parse_status(TickStatus::parse, &self.status, || {
            format!("job_ticks.status of tick {id}")
        })?;
        Ok(Tick {
            id,
            selector_id: self.selector_id,
            status,
            tick_type: self.tick_type,
            timestamp: self.timestamp,
            body: from_json(
                || format!("job_ticks.tick_body of tick {id}"),
                &self.tick_body,
            )?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = instigators)]
struct InstigatorRow {
    selector_id: String,
    name: String,
    status: String,
    instigator_type: String,
    instigator_body: String,
}

impl InstigatorRow {
    fn into_state(self) -> Result<InstigatorState, DbErr> {
        let selector_id = self.selector_id;
        let mut state: InstigatorState = from_json(
            || format!("instigators.instigator_body of {selector_id}"),
            &self.instigator_body,
        )?;
        state.status = parse_status(InstigatorStatus::parse, &self.status, || {
            format!("instigators.status of {selector_id}")
        })?;
        state.selector_id = selector_id;
        state.name = self.name;
        state.instigator_type = self.instigator_type;
        Ok(state)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = daemon_heartbeats)]
struct HeartbeatRow {
    daemon_type: String,
    daemon_id: String,
    timestamp: f64,
    body: String,
}

impl HeartbeatRow {
    fn into_heartbeat(self) -> Result<DaemonHeartbeat, DbErr> {
        let daemon_type = self.daemon_type;
        let mut hb: DaemonHeartbeat = from_json(
            || format!("daemon_heartbeats.body of {daemon_type}"),
            &self.body,
        )?;
        hb.daemon_type = daemon_type;
        hb.daemon_id = self.daemon_id;
        hb.timestamp = self.timestamp;
        Ok(hb)
    }
}

/// A pending update of the asset index, applied at the end of a batch in key order.
#[derive(Clone)]
struct AssetUpdate {
    /// `(record, run id, event time)` of the latest materialization in the batch.
    materialization: Option<(EventRecord, String, NaiveDateTime)>,
}

/// The ENGINE_EVENT written instead of a refused run-status event.
fn refusal_event(
    ev: &NewEvent,
    event_type: EventType,
    target: RunStatus,
    current: Option<RunStatus>,
) -> NewEvent {
    let why = match current {
        None => "does not exist".to_string(),
        Some(st) if st.is_finished() => format!("is already {st}"),
        Some(st) => {
            let allowed: Vec<&str> = target
                .allowed_predecessors()
                .iter()
                .map(|s| s.as_str())
                .collect();
            format!("is {st} (allowed from: {})", allowed.join(", "))
        }
    };
    let mut metadata = vec![MetadataEntry::new(
        "ignored_event",
        MetadataValue::Text(event_type.name().to_string()),
    )];
    if !ev.message.is_empty() {
        metadata.push(MetadataEntry::new(
            "ignored_message",
            MetadataValue::Text(ev.message.clone()),
        ));
    }
    NewEvent {
        run_id: ev.run_id.clone(),
        job_name: ev.job_name.clone(),
        timestamp: ev.timestamp,
        level: LogLevel::Warning,
        message: format!("Ignored {}: run {} {why}", event_type.name(), ev.run_id),
        step_key: ev.step_key.clone(),
        event_type: Some(EventType::EngineEvent),
        run_tags: Default::default(),
        data: EventData::Engine {
            metadata,
            error: None,
        },
    }
}

/// A tag value (run columns `partition`, `partition_set`, `backfill_id` are filled from tags).
fn tag<'a>(tags: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    tags.get(key).map(String::as_str)
}

impl Storage for DbStorage {
    fn describe(&self) -> String {
        self.target.clone()
    }

    fn run_storage_id(&self) -> Result<Option<String>> {
        with_conn!(self, |c| {
            Ok(instance_info::table
                .select(instance_info::run_storage_id)
                .order(instance_info::id.asc())
                .first::<String>(c)
                .optional()?)
        })
    }

    fn migrate(&self) -> Result<Vec<String>> {
        migration_tx!(self, |c, m| {
            let done = c
                .run_pending_migrations(m)
                .map_err(|e| migration_err(&self.target, e))?;
            Ok(version_strings(&done))
        })
    }

    fn schema_version(&self) -> Result<(Option<String>, String)> {
        fn versions<DB: Backend, C: MigrationHarness<DB>>(
            c: &mut C,
            m: EmbeddedMigrations,
            target: &str,
        ) -> Result<(Option<String>, String), DbErr>
        where
            EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
        {
            let applied = c
                .applied_migrations()
                .map_err(|e| migration_err(target, e))?;
            let current = applied.iter().map(|v| v.to_string()).max();
            Ok((current, latest_embedded::<DB>(&m, target)?))
        }
        match &self.pools {
            Pools::Sqlite(p) => versions(&mut *self.checkout(p)?, SQLITE_MIGRATIONS, &self.target),
            Pools::Pg(p) => versions(&mut *self.checkout(p)?, PG_MIGRATIONS, &self.target),
        }
        .map_err(|e| self.fail(e))
    }
}

mod connect;
pub use connect::OpenOptions;
use connect::*;
mod event_store;
mod instigator_store;
mod kv_store;
mod run_store;
#[cfg(test)]
mod tests;
