//! Postgres as a table sync source: describing a table or query, decoding the binary protocol
//! into the sync's row values, and the SQL of keyset-paginated reads.
//!
//! Values are decoded into the `mysql` crate's [`Value`] (the sync's row representation, so the
//! ClickHouse encoder and the cursor state serve both sources): integers → `Int`, `real` /
//! `double precision` → `Float` / `Double`, `numeric` → its exact decimal text, `boolean` →
//! `Int(0|1)`, `date` / `timestamp` / `timestamptz` (UTC) → `Date` (`±infinity` → the text
//! `infinity` / `-infinity`), `time` → `Time`, `uuid` → its
//! text, `jsonb` → the JSON text, text, enums and `bytea` → `Bytes`. Types without a binary
//! decoder here (`inet`, `interval`, ranges, ...) are read as `::text`. Arrays and composite
//! types are refused with an error naming the column.

use super::types::{days_from_civil, SourceColumn};
use crate::resources::PostgresResource;
use anyhow::{anyhow, bail};
use mysql::Value;
use postgres::types::{FromSql, Kind, Type};

/// How a Postgres column is read (and, for a Postgres destination, written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgKind {
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
    /// An enum: its label (text).
    Enum,
    /// Any other type, read as `::text`.
    Other,
}

impl PgKind {
    fn of(t: &Type) -> Result<PgKind, String> {
        match t.kind() {
            Kind::Enum(_) => return Ok(PgKind::Enum),
            Kind::Domain(inner) => return PgKind::of(inner),
            Kind::Array(_) => return Err("arrays are not supported".into()),
            Kind::Composite(_) => return Err("composite types are not supported".into()),
            _ => {}
        }
        Ok(match *t {
            Type::INT2 => PgKind::Int2,
            Type::INT4 => PgKind::Int4,
            Type::INT8 => PgKind::Int8,
            Type::FLOAT4 => PgKind::Float4,
            Type::FLOAT8 => PgKind::Float8,
            Type::NUMERIC => PgKind::Numeric,
            Type::BOOL => PgKind::Bool,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => PgKind::Text,
            Type::BYTEA => PgKind::Bytea,
            Type::JSON => PgKind::Json,
            Type::JSONB => PgKind::Jsonb,
            Type::UUID => PgKind::Uuid,
            Type::DATE => PgKind::Date,
            Type::TIMESTAMP => PgKind::Timestamp,
            Type::TIMESTAMPTZ => PgKind::Timestamptz,
            Type::TIME => PgKind::Time,
            _ if t.name() == "citext" => PgKind::Text,
            _ => PgKind::Other,
        })
    }
}

/// A Postgres source column: its type as `format_type` prints it and how it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgCol {
    pub type_sql: String,
    pub kind: PgKind,
}

/// `"name"` with embedded quotes doubled.
pub fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `table` or `schema.table`, quoted.
pub fn pg_table(name: &str) -> String {
    match name.split_once('.') {
        Some((s, t)) => format!("{}.{}", pg_ident(s), pg_ident(t)),
        None => pg_ident(name),
    }
}

/// The raw binary value of any column.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Civil date of a day number since 1970-01-01 (inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days between 1970-01-01 and 2000-01-01 (the Postgres epoch).
pub const PG_EPOCH_DAYS: i64 = 10_957;

/// A `Value::Date` of microseconds since 1970-01-01, or an invalid (zero) date outside years
/// 1..9999 (counted as an invalid date by the encoders).
pub fn date_value(micros_1970: i64) -> Value {
    let days = micros_1970.div_euclid(86_400_000_000);
    let rem = micros_1970.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    match u16::try_from(y) {
        Ok(y) if (1..=9999).contains(&y) => {
            let secs = rem / 1_000_000;
            Value::Date(
                y,
                m as u8,
                d as u8,
                (secs / 3600) as u8,
                (secs / 60 % 60) as u8,
                (secs % 60) as u8,
                (rem % 1_000_000) as u32,
            )
        }
        _ => Value::Date(0, 0, 0, 0, 0, 0, 0),
    }
}

