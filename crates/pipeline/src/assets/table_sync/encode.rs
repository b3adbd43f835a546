//! The encoding of source values as ClickHouse RowBinary (one row after the other) or Native
//! (column by column) bytes, for the columns `types.rs` maps; dates and times with the range
//! each server holds.

use super::types::*;
use super::types::{OLD_LAST_DAY, OLD_LAST_SECOND};
use mysql::Value;

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
    y != 0 && (1..=12).contains(&m) && d != 0 && d <= days_in_month(y, m)
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
    /// Zero or invalid dates (`0000-00-00`, `2024-02-31`), Postgres `±infinity` and dates outside
    /// the range of their ClickHouse type, written as [`InvalidDates`] says.
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
    let scale_digits = scale as usize;
    if int_part.len() + scale_digits <= 18 && frac_part.len() <= scale_digits {
        // At most 18 digits: a u64 holds them without overflow checks (the common case).
        let mut v: u64 = 0;
        for &c in int_part {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
        }
        for &c in frac_part {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
        }
        v *= 10u64.pow((scale_digits - frac_part.len()) as u32);
        let v = i128::from(v);
        return Some(if neg { -v } else { v });
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
            ChType::Int32
            | ChType::UInt32
            | ChType::Float32
            | ChType::Date32
            | ChType::DateTime => 4,
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
        ChType::Date | ChType::Date32 | ChType::DateTime | ChType::DateTime64(_)
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
        ChType::Date | ChType::Date32 | ChType::DateTime | ChType::DateTime64(_) => {}
    }
    Ok(())
}

/// A source date or time value: its parts, or Postgres `±infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateIn {
    /// year, month, day, hour, minute, second, microsecond (possibly invalid: `0000-00-00`).
    Parts(u16, u8, u8, u8, u8, u8, u32),
    /// `infinity` (`true`) or `-infinity`.
    Infinity(bool),
}

impl DateIn {
    fn of(v: ValRef<'_>) -> Result<DateIn, EncodeError> {
        match v {
            ValRef::Date(y, mo, d, h, mi, s, us) => Ok(DateIn::Parts(y, mo, d, h, mi, s, us)),
            ValRef::Bytes(b) if b == b"infinity" => Ok(DateIn::Infinity(true)),
            ValRef::Bytes(b) if b == b"-infinity" => Ok(DateIn::Infinity(false)),
            ValRef::Bytes(b) => {
                let (y, mo, d, h, mi, s, us) = parse_datetime_text(b)
                    .ok_or_else(|| EncodeError(format!("`{}` is not a date", v.text())))?;
                Ok(DateIn::Parts(y, mo, d, h, mi, s, us))
            }
            other => Err(EncodeError(format!("expected a date, found {other:?}"))),
        }
    }

    /// The value as the source shows it (`date_only` for `DATE` columns).
    fn text(&self, date_only: bool) -> String {
        match *self {
            DateIn::Infinity(true) => "infinity".into(),
            DateIn::Infinity(false) => "-infinity".into(),
            DateIn::Parts(y, mo, d, ..) if date_only => format!("{y:04}-{mo:02}-{d:02}"),
            DateIn::Parts(y, mo, d, h, mi, s, 0) => {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
            DateIn::Parts(y, mo, d, h, mi, s, us) => {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            }
        }
    }
}

/// How values of a date column are stored: the unit (days for `Date`/`Date32`, seconds for
/// `DateTime`, 10^-p seconds for `DateTime64(p)`), and the first and last value the column
/// takes (the type's range on this server).
#[derive(Debug, Clone, Copy)]
struct DateScale {
    /// Units per second (0 for day-based types).
    per_second: i128,
    min: i128,
    max: i128,
}

impl DateScale {
    fn of(col: &Column) -> DateScale {
        let day_range = |(lo, hi): (i64, i64), per_second: i128| {
            if per_second == 0 {
                (i128::from(lo), i128::from(hi))
            } else {
                (
                    i128::from(lo) * 86_400 * per_second,
                    (i128::from(hi) * 86_400 + 86_399) * per_second + per_second - 1,
                )
            }
        };
        // Before 22.8 the server's date tables end in February 2106 (checked on 18.16: a later
        // `Date` or `DateTime` prints as 1970-01-01); from 22.8 on `Date` and `DateTime` hold
        // their documented ranges (up to 2149-06-06 and 2106-02-07 06:28:15).
        let (last_day, last_second) = if col.caps.wide_dates {
            (i128::from(u16::MAX), i128::from(u32::MAX))
        } else {
            (i128::from(OLD_LAST_DAY), i128::from(OLD_LAST_SECOND))
        };
        let (per_second, (min, max)) = match col.ch {
            ChType::Date => (0, (0, last_day)),
            ChType::Date32 => (0, day_range(col.caps.wide_days(), 0)),
            ChType::DateTime => (1, (0, last_second)),
            ChType::DateTime64(p) => {
                let per_second = 10i128.pow(p.min(6));
                if col.caps.wide_dates {
                    (per_second, day_range(col.caps.wide_days(), per_second))
                } else {
                    // 20.1 to 22.7: DateTime's range, plus the fraction.
                    (per_second, (0, last_second * per_second + per_second - 1))
                }
            }
            _ => (1, (0, 0)),
        };
        DateScale {
            per_second,
            min,
            max,
        }
    }

