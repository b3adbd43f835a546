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
    tags, AssetKey, EventData, EventRecord, EventType, LogLevel, MetadataEntry, MetadataValue,
    NewEvent, NewRun, Run, RunStatus, RunsFilter,
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

/// The parts of a libpq connection string we need for descriptions and redaction.
#[derive(Default)]
struct PgParts {
    user: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<String>,
    dbname: Option<String>,
}

impl PgParts {
    fn parse(url: &str) -> PgParts {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"));
        match rest {
            Some(rest) => Self::parse_uri(rest),
            None => Self::parse_keywords(url),
        }
    }

    /// URI form. The user info ends at the *last* `@`, so a password with an unescaped `@`, `/`
    /// or `:` is still recognised as the password.
    fn parse_uri(rest: &str) -> PgParts {
        let mut p = PgParts::default();
        let (userinfo, hostrest) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        if let Some(ui) = userinfo {
            match ui.split_once(':') {
                Some((u, pw)) => {
                    p.user = Some(u.to_string());
                    p.password = Some(pw.to_string());
                }
                None => p.user = Some(ui.to_string()),
            }
        }
        let (hostpath, query) = match hostrest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (hostrest, None),
        };
        let (hostport, db) = match hostpath.split_once('/') {
            Some((h, d)) => (h, Some(d)),
            None => (hostpath, None),
        };
        if !hostport.is_empty() {
            // `[::1]:5432` or `host:5432`
            let (h, port) = match hostport.rfind(':') {
                Some(i) if !hostport[i..].contains(']') => {
                    (&hostport[..i], Some(&hostport[i + 1..]))
                }
                _ => (hostport, None),
            };
            p.host = Some(h.to_string());
            p.port = port.filter(|s| !s.is_empty()).map(str::to_string);
        }
        p.dbname = db.filter(|d| !d.is_empty()).map(str::to_string);
        for pair in query.unwrap_or_default().split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                p.set(k, percent_decode(v));
            }
        }
        p
    }

    /// Keyword/value form: `host=h port=5432 password='a b'`.
    fn parse_keywords(s: &str) -> PgParts {
        let mut p = PgParts::default();
        let mut chars = s.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                key.push(c);
                chars.next();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.next_if_eq(&'=').is_none() {
                break;
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut value = String::new();
            if chars.next_if_eq(&'\'').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '\'' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            p.set(&key, value);
        }
        p
    }

    fn set(&mut self, key: &str, value: String) {
        match key {
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "host" | "hostaddr" => self.host = Some(value),
            "port" => self.port = Some(value),
            "dbname" => self.dbname = Some(value),
            _ => {}
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds libpq's `connect_timeout` (whole seconds, at least 2) unless the string sets one, so an
/// unreachable host fails within the pool's timeout instead of hanging in the kernel.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout") {
        return url.to_string();
    }
    let secs = timeout.as_secs().max(2);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}connect_timeout={secs}")
    } else {
        format!("{url} connect_timeout={secs}")
    }
}

/// Pool options.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenOptions {
    /// Maximum connections in the pool (default 8).
    pub pool_size: u32,
    /// How long to wait for a connection, at open and at every checkout (default 10 s).
    pub connect_timeout: Duration,
    /// Idle connections the pool keeps open (default 1: opening checks the database answers,
    /// and a long-lived process has one ready). A short-lived run worker uses 0, so it opens
    /// one connection when it first needs it instead of a spare beside it (a second
    /// Postgres backend per worker).
    pub min_idle: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            min_idle: 1,
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
        Ok(Tick {
            id,
            selector_id: self.selector_id,
            status: self.status,
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
        state.selector_id = selector_id;
        state.name = self.name;
        state.status = self.status;
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

fn migration_err(target: &str, e: impl fmt::Display) -> DbErr {
    DbErr::Storage(StorageError::Migration {
        target: target.to_string(),
        message: e.to_string(),
    })
}

fn version_strings(v: &[diesel::migration::MigrationVersion<'_>]) -> Vec<String> {
    v.iter().map(|v| v.to_string()).collect()
}

/// Latest version among the embedded migrations.
fn latest_embedded<DB: Backend>(m: &EmbeddedMigrations, target: &str) -> Result<String, DbErr>
where
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let all = diesel::migration::MigrationSource::<DB>::migrations(m)
        .map_err(|e| migration_err(target, e))?;
    Ok(all
        .iter()
        .map(|m| m.name().version().to_string())
        .max()
        .unwrap_or_default())
}

/// First use of an empty database applies every migration; a database with applied *and*
/// pending migrations is refused until `dagster instance migrate` runs.
fn init_or_check<DB: Backend, C: MigrationHarness<DB>>(
    c: &mut C,
    m: EmbeddedMigrations,
    target: &str,
) -> Result<(), DbErr>
where
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let applied = c
        .applied_migrations()
        .map_err(|e| migration_err(target, e))?;
    let latest = latest_embedded::<DB>(&m, target)?;
    if applied.is_empty() {
        let done = c
            .run_pending_migrations(m)
            .map_err(|e| migration_err(target, e))?;
        tracing::info!(storage = target, versions = ?version_strings(&done), "initialized empty database");
        return Ok(());
    }
    let current = applied
        .iter()
        .map(|v| v.to_string())
        .max()
        .unwrap_or_default();
    let pending = c
        .pending_migrations(m)
        .map_err(|e| migration_err(target, e))?;
    if !pending.is_empty() {
        let names: Vec<String> = pending.iter().map(|m| m.name().to_string()).collect();
        return Err(migration_err(
            target,
            format!(
                "database schema is at version {current}, this version of dagster needs {latest} \
                 (pending: {}): run `dagster instance migrate`",
                names.join(", ")
            ),
        ));
    }
    if current > latest {
        // Expand/contract: an older binary keeps working on a newer schema.
        tracing::warn!(
            storage = target,
            current,
            latest,
            "database schema is newer than this binary"
        );
    }
    Ok(())
}

impl DbStorage {
    /// Opens the pool. An empty database is migrated (first use). A database with pending
    /// migrations is an error telling the user to run `dagster instance migrate`, unless
    /// [`Storage::migrate`] is called on a storage from [`DbStorage::open_unchecked`].
    pub fn open(backend: &StorageBackend, opts: &OpenOptions) -> Result<DbStorage> {
        let s = Self::open_unchecked(backend, opts)?;
        migration_tx!(&s, |c, m| init_or_check(c, m, &s.target))?;
        Ok(s)
    }

    /// Opens without checking or applying migrations (for `dagster instance migrate` / `info`).
    pub fn open_unchecked(backend: &StorageBackend, opts: &OpenOptions) -> Result<DbStorage> {
        let target = backend.describe();
        let secrets = backend.secrets();
        let connect_err = |message: String| StorageError::Connect {
            target: target.clone(),
            message: redact(&secrets, message),
        };
        let pools = match backend {
            StorageBackend::Sqlite { path } => {
                let path_str = path.to_str().ok_or_else(|| {
                    connect_err("the database path is not valid UTF-8".to_string())
                })?;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        connect_err(format!("cannot create directory {}: {e}", parent.display()))
                    })?;
                }
                let manager = ConnectionManager::<SqliteConnection>::new(path_str);
                let pool = pool_builder(opts)
                    .connection_customizer(Box::new(SqliteSession))
                    .build(manager)
                    .map_err(|e| connect_err(e.to_string()))?;
                Pools::Sqlite(pool)
            }
            StorageBackend::Postgres { url } => {
                let manager = ConnectionManager::<PgConnection>::new(with_connect_timeout(
                    url,
                    opts.connect_timeout,
                ));
                let pool = pool_builder(opts)
                    .connection_customizer(Box::new(PgSession))
                    .build(manager)
                    .map_err(|e| connect_err(e.to_string()))?;
                Pools::Pg(pool)
            }
        };
        Ok(DbStorage {
            pools,
            target,
            secrets,
        })
    }

    /// Reverts every applied migration (test support: the up/down/up check).
    #[cfg(any(test, feature = "test-support"))]
    pub fn revert_all_migrations(&self) -> Result<Vec<String>> {
        migration_tx!(self, |c, m| {
            let done = c
                .revert_all_migrations(m)
                .map_err(|e| migration_err(&self.target, e))?;
            Ok(version_strings(&done))
        })
    }

    /// Reverts the latest applied migration (test support).
    #[cfg(any(test, feature = "test-support"))]
    pub fn revert_last_migration(&self) -> Result<String> {
        migration_tx!(self, |c, m| {
            let v = c
                .revert_last_migration(m)
                .map_err(|e| migration_err(&self.target, e))?;
            Ok(v.to_string())
        })
    }

    fn checkout<C>(
        &self,
        pool: &Pool<ConnectionManager<C>>,
    ) -> Result<PooledConnection<ConnectionManager<C>>>
    where
        C: diesel::r2d2::R2D2Connection + 'static,
    {
        pool.get().map_err(|e| StorageError::Connect {
            target: self.target.clone(),
            message: redact(&self.secrets, e.to_string()),
        })
    }

    fn fail(&self, e: DbErr) -> StorageError {
        match e {
            DbErr::Diesel(source) => StorageError::Query {
                target: self.target.clone(),
                source,
            },
            DbErr::Storage(e) => e,
        }
    }
}

