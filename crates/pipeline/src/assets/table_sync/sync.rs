//! The sync itself: schema, cursor state, and the run that drives the readers
//! (`reader.rs`) and the writer (`writer.rs`).

use super::engine::{DestRef, SourceRef};
use super::plan::{Progress, RunPlan, SourceOps, TypeChanged};
use super::reader::{
    read_chunks, Chunk, ReadPlan, ReadRange, RowBound, RowReader, CHANNEL_CHUNKS,
    FULL_SYNC_READERS, PAGE_ROWS,
};
use super::sides::{DestSide, SourceSide};
use super::state::{key_text, KeyVal, RangeState, SavedState};
use super::types::{map_column, put_bytes, value_text, Column, SourceColumn};
use super::wire::{WireConn, WireError};
use super::writer::{confirm_batch, end_batch, stream_batch, BatchDone, BatchEnd, Ending};
use super::{SyncConfig, SyncMode};
use crate::resources::clickhouse::{quote_ident, quote_str};
use crate::resources::{ClickhouseResource, MysqlResource, PostgresResource};
use anyhow::{anyhow, bail};
use dagster_core::defs::{AssetCompute, CancelToken, MaterializeResult, StepContext};
use dagster_core::domain::MetadataValue;
use dagster_core::storage::KvStore;
use mysql::prelude::Queryable;
use mysql::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Extra ClickHouse columns written by the sync.
pub const VERSION_COLUMN: &str = "_version";
pub const DELETED_COLUMN: &str = "_is_deleted";
/// Suffix of the deduplicating view created next to the destination table.
pub const VIEW_SUFFIX: &str = "_dedup";
pub(super) const STAGING_SUFFIX: &str = "__full_sync";
pub(super) const OLD_SUFFIX: &str = "__old_sync";

/// A table sync asset (see the module documentation of `table_sync`).
#[derive(Debug, Clone)]
pub struct TableSync {
    pub(super) config: SyncConfig,
    pub(super) fail_after_batches: Option<u64>,
    pub(super) page_rows: usize,
    pub(super) crate_reader: bool,
    /// How often a running sync logs its progress.
    pub(super) progress_every: Duration,
}

/// What a sync did (also returned as materialization metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    pub mode: SyncMode,
    pub rows_read: u64,
    pub rows_written: u64,
    pub batches: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    pub cursor_before: Option<String>,
    pub cursor_after: Option<String>,
    pub upper_bound: Option<String>,
    pub destination_rows: u64,
    pub invalid_dates: u64,
    pub columns_added: Vec<String>,
    pub destination: String,
    /// Keys deleted by hard-delete reconciliation (`None`: no reconciliation this run).
    pub rows_hard_deleted: Option<u64>,
}

impl SyncOutcome {
    fn rows_per_second(&self) -> f64 {
        if self.duration_ms == 0 {
            return self.rows_written as f64 * 1000.0;
        }
        self.rows_written as f64 * 1000.0 / self.duration_ms as f64
    }

    /// The materialization metadata.
    pub fn to_result(&self) -> MaterializeResult {
        let int = |n: u64| MetadataValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let text = |s: &Option<String>| MetadataValue::Text(s.clone().unwrap_or_default());
        let mut r = MaterializeResult::new()
            .with(
                "mode",
                MetadataValue::Text(
                    match self.mode {
                        SyncMode::Full => "full",
                        SyncMode::Incremental => "incremental",
                    }
                    .into(),
                ),
            )
            .with("rows_read", int(self.rows_read))
            .with("rows_written", int(self.rows_written))
            .with("batches", int(self.batches))
            .with("bytes", int(self.bytes))
            .with("duration_ms", int(self.duration_ms))
            .with(
                "rows_per_second",
                MetadataValue::Float((self.rows_per_second() * 10.0).round() / 10.0),
            )
            .with("cursor_before", text(&self.cursor_before))
            .with("cursor_after", text(&self.cursor_after))
            .with("upper_bound", text(&self.upper_bound))
            .with("destination_row_count", int(self.destination_rows))
            .with(
                "destination_table",
                MetadataValue::Text(self.destination.clone()),
            );
        if self.invalid_dates > 0 {
            r = r.with("invalid_dates", int(self.invalid_dates));
        }
        if let Some(n) = self.rows_hard_deleted {
            r = r.with("rows_hard_deleted", int(n));
        }
        if !self.columns_added.is_empty() {
            r = r.with(
                "columns_added",
                MetadataValue::Text(self.columns_added.join(", ")),
            );
        }
        r
    }
}

