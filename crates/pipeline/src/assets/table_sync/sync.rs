//! The sync itself: schema, cursor state, the reader thread and the writer loop.

use super::engine::{DestRef, DestSide, SourceRef, SourceSide};
use super::plan::{Progress, RunPlan, SourceOps, TypeChanged};
use super::state::{key_text, KeyVal, RangeState, SavedState, Start};
use super::types::{
    encode_ref, is_truthy_ref, map_column, put_bytes, put_varint, value_text, ChType, Column,
    ColumnBuf, EncodeStats, SourceColumn, ValRef,
};
use super::wire::{WireConn, WireError};
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

/// A piece of a batch, sent from the reader thread to the writer: whole rows as one ClickHouse
/// Native block.
struct Chunk {
    data: Vec<u8>,
    rows: u64,
    /// Order key of the last row read so far (of this chunk, or of the batch's previous chunk
    /// when this one is empty).
    last_key: Vec<Value>,
    /// The last chunk of a batch: the writer ends the INSERT and saves `last_key`.
    end_of_batch: bool,
    stats: EncodeStats,
    /// The reader (primary key range) the rows come from.
    range: usize,
}

/// What the reader thread needs.
pub(super) struct ReadPlan {
    pub(super) table_sql: String,
    pub(super) select_sql: String,
    /// The columns the reader orders and pages by (keyset): (cursor, primary key) in incremental
    /// mode, the primary key in full mode.
    pub(super) order_sql: Vec<String>,
    pub(super) order_idx: Vec<usize>,
    /// `(columns) <= (upper)`: the cursor column (and in a snapshot the primary key) and the
    /// upper bound fixed when the sync started (empty: no bound).
    pub(super) bound_sql: Vec<String>,
    pub(super) upper: Vec<Value>,
    /// Rows per confirmed batch (one INSERT, one cursor save).
    pub(super) batch_size: usize,
    /// Rows per SELECT.
    pub(super) page_rows: usize,
    pub(super) columns: Vec<Column>,
    pub(super) soft_delete_idx: Option<usize>,
    /// Name and type of every inserted column (the synced ones, `_version`, `_is_deleted`) as
    /// a Native block spells them (hot path only; empty in the general engine).
    pub(super) native_headers: Vec<Vec<u8>>,
}

/// Rows per SELECT (a batch is read in pages of at most this many rows).
const PAGE_ROWS: usize = 100_000;
/// Readers of a full sync over disjoint primary key ranges, when the key is one integer column
/// and spans at least two pages: MariaDB serves each connection on one thread, so two readers
/// keep both cores busy while ClickHouse parses.
const FULL_SYNC_READERS: u64 = 2;
/// Encoded bytes per chunk handed to the writer; a chunk is one Native block (about 3,500 rows
/// of the bench table). ClickHouse's cost per block is what limits this: 96 KiB blocks cost it
/// about 20 % more CPU than 512 KiB ones. (glibc raises its mmap threshold to the size of the
/// first freed chunk, so chunk buffers are recycled by the heap, not mapped and zeroed anew.)
const CHUNK_BYTES: usize = 512 << 10;
/// Chunks buffered between the readers and the writer (about 6 MB: memory stays constant
/// whatever the table or batch size).
const CHANNEL_CHUNKS: usize = 12;

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

