//! MySQL → ClickHouse type mapping and the encoding of source values as ClickHouse RowBinary
//! (one row after the other) or Native (column by column) bytes.
//!
//! The mapping is documented as a table in docs/SYNC.md; keep both in step.

use mysql::Value;

/// A source column as described by `INFORMATION_SCHEMA.COLUMNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    pub name: String,
    /// `DATA_TYPE`, lower case (`int`, `decimal`, `varchar`, ...).
    pub data_type: String,
    /// `COLUMN_TYPE`, lower case (`int(10) unsigned`, `tinyint(1)`, `enum('a','b')`, ...).
    pub column_type: String,
    pub nullable: bool,
    pub precision: Option<u32>,
    pub scale: Option<u32>,
    pub datetime_precision: Option<u32>,
}

/// A ClickHouse column type the sync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChType {
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    /// `Decimal(p, s)`, stored in 4, 8 or 16 bytes by precision.
    Decimal(u32, u32),
    Date,
    /// `DateTime('UTC')`, seconds.
    DateTime,
    /// `DateTime64(p, 'UTC')` (servers from 20.1 on).
    DateTime64(u32),
    String,
    /// `Enum8(...)` / `Enum16(...)`: the labels are in [`Column::labels`].
    Enum8,
    Enum16,
}

impl ChType {
    /// The type as ClickHouse prints it in `system.columns` (without `Nullable`).
    pub fn sql(&self) -> String {
        match self {
            ChType::Int8 => "Int8".into(),
            ChType::Int16 => "Int16".into(),
            ChType::Int32 => "Int32".into(),
            ChType::Int64 => "Int64".into(),
            ChType::UInt8 => "UInt8".into(),
            ChType::UInt16 => "UInt16".into(),
            ChType::UInt32 => "UInt32".into(),
            ChType::UInt64 => "UInt64".into(),
            ChType::Float32 => "Float32".into(),
            ChType::Float64 => "Float64".into(),
            ChType::Decimal(p, s) => format!("Decimal({p}, {s})"),
            ChType::Date => "Date".into(),
            ChType::DateTime => "DateTime('UTC')".into(),
            ChType::DateTime64(p) => format!("DateTime64({p}, 'UTC')"),
            ChType::String => "String".into(),
            ChType::Enum8 => "Enum8".into(),
            ChType::Enum16 => "Enum16".into(),
        }
    }
}

/// How a source value is turned into the ClickHouse value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    /// Integers, floats, strings, decimals, dates: by the ClickHouse type.
    Plain,
    /// `BIT(n)`: big-endian bytes → UInt64.
    Bit,
    /// `TIME`: formatted `[-]HHH:MM:SS[.ffffff]` text.
    Time,
}

/// One synced column: source description, ClickHouse type, nullability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub source: SourceColumn,
    pub ch: ChType,
    pub nullable: bool,
    pub conv: Conv,
    /// ENUM labels (value = position + 1, as MySQL numbers them); empty for other types.
    pub labels: Vec<String>,
}

impl Column {
    /// Full ClickHouse type, e.g. `Nullable(Decimal(12, 2))`.
    pub fn ch_sql(&self) -> String {
        let base = match self.ch {
            ChType::Enum8 | ChType::Enum16 => enum_sql(self.ch, &self.labels),
            _ => self.ch.sql(),
        };
        if self.nullable {
            format!("Nullable({base})")
        } else {
            base
        }
    }

    /// The ClickHouse value of an ENUM label: its position + 1; `''` (MySQL's index 0 for an
    /// invalid value) is 0.
    pub fn enum_value(&self, label: &[u8]) -> Option<i16> {
        if label.is_empty() && !self.labels.iter().any(|l| l.is_empty()) {
            return Some(0);
        }
        self.labels
            .iter()
            .position(|l| l.as_bytes() == label)
            .and_then(|i| i16::try_from(i + 1).ok())
    }
}

