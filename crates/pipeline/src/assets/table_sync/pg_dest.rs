//! Postgres as a table sync destination: the type mapping, the table (created from the source
//! schema, new columns added), and the batch writer.
//!
//! Each batch is one transaction: `CREATE TEMP TABLE … ON COMMIT DROP`, the rows by binary
//! `COPY … FROM STDIN (FORMAT binary)` into it (one COPY per chunk of rows), then rows whose
//! soft-delete column is set are `DELETE`d and the others upserted with one
//! `INSERT … SELECT DISTINCT ON (pk) … ON CONFLICT (pk) DO UPDATE`, then `COMMIT`. A batch sent
//! twice (the cursor is saved only after the commit) changes nothing the second time.

use super::pg_source::{date_micros, pg_ident, pg_table, PgCol, PgKind, PG_EPOCH_DAYS};
use super::types::{days_in_month, is_truthy, value_text, Column, Conv, EncodeStats, InvalidDates};
use crate::resources::postgres::Manager;
use crate::resources::{error_chain, PostgresResource};
use anyhow::{anyhow, bail};
use mysql::Value;

/// Staging table of a batch (dropped at commit).
const STAGE: &str = "_tsync_stage";
const SEQ: &str = "_tsync_seq";
const DELETED: &str = "_tsync_deleted";

/// How a value is written in binary COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgEnc {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    Text,
    Bytea,
    Json,
    Jsonb,
    Uuid,
    Date,
    Timestamp,
    Timestamptz,
    Time,
    Interval,
    /// Written as text and cast to the destination type by the upsert.
    TextCast,
}

impl PgEnc {
    fn staging_type(self) -> &'static str {
        match self {
            PgEnc::Int2 => "int2",
            PgEnc::Int4 => "int4",
            PgEnc::Int8 => "int8",
            PgEnc::Float4 => "float4",
            PgEnc::Float8 => "float8",
            PgEnc::Numeric => "numeric",
            PgEnc::Bool => "bool",
            PgEnc::Text | PgEnc::TextCast => "text",
            PgEnc::Bytea => "bytea",
            PgEnc::Json => "json",
            PgEnc::Jsonb => "jsonb",
            PgEnc::Uuid => "uuid",
            PgEnc::Date => "date",
            PgEnc::Timestamp => "timestamp",
            PgEnc::Timestamptz => "timestamptz",
            PgEnc::Time => "time",
            PgEnc::Interval => "interval",
        }
    }
}

/// One destination column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgDestCol {
    pub name: String,
    /// The type as `format_type` prints it, e.g. `numeric(12,2)`.
    pub type_sql: String,
    pub enc: PgEnc,
    pub nullable: bool,
    /// MySQL `BIT(n)`: big-endian bytes.
    pub bit: bool,
    /// A source column type, for messages.
    pub source_type: String,
    /// What is written for a zero or invalid date (`invalid_dates:` of the sync).
    pub invalid_dates: InvalidDates,
}

fn paren_len(column_type: &str) -> Option<u32> {
    let start = column_type.find('(')?;
    let end = column_type[start..].find(')')? + start;
    column_type[start + 1..end].trim().parse().ok()
}

/// The Postgres column of a synced column: a Postgres source keeps its type (enums become
/// `text`), a MySQL source is mapped as docs/SYNC.md lists.
pub fn map_column(col: &Column, pg: Option<&PgCol>) -> PgDestCol {
    let (type_sql, enc) = match pg {
        Some(p) => match p.kind {
            PgKind::Int2 => (p.type_sql.clone(), PgEnc::Int2),
            PgKind::Int4 => (p.type_sql.clone(), PgEnc::Int4),
            PgKind::Int8 => (p.type_sql.clone(), PgEnc::Int8),
            PgKind::Float4 => (p.type_sql.clone(), PgEnc::Float4),
            PgKind::Float8 => (p.type_sql.clone(), PgEnc::Float8),
            PgKind::Numeric => (p.type_sql.clone(), PgEnc::Numeric),
            PgKind::Bool => (p.type_sql.clone(), PgEnc::Bool),
            PgKind::Text => (p.type_sql.clone(), PgEnc::Text),
            PgKind::Bytea => (p.type_sql.clone(), PgEnc::Bytea),
            PgKind::Json => (p.type_sql.clone(), PgEnc::Json),
            PgKind::Jsonb => (p.type_sql.clone(), PgEnc::Jsonb),
            PgKind::Uuid => (p.type_sql.clone(), PgEnc::Uuid),
            PgKind::Date => (p.type_sql.clone(), PgEnc::Date),
            PgKind::Timestamp => (p.type_sql.clone(), PgEnc::Timestamp),
            PgKind::Timestamptz => (p.type_sql.clone(), PgEnc::Timestamptz),
            PgKind::Time => (p.type_sql.clone(), PgEnc::Time),
            PgKind::Enum => ("text".into(), PgEnc::Text),
            PgKind::Other => (p.type_sql.clone(), PgEnc::TextCast),
        },
        None => mysql_to_pg(col),
    };
    PgDestCol {
        name: col.source.name.clone(),
        type_sql,
        enc,
        nullable: col.nullable,
        bit: col.conv == Conv::Bit,
        source_type: col.source.column_type.clone(),
        invalid_dates: col.invalid_dates,
    }
}