impl ReadPlan {
    /// SQL and parameters of the next page of at most `limit` rows.
    pub(super) fn query(
        &self,
        start: &Start,
        upto: Option<&Value>,
        limit: usize,
    ) -> (String, Vec<Value>) {
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let k = &self.order_sql;
        match start {
            Start::Beginning => {}
            Start::AtLeast(v) => {
                conds.push(format!("{} >= ?", k[0]));
                params.push(v.clone());
            }
            Start::After(vals) => {
                // (k0, k1, ...) > (v0, v1, ...) expanded so that the range optimizer of
                // MySQL and MariaDB uses the (k0, k1, ...) index.
                conds.push(format!("{} >= ?", k[0]));
                params.push(vals[0].clone());
                let mut ors = Vec::new();
                for i in 0..k.len() {
                    let mut and = Vec::new();
                    for j in 0..i {
                        and.push(format!("{} = ?", k[j]));
                        params.push(vals[j].clone());
                    }
                    and.push(format!("{} > ?", k[i]));
                    params.push(vals[i].clone());
                    ors.push(format!("({})", and.join(" AND ")));
                }
                conds.push(format!("({})", ors.join(" OR ")));
            }
        }
        if let Some(u) = upto {
            conds.push(format!("{} <= ?", k[0]));
            params.push(u.clone());
        }
        if !self.bound_sql.is_empty() && self.bound_sql.len() == self.upper.len() {
            conds.push(tuple_at_most(&self.bound_sql, &self.upper, &mut params));
        }
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        (
            format!(
                "SELECT {} FROM {}{} ORDER BY {} LIMIT {limit}",
                self.select_sql,
                self.table_sql,
                where_sql,
                k.join(", "),
            ),
            params,
        )
    }
}

/// `(k0, k1, ...) <= (v0, v1, ...)` written out as `k0 < ? OR (k0 = ? AND (k1 < ? OR ...
/// k_last <= ?))`, MySQL and MariaDB not comparing rows through their indexes.
fn tuple_at_most(cols: &[String], vals: &[Value], params: &mut Vec<Value>) -> String {
    match (cols, vals) {
        ([c], [v]) => {
            params.push(v.clone());
            format!("{c} <= ?")
        }
        ([c, rest_c @ ..], [v, rest_v @ ..]) => {
            params.push(v.clone());
            params.push(v.clone());
            let rest = tuple_at_most(rest_c, rest_v, params);
            format!("({c} < ? OR ({c} = ? AND {rest}))")
        }
        _ => "TRUE".to_string(),
    }
}

/// What one reader reads: where it starts, where its primary key range ends, and whether it
/// is the only reader (then it cuts the batches: the last chunk of every batch is marked).
struct ReadRange {
    index: usize,
    start: Start,
    upto: Option<Value>,
    only: bool,
}

/// Where a reader's rows come from.
pub(super) enum RowReader {
    /// The sync's own in-place row reader (`wire.rs`): no allocation per row or value.
    Wire(Box<WireConn>),
    /// The `mysql` crate, for servers whose authentication the own reader does not speak.
    Crate(mysql::PooledConn),
}

/// A `Vec` of borrowed values emptied and re-typed for another borrow, keeping its allocation.
fn recycle<'b>(mut v: Vec<ValRef<'_>>) -> Vec<ValRef<'b>> {
    v.clear();
    v.into_iter().map(|_| ValRef::Null).collect()
}

/// Encodes the rows of one reader into chunks (each one ClickHouse Native block, column by
/// column) and hands them to the writer.
struct ChunkEncoder<'a> {
    plan: &'a ReadPlan,
    tx: &'a tokio::sync::mpsc::Sender<Result<Chunk, String>>,
    range: usize,
    version: u64,
    /// The synced columns of the rows encoded so far.
    cols: Vec<ColumnBuf>,
    /// `_version` (UInt64) and `_is_deleted` (UInt8) of those rows.
    versions: Vec<u8>,
    deleted: Vec<u8>,
    chunk_rows: u64,
    stats: EncodeStats,
    /// Order key of the last row encoded.
    key: Vec<Value>,
}