/// `Enum8('' = 0, 'a' = 1, ...)`: the labels numbered as MySQL numbers them, plus `'' = 0` (the
/// value MySQL stores for an invalid label) unless `''` is a label.
pub fn enum_sql(ch: ChType, labels: &[String]) -> String {
    let mut items: Vec<String> = Vec::with_capacity(labels.len() + 1);
    if !labels.iter().any(|l| l.is_empty()) {
        items.push("'' = 0".into());
    }
    for (i, l) in labels.iter().enumerate() {
        items.push(format!(
            "'{}' = {}",
            l.replace('\\', "\\\\").replace('\'', "\\'"),
            i + 1
        ));
    }
    let name = if ch == ChType::Enum16 {
        "Enum16"
    } else {
        "Enum8"
    };
    format!("{name}({})", items.join(", "))
}

/// The labels of a MySQL `COLUMN_TYPE` such as `enum('a','it''s')` (`''` escapes a quote).
pub fn parse_enum_labels(column_type: &str) -> Option<Vec<String>> {
    let start = column_type.find('(')?;
    let inner = column_type.get(start + 1..column_type.rfind(')')?)?;
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        match chars.next() {
            None => break,
            Some('\'') => {
                let mut label = String::new();
                loop {
                    match chars.next() {
                        None => return None,
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            label.push('\'');
                        }
                        Some('\'') => break,
                        Some('\\') => label.push(chars.next()?),
                        Some(c) => label.push(c),
                    }
                }
                labels.push(label);
            }
            Some(',') | Some(' ') => {}
            Some(_) => return None,
        }
    }
    Some(labels)
}