fn mysql_to_pg(col: &Column) -> (String, PgEnc) {
    let c = &col.source;
    let unsigned = c.column_type.contains("unsigned");
    let s = |t: &str| t.to_string();
    match c.data_type.as_str() {
        "bool" | "boolean" => (s("boolean"), PgEnc::Bool),
        "tinyint" => (s("smallint"), PgEnc::Int2),
        "smallint" if unsigned => (s("integer"), PgEnc::Int4),
        "smallint" => (s("smallint"), PgEnc::Int2),
        "mediumint" => (s("integer"), PgEnc::Int4),
        "int" | "integer" if unsigned => (s("bigint"), PgEnc::Int8),
        "int" | "integer" => (s("integer"), PgEnc::Int4),
        "bigint" if unsigned => (s("numeric(20,0)"), PgEnc::Numeric),
        "bigint" => (s("bigint"), PgEnc::Int8),
        "float" => (s("real"), PgEnc::Float4),
        "double" | "real" => (s("double precision"), PgEnc::Float8),
        "decimal" | "numeric" => {
            let p = c.precision.unwrap_or(10).clamp(1, 1000);
            let sc = c.scale.unwrap_or(0).min(p);
            (format!("numeric({p},{sc})"), PgEnc::Numeric)
        }
        "year" => (s("smallint"), PgEnc::Int2),
        "date" => (s("date"), PgEnc::Date),
        "datetime" => (
            format!(
                "timestamp({}) without time zone",
                c.datetime_precision.unwrap_or(0).min(6)
            ),
            PgEnc::Timestamp,
        ),
        "timestamp" => (
            format!(
                "timestamp({}) with time zone",
                c.datetime_precision.unwrap_or(0).min(6)
            ),
            PgEnc::Timestamptz,
        ),
        "time" => (s("interval"), PgEnc::Interval),
        "bit" if paren_len(&c.column_type).unwrap_or(64) <= 63 => (s("bigint"), PgEnc::Int8),
        "bit" => (s("numeric(20,0)"), PgEnc::Numeric),
        "char" | "varchar" => match paren_len(&c.column_type) {
            Some(n) if n > 0 => (format!("character varying({n})"), PgEnc::Text),
            _ => (s("text"), PgEnc::Text),
        },
        "json" => (s("json"), PgEnc::Json),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "geometry"
        | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" => (s("bytea"), PgEnc::Bytea),
        // text of all sizes, enum, set, uuid, anything else
        _ => (s("text"), PgEnc::Text),
    }
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// Binary `numeric` of a decimal text (`-123.450`).
pub fn numeric_binary(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|c| c.is_ascii_digit())
        || !frac_part.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let int_part = int_part.trim_start_matches('0');
    let dscale = frac_part.len();
    // Groups of 4 digits, aligned on the decimal point.
    let pad_left = (4 - int_part.len() % 4) % 4;
    let int_padded = format!("{}{int_part}", "0".repeat(pad_left));
    let pad_right = (4 - frac_part.len() % 4) % 4;
    let frac_padded = format!("{frac_part}{}", "0".repeat(pad_right));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| {
                c.iter()
                    .fold(0i16, |acc, &d| acc * 10 + i16::from(d - b'0'))
            })
            .collect()
    };
    let mut groups = group(&int_padded);
    let int_groups = groups.len() as i64;
    groups.extend(group(&frac_padded));
    let mut weight = int_groups - 1;
    // Strip leading zero groups (each moves the weight down) and trailing ones.
    let lead = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..lead);
    weight -= lead as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let mut out = Vec::with_capacity(8 + groups.len() * 2);
    out.extend_from_slice(&i16::try_from(groups.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&i16::try_from(weight).ok()?.to_be_bytes());
    let sign: u16 = if neg && !groups.is_empty() { 0x4000 } else { 0 };
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&u16::try_from(dscale).ok()?.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

fn int_value(v: &Value, bit: bool) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Bytes(b) if bit && b.len() <= 8 => Some(i128::from(
            b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
        )),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        Value::Float(f) if f.fract() == 0.0 => Some(*f as i128),
        Value::Double(f) if f.fract() == 0.0 => Some(*f as i128),
        _ => None,
    }
}

