//! What the plan (`plan.rs`) sees of a source and a destination, for every engine: the
//! [`SourceOps`] and [`DestOps`] of the MySQL, Postgres and ClickHouse resources.

use super::pg_dest::{self, PgDestCol};
use super::pg_source::{self, param_text, pg_ident, pg_table, PgCol, PgKind};
use super::plan::{DestOps, SourceOps};
use super::state::{RangeState, Start};
use super::sync::{mysql_ident, OLD_SUFFIX};
use super::types::{value_text, Column};
use super::{SyncMode, TableSync};
use crate::resources::clickhouse::quote_ident;
use anyhow::{anyhow, bail};
use mysql::prelude::Queryable;
use mysql::Value;
use postgres::fallible_iterator::FallibleIterator;

use super::engine::{DestRef, SourceRef};

/// The lookback start: the saved cursor minus `secs` (dates and times, integers).
fn lookback(cursor: &Value, secs: u64, column: Option<&str>) -> anyhow::Result<Value> {
    let micros = i64::try_from(secs).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
    match cursor {
        // Postgres `-infinity` (`infinity` never becomes a saved cursor of an incremental run).
        v if pg_source::infinity_sign(v).is_some() => Ok(v.clone()),
        Value::Date(..) => {
            let us = pg_source::date_micros(cursor).ok_or_else(|| {
                anyhow!(
                    "the saved cursor {} is not a valid date",
                    value_text(cursor)
                )
            })?;
            Ok(pg_source::date_value(us - micros))
        }
        Value::Int(i) => Ok(Value::Int(
            i.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX)),
        )),
        Value::UInt(u) => Ok(Value::UInt(u.saturating_sub(secs))),
        _ => bail!(
            "`lookback_seconds` needs a date, time or integer cursor column; `{}` is not",
            column.unwrap_or("")
        ),
    }
}

/// The plan's view of a source (any engine).
pub(super) struct SourceSide<'a> {
    sync: &'a TableSync,
    src: SourceRef<'a>,
    src_where: String,
    /// The synced columns and, for a Postgres source, their types.
    columns: Vec<Column>,
    pg_cols: Vec<Option<PgCol>>,
}

impl<'a> SourceSide<'a> {
    pub(super) fn new(
        sync: &'a TableSync,
        src: SourceRef<'a>,
        columns: &[Column],
        pg_cols: &[Option<PgCol>],
    ) -> Self {
        SourceSide {
            sync,
            src_where: sync.source_where(&src),
            src,
            columns: columns.to_vec(),
            pg_cols: pg_cols.to_vec(),
        }
    }

    fn kind(&self, name: &str) -> PgKind {
        self.columns
            .iter()
            .position(|c| c.source.name == name)
            .and_then(|i| self.pg_cols.get(i))
            .and_then(|p| p.as_ref())
            .map_or(PgKind::Other, |p| p.kind)
    }

    fn quote(&self, name: &str) -> String {
        match self.src {
            SourceRef::Mysql(_) => mysql_ident(name),
            SourceRef::Postgres(_) => pg_ident(name),
        }
    }

    /// The first column of `EXPLAIN`'s estimate (MySQL: `rows`; Postgres: `rows=N` of the
    /// top plan node).
    fn explain_rows(&self, sql: &str, params: Vec<Value>, kind: PgKind) -> Option<u64> {
        match self.src {
            SourceRef::Mysql(m) => {
                let mut conn = m.connection().ok()?;
                let rows: Vec<mysql::Row> = conn
                    .exec(format!("EXPLAIN {sql}"), mysql::Params::Positional(params))
                    .ok()?;
                let row = rows.first()?;
                let idx = row
                    .columns_ref()
                    .iter()
                    .position(|c| c.name_str() == "rows")?;
                match row.as_ref(idx)? {
                    Value::Int(i) => u64::try_from(*i).ok(),
                    Value::UInt(u) => Some(*u),
                    Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
                    _ => None,
                }
            }
            SourceRef::Postgres(p) => {
                let mut conn = p.connection().ok()?;
                let texts: Vec<Option<String>> =
                    params.iter().map(|v| param_text(v, kind)).collect();
                let rows = conn
                    .query_raw(format!("EXPLAIN {sql}").as_str(), texts.iter())
                    .ok()?;
                let mut rows = rows;
                let first = rows.next().ok()??;
                let line: String = first.try_get(0).ok()?;
                let rest = &line[line.find("rows=")? + 5..];
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            }
        }
    }
}