/// Maps a source column. `datetime64` says whether the server has `DateTime64` (20.1+).
pub fn map_column(c: &SourceColumn, datetime64: bool) -> Column {
    let unsigned = c.column_type.contains("unsigned");
    let mut conv = Conv::Plain;
    let mut labels = Vec::new();
    let ch = match c.data_type.as_str() {
        "tinyint" if c.column_type.starts_with("tinyint(1)") => ChType::UInt8,
        "bool" | "boolean" => ChType::UInt8,
        "tinyint" if unsigned => ChType::UInt8,
        "tinyint" => ChType::Int8,
        "smallint" if unsigned => ChType::UInt16,
        "smallint" => ChType::Int16,
        "mediumint" | "int" | "integer" if unsigned => ChType::UInt32,
        "mediumint" | "int" | "integer" => ChType::Int32,
        "bigint" if unsigned => ChType::UInt64,
        "bigint" => ChType::Int64,
        "float" => ChType::Float32,
        "double" | "real" => ChType::Float64,
        "decimal" | "numeric" => {
            let p = c.precision.unwrap_or(10).max(1);
            let s = c.scale.unwrap_or(0).min(p);
            if p <= 38 {
                ChType::Decimal(p, s)
            } else {
                ChType::String
            }
        }
        "year" => ChType::UInt16,
        "date" => ChType::Date,
        "datetime" | "timestamp" => match c.datetime_precision.unwrap_or(0) {
            0 => ChType::DateTime,
            p if datetime64 => ChType::DateTime64(p.min(6)),
            _ => ChType::DateTime,
        },
        "bit" => {
            conv = Conv::Bit;
            ChType::UInt64
        }
        "time" => {
            conv = Conv::Time;
            ChType::String
        }
        "enum" => match parse_enum_labels(&c.column_type) {
            Some(l) if l.len() < 128 => {
                labels = l;
                ChType::Enum8
            }
            Some(l) if l.len() < 32_768 => {
                labels = l;
                ChType::Enum16
            }
            _ => ChType::String,
        },
        // char, varchar, text (all sizes), blob (all sizes), binary, varbinary, set,
        // json (a longtext alias on MariaDB), geometry (WKB bytes), anything unknown.
        _ => ChType::String,
    };
    Column {
        source: c.clone(),
        ch,
        nullable: c.nullable,
        conv,
        labels,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn valid_date(y: u16, m: u8, d: u8) -> bool {
    if y == 0 || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let dim = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= dim
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Counters of values that were mapped rather than copied (reported as metadata).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Zero or invalid dates (`0000-00-00`, `2024-02-31`) and dates outside ClickHouse's range:
    /// NULL in a Nullable column, 1970-01-01 (00:00:00) otherwise.
    pub invalid_dates: u64,
}

/// Appends an unsigned LEB128 integer (RowBinary and Native lengths).
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a RowBinary `String`.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Parses decimal text (`-123.45`, `1e3` is not produced by MySQL) into an integer scaled by
/// `scale` digits, exactly (extra fractional digits must be zeros).
pub fn parse_decimal(text: &[u8], scale: u32) -> Option<i128> {
    let (neg, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut int_part = digits;
    let mut frac_part: &[u8] = &[];
    if let Some(dot) = digits.iter().position(|&c| c == b'.') {
        int_part = &digits[..dot];
        frac_part = &digits[dot + 1..];
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v: i128 = 0;
    for &c in int_part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    let scale = scale as usize;
    for i in 0..scale {
        let d = match frac_part.get(i) {
            Some(c) if c.is_ascii_digit() => i128::from(c - b'0'),
            Some(_) => return None,
            None => 0,
        };
        v = v.checked_mul(10)?.checked_add(d)?;
    }
    if frac_part.len() > scale && frac_part[scale..].iter().any(|&c| c != b'0') {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// A source value borrowed from wherever it was decoded: a `mysql::Value`, or a row packet read
/// in place by the sync's own reader (`wire.rs`), which allocates nothing per value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValRef<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    Bytes(&'a [u8]),
    /// year, month, day, hour, minute, second, microsecond
    Date(u16, u8, u8, u8, u8, u8, u32),
    /// negative, days, hours, minutes, seconds, microseconds
    Time(bool, u32, u8, u8, u8, u32),
}

impl<'a> From<&'a Value> for ValRef<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::NULL => ValRef::Null,
            Value::Int(i) => ValRef::Int(*i),
            Value::UInt(u) => ValRef::UInt(*u),
            Value::Float(f) => ValRef::Float(*f),
            Value::Double(f) => ValRef::Double(*f),
            Value::Bytes(b) => ValRef::Bytes(b),
            Value::Date(y, mo, d, h, mi, s, us) => ValRef::Date(*y, *mo, *d, *h, *mi, *s, *us),
            Value::Time(n, d, h, m, s, us) => ValRef::Time(*n, *d, *h, *m, *s, *us),
        }
    }
}

impl ValRef<'_> {
    /// The owned `mysql::Value` (as the `mysql` crate would have decoded it).
    pub fn to_value(self) -> Value {
        match self {
            ValRef::Null => Value::NULL,
            ValRef::Int(i) => Value::Int(i),
            ValRef::UInt(u) => Value::UInt(u),
            ValRef::Float(f) => Value::Float(f),
            ValRef::Double(f) => Value::Double(f),
            ValRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValRef::Date(y, mo, d, h, mi, s, us) => Value::Date(y, mo, d, h, mi, s, us),
            ValRef::Time(n, d, h, m, s, us) => Value::Time(n, d, h, m, s, us),
        }
    }

    fn text(self) -> String {
        value_text(&self.to_value())
    }
}

/// Parses ASCII decimal digits (optionally signed) without going through `str`.
fn parse_int_ascii(b: &[u8]) -> Option<i128> {
    let b = b.trim_ascii();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 38 {
        return None;
    }
    let mut v: i128 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i128::from(c - b'0');
    }
    Some(if neg { -v } else { v })
}

fn int_of(v: ValRef<'_>) -> Option<i128> {
    match v {
        ValRef::Int(i) => Some(i128::from(i)),
        ValRef::UInt(u) => Some(i128::from(u)),
        ValRef::Bytes(b) => parse_int_ascii(b),
        ValRef::Float(f) if f.fract() == 0.0 => Some(f as i128),
        ValRef::Double(f) if f.fract() == 0.0 => Some(f as i128),
        _ => None,
    }
}

