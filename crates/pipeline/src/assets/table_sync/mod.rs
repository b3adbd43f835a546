//! `kind: table_sync`: copies a MySQL/MariaDB or Postgres table (or query) into ClickHouse or
//! Postgres, incrementally and exactly.
//!
//! ```yaml
//! pipeline_configs:
//!   customers_sync:
//!     kind: table_sync
//!     key: reporting/customers
//!     group: replica_sync
//!     source: mysql_replica          # a `mysql` or `postgres` resource
//!     source_table: customers        # or source_query: SELECT ... (exactly one)
//!     destination: reporting         # a `clickhouse` or `postgres` resource
//!     destination_table: customers
//!     mode: incremental              # or full
//!     cursor_column: updated_at      # required for incremental
//!     primary_key: [id]
//!     batch_size: 500000
//!     soft_delete_column: deleted_at # optional: non-NULL/non-zero = deleted
//!     lookback_seconds: 0            # optional: re-read this much before the cursor
//!     columns: [...]                 # optional include list (key columns are always kept)
//!     exclude_columns: [...]         # optional
//!     reconcile_deletes: false       # optional: hard-delete reconciliation every run
//!     reconcile_every_runs: 24       # optional: ... or every N-th incremental run
//!     progress_seconds: 5            # optional: how often a running sync logs its progress
//!     invalid_dates: null            # optional: null | clamp | fail (dates ClickHouse cannot hold)
//! ```
//!
//! How it stays exact (docs/SYNC.md has the details and the type mapping):
//! * keyset pagination on (cursor column, primary key) with the upper bound
//!   `MAX(cursor column)` taken once when the sync starts;
//! * the destination is `ReplacingMergeTree(_version) ORDER BY (primary key)`, so re-sent rows
//!   replace themselves; the cursor is saved in the instance key-value store only after
//!   ClickHouse confirmed a batch, so a killed sync resumes from its last confirmed batch;
//! * `full` writes into a staging table and swaps it in at the end; the first run of an
//!   incremental sync loads a snapshot the same way, into the table itself (`plan.rs`);
//! * a view `<table>_dedup` reads the deduplicated rows without `FINAL`.

mod encode;
mod engine;
mod pg_dest;
mod pg_source;
mod plan;
mod reader;
mod reconcile;
mod sides;
mod state;
mod sync;
pub mod types;
mod wire;
mod writer;

pub use engine::{DestRef, SourceRef};
pub use sync::{SyncOutcome, TableSync};
pub use types::InvalidDates;

use dagster_core::config::yaml::Map;
use dagster_core::defs::{AssetCompute, AssetKind};
use std::sync::Arc;

pub const DEFAULT_BATCH_SIZE: usize = 500_000;
/// Default interval of the `progress: …` lines of a running sync (`progress_seconds: 5`).
pub const DEFAULT_PROGRESS_MS: u64 = 5_000;

/// `mode:` of a table sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Rewrite everything into a fresh table, swapped in at the end.
    Full,
    /// Take rows whose (cursor, primary key) is past the saved cursor.
    Incremental,
}

/// The settings of one table sync (one `pipeline_configs` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Name of the source resource (`mysql` or `postgres`).
    pub source: String,
    /// The source table (`table` or `schema.table`); empty when `source_query` is set.
    pub source_table: String,
    /// A SELECT read as a derived table instead of `source_table`.
    pub source_query: Option<String>,
    /// Name of the destination resource (`clickhouse` or `postgres`).
    pub destination: String,
    pub destination_table: String,
    pub mode: SyncMode,
    pub cursor_column: Option<String>,
    pub primary_key: Vec<String>,
    pub batch_size: usize,
    pub soft_delete_column: Option<String>,
    pub lookback_seconds: Option<u64>,
    pub columns: Option<Vec<String>>,
    pub exclude_columns: Vec<String>,
    /// Hard-delete reconciliation every N incremental runs (`reconcile_deletes: true` = 1).
    pub reconcile_every_runs: Option<u64>,
    /// How often a running sync logs its progress, in milliseconds (`progress_seconds`).
    pub progress_every_ms: u64,
    /// What is written for zero, invalid or out-of-range dates (`invalid_dates:`, default
    /// `null`).
    pub invalid_dates: InvalidDates,
}

impl SyncConfig {
    /// An incremental sync with the defaults.
    pub fn incremental(
        source: &str,
        source_table: &str,
        destination: &str,
        destination_table: &str,
        cursor_column: &str,
        primary_key: &[&str],
    ) -> Self {
        SyncConfig {
            source: source.into(),
            source_table: source_table.into(),
            source_query: None,
            destination: destination.into(),
            destination_table: destination_table.into(),
            mode: SyncMode::Incremental,
            cursor_column: Some(cursor_column.into()),
            primary_key: primary_key.iter().map(|s| s.to_string()).collect(),
            batch_size: DEFAULT_BATCH_SIZE,
            soft_delete_column: None,
            lookback_seconds: None,
            columns: None,
            exclude_columns: Vec::new(),
            reconcile_every_runs: None,
            progress_every_ms: DEFAULT_PROGRESS_MS,
            invalid_dates: InvalidDates::Null,
        }
    }

    /// The source for messages: `table `t`` or `query `SELECT ...``.
    pub fn source_text(&self) -> String {
        match &self.source_query {
            Some(q) => {
                let one_line = q.split_whitespace().collect::<Vec<_>>().join(" ");
                let short: String = one_line.chars().take(80).collect();
                if short.len() < one_line.len() {
                    format!("source query `{short}…`")
                } else {
                    format!("source query `{short}`")
                }
            }
            None => format!("source table `{}`", self.source_table),
        }
    }
}