fn float_value(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn parse_uuid(text: &[u8]) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.iter().copied().filter(|&c| c != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Appends one binary COPY field. Errors name the problem (the caller adds column and key).
pub fn encode(
    out: &mut Vec<u8>,
    col: &PgDestCol,
    v: &Value,
    stats: &mut EncodeStats,
) -> Result<(), String> {
    if matches!(v, Value::NULL) {
        put_null(out);
        return Ok(());
    }
    let int = |lo: i128, hi: i128| -> Result<i128, String> {
        let n = int_value(v, col.bit).ok_or_else(|| format!("expected an integer, found {v:?}"))?;
        if n < lo || n > hi {
            return Err(format!("{n} does not fit {}", col.type_sql));
        }
        Ok(n)
    };
    match col.enc {
        PgEnc::Int2 => put_field(
            out,
            &(int(i16::MIN.into(), i16::MAX.into())? as i16).to_be_bytes(),
        ),
        PgEnc::Int4 => put_field(
            out,
            &(int(i32::MIN.into(), i32::MAX.into())? as i32).to_be_bytes(),
        ),
        PgEnc::Int8 => put_field(
            out,
            &(int(i64::MIN.into(), i64::MAX.into())? as i64).to_be_bytes(),
        ),
        PgEnc::Float4 => {
            let f = float_value(v).ok_or_else(|| format!("expected a number, found {v:?}"))?;
            put_field(out, &(f as f32).to_be_bytes())
        }
        PgEnc::Float8 => {
            let f = float_value(v).ok_or_else(|| format!("expected a number, found {v:?}"))?;
            put_field(out, &f.to_be_bytes())
        }
        PgEnc::Numeric => {
            let text = match v {
                Value::Bytes(_) if col.bit => int(0, u64::MAX.into())?.to_string(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                other => value_text(other),
            };
            let b =
                numeric_binary(&text).ok_or_else(|| format!("`{text}` is not a decimal number"))?;
            put_field(out, &b)
        }
        PgEnc::Bool => {
            let b = match v {
                Value::Bytes(b) => matches!(b.as_slice(), b"1" | b"t" | b"true"),
                other => int_value(other, false).is_some_and(|n| n != 0),
            };
            put_field(out, &[u8::from(b)])
        }
        PgEnc::Text | PgEnc::TextCast | PgEnc::Json => {
            let text: std::borrow::Cow<'_, [u8]> = match v {
                Value::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
                other => std::borrow::Cow::Owned(value_text(other).into_bytes()),
            };
            if std::str::from_utf8(&text).is_err() {
                return Err("not valid UTF-8 (map the column to bytea with a source_query cast, or exclude it)".into());
            }
            if text.contains(&0) {
                return Err("contains a NUL character, which Postgres text cannot hold".into());
            }
            put_field(out, &text)
        }
        PgEnc::Jsonb => {
            let Value::Bytes(b) = v else {
                return Err(format!("expected JSON text, found {v:?}"));
            };
            let mut buf = Vec::with_capacity(b.len() + 1);
            buf.push(1);
            buf.extend_from_slice(b);
            put_field(out, &buf)
        }
        PgEnc::Bytea => match v {
            Value::Bytes(b) => put_field(out, b),
            other => put_field(out, value_text(other).as_bytes()),
        },
        PgEnc::Uuid => {
            let Value::Bytes(b) = v else {
                return Err(format!("expected a UUID, found {v:?}"));
            };
            let u = parse_uuid(b)
                .ok_or_else(|| format!("`{}` is not a UUID", String::from_utf8_lossy(b)))?;
            put_field(out, &u)
        }
        PgEnc::Date | PgEnc::Timestamp | PgEnc::Timestamptz => {
            // ±infinity from a Postgres source stays ±infinity.
            if let Some(positive) = super::pg_source::infinity_sign(v) {
                if col.enc == PgEnc::Date {
                    put_field(
                        out,
                        &if positive { i32::MAX } else { i32::MIN }.to_be_bytes(),
                    );
                } else {
                    put_field(
                        out,
                        &if positive { i64::MAX } else { i64::MIN }.to_be_bytes(),
                    );
                }
                return Ok(());
            }
            let micros = match v {
                Value::Date(..) => date_micros(v),
                Value::Bytes(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| super::state::parse_dt(s.trim()))
                    .and_then(|d| date_micros(&d)),
                _ => None,
            };
            let micros = match micros.filter(|_| valid_civil(v)) {
                Some(m) => m,
                None => match col.invalid_dates {
                    InvalidDates::Fail => {
                        let text = value_text(v);
                        let text = match v {
                            Value::Date(..) if col.enc == PgEnc::Date => {
                                text.get(..10).unwrap_or(&text).to_string()
                            }
                            _ => text,
                        };
                        return Err(format!(
                            "`{text}` is not a valid date (invalid_dates: fail; `null` or `clamp` write such dates)"
                        ));
                    }
                    InvalidDates::Null => {
                        stats.invalid_dates += 1;
                        if col.nullable {
                            put_null(out);
                            return Ok(());
                        }
                        // 1970-01-01 [00:00:00] as in ClickHouse.
                        0
                    }
                    InvalidDates::Clamp => {
                        stats.invalid_dates += 1;
                        clamped_micros(v)
                    }
                },
            };
            let pg_micros = micros - PG_EPOCH_DAYS * 86_400_000_000;
            if col.enc == PgEnc::Date {
                let days = pg_micros.div_euclid(86_400_000_000);
                put_field(
                    out,
                    &i32::try_from(days)
                        .map_err(|_| "date out of range".to_string())?
                        .to_be_bytes(),
                )
            } else {
                put_field(out, &pg_micros.to_be_bytes())
            }
        }
        PgEnc::Time | PgEnc::Interval => {
            let Value::Time(neg, days, h, m, s, us) = v else {
                return Err(format!("expected a time, found {v:?}"));
            };
            let micros = ((i64::from(*days) * 24 + i64::from(*h)) * 3600
                + i64::from(*m) * 60
                + i64::from(*s))
                * 1_000_000
                + i64::from(*us);
            let micros = if *neg { -micros } else { micros };
            if col.enc == PgEnc::Time {
                if !(0..86_400_000_000).contains(&micros) {
                    return Err(format!("{} is not a time of day", value_text(v)));
                }
                put_field(out, &micros.to_be_bytes())
            } else {
                let mut b = Vec::with_capacity(16);
                b.extend_from_slice(&micros.to_be_bytes());
                b.extend_from_slice(&0i32.to_be_bytes());
                b.extend_from_slice(&0i32.to_be_bytes());
                put_field(out, &b)
            }
        }
    }
    Ok(())
}

/// The nearest real date of an invalid one (`invalid_dates: clamp`): month and day 0 → 1, a day
/// past the end of its month → the last day, year 0 (a zero date) → 0001-01-01.
fn clamped_micros(v: &Value) -> i64 {
    let Value::Date(y, mo, d, h, mi, s, us) = *v else {
        return 0;
    };
    let fixed = if y == 0 {
        Value::Date(1, 1, 1, 0, 0, 0, 0)
    } else {
        let mo = mo.clamp(1, 12);
        let dim = days_in_month(y, mo);
        Value::Date(
            y,
            mo,
            d.clamp(1, dim),
            h.min(23),
            mi.min(59),
            s.min(59),
            us.min(999_999),
        )
    };
    date_micros(&fixed).unwrap_or(0)
}

/// A real calendar date (MySQL can hold `2024-02-31` and `0000-00-00`).
fn valid_civil(v: &Value) -> bool {
    match v {
        Value::Date(y, mo, d, ..) => {
            *y > 0 && (1..=12).contains(mo) && *d >= 1 && *d <= days_in_month(*y, *mo)
        }
        _ => true,
    }
}

/// `Destination table "x" (postgres resource `r`, host:port)`.
pub fn dest_where(dst: &PostgresResource, table: &str) -> String {
    format!(
        "destination table `{table}` (postgres resource `{}`, {})",
        dst.name(),
        dst.addr()
    )
}

/// `name → format_type` of an existing table (empty when it does not exist).
pub fn table_columns(dst: &PostgresResource, table: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn = dst.connection()?;
    let rows = conn
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&pg_table(table)],
        )
        .map_err(|e| anyhow!("{}: {}", dest_where(dst, table), error_chain(&e)))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Runs statements in one transaction.
pub fn execute(dst: &PostgresResource, what: &str, sql: &[String]) -> anyhow::Result<()> {
    let mut conn = dst.connection()?;
    let mut tx = conn
        .transaction()
        .map_err(|e| anyhow!("{what}: {}", error_chain(&e)))?;
    for s in sql {
        tx.batch_execute(s).map_err(|e| {
            anyhow!(
                "{what}: `{}`: {}",
                crate::resources::preview(s),
                error_chain(&e)
            )
        })?;
    }
    tx.commit()
        .map_err(|e| anyhow!("{what}: {}", error_chain(&e)))?;
    Ok(())
}

/// Creates the table (columns, `PRIMARY KEY`) or adds the missing columns (NULLable, since
/// existing rows have no value until they are re-read). Returns (existed, columns added).
pub fn ensure_table(
    dst: &PostgresResource,
    table: &str,
    cols: &[PgDestCol],
    pk: &[String],
) -> anyhow::Result<(bool, Vec<String>)> {
    let existing = table_columns(dst, table)?;
    let here = dest_where(dst, table);
    if existing.is_empty() {
        let mut defs: Vec<String> = cols
            .iter()
            .map(|c| {
                format!(
                    "{} {}{}",
                    pg_ident(&c.name),
                    c.type_sql,
                    if c.nullable { "" } else { " NOT NULL" }
                )
            })
            .collect();
        let pk_sql: Vec<String> = pk.iter().map(|c| pg_ident(c)).collect();
        defs.push(format!("PRIMARY KEY ({})", pk_sql.join(", ")));
        let mut sql = Vec::new();
        if let Some((schema, _)) = table.split_once('.') {
            sql.push(format!("CREATE SCHEMA IF NOT EXISTS {}", pg_ident(schema)));
        }
        sql.push(format!(
            "CREATE TABLE {} ({})",
            pg_table(table),
            defs.join(", ")
        ));
        execute(dst, &format!("creating {here}"), &sql)?;
        return Ok((false, Vec::new()));
    }
    let norm = |t: &str| t.to_ascii_lowercase().replace(' ', "");
    let mut added = Vec::new();
    let mut sql = Vec::new();
    for c in cols {
        match existing.iter().find(|(n, _)| n == &c.name) {
            Some((_, t)) if norm(t) == norm(&c.type_sql) => {}
            Some((_, t)) => {
                return Err(super::plan::TypeChanged(format!(
                    "{here}: column `{}` has type {t} but source column `{}` ({}) maps to {}",
                    c.name, c.name, c.source_type, c.type_sql
                ))
                .into())
            }
            None => {
                sql.push(format!(
                    "ALTER TABLE {} ADD COLUMN {} {}",
                    pg_table(table),
                    pg_ident(&c.name),
                    c.type_sql
                ));
                added.push(c.name.clone());
            }
        }
    }
    if !sql.is_empty() {
        execute(dst, &format!("adding columns to {here}"), &sql)?;
    }
    Ok((true, added))
}

/// Drops a table if it exists.
pub fn drop_table(dst: &PostgresResource, table: &str) -> anyhow::Result<()> {
    execute(
        dst,
        &format!("dropping {}", dest_where(dst, table)),
        &[format!("DROP TABLE IF EXISTS {}", pg_table(table))],
    )
}

/// Replaces `table` by `staging` in one transaction (full mode's swap).
pub fn swap_in(dst: &PostgresResource, staging: &str, table: &str) -> anyhow::Result<()> {
    let bare = table.rsplit_once('.').map_or(table, |(_, t)| t);
    execute(
        dst,
        &format!("swapping in {}", dest_where(dst, table)),
        &[
            format!("DROP TABLE IF EXISTS {}", pg_table(table)),
            format!(
                "ALTER TABLE {} RENAME TO {}",
                pg_table(staging),
                pg_ident(bare)
            ),
        ],
    )
}

/// `count(*)` of the table.
pub fn row_count(dst: &PostgresResource, table: &str) -> anyhow::Result<u64> {
    let mut conn = dst.connection()?;
    let row = conn
        .query_one(&format!("SELECT count(*) FROM {}", pg_table(table)), &[])
        .map_err(|e| anyhow!("{}: {}", dest_where(dst, table), error_chain(&e)))?;
    let n: i64 = row.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Writes batches into one table; one transaction per batch.
pub struct PgSink {
    conn: r2d2::PooledConnection<Manager>,
    here: String,
    cols: Vec<PgDestCol>,
    soft_delete_idx: Option<usize>,
    key_idx: Vec<usize>,
    create_sql: String,
    copy_sql: String,
    delete_sql: Option<String>,
    upsert_sql: String,
    in_tx: bool,
    seq: i64,
    buf: Vec<u8>,
    pub stats: EncodeStats,
    pub bytes: u64,
}

impl PgSink {
    pub fn new(
        dst: &PostgresResource,
        table: &str,
        cols: Vec<PgDestCol>,
        pk: &[String],
        soft_delete: Option<&str>,
    ) -> anyhow::Result<PgSink> {
        let here = dest_where(dst, table);
        for reserved in [SEQ, DELETED] {
            if cols.iter().any(|c| c.name == reserved) {
                bail!("{here}: the source has a column named `{reserved}`, which the sync reserves; exclude it");
            }
        }
        let conn = dst.connection()?;
        let q = |c: &str| pg_ident(c);
        let mut defs: Vec<String> = cols
            .iter()
            .map(|c| format!("{} {}", q(&c.name), c.enc.staging_type()))
            .collect();
        defs.push(format!("{SEQ} int8"));
        defs.push(format!("{DELETED} bool"));
        let create_sql = format!(
            "CREATE TEMP TABLE {STAGE} ({}) ON COMMIT DROP",
            defs.join(", ")
        );
        let names: Vec<String> = cols.iter().map(|c| q(&c.name)).collect();
        let copy_sql = format!(
            "COPY {STAGE} ({}, {SEQ}, {DELETED}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        );
        let pk_sql: Vec<String> = pk.iter().map(|c| q(c)).collect();
        let latest = format!(
            "(SELECT DISTINCT ON ({pk}) * FROM {STAGE} ORDER BY {pk}, {SEQ} DESC) s",
            pk = pk_sql.join(", ")
        );
        let target = pg_table(table);
        let delete_sql = soft_delete.map(|_| {
            let on: Vec<String> = pk_sql.iter().map(|c| format!("d.{c} = s.{c}")).collect();
            format!(
                "DELETE FROM {target} d USING {latest} WHERE s.{DELETED} AND {}",
                on.join(" AND ")
            )
        });
        let select: Vec<String> = cols
            .iter()
            .map(|c| {
                if c.enc == PgEnc::TextCast {
                    format!("s.{}::{}", q(&c.name), c.type_sql)
                } else {
                    format!("s.{}", q(&c.name))
                }
            })
            .collect();
        let updates: Vec<String> = cols
            .iter()
            .filter(|c| !pk.contains(&c.name))
            .map(|c| format!("{0} = EXCLUDED.{0}", q(&c.name)))
            .collect();
        let on_conflict = if updates.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let upsert_sql = format!(
            "INSERT INTO {target} ({}) SELECT {} FROM {latest} WHERE NOT s.{DELETED} ON CONFLICT ({}) {on_conflict}",
            names.join(", "),
            select.join(", "),
            pk_sql.join(", ")
        );
        let soft_delete_idx = soft_delete.and_then(|s| cols.iter().position(|c| c.name == s));
        let key_idx = pk
            .iter()
            .filter_map(|k| cols.iter().position(|c| &c.name == k))
            .collect();
        Ok(PgSink {
            conn,
            here,
            cols,
            soft_delete_idx,
            key_idx,
            create_sql,
            copy_sql,
            delete_sql,
            upsert_sql,
            in_tx: false,
            seq: 0,
            buf: Vec::new(),
            stats: EncodeStats::default(),
            bytes: 0,
        })
    }

    fn err(&self, what: &str, e: &postgres::Error) -> anyhow::Error {
        anyhow!("{}: {what}: {}", self.here, error_chain(e))
    }

    /// Starts a batch (transaction + staging table).
    pub fn begin(&mut self) -> anyhow::Result<()> {
        let sql = format!("BEGIN; {}", self.create_sql);
        self.conn
            .batch_execute(&sql)
            .map_err(|e| self.err("starting a batch", &e))?;
        self.in_tx = true;
        Ok(())
    }

    /// Copies rows into the staging table (one binary COPY).
    pub fn write(&mut self, rows: &[Vec<Value>]) -> anyhow::Result<()> {
        use std::io::Write;
        if rows.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        self.buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        let nfields = i16::try_from(self.cols.len() + 2).unwrap_or(i16::MAX);
        for row in rows {
            self.buf.extend_from_slice(&nfields.to_be_bytes());
            for (col, v) in self.cols.iter().zip(row.iter()) {
                if let Err(e) = encode(&mut self.buf, col, v, &mut self.stats) {
                    let key: Vec<String> = self
                        .key_idx
                        .iter()
                        .map(|&i| row.get(i).map(value_text).unwrap_or_default())
                        .collect();
                    bail!(
                        "column `{}` ({}) of the row with key ({}): {e}",
                        col.name,
                        col.source_type,
                        key.join(", ")
                    );
                }
            }
            self.seq += 1;
            put_field(&mut self.buf, &self.seq.to_be_bytes());
            let deleted = self
                .soft_delete_idx
                .is_some_and(|i| row.get(i).is_some_and(is_truthy));
            put_field(&mut self.buf, &[u8::from(deleted)]);
        }
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.bytes += self.buf.len() as u64;
        let copy_sql = self.copy_sql.clone();
        let mut w = self
            .conn
            .copy_in(copy_sql.as_str())
            .map_err(|e| anyhow!("{}: COPY: {}", self.here, error_chain(&e)))?;
        w.write_all(&self.buf)
            .map_err(|e| anyhow!("{}: COPY: {e}", self.here))?;
        w.finish()
            .map_err(|e| anyhow!("{}: COPY: {}", self.here, error_chain(&e)))?;
        Ok(())
    }

    /// Applies the staged rows (delete, upsert) and commits. Returns once Postgres confirmed.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        if let Some(d) = self.delete_sql.clone() {
            self.conn
                .batch_execute(&d)
                .map_err(|e| self.err("deleting soft-deleted rows", &e))?;
        }
        let up = self.upsert_sql.clone();
        self.conn
            .batch_execute(&up)
            .map_err(|e| self.err("upserting a batch", &e))?;
        self.conn
            .batch_execute("COMMIT")
            .map_err(|e| self.err("committing a batch", &e))?;
        self.in_tx = false;
        Ok(())
    }
}

impl Drop for PgSink {
    fn drop(&mut self) {
        if self.in_tx {
            let _ = self.conn.batch_execute("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_binary_round_trips() {
        for t in [
            "0",
            "0.00",
            "1",
            "-1",
            "12345.678",
            "-0.05",
            "10000",
            "99999999.99",
            "0.0001",
            "123456789012345678901234567890.123456",
        ] {
            let b = numeric_binary(t).unwrap();
            assert_eq!(super::super::pg_source::numeric_text(&b).unwrap(), t, "{t}");
        }
        assert!(numeric_binary("abc").is_none());
        assert!(numeric_binary("1e5").is_none());
    }

    #[test]
    fn uuid_parsing() {
        let u = parse_uuid(b"123e4567-e89b-12d3-a456-426614174000").unwrap();
        assert_eq!(
            super::super::pg_source::uuid_text(&u),
            "123e4567-e89b-12d3-a456-426614174000"
        );
    }
}
