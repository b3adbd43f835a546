//! Hard-delete reconciliation: the primary keys of the source and of the destination are read
//! in the same order, page by page (keyset, constant memory), and merged; keys only the
//! destination has were deleted at the source. ClickHouse gets a tombstone row per key (the key,
//! a higher `_version`, `_is_deleted = 1`; the `_dedup` view hides it), Postgres a `DELETE`.
//!
//! Both sides must sort keys identically, so the key columns must be integers (compared as
//! numbers) or text (compared as bytes: `CAST(… AS BINARY)` on MySQL, `COLLATE "C"` on Postgres,
//! ClickHouse's own `String` order); other key types are refused with an error naming the column.

use super::engine::{DestRef, SourceRef};
use super::pg_dest::{self, PgDestCol, PgEnc};
use super::pg_source::{pg_ident, pg_table, PgCol, PgKind};
use super::sync::{mysql_ident, now_micros, DELETED_COLUMN, VERSION_COLUMN};
use super::types::{encode_value, value_text, ChType, Column, EncodeStats};
use super::TableSync;
use crate::resources::clickhouse::{quote_ident, quote_str};
use crate::resources::error_chain;
use anyhow::{anyhow, bail};
use mysql::prelude::Queryable;
use mysql::Value;
use std::collections::VecDeque;

/// Keys per page read from either side (at most; fewer with the `page_rows` test hook), and per
/// delete statement.
const PAGE: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Int(i128),
    Text(Vec<u8>),
}

type Key = Vec<Part>;

/// Fetches the page of keys after a key (or the first page).
type Fetch<'f> = Box<dyn FnMut(Option<&Key>) -> anyhow::Result<Vec<Key>> + 'f>;

/// A key column: its name, integer or text, and its Postgres type (source or destination).
#[derive(Debug, Clone)]
struct KeyCol {
    name: String,
    int: bool,
    /// Postgres type of the column on the side being read (for `$n::text::type`).
    pg_type: String,
    /// Postgres: compare with `COLLATE "C"`.
    collate: bool,
}

fn part_text(p: &Part) -> String {
    match p {
        Part::Int(i) => i.to_string(),
        Part::Text(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

fn parse_part(int: bool, text: &str) -> anyhow::Result<Part> {
    if int {
        Ok(Part::Int(text.trim().parse().map_err(|_| {
            anyhow!("key value `{text}` is not an integer")
        })?))
    } else {
        Ok(Part::Text(text.as_bytes().to_vec()))
    }
}

/// Keys of one side, read page by page.
struct Paged<'f> {
    fetch: Fetch<'f>,
    page: usize,
    buf: VecDeque<Key>,
    last: Option<Key>,
    done: bool,
}

impl<'f> Paged<'f> {
    fn new(page: usize, fetch: impl FnMut(Option<&Key>) -> anyhow::Result<Vec<Key>> + 'f) -> Self {
        Paged {
            fetch: Box::new(fetch),
            page,
            buf: VecDeque::new(),
            last: None,
            done: false,
        }
    }

    fn next(&mut self) -> anyhow::Result<Option<Key>> {
        if self.buf.is_empty() && !self.done {
            let page = (self.fetch)(self.last.as_ref())?;
            if page.len() < self.page {
                self.done = true;
            }
            if let Some(l) = page.last() {
                // Both sides must deliver keys in strictly increasing order.
                if let Some(prev) = &self.last {
                    if l <= prev {
                        bail!("keys are not in increasing order");
                    }
                }
                self.last = Some(l.clone());
            }
            self.buf.extend(page);
        }
        Ok(self.buf.pop_front())
    }
}

/// Keys of a Postgres table or query, in byte/numeric order.
fn pg_keys(
    conn: &mut postgres::Client,
    from: &str,
    cols: &[KeyCol],
    after: Option<&Key>,
    page: usize,
    what: &str,
) -> anyhow::Result<Vec<Key>> {
    let lhs: Vec<String> = cols
        .iter()
        .map(|c| {
            if c.collate {
                format!("{} COLLATE \"C\"", pg_ident(&c.name))
            } else {
                pg_ident(&c.name)
            }
        })
        .collect();
    let select: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}::text AS _tsync_k{i}", pg_ident(&c.name)))
        .collect();
    let mut params: Vec<String> = Vec::new();
    let mut where_sql = String::new();
    if let Some(k) = after {
        let rhs: Vec<String> = cols
            .iter()
            .zip(k)
            .enumerate()
            .map(|(i, (c, p))| {
                params.push(part_text(p));
                if c.collate {
                    format!("${}::text COLLATE \"C\"", i + 1)
                } else {
                    format!("${}::text::{}", i + 1, c.pg_type)
                }
            })
            .collect();
        where_sql = format!(" WHERE ({}) > ({})", lhs.join(", "), rhs.join(", "));
    }
    let sql = format!(
        "SELECT {} FROM {from}{where_sql} ORDER BY {} LIMIT {page}",
        select.join(", "),
        lhs.join(", ")
    );
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect();
    let rows = conn
        .query(&sql, &refs)
        .map_err(|e| anyhow!("{what}: `{sql}`: {}", error_chain(&e)))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut key = Vec::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            let t: Option<String> = row.get(i);
            let t = t.ok_or_else(|| anyhow!("{what}: NULL in key column `{}`", c.name))?;
            key.push(parse_part(c.int, &t)?);
        }
        out.push(key);
    }
    Ok(out)
}

