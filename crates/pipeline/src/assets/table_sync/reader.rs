//! The MySQL/MariaDB side of the hot path: the page queries of a [`ReadPlan`], the reader
//! threads ([`read_chunks`]) that decode rows (own wire reader or the `mysql` crate) and encode
//! them into ClickHouse Native blocks ([`Chunk`]s) for the writer.

use super::state::{key_text, Start};
use super::sync::now_micros;
use super::types::{
    encode_ref, is_truthy_ref, put_varint, value_text, Column, ColumnBuf, EncodeStats, ValRef,
};
use super::wire::WireConn;
use dagster_core::defs::CancelToken;
use mysql::prelude::Queryable;
use mysql::Value;

/// A piece of a batch, sent from the reader thread to the writer: whole rows as one ClickHouse
/// Native block.
pub(super) struct Chunk {
    pub(super) data: Vec<u8>,
    pub(super) rows: u64,
    /// Order key of the last row read so far (of this chunk, or of the batch's previous chunk
    /// when this one is empty).
    pub(super) last_key: Vec<Value>,
    /// The last chunk of a batch: the writer ends the INSERT and saves `last_key`.
    pub(super) end_of_batch: bool,
    pub(super) stats: EncodeStats,
    /// The reader (primary key range) the rows come from.
    pub(super) range: usize,
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
    /// The same bound checked on each row as it arrives instead of in the `WHERE` clause
    /// (`bound_sql` is then empty): a snapshot whose bound columns are integers and dates,
    /// which compare the same here as on the server. Evaluating the bound on every row was
    /// about 5 % of MariaDB's work in a snapshot; the rows it rejects (committed during the
    /// snapshot) are few.
    pub(super) row_bound: Option<RowBound>,
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
pub(super) const PAGE_ROWS: usize = 100_000;
/// Readers of a full sync over disjoint primary key ranges, when the key is one integer column
/// and spans at least two pages. MariaDB serves each connection on one thread, which also waits
/// for its page reads when the table is larger than the buffer pool: four readers keep 2 cores
/// busier than two (the shipped job's first run on the 1M-row bench table, 6 alternations on 2
/// cores: 1.11 s against 1.25 s with two readers; 3 readers 1.15 s). Each reader's rows go into
/// their own INSERT, so a batch is one part per reader.
pub(super) const FULL_SYNC_READERS: u64 = 4;
/// Encoded bytes per chunk handed to the writer; a chunk is one Native block (about 14,000 rows
/// of the bench table). ClickHouse's cost per block is what limits this: it parses the block's
/// column types anew for every block (96 KiB blocks cost it about 20 % more CPU than 512 KiB
/// ones, 2 MiB about 5 % less again). glibc raises its mmap threshold to the size of the first
/// freed chunk, so chunk buffers are recycled by the heap, not mapped and zeroed anew.
const CHUNK_BYTES: usize = 2 << 20;
/// Chunks buffered between the readers and the writer (about 8 MB: memory stays constant
/// whatever the table or batch size).
pub(super) const CHANNEL_CHUNKS: usize = 4;

/// `(columns) <= (upper)` checked on a row (see [`ReadPlan::row_bound`]).
#[derive(Debug, Clone)]
pub(super) struct RowBound {
    /// Positions of the bound columns in a row.
    idx: Vec<usize>,
    upper: Vec<Value>,
}

/// Source types whose values the reader compares exactly as MySQL and MariaDB do.
fn compares_here(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint"
            | "smallint"
            | "mediumint"
            | "int"
            | "bigint"
            | "year"
            | "date"
            | "datetime"
            | "timestamp"
    )
}