impl ChunkEncoder<'_> {
    fn new<'a>(
        plan: &'a ReadPlan,
        tx: &'a tokio::sync::mpsc::Sender<Result<Chunk, String>>,
        range: usize,
    ) -> ChunkEncoder<'a> {
        ChunkEncoder {
            plan,
            tx,
            range,
            version: now_micros(),
            cols: vec![ColumnBuf::default(); plan.columns.len()],
            versions: Vec::new(),
            deleted: Vec::new(),
            chunk_rows: 0,
            stats: EncodeStats::default(),
            key: vec![Value::NULL; plan.order_idx.len()],
        }
    }

    /// Encodes one row; flushes a full chunk. `Ok(false)`: the writer stopped (it reports why).
    fn row(&mut self, vals: &[ValRef<'_>]) -> Result<bool, String> {
        let plan = self.plan;
        if vals.len() != plan.columns.len() {
            return Err(format!(
                "the server returned {} columns, {} expected",
                vals.len(),
                plan.columns.len()
            ));
        }
        let mut bytes = self.versions.len() + self.deleted.len();
        for ((col, buf), &v) in plan.columns.iter().zip(self.cols.iter_mut()).zip(vals) {
            if let Err(e) = encode_ref(buf, col, v, &mut self.stats) {
                let key: Vec<Value> = plan.order_idx.iter().map(|&i| vals[i].to_value()).collect();
                return Err(format!(
                    "column `{}` ({}) of the row with key {}: {e}",
                    col.source.name,
                    col.source.column_type,
                    key_text(&key)
                ));
            }
            bytes += buf.data.len() + buf.nulls.len();
        }
        self.versions.extend_from_slice(&self.version.to_le_bytes());
        let deleted = plan.soft_delete_idx.is_some_and(|i| is_truthy_ref(vals[i]));
        self.deleted.push(u8::from(deleted));
        for (slot, &i) in self.key.iter_mut().zip(&plan.order_idx) {
            *slot = vals[i].to_value();
        }
        self.chunk_rows += 1;
        if bytes >= CHUNK_BYTES {
            return Ok(self.flush(false));
        }
        Ok(true)
    }

    /// The rows encoded so far as one Native block (empty without rows).
    fn block(&mut self) -> Vec<u8> {
        if self.chunk_rows == 0 {
            return Vec::new();
        }
        let plan = self.plan;
        let size: usize = self
            .cols
            .iter()
            .map(|c| c.data.len() + c.nulls.len())
            .chain(plan.native_headers.iter().map(Vec::len))
            .sum::<usize>()
            + self.versions.len()
            + self.deleted.len()
            + 32;
        let mut data = Vec::with_capacity(size);
        put_varint(&mut data, plan.native_headers.len() as u64);
        put_varint(&mut data, self.chunk_rows);
        let mut headers = plan.native_headers.iter();
        for (col, buf) in plan.columns.iter().zip(self.cols.iter_mut()) {
            data.extend_from_slice(headers.next().map_or(&[][..], Vec::as_slice));
            if col.nullable {
                data.extend_from_slice(&buf.nulls);
            }
            data.extend_from_slice(&buf.data);
            buf.clear();
        }
        data.extend_from_slice(headers.next().map_or(&[][..], Vec::as_slice));
        data.extend_from_slice(&self.versions);
        data.extend_from_slice(headers.next().map_or(&[][..], Vec::as_slice));
        data.extend_from_slice(&self.deleted);
        self.versions.clear();
        self.deleted.clear();
        data
    }

    /// Sends the rows encoded so far (and, with `end_of_batch`, the end of the batch).
    /// `false`: the writer stopped.
    fn flush(&mut self, end_of_batch: bool) -> bool {
        let chunk = Chunk {
            data: self.block(),
            rows: std::mem::take(&mut self.chunk_rows),
            last_key: self.key.clone(),
            end_of_batch,
            stats: std::mem::take(&mut self.stats),
            range: self.range,
        };
        self.tx.blocking_send(Ok(chunk)).is_ok()
    }
}