impl SourceOps for SourceSide<'_> {
    fn max_cursor(&self) -> anyhow::Result<Option<Value>> {
        let Some(c) = &self.sync.config.cursor_column else {
            return Ok(None);
        };
        let kind = self.kind(c);
        let row = self
            .sync
            .max_of(self.src, &self.quote(c), kind, &self.src_where)?;
        let pg_date = matches!(kind, PgKind::Date | PgKind::Timestamp | PgKind::Timestamptz);
        if pg_date && row.as_ref().and_then(pg_source::infinity_sign) == Some(true) {
            bail!(
                "{}: cursor column `{c}` holds `infinity`, which an incremental sync can never move past; exclude those rows with a `source_query` (`… WHERE {} <> 'infinity'`) or use `mode: full`",
                self.src_where,
                self.quote(c)
            );
        }
        Ok(row.filter(|v| !matches!(v, Value::NULL)))
    }

    fn upper_key(&self) -> anyhow::Result<Option<Vec<Value>>> {
        let cfg = &self.sync.config;
        let Some(c) = &cfg.cursor_column else {
            return Ok(None);
        };
        let key_cols: Vec<(String, PgKind)> = self
            .sync
            .key_columns()
            .into_iter()
            .map(|k| {
                let kind = self.kind(&k);
                (k, kind)
            })
            .collect();
        let desc: Vec<String> = key_cols
            .iter()
            .map(|k| format!("{} DESC", self.quote(&k.0)))
            .collect();
        let key = self.sync.source_row(
            self.src,
            &key_cols,
            &format!(
                "WHERE {} IS NOT NULL ORDER BY {} LIMIT 1",
                self.quote(c),
                desc.join(", ")
            ),
            &self.src_where,
        )?;
        if cfg.mode == SyncMode::Incremental {
            let pg_date = matches!(
                self.kind(c),
                PgKind::Date | PgKind::Timestamp | PgKind::Timestamptz
            );
            let first = key.as_ref().and_then(|k| k.first());
            if pg_date && first.and_then(pg_source::infinity_sign) == Some(true) {
                bail!(
                    "{}: cursor column `{c}` holds `infinity`, which an incremental sync can never move past; exclude those rows with a `source_query` (`… WHERE {} <> 'infinity'`) or use `mode: full`",
                    self.src_where,
                    self.quote(c)
                );
            }
        }
        Ok(key)
    }

    fn lookback_start(&self, cursor: &Value, seconds: u64) -> anyhow::Result<Value> {
        lookback(cursor, seconds, self.sync.config.cursor_column.as_deref())
    }

    fn snapshot_ranges(&self) -> anyhow::Result<Vec<RangeState>> {
        match self.src {
            SourceRef::Mysql(m) if self.sync.config.source_query.is_none() => {
                self.sync.full_sync_ranges(m, &self.columns)
            }
            _ => Ok(Vec::new()),
        }
    }

    fn estimate_rows(&self, snapshot: bool, start: &Start) -> Option<u64> {
        let cfg = &self.sync.config;
        let from = self.sync.source_from_sql(self.src);
        let from_cursor = |c: &str, v: Option<&Value>| {
            let param = match self.src {
                SourceRef::Mysql(_) => "?".to_string(),
                SourceRef::Postgres(_) => {
                    let ty = self
                        .columns
                        .iter()
                        .position(|col| col.source.name == c)
                        .and_then(|i| self.pg_cols.get(i))
                        .and_then(|p| p.as_ref())
                        .map_or_else(|| "text".to_string(), |p| p.type_sql.clone());
                    format!("$1::text::{ty}")
                }
            };
            self.explain_rows(
                &format!("SELECT 1 FROM {from} WHERE {} >= {param}", self.quote(c)),
                v.cloned().into_iter().collect(),
                self.kind(c),
            )
        };
        match (snapshot, start, &cfg.cursor_column) {
            (false, Start::After(k), Some(c)) => from_cursor(c, k.first()),
            (false, Start::AtLeast(v), Some(c)) => from_cursor(c, Some(v)),
            _ => match (self.src, &cfg.source_query) {
                (SourceRef::Mysql(m), None) => {
                    let (schema, table) = match cfg.source_table.split_once('.') {
                        Some((s, t)) => (Some(s.to_string()), t.to_string()),
                        None => (None, cfg.source_table.clone()),
                    };
                    let mut conn = m.connection().ok()?;
                    let n: Option<Option<u64>> = conn
                        .exec_first(
                            "SELECT TABLE_ROWS FROM information_schema.TABLES \
                             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                            (schema, table),
                        )
                        .ok()?;
                    n.flatten()
                }
                (SourceRef::Postgres(p), None) => {
                    let mut conn = p.connection().ok()?;
                    let row = conn
                        .query_opt(
                            "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)",
                            &[&pg_table(&cfg.source_table)],
                        )
                        .ok()??;
                    let n: f64 = row.try_get(0).ok()?;
                    (n >= 0.0).then_some(n as u64)
                }
                _ => self.explain_rows(&format!("SELECT 1 FROM {from}"), Vec::new(), PgKind::Other),
            },
        }
    }
}