impl RowBound {
    /// The bound of a snapshot, when every bound column [`compares_here`].
    pub(super) fn new(
        columns: &[Column],
        bound_cols: &[String],
        upper: &[Value],
    ) -> Option<RowBound> {
        if bound_cols.is_empty() || bound_cols.len() != upper.len() {
            return None;
        }
        let idx = bound_cols
            .iter()
            .map(|b| {
                columns
                    .iter()
                    .position(|c| &c.source.name == b && compares_here(&c.source.data_type))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(RowBound {
            idx,
            upper: upper.to_vec(),
        })
    }

    /// Whether the row is within the bound; a NULL is not (as in SQL).
    fn admits(&self, vals: &[ValRef<'_>]) -> Result<bool, String> {
        use std::cmp::Ordering;
        for (&i, u) in self.idx.iter().zip(&self.upper) {
            let v = vals[i];
            let ord = match (v, u) {
                (ValRef::Null, _) | (_, Value::NULL) => return Ok(false),
                (ValRef::Int(_) | ValRef::UInt(_), Value::Int(_) | Value::UInt(_)) => {
                    let a = match v {
                        ValRef::Int(a) => i128::from(a),
                        ValRef::UInt(a) => i128::from(a),
                        _ => 0,
                    };
                    let b = match u {
                        Value::Int(b) => i128::from(*b),
                        Value::UInt(b) => i128::from(*b),
                        _ => 0,
                    };
                    a.cmp(&b)
                }
                (
                    ValRef::Date(y, mo, d, h, mi, s, us),
                    Value::Date(y2, mo2, d2, h2, mi2, s2, us2),
                ) => (y, mo, d, h, mi, s, us).cmp(&(*y2, *mo2, *d2, *h2, *mi2, *s2, *us2)),
                _ => {
                    return Err(format!(
                        "cannot compare {v:?} with the upper bound {}",
                        value_text(u)
                    ))
                }
            };
            match ord {
                Ordering::Less => return Ok(true),
                Ordering::Greater => return Ok(false),
                Ordering::Equal => {}
            }
        }
        Ok(true)
    }
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
            Start::After(vals) if k.len() == 1 && vals.len() == 1 => {
                conds.push(format!("{} > ?", k[0]));
                params.push(vals[0].clone());
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
pub(super) struct ReadRange {
    pub(super) index: usize,
    pub(super) start: Start,
    pub(super) upto: Option<Value>,
    pub(super) only: bool,
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
        for (slot, &i) in self.key.iter_mut().zip(&plan.order_idx) {
            *slot = vals[i].to_value();
        }
        if let Some(bound) = &plan.row_bound {
            if !bound.admits(vals)? {
                return Ok(true); // committed after the snapshot started: the next run takes it
            }
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
pub(super) fn read_chunks(
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::state::Start;
    use super::*;
    use crate::assets::table_sync::types::{map_column, ChCaps, InvalidDates, SourceColumn};

    fn column(name: &str, data_type: &str) -> Column {
        let sc = SourceColumn {
            name: name.into(),
            data_type: data_type.into(),
            column_type: data_type.into(),
            nullable: true,
            precision: None,
            scale: None,
            datetime_precision: None,
        };
        map_column(&sc, ChCaps::default(), InvalidDates::Null)
    }

    /// The bound checked on rows admits exactly what `(cursor, id) <= (upper)` admits in SQL.
    #[test]
    fn the_row_bound_compares_as_the_server_does() {
        let columns = [
            column("id", "bigint"),
            column("name", "varchar"),
            column("updated_at", "datetime"),
        ];
        let bound = ["updated_at".to_string(), "id".to_string()];
        let upper = [Value::Date(2024, 5, 1, 12, 0, 0, 0), Value::UInt(100)];
        let b = RowBound::new(&columns, &bound, &upper).unwrap();
        let row = |id: i64, d: ValRef<'static>| [ValRef::Int(id), ValRef::Bytes(b"x"), d];
        let at = |h: u8, us: u32| ValRef::Date(2024, 5, 1, h, 0, 0, us);
        assert!(b.admits(&row(1, at(11, 0))).unwrap());
        assert!(b.admits(&row(100, at(12, 0))).unwrap());
        assert!(!b.admits(&row(101, at(12, 0))).unwrap());
        assert!(!b.admits(&row(1, at(12, 1))).unwrap());
        assert!(!b.admits(&row(1, ValRef::Null)).unwrap());
        assert!(b
            .admits(&[ValRef::UInt(7), ValRef::Null, at(0, 0)])
            .unwrap());
        // A string column compares by collation on the server: that bound stays in SQL.
        assert!(RowBound::new(
            &columns,
            &["name".to_string()],
            &[Value::Bytes(b"m".to_vec())]
        )
        .is_none());
        assert!(b.admits(&row(1, ValRef::Bytes(b"2024-05-01"))).is_err());
    }

    /// A single-column key continues with `k > ?` (one comparison per row).
    #[test]
    fn a_single_column_key_pages_with_one_comparison() {
        let plan = ReadPlan {
            table_sql: "`t`".into(),
            select_sql: "`id`".into(),
            order_sql: vec!["`id`".into()],
            order_idx: vec![0],
            bound_sql: Vec::new(),
            upper: Vec::new(),
            row_bound: None,
            batch_size: 10,
            page_rows: 10,
            columns: vec![column("id", "bigint")],
            soft_delete_idx: None,
            native_headers: Vec::new(),
        };
        let (sql, params) = plan.query(&Start::After(vec![Value::Int(5)]), Some(&Value::Int(9)), 3);
        assert_eq!(
            sql,
            "SELECT `id` FROM `t` WHERE `id` > ? AND `id` <= ? ORDER BY `id` LIMIT 3"
        );
        assert_eq!(params, vec![Value::Int(5), Value::Int(9)]);
    }
}
