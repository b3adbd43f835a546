//! The source and destination abstraction: which engine runs a sync, and the general engine
//! for every combination other than the MySQL table → ClickHouse hot path (`sync.rs`):
//! MySQL or Postgres (table or `source_query`) → ClickHouse or Postgres.
//!
//! The general engine keeps the same guarantees as the hot path with a simpler pipeline: one
//! reader thread (keyset pages of (cursor, primary key), upper bound fixed at the start) hands
//! rows to the step thread in chunks over a bounded channel; the step thread writes each batch
//! (ClickHouse: one RowBinary INSERT; Postgres: one transaction of binary COPY into a temporary
//! table and one upsert) and saves the cursor only after the destination confirmed it. Rows
//! travel as the `mysql` crate's [`Value`]s, so the cursor state is the hot path's.

use super::pg_dest::{self, PgDestCol, PgSink};
use super::pg_source::{self, param_text, pg_ident, pg_table, PgCol, PgKind};
use super::plan::{Progress, SourceOps};
use super::reader::ReadPlan;
use super::sides::{DestSide, SourceSide};
use super::state::{key_text, KeyVal, SavedState, Start};
use super::sync::{
    mysql_ident, mysql_table, now_micros, DELETED_COLUMN, VERSION_COLUMN, VIEW_SUFFIX,
};
use super::types::{
    encode_value, is_truthy, value_text, ChType, Column, EncodeStats, SourceColumn,
};
use super::{SyncMode, SyncOutcome, TableSync};
use crate::resources::clickhouse::{quote_ident, quote_str};
use crate::resources::{error_chain, ClickhouseResource, MysqlResource, PostgresResource};
use anyhow::{anyhow, bail, Context as _};
use dagster_core::defs::CancelToken;
use dagster_core::storage::KvStore;
use mysql::consts::{ColumnFlags, ColumnType};
use mysql::prelude::Queryable;
use mysql::Value;
use postgres::fallible_iterator::FallibleIterator;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