/// Reads one page into `enc`; returns the rows read, or `None` when the writer stopped.
fn read_page(
    reader: &mut RowReader,
    sql: &str,
    params: Vec<Value>,
    enc: &mut ChunkEncoder<'_>,
) -> Result<Option<usize>, String> {
    let mut rows = 0usize;
    match reader {
        RowReader::Wire(conn) => {
            conn.execute(sql, &params)
                .map_err(|e| format!("reading a batch: {e}"))?;
            let mut spare: Vec<ValRef<'static>> = Vec::with_capacity(conn.columns());
            loop {
                let mut vals = recycle(std::mem::take(&mut spare));
                if !conn
                    .next_row(&mut vals)
                    .map_err(|e| format!("reading a batch: {e}"))?
                {
                    break;
                }
                rows += 1;
                if !enc.row(&vals)? {
                    return Ok(None);
                }
                spare = recycle(vals);
            }
        }
        RowReader::Crate(conn) => {
            let stmt = conn
                .prep(sql)
                .map_err(|e| format!("preparing `{sql}`: {e}"))?;
            let result = conn
                .exec_iter(&stmt, mysql::Params::Positional(params))
                .map_err(|e| format!("reading a batch: {e}"))?;
            let mut spare: Vec<ValRef<'static>> = Vec::new();
            for row in result {
                let row = row.map_err(|e| format!("reading a batch: {e}"))?;
                let values = row.unwrap();
                let mut vals = recycle(std::mem::take(&mut spare));
                vals.extend(values.iter().map(ValRef::from));
                rows += 1;
                if !enc.row(&vals)? {
                    return Ok(None);
                }
                spare = recycle(vals);
            }
        }
    }
    Ok(Some(rows))
}

/// Reads pages until the end (or until the writer hangs up), encoding rows as Native blocks and
/// sending them to the writer in chunks.
fn read_chunks(
    reader: &mut RowReader,
    plan: &ReadPlan,
    range: ReadRange,
    tx: &tokio::sync::mpsc::Sender<Result<Chunk, String>>,
    cancel: &CancelToken,
) -> Result<(), String> {
    let mut start = range.start;
    let batch_size = if range.only {
        plan.batch_size
    } else {
        usize::MAX
    };
    let mut enc = ChunkEncoder::new(plan, tx, range.index);
    let mut rows_in_batch = 0usize;
    loop {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let limit = plan.page_rows.min(batch_size - rows_in_batch).max(1);
        let (sql, params) = plan.query(&start, range.upto.as_ref(), limit);
        enc.version = now_micros().max(enc.version + 1);
        let Some(page_rows) = read_page(reader, &sql, params, &mut enc)? else {
            return Ok(()); // the writer stopped; it reports why
        };
        rows_in_batch += page_rows;
        let exhausted = page_rows < limit;
        let end_of_batch = range.only && (exhausted || rows_in_batch >= batch_size);
        if (enc.chunk_rows > 0 || (end_of_batch && rows_in_batch > 0)) && !enc.flush(end_of_batch) {
            return Ok(());
        }
        if end_of_batch || !range.only {
            rows_in_batch = 0;
        }
        if exhausted {
            return Ok(());
        }
        start = Start::After(enc.key.clone());
    }
}

/// How streaming one batch ended on the writer side.
enum BatchEnd {
    /// Every row of the batch was sent; its INSERTs are still open (not confirmed).
    Streamed(Streamed),
    ReaderFailed(String),
    Cancelled,
}

/// A batch whose rows have all been sent to ClickHouse.
struct Streamed {
    /// The open INSERTs (one per reader that sent rows); dropping them aborts them.
    inserts: Vec<clickhouse::insert_formatted::InsertFormatted>,
    done: BatchDone,
    /// The readers have finished: no more batches.
    finished: bool,
}

/// What a batch holds, recorded once ClickHouse has confirmed it.
struct BatchDone {
    rows: u64,
    bytes: u64,
    /// Last key of the batch, per reader.
    last_keys: Vec<Option<Vec<Value>>>,
    stats: EncodeStats,
}

/// A batch whose INSERTs have been ended and wait for ClickHouse's answer.
struct Ending {
    ends: Vec<tokio::task::JoinHandle<clickhouse::error::Result<()>>>,
    done: BatchDone,
}

