//! MySQL → ClickHouse type mapping; the encoding of source values is in `encode.rs` (its
//! public items are re-exported here).
//!
//! The mapping is documented as a table in docs/SYNC.md; keep both in step.

pub use super::encode::*;

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
    /// `Date32`: days since 1970-01-01 as Int32 (servers from 22.8 on, see [`ChCaps`]).
    Date32,
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
            ChType::Date32 => "Date32".into(),
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
    /// What the destination server holds (the range of `Date32` and `DateTime64`).
    pub caps: ChCaps,
    /// What happens to a date no ClickHouse value stands for (`invalid_dates:` of the sync).
    pub invalid_dates: InvalidDates,
}

impl Column {
    /// An integer column copied as is (an integer key can be split into ranges).
    pub fn is_plain_integer(&self) -> bool {
        self.conv == Conv::Plain
            && matches!(
                self.ch,
                ChType::Int8
                    | ChType::Int16
                    | ChType::Int32
                    | ChType::Int64
                    | ChType::UInt8
                    | ChType::UInt16
                    | ChType::UInt32
                    | ChType::UInt64
            )
    }

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

/// What a destination ClickHouse server can hold, from its version (`SELECT version()`). It
/// decides the date and time types of the mapping and the range the encoders accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChCaps {
    /// `DateTime64(p, tz)` exists: ClickHouse 20.1 and later. Without `wide_dates` the sync uses
    /// it only for fractional seconds, within `DateTime`'s range (1970 to 2106).
    pub datetime64: bool,
    /// `Date32` exists and `Date32` / `DateTime64` hold 1900-01-01 to 2299-12-31: ClickHouse 22.8
    /// and later (ClickHouse pull request 39425; from 21.9 `Date32` existed with 1925 to 2283).
    pub wide_dates: bool,
    /// `Date32` / `DateTime64` hold 0001-01-01 to 9999-12-31 (MySQL's whole range): checked on
    /// ClickHouse 26.9 (pull requests 107907 and 111534, mid-2026); older servers get
    /// `wide_dates` only.
    pub full_dates: bool,
}

impl ChCaps {
    /// ClickHouse 18.x: `Date` and `DateTime` only.
    pub const OLDEST: ChCaps = ChCaps {
        datetime64: false,
        wide_dates: false,
        full_dates: false,
    };
    /// Everything this mapping knows (also used for Postgres destinations, whose types are
    /// mapped by `pg_dest.rs` from the source types).
    pub const NEWEST: ChCaps = ChCaps {
        datetime64: true,
        wide_dates: true,
        full_dates: true,
    };

    /// The capabilities of a server version such as `18.16.1`, `22.8.21.38` or `26.9.2.1`. A
    /// version that cannot be read counts as the oldest (the narrowest mapping).
    pub fn from_version(version: &str) -> ChCaps {
        let mut parts = version
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        let at_least = |ma: u32, mi: u32| (major, minor) >= (ma, mi);
        ChCaps {
            datetime64: at_least(20, 1),
            wide_dates: at_least(22, 8),
            full_dates: at_least(26, 9),
        }
    }

    /// The first and last day (days since 1970-01-01) `Date32` and `DateTime64` hold here.
    pub(super) fn wide_days(&self) -> (i64, i64) {
        if self.full_dates {
            (DAY_0001_01_01, DAY_9999_12_31)
        } else {
            (DAY_1900_01_01, DAY_2299_12_31)
        }
    }
}

/// `invalid_dates:` of a sync: what is written for a date no ClickHouse value stands for (a zero
/// date `0000-00-00`, an invalid one such as `2024-02-31`, Postgres `±infinity`, or a date
/// outside the range of the column's type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidDates {
    /// NULL in a Nullable column, the type's minimum (1970-01-01 for `Date` / `DateTime`) in a
    /// NOT NULL one; counted.
    #[default]
    Null,
    /// The nearest value the column's type holds; counted.
    Clamp,
    /// The step fails, naming the column, the row's key and the value.
    Fail,
}

impl InvalidDates {
    pub const NAMES: &'static str = "null, clamp or fail";

    pub fn parse(s: &str) -> Option<InvalidDates> {
        match s {
            "null" => Some(InvalidDates::Null),
            "clamp" => Some(InvalidDates::Clamp),
            "fail" => Some(InvalidDates::Fail),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            InvalidDates::Null => "null",
            InvalidDates::Clamp => "clamp",
            InvalidDates::Fail => "fail",
        }
    }

    /// The step's warning when `n` dates were written by this policy.
    pub fn warning(&self, n: u64) -> String {
        match self {
            InvalidDates::Clamp => format!(
                "{n} zero/invalid or out-of-range dates were clamped to the nearest value their column type holds (invalid_dates: clamp)"
            ),
            _ => format!(
                "{n} zero/invalid or out-of-range dates were written as NULL (Nullable columns) or the type's minimum, 1970-01-01 for Date/DateTime (NOT NULL columns)"
            ),
        }
    }
}

/// 2106-02-07 and 2106-02-06 23:59:59: the last day and second servers before 22.8 print.
pub(super) const OLD_LAST_DAY: i64 = 49_710;
pub(super) const OLD_LAST_SECOND: i64 = 4_294_943_999;
pub(super) const DAY_1900_01_01: i64 = -25_567;
pub(super) const DAY_2299_12_31: i64 = 120_529;
pub(super) const DAY_0001_01_01: i64 = -719_162;
pub(super) const DAY_9999_12_31: i64 = 2_932_896;

/// Maps a source column for a server with `caps`; date columns take `invalid_dates`.
pub fn map_column(c: &SourceColumn, caps: ChCaps, invalid_dates: InvalidDates) -> Column {
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
        "date" if caps.wide_dates => ChType::Date32,
        "date" => ChType::Date,
        "datetime" | "timestamp" => match c.datetime_precision.unwrap_or(0) {
            p if caps.wide_dates => ChType::DateTime64(p.min(6)),
            0 => ChType::DateTime,
            p if caps.datetime64 => ChType::DateTime64(p.min(6)),
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
        caps,
        invalid_dates,
    }
}

/// An existing ClickHouse column (`existing`: name → type of the destination table) created
/// with a narrower date type than today's mapping (`Date` for `Date32`, `DateTime('UTC')` for
/// `DateTime64(p, 'UTC')`: tables created before the server was upgraded, or by an older
/// version of the sync) keeps its type: the column is written as `Date` / `DateTime`, with
/// their range. Called by `ensure_table` next to `keep_string_enums`.
pub fn keep_narrow_dates(existing: &[(String, String)], columns: &mut [Column]) {
    let norm = |t: &str| t.replace([' ', '\\'], "");
    for c in columns.iter_mut() {
        let narrow = match c.ch {
            ChType::Date32 => ChType::Date,
            ChType::DateTime64(_) => ChType::DateTime,
            _ => continue,
        };
        let Some((_, t)) = existing.iter().find(|(n, _)| n == &c.source.name) else {
            continue;
        };
        let t = norm(t);
        if t == norm(&c.ch_sql()) {
            continue;
        }
        let wide = c.ch;
        c.ch = narrow;
        if t != norm(&c.ch_sql()) {
            // Some other type: `ensure_table` reports the mismatch with the mapped type.
            c.ch = wide;
        }
    }
}