/// A sync source resource.
#[derive(Clone, Copy)]
pub enum SourceRef<'a> {
    Mysql(&'a MysqlResource),
    Postgres(&'a PostgresResource),
}

/// A sync destination resource.
#[derive(Clone, Copy)]
pub enum DestRef<'a> {
    Clickhouse(&'a ClickhouseResource),
    Postgres(&'a PostgresResource),
}

/// Rows handed from the reader to the writer.
struct Msg {
    rows: Vec<Vec<Value>>,
    last_key: Vec<Value>,
    end_of_batch: bool,
}

/// Rows per message from the reader.
const MSG_ROWS: usize = 2_000;
/// Messages buffered between reader and writer.
const CHANNEL_MSGS: usize = 4;
/// Rows per SELECT of the general engine.
const PAGE_ROWS: usize = 50_000;

/// What the general reader needs.
struct Plan {
    /// `FROM` clause: the table or `(<query>) AS src`.
    from: String,
    /// Quoted column list (Postgres: `::text` for types without a binary decoder).
    select: String,
    kinds: Vec<PgKind>,
    /// Order (keyset) columns: quoted name, index in the row, Postgres type and kind.
    order: Vec<(String, usize, String, PgKind)>,
    /// `(columns) <= (upper)`: the cursor column (and in a snapshot the primary key), quoted,
    /// with their Postgres types and kinds, and the bound fixed at the start.
    bound: Vec<(String, String, PgKind)>,
    upper: Vec<Value>,
    batch_size: usize,
    page_rows: usize,
    /// MySQL: the hot path's plan, whose `query` builds the keyset SQL.
    mysql: Option<ReadPlan>,
}

/// `(k0, k1) > ($1::text::t0, $2::text::t1) AND k0 <= $3::text::t0` etc. for Postgres.
fn pg_page_sql(plan: &Plan, start: &Start, limit: usize) -> (String, Vec<Option<String>>) {
    let mut conds = Vec::new();
    let mut params: Vec<Option<String>> = Vec::new();
    let param = |v: &Value, ty: &str, kind: PgKind, params: &mut Vec<Option<String>>| {
        params.push(param_text(v, kind));
        format!("${}::text::{ty}", params.len())
    };
    match start {
        Start::Beginning => {}
        Start::AtLeast(v) => {
            let (c, _, ty, kind) = &plan.order[0];
            let p = param(v, ty, *kind, &mut params);
            conds.push(format!("{c} >= {p}"));
        }
        Start::After(vals) => {
            let mut lhs = Vec::new();
            let mut rhs = Vec::new();
            for ((c, _, ty, kind), v) in plan.order.iter().zip(vals) {
                lhs.push(c.clone());
                rhs.push(param(v, ty, *kind, &mut params));
            }
            conds.push(format!("({}) > ({})", lhs.join(", "), rhs.join(", ")));
        }
    }
    if !plan.bound.is_empty() && plan.bound.len() == plan.upper.len() {
        let mut lhs = Vec::new();
        let mut rhs = Vec::new();
        for ((c, ty, kind), u) in plan.bound.iter().zip(&plan.upper) {
            lhs.push(c.clone());
            rhs.push(param(u, ty, *kind, &mut params));
        }
        conds.push(format!("({}) <= ({})", lhs.join(", "), rhs.join(", ")));
    }
    let where_sql = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let order: Vec<&str> = plan.order.iter().map(|o| o.0.as_str()).collect();
    (
        format!(
            "SELECT {} FROM {}{where_sql} ORDER BY {} LIMIT {limit}",
            plan.select,
            plan.from,
            order.join(", ")
        ),
        params,
    )
}

/// Reads every page from `start`, sending rows in messages; the last message of a batch is
/// marked. Returns when the source is exhausted or the writer hung up.
fn read_rows(
    src: SourceRef<'_>,
    plan: &Plan,
    mut start: Start,
    tx: &SyncSender<Result<Msg, String>>,
    cancel: &CancelToken,
) -> Result<(), String> {
    enum Conn {
        My(mysql::PooledConn),
        Pg(Box<r2d2::PooledConnection<crate::resources::postgres::Manager>>),
    }
    let mut conn = match src {
        SourceRef::Mysql(m) => Conn::My(m.connection().map_err(|e| e.to_string())?),
        SourceRef::Postgres(p) => Conn::Pg(Box::new(p.connection().map_err(|e| e.to_string())?)),
    };
    let key_of = |row: &[Value]| -> Vec<Value> {
        plan.order
            .iter()
            .map(|o| row.get(o.1).cloned().unwrap_or(Value::NULL))
            .collect()
    };
    let mut rows_in_batch = 0usize;
    let mut key: Vec<Value> = Vec::new();
    loop {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let limit = plan.page_rows.min(plan.batch_size - rows_in_batch).max(1);
        let mut buf: Vec<Vec<Value>> = Vec::with_capacity(MSG_ROWS.min(limit));
        let mut page_rows = 0usize;
        let send = |buf: &mut Vec<Vec<Value>>, key: &[Value], end: bool| -> bool {
            let msg = Msg {
                rows: std::mem::take(buf),
                last_key: key.to_vec(),
                end_of_batch: end,
            };
            tx.send(Ok(msg)).is_ok()
        };
        match &mut conn {
            Conn::My(c) => {
                let Some(mp) = &plan.mysql else {
                    return Err("no MySQL plan".into());
                };
                let (sql, params) = mp.query(&start, None, limit);
                let stmt = c
                    .prep(&sql)
                    .map_err(|e| format!("preparing `{sql}`: {e}"))?;
                let result = c
                    .exec_iter(&stmt, mysql::Params::Positional(params))
                    .map_err(|e| format!("reading a batch: {e}"))?;
                for row in result {
                    let row = row.map_err(|e| format!("reading a batch: {e}"))?;
                    buf.push(row.unwrap());
                    page_rows += 1;
                    if buf.len() >= MSG_ROWS {
                        key = buf.last().map(|r| key_of(r)).unwrap_or_default();
                        if !send(&mut buf, &key, false) {
                            return Ok(());
                        }
                    }
                }
            }
            Conn::Pg(c) => {
                let (sql, params) = pg_page_sql(plan, &start, limit);
                let stmt = c
                    .prepare(&sql)
                    .map_err(|e| format!("preparing `{sql}`: {}", error_chain(&e)))?;
                let mut it = c
                    .query_raw(&stmt, params.iter())
                    .map_err(|e| format!("reading a batch: {}", error_chain(&e)))?;
                while let Some(row) = it
                    .next()
                    .map_err(|e| format!("reading a batch: {}", error_chain(&e)))?
                {
                    let mut values = Vec::with_capacity(plan.kinds.len());
                    for (i, kind) in plan.kinds.iter().enumerate() {
                        values.push(pg_source::row_value(&row, i, *kind).map_err(|e| {
                            format!("column {} of a row: {e}", row.columns()[i].name())
                        })?);
                    }
                    buf.push(values);
                    page_rows += 1;
                    if buf.len() >= MSG_ROWS {
                        key = buf.last().map(|r| key_of(r)).unwrap_or_default();
                        if !send(&mut buf, &key, false) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        if let Some(r) = buf.last() {
            key = key_of(r);
        }
        rows_in_batch += page_rows;
        let exhausted = page_rows < limit;
        let end_of_batch = exhausted || rows_in_batch >= plan.batch_size;
        if (!buf.is_empty() || (end_of_batch && rows_in_batch > 0))
            && !send(&mut buf, &key, end_of_batch)
        {
            return Ok(());
        }
        if end_of_batch {
            rows_in_batch = 0;
        }
        if exhausted {
            return Ok(());
        }
        start = Start::After(key.clone());
    }
}

/// The ClickHouse writer of the general engine: one `INSERT … FORMAT RowBinary` per batch.
struct ChSink<'a> {
    dst: &'a ClickhouseResource,
    sql: String,
    columns: Vec<Column>,
    soft_delete_idx: Option<usize>,
    key_idx: Vec<usize>,
    insert: Option<clickhouse::insert_formatted::InsertFormatted>,
    version: u64,
    stats: EncodeStats,
    bytes: u64,
}

impl ChSink<'_> {
    fn begin(&mut self) {
        self.version = now_micros().max(self.version + 1);
        self.insert = Some(self.dst.client().insert_formatted_with(self.sql.clone()));
    }

    fn write(&mut self, rows: &[Vec<Value>]) -> anyhow::Result<()> {
        let mut data = Vec::with_capacity(rows.len() * 64);
        for row in rows {
            for (col, v) in self.columns.iter().zip(row.iter()) {
                // Postgres ±infinity is a date ClickHouse cannot hold: the encoder applies the
                // sync's `invalid_dates` policy to it.
                if let Err(e) = encode_value(&mut data, col, v, &mut self.stats) {
                    let key: Vec<Value> = self
                        .key_idx
                        .iter()
                        .map(|&i| row.get(i).cloned().unwrap_or(Value::NULL))
                        .collect();
                    bail!(
                        "column `{}` ({}) of the row with key {}: {e}",
                        col.source.name,
                        col.source.column_type,
                        key_text(&key)
                    );
                }
            }
            data.extend_from_slice(&self.version.to_le_bytes());
            let deleted = self
                .soft_delete_idx
                .is_some_and(|i| row.get(i).is_some_and(is_truthy));
            data.push(u8::from(deleted));
        }
        self.bytes += data.len() as u64;
        let Some(ins) = self.insert.as_mut() else {
            bail!("no INSERT in progress");
        };
        self.dst
            .block_on(&self.sql, ins.send(bytes::Bytes::from(data)))?;
        Ok(())
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        if let Some(ins) = self.insert.take() {
            self.dst.block_on(&self.sql, ins.end())?;
        }
        Ok(())
    }
}

enum Sink<'a> {
    Ch(Box<ChSink<'a>>),
    Pg(Box<PgSink>),
}

impl Sink<'_> {
    fn begin(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Ch(s) => {
                s.begin();
                Ok(())
            }
            Sink::Pg(s) => s.begin(),
        }
    }
    fn write(&mut self, rows: &[Vec<Value>]) -> anyhow::Result<()> {
        match self {
            Sink::Ch(s) => s.write(rows),
            Sink::Pg(s) => s.write(rows),
        }
    }
    fn commit(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Ch(s) => s.commit(),
            Sink::Pg(s) => s.commit(),
        }
    }
    fn totals(&self) -> (u64, EncodeStats) {
        match self {
            Sink::Ch(s) => (s.bytes, s.stats),
            Sink::Pg(s) => (s.bytes, s.stats),
        }
    }
}

/// The MySQL description of a computed query column (no table behind it).
fn mysql_meta_column(c: &mysql::Column, nullable: bool) -> SourceColumn {
    let flags = c.flags();
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let u = if unsigned { " unsigned" } else { "" };
    let len = c.column_length();
    let dec = u32::from(c.decimals());
    let mut sc = SourceColumn {
        name: c.name_str().into_owned(),
        data_type: String::new(),
        column_type: String::new(),
        nullable,
        precision: None,
        scale: None,
        datetime_precision: None,
    };
    let int = |t: &str| (t.to_string(), format!("{t}({len}){u}"));
    let (dt, ct) = if flags.contains(ColumnFlags::ENUM_FLAG) {
        ("enum".to_string(), "enum".to_string())
    } else if flags.contains(ColumnFlags::SET_FLAG) {
        ("set".to_string(), "set".to_string())
    } else {
        match c.column_type() {
            ColumnType::MYSQL_TYPE_TINY => int("tinyint"),
            ColumnType::MYSQL_TYPE_SHORT => int("smallint"),
            ColumnType::MYSQL_TYPE_INT24 => int("mediumint"),
            ColumnType::MYSQL_TYPE_LONG => int("int"),
            ColumnType::MYSQL_TYPE_LONGLONG => int("bigint"),
            ColumnType::MYSQL_TYPE_FLOAT => ("float".into(), "float".into()),
            ColumnType::MYSQL_TYPE_DOUBLE => ("double".into(), "double".into()),
            ColumnType::MYSQL_TYPE_NEWDECIMAL | ColumnType::MYSQL_TYPE_DECIMAL => {
                let p = len
                    .saturating_sub(u32::from(dec > 0))
                    .saturating_sub(u32::from(!unsigned))
                    .max(1);
                sc.precision = Some(p);
                sc.scale = Some(dec.min(p));
                ("decimal".into(), format!("decimal({p},{dec}){u}"))
            }
            ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => {
                ("date".into(), "date".into())
            }
            ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
                sc.datetime_precision = Some(dec.min(6));
                ("datetime".into(), format!("datetime({})", dec.min(6)))
            }
            ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
                sc.datetime_precision = Some(dec.min(6));
                ("timestamp".into(), format!("timestamp({})", dec.min(6)))
            }
            ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
                ("time".into(), "time".into())
            }
            ColumnType::MYSQL_TYPE_YEAR => ("year".into(), "year".into()),
            ColumnType::MYSQL_TYPE_BIT => ("bit".into(), format!("bit({len})")),
            ColumnType::MYSQL_TYPE_JSON => ("json".into(), "json".into()),
            _ if c.character_set() == 63 => ("blob".into(), "blob".into()),
            _ => ("text".into(), "text".into()),
        }
    };
    sc.data_type = dt;
    sc.column_type = ct;
    sc
}