/// Runs the reconciliation; returns the number of keys deleted in the destination.
pub(super) fn reconcile(
    sync: &TableSync,
    src: SourceRef<'_>,
    dst: DestRef<'_>,
    columns: &[Column],
    pg_cols: &[Option<PgCol>],
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<u64> {
    let cfg = &sync.config;
    let page = sync.page_rows.clamp(1, PAGE);
    let src_where = sync.source_where(&src);
    let dst_where = sync.dest_where(&dst);
    // Key columns, as integers or text.
    let mut key_cols: Vec<(usize, KeyCol)> = Vec::new();
    for k in &cfg.primary_key {
        let i = columns
            .iter()
            .position(|c| &c.source.name == k)
            .ok_or_else(|| anyhow!("primary key column `{k}` is not synced"))?;
        let c = &columns[i];
        let pg = pg_cols.get(i).and_then(|p| p.as_ref());
        let int = c.is_plain_integer();
        let text = c.ch == ChType::String
            && match pg {
                Some(p) => matches!(p.kind, PgKind::Text | PgKind::Uuid),
                None => matches!(
                    c.source.data_type.as_str(),
                    "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
                ),
            };
        if !int && !text {
            bail!(
                "hard-delete reconciliation needs integer or text primary key columns; `{k}` of {src_where} is {}",
                c.source.column_type
            );
        }
        key_cols.push((
            i,
            KeyCol {
                name: k.clone(),
                int,
                pg_type: pg.map_or_else(|| "text".into(), |p| p.type_sql.clone()),
                collate: pg.is_some_and(|p| p.kind == PgKind::Text),
            },
        ));
    }
    let cols: Vec<KeyCol> = key_cols.iter().map(|(_, k)| k.clone()).collect();

    // The source side.
    let from = match (&cfg.source_query, src) {
        (Some(q), _) => format!("({}) AS src", q.trim().trim_end_matches(';')),
        (None, SourceRef::Mysql(_)) => super::sync::mysql_table(&cfg.source_table),
        (None, SourceRef::Postgres(_)) => pg_table(&cfg.source_table),
    };
    let mut my_conn = match src {
        SourceRef::Mysql(m) => Some(m.connection()?),
        SourceRef::Postgres(_) => None,
    };
    let mut pg_src_conn = match src {
        SourceRef::Postgres(p) => Some(p.connection()?),
        SourceRef::Mysql(_) => None,
    };
    let src_cols = cols.clone();
    let src_from = from.clone();
    let src_what = src_where.clone();
    let mut source = Paged::new(
        page,
        move |after: Option<&Key>| -> anyhow::Result<Vec<Key>> {
            if let Some(conn) = pg_src_conn.as_mut() {
                return pg_keys(conn, &src_from, &src_cols, after, page, &src_what);
            }
            let Some(conn) = my_conn.as_mut() else {
                bail!("no source connection");
            };
            let exprs: Vec<String> = src_cols
                .iter()
                .map(|c| {
                    if c.int {
                        mysql_ident(&c.name)
                    } else {
                        // The UTF-8 bytes whatever the column's character set (a latin1 column
                        // compared as its own bytes would sort `€` (0x80) before `é` (0xE9)).
                        format!(
                            "CAST(CONVERT({} USING utf8mb4) AS BINARY)",
                            mysql_ident(&c.name)
                        )
                    }
                })
                .collect();
            let mut params: Vec<Value> = Vec::new();
            let mut where_sql = String::new();
            if let Some(k) = after {
                for p in k {
                    params.push(match p {
                        Part::Int(i) => match i64::try_from(*i) {
                            Ok(v) => Value::Int(v),
                            Err(_) => Value::UInt(u64::try_from(*i).unwrap_or(u64::MAX)),
                        },
                        Part::Text(b) => Value::Bytes(b.clone()),
                    });
                }
                let marks: Vec<&str> = k.iter().map(|_| "?").collect();
                where_sql = if exprs.len() == 1 {
                    format!(" WHERE {} > ?", exprs[0])
                } else {
                    format!(" WHERE ({}) > ({})", exprs.join(", "), marks.join(", "))
                };
            }
            let sql = format!(
                "SELECT {e} FROM {src_from}{where_sql} ORDER BY {e} LIMIT {page}",
                e = exprs.join(", ")
            );
            let rows: Vec<mysql::Row> = conn
                .exec(&sql, mysql::Params::Positional(params))
                .map_err(|e| anyhow!("{src_what}: `{sql}`: {e}"))?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let vals = row.unwrap();
                let mut key = Vec::with_capacity(src_cols.len());
                for (c, v) in src_cols.iter().zip(vals) {
                    key.push(match (&v, c.int) {
                        (Value::Int(i), true) => Part::Int(i128::from(*i)),
                        (Value::UInt(u), true) => Part::Int(i128::from(*u)),
                        (Value::Bytes(b), false) => Part::Text(b.clone()),
                        (Value::NULL, _) => {
                            bail!("{src_what}: NULL in key column `{}`", c.name)
                        }
                        (other, int) => parse_part(int, &value_text(other))?,
                    });
                }
                out.push(key);
            }
            Ok(out)
        },
    );

    // The destination side (live keys only).
    let table = cfg.destination_table.clone();
    let dest_cols: Vec<KeyCol> = match dst {
        DestRef::Postgres(_) => key_cols
            .iter()
            .map(|(i, k)| {
                let d: PgDestCol =
                    pg_dest::map_column(&columns[*i], pg_cols.get(*i).and_then(|p| p.as_ref()));
                KeyCol {
                    name: k.name.clone(),
                    int: k.int,
                    collate: !k.int && d.enc == PgEnc::Text,
                    pg_type: d.type_sql,
                }
            })
            .collect(),
        DestRef::Clickhouse(_) => cols.clone(),
    };
    let mut pg_dst_conn = match dst {
        DestRef::Postgres(p) => Some(p.connection()?),
        DestRef::Clickhouse(_) => None,
    };
    let dst_what = dst_where.clone();
    let dst_table = table.clone();
    let dcols = dest_cols.clone();
    let mut dest = Paged::new(
        page,
        move |after: Option<&Key>| -> anyhow::Result<Vec<Key>> {
            match dst {
                DestRef::Postgres(_) => {
                    let Some(conn) = pg_dst_conn.as_mut() else {
                        bail!("no destination connection");
                    };
                    pg_keys(conn, &pg_table(&dst_table), &dcols, after, page, &dst_what)
                }
                DestRef::Clickhouse(c) => {
                    let names: Vec<String> = dcols.iter().map(|k| quote_ident(&k.name)).collect();
                    let mut where_sql = String::new();
                    if let Some(k) = after {
                        let lits: Vec<String> = k
                            .iter()
                            .map(|p| match p {
                                Part::Int(i) => i.to_string(),
                                Part::Text(b) => quote_str(&String::from_utf8_lossy(b)),
                            })
                            .collect();
                        where_sql = if names.len() == 1 {
                            format!(" WHERE {} > {}", names[0], lits[0])
                        } else {
                            format!(" WHERE ({}) > ({})", names.join(", "), lits.join(", "))
                        };
                    }
                    let sql = format!(
                    "SELECT {n} FROM {}{where_sql} GROUP BY {n} HAVING argMax({}, {}) = 0 ORDER BY {n} LIMIT {page}",
                    TableSync::ch_table(c, &dst_table),
                    quote_ident(DELETED_COLUMN),
                    quote_ident(VERSION_COLUMN),
                    n = names.join(", "),
                );
                    let rows = c.query_rows(&sql)?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        let mut key = Vec::with_capacity(dcols.len());
                        for (k, v) in dcols.iter().zip(r) {
                            key.push(parse_part(k.int, &v)?);
                        }
                        out.push(key);
                    }
                    Ok(out)
                }
            }
        },
    );

    // Merge.
    let mut gone: Vec<Key> = Vec::new();
    let mut deleted = 0u64;
    let mut s = source.next()?;
    let mut d = dest.next()?;
    let mut flush = |gone: &mut Vec<Key>| -> anyhow::Result<()> {
        if gone.is_empty() {
            return Ok(());
        }
        delete_keys(dst, &table, columns, &key_cols, &dest_cols, gone)?;
        deleted += gone.len() as u64;
        gone.clear();
        Ok(())
    };
    let (mut n_src, mut n_dst) = (u64::from(s.is_some()), u64::from(d.is_some()));
    while let Some(dk) = d.take() {
        match &s {
            Some(sk) if sk < &dk => {
                s = source.next()?;
                n_src += u64::from(s.is_some());
                d = Some(dk);
            }
            Some(sk) if sk == &dk => {
                s = source.next()?;
                d = dest.next()?;
                n_src += u64::from(s.is_some());
                n_dst += u64::from(d.is_some());
            }
            _ => {
                gone.push(dk);
                if gone.len() >= PAGE {
                    flush(&mut gone)?;
                }
                d = dest.next()?;
                n_dst += u64::from(d.is_some());
            }
        }
    }
    flush(&mut gone)?;
    log(&format!(
        "hard-delete reconciliation: {n_dst} live destination key(s) compared with {n_src}+ source key(s); {deleted} missing at the source deleted from {dst_where}"
    ));

    Ok(deleted)
}