pub(super) fn mysql_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub(super) fn mysql_table(name: &str) -> String {
    match name.split_once('.') {
        Some((db, t)) => format!("{}.{}", mysql_ident(db), mysql_ident(t)),
        None => mysql_ident(name),
    }
}

pub(super) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl TableSync {
    pub fn new(config: SyncConfig) -> Self {
        TableSync {
            progress_every: Duration::from_millis(config.progress_every_ms),
            config,
            fail_after_batches: None,
            page_rows: PAGE_ROWS,
            crate_reader: false,
        }
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// Test hook: fail (like a crash) right after the n-th batch was confirmed and its cursor
    /// saved. On the MySQL → ClickHouse hot path the next batch has been streamed by then
    /// (batches are pipelined); its INSERTs are dropped unfinished, which ClickHouse 18.x may
    /// or may not keep.
    pub fn fail_after_batches(mut self, n: u64) -> Self {
        self.fail_after_batches = Some(n);
        self
    }

    /// Test hook: rows per SELECT (default 100,000). A full sync whose integer primary key spans
    /// at least two pages reads with several readers over disjoint key ranges.
    pub fn page_rows(mut self, n: usize) -> Self {
        self.page_rows = n.max(1);
        self
    }

    /// How often a running sync logs `progress: …` lines (default 5 s).
    pub fn progress_every(mut self, every: Duration) -> Self {
        self.progress_every = every;
        self
    }

    /// Test hook: read the rows through the `mysql` crate instead of the sync's own reader
    /// (what happens when the server's authentication plugin is one the own reader does not
    /// speak).
    pub fn crate_reader(mut self, yes: bool) -> Self {
        self.crate_reader = yes;
        self
    }

    /// A connection for one reader: the own in-place reader, or a pooled `mysql` crate
    /// connection when the server needs something the own reader does not implement.
    fn row_reader(
        &self,
        src: &MysqlResource,
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<RowReader> {
        let resource = src.name();
        let addr = src.addr();
        if self.crate_reader {
            tracing::debug!(
                resource,
                addr,
                "table sync row reader: the mysql crate (test hook)"
            );
            return Ok(RowReader::Crate(src.connection()?));
        }
        if src.tls() {
            // The own reader speaks plain TCP only.
            tracing::debug!(
                resource,
                addr,
                "table sync row reader: the mysql crate (TLS)"
            );
            return Ok(RowReader::Crate(src.connection()?));
        }
        match WireConn::connect(src.settings()) {
            Ok(c) => {
                tracing::debug!(resource, addr, "table sync row reader: the own wire reader");
                Ok(RowReader::Wire(Box::new(c)))
            }
            Err(WireError::Unsupported(why)) => {
                tracing::debug!(
                    resource,
                    addr,
                    why,
                    "table sync row reader: the mysql crate"
                );
                log(&format!(
                    "reading through the mysql crate: the row reader does not support {why}"
                ));
                Ok(RowReader::Crate(src.connection()?))
            }
            Err(WireError::Failed(e)) => {
                Err(src.query_error(format!("opening a reader: {e}")).into())
            }
        }
    }

    /// The key ranges of a full sync's parallel readers (empty: one reader): a primary key of
    /// one integer column spanning at least two pages, split in equal parts.
    pub(super) fn full_sync_ranges(
        &self,
        src: &MysqlResource,
        columns: &[Column],
    ) -> anyhow::Result<Vec<RangeState>> {
        let [pk] = self.config.primary_key.as_slice() else {
            return Ok(Vec::new());
        };
        let integer = columns
            .iter()
            .any(|c| &c.source.name == pk && c.is_plain_integer());
        if !integer {
            return Ok(Vec::new());
        }
        let mut conn = src.connection()?;
        let sql = format!(
            "SELECT MIN({0}), MAX({0}) FROM {1}",
            mysql_ident(pk),
            mysql_table(&self.config.source_table)
        );
        let row: Option<mysql::Row> = conn
            .exec_first(&sql, ())
            .map_err(|e| src.query_error(format!("`{sql}`: {e}")))?;
        let as_int = |v: &Value| match v {
            Value::Int(i) => Some(i128::from(*i)),
            Value::UInt(u) => Some(i128::from(*u)),
            _ => None,
        };
        let Some(vals) = row.map(|r| r.unwrap()) else {
            return Ok(Vec::new());
        };
        let (Some(min), Some(max)) = (vals.first().and_then(as_int), vals.get(1).and_then(as_int))
        else {
            return Ok(Vec::new());
        };
        let span = max - min + 1;
        let readers = i128::from(FULL_SYNC_READERS);
        if span < 2 * i128::try_from(self.page_rows).unwrap_or(i128::MAX) {
            return Ok(Vec::new());
        }
        let key_val = |n: i128| match i64::try_from(n) {
            Ok(i) => KeyVal::Int(i),
            Err(_) => KeyVal::UInt(u64::try_from(n).unwrap_or(u64::MAX)),
        };
        let mut out = Vec::new();
        let mut after: Option<KeyVal> = None;
        for i in 1..=readers {
            let upto = (i < readers).then(|| key_val(min - 1 + span * i / readers));
            out.push(RangeState {
                after: after.clone(),
                upto: upto.clone(),
                last_key: None,
            });
            after = upto;
        }
        Ok(out)
    }

    /// The key under which the cursor state is saved.
    pub fn state_key(asset_key: &str) -> String {
        format!("table_sync/{asset_key}")
    }

    fn src_where(&self, src: &MysqlResource) -> String {
        format!(
            "source table `{}` (mysql resource `{}`, {})",
            self.config.source_table,
            src.name(),
            src.addr()
        )
    }

    pub(super) fn describe_source(&self, src: &MysqlResource) -> anyhow::Result<Vec<SourceColumn>> {
        let mut conn = src.connection()?;
        let (schema, table) = match self.config.source_table.split_once('.') {
            Some((s, t)) => (Some(s.to_string()), t.to_string()),
            None => (None, self.config.source_table.clone()),
        };
        type Row = (
            String,
            String,
            String,
            String,
            Option<u64>,
            Option<u64>,
            Option<u64>,
        );
        let rows: Vec<Row> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, \
                 NUMERIC_SCALE, DATETIME_PRECISION FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION",
                (schema.clone(), table),
            )
            .map_err(|e| src.query_error(format!("reading INFORMATION_SCHEMA: {e}")))?;
        if rows.is_empty() {
            bail!(
                "{} not found in database `{}`",
                self.src_where(src),
                schema.as_deref().unwrap_or(src.database())
            );
        }
        Ok(rows
            .into_iter()
            .map(|(name, dt, ct, nullable, p, s, dtp)| SourceColumn {
                name,
                data_type: dt.to_ascii_lowercase(),
                column_type: ct.to_ascii_lowercase(),
                nullable: nullable.eq_ignore_ascii_case("YES"),
                precision: p.and_then(|v| u32::try_from(v).ok()),
                scale: s.and_then(|v| u32::try_from(v).ok()),
                datetime_precision: dtp.and_then(|v| u32::try_from(v).ok()),
            })
            .collect())
    }

    /// Key columns: the cursor (if any) then the primary key.
    pub(super) fn key_columns(&self) -> Vec<String> {
        let mut k: Vec<String> = self.config.cursor_column.iter().cloned().collect();
        k.extend(self.config.primary_key.iter().cloned());
        k
    }

    /// The synced columns after include/exclude, checked for the key columns.
    pub(super) fn select_columns(
        &self,
        src_where: &str,
        all: Vec<SourceColumn>,
        caps: super::types::ChCaps,
    ) -> anyhow::Result<Vec<Column>> {
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        let missing = |what: &str, c: &str| {
            anyhow!(
                "{what} `{c}` not found in {src_where} (columns: {})",
                names.join(", ")
            )
        };
        if let Some(c) = &self.config.cursor_column {
            if !names.contains(&c.as_str()) {
                return Err(missing("cursor column", c));
            }
        }
        for c in &self.config.primary_key {
            if !names.contains(&c.as_str()) {
                return Err(missing("primary key column", c));
            }
        }
        if let Some(c) = &self.config.soft_delete_column {
            if !names.contains(&c.as_str()) {
                return Err(missing("soft delete column", c));
            }
        }
        for c in self
            .config
            .columns
            .iter()
            .flatten()
            .chain(self.config.exclude_columns.iter())
        {
            if !names.contains(&c.as_str()) {
                return Err(missing("column", c));
            }
        }
        let mut required = self.key_columns();
        required.extend(self.config.soft_delete_column.iter().cloned());
        for c in &self.config.exclude_columns {
            if required.contains(c) {
                bail!("`exclude_columns` cannot exclude `{c}`: the sync needs it (cursor, primary key or soft delete column)");
            }
        }
        let mut out = Vec::new();
        for c in all {
            let keep = required.contains(&c.name)
                || (self
                    .config
                    .columns
                    .as_ref()
                    .is_none_or(|list| list.contains(&c.name))
                    && !self.config.exclude_columns.contains(&c.name));
            if keep {
                if c.name == VERSION_COLUMN || c.name == DELETED_COLUMN {
                    bail!(
                        "{src_where} has a column named `{}`, which the sync reserves; exclude it",
                        c.name
                    );
                }
                out.push(map_column(&c, caps, self.config.invalid_dates));
            }
        }
        for c in &out {
            if self.config.primary_key.contains(&c.source.name) && c.nullable {
                bail!(
                    "primary key column `{}` of {src_where} is NULLable; ClickHouse cannot order by it",
                    c.source.name,
                );
            }
        }
        Ok(out)
    }

    pub(super) fn ch_table(dst: &ClickhouseResource, table: &str) -> String {
        format!("{}.{}", quote_ident(dst.database()), quote_ident(table))
    }

    /// `name → type` of an existing destination table (empty if it does not exist).
    pub(super) fn dest_columns(
        dst: &ClickhouseResource,
        table: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let rows = dst.query_server_rows(&format!(
            "SELECT name, type FROM system.columns WHERE database = {} AND table = {}",
            quote_str(dst.database()),
            quote_str(table)
        ))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut it = r.into_iter();
                Some((it.next()?, it.next()?))
            })
            .collect())
    }

    /// Creates the table or adds missing columns. Returns (existed, columns added). An ENUM
    /// column that the existing table holds as `String` is switched to `String` in `columns`.
    pub(super) fn ensure_table(
        &self,
        dst: &ClickhouseResource,
        table: &str,
        columns: &mut [Column],
    ) -> anyhow::Result<(bool, Vec<String>)> {
        let existing = Self::dest_columns(dst, table)?;
        Self::keep_string_enums(&existing, columns);
        super::types::keep_narrow_dates(&existing, columns);
        let full_name = Self::ch_table(dst, table);
        if existing.is_empty() {
            dst.execute_on_server(&format!(
                "CREATE DATABASE IF NOT EXISTS {}",
                quote_ident(dst.database())
            ))?;
            let mut defs: Vec<String> = columns
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.source.name), c.ch_sql()))
                .collect();
            defs.push(format!("{} UInt64", quote_ident(VERSION_COLUMN)));
            defs.push(format!("{} UInt8", quote_ident(DELETED_COLUMN)));
            let order: Vec<String> = self
                .config
                .primary_key
                .iter()
                .map(|c| quote_ident(c))
                .collect();
            dst.execute(&format!(
                "CREATE TABLE {full_name} ({}) ENGINE = ReplacingMergeTree({}) ORDER BY ({})",
                defs.join(", "),
                quote_ident(VERSION_COLUMN),
                order.join(", ")
            ))?;
            return Ok((false, Vec::new()));
        }
        let norm = |t: &str| t.replace([' ', '\\'], "");
        for reserved in [(VERSION_COLUMN, "UInt64"), (DELETED_COLUMN, "UInt8")] {
            if !existing
                .iter()
                .any(|(n, t)| n == reserved.0 && norm(t) == reserved.1)
            {
                bail!(
                    "destination table {full_name} on clickhouse resource `{}` ({}) exists but has no `{} {}` column: it was not created by table_sync; drop or rename it",
                    dst.name(),
                    dst.addr(),
                    reserved.0,
                    reserved.1
                );
            }
        }
        let mut added = Vec::new();
        for c in columns {
            match existing.iter().find(|(n, _)| n == &c.source.name) {
                Some((_, t)) if norm(t) == norm(&c.ch_sql()) => {}
                Some((_, t)) => {
                    return Err(TypeChanged(format!(
                        "destination column {full_name}.`{}` has type {t} but source column `{}` ({}) maps to {}",
                        c.source.name,
                        c.source.name,
                        c.source.column_type,
                        c.ch_sql()
                    ))
                    .into())
                }
                None => {
                    dst.execute(&format!(
                        "ALTER TABLE {full_name} ADD COLUMN {} {}",
                        quote_ident(&c.source.name),
                        c.ch_sql()
                    ))?;
                    added.push(c.source.name.clone());
                }
            }
        }
        Ok((true, added))
    }

    /// (Re)creates the deduplicating view `<table>_dedup` from the table's current columns.
    pub(super) fn ensure_view(&self, dst: &ClickhouseResource, table: &str) -> anyhow::Result<()> {
        let cols = Self::dest_columns(dst, table)?;
        let view = format!("{table}{VIEW_SUFFIX}");
        let pk = &self.config.primary_key;
        let mut tuple_items: Vec<String> = Vec::new();
        let mut outer: Vec<String> = Vec::new();
        for (name, _) in &cols {
            if name == VERSION_COLUMN || name == DELETED_COLUMN {
                continue;
            }
            if pk.contains(name) {
                outer.push(quote_ident(name));
            } else {
                tuple_items.push(quote_ident(name));
                outer.push(format!(
                    "tupleElement(_row, {}) AS {}",
                    tuple_items.len(),
                    quote_ident(name)
                ));
            }
        }
        tuple_items.push(quote_ident(DELETED_COLUMN));
        let deleted_idx = tuple_items.len();
        let pk_sql: Vec<String> = pk.iter().map(|c| quote_ident(c)).collect();
        // argMax over a tuple: argMax over a Nullable column alone skips NULLs and would return
        // an older non-NULL value.
        let sql = format!(
            "CREATE VIEW {} AS SELECT {} FROM (SELECT {}, argMax(tuple({}), {}) AS _row FROM {} GROUP BY {}) WHERE tupleElement(_row, {deleted_idx}) = 0",
            Self::ch_table(dst, &view),
            outer.join(", "),
            pk_sql.join(", "),
            tuple_items.join(", "),
            quote_ident(VERSION_COLUMN),
            Self::ch_table(dst, table),
            pk_sql.join(", "),
        );
        dst.execute(&format!(
            "DROP TABLE IF EXISTS {}",
            Self::ch_table(dst, &view)
        ))?;
        dst.execute(&sql)?;
        Ok(())
    }

    pub(super) fn dest_row_count(
        &self,
        dst: &ClickhouseResource,
        table: &str,
    ) -> anyhow::Result<u64> {
        let pk_sql: Vec<String> = self
            .config
            .primary_key
            .iter()
            .map(|c| quote_ident(c))
            .collect();
        let sql = if self.config.soft_delete_column.is_some()
            || self.config.reconcile_every_runs.is_some()
        {
            format!(
                "SELECT count() FROM (SELECT argMax({}, {}) AS d FROM {} GROUP BY {}) WHERE d = 0",
                quote_ident(DELETED_COLUMN),
                quote_ident(VERSION_COLUMN),
                Self::ch_table(dst, table),
                pk_sql.join(", ")
            )
        } else {
            // Without soft deletes every key is a live row: count distinct keys.
            format!(
                "SELECT uniqExact({}) FROM {}",
                pk_sql.join(", "),
                Self::ch_table(dst, table)
            )
        };
        let v = dst.query_value(&sql)?;
        Ok(v.and_then(|s| s.trim().parse().ok()).unwrap_or(0))
    }

    /// Runs the sync. `log` receives progress lines.
    pub fn run(
        &self,
        src: &MysqlResource,
        dst: &ClickhouseResource,
        kv: &dyn KvStore,
        asset_key: &str,
        cancel: &CancelToken,
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<SyncOutcome> {
        let started = Instant::now();
        let cfg = &self.config;
        let state_key = Self::state_key(asset_key);
        let all = self.describe_source(src)?;
        let caps = super::types::ChCaps::from_version(&dst.server_version()?);
        let mut columns = self.select_columns(&self.src_where(src), all, caps)?;
        let destination = format!("{}.{}", dst.database(), cfg.destination_table);
        let key_columns = self.key_columns();
        let (mut state, cursor_before) =
            SavedState::resume(kv, &state_key, &destination, &key_columns, log)?;

        // Target table, order, start position and upper bound: one plan for every engine.
        let source = SourceSide::new(self, SourceRef::Mysql(src), &columns, &[]);
        let dest = DestSide::new(self, DestRef::Clickhouse(dst), Vec::new());
        let run_plan = self.plan_run(
            &source,
            &dest,
            &mut columns,
            None,
            true,
            &mut state,
            kv,
            &state_key,
            log,
        )?;
        let total = source.estimate_rows(run_plan.snapshot, &run_plan.start);
        let progress = Progress::new(log, total, self.progress_every);
        let RunPlan {
            ref target,
            snapshot,
            ref upper,
            schema_unchanged,
            fresh_snapshot,
            nothing_to_read,
            ..
        } = run_plan;
        let columns_added = run_plan.columns_added.clone();
        let upper_text = upper.as_ref().map(value_text);

        // Full mode reads in primary key order (the clustered index of InnoDB: no secondary
        // index lookups), incremental mode in (cursor, primary key) order.
        let order_columns = run_plan.order_columns(self);
        let (bound_cols, bound_vals) = run_plan.bound(self);
        let order_idx: Vec<usize> = order_columns
            .iter()
            .map(|k| columns.iter().position(|c| &c.source.name == k))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow!("a key column is not synced"))?;
        let soft_delete_idx = cfg
            .soft_delete_column
            .as_ref()
            .and_then(|s| columns.iter().position(|c| &c.source.name == s));
        let row_bound = if snapshot {
            RowBound::new(&columns, &bound_cols, &bound_vals)
        } else {
            None
        };
        let plan = ReadPlan {
            table_sql: mysql_table(&cfg.source_table),
            select_sql: columns
                .iter()
                .map(|c| mysql_ident(&c.source.name))
                .collect::<Vec<_>>()
                .join(", "),
            order_sql: order_columns.iter().map(|c| mysql_ident(c)).collect(),
            order_idx,
            bound_sql: if row_bound.is_some() {
                Vec::new()
            } else {
                bound_cols.iter().map(|c| mysql_ident(c)).collect()
            },
            upper: bound_vals,
            row_bound,
            batch_size: cfg.batch_size,
            page_rows: self.page_rows,
            columns: columns.clone(),
            soft_delete_idx,
            native_headers: columns
                .iter()
                .map(|c| (c.source.name.clone(), c.ch_sql()))
                .chain([
                    (VERSION_COLUMN.to_string(), "UInt64".to_string()),
                    (DELETED_COLUMN.to_string(), "UInt8".to_string()),
                ])
                .map(|(name, ty)| {
                    let mut h = Vec::new();
                    put_bytes(&mut h, name.as_bytes());
                    put_bytes(&mut h, ty.as_bytes());
                    h
                })
                .collect(),
        };
        let mut insert_columns: Vec<String> =
            columns.iter().map(|c| c.source.name.clone()).collect();
        insert_columns.push(VERSION_COLUMN.into());
        insert_columns.push(DELETED_COLUMN.into());
        let target_sql = Self::ch_table(dst, target);

        let mut rows_read = 0u64;
        let mut rows_written = 0u64;
        let mut batches = 0u64;
        let mut bytes = 0u64;
        let mut invalid_dates = 0u64;
        let mut last_key_text = cursor_before.clone();
        if !nothing_to_read {
            let read_ranges: Vec<ReadRange> = if run_plan.ranges.is_empty() {
                vec![ReadRange {
                    index: 0,
                    start: run_plan.start.clone(),
                    upto: None,
                    only: true,
                }]
            } else {
                run_plan
                    .range_starts()
                    .into_iter()
                    .enumerate()
                    .map(|(index, (start, upto))| ReadRange {
                        index,
                        start,
                        upto,
                        only: false,
                    })
                    .collect()
            };
            let readers = read_ranges.len();
            let mut conns = Vec::with_capacity(readers);
            for _ in 0..readers {
                conns.push(self.row_reader(src, &mut |m| progress.log(m))?);
            }
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Chunk, String>>(CHANNEL_CHUNKS);
            let cols: Vec<String> = insert_columns.iter().map(|c| quote_ident(c)).collect();
            let insert_sql = format!(
                "INSERT INTO {target_sql} ({}) FORMAT Native",
                cols.join(", ")
            );
            let write_result: anyhow::Result<()> = std::thread::scope(|scope| {
                let plan_ref = &plan;
                let mut handles = Vec::with_capacity(readers);
                for (mut conn, range) in conns.into_iter().zip(read_ranges) {
                    let tx = tx.clone();
                    let reader_cancel = cancel.clone();
                    handles.push(scope.spawn(move || {
                        let r = read_chunks(&mut conn, plan_ref, range, &tx, &reader_cancel);
                        drop(conn);
                        if let Err(e) = r {
                            let _ = tx.blocking_send(Err(e));
                        }
                    }));
                }
                drop(tx);
                let result = (|| -> anyhow::Result<()> {
                    // Records a batch ClickHouse has confirmed: only now move the cursor.
                    let mut record = |done: BatchDone| -> anyhow::Result<()> {
                        let BatchDone {
                            rows,
                            bytes: n,
                            last_keys,
                            stats,
                        } = done;
                        if rows == 0 {
                            return Ok(());
                        }
                        rows_read += rows;
                        rows_written += rows;
                        batches += 1;
                        bytes += n;
                        invalid_dates += stats.invalid_dates;
                        self.record_batch(&run_plan, &mut state, &last_keys, kv, &state_key)?;
                        let shown: Vec<String> =
                            last_keys.iter().flatten().map(|k| key_text(k)).collect();
                        last_key_text = Some(shown.join(" / "));
                        progress.log(&format!(
                            "batch {batches}: {rows} rows ({rows_written} in total), {} {}",
                            if snapshot { "primary key" } else { "cursor" },
                            last_key_text.as_deref().unwrap_or("")
                        ));
                        if self.fail_after_batches == Some(batches) {
                            bail!("test hook: failing after {batches} batches");
                        }
                        Ok(())
                    };
                    // Batch N+1 streams in while ClickHouse writes the parts of batch N; N is
                    // confirmed (and its cursor saved) before N+1's INSERTs are ended, so a
                    // failure there aborts N+1 and the cursor never runs ahead of the data.
                    let mut ending: Option<Ending> = None;
                    loop {
                        let end = dst.block_on(
                            &insert_sql,
                            stream_batch(
                                dst.client(),
                                &insert_sql,
                                &mut rx,
                                cancel,
                                readers,
                                cfg.batch_size as u64,
                                &progress,
                            ),
                        );
                        if let Some(prev) = ending.take() {
                            dst.block_on(&insert_sql, confirm_batch(prev.ends))?;
                            record(prev.done)?;
                        }
                        let streamed = match end? {
                            BatchEnd::ReaderFailed(e) => {
                                bail!("reading {}: {e}", self.src_where(src))
                            }
                            BatchEnd::Cancelled => bail!(
                                "cancelled after {batches} batches ({rows_written} rows written); the cursor is saved"
                            ),
                            BatchEnd::Streamed(s) => s,
                        };
                        let finished = streamed.finished;
                        let next = dst.block_on(&insert_sql, end_batch(streamed))?;
                        if finished {
                            dst.block_on(&insert_sql, confirm_batch(next.ends))?;
                            return record(next.done);
                        }
                        ending = Some(next);
                    }
                })();
                drop(rx);
                let mut panicked = false;
                for h in handles {
                    panicked |= h.join().is_err();
                }
                if panicked && result.is_ok() {
                    return Err(anyhow!("a reader thread panicked"));
                }
                result
            });
            write_result?;
        }
        if rows_read != rows_written {
            bail!("{rows_read} rows read but {rows_written} written");
        }
        // Finish: the full sync's swap, the incremental position after a snapshot.
        self.finish_plan(&run_plan, &dest, &mut state, kv, &state_key)?;
        let rows_hard_deleted = if cfg.mode == SyncMode::Incremental {
            self.maybe_reconcile(
                SourceRef::Mysql(src),
                DestRef::Clickhouse(dst),
                &columns,
                &[],
                &mut state,
                kv,
                &state_key,
                &mut |m| progress.log(m),
            )?
        } else {
            None
        };
        let view_exists = schema_unchanged
            && dst
                .query_value(&format!(
                    "SELECT count() FROM system.tables WHERE database = {} AND name = {}",
                    quote_str(dst.database()),
                    quote_str(&format!("{}{VIEW_SUFFIX}", cfg.destination_table))
                ))?
                .as_deref()
                == Some("1");
        if !view_exists {
            self.ensure_view(dst, &cfg.destination_table)?;
        }
        let destination_rows = match state.destination_rows {
            Some(n) if view_exists && rows_written == 0 && rows_hard_deleted.unwrap_or(0) == 0 => n,
            _ if fresh_snapshot
                && cfg.soft_delete_column.is_none()
                && rows_hard_deleted.unwrap_or(0) == 0 =>
            {
                // Every key was written once: the plain row count (table metadata, no scan)
                // is the deduplicated count.
                let n = dst
                    .query_value(&format!(
                        "SELECT count() FROM {}",
                        Self::ch_table(dst, &cfg.destination_table)
                    ))?
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                state.destination_rows = Some(n);
                state.save(kv, &state_key)?;
                n
            }
            _ => {
                let n = self.dest_row_count(dst, &cfg.destination_table)?;
                state.destination_rows = Some(n);
                state.save(kv, &state_key)?;
                n
            }
        };
        let cursor_after = state
            .last_key
            .as_ref()
            .map(|k| key_text(&k.iter().map(KeyVal::to_value).collect::<Vec<_>>()))
            .or(last_key_text);
        Ok(SyncOutcome {
            mode: cfg.mode,
            rows_read,
            rows_written,
            batches,
            bytes,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cursor_before,
            cursor_after,
            upper_bound: upper_text,
            destination_rows,
            invalid_dates,
            columns_added,
            destination,
            rows_hard_deleted,
        })
    }
}