fn pool_builder<C: diesel::r2d2::R2D2Connection + 'static>(
    opts: &OpenOptions,
) -> diesel::r2d2::Builder<ConnectionManager<C>> {
    Pool::builder()
        .max_size(opts.pool_size.max(1))
        .min_idle(Some(opts.min_idle.min(opts.pool_size.max(1))))
        .connection_timeout(opts.connect_timeout.max(Duration::from_millis(100)))
}

fn redact(secrets: &[String], mut message: String) -> String {
    for s in secrets {
        message = message.replace(s.as_str(), "***");
    }
    message
}

impl RunStore for DbStorage {
    fn add_run(&self, new: NewRun) -> Result<Run> {
        let now = now_dt();
        let run = Run {
            run_id: new
                .run_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            job_name: new.job_name,
            status: new.status.unwrap_or(RunStatus::NotStarted),
            tags: new.tags,
            run_config: if new.run_config.is_null() {
                serde_json::json!({})
            } else {
                new.run_config
            },
            asset_selection: new.asset_selection,
            step_keys_to_execute: new.step_keys_to_execute,
            parent_run_id: new.parent_run_id,
            root_run_id: new.root_run_id,
            code_location: new.code_location,
            create_time: dt_to_ts(now),
            update_time: dt_to_ts(now),
            start_time: None,
            end_time: None,
        };
        let body = to_json("run body", &run).map_err(|e| self.fail(e))?;
        write_tx!(self, |c| {
            let inserted = diesel::insert_into(runs::table)
                .values((
                    runs::run_id.eq(&run.run_id),
                    runs::pipeline_name.eq(&run.job_name),
                    runs::status.eq(run.status.as_str()),
                    runs::run_body.eq(&body),
                    runs::partition.eq(tag(&run.tags, "dagster/partition")),
                    runs::partition_set.eq(tag(&run.tags, "dagster/partition_set")),
                    runs::backfill_id.eq(tag(&run.tags, tags::BACKFILL)),
                    runs::create_timestamp.eq(now),
                    runs::update_timestamp.eq(now),
                ))
                .on_conflict(runs::run_id)
                .do_nothing()
                .execute(c)?;
            if inserted == 0 {
                return Err(StorageError::RunExists(run.run_id.clone()).into());
            }
            if matches!(run.status, RunStatus::Queued | RunStatus::Canceling) {
                c.notify_runs(&[(run.status, run.run_id.as_str())])?;
            }
            // A new run (its id was refused above if taken): nothing to replace.
            upsert_run_tags!(
                c,
                run.tags
                    .iter()
                    .map(|(k, v)| (run.run_id.as_str(), k.as_str(), v.as_str()))
            );
            Ok(())
        })?;
        Ok(run)
    }

    fn get_run(&self, run_id: &str) -> Result<Option<Run>> {
        with_conn!(self, |c| {
            let row: Option<RunRow> = runs::table
                .filter(runs::run_id.eq(run_id))
                .select(RunRow::as_select())
                .first(c)
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let tags: Vec<(String, String)> = run_tags::table
                .filter(run_tags::run_id.eq(run_id))
                .select((run_tags::key, run_tags::value))
                .load(c)?;
            Ok(Some(row.into_run(tags.into_iter().collect())?))
        })
    }