fn delete_keys(
    dst: DestRef<'_>,
    table: &str,
    columns: &[Column],
    key_cols: &[(usize, KeyCol)],
    dest_cols: &[KeyCol],
    keys: &[Key],
) -> anyhow::Result<()> {
    match dst {
        DestRef::Clickhouse(c) => {
            let version = now_micros();
            let mut data = Vec::new();
            let mut stats = EncodeStats::default();
            for key in keys {
                for ((i, _), p) in key_cols.iter().zip(key) {
                    let v = match p {
                        Part::Int(n) => match i64::try_from(*n) {
                            Ok(v) => Value::Int(v),
                            Err(_) => Value::UInt(u64::try_from(*n).unwrap_or(u64::MAX)),
                        },
                        Part::Text(b) => Value::Bytes(b.clone()),
                    };
                    encode_value(&mut data, &columns[*i], &v, &mut stats)
                        .map_err(|e| anyhow!("tombstone for key {}: {e}", value_text(&v)))?;
                }
                data.extend_from_slice(&version.to_le_bytes());
                data.push(1);
            }
            let mut names: Vec<String> = key_cols.iter().map(|(_, k)| k.name.clone()).collect();
            names.push(VERSION_COLUMN.into());
            names.push(DELETED_COLUMN.into());
            c.insert_row_binary(
                &TableSync::ch_table(c, table),
                &names,
                bytes::Bytes::from(data),
            )?;
            Ok(())
        }
        DestRef::Postgres(p) => {
            let mut arrays: Vec<Vec<String>> =
                vec![Vec::with_capacity(keys.len()); dest_cols.len()];
            for key in keys {
                for (a, part) in arrays.iter_mut().zip(key) {
                    a.push(part_text(part));
                }
            }
            let lhs: Vec<String> = dest_cols.iter().map(|k| pg_ident(&k.name)).collect();
            let casts: Vec<String> = dest_cols
                .iter()
                .enumerate()
                .map(|(i, k)| format!("u.c{i}::{}", k.pg_type))
                .collect();
            let unnest: Vec<String> = (1..=dest_cols.len())
                .map(|i| format!("${i}::text[]"))
                .collect();
            let aliases: Vec<String> = (0..dest_cols.len()).map(|i| format!("c{i}")).collect();
            let sql = format!(
                "DELETE FROM {} WHERE ({}) IN (SELECT {} FROM unnest({}) AS u({}))",
                pg_table(table),
                lhs.join(", "),
                casts.join(", "),
                unnest.join(", "),
                aliases.join(", ")
            );
            let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = arrays
                .iter()
                .map(|a| a as &(dyn postgres::types::ToSql + Sync))
                .collect();
            let mut conn = p.connection()?;
            conn.execute(&sql, &refs).map_err(|e| {
                anyhow!(
                    "{}: deleting keys missing at the source: {}",
                    pg_dest::dest_where(p, table),
                    error_chain(&e)
                )
            })?;
            Ok(())
        }
    }
}