impl AssetCompute for TableSync {
    fn compute(&self, ctx: &mut StepContext) -> anyhow::Result<MaterializeResult> {
        use super::engine::{DestRef, SourceRef};
        let src_res = ctx.resource(&self.config.source)?.clone();
        let src = if let Some(m) = src_res.as_any().downcast_ref::<MysqlResource>() {
            SourceRef::Mysql(m)
        } else if let Some(p) = src_res.as_any().downcast_ref::<PostgresResource>() {
            SourceRef::Postgres(p)
        } else {
            bail!(
                "resource `{}` is neither a mysql nor a postgres resource",
                self.config.source
            )
        };
        let dst_res = ctx.resource(&self.config.destination)?.clone();
        let dst = if let Some(c) = dst_res.as_any().downcast_ref::<ClickhouseResource>() {
            DestRef::Clickhouse(c)
        } else if let Some(p) = dst_res.as_any().downcast_ref::<PostgresResource>() {
            DestRef::Postgres(p)
        } else {
            bail!(
                "resource `{}` is neither a clickhouse nor a postgres resource",
                self.config.destination
            )
        };
        let kv = ctx.kv_handle()?;
        let cancel = ctx.cancel_token();
        let asset_key = ctx.asset_key.to_user_string();
        ctx.info(&format!(
            "syncing {} ({} mode) into {}",
            self.source_where(&src),
            match self.config.mode {
                SyncMode::Full => "full",
                SyncMode::Incremental => "incremental",
            },
            self.dest_where(&dst),
        ));
        let outcome = self.sync(src, dst, kv.as_ref(), &asset_key, &cancel, &mut |m| {
            ctx.info(m)
        })?;
        ctx.info(&format!(
            "{} rows in {} batches, {} ms; destination has {} rows",
            outcome.rows_written, outcome.batches, outcome.duration_ms, outcome.destination_rows
        ));
        if outcome.invalid_dates > 0 {
            ctx.warn(&self.config.invalid_dates.warning(outcome.invalid_dates));
        }
        Ok(outcome.to_result())
    }
}