impl TableSync {
    /// Runs the sync from any source into any destination: MySQL table → ClickHouse on the hot
    /// path ([`TableSync::run`]), everything else on the general engine.
    pub fn sync(
        &self,
        src: SourceRef<'_>,
        dst: DestRef<'_>,
        kv: &dyn KvStore,
        asset_key: &str,
        cancel: &CancelToken,
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<SyncOutcome> {
        match (src, dst) {
            (SourceRef::Mysql(s), DestRef::Clickhouse(d)) if self.config.source_query.is_none() => {
                self.run(s, d, kv, asset_key, cancel, log)
            }
            _ => self.run_general(src, dst, kv, asset_key, cancel, log),
        }
    }

    /// `source table `t` (mysql resource `r`, host:port)`.
    pub(super) fn source_where(&self, src: &SourceRef<'_>) -> String {
        let (kind, name, addr) = match src {
            SourceRef::Mysql(m) => ("mysql", m.name(), m.addr()),
            SourceRef::Postgres(p) => ("postgres", p.name(), p.addr()),
        };
        format!(
            "{} ({kind} resource `{name}`, {addr})",
            self.config.source_text()
        )
    }

    /// `clickhouse db.table (resource `r`, host:port)`.
    pub(super) fn dest_where(&self, dst: &DestRef<'_>) -> String {
        match dst {
            DestRef::Clickhouse(c) => format!(
                "destination table `{}.{}` (clickhouse resource `{}`, {})",
                c.database(),
                self.config.destination_table,
                c.name(),
                c.addr()
            ),
            DestRef::Postgres(p) => pg_dest::dest_where(p, &self.config.destination_table),
        }
    }

    /// An existing ClickHouse column (`existing`: name → type of the destination table) that
    /// holds a MySQL ENUM as `String` (tables created before ENUMs mapped to
    /// `Enum8`/`Enum16`) keeps being written as `String`. Called by `ensure_table`, which reads
    /// the table's columns anyway.
    pub(super) fn keep_string_enums(existing: &[(String, String)], columns: &mut [Column]) {
        for c in columns.iter_mut() {
            if !matches!(c.ch, ChType::Enum8 | ChType::Enum16) {
                continue;
            }
            if let Some((_, t)) = existing.iter().find(|(n, _)| n == &c.source.name) {
                if t == "String" || t == "Nullable(String)" || t == "LowCardinality(String)" {
                    c.ch = ChType::String;
                    c.labels.clear();
                }
            }
        }
    }

    /// Source columns: (mysql-vocabulary description, Postgres type when the source is Postgres).
    fn describe_any(
        &self,
        src: SourceRef<'_>,
        src_where: &str,
    ) -> anyhow::Result<Vec<(SourceColumn, Option<PgCol>)>> {
        let cfg = &self.config;
        let mut cols: Vec<(SourceColumn, Option<PgCol>)> = match (src, &cfg.source_query) {
            (SourceRef::Mysql(m), None) => self
                .describe_source(m)?
                .into_iter()
                .map(|c| (c, None))
                .collect(),
            (SourceRef::Mysql(m), Some(q)) => Self::describe_mysql_query(m, q, src_where)?
                .into_iter()
                .map(|c| (c, None))
                .collect(),
            (SourceRef::Postgres(p), q) => {
                pg_source::describe(p, &cfg.source_table, q.as_deref(), src_where)?
                    .into_iter()
                    .map(|(c, pg)| (c, Some(pg)))
                    .collect()
            }
        };
        // A query's key columns must not be NULL (checked when the rows are written).
        if cfg.source_query.is_some() {
            for (c, _) in cols.iter_mut() {
                if cfg.primary_key.contains(&c.name) {
                    c.nullable = false;
                }
            }
        }
        Ok(cols)
    }

    /// Columns of a MySQL query, from the prepared statement's metadata; a column that comes
    /// straight from a table is described by `INFORMATION_SCHEMA` (exact type, ENUM labels).
    fn describe_mysql_query(
        src: &MysqlResource,
        query: &str,
        src_where: &str,
    ) -> anyhow::Result<Vec<SourceColumn>> {
        let mut conn = src.connection()?;
        let stmt = conn
            .prep(query)
            .map_err(|e| anyhow!("{src_where}: preparing the query: {e}"))?;
        let mut out = Vec::new();
        for c in stmt.columns().iter() {
            let nullable = !c.flags().contains(ColumnFlags::NOT_NULL_FLAG);
            let (schema, table, org) = (c.schema_str(), c.org_table_str(), c.org_name_str());
            if !table.is_empty() && !org.is_empty() {
                type Row = (String, String, Option<u64>, Option<u64>, Option<u64>);
                let row: Option<Row> = conn
                    .exec_first(
                        "SELECT DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, \
                         DATETIME_PRECISION FROM information_schema.COLUMNS \
                         WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) \
                         AND TABLE_NAME = ? AND COLUMN_NAME = ?",
                        (schema.as_ref(), table.as_ref(), org.as_ref()),
                    )
                    .map_err(|e| src.query_error(format!("reading INFORMATION_SCHEMA: {e}")))?;
                if let Some((dt, ct, p, s, dtp)) = row {
                    out.push(SourceColumn {
                        name: c.name_str().into_owned(),
                        data_type: dt.to_ascii_lowercase(),
                        column_type: ct.to_ascii_lowercase(),
                        nullable,
                        precision: p.and_then(|v| u32::try_from(v).ok()),
                        scale: s.and_then(|v| u32::try_from(v).ok()),
                        datetime_precision: dtp.and_then(|v| u32::try_from(v).ok()),
                    });
                    continue;
                }
            }
            out.push(mysql_meta_column(c, nullable));
        }
        if out.is_empty() {
            bail!("{src_where} returns no columns");
        }
        Ok(out)
    }

    /// `FROM` clause of the source.
    pub(super) fn source_from_sql(&self, src: SourceRef<'_>) -> String {
        match (&self.config.source_query, src) {
            (Some(q), _) => format!("({}) AS src", q.trim().trim_end_matches(';')),
            (None, SourceRef::Mysql(_)) => mysql_table(&self.config.source_table),
            (None, SourceRef::Postgres(_)) => pg_table(&self.config.source_table),
        }
    }

    /// One row of key columns (`SELECT cols FROM … <tail>`), or `None`.
    pub(super) fn source_row(
        &self,
        src: SourceRef<'_>,
        cols: &[(String, PgKind)],
        tail: &str,
        src_where: &str,
    ) -> anyhow::Result<Option<Vec<Value>>> {
        let from = self.source_from_sql(src);
        match src {
            SourceRef::Mysql(m) => {
                let list: Vec<String> = cols.iter().map(|c| mysql_ident(&c.0)).collect();
                let sql = format!("SELECT {} FROM {from} {tail}", list.join(", "));
                let mut conn = m.connection()?;
                let row: Option<mysql::Row> = conn
                    .exec_first(&sql, ())
                    .map_err(|e| anyhow!("{src_where}: `{sql}`: {e}"))?;
                Ok(row.map(|r| r.unwrap()))
            }
            SourceRef::Postgres(p) => {
                let list: Vec<String> = cols
                    .iter()
                    .map(|c| {
                        if c.1 == PgKind::Other {
                            format!("{}::text", pg_ident(&c.0))
                        } else {
                            pg_ident(&c.0)
                        }
                    })
                    .collect();
                let sql = format!("SELECT {} FROM {from} {tail}", list.join(", "));
                let mut conn = p.connection()?;
                let row = conn
                    .query_opt(&sql, &[])
                    .map_err(|e| anyhow!("{src_where}: `{sql}`: {}", error_chain(&e)))?;
                let Some(row) = row else { return Ok(None) };
                let mut out = Vec::new();
                for (i, c) in cols.iter().enumerate() {
                    out.push(
                        pg_source::row_value(&row, i, c.1)
                            .map_err(|e| anyhow!("{src_where}: column `{}`: {e}", c.0))?,
                    );
                }
                Ok(Some(out))
            }
        }
    }

    /// Hard-delete reconciliation when it is due (incremental runs only): `None` when it did
    /// not run, else the number of keys deleted.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn maybe_reconcile(
        &self,
        src: SourceRef<'_>,
        dst: DestRef<'_>,
        columns: &[Column],
        pg_cols: &[Option<PgCol>],
        state: &mut SavedState,
        kv: &dyn KvStore,
        state_key: &str,
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Option<u64>> {
        let Some(every) = self.config.reconcile_every_runs else {
            return Ok(None);
        };
        state.runs_since_reconcile += 1;
        if state.runs_since_reconcile < every {
            state.save(kv, state_key)?;
            return Ok(None);
        }
        let n = super::reconcile::reconcile(self, src, dst, columns, pg_cols, log)?;
        state.runs_since_reconcile = 0;
        state.save(kv, state_key)?;
        Ok(Some(n))
    }

    /// The general engine (see the module documentation).
    fn run_general(
        &self,
        src: SourceRef<'_>,
        dst: DestRef<'_>,
        kv: &dyn KvStore,
        asset_key: &str,
        cancel: &CancelToken,
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<SyncOutcome> {
        let started = Instant::now();
        let cfg = &self.config;
        let src_where = self.source_where(&src);
        let state_key = Self::state_key(asset_key);
        let described = self.describe_any(src, &src_where)?;
        let caps = match dst {
            DestRef::Clickhouse(c) => super::types::ChCaps::from_version(&c.server_version()?),
            DestRef::Postgres(_) => super::types::ChCaps::NEWEST,
        };
        let mut columns = self.select_columns(
            &src_where,
            described.iter().map(|(c, _)| c.clone()).collect(),
            caps,
        )?;
        // ClickHouse, incremental: the table check comes first, since it keeps the existing
        // `String` columns of ENUMs (one `system.columns` query for both).
        let mut checked = match (cfg.mode, dst) {
            (SyncMode::Incremental, DestRef::Clickhouse(c)) => {
                Some(self.ensure_table(c, &cfg.destination_table, &mut columns))
            }
            _ => None,
        };
        let pg_cols: Vec<Option<PgCol>> = columns
            .iter()
            .map(|c| {
                described
                    .iter()
                    .find(|(d, _)| d.name == c.source.name)
                    .and_then(|(_, p)| p.clone())
            })
            .collect();
        let kind_of = |i: usize| -> PgKind {
            pg_cols
                .get(i)
                .and_then(|p| p.as_ref())
                .map_or(PgKind::Other, |p| p.kind)
        };
        let type_of = |i: usize| -> String {
            pg_cols
                .get(i)
                .and_then(|p| p.as_ref())
                .map_or_else(|| "text".to_string(), |p| p.type_sql.clone())
        };
        let destination = match dst {
            DestRef::Clickhouse(c) => format!("{}.{}", c.database(), cfg.destination_table),
            DestRef::Postgres(_) => format!("postgres:{}", cfg.destination_table),
        };
        let key_columns = self.key_columns();
        let (mut state, cursor_before) =
            SavedState::resume(kv, &state_key, &destination, &key_columns, log)?;
        let pg_dest_cols: Vec<PgDestCol> = columns
            .iter()
            .zip(&pg_cols)
            .map(|(c, p)| pg_dest::map_column(c, p.as_ref()))
            .collect();
        let source = SourceSide::new(self, src, &columns, &pg_cols);
        let dest = DestSide::new(self, dst, pg_dest_cols.clone());
        let run_plan = self.plan_run(
            &source,
            &dest,
            &mut columns,
            checked.take(),
            false,
            &mut state,
            kv,
            &state_key,
            log,
        )?;
        let total = source.estimate_rows(run_plan.snapshot, &run_plan.start);
        let progress = Progress::new(log, total, self.progress_every);
        let upper = run_plan.upper.clone();
        let target = run_plan.target.clone();
        let idx = |name: &str| columns.iter().position(|c| c.source.name == name);
        let columns_added = run_plan.columns_added.clone();
        let upper_text = upper.as_ref().map(value_text);

        // Order: (cursor, primary key) incrementally, the primary key in a snapshot.
        let order_columns = run_plan.order_columns(self);
        let (bound_cols, bound_vals) = run_plan.bound(self);
        let order_idx: Vec<usize> = order_columns
            .iter()
            .map(|k| idx(k))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| anyhow!("a key column is not synced"))?;
        let soft_delete_idx = cfg.soft_delete_column.as_deref().and_then(idx);
        let (quote, select): (fn(&str) -> String, String) = match src {
            SourceRef::Mysql(_) => (
                mysql_ident,
                columns
                    .iter()
                    .map(|c| mysql_ident(&c.source.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            SourceRef::Postgres(_) => (
                pg_ident,
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if kind_of(i) == PgKind::Other {
                            format!("{}::text", pg_ident(&c.source.name))
                        } else {
                            pg_ident(&c.source.name)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let from = self.source_from_sql(src);
        let mysql_plan = matches!(src, SourceRef::Mysql(_)).then(|| ReadPlan {
            table_sql: from.clone(),
            select_sql: select.clone(),
            order_sql: order_columns.iter().map(|c| mysql_ident(c)).collect(),
            order_idx: order_idx.clone(),
            bound_sql: bound_cols.iter().map(|c| mysql_ident(c)).collect(),
            upper: bound_vals.clone(),
            row_bound: None,
            batch_size: cfg.batch_size,
            page_rows: self.page_rows.min(PAGE_ROWS),
            columns: columns.clone(),
            soft_delete_idx,
            native_headers: Vec::new(),
        });
        let plan = Plan {
            from,
            select,
            kinds: (0..columns.len()).map(kind_of).collect(),
            order: order_columns
                .iter()
                .zip(&order_idx)
                .map(|(c, &i)| (quote(c), i, type_of(i), kind_of(i)))
                .collect(),
            bound: bound_cols
                .iter()
                .map(|c| {
                    let i = idx(c).unwrap_or(0);
                    (quote(c), type_of(i), kind_of(i))
                })
                .collect(),
            upper: bound_vals,
            batch_size: cfg.batch_size,
            page_rows: self.page_rows.min(PAGE_ROWS),
            mysql: mysql_plan,
        };

        let mut sink = match dst {
            DestRef::Clickhouse(c) => {
                let mut names: Vec<String> = columns
                    .iter()
                    .map(|c| quote_ident(&c.source.name))
                    .collect();
                names.push(quote_ident(VERSION_COLUMN));
                names.push(quote_ident(DELETED_COLUMN));
                Sink::Ch(Box::new(ChSink {
                    dst: c,
                    sql: format!(
                        "INSERT INTO {} ({}) FORMAT RowBinary",
                        Self::ch_table(c, &target),
                        names.join(", ")
                    ),
                    columns: columns.clone(),
                    soft_delete_idx,
                    key_idx: order_idx.clone(),
                    insert: None,
                    version: 0,
                    stats: EncodeStats::default(),
                    bytes: 0,
                }))
            }
            DestRef::Postgres(p) => Sink::Pg(Box::new(PgSink::new(
                p,
                &target,
                pg_dest_cols.clone(),
                &cfg.primary_key,
                cfg.soft_delete_column.as_deref(),
            )?)),
        };

        let mut rows_written = 0u64;
        let mut batches = 0u64;
        let mut last_key_text = cursor_before.clone();
        if !run_plan.nothing_to_read {
            let start = run_plan.start.clone();
            let (tx, rx) = sync_channel::<Result<Msg, String>>(CHANNEL_MSGS);
            let result: anyhow::Result<()> = std::thread::scope(|scope| {
                let plan_ref = &plan;
                let reader_cancel = cancel.clone();
                let handle = scope.spawn(move || {
                    if let Err(e) = read_rows(src, plan_ref, start, &tx, &reader_cancel) {
                        let _ = tx.send(Err(e));
                    }
                });
                let r = (|| -> anyhow::Result<()> {
                    loop {
                        let Some((rows, last)) =
                            write_one_batch(&mut sink, &rx, cancel, &src_where, &progress)?
                        else {
                            return Ok(());
                        };
                        rows_written += rows;
                        batches += 1;
                        last_key_text = Some(key_text(&last));
                        self.record_batch(&run_plan, &mut state, &[Some(last)], kv, &state_key)?;
                        progress.log(&format!(
                            "batch {batches}: {rows} rows ({rows_written} in total), {} {}",
                            if run_plan.snapshot {
                                "primary key"
                            } else {
                                "cursor"
                            },
                            last_key_text.as_deref().unwrap_or("")
                        ));
                        if self.fail_after_batches == Some(batches) {
                            bail!("test hook: failing after {batches} batches");
                        }
                    }
                })();
                drop(rx);
                if handle.join().is_err() && r.is_ok() {
                    return Err(anyhow!("the reader thread panicked"));
                }
                r
            });
            result?;
        }
        let (bytes, stats) = sink.totals();
        drop(sink);

        self.finish_plan(&run_plan, &dest, &mut state, kv, &state_key)?;
        let rows_hard_deleted = if cfg.mode == SyncMode::Incremental {
            self.maybe_reconcile(
                src,
                dst,
                &columns,
                &pg_cols,
                &mut state,
                kv,
                &state_key,
                &mut |m| progress.log(m),
            )?
        } else {
            None
        };
        let destination_rows = match dst {
            DestRef::Clickhouse(c) => {
                let view = format!("{}{VIEW_SUFFIX}", cfg.destination_table);
                let view_exists = c
                    .query_value(&format!(
                        "SELECT count() FROM system.tables WHERE database = {} AND name = {}",
                        quote_str(c.database()),
                        quote_str(&view)
                    ))?
                    .as_deref()
                    == Some("1");
                if !view_exists || !columns_added.is_empty() || run_plan.snapshot {
                    self.ensure_view(c, &cfg.destination_table)?;
                }
                self.dest_row_count(c, &cfg.destination_table)?
            }
            DestRef::Postgres(p) => pg_dest::row_count(p, &cfg.destination_table)?,
        };
        state.destination_rows = Some(destination_rows);
        state
            .save(kv, &state_key)
            .context("saving the sync state")?;
        let cursor_after = state
            .last_key
            .as_ref()
            .map(|k| key_text(&k.iter().map(KeyVal::to_value).collect::<Vec<_>>()))
            .or(last_key_text);
        Ok(SyncOutcome {
            mode: cfg.mode,
            rows_read: rows_written,
            rows_written,
            batches,
            bytes,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cursor_before,
            cursor_after,
            upper_bound: upper_text,
            destination_rows,
            invalid_dates: stats.invalid_dates,
            columns_added,
            destination,
            rows_hard_deleted,
        })
    }

    /// `SELECT MAX(col) FROM <source>`.
    pub(super) fn max_of(
        &self,
        src: SourceRef<'_>,
        quoted: &str,
        kind: PgKind,
        src_where: &str,
    ) -> anyhow::Result<Option<Value>> {
        let from = self.source_from_sql(src);
        match src {
            SourceRef::Mysql(m) => {
                let sql = format!("SELECT MAX({quoted}) FROM {from}");
                let mut conn = m.connection()?;
                let row: Option<mysql::Row> = conn
                    .exec_first(&sql, ())
                    .map_err(|e| anyhow!("{src_where}: `{sql}`: {e}"))?;
                Ok(row.and_then(|r| r.unwrap().into_iter().next()))
            }
            SourceRef::Postgres(p) => {
                let expr = if kind == PgKind::Other {
                    format!("MAX({quoted})::text")
                } else {
                    format!("MAX({quoted})")
                };
                let sql = format!("SELECT {expr} FROM {from}");
                let mut conn = p.connection()?;
                let row = conn
                    .query_one(&sql, &[])
                    .map_err(|e| anyhow!("{src_where}: `{sql}`: {}", error_chain(&e)))?;
                Ok(Some(
                    pg_source::row_value(&row, 0, kind).map_err(|e| anyhow!("{src_where}: {e}"))?,
                ))
            }
        }
    }
}

/// Writes one batch: `None` when the reader had nothing more, else (rows, last key).
fn write_one_batch(
    sink: &mut Sink<'_>,
    rx: &Receiver<Result<Msg, String>>,
    cancel: &CancelToken,
    src_where: &str,
    progress: &Progress<'_>,
) -> anyhow::Result<Option<(u64, Vec<Value>)>> {
    let mut msg = match rx.recv() {
        Err(_) => return Ok(None),
        Ok(Err(e)) => bail!("reading {src_where}: {e}"),
        Ok(Ok(m)) => m,
    };
    sink.begin()?;
    let mut rows = 0u64;
    loop {
        if cancel.is_cancelled() {
            bail!("cancelled; the cursor is saved");
        }
        sink.write(&msg.rows)?;
        rows += msg.rows.len() as u64;
        progress.add(msg.rows.len() as u64);
        if msg.end_of_batch {
            break;
        }
        msg = match rx.recv() {
            Err(_) => bail!("reading {src_where}: the reader stopped in the middle of a batch"),
            Ok(Err(e)) => bail!("reading {src_where}: {e}"),
            Ok(Ok(m)) => m,
        };
    }
    sink.commit()?;
    Ok(Some((rows, msg.last_key)))
}