/// Microseconds since 1970-01-01 of a `Value::Date` (`None` for a zero or invalid date).
pub fn date_micros(v: &Value) -> Option<i64> {
    let Value::Date(y, mo, d, h, mi, s, us) = v else {
        return None;
    };
    if *y == 0 || *mo == 0 || *d == 0 || *mo > 12 || *d > 31 {
        return None;
    }
    let days = days_from_civil(i64::from(*y), u32::from(*mo), u32::from(*d));
    Some(
        (days * 86_400 + i64::from(*h) * 3600 + i64::from(*mi) * 60 + i64::from(*s)) * 1_000_000
            + i64::from(*us),
    )
}

fn be<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.get(..N)
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| format!("expected {N} bytes, got {}", raw.len()))
}

/// The decimal text of a binary `numeric` (`NaN` and infinities as words).
pub fn numeric_text(raw: &[u8]) -> Result<String, String> {
    let head = |i: usize| -> Result<i16, String> {
        Ok(i16::from_be_bytes(be::<2>(
            raw.get(i * 2..).unwrap_or(&[]),
        )?))
    };
    let ndigits = usize::try_from(head(0)?).map_err(|_| "bad numeric".to_string())?;
    let weight = i64::from(head(1)?);
    let sign = head(2)? as u16;
    let dscale = usize::try_from(head(3)?).map_err(|_| "bad numeric".to_string())?;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(head(4 + i)?);
    }
    let digit = |pos: i64| -> i16 {
        usize::try_from(pos)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut int_part = String::new();
    if weight >= 0 {
        for g in 0..=weight {
            let d = digit(g);
            if int_part.is_empty() {
                if d != 0 {
                    int_part = d.to_string();
                }
            } else {
                int_part.push_str(&format!("{d:04}"));
            }
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut g = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", digit(g)));
        g += 1;
    }
    frac.truncate(dscale);
    let neg = sign == 0x4000;
    let mut out = String::with_capacity(int_part.len() + frac.len() + 2);
    if neg {
        out.push('-');
    }
    out.push_str(&int_part);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

/// `8-4-4-4-12` lower-case hex of 16 bytes.
pub fn uuid_text(raw: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Postgres `infinity` of a `date` / `timestamp` / `timestamptz`, carried as this text (a
/// `$n::text::<type>` parameter, a saved cursor and a Postgres destination take it as is;
/// ClickHouse has no infinity: an invalid date there).
pub const INFINITY: &[u8] = b"infinity";
/// Postgres `-infinity` (see [`INFINITY`]).
pub const NEG_INFINITY: &[u8] = b"-infinity";

/// `±infinity` of a Postgres date or timestamp: `Some(true)` for `infinity`.
pub fn infinity_sign(v: &Value) -> Option<bool> {
    match v {
        Value::Bytes(b) if b == INFINITY => Some(true),
        Value::Bytes(b) if b == NEG_INFINITY => Some(false),
        _ => None,
    }
}

/// Decodes one binary value.
pub fn decode(kind: PgKind, raw: &[u8]) -> Result<Value, String> {
    Ok(match kind {
        PgKind::Int2 => Value::Int(i64::from(i16::from_be_bytes(be(raw)?))),
        PgKind::Int4 => Value::Int(i64::from(i32::from_be_bytes(be(raw)?))),
        PgKind::Int8 => Value::Int(i64::from_be_bytes(be(raw)?)),
        PgKind::Float4 => Value::Float(f32::from_be_bytes(be(raw)?)),
        PgKind::Float8 => Value::Double(f64::from_be_bytes(be(raw)?)),
        PgKind::Numeric => Value::Bytes(numeric_text(raw)?.into_bytes()),
        PgKind::Bool => Value::Int(i64::from(raw.first().copied().unwrap_or(0) != 0)),
        PgKind::Text | PgKind::Enum | PgKind::Other | PgKind::Bytea | PgKind::Json => {
            Value::Bytes(raw.to_vec())
        }
        PgKind::Jsonb => Value::Bytes(raw.get(1..).unwrap_or(&[]).to_vec()),
        PgKind::Uuid => Value::Bytes(uuid_text(raw).into_bytes()),
        PgKind::Date => {
            let d = i32::from_be_bytes(be(raw)?);
            if d == i32::MAX {
                Value::Bytes(INFINITY.to_vec())
            } else if d == i32::MIN {
                Value::Bytes(NEG_INFINITY.to_vec())
            } else {
                date_value((i64::from(d) + PG_EPOCH_DAYS) * 86_400_000_000)
            }
        }
        PgKind::Timestamp | PgKind::Timestamptz => {
            let us = i64::from_be_bytes(be(raw)?);
            if us == i64::MAX {
                Value::Bytes(INFINITY.to_vec())
            } else if us == i64::MIN {
                Value::Bytes(NEG_INFINITY.to_vec())
            } else {
                date_value(us.saturating_add(PG_EPOCH_DAYS * 86_400_000_000))
            }
        }
        PgKind::Time => {
            let us = i64::from_be_bytes(be(raw)?);
            let secs = us / 1_000_000;
            Value::Time(
                false,
                0,
                (secs / 3600) as u8,
                (secs / 60 % 60) as u8,
                (secs % 60) as u8,
                (us % 1_000_000) as u32,
            )
        }
    })
}

/// Reads column `i` of a row.
pub fn row_value(row: &postgres::Row, i: usize, kind: PgKind) -> Result<Value, String> {
    let raw: Option<Raw<'_>> = row.try_get(i).map_err(|e| e.to_string())?;
    match raw {
        None => Ok(Value::NULL),
        Some(Raw(b)) => decode(kind, b),
    }
}

/// A key value as text for a `$n::text::<type>` parameter.
pub fn param_text(v: &Value, kind: PgKind) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Date(y, mo, d, h, mi, s, us) => {
            let t = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}");
            Some(if kind == PgKind::Timestamptz {
                format!("{t}+00")
            } else {
                t
            })
        }
        Value::Time(neg, days, h, m, s, us) => Some(format!(
            "{}{:02}:{m:02}:{s:02}.{us:06}",
            if *neg { "-" } else { "" },
            *days * 24 + u32::from(*h)
        )),
        Value::Bytes(b) if kind == PgKind::Bytea => {
            let mut s = String::from("\\x");
            for x in b {
                s.push_str(&format!("{x:02x}"));
            }
            Some(s)
        }
        other => Some(super::types::value_text(other)),
    }
}

/// The mysql-vocabulary description of a Postgres column (drives the ClickHouse mapping).
fn source_column(name: &str, pg: &PgCol, t: &Type, typmod: i32, nullable: bool) -> SourceColumn {
    let mut c = SourceColumn {
        name: name.to_string(),
        data_type: String::new(),
        column_type: pg.type_sql.clone(),
        nullable,
        precision: None,
        scale: None,
        datetime_precision: None,
    };
    let ts_precision = || Some(if typmod >= 0 { typmod as u32 } else { 6 });
    c.data_type = match pg.kind {
        PgKind::Int2 => "smallint",
        PgKind::Int4 => "int",
        PgKind::Int8 => "bigint",
        PgKind::Float4 => "float",
        PgKind::Float8 => "double",
        PgKind::Numeric if typmod >= 4 => {
            let m = typmod - 4;
            c.precision = Some(((m >> 16) & 0xffff) as u32);
            c.scale = Some((m & 0xffff) as u32);
            "decimal"
        }
        // numeric without precision: exact text.
        PgKind::Numeric => "text",
        PgKind::Bool => "boolean",
        PgKind::Text | PgKind::Other => "text",
        PgKind::Bytea => "blob",
        PgKind::Json | PgKind::Jsonb => "json",
        PgKind::Uuid => "uuid",
        PgKind::Date => "date",
        PgKind::Timestamp => {
            c.datetime_precision = ts_precision();
            "datetime"
        }
        PgKind::Timestamptz => {
            c.datetime_precision = ts_precision();
            "timestamp"
        }
        PgKind::Time => "time",
        PgKind::Enum => {
            let labels = match t.kind() {
                Kind::Enum(l) => l.clone(),
                Kind::Domain(inner) => match inner.kind() {
                    Kind::Enum(l) => l.clone(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            let quoted: Vec<String> = labels
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect();
            c.column_type = format!("enum({})", quoted.join(","));
            "enum"
        }
    }
    .to_string();
    c
}

/// Describes the source (`SELECT * FROM table` or the query) by preparing it: names, types,
/// nullability (from `pg_attribute` for columns that come straight from a table; a computed
/// query column counts as nullable).
pub fn describe(
    src: &PostgresResource,
    table: &str,
    query: Option<&str>,
    src_where: &str,
) -> anyhow::Result<Vec<(SourceColumn, PgCol)>> {
    let mut conn = src.connection()?;
    let sql = match query {
        Some(q) => q.to_string(),
        None => format!("SELECT * FROM {}", pg_table(table)),
    };
    let stmt = conn.prepare(&sql).map_err(|e| {
        anyhow!(
            "{src_where}: {}",
            crate::resources::error_chain(&e).replace('\n', " ")
        )
    })?;
    let mut out = Vec::new();
    for col in stmt.columns() {
        let kind = PgKind::of(col.type_()).map_err(|e| {
            anyhow!(
                "column `{}` ({}) of {src_where}: {e}; cast it in a `source_query` (e.g. to text or json)",
                col.name(),
                col.type_().name()
            )
        })?;
        let mut nullable = true;
        let mut typmod = col.type_modifier();
        if let (Some(oid), Some(num)) = (col.table_oid(), col.column_id()) {
            if oid != 0 {
                let row = conn
                    .query_opt(
                        "SELECT attnotnull, atttypmod FROM pg_attribute WHERE attrelid = $1::int8::oid AND attnum = $2::int4",
                        &[&i64::from(oid), &i32::from(num)],
                    )
                    .map_err(|e| anyhow!("{src_where}: reading pg_attribute: {e}"))?;
                if let Some(r) = row {
                    let notnull: bool = r.get(0);
                    nullable = !notnull;
                    typmod = r.get(1);
                }
            }
        }
        let type_sql: String = conn
            .query_one(
                "SELECT format_type($1::int8::oid, $2::int4)",
                &[&i64::from(col.type_().oid()), &typmod],
            )
            .map_err(|e| anyhow!("{src_where}: format_type: {e}"))?
            .get(0);
        let pg = PgCol { type_sql, kind };
        let sc = source_column(col.name(), &pg, col.type_(), typmod, nullable);
        out.push((sc, pg));
    }
    if out.is_empty() {
        bail!("{src_where} has no columns");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for days in [-719_162i64, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        let v = date_value(1_700_000_000_123_456);
        assert_eq!(v, Value::Date(2023, 11, 14, 22, 13, 20, 123_456));
        assert_eq!(date_micros(&v), Some(1_700_000_000_123_456));
    }

    #[test]
    fn infinities_decode_as_text() {
        let inf = decode(PgKind::Date, &i32::MAX.to_be_bytes()).unwrap();
        assert_eq!(infinity_sign(&inf), Some(true));
        let ninf = decode(PgKind::Timestamptz, &i64::MIN.to_be_bytes()).unwrap();
        assert_eq!(infinity_sign(&ninf), Some(false));
        assert_eq!(
            param_text(&ninf, PgKind::Timestamptz).as_deref(),
            Some("-infinity")
        );
        let day = decode(PgKind::Date, &0i32.to_be_bytes()).unwrap();
        assert_eq!(day, Value::Date(2000, 1, 1, 0, 0, 0, 0));
        assert_eq!(infinity_sign(&day), None);
    }

    #[test]
    fn numeric_decoding() {
        // 12345.678 = digits [1, 2345, 6780], weight 1, dscale 3
        let mut raw = Vec::new();
        for x in [3i16, 1, 0, 3, 1, 2345, 6780] {
            raw.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(numeric_text(&raw).unwrap(), "12345.678");
        // -0.05 = digits [500], weight -1, dscale 2
        let mut raw = Vec::new();
        for x in [1i16, -1, 0x4000, 2, 500] {
            raw.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(numeric_text(&raw).unwrap(), "-0.05");
        // 0 with dscale 2
        let mut raw = Vec::new();
        for x in [0i16, 0, 0, 2] {
            raw.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(numeric_text(&raw).unwrap(), "0.00");
        // 10000 = digits [1], weight 1
        let mut raw = Vec::new();
        for x in [1i16, 1, 0, 0, 1] {
            raw.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(numeric_text(&raw).unwrap(), "10000");
    }
}