    fn list_runs(
        &self,
        filter: &RunsFilter,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Run>> {
        with_conn!(self, |c| {
            let ordered = if filter.oldest_first {
                runs::table
                    .select(RunRow::as_select())
                    .order(runs::id.asc())
                    .into_boxed()
            } else {
                runs::table
                    .select(RunRow::as_select())
                    .order(runs::id.desc())
                    .into_boxed()
            };
            let mut q = filter_runs!(ordered, filter);
            if let Some(cursor) = cursor {
                let cursor_id: Option<i64> = runs::table
                    .filter(runs::run_id.eq(cursor))
                    .select(runs::id)
                    .first(c)
                    .optional()?;
                match cursor_id {
                    Some(id) if filter.oldest_first => q = q.filter(runs::id.gt(id)),
                    Some(id) => q = q.filter(runs::id.lt(id)),
                    // The cursor run was deleted: nothing can be placed after it.
                    None => return Ok(Vec::new()),
                }
            }
            if let Some(limit) = limit {
                q = q.limit(to_i64(limit));
            }
            let rows: Vec<RunRow> = q.load(c)?;
            let ids: Vec<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
            let mut tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
            for chunk in ids.chunks(CHUNK) {
                for (run_id, k, v) in c.tags_of_runs(chunk)? {
                    tags.entry(run_id).or_default().insert(k, v);
                }
            }
            rows.into_iter()
                .map(|r| {
                    let t = tags.remove(&r.run_id).unwrap_or_default();
                    r.into_run(t)
                })
                .collect()
        })
    }

    fn count_runs(&self, filter: &RunsFilter) -> Result<i64> {
        with_conn!(self, |c| {
            let q = filter_runs!(
                runs::table.select(diesel::dsl::count_star()).into_boxed(),
                filter
            );
            Ok(q.get_result::<i64>(c)?)
        })
    }

    fn run_tag_keys(&self) -> Result<Vec<String>> {
        with_conn!(self, |c| {
            let rows: Vec<TagKeyRow> = diesel::sql_query(DISTINCT_TAG_KEYS).load(c)?;
            Ok(rows.into_iter().filter_map(|r| r.key).collect())
        })
    }

    fn run_tag_values(
        &self,
        keys: Option<&[String]>,
        value_prefix: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<(String, Vec<String>)>> {
        // An exact, case-sensitive prefix test on both backends (SQLite's LIKE ignores ASCII
        // case; Postgres' range comparisons follow the database collation).
        let prefix = value_prefix
            .filter(|p| !p.is_empty())
            .map(|p| (p, i32::try_from(p.chars().count()).unwrap_or(i32::MAX)));
        let mut pairs: Vec<(String, String)> = Vec::new();
        let key_chunks: Vec<Option<&[String]>> = match keys {
            Some(keys) => keys.chunks(CHUNK).map(Some).collect(),
            None => vec![None],
        };
        // Keys are disjoint between chunks and each chunk is ordered by (key, value), so the
        // chunks' results concatenated and sorted stay ordered; the limit applies overall.
        with_conn!(self, |c| {
            for chunk in &key_chunks {
                let mut q = run_tags::table
                    .select((run_tags::key, run_tags::value))
                    .distinct()
                    .order((run_tags::key.asc(), run_tags::value.asc()))
                    .into_boxed();
                if let Some(chunk) = chunk {
                    q = q.filter(run_tags::key.eq_any(*chunk));
                }
                if let Some((p, n)) = prefix {
                    q = q.filter(substr(run_tags::value, 1, n).eq(p));
                }
                if let Some(limit) = limit {
                    q = q.limit(to_i64(limit));
                }
                let rows: Vec<(String, String)> = q.load(c)?;
                pairs.extend(rows);
            }
            Ok(())
        })?;
        pairs.sort();
        if let Some(limit) = limit {
            pairs.truncate(limit);
        }
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in pairs {
            match out.last_mut() {
                Some((last, values)) if *last == k => values.push(v),
                _ => out.push((k, vec![v])),
            }
        }
        Ok(out)
    }

    fn add_run_tags(&self, run_id: &str, new_tags: &BTreeMap<String, String>) -> Result<()> {
        write_tx!(self, |c| {
            // Lock order everywhere: run lock, runs row, run_tags rows.
            c.lock_runs(&[run_id])?;
            let body: Option<String> = runs::table
                .filter(runs::run_id.eq(run_id))
                .select(runs::run_body)
                .first(c)
                .optional()?;
            let Some(body) = body else {
                return Err(StorageError::RunNotFound(run_id.to_string()).into());
            };
            let mut v: serde_json::Value =
                from_json(|| format!("runs.run_body of run {run_id}"), &body)?;
            if let Some(obj) = v.get_mut("tags").and_then(|t| t.as_object_mut()) {
                for (k, val) in new_tags {
                    obj.insert(k.clone(), serde_json::Value::String(val.clone()));
                }
            }
            diesel::update(runs::table.filter(runs::run_id.eq(run_id)))
                .set(runs::run_body.eq(to_json("run body", &v)?))
                .execute(c)?;
            upsert_run_tags!(
                c,
                new_tags
                    .iter()
                    .map(|(k, val)| (run_id, k.as_str(), val.as_str()))
            );
            Ok(())
        })
    }

    fn delete_run(&self, run_id: &str) -> Result<bool> {
        write_tx!(self, |c| {
            c.lock_runs(&[run_id])?;
            diesel::delete(event_logs::table.filter(event_logs::run_id.eq(run_id))).execute(c)?;
            diesel::delete(run_tags::table.filter(run_tags::run_id.eq(run_id))).execute(c)?;
            let n = diesel::delete(runs::table.filter(runs::run_id.eq(run_id))).execute(c)?;
            Ok(n > 0)
        })
    }

    fn wipe_runs(&self) -> Result<()> {
        write_tx!(self, |c| {
            diesel::delete(event_logs::table).execute(c)?;
            // The asset index points at events that no longer exist.
            diesel::delete(asset_keys::table).execute(c)?;
            diesel::delete(run_tags::table).execute(c)?;
            diesel::delete(runs::table).execute(c)?;
            Ok(())
        })
    }

    fn record_worker_heartbeat(&self, run_id: &str, pid: u32, at: f64) -> Result<()> {
        with_conn!(self, |c| {
            let n = diesel::update(runs::table.filter(runs::run_id.eq(run_id)))
                .set((
                    runs::worker_pid.eq(Some(i64::from(pid))),
                    runs::worker_heartbeat.eq(Some(at)),
                ))
                .execute(c)?;
            if n == 0 {
                return Err(StorageError::RunNotFound(run_id.to_string()).into());
            }
            Ok(())
        })
    }

    fn worker_heartbeat(&self, run_id: &str) -> Result<Option<(u32, f64)>> {
        with_conn!(self, |c| {
            let row: Option<(Option<i64>, Option<f64>)> = runs::table
                .filter(runs::run_id.eq(run_id))
                .select((runs::worker_pid, runs::worker_heartbeat))
                .first(c)
                .optional()?;
            match row {
                Some((Some(pid), Some(at))) => {
                    let pid = u32::try_from(pid).map_err(|_| {
                        corrupt(
                            format!("runs.worker_pid of run {run_id}"),
                            format!("{pid} is not a pid"),
                        )
                    })?;
                    Ok(Some((pid, at)))
                }
                _ => Ok(None),
            }
        })
    }
}

/// `event_logs` rows `(id, event JSON)` as records.
fn event_records(rows: impl IntoIterator<Item = (i64, String)>) -> Result<Vec<EventRecord>, DbErr> {
    rows.into_iter()
        .map(|(id, body)| {
            let event: NewEvent = from_json(|| format!("event_logs row {id}"), &body)?;
            Ok(EventRecord {
                storage_id: id,
                event,
            })
        })
        .collect()
}

impl EventLogStore for DbStorage {
    fn store_events(&self, events: &[NewEvent]) -> Result<StoreOutcome> {
        if events.is_empty() {
            return Ok(StoreOutcome::default());
        }
        let mut run_ids: Vec<&str> = events.iter().map(|e| e.run_id.as_str()).collect();
        run_ids.sort_unstable();
        run_ids.dedup();
        let (outcome, assets) = write_tx!(self, |c| {
            c.lock_runs(&run_ids)?;
            let mut out = StoreOutcome::default();
            let mut assets: BTreeMap<String, AssetUpdate> = BTreeMap::new();
            let mut wake: Vec<(RunStatus, &str)> = Vec::new();
            // What the batch's status changes write besides the status columns, collected and
            // written with one statement each after the loop (a batch of claimed runs is one
            // round trip per run, not five): each moved run's latest body (a run moving twice
            // in one batch builds on its first move), its tags (the last value of a key wins).
            let mut bodies: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
            let mut set_tags: BTreeMap<(&str, &str), &str> = BTreeMap::new();
            // Per event, the ENGINE_EVENT stored instead of a refused status change.
            let mut replacements: Vec<Option<NewEvent>> = Vec::with_capacity(events.len());
            for ev in events {
                let mut replacement = None;
                if let Some((event_type, target)) = ev
                    .event_type
                    .and_then(|t| RunStatus::from_event(t).map(|s| (t, s)))
                {
                    let start = (event_type == EventType::RunStart).then_some(ev.timestamp);
                    let end = target.is_finished().then_some(ev.timestamp);
                    let preds: Vec<&str> = target
                        .allowed_predecessors()
                        .iter()
                        .map(|s| s.as_str())
                        .collect();
                    // RETURNING: the body to update, without a second round trip.
                    let moved: Option<(String, Option<f64>, Option<f64>)> = diesel::update(
                        runs::table
                            .filter(runs::run_id.eq(&ev.run_id))
                            .filter(runs::status.eq_any(preds)),
                    )
                    .set((
                        runs::status.eq(target.as_str()),
                        runs::update_timestamp.eq(ts_to_dt(ev.timestamp)),
                        runs::start_time.eq(coalesce(runs::start_time, start)),
                        runs::end_time.eq(coalesce(end, runs::end_time)),
                    ))
                    .returning((runs::run_body, runs::start_time, runs::end_time))
                    .get_result(c)
                    .optional()?;
                    if let Some((body, start_time, end_time)) = moved {
                        // QUEUED: a run to claim; CANCELING: a run to watch; finished: a
                        // slot freed for a queue held back by its limits.
                        if matches!(target, RunStatus::Queued | RunStatus::Canceling)
                            || target.is_finished()
                        {
                            wake.push((target, ev.run_id.as_str()));
                        }
                        let mut v = match bodies.remove(ev.run_id.as_str()) {
                            Some(v) => v,
                            None => {
                                from_json(|| format!("runs.run_body of run {}", ev.run_id), &body)?
                            }
                        };
                        let reason = match (&ev.data, target) {
                            (
                                EventData::Failure {
                                    reason: Some(r), ..
                                },
                                RunStatus::Failure,
                            ) => Some(r.as_str()),
                            _ => None,
                        };
                        if let Some(obj) = v.as_object_mut() {
                            obj.insert("status".into(), serde_json::json!(target));
                            obj.insert(
                                "update_time".into(),
                                serde_json::json!(dt_to_ts(ts_to_dt(ev.timestamp))),
                            );
                            obj.insert("start_time".into(), serde_json::json!(start_time));
                            obj.insert("end_time".into(), serde_json::json!(end_time));
                            if let Some(t) = obj.get_mut("tags").and_then(|t| t.as_object_mut()) {
                                if let Some(r) = reason {
                                    t.insert(tags::FAILURE_REASON.into(), serde_json::json!(r));
                                }
                                for (k, val) in &ev.run_tags {
                                    t.insert(k.clone(), serde_json::json!(val));
                                }
                            }
                        }
                        bodies.insert(ev.run_id.as_str(), v);
                        let reason_tag = reason.map(|r| (tags::FAILURE_REASON, r));
                        for (k, val) in reason_tag
                            .into_iter()
                            .chain(ev.run_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        {
                            set_tags.insert((ev.run_id.as_str(), k), val);
                        }
                    } else {
                        let current: Option<String> = runs::table
                            .filter(runs::run_id.eq(&ev.run_id))
                            .select(runs::status)
                            .first(c)
                            .optional()?;
                        let current = current.as_deref().and_then(RunStatus::parse);
                        tracing::warn!(
                            run.id = %ev.run_id,
                            event = event_type.name(),
                            current = current.map(RunStatus::as_str),
                            "refused run status transition"
                        );
                        out.rejected.push((
                            ev.run_id.clone(),
                            event_type.name().to_string(),
                            current,
                        ));
                        replacement = Some(refusal_event(ev, event_type, target, current));
                    }
                }
                replacements.push(replacement);
            }
            let bodies: Vec<(&str, String)> = bodies
                .into_iter()
                .map(|(id, v)| Ok((id, to_json("run body", &v)?)))
                .collect::<Result<_, DbErr>>()?;
            c.set_run_bodies(&bodies)?;
            upsert_run_tags!(c, set_tags.into_iter().map(|((id, k), v)| (id, k, v)));
            // The events, one multi-row INSERT per chunk. Ids come from the table's sequence
            // (Postgres) or rowid (SQLite) in VALUES order, so the sorted returned ids are
            // the rows' ids in input order (RETURNING itself promises no order).
            let written: Vec<&NewEvent> = events
                .iter()
                .zip(&replacements)
                .map(|(ev, r)| r.as_ref().unwrap_or(ev))
                .collect();
            let asset_keys: Vec<Option<String>> = written
                .iter()
                .map(|w| {
                    w.event_type
                        .filter(|t| t.is_asset_event())
                        .and_then(|_| w.asset_key())
                        .map(AssetKey::to_db_string)
                })
                .collect();
            let mut ids: Vec<i64> = Vec::with_capacity(written.len());
            for (chunk, keys) in written.chunks(CHUNK).zip(asset_keys.chunks(CHUNK)) {
                let rows = chunk
                    .iter()
                    .zip(keys)
                    .map(|(w, key)| {
                        Ok((
                            event_logs::run_id.eq(&w.run_id),
                            event_logs::event.eq(to_json("event", w)?),
                            event_logs::dagster_event_type
                                .eq(w.event_type.map(EventType::stored_value)),
                            event_logs::timestamp.eq(ts_to_dt(w.timestamp)),
                            event_logs::step_key.eq(&w.step_key),
                            event_logs::asset_key.eq(key),
                            event_logs::partition.eq(key.as_ref().and_then(|_| w.partition())),
                        ))
                    })
                    .collect::<Result<Vec<_>, DbErr>>()?;
                let mut got: Vec<i64> = diesel::insert_into(event_logs::table)
                    .values(rows)
                    .returning(event_logs::id)
                    .get_results(c)?;
                got.sort_unstable();
                ids.extend(got);
            }
            for (((ev, replacement), id), asset_key) in
                events.iter().zip(&replacements).zip(ids).zip(asset_keys)
            {
                if replacement.is_some() {
                    continue;
                }
                out.storage_ids.push(id);
                if let Some(key) = asset_key {
                    let update = assets.entry(key).or_insert(AssetUpdate {
                        materialization: None,
                    });
                    if ev.event_type == Some(EventType::AssetMaterialization) {
                        let record = EventRecord {
                            storage_id: id,
                            event: ev.clone(),
                        };
                        update.materialization =
                            Some((record, ev.run_id.clone(), ts_to_dt(ev.timestamp)));
                    }
                }
            }
            c.notify_runs(&wake)?;
            if c.assets_after_commit() {
                return Ok((out, assets));
            }
            upsert_assets!(c, assets);
            Ok((out, BTreeMap::new()))
        })?;
        if !assets.is_empty() {
            // Postgres: the asset rows are updated after the events committed, each in its own
            // short statement. Inside the transaction, every run materializing the same asset
            // would queue on its row until the holder's COMMIT came back from a client that,
            // on a busy host, waits for the CPU (measured: 200 ms per row lock at 70 runs/s).
            // The rows are a pointer to the latest materialization; the events are the record.
            // A failure here is retried once and then logged: the events stay stored (storing
            // them again would duplicate them), and the next materialization moves the pointer.
            let mut result = with_conn!(self, |c| {
                upsert_assets!(c, assets.clone());
                Ok(())
            });
            if result.is_err() {
                result = with_conn!(self, |c| {
                    upsert_assets!(c, assets.clone());
                    Ok(())
                });
            }
            if let Err(e) = result {
                tracing::error!(error = %e, assets = ?assets.keys().collect::<Vec<_>>(), "updating the assets' latest materialization failed; their events are stored");
            }
        }
        Ok(outcome)
    }

    fn events_for_run(&self, run_id: &str, after: Option<i64>, limit: usize) -> Result<EventPage> {
        with_conn!(self, |c| {
            let rows: Vec<(i64, String)> = event_logs::table
                .filter(event_logs::run_id.eq(run_id))
                .filter(event_logs::id.gt(after.unwrap_or(0)))
                .order(event_logs::id.asc())
                .select((event_logs::id, event_logs::event))
                .limit(to_i64(limit).saturating_add(1))
                .load(c)?;
            let has_more = rows.len() > limit;
            let events = event_records(rows.into_iter().take(limit))?;
            let cursor = events.last().map(|e| e.storage_id).or(after);
            Ok(EventPage {
                events,
                cursor,
                has_more,
            })
        })
    }

    fn events_for_step(
        &self,
        run_id: &str,
        step_key: &str,
        limit: usize,
    ) -> Result<Vec<EventRecord>> {
        with_conn!(self, |c| {
            let rows: Vec<(i64, String)> = event_logs::table
                .filter(event_logs::run_id.eq(run_id))
                .filter(event_logs::step_key.eq(step_key))
                .order(event_logs::id.asc())
                .select((event_logs::id, event_logs::event))
                .limit(to_i64(limit))
                .load(c)?;
            event_records(rows)
        })
    }

    fn latest_event_id(&self) -> Result<Option<i64>> {
        with_conn!(self, |c| {
            let id: Option<i64> = event_logs::table
                .select(diesel::dsl::max(event_logs::id))
                .first(c)?;
            Ok(id)
        })
    }

    fn asset_records(&self, keys: Option<&[AssetKey]>) -> Result<Vec<AssetRecord>> {
        with_conn!(self, |c| {
            type Row = (String, Option<String>, Option<String>);
            let base = || {
                asset_keys::table
                    .filter(asset_keys::wipe_timestamp.is_null())
                    .select((
                        asset_keys::asset_key,
                        asset_keys::last_materialization,
                        asset_keys::last_run_id,
                    ))
                    .order(asset_keys::asset_key.asc())
            };
            let rows: Vec<Row> = match keys {
                None => base().load(c)?,
                Some(keys) => {
                    let strs: Vec<String> = keys.iter().map(AssetKey::to_db_string).collect();
                    let mut rows = Vec::new();
                    for chunk in strs.chunks(CHUNK) {
                        rows.extend(
                            base()
                                .filter(asset_keys::asset_key.eq_any(chunk))
                                .load::<Row>(c)?,
                        );
                    }
                    rows.sort_by(|a, b| a.0.cmp(&b.0));
                    rows
                }
            };
            rows.into_iter()
                .map(|(key, last, last_run_id)| {
                    let asset_key = AssetKey::from_db_string(&key).ok_or_else(|| {
                        corrupt(
                            "asset_keys.asset_key",
                            format!("not a JSON string array: {key}"),
                        )
                    })?;
                    let last_materialization = match last {
                        Some(s) => Some(from_json(
                            || format!("asset_keys.last_materialization of {key}"),
                            &s,
                        )?),
                        None => None,
                    };
                    Ok(AssetRecord {
                        asset_key,
                        last_materialization,
                        last_run_id,
                    })
                })
                .collect()
        })
    }

    fn asset_events(
        &self,
        key: &AssetKey,
        types: &[EventType],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRecord>> {
        let key = key.to_db_string();
        let types: Vec<&str> = types.iter().map(|t| t.stored_value()).collect();
        with_conn!(self, |c| {
            let mut q = event_logs::table
                .filter(event_logs::asset_key.eq(&key))
                .filter(event_logs::dagster_event_type.eq_any(&types))
                .select((event_logs::id, event_logs::event))
                .order(event_logs::id.desc())
                .limit(to_i64(limit))
                .into_boxed();
            if let Some(before) = before {
                q = q.filter(event_logs::id.lt(before));
            }
            let rows: Vec<(i64, String)> = q.load(c)?;
            event_records(rows)
        })
    }

    fn wipe_asset(&self, key: &AssetKey) -> Result<()> {
        let key = key.to_db_string();
        write_tx!(self, |c| {
            diesel::update(asset_keys::table.filter(asset_keys::asset_key.eq(&key)))
                .set((
                    asset_keys::last_materialization.eq(None::<String>),
                    asset_keys::last_run_id.eq(None::<String>),
                    asset_keys::last_materialization_timestamp.eq(None::<NaiveDateTime>),
                    asset_keys::wipe_timestamp.eq(Some(now_dt())),
                ))
                .execute(c)?;
            // The events stay in their runs' logs but leave the asset index.
            diesel::update(event_logs::table.filter(event_logs::asset_key.eq(&key)))
                .set(event_logs::asset_key.eq(None::<String>))
                .execute(c)?;
            Ok(())
        })
    }
}

impl InstigatorStore for DbStorage {
    fn get_instigator(&self, selector_id: &str) -> Result<Option<InstigatorState>> {
        with_conn!(self, |c| {
            let row: Option<InstigatorRow> = instigators::table
                .filter(instigators::selector_id.eq(selector_id))
                .select(InstigatorRow::as_select())
                .first(c)
                .optional()?;
            row.map(InstigatorRow::into_state).transpose()
        })
    }

    fn list_instigators(&self, instigator_type: Option<&str>) -> Result<Vec<InstigatorState>> {
        with_conn!(self, |c| {
            let mut q = instigators::table
                .select(InstigatorRow::as_select())
                .order((instigators::name.asc(), instigators::selector_id.asc()))
                .into_boxed();
            if let Some(t) = instigator_type {
                q = q.filter(instigators::instigator_type.eq(t));
            }
            let rows: Vec<InstigatorRow> = q.load(c)?;
            rows.into_iter().map(InstigatorRow::into_state).collect()
        })
    }

    fn upsert_instigator(&self, state: &InstigatorState) -> Result<()> {
        let now = now_dt();
        with_conn!(self, |c| {
            let body = to_json("instigator state", state)?;
            diesel::insert_into(instigators::table)
                .values((
                    instigators::selector_id.eq(&state.selector_id),
                    instigators::name.eq(&state.name),
                    instigators::status.eq(&state.status),
                    instigators::instigator_type.eq(&state.instigator_type),
                    instigators::instigator_body.eq(&body),
                    instigators::create_timestamp.eq(now),
                    instigators::update_timestamp.eq(now),
                ))
                .on_conflict(instigators::selector_id)
                .do_update()
                .set((
                    instigators::name.eq(excluded(instigators::name)),
                    instigators::status.eq(excluded(instigators::status)),
                    instigators::instigator_type.eq(excluded(instigators::instigator_type)),
                    instigators::instigator_body.eq(excluded(instigators::instigator_body)),
                    instigators::update_timestamp.eq(excluded(instigators::update_timestamp)),
                ))
                .execute(c)?;
            Ok(())
        })
    }

    fn create_tick(
        &self,
        selector_id: &str,
        tick_type: &str,
        timestamp: f64,
        unique: bool,
        body: &serde_json::Value,
    ) -> Result<Option<Tick>> {
        let now = now_dt();
        let unique_key = unique.then(|| format!("{selector_id}@{timestamp}"));
        let status = "STARTED";
        with_conn!(self, |c| {
            let tick_body = to_json("tick body", body)?;
            let id: Option<i64> = diesel::insert_into(job_ticks::table)
                .values((
                    job_ticks::selector_id.eq(selector_id),
                    job_ticks::status.eq(status),
                    job_ticks::tick_type.eq(tick_type),
                    job_ticks::timestamp.eq(timestamp),
                    job_ticks::tick_body.eq(&tick_body),
                    job_ticks::unique_key.eq(&unique_key),
                    job_ticks::failure_count.eq(body_failure_count(body)),
                    job_ticks::create_timestamp.eq(now),
                    job_ticks::update_timestamp.eq(now),
                ))
                .on_conflict(job_ticks::unique_key)
                .do_nothing()
                .returning(job_ticks::id)
                .get_result(c)
                .optional()?;
            Ok(id.map(|id| Tick {
                id,
                selector_id: selector_id.to_string(),
                status: status.to_string(),
                tick_type: tick_type.to_string(),
                timestamp,
                body: body.clone(),
            }))
        })
    }

    fn update_tick(&self, id: i64, status: &str, body: &serde_json::Value) -> Result<()> {
        with_conn!(self, |c| {
            let n = diesel::update(job_ticks::table.find(id))
                .set((
                    job_ticks::status.eq(status),
                    job_ticks::tick_body.eq(to_json("tick body", body)?),
                    job_ticks::failure_count.eq(body_failure_count(body)),
                    job_ticks::update_timestamp.eq(now_dt()),
                ))
                .execute(c)?;
            if n == 0 {
                return Err(StorageError::TickNotFound(id).into());
            }
            Ok(())
        })
    }

    fn transition_tick(
        &self,
        id: i64,
        from: &str,
        to: &str,
        body: &serde_json::Value,
    ) -> Result<bool> {
        with_conn!(self, |c| {
            let n = diesel::update(
                job_ticks::table
                    .filter(job_ticks::id.eq(id))
                    .filter(job_ticks::status.eq(from)),
            )
            .set((
                job_ticks::status.eq(to),
                job_ticks::tick_body.eq(to_json("tick body", body)?),
                job_ticks::failure_count.eq(body_failure_count(body)),
                job_ticks::update_timestamp.eq(now_dt()),
            ))
            .execute(c)?;
            Ok(n == 1)
        })
    }

    fn ticks_to_resume(&self, selector_id: &str, max_failure_count: u64) -> Result<Vec<Tick>> {
        let max = i64::try_from(max_failure_count).unwrap_or(i64::MAX);
        with_conn!(self, |c| {
            // Two range scans of idx_tick_selector_status: exhausted FAILURE ticks (count
            // above the maximum) and finished ticks are never read.
            let mut rows: Vec<TickRow> = job_ticks::table
                .filter(job_ticks::selector_id.eq(selector_id))
                .filter(job_ticks::status.eq("STARTED"))
                .select(TickRow::as_select())
                .load(c)?;
            if max >= 1 {
                rows.extend(
                    job_ticks::table
                        .filter(job_ticks::selector_id.eq(selector_id))
                        .filter(job_ticks::status.eq("FAILURE"))
                        .filter(job_ticks::failure_count.between(1, max))
                        .select(TickRow::as_select())
                        .load::<TickRow>(c)?,
                );
            }
            rows.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp).then(a.id.cmp(&b.id)));
            rows.into_iter().map(TickRow::into_tick).collect()
        })
    }

    fn purge_ticks(&self, tick_type: &str, status: &str, before: f64) -> Result<usize> {
        with_conn!(self, |c| {
            Ok(diesel::delete(
                job_ticks::table
                    .filter(job_ticks::tick_type.eq(tick_type))
                    .filter(job_ticks::status.eq(status))
                    .filter(job_ticks::timestamp.lt(before)),
            )
            .execute(c)?)
        })
    }

    fn list_ticks(&self, selector_id: &str, limit: usize) -> Result<Vec<Tick>> {
        with_conn!(self, |c| {
            let rows: Vec<TickRow> = job_ticks::table
                .filter(job_ticks::selector_id.eq(selector_id))
                .order((job_ticks::timestamp.desc(), job_ticks::id.desc()))
                .limit(to_i64(limit))
                .select(TickRow::as_select())
                .load(c)?;
            rows.into_iter().map(TickRow::into_tick).collect()
        })
    }

    fn find_ticks(
        &self,
        selector_id: &str,
        filter: &TickFilter,
        limit: usize,
    ) -> Result<Vec<Tick>> {
        with_conn!(self, |c| {
            let mut q = job_ticks::table
                .filter(job_ticks::selector_id.eq(selector_id))
                .into_boxed();
            if let Some(a) = filter.after {
                q = q.filter(job_ticks::timestamp.gt(a));
            }
            if let Some(b) = filter.before {
                q = q.filter(job_ticks::timestamp.lt(b));
            }
            if let Some(s) = &filter.statuses {
                q = q.filter(job_ticks::status.eq_any(s));
            }
            if let Some(id) = filter.before_id {
                q = q.filter(job_ticks::id.lt(id));
            }
            let rows: Vec<TickRow> = q
                .order((job_ticks::timestamp.desc(), job_ticks::id.desc()))
                .limit(to_i64(limit))
                .select(TickRow::as_select())
                .load(c)?;
            rows.into_iter().map(TickRow::into_tick).collect()
        })
    }

    fn get_tick(&self, id: i64) -> Result<Option<Tick>> {
        with_conn!(self, |c| {
            let row: Option<TickRow> = job_ticks::table
                .filter(job_ticks::id.eq(id))
                .select(TickRow::as_select())
                .first(c)
                .optional()?;
            row.map(TickRow::into_tick).transpose()
        })
    }
}

impl DaemonStore for DbStorage {
    fn add_heartbeat(&self, hb: &DaemonHeartbeat) -> Result<()> {
        with_conn!(self, |c| {
            diesel::insert_into(daemon_heartbeats::table)
                .values((
                    daemon_heartbeats::daemon_type.eq(&hb.daemon_type),
                    daemon_heartbeats::daemon_id.eq(&hb.daemon_id),
                    daemon_heartbeats::timestamp.eq(hb.timestamp),
                    daemon_heartbeats::body.eq(to_json("daemon heartbeat", hb)?),
                ))
                .on_conflict(daemon_heartbeats::daemon_type)
                .do_update()
                .set((
                    daemon_heartbeats::daemon_id.eq(excluded(daemon_heartbeats::daemon_id)),
                    daemon_heartbeats::timestamp.eq(excluded(daemon_heartbeats::timestamp)),
                    daemon_heartbeats::body.eq(excluded(daemon_heartbeats::body)),
                ))
                .execute(c)?;
            Ok(())
        })
    }

    fn heartbeats(&self) -> Result<Vec<DaemonHeartbeat>> {
        with_conn!(self, |c| {
            let rows: Vec<HeartbeatRow> = daemon_heartbeats::table
                .order(daemon_heartbeats::daemon_type.asc())
                .select(HeartbeatRow::as_select())
                .load(c)?;
            rows.into_iter().map(HeartbeatRow::into_heartbeat).collect()
        })
    }

    fn wipe_heartbeats(&self) -> Result<()> {
        with_conn!(self, |c| {
            diesel::delete(daemon_heartbeats::table).execute(c)?;
            Ok(())
        })
    }
}

impl KvStore for DbStorage {
    fn kv_get(&self, key: &str) -> Result<Option<String>> {
        with_conn!(self, |c| {
            Ok(kvs::table
                .filter(kvs::key.eq(key))
                .select(kvs::value)
                .first(c)
                .optional()?)
        })
    }

    fn kv_set(&self, key: &str, value: &str) -> Result<()> {
        with_conn!(self, |c| {
            diesel::insert_into(kvs::table)
                .values((kvs::key.eq(key), kvs::value.eq(value)))
                .on_conflict(kvs::key)
                .do_update()
                .set(kvs::value.eq(excluded(kvs::value)))
                .execute(c)?;
            Ok(())
        })
    }

    fn kv_delete(&self, key: &str) -> Result<()> {
        with_conn!(self, |c| {
            diesel::delete(kvs::table.filter(kvs::key.eq(key))).execute(c)?;
            Ok(())
        })
    }

    fn kv_try_lease(&self, key: &str, owner: &str, now: f64, ttl: f64) -> Result<bool> {
        let new_value = serde_json::json!({"owner": owner, "expires": now + ttl}).to_string();
        with_conn!(self, |c| {
            let current: Option<String> = kvs::table
                .filter(kvs::key.eq(key))
                .select(kvs::value)
                .first(c)
                .optional()?;
            let Some(current) = current else {
                let n = diesel::insert_into(kvs::table)
                    .values((kvs::key.eq(key), kvs::value.eq(&new_value)))
                    .on_conflict(kvs::key)
                    .do_nothing()
                    .execute(c)?;
                return Ok(n == 1);
            };
            let held: serde_json::Value = serde_json::from_str(&current).unwrap_or_default();
            let holder = held.get("owner").and_then(|o| o.as_str()).unwrap_or("");
            let expires = held.get("expires").and_then(|e| e.as_f64()).unwrap_or(0.0);
            if holder != owner && expires > now {
                return Ok(false);
            }
            // Compare-and-swap: only if nobody changed the lease since it was read.
            let n = diesel::update(
                kvs::table
                    .filter(kvs::key.eq(key))
                    .filter(kvs::value.eq(&current)),
            )
            .set(kvs::value.eq(&new_value))
            .execute(c)?;
            Ok(n == 1)
        })
    }

    fn kv_release_lease(&self, key: &str, owner: &str) -> Result<()> {
        with_conn!(self, |c| {
            let current: Option<String> = kvs::table
                .filter(kvs::key.eq(key))
                .select(kvs::value)
                .first(c)
                .optional()?;
            if let Some(current) = current {
                let held: serde_json::Value = serde_json::from_str(&current).unwrap_or_default();
                if held.get("owner").and_then(|o| o.as_str()) == Some(owner) {
                    diesel::delete(
                        kvs::table
                            .filter(kvs::key.eq(key))
                            .filter(kvs::value.eq(&current)),
                    )
                    .execute(c)?;
                }
            }
            Ok(())
        })
    }

    fn kv_purge_expired_leases(&self, prefix: &str, before: f64) -> Result<usize> {
        // LIKE with `prefix` escaped, so `_`/`%` in it match themselves.
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for ch in prefix.chars() {
            if matches!(ch, '\\' | '%' | '_') {
                pattern.push('\\');
            }
            pattern.push(ch);
        }
        pattern.push('%');
        with_conn!(self, |c| {
            let rows: Vec<(String, String)> = kvs::table
                .filter(kvs::key.like(&pattern).escape('\\'))
                .select((kvs::key, kvs::value))
                .load(c)?;
            let mut purged = 0;
            for (key, value) in rows {
                let held: serde_json::Value = serde_json::from_str(&value).unwrap_or_default();
                let Some(expires) = held.get("expires").and_then(|e| e.as_f64()) else {
                    continue; // not a lease
                };
                if expires >= before {
                    continue;
                }
                // Compare-and-delete: a lease renewed since it was read stays.
                purged += diesel::delete(
                    kvs::table
                        .filter(kvs::key.eq(&key))
                        .filter(kvs::value.eq(&value)),
                )
                .execute(c)?;
            }
            Ok(purged)
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_hides_password() {
        let b = StorageBackend::Postgres {
            url: "postgres://dagster:p%40ss@db.example:6543/prod?sslmode=require".into(),
        };
        assert_eq!(b.describe(), "postgres://dagster@db.example:6543/prod");
        assert_eq!(b.secrets(), vec!["p@ss".to_string(), "p%40ss".to_string()]);
        assert!(!format!("{b:?}").contains("p%40ss"));
        let kw = StorageBackend::Postgres {
            url: "host=h port=1 user=u password='s e' dbname=d".into(),
        };
        assert_eq!(kw.describe(), "postgres://u@h:1/d");
        assert_eq!(kw.secrets(), vec!["s e".to_string()]);
        let weird = StorageBackend::Postgres {
            url: "postgresql://u:a@b/c@host/db".into(),
        };
        assert_eq!(weird.describe(), "postgres://u@host:5432/db");
    }

    #[test]
    fn timestamps_round_trip_at_microseconds() {
        let ts = 1_700_000_000.123_456;
        assert_eq!(dt_to_ts(ts_to_dt(ts)), ts);
        assert_eq!(ts_to_dt(f64::NAN), NaiveDateTime::default());
        let _ = ts_to_dt(f64::INFINITY);
        let _ = ts_to_dt(-1e300);
    }

    #[test]
    fn connect_timeout_is_added_once() {
        assert_eq!(
            with_connect_timeout("postgres://u@h/db", Duration::from_secs(10)),
            "postgres://u@h/db?connect_timeout=10"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?a=b", Duration::from_millis(1)),
            "postgres://u@h/db?a=b&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("host=h connect_timeout=3", Duration::from_secs(9)),
            "host=h connect_timeout=3"
        );
    }
}