/// Streams the chunks of one batch into one `INSERT ... FORMAT Native` per reader, without
/// ending them. A batch ends with a chunk marked as its last (one reader) or once it has
/// `max_rows` rows (several readers). The INSERTs of a batch that is not complete (reader
/// error, cancellation) are dropped, which aborts them.
async fn stream_batch(
    client: &clickhouse::Client,
    sql: &str,
    rx: &mut tokio::sync::mpsc::Receiver<Result<Chunk, String>>,
    cancel: &CancelToken,
    readers: usize,
    max_rows: u64,
    progress: &Progress<'_>,
) -> clickhouse::error::Result<BatchEnd> {
    // One INSERT per reader: each one's rows arrive in key order, so ClickHouse writes sorted
    // parts without re-sorting interleaved rows.
    let mut inserts: Vec<Option<clickhouse::insert_formatted::InsertFormatted>> =
        (0..readers).map(|_| None).collect();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut last_keys: Vec<Option<Vec<Value>>> = vec![None; readers];
    let mut stats = EncodeStats::default();
    let mut finished = false;
    loop {
        let Some(msg) = rx.recv().await else {
            finished = true;
            break;
        };
        let chunk = match msg {
            Ok(c) => c,
            Err(e) => return Ok(BatchEnd::ReaderFailed(e)),
        };
        if cancel.is_cancelled() {
            return Ok(BatchEnd::Cancelled);
        }
        if !chunk.data.is_empty() {
            bytes += chunk.data.len() as u64;
            if let Some(slot) = inserts.get_mut(chunk.range) {
                let ins = slot.get_or_insert_with(|| client.insert_formatted_with(sql.to_string()));
                ins.send(bytes::Bytes::from(chunk.data)).await?;
            }
        }
        rows += chunk.rows;
        progress.add(chunk.rows);
        stats.invalid_dates += chunk.stats.invalid_dates;
        if let Some(k) = last_keys.get_mut(chunk.range) {
            *k = Some(chunk.last_key);
        }
        if chunk.end_of_batch || rows >= max_rows {
            break;
        }
    }
    Ok(BatchEnd::Streamed(Streamed {
        inserts: inserts.into_iter().flatten().collect(),
        done: BatchDone {
            rows,
            bytes,
            last_keys,
            stats,
        },
        finished,
    }))
}

/// Ends the INSERTs of a streamed batch at once (ClickHouse writes their parts in parallel,
/// while the next batch streams in); must run on the ClickHouse resource's runtime.
async fn end_batch(streamed: Streamed) -> clickhouse::error::Result<Ending> {
    Ok(Ending {
        ends: streamed
            .inserts
            .into_iter()
            .map(|ins| tokio::spawn(ins.end()))
            .collect(),
        done: streamed.done,
    })
}

/// Waits until ClickHouse has confirmed every INSERT of a batch.
async fn confirm_batch(
    ends: Vec<tokio::task::JoinHandle<clickhouse::error::Result<()>>>,
) -> clickhouse::error::Result<()> {
    let mut first_error = None;
    for end in ends {
        let r = match end.await {
            Ok(r) => r,
            Err(e) => Err(clickhouse::error::Error::Custom(format!(
                "the INSERT task failed: {e}"
            ))),
        };
        if let (Err(e), None) = (r, &first_error) {
            first_error = Some(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
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
        let integer = columns.iter().any(|c| {
            &c.source.name == pk
                && c.conv == super::types::Conv::Plain
                && matches!(
                    c.ch,
                    ChType::Int8
                        | ChType::Int16
                        | ChType::Int32
                        | ChType::Int64
                        | ChType::UInt8
                        | ChType::UInt16
                        | ChType::UInt32
                        | ChType::UInt64
                )
        });
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
        let plan = ReadPlan {
            table_sql: mysql_table(&cfg.source_table),
            select_sql: columns
                .iter()
                .map(|c| mysql_ident(&c.source.name))
                .collect::<Vec<_>>()
                .join(", "),
            order_sql: order_columns.iter().map(|c| mysql_ident(c)).collect(),
            order_idx,
            bound_sql: bound_cols.iter().map(|c| mysql_ident(c)).collect(),
            upper: bound_vals,
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
