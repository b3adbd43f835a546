//! The sync's state: the cursor and snapshot position saved in the instance key-value store
//! (key `table_sync/<asset key>`), the key values it holds, and where a read starts.

use super::types::value_text;
use anyhow::Context as _;
use dagster_core::storage::KvStore;
use mysql::Value;
use serde::{Deserialize, Serialize};

/// A key value as saved in the cursor state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub(super) enum KeyVal {
    Null,
    Int(i64),
    UInt(u64),
    Double(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// `YYYY-MM-DD HH:MM:SS.ffffff`
    DateTime(String),
}

impl KeyVal {
    pub(super) fn from_value(v: &Value) -> KeyVal {
        match v {
            Value::NULL => KeyVal::Null,
            Value::Int(i) => KeyVal::Int(*i),
            Value::UInt(u) => KeyVal::UInt(*u),
            Value::Float(f) => KeyVal::Double(f64::from(*f)),
            Value::Double(f) => KeyVal::Double(*f),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => KeyVal::Text(s.to_string()),
                Err(_) => KeyVal::Bytes(b.clone()),
            },
            Value::Date(y, mo, d, h, mi, s, us) => KeyVal::DateTime(format!(
                "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
            )),
            Value::Time(..) => KeyVal::Text(value_text(v)),
        }
    }

    pub(super) fn to_value(&self) -> Value {
        match self {
            KeyVal::Null => Value::NULL,
            KeyVal::Int(i) => Value::Int(*i),
            KeyVal::UInt(u) => Value::UInt(*u),
            KeyVal::Double(f) => Value::Double(*f),
            KeyVal::Text(s) => Value::Bytes(s.as_bytes().to_vec()),
            KeyVal::Bytes(b) => Value::Bytes(b.clone()),
            KeyVal::DateTime(s) => {
                parse_dt(s).unwrap_or_else(|| Value::Bytes(s.as_bytes().to_vec()))
            }
        }
    }
}

pub(super) fn parse_dt(s: &str) -> Option<Value> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-');
    let (y, mo, da) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':');
    let (h, mi, se) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    Some(Value::Date(y, mo, da, h, mi, se, frac.parse().ok()?))
}

pub(super) fn key_text(key: &[Value]) -> String {
    let parts: Vec<String> = key.iter().map(value_text).collect();
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// The state saved in the instance key-value store, under `table_sync/<asset key>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct SavedState {
    /// `database.table` of the destination the cursor belongs to.
    pub(super) destination: String,
    /// Cursor column then primary key columns.
    pub(super) key_columns: Vec<String>,
    /// Last key confirmed by the destination (incremental position).
    pub(super) last_key: Option<Vec<KeyVal>>,
    /// An unfinished snapshot (a full sync, or the initial load of an incremental one).
    #[serde(rename = "full")]
    pub(super) snapshot: Option<SnapshotState>,
    /// Deduplicated destination row count after the last run (reused when a run writes nothing).
    #[serde(default)]
    pub(super) destination_rows: Option<u64>,
    /// Incremental runs since the last hard-delete reconciliation.
    #[serde(default)]
    pub(super) runs_since_reconcile: u64,
}

/// A snapshot in progress: every row up to the upper bound fixed when it started, read in
/// primary key order, by one reader or by several over disjoint key ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SnapshotState {
    /// The table it writes into: `<table>__full_sync` for a full sync (swapped in at the end),
    /// the destination table itself for the initial load of an incremental sync.
    #[serde(rename = "staging")]
    pub(super) target: String,
    pub(super) upper: Option<KeyVal>,
    /// Last primary key confirmed by the destination (a full sync reads in primary key order).
    pub(super) last_key: Option<Vec<KeyVal>>,
    /// True when `last_key` is a primary key (states written before full syncs read in primary
    /// key order hold a (cursor, primary key) position: such a sync starts over).
    #[serde(default)]
    pub(super) by_pk: bool,
    /// The largest (cursor, primary key) when the full sync started: the incremental position
    /// once it is done.
    #[serde(default)]
    pub(super) upper_key: Option<Vec<KeyVal>>,
    /// Disjoint primary key ranges read in parallel (empty: one reader, `last_key`).
    #[serde(default)]
    pub(super) ranges: Vec<RangeState>,
}

/// One primary key range of a full sync read by its own reader: `after < pk <= upto`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct RangeState {
    pub(super) after: Option<KeyVal>,
    pub(super) upto: Option<KeyVal>,
    /// Last primary key of this range confirmed by the destination.
    pub(super) last_key: Option<Vec<KeyVal>>,
}

/// Where reading starts.
#[derive(Debug, Clone)]
pub(super) enum Start {
    Beginning,
    /// `cursor >= value` (lookback).
    AtLeast(Value),
    /// Keyset: `(cursor, pk...) > values`.
    After(Vec<Value>),
}

impl SavedState {
    /// The saved state to resume from for `destination` (a fresh one when the saved cursor
    /// belongs to another destination or key), stamped with them, and the cursor before this
    /// run as text.
    pub(super) fn resume(
        kv: &dyn KvStore,
        state_key: &str,
        destination: &str,
        key_columns: &[String],
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<(SavedState, Option<String>)> {
        let mut state = match Self::load(kv, state_key)? {
            Some(s) if s.destination == destination && s.key_columns == key_columns => s,
            Some(_) => {
                log("the saved cursor belongs to another destination or key; starting from the beginning");
                SavedState::default()
            }
            None => SavedState::default(),
        };
        state.destination = destination.to_string();
        state.key_columns = key_columns.to_vec();
        let cursor_before = state
            .last_key
            .as_ref()
            .map(|k| key_text(&k.iter().map(KeyVal::to_value).collect::<Vec<_>>()));
        Ok((state, cursor_before))
    }

    pub(super) fn load(kv: &dyn KvStore, key: &str) -> anyhow::Result<Option<SavedState>> {
        let Some(text) = kv.kv_get(key).context("reading the saved sync cursor")? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&text).ok())
    }

    pub(super) fn save(&self, kv: &dyn KvStore, key: &str) -> anyhow::Result<()> {
        let text = serde_json::to_string(self)?;
        kv.kv_set(key, &text).context("saving the sync cursor")?;
        Ok(())
    }
}