/// The plan's view of a destination (any engine).
pub(super) struct DestSide<'a> {
    sync: &'a TableSync,
    dst: DestRef<'a>,
    /// Postgres destination columns (empty for ClickHouse).
    pg_dest_cols: Vec<PgDestCol>,
}

impl<'a> DestSide<'a> {
    pub(super) fn new(sync: &'a TableSync, dst: DestRef<'a>, pg_dest_cols: Vec<PgDestCol>) -> Self {
        DestSide {
            sync,
            dst,
            pg_dest_cols,
        }
    }

    pub(super) fn exists(&self, table: &str) -> anyhow::Result<bool> {
        Ok(match self.dst {
            DestRef::Clickhouse(c) => !TableSync::dest_columns(c, table)?.is_empty(),
            DestRef::Postgres(p) => !pg_dest::table_columns(p, table)?.is_empty(),
        })
    }
}

impl DestOps for DestSide<'_> {
    fn ensure_table(
        &self,
        table: &str,
        columns: &mut [Column],
    ) -> anyhow::Result<(bool, Vec<String>)> {
        match self.dst {
            DestRef::Clickhouse(c) => self.sync.ensure_table(c, table, columns),
            DestRef::Postgres(p) => {
                pg_dest::ensure_table(p, table, &self.pg_dest_cols, &self.sync.config.primary_key)
            }
        }
    }

    fn drop_table(&self, table: &str) -> anyhow::Result<()> {
        match self.dst {
            DestRef::Clickhouse(c) => {
                c.execute_on_server(&format!(
                    "CREATE DATABASE IF NOT EXISTS {}",
                    quote_ident(c.database())
                ))?;
                c.execute_on_server(&format!(
                    "DROP TABLE IF EXISTS {}",
                    TableSync::ch_table(c, table)
                ))?;
                Ok(())
            }
            DestRef::Postgres(p) => pg_dest::drop_table(p, table),
        }
    }

    fn swap_in(&self, staging: &str, table: &str) -> anyhow::Result<()> {
        match self.dst {
            DestRef::Clickhouse(c) => {
                let final_name = TableSync::ch_table(c, table);
                let staging_name = TableSync::ch_table(c, staging);
                let old_name = TableSync::ch_table(c, &format!("{table}{OLD_SUFFIX}"));
                if self.exists(table)? {
                    c.execute(&format!("DROP TABLE IF EXISTS {old_name}"))?;
                    c.execute(&format!(
                        "RENAME TABLE {final_name} TO {old_name}, {staging_name} TO {final_name}"
                    ))?;
                    c.execute(&format!("DROP TABLE IF EXISTS {old_name}"))?;
                } else {
                    c.execute(&format!("RENAME TABLE {staging_name} TO {final_name}"))?;
                }
                Ok(())
            }
            DestRef::Postgres(p) => pg_dest::swap_in(p, staging, table),
        }
    }
}