/// `kind: table_sync`.
pub struct TableSyncKind;

impl AssetKind for TableSyncKind {
    fn kind_name(&self) -> &'static str {
        "table_sync"
    }

    fn build(&self, entry: &Map<'_>) -> Option<(Arc<dyn AssetCompute>, Vec<String>)> {
        let source = entry.req_str("source");
        let source_table = entry.str("source_table");
        let source_query = entry.str("source_query");
        let source_ok = match (&source_table, &source_query) {
            (Some(_), Some(_)) => {
                entry.error("give either `source_table` or `source_query`, not both");
                false
            }
            (None, None) => {
                entry.error("missing required key `source_table` (or `source_query`)");
                false
            }
            (None, Some(q)) if q.trim().is_empty() => {
                entry.error("`source_query` is empty");
                false
            }
            _ => true,
        };
        let destination = entry.req_str("destination");
        let destination_table = entry.req_str("destination_table");
        let mode = match entry.get("mode") {
            None => Some(SyncMode::Incremental),
            Some(v) => match v.as_str().as_deref() {
                Some("full") => Some(SyncMode::Full),
                Some("incremental") => Some(SyncMode::Incremental),
                Some(other) => {
                    v.error(format!(
                        "unknown mode `{other}` (expected full or incremental)"
                    ));
                    None
                }
                None => None,
            },
        };
        let cursor_column = entry.str("cursor_column");
        let primary_key = match entry.get("primary_key") {
            None => {
                entry.error("missing required key `primary_key` (a column or a list of columns)");
                None
            }
            Some(v) => {
                let list = v.as_str_list();
                if list.is_empty() {
                    v.error("`primary_key` is empty");
                    None
                } else {
                    Some(list)
                }
            }
        };
        let batch_size = match entry.get("batch_size") {
            None => Some(DEFAULT_BATCH_SIZE),
            Some(v) => match v.as_int() {
                Some(n) if (1..=10_000_000).contains(&n) => usize::try_from(n).ok(),
                Some(n) => {
                    v.error(format!("must be between 1 and 10000000, found {n}"));
                    None
                }
                None => None,
            },
        };
        let soft_delete_column = entry.str("soft_delete_column");
        let lookback_seconds = match entry.get("lookback_seconds") {
            None => Some(None),
            Some(v) => match v.as_int() {
                Some(n) if n >= 0 => Some(u64::try_from(n).ok()),
                Some(n) => {
                    v.error(format!("must be 0 or more, found {n}"));
                    None
                }
                None => None,
            },
        };
        let columns = entry.get("columns").map(|v| v.as_str_list());
        let exclude_columns = entry.str_list("exclude_columns");
        let reconcile_deletes = match entry.get("reconcile_deletes") {
            None => Some(false),
            Some(v) => v.as_bool(),
        };
        let reconcile_every = match entry.get("reconcile_every_runs") {
            None => Some(None),
            Some(v) => match v.as_int() {
                Some(n) if n >= 1 => Some(u64::try_from(n).ok()),
                Some(n) => {
                    v.error(format!("must be 1 or more, found {n}"));
                    None
                }
                None => None,
            },
        };
        let invalid_dates = match entry.get("invalid_dates") {
            None => Some(InvalidDates::default()),
            // `invalid_dates: null` (YAML's null, also written `~` or left empty).
            Some(v) if v.is_null() => Some(InvalidDates::Null),
            Some(v) => match v.as_str().as_deref() {
                Some(s) => {
                    let parsed = InvalidDates::parse(s);
                    if parsed.is_none() {
                        v.error(format!(
                            "unknown invalid_dates `{s}` (expected {})",
                            InvalidDates::NAMES
                        ));
                    }
                    parsed
                }
                None => None,
            },
        };
        let reconcile_every_runs = match (reconcile_deletes, reconcile_every) {
            (Some(true), Some(None)) => Some(Some(1)),
            (Some(_), Some(n)) => Some(n),
            _ => None,
        };
        let progress_every_ms = match entry.get("progress_seconds") {
            None => Some(DEFAULT_PROGRESS_MS),
            Some(v) => match v.as_float() {
                Some(n) if (0.1..=86_400.0).contains(&n) => Some((n * 1000.0).round() as u64),
                Some(n) => {
                    v.error(format!(
                        "must be between 0.1 and 86400 (seconds), found {n}"
                    ));
                    None
                }
                None => None,
            },
        };
        if mode == Some(SyncMode::Incremental) && cursor_column.is_none() {
            entry.error("`mode: incremental` needs `cursor_column` (e.g. updated_at)");
            return None;
        }
        if let (Some(pk), Some(c)) = (&primary_key, &cursor_column) {
            if pk.contains(c) {
                entry.error(format!(
                    "`cursor_column` `{c}` cannot also be part of `primary_key`"
                ));
                return None;
            }
        }
        if !source_ok {
            return None;
        }
        let config = SyncConfig {
            source: source?,
            source_table: source_table.unwrap_or_default(),
            source_query,
            destination: destination?,
            destination_table: destination_table?,
            mode: mode?,
            cursor_column,
            primary_key: primary_key?,
            batch_size: batch_size?,
            soft_delete_column,
            lookback_seconds: lookback_seconds?,
            columns,
            exclude_columns,
            reconcile_every_runs: reconcile_every_runs?,
            progress_every_ms: progress_every_ms?,
            invalid_dates: invalid_dates?,
        };
        let resources = vec![config.source.clone(), config.destination.clone()];
        Some((Arc::new(TableSync::new(config)), resources))
    }

    fn default_kinds(&self) -> Vec<String> {
        vec!["mysql".into(), "clickhouse".into()]
    }
}