fn float_of(v: ValRef<'_>) -> Option<f64> {
    match v {
        ValRef::Float(f) => Some(f64::from(f)),
        ValRef::Double(f) => Some(f),
        ValRef::Int(i) => Some(i as f64),
        ValRef::UInt(u) => Some(u as f64),
        ValRef::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Where encoded values go: one RowBinary row buffer, or the columns of a Native block.
pub trait Sink {
    /// A NULL of a Nullable column of type `ch`.
    fn null(&mut self, ch: ChType);
    /// A non-NULL value of a Nullable column: its bytes follow in [`Sink::out`].
    fn present(&mut self);
    /// The value bytes.
    fn out(&mut self) -> &mut Vec<u8>;
}

/// RowBinary: a Nullable value is a 0/1 byte then the value, in one buffer.
pub struct RowSink<'a>(pub &'a mut Vec<u8>);

impl Sink for RowSink<'_> {
    #[inline]
    fn null(&mut self, _: ChType) {
        self.0.push(1);
    }
    #[inline]
    fn present(&mut self) {
        self.0.push(0);
    }
    #[inline]
    fn out(&mut self) -> &mut Vec<u8> {
        self.0
    }
}

/// One column of a Native block: the null map (Nullable columns) and the values, where a NULL
/// row holds the type's default value.
#[derive(Debug, Default, Clone)]
pub struct ColumnBuf {
    pub nulls: Vec<u8>,
    pub data: Vec<u8>,
}

impl ColumnBuf {
    pub fn clear(&mut self) {
        self.nulls.clear();
        self.data.clear();
    }
}

impl Sink for ColumnBuf {
    #[inline]
    fn null(&mut self, ch: ChType) {
        self.nulls.push(1);
        let width = match ch {
            ChType::Int8 | ChType::UInt8 | ChType::Enum8 | ChType::String => 1, // String: length 0
            ChType::Int16 | ChType::UInt16 | ChType::Enum16 | ChType::Date => 2,
            ChType::Int32 | ChType::UInt32 | ChType::Float32 | ChType::DateTime => 4,
            ChType::Int64 | ChType::UInt64 | ChType::Float64 | ChType::DateTime64(_) => 8,
            ChType::Decimal(p, _) if p <= 9 => 4,
            ChType::Decimal(p, _) if p <= 18 => 8,
            ChType::Decimal(..) => 16,
        };
        self.data.extend_from_slice(&[0u8; 16][..width]);
    }
    #[inline]
    fn present(&mut self) {
        self.nulls.push(0);
    }
    #[inline]
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }
}

/// Encodes one value of `col` as RowBinary. Errors name the problem (the caller adds the
/// column and row).
pub fn encode_value(
    out: &mut Vec<u8>,
    col: &Column,
    v: &Value,
    stats: &mut EncodeStats,
) -> Result<(), EncodeError> {
    encode_ref(&mut RowSink(out), col, ValRef::from(v), stats)
}

fn range_error(col: &Column, n: i128) -> EncodeError {
    EncodeError(format!("{n} does not fit {}", col.ch.sql()))
}

/// An integer of `col` within `lo..=hi`.
#[inline]
fn int_in(col: &Column, v: ValRef<'_>, lo: i128, hi: i128) -> Result<i128, EncodeError> {
    // The common case first: a binary integer that fits.
    if let ValRef::Int(i) = v {
        let n = i128::from(i);
        if n >= lo && n <= hi {
            return Ok(n);
        }
    }
    let n = int_of(v).ok_or_else(|| EncodeError(format!("expected an integer, found {v:?}")))?;
    if n < lo || n > hi {
        return Err(range_error(col, n));
    }
    Ok(n)
}