    /// The value of a valid date and time in this unit (the fraction cut to the precision).
    fn units(&self, days: i64, h: u8, mi: u8, s: u8, us: u32) -> i128 {
        if self.per_second == 0 {
            return i128::from(days);
        }
        let secs =
            i128::from(days) * 86_400 + i128::from(h) * 3_600 + i128::from(mi) * 60 + i128::from(s);
        // per_second is at most 10^6, so the fraction fits a u64 (no 128-bit division per value).
        let frac = match (us, u64::try_from(self.per_second)) {
            (0, _) => 0,
            (_, Ok(per)) => i128::from(u64::from(us) * per / 1_000_000),
            (_, Err(_)) => i128::from(us) * self.per_second / 1_000_000,
        };
        secs * self.per_second + frac
    }

    /// A value of this unit as text (for messages).
    fn text(&self, units: i128) -> String {
        let (days, secs) = if self.per_second == 0 {
            (units, 0)
        } else {
            let secs = units.div_euclid(self.per_second);
            (secs.div_euclid(86_400), secs.rem_euclid(86_400))
        };
        let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
        if self.per_second == 0 {
            format!("{y:04}-{m:02}-{d:02}")
        } else {
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                secs / 3_600,
                secs / 60 % 60,
                secs % 60
            )
        }
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(super) fn days_in_month(y: u16, m: u8) -> u8 {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn encode_datetime<S: Sink>(
    sink: &mut S,
    col: &Column,
    v: ValRef<'_>,
    stats: &mut EncodeStats,
) -> Result<(), EncodeError> {
    let input = DateIn::of(v)?;
    let scale = DateScale::of(col);
    let exact = match input {
        DateIn::Parts(y, mo, d, h, mi, s, us)
            if valid_date(y, mo, d) && h < 24 && mi < 60 && s < 60 =>
        {
            let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d));
            Some(scale.units(days, h, mi, s, us)).filter(|u| (scale.min..=scale.max).contains(u))
        }
        _ => None,
    };
    let units = match exact {
        Some(u) => u,
        None => match col.invalid_dates {
            InvalidDates::Fail => {
                let date_only = col.source.data_type == "date";
                let what = match input {
                    DateIn::Parts(y, mo, d, ..) if valid_date(y, mo, d) => format!(
                        "is outside the range of {} ({} to {})",
                        col.ch.sql(),
                        scale.text(scale.min),
                        scale.text(scale.max)
                    ),
                    DateIn::Parts(0, 0, 0, ..) => "is a zero date".into(),
                    DateIn::Parts(..) => "is not a valid date".into(),
                    DateIn::Infinity(_) => format!("has no {} value", col.ch.sql()),
                };
                return Err(EncodeError(format!(
                    "`{}` {what} (invalid_dates: fail; `null` or `clamp` write such dates)",
                    input.text(date_only)
                )));
            }
            InvalidDates::Null => {
                stats.invalid_dates += 1;
                if col.nullable {
                    sink.null(col.ch);
                    return Ok(());
                }
                scale.min
            }
            InvalidDates::Clamp => {
                stats.invalid_dates += 1;
                match input {
                    DateIn::Infinity(true) => scale.max,
                    DateIn::Infinity(false) => scale.min,
                    DateIn::Parts(y, mo, d, h, mi, s, us) => {
                        // The nearest real date: month 0 → 1, day 0 → 1, a day past the end of
                        // its month → the last day (`2024-02-31` → `2024-02-29`); year 0 is
                        // before every range, so `0000-00-00` becomes the type's minimum.
                        let mo = mo.clamp(1, 12);
                        let d = d.clamp(1, days_in_month(y, mo));
                        let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d));
                        let u = if y == 0 {
                            scale.min
                        } else {
                            scale.units(days, h.min(23), mi.min(59), s.min(59), us.min(999_999))
                        };
                        u.clamp(scale.min, scale.max)
                    }
                }
            }
        },
    };
    if col.nullable {
        sink.present();
    }
    let out = sink.out();
    match col.ch {
        ChType::Date => out.extend_from_slice(&(units as u16).to_le_bytes()),
        ChType::Date32 => out.extend_from_slice(&(units as i32).to_le_bytes()),
        ChType::DateTime => out.extend_from_slice(&(units as u32).to_le_bytes()),
        _ => out.extend_from_slice(&(units as i64).to_le_bytes()),
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

    fn m(c: &SourceColumn, caps: ChCaps) -> Column {
        map_column(c, caps, InvalidDates::Null)
    }

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
        let c = m(
            &SourceColumn {
                name: "e".into(),
                data_type: "enum".into(),
                column_type: "enum('a','b')".into(),
                nullable: true,
                precision: None,
                scale: None,
                datetime_precision: None,
            },
            ChCaps::OLDEST,
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
            m(
                &col("bigint", "bigint(20) unsigned", None, None, None),
                ChCaps::OLDEST
            )
            .ch,
            ChType::UInt64
        );
        assert_eq!(
            m(
                &col("tinyint", "tinyint(1)", None, None, None),
                ChCaps::OLDEST
            )
            .ch,
            ChType::UInt8
        );
        assert_eq!(
            m(
                &col("tinyint", "tinyint(4)", None, None, None),
                ChCaps::OLDEST
            )
            .ch,
            ChType::Int8
        );
        assert_eq!(
            m(
                &col("decimal", "decimal(12,2)", Some(12), Some(2), None),
                ChCaps::OLDEST
            )
            .ch,
            ChType::Decimal(12, 2)
        );
        assert_eq!(
            m(
                &col("decimal", "decimal(65,2)", Some(65), Some(2), None),
                ChCaps::OLDEST
            )
            .ch,
            ChType::String
        );
        assert_eq!(
            m(
                &col("datetime", "datetime(6)", None, None, Some(6)),
                ChCaps::OLDEST
            )
            .ch,
            ChType::DateTime
        );
        assert_eq!(
            m(
                &col("datetime", "datetime(6)", None, None, Some(6)),
                ChCaps::from_version("20.3.1")
            )
            .ch,
            ChType::DateTime64(6)
        );
        assert_eq!(
            m(&col("bit", "bit(8)", None, None, None), ChCaps::OLDEST).conv,
            Conv::Bit
        );
    }

    fn date_col(data_type: &str, precision: u32, nullable: bool) -> SourceColumn {
        SourceColumn {
            name: "d".into(),
            data_type: data_type.into(),
            column_type: if precision > 0 {
                format!("{data_type}({precision})")
            } else {
                data_type.into()
            },
            nullable,
            precision: None,
            scale: None,
            datetime_precision: (data_type != "date").then_some(precision),
        }
    }

    const V22_8: &str = "22.8.21.38";

    #[test]
    fn capabilities_follow_the_server_version() {
        assert_eq!(ChCaps::from_version("18.16.1"), ChCaps::OLDEST);
        assert_eq!(ChCaps::from_version("not a version"), ChCaps::OLDEST);
        let c = ChCaps::from_version("20.1.2.4");
        assert!(c.datetime64 && !c.wide_dates);
        let c = ChCaps::from_version("22.7.9");
        assert!(c.datetime64 && !c.wide_dates);
        let c = ChCaps::from_version(V22_8);
        assert!(c.wide_dates && !c.full_dates);
        let c = ChCaps::from_version("26.8.1.1");
        assert!(c.wide_dates && !c.full_dates);
        assert_eq!(ChCaps::from_version("26.9.2.1"), ChCaps::NEWEST);
        assert_eq!(ChCaps::from_version("27.1"), ChCaps::NEWEST);
    }

    #[test]
    fn date_types_per_server() {
        let sql = |dt: &str, p: u32, v: &str| {
            m(&date_col(dt, p, false), ChCaps::from_version(v)).ch_sql()
        };
        assert_eq!(sql("date", 0, "18.16.1"), "Date");
        assert_eq!(sql("datetime", 0, "18.16.1"), "DateTime('UTC')");
        assert_eq!(sql("datetime", 6, "18.16.1"), "DateTime('UTC')");
        assert_eq!(sql("date", 0, "21.8.1"), "Date");
        assert_eq!(sql("timestamp", 0, "21.8.1"), "DateTime('UTC')");
        assert_eq!(sql("timestamp", 3, "21.8.1"), "DateTime64(3, 'UTC')");
        assert_eq!(sql("date", 0, V22_8), "Date32");
        assert_eq!(sql("datetime", 0, V22_8), "DateTime64(0, 'UTC')");
        assert_eq!(sql("timestamp", 6, "26.9.2.1"), "DateTime64(6, 'UTC')");
        assert_eq!(
            m(&date_col("date", 0, true), ChCaps::NEWEST).ch_sql(),
            "Nullable(Date32)"
        );
    }

    /// Encodes one value as RowBinary; `Err` for a failed value.
    fn enc(col: &Column, v: ValRef<'_>) -> (Result<Vec<u8>, String>, u64) {
        let mut out = Vec::new();
        let mut stats = EncodeStats::default();
        let r = encode_ref(&mut RowSink(&mut out), col, v, &mut stats)
            .map(|()| out)
            .map_err(|e| e.0);
        (r, stats.invalid_dates)
    }

    fn col_of(dt: &str, p: u32, nullable: bool, caps: ChCaps, policy: InvalidDates) -> Column {
        map_column(&date_col(dt, p, nullable), caps, policy)
    }

    fn day(y: u16, mo: u8, d: u8) -> ValRef<'static> {
        ValRef::Date(y, mo, d, 0, 0, 0, 0)
    }

    fn days_le(y: i64, mo: u32, d: u32) -> Vec<u8> {
        (days_from_civil(y, mo, d) as i32).to_le_bytes().to_vec()
    }

    #[test]
    fn wide_types_keep_old_and_far_dates() {
        let wide = ChCaps::from_version(V22_8);
        let c = col_of("date", 0, false, wide, InvalidDates::Null);
        assert_eq!(enc(&c, day(1900, 1, 1)), (Ok(days_le(1900, 1, 1)), 0));
        assert_eq!(enc(&c, day(2299, 12, 31)), (Ok(days_le(2299, 12, 31)), 0));
        assert_eq!(
            enc(&c, day(1969, 12, 31)),
            (Ok((-1i32).to_le_bytes().to_vec()), 0)
        );
        // Outside 1900..2299 on 22.8: the type's minimum (NOT NULL), counted.
        assert_eq!(enc(&c, day(1000, 1, 1)), (Ok(days_le(1900, 1, 1)), 1));
        // 26.9 holds MySQL's whole range.
        let c = col_of("date", 0, false, ChCaps::NEWEST, InvalidDates::Null);
        assert_eq!(enc(&c, day(1000, 1, 1)), (Ok(days_le(1000, 1, 1)), 0));
        assert_eq!(enc(&c, day(9999, 12, 31)), (Ok(days_le(9999, 12, 31)), 0));
        // DateTime64(6) keeps microseconds before 1970.
        let c = col_of("datetime", 6, false, wide, InvalidDates::Null);
        let v = ValRef::Date(1950, 6, 15, 12, 30, 45, 123_456);
        let want = (days_from_civil(1950, 6, 15) * 86_400 + 45_045) * 1_000_000 + 123_456;
        assert_eq!(enc(&c, v), (Ok(want.to_le_bytes().to_vec()), 0));
        // DateTime64(0) from DATETIME on 22.8+.
        let c = col_of("datetime", 0, true, wide, InvalidDates::Null);
        let want = days_from_civil(1901, 2, 3) * 86_400 + 3_600;
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&want.to_le_bytes());
        assert_eq!(
            enc(&c, ValRef::Date(1901, 2, 3, 1, 0, 0, 0)),
            (Ok(bytes), 0)
        );
        // Text input (a source query's computed column) and Postgres ±infinity.
        let c = col_of("date", 0, true, wide, InvalidDates::Clamp);
        assert_eq!(
            enc(&c, ValRef::Bytes(b"2100-01-01")),
            (Ok([&[0u8][..], &days_le(2100, 1, 1)].concat()), 0)
        );
        assert_eq!(
            enc(&c, ValRef::Bytes(b"infinity")),
            (Ok([&[0u8][..], &days_le(2299, 12, 31)].concat()), 1)
        );
        assert_eq!(
            enc(&c, ValRef::Bytes(b"-infinity")),
            (Ok([&[0u8][..], &days_le(1900, 1, 1)].concat()), 1)
        );
    }

    #[test]
    fn null_policy_is_the_old_behaviour() {
        // 18.16: Date and DateTime, NULL or 1970-01-01, counted.
        let c = col_of("date", 0, true, ChCaps::OLDEST, InvalidDates::Null);
        assert_eq!(enc(&c, day(0, 0, 0)), (Ok(vec![1]), 1));
        assert_eq!(enc(&c, day(2024, 2, 31)), (Ok(vec![1]), 1));
        assert_eq!(enc(&c, day(1969, 12, 31)), (Ok(vec![1]), 1));
        let c = col_of("datetime", 0, false, ChCaps::OLDEST, InvalidDates::Null);
        assert_eq!(enc(&c, day(0, 0, 0)), (Ok(vec![0; 4]), 1));
        assert_eq!(
            enc(&c, ValRef::Date(2106, 2, 6, 23, 59, 59, 0)),
            (Ok(4_294_943_999u32.to_le_bytes().to_vec()), 0)
        );
        assert_eq!(
            enc(&c, ValRef::Date(2106, 2, 7, 0, 0, 0, 0)),
            (Ok(vec![0; 4]), 1)
        );
        // A kept DateTime column on 22.8+: up to 2106-02-07 06:28:15.
        let mut wide_dt = col_of("datetime", 0, false, ChCaps::NEWEST, InvalidDates::Null);
        wide_dt.ch = ChType::DateTime;
        assert_eq!(
            enc(&wide_dt, ValRef::Date(2106, 2, 7, 6, 28, 15, 0)),
            (Ok(u32::MAX.to_le_bytes().to_vec()), 0)
        );
        let c = col_of("datetime", 3, false, ChCaps::OLDEST, InvalidDates::Null);
        assert_eq!(c.ch, ChType::DateTime);
        // 20.1..22.7: DateTime64 within DateTime's range.
        let c = col_of(
            "datetime",
            3,
            false,
            ChCaps::from_version("21.3"),
            InvalidDates::Null,
        );
        assert_eq!(enc(&c, day(1969, 12, 31)), (Ok(vec![0; 8]), 1));
    }

    #[test]
    fn clamp_policy_writes_the_nearest_value() {
        let old = ChCaps::OLDEST;
        let wide = ChCaps::from_version(V22_8);
        let c = col_of("date", 0, true, old, InvalidDates::Clamp);
        let date = |y: i64, m: u32, d: u32| {
            let mut b = vec![0u8];
            b.extend_from_slice(&(days_from_civil(y, m, d) as u16).to_le_bytes());
            b
        };
        assert_eq!(enc(&c, day(0, 0, 0)), (Ok(date(1970, 1, 1)), 1));
        assert_eq!(enc(&c, day(2024, 2, 31)), (Ok(date(2024, 2, 29)), 1));
        assert_eq!(enc(&c, day(2023, 2, 30)), (Ok(date(2023, 2, 28)), 1));
        assert_eq!(enc(&c, day(2024, 0, 0)), (Ok(date(2024, 1, 1)), 1));
        assert_eq!(enc(&c, day(2024, 5, 0)), (Ok(date(2024, 5, 1)), 1));
        assert_eq!(enc(&c, day(1000, 1, 1)), (Ok(date(1970, 1, 1)), 1));
        assert_eq!(enc(&c, day(9999, 12, 31)), (Ok(date(2106, 2, 7)), 1));
        let c = col_of("date", 0, false, wide, InvalidDates::Clamp);
        assert_eq!(enc(&c, day(0, 0, 0)), (Ok(days_le(1900, 1, 1)), 1));
        assert_eq!(enc(&c, day(9999, 12, 31)), (Ok(days_le(2299, 12, 31)), 1));
        let c = col_of("date", 0, false, ChCaps::NEWEST, InvalidDates::Clamp);
        assert_eq!(enc(&c, day(0, 0, 0)), (Ok(days_le(1, 1, 1)), 1));
        // DateTime: the last second; DateTime64(6) on 22.8: 2299-12-31 23:59:59.999999.
        let c = col_of("datetime", 0, false, old, InvalidDates::Clamp);
        assert_eq!(
            enc(&c, day(2200, 1, 1)),
            (Ok(4_294_943_999u32.to_le_bytes().to_vec()), 1)
        );
        let c = col_of("datetime", 6, false, wide, InvalidDates::Clamp);
        let last = (days_from_civil(2299, 12, 31) * 86_400 + 86_399) * 1_000_000 + 999_999;
        assert_eq!(
            enc(&c, day(2300, 1, 1)),
            (Ok(last.to_le_bytes().to_vec()), 1)
        );
        let first = days_from_civil(1900, 1, 1) * 86_400 * 1_000_000;
        assert_eq!(
            enc(&c, ValRef::Date(0, 0, 0, 0, 0, 0, 0)),
            (Ok(first.to_le_bytes().to_vec()), 1)
        );
    }

    #[test]
    fn fail_policy_names_the_value() {
        let c = col_of("date", 0, true, ChCaps::OLDEST, InvalidDates::Fail);
        let (r, _) = enc(&c, day(0, 0, 0));
        let e = r.unwrap_err();
        assert!(
            e.contains("`0000-00-00` is a zero date") && e.contains("invalid_dates: fail"),
            "{e}"
        );
        let (r, _) = enc(&c, day(2024, 2, 31));
        assert!(r.unwrap_err().contains("`2024-02-31` is not a valid date"));
        let (r, _) = enc(&c, day(1950, 1, 1));
        let e = r.unwrap_err();
        assert!(
            e.contains("`1950-01-01` is outside the range of Date (1970-01-01 to 2106-02-07)"),
            "{e}"
        );
        let c = col_of(
            "datetime",
            6,
            false,
            ChCaps::from_version(V22_8),
            InvalidDates::Fail,
        );
        let (r, _) = enc(&c, ValRef::Date(1899, 12, 31, 23, 59, 59, 5));
        let e = r.unwrap_err();
        assert!(
            e.contains("`1899-12-31 23:59:59.000005` is outside the range of DateTime64(6, 'UTC') (1900-01-01 00:00:00 to 2299-12-31 23:59:59)"),
            "{e}"
        );
        let (r, _) = enc(&c, ValRef::Bytes(b"infinity"));
        assert!(r
            .unwrap_err()
            .contains("`infinity` has no DateTime64(6, 'UTC') value"));
        // Valid values pass.
        assert!(enc(&c, day(2000, 1, 1)).0.is_ok());
    }

    #[test]
    fn narrow_existing_columns_are_kept() {
        let wide = ChCaps::NEWEST;
        let mut cols = vec![
            map_column(&date_col("date", 0, true), wide, InvalidDates::Null),
            map_column(&date_col("datetime", 0, false), wide, InvalidDates::Null),
            map_column(&date_col("datetime", 6, false), wide, InvalidDates::Null),
            map_column(&date_col("timestamp", 3, false), wide, InvalidDates::Null),
        ];
        for (c, n) in cols.iter_mut().zip(["a", "b", "c", "d"]) {
            c.source.name = n.into();
        }
        let existing: Vec<(String, String)> = [
            ("a", "Nullable(Date)"),
            ("b", "DateTime('UTC')"),
            ("c", "DateTime64(6, 'UTC')"),
            ("d", "String"),
        ]
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
        keep_narrow_dates(&existing, &mut cols);
        let types: Vec<String> = cols.iter().map(Column::ch_sql).collect();
        assert_eq!(
            types,
            [
                "Nullable(Date)",
                "DateTime('UTC')",
                "DateTime64(6, 'UTC')",
                "DateTime64(3, 'UTC')"
            ]
        );
        // A kept `Date` is written as a Date (two bytes), with Date's range.
        assert_eq!(enc(&cols[0], day(1960, 1, 1)), (Ok(vec![1]), 1));
        assert_eq!(enc(&cols[0], day(1970, 1, 2)), (Ok(vec![0, 1, 0]), 0));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_162i64, -25_567, -1, 0, 1, 11_017, 120_529, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(DAY_1900_01_01), (1900, 1, 1));
        assert_eq!(civil_from_days(DAY_2299_12_31), (2299, 12, 31));
        assert_eq!(civil_from_days(DAY_0001_01_01), (1, 1, 1));
        assert_eq!(civil_from_days(DAY_9999_12_31), (9999, 12, 31));
    }

    #[test]
    fn policy_names() {
        for p in [InvalidDates::Null, InvalidDates::Clamp, InvalidDates::Fail] {
            assert_eq!(InvalidDates::parse(p.as_str()), Some(p));
        }
        assert_eq!(InvalidDates::parse("zero"), None);
    }
}