/// Encodes one borrowed value of `col` into `sink` (see [`encode_value`]).
#[inline]
pub fn encode_ref<S: Sink>(
    sink: &mut S,
    col: &Column,
    v: ValRef<'_>,
    stats: &mut EncodeStats,
) -> Result<(), EncodeError> {
    if matches!(v, ValRef::Null) {
        if col.nullable {
            sink.null(col.ch);
            return Ok(());
        }
        return Err(EncodeError(
            "NULL in a column that is NOT NULL at the source".into(),
        ));
    }
    // Dates first: an invalid date may become NULL.
    if matches!(
        col.ch,
        ChType::Date | ChType::DateTime | ChType::DateTime64(_)
    ) {
        return encode_datetime(sink, col, v, stats);
    }
    if col.nullable {
        sink.present();
    }
    let out = sink.out();
    match col.ch {
        ChType::Int8 => out.push(int_in(col, v, i8::MIN.into(), i8::MAX.into())? as i8 as u8),
        ChType::Int16 => out.extend_from_slice(
            &(int_in(col, v, i16::MIN.into(), i16::MAX.into())? as i16).to_le_bytes(),
        ),
        ChType::Int32 => out.extend_from_slice(
            &(int_in(col, v, i32::MIN.into(), i32::MAX.into())? as i32).to_le_bytes(),
        ),
        ChType::Int64 => out.extend_from_slice(
            &(int_in(col, v, i64::MIN.into(), i64::MAX.into())? as i64).to_le_bytes(),
        ),
        ChType::UInt8 => out.push(int_in(col, v, 0, u8::MAX.into())? as u8),
        ChType::UInt16 => {
            out.extend_from_slice(&(int_in(col, v, 0, u16::MAX.into())? as u16).to_le_bytes())
        }
        ChType::UInt32 => {
            out.extend_from_slice(&(int_in(col, v, 0, u32::MAX.into())? as u32).to_le_bytes())
        }
        ChType::UInt64 => {
            let n = match (col.conv, v) {
                (Conv::Bit, ValRef::Bytes(b)) if b.len() <= 8 => {
                    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
                }
                _ => int_in(col, v, 0, u64::MAX.into())? as u64,
            };
            out.extend_from_slice(&n.to_le_bytes())
        }
        ChType::Float32 => {
            let f = float_of(v)
                .ok_or_else(|| EncodeError(format!("expected a number, found {v:?}")))?;
            out.extend_from_slice(&(f as f32).to_le_bytes())
        }
        ChType::Float64 => {
            let f = float_of(v)
                .ok_or_else(|| EncodeError(format!("expected a number, found {v:?}")))?;
            out.extend_from_slice(&f.to_le_bytes())
        }
        ChType::Decimal(p, s) => {
            let n = match v {
                ValRef::Bytes(b) => parse_decimal(b, s),
                ValRef::Int(_) | ValRef::UInt(_) => {
                    int_of(v).and_then(|i| i.checked_mul(10i128.checked_pow(s)?))
                }
                _ => None,
            }
            .ok_or_else(|| {
                EncodeError(format!("`{}` is not a Decimal({p}, {s}) value", v.text()))
            })?;
            if p <= 9 {
                out.extend_from_slice(&(n as i32).to_le_bytes())
            } else if p <= 18 {
                out.extend_from_slice(&(n as i64).to_le_bytes())
            } else {
                out.extend_from_slice(&n.to_le_bytes())
            }
        }
        ChType::String => match v {
            ValRef::Bytes(b) => put_bytes(out, b),
            ValRef::Time(neg, days, h, m, s, us) => {
                let hours = u64::from(days) * 24 + u64::from(h);
                let sign = if neg { "-" } else { "" };
                let text = if us == 0 {
                    format!("{sign}{hours:02}:{m:02}:{s:02}")
                } else {
                    format!("{sign}{hours:02}:{m:02}:{s:02}.{us:06}")
                };
                put_bytes(out, text.as_bytes())
            }
            other => put_bytes(out, other.text().as_bytes()),
        },
        ChType::Enum8 | ChType::Enum16 => {
            let n = match v {
                ValRef::Bytes(b) => col.enum_value(b),
                ValRef::Int(_) | ValRef::UInt(_) => int_of(v)
                    .and_then(|i| i16::try_from(i).ok())
                    .filter(|&i| i >= 0 && usize::try_from(i).is_ok_and(|i| i <= col.labels.len())),
                _ => None,
            }
            .ok_or_else(|| EncodeError(format!("`{}` is not a label of the ENUM", v.text())))?;
            if col.ch == ChType::Enum8 {
                out.push(n as i8 as u8)
            } else {
                out.extend_from_slice(&n.to_le_bytes())
            }
        }
        ChType::Date | ChType::DateTime | ChType::DateTime64(_) => {}
    }
    Ok(())
}

fn encode_datetime<S: Sink>(
    sink: &mut S,
    col: &Column,
    v: ValRef<'_>,
    stats: &mut EncodeStats,
) -> Result<(), EncodeError> {
    let (y, mo, d, h, mi, s, us) = match v {
        ValRef::Date(y, mo, d, h, mi, s, us) => (y, mo, d, h, mi, s, us),
        ValRef::Bytes(b) => parse_datetime_text(b)
            .ok_or_else(|| EncodeError(format!("`{}` is not a date", v.text())))?,
        other => return Err(EncodeError(format!("expected a date, found {other:?}"))),
    };
    let encoded: Option<(i64, i64)> = if valid_date(y, mo, d) {
        let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d));
        let secs = days * 86_400 + i64::from(h) * 3_600 + i64::from(mi) * 60 + i64::from(s);
        let ok = match col.ch {
            ChType::Date => (0..=i64::from(u16::MAX)).contains(&days),
            ChType::DateTime => (0..=i64::from(u32::MAX)).contains(&secs),
            // DateTime64 covers 1900..2299; keep it within what every version accepts.
            _ => (0..=i64::from(u32::MAX)).contains(&secs),
        };
        ok.then_some((days, secs))
    } else {
        None
    };
    let Some((days, secs)) = encoded else {
        stats.invalid_dates += 1;
        if col.nullable {
            sink.null(col.ch);
            return Ok(());
        }
        let out = sink.out();
        match col.ch {
            ChType::Date => out.extend_from_slice(&0u16.to_le_bytes()),
            ChType::DateTime => out.extend_from_slice(&0u32.to_le_bytes()),
            _ => out.extend_from_slice(&0i64.to_le_bytes()),
        }
        return Ok(());
    };
    if col.nullable {
        sink.present();
    }
    let out = sink.out();
    match col.ch {
        ChType::Date => out.extend_from_slice(&(days as u16).to_le_bytes()),
        ChType::DateTime => out.extend_from_slice(&(secs as u32).to_le_bytes()),
        ChType::DateTime64(p) => {
            let p = p.min(6);
            let frac = i64::from(us) / 10i64.pow(6 - p);
            let n = secs * 10i64.pow(p) + frac;
            out.extend_from_slice(&n.to_le_bytes())
        }
        _ => {}
    }
    Ok(())
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` → parts.
fn parse_datetime_text(b: &[u8]) -> Option<(u16, u8, u8, u8, u8, u8, u32)> {
    let t = std::str::from_utf8(b).ok()?.trim();
    let (date, time) = t.split_once([' ', 'T']).unwrap_or((t, "00:00:00"));
    let mut dp = date.split('-');
    let y = dp.next()?.parse().ok()?;
    let mo = dp.next()?.parse().ok()?;
    let d = dp.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut tp = hms.split(':');
    let h = tp.next()?.parse().ok()?;
    let mi = tp.next().unwrap_or("0").parse().ok()?;
    let s = tp.next().unwrap_or("0").parse().ok()?;
    let us = if frac.is_empty() {
        0
    } else {
        let f: String = frac.chars().chain("000000".chars()).take(6).collect();
        f.parse().ok()?
    };
    Some((y, mo, d, h, mi, s, us))
}

/// A value as text (for messages and cursor display).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(f) => f.to_string(),
        Value::Date(y, mo, d, h, mi, s, us) => {
            if *us == 0 {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            }
        }
        Value::Time(neg, days, h, m, s, us) => {
            let hours = u64::from(*days) * 24 + u64::from(*h);
            format!(
                "{}{hours:02}:{m:02}:{s:02}.{us:06}",
                if *neg { "-" } else { "" }
            )
        }
    }
}

/// True if a soft-delete column value means "deleted": not NULL, not zero, not empty.
pub fn is_truthy(v: &Value) -> bool {
    is_truthy_ref(ValRef::from(v))
}

/// [`is_truthy`] of a borrowed value.
pub fn is_truthy_ref(v: ValRef<'_>) -> bool {
    match v {
        ValRef::Null => false,
        ValRef::Int(i) => i != 0,
        ValRef::UInt(u) => u != 0,
        ValRef::Float(f) => f != 0.0,
        ValRef::Double(f) => f != 0.0,
        ValRef::Bytes(b) => {
            !(b.is_empty() || b.iter().all(|&c| c == b'0' || c == b'.') || b == b"false")
        }
        ValRef::Date(..) | ValRef::Time(..) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing_is_exact() {
        assert_eq!(parse_decimal(b"123.45", 2), Some(12_345));
        assert_eq!(parse_decimal(b"-0.05", 2), Some(-5));
        assert_eq!(parse_decimal(b"7", 3), Some(7_000));
        assert_eq!(parse_decimal(b"1.5", 3), Some(1_500));
        assert_eq!(parse_decimal(b"1.50", 1), Some(15));
        assert_eq!(parse_decimal(b"1.55", 1), None);
        assert_eq!(
            parse_decimal(b"99999999999999999999999999.999999999999", 12),
            Some(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
        assert_eq!(parse_decimal(b"abc", 2), None);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert!(!valid_date(2023, 2, 29));
        assert!(valid_date(2024, 2, 29));
        assert!(!valid_date(0, 0, 0));
    }

    #[test]
    fn enum_labels() {
        assert_eq!(
            parse_enum_labels("enum('a','it''s','ü',' x')"),
            Some(vec!["a".into(), "it's".into(), "ü".into(), " x".into()])
        );
        assert_eq!(parse_enum_labels("enum"), None);
        let c = map_column(
            &SourceColumn {
                name: "e".into(),
                data_type: "enum".into(),
                column_type: "enum('a','b')".into(),
                nullable: true,
                precision: None,
                scale: None,
                datetime_precision: None,
            },
            false,
        );
        assert_eq!(c.ch_sql(), "Nullable(Enum8('' = 0, 'a' = 1, 'b' = 2))");
        assert_eq!(c.enum_value(b"b"), Some(2));
        assert_eq!(c.enum_value(b""), Some(0));
        assert_eq!(c.enum_value(b"z"), None);
    }

    #[test]
    fn varint() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, vec![0xac, 0x02]);
    }

    #[test]
    fn mapping() {
        let col =
            |dt: &str, ct: &str, p: Option<u32>, s: Option<u32>, dtp: Option<u32>| SourceColumn {
                name: "c".into(),
                data_type: dt.into(),
                column_type: ct.into(),
                nullable: false,
                precision: p,
                scale: s,
                datetime_precision: dtp,
            };
        assert_eq!(
            map_column(
                &col("bigint", "bigint(20) unsigned", None, None, None),
                false
            )
            .ch,
            ChType::UInt64
        );
        assert_eq!(
            map_column(&col("tinyint", "tinyint(1)", None, None, None), false).ch,
            ChType::UInt8
        );
        assert_eq!(
            map_column(&col("tinyint", "tinyint(4)", None, None, None), false).ch,
            ChType::Int8
        );
        assert_eq!(
            map_column(
                &col("decimal", "decimal(12,2)", Some(12), Some(2), None),
                false
            )
            .ch,
            ChType::Decimal(12, 2)
        );
        assert_eq!(
            map_column(
                &col("decimal", "decimal(65,2)", Some(65), Some(2), None),
                false
            )
            .ch,
            ChType::String
        );
        assert_eq!(
            map_column(&col("datetime", "datetime(6)", None, None, Some(6)), false).ch,
            ChType::DateTime
        );
        assert_eq!(
            map_column(&col("datetime", "datetime(6)", None, None, Some(6)), true).ch,
            ChType::DateTime64(6)
        );
        assert_eq!(
            map_column(&col("bit", "bit(8)", None, None, None), false).conv,
            Conv::Bit
        );
    }
}
