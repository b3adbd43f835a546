//! One plan for every engine: which table a run writes into, in which order it reads, where it
//! starts, its upper bound, what it records after each confirmed batch and when it ends.
//!
//! * `mode: full` reads a **snapshot** into `<table>__full_sync` and swaps it in at the end.
//! * `mode: incremental` with a saved cursor reads in (cursor, primary key) order after it (or
//!   from `cursor - lookback_seconds`) up to `MAX(cursor)` fixed at the start.
//! * `mode: incremental` without one (first run, a reset, a destination table that vanished, a
//!   column added at the source) loads a **snapshot** into the destination table itself: primary
//!   key order, parallel readers over key ranges where the engine has them, every row whose
//!   cursor is at or below the largest (cursor, primary key) fixed when it started. Once it is
//!   complete that key becomes the cursor, so a row committed during the snapshot is taken by
//!   the next run. A snapshot cut off resumes from its ranges' confirmed keys.
//!
//! The engines implement [`SourceOps`] and [`DestOps`]; the decisions are made here, once.

use super::state::{KeyVal, RangeState, SavedState, SnapshotState, Start};
use super::sync::STAGING_SUFFIX;
use super::types::Column;
use super::{SyncMode, TableSync};
use dagster_core::storage::KvStore;
use mysql::Value;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// A destination column whose type differs from what the source column now maps to: an
/// incremental sync resyncs every row into a new table and swaps it in; a full sync fails.
#[derive(Debug)]
pub(super) struct TypeChanged(pub(super) String);

impl std::fmt::Display for TypeChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TypeChanged {}

/// What the plan needs to ask the source.
pub(super) trait SourceOps {
    /// `MAX(cursor column)`; `None` when no row has a cursor value.
    fn max_cursor(&self) -> anyhow::Result<Option<Value>>;
    /// The largest (cursor, primary key) of the rows that have a cursor value.
    fn upper_key(&self) -> anyhow::Result<Option<Vec<Value>>>;
    /// The saved cursor value minus `seconds` (for `lookback_seconds`).
    fn lookback_start(&self, cursor: &Value, seconds: u64) -> anyhow::Result<Value>;
    /// Disjoint primary key ranges a snapshot is read in, in parallel (empty: one reader).
    fn snapshot_ranges(&self) -> anyhow::Result<Vec<RangeState>>;
    /// An estimate of the rows a run will read (for progress), `None` when unknown.
    fn estimate_rows(&self, snapshot: bool, start: &Start) -> Option<u64>;
}

/// What the plan needs to do to the destination.
pub(super) trait DestOps {
    /// Creates `table` or adds the columns it lacks: (it existed, the columns added). May
    /// adjust `columns` to an existing table (e.g. ENUMs kept as `String`). A column of
    /// another type is a [`TypeChanged`] error.
    fn ensure_table(
        &self,
        table: &str,
        columns: &mut [Column],
    ) -> anyhow::Result<(bool, Vec<String>)>;
    /// Drops `table` if it exists.
    fn drop_table(&self, table: &str) -> anyhow::Result<()>;
    /// Replaces `table` with `staging` in one step.
    fn swap_in(&self, staging: &str, table: &str) -> anyhow::Result<()>;
}

/// What a run does, decided by [`TableSync::plan_run`].
pub(super) struct RunPlan {
    /// The table the rows are written into.
    pub(super) target: String,
    /// Primary key order up to a fixed upper key (a full sync, or an incremental sync's
    /// initial load), instead of (cursor, primary key) order after the saved cursor.
    pub(super) snapshot: bool,
    pub(super) start: Start,
    /// The cursor value no row read is above (`upper_bound` in the metadata).
    pub(super) upper: Option<Value>,
    /// A snapshot's upper key, (cursor, primary key): it reads the rows at or below it, the
    /// next incremental run those above it, so a row committed during the snapshot with the
    /// upper cursor value and a higher key is read once, by the next run.
    pub(super) upper_key: Option<Vec<Value>>,
    /// Key ranges of the snapshot's parallel readers (empty: one reader from `start`).
    pub(super) ranges: Vec<RangeState>,
    pub(super) columns_added: Vec<String>,
    /// The destination table existed and gained no column.
    pub(super) schema_unchanged: bool,
    /// A snapshot started in this run into a table created empty: every key is written once.
    pub(super) fresh_snapshot: bool,
    /// With a cursor column and no upper bound the source has no row to read.
    pub(super) nothing_to_read: bool,
}

impl RunPlan {
    /// The columns and values every row read is at or below: (cursor, primary key) ≤ the upper
    /// key in a snapshot, cursor ≤ the upper bound in an incremental run.
    pub(super) fn bound(&self, sync: &TableSync) -> (Vec<String>, Vec<Value>) {
        match (&self.upper_key, &self.upper, &sync.config.cursor_column) {
            (Some(k), _, Some(_)) if self.snapshot => (sync.key_columns(), k.clone()),
            (_, Some(u), Some(c)) => (vec![c.clone()], vec![u.clone()]),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// The order the rows are read (and paged) in.
    pub(super) fn order_columns(&self, sync: &TableSync) -> Vec<String> {
        if self.snapshot {
            sync.config.primary_key.clone()
        } else {
            sync.key_columns()
        }
    }

    /// Where each snapshot reader starts (the ranges' confirmed keys).
    pub(super) fn range_starts(&self) -> Vec<(Start, Option<Value>)> {
        self.ranges
            .iter()
            .map(|r| {
                let start = match (&r.last_key, &r.after) {
                    (Some(k), _) => Start::After(k.iter().map(KeyVal::to_value).collect()),
                    (None, Some(a)) => Start::After(vec![a.to_value()]),
                    (None, None) => Start::Beginning,
                };
                (start, r.upto.as_ref().map(KeyVal::to_value))
            })
            .collect()
    }
}

impl TableSync {
    /// Decides the run (see the module documentation) and saves the start of a new snapshot.
    /// `checked`: the result of `ensure_table` on the destination when the engine already
    /// called it. A column whose type changed at the source makes an incremental sync resync
    /// every row into `<table>__full_sync` and swap it in, as a full sync does. `parallel`: the engine reads snapshots by key ranges (a snapshot saved with
    /// ranges by another engine starts over otherwise).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn plan_run(
        &self,
        src: &dyn SourceOps,
        dst: &dyn DestOps,
        columns: &mut [Column],
        checked: Option<anyhow::Result<(bool, Vec<String>)>>,
        parallel: bool,
        state: &mut SavedState,
        kv: &dyn KvStore,
        state_key: &str,
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<RunPlan> {
        let cfg = &self.config;
        let resumable = |s: &SnapshotState, target: &str| {
            s.target == target && s.by_pk && (parallel || s.ranges.is_empty())
        };
        let staging = format!("{}{STAGING_SUFFIX}", cfg.destination_table);
        // Resumes the snapshot into `staging` saved in the state, if its table is still there.
        let resume_staging = |state: &SavedState,
                              columns: &mut [Column],
                              what: &str,
                              log: &mut dyn FnMut(&str)|
         -> anyhow::Result<Option<RunPlan>> {
            if let Some(s) = state.snapshot.clone().filter(|s| resumable(s, &staging)) {
                let (existed, _) = dst.ensure_table(&staging, columns)?;
                if existed {
                    log(what);
                    return Ok(Some(self.resume_snapshot(
                        staging.clone(),
                        s,
                        Vec::new(),
                        true,
                    )));
                }
            }
            Ok(None)
        };
        let (target, existed, added) = match cfg.mode {
            SyncMode::Full => {
                if let Some(plan) =
                    resume_staging(state, columns, "resuming the unfinished full sync", log)?
                {
                    return Ok(plan);
                }
                dst.drop_table(&staging)?;
                dst.ensure_table(&staging, columns)?;
                (staging.clone(), false, Vec::new())
            }
            SyncMode::Incremental => {
                let table = cfg.destination_table.clone();
                let checked = match checked {
                    Some(r) => r,
                    None => dst.ensure_table(&table, columns),
                };
                let (existed, added) = match checked {
                    Ok(r) => r,
                    Err(e) => {
                        // A column changed type: every row again, into a new table.
                        let Some(TypeChanged(why)) = e.downcast_ref::<TypeChanged>() else {
                            return Err(e);
                        };
                        let why = why.clone();
                        if let Some(plan) = resume_staging(
                            state,
                            columns,
                            "resuming the resync into a new table",
                            log,
                        )? {
                            return Ok(plan);
                        }
                        log(&format!(
                            "{why}: resyncing every row into a new table, swapped in at the end"
                        ));
                        state.last_key = None;
                        state.snapshot = None;
                        dst.drop_table(&staging)?;
                        dst.ensure_table(&staging, columns)?;
                        return self.start_snapshot(
                            src,
                            staging,
                            false,
                            Vec::new(),
                            parallel,
                            state,
                            kv,
                            state_key,
                        );
                    }
                };
                let has_position = state.last_key.is_some() || state.snapshot.is_some();
                if !existed && has_position {
                    log("the destination table did not exist: syncing from the beginning");
                    state.last_key = None;
                    state.snapshot = None;
                }
                if !added.is_empty() && has_position {
                    log(&format!(
                        "new source column(s) {} added to the destination: re-reading every row so existing rows get their values",
                        added.join(", ")
                    ));
                    state.last_key = None;
                    state.snapshot = None;
                }
                // A full sync's unfinished staging state does not belong to this mode.
                state.snapshot = state.snapshot.take().filter(|s| resumable(s, &table));
                if let Some(s) = state.snapshot.clone() {
                    log("resuming the initial snapshot");
                    return Ok(self.resume_snapshot(table, s, added, existed));
                }
                if let Some(k) = state.last_key.clone() {
                    let upper = src.max_cursor()?;
                    let start = match cfg.lookback_seconds {
                        Some(secs) if secs > 0 => {
                            let first = k.first().map(KeyVal::to_value).unwrap_or(Value::NULL);
                            Start::AtLeast(src.lookback_start(&first, secs)?)
                        }
                        _ => Start::After(k.iter().map(KeyVal::to_value).collect()),
                    };
                    return Ok(RunPlan {
                        target: table,
                        snapshot: false,
                        start,
                        nothing_to_read: upper.is_none(),
                        upper,
                        upper_key: None,
                        ranges: Vec::new(),
                        schema_unchanged: existed && added.is_empty(),
                        columns_added: added,
                        fresh_snapshot: false,
                    });
                }
                log("no saved cursor: loading every row as a snapshot in primary key order");
                (table, existed, added)
            }
        };
        self.start_snapshot(src, target, existed, added, parallel, state, kv, state_key)
    }

    /// A new snapshot into `target`: fixes its upper key and ranges and saves them before
    /// anything is read.
    #[allow(clippy::too_many_arguments)]
    fn start_snapshot(
        &self,
        src: &dyn SourceOps,
        target: String,
        existed: bool,
        added: Vec<String>,
        parallel: bool,
        state: &mut SavedState,
        kv: &dyn KvStore,
        state_key: &str,
    ) -> anyhow::Result<RunPlan> {
        let cfg = &self.config;
        let upper_key = match &cfg.cursor_column {
            Some(_) => src.upper_key()?,
            None => None,
        };
        let upper = upper_key.as_ref().and_then(|k| k.first().cloned());
        let ranges = if parallel {
            src.snapshot_ranges()?
        } else {
            Vec::new()
        };
        state.snapshot = Some(SnapshotState {
            target: target.clone(),
            upper: upper.as_ref().map(KeyVal::from_value),
            last_key: None,
            by_pk: true,
            upper_key: upper_key
                .as_ref()
                .map(|k| k.iter().map(KeyVal::from_value).collect()),
            ranges: ranges.clone(),
        });
        state.save(kv, state_key)?;
        Ok(RunPlan {
            target,
            snapshot: true,
            start: Start::Beginning,
            nothing_to_read: cfg.cursor_column.is_some() && upper.is_none(),
            upper,
            upper_key,
            ranges,
            schema_unchanged: existed && added.is_empty(),
            columns_added: added,
            fresh_snapshot: !existed,
        })
    }

    fn resume_snapshot(
        &self,
        target: String,
        s: SnapshotState,
        columns_added: Vec<String>,
        existed: bool,
    ) -> RunPlan {
        let upper = s.upper.as_ref().map(KeyVal::to_value);
        RunPlan {
            target,
            snapshot: true,
            start: s
                .last_key
                .as_ref()
                .map(|k| Start::After(k.iter().map(KeyVal::to_value).collect()))
                .unwrap_or(Start::Beginning),
            // No row had a cursor value when the snapshot started.
            nothing_to_read: self.config.cursor_column.is_some() && upper.is_none(),
            upper,
            upper_key: s
                .upper_key
                .as_ref()
                .map(|k| k.iter().map(KeyVal::to_value).collect()),
            ranges: s.ranges,
            schema_unchanged: existed && columns_added.is_empty(),
            columns_added,
            fresh_snapshot: false,
        }
    }

    /// Records the last keys of a batch the destination confirmed (one per reader) and saves
    /// the state: only now does the position move.
    pub(super) fn record_batch(
        &self,
        plan: &RunPlan,
        state: &mut SavedState,
        last_keys: &[Option<Vec<Value>>],
        kv: &dyn KvStore,
        state_key: &str,
    ) -> anyhow::Result<()> {
        let saved = |k: &Vec<Value>| -> Vec<KeyVal> { k.iter().map(KeyVal::from_value).collect() };
        for (i, k) in last_keys.iter().enumerate() {
            let Some(k) = k else { continue };
            match (plan.snapshot, state.snapshot.as_mut()) {
                (false, _) => state.last_key = Some(saved(k)),
                (true, Some(s)) if s.ranges.is_empty() => s.last_key = Some(saved(k)),
                (true, Some(s)) => {
                    if let Some(r) = s.ranges.get_mut(i) {
                        r.last_key = Some(saved(k));
                    }
                }
                (true, None) => {}
            }
        }
        state.save(kv, state_key)
    }

    /// Ends a run whose rows have all been written: a full sync's staging table is swapped in;
    /// after a snapshot the incremental position is its upper key (every row up to it has been
    /// read; rows changed since are above it). Without a cursor column it is the last primary
    /// key read, the order a snapshot reads in.
    pub(super) fn finish_plan(
        &self,
        plan: &RunPlan,
        dst: &dyn DestOps,
        state: &mut SavedState,
        kv: &dyn KvStore,
        state_key: &str,
    ) -> anyhow::Result<()> {
        if !plan.snapshot {
            return Ok(());
        }
        if plan.target != self.config.destination_table {
            // A full sync, or an incremental one resynced after a type change.
            dst.swap_in(&plan.target, &self.config.destination_table)?;
        }
        let snapshot = state.snapshot.take();
        state.last_key = match (&self.config.cursor_column, snapshot) {
            (Some(_), s) => s.and_then(|s| s.upper_key),
            (None, Some(s)) if !s.ranges.is_empty() => {
                s.ranges.into_iter().rev().find_map(|r| r.last_key)
            }
            (None, s) => s.and_then(|s| s.last_key),
        };
        state.save(kv, state_key)
    }
}

/// Progress of a long read: rows copied of the estimated total, rate and time left, logged at
/// most every `every` (to the step's log: the CLI prints it, the run's events keep it).
pub(super) struct Progress<'a> {
    log: RefCell<&'a mut dyn FnMut(&str)>,
    total: Option<u64>,
    every: Duration,
    started: Instant,
    state: RefCell<(u64, Instant)>,
}

impl<'a> Progress<'a> {
    pub(super) fn new(log: &'a mut dyn FnMut(&str), total: Option<u64>, every: Duration) -> Self {
        let now = Instant::now();
        Progress {
            log: RefCell::new(log),
            total,
            every,
            started: now,
            state: RefCell::new((0, now)),
        }
    }

    /// Logs a line.
    pub(super) fn log(&self, line: &str) {
        if let Ok(mut log) = self.log.try_borrow_mut() {
            (*log)(line);
        }
    }

    /// Counts rows read; logs the progress line when it is due.
    pub(super) fn add(&self, rows: u64) {
        let line = {
            let Ok(mut st) = self.state.try_borrow_mut() else {
                return;
            };
            st.0 += rows;
            if st.1.elapsed() < self.every {
                return;
            }
            st.1 = Instant::now();
            progress_line(st.0, self.total, self.started.elapsed())
        };
        self.log(&line);
    }
}

/// `progress: 412,000 of ~1,000,000 rows (41%), 380,000 rows/s, about 2 s left`.
pub(super) fn progress_line(rows: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = rows as f64 / secs;
    let mut line = format!("progress: {} ", thousands(rows));
    // An estimate below the rows read so far is raised to them.
    match total.map(|t| t.max(rows)) {
        Some(t) if t > 0 => {
            line.push_str(&format!(
                "of ~{} rows ({}%), {} rows/s",
                thousands(t),
                rows * 100 / t,
                thousands(rate as u64)
            ));
            if rate > 0.0 {
                let left = ((t - rows) as f64 / rate).ceil() as u64;
                line.push_str(&format!(", about {} left", duration_text(left)));
            }
        }
        _ => line.push_str(&format!("rows, {} rows/s", thousands(rate as u64))),
    }
    line
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn duration_text(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines() {
        assert_eq!(
            progress_line(412_000, Some(1_000_000), Duration::from_secs(1)),
            "progress: 412,000 of ~1,000,000 rows (41%), 412,000 rows/s, about 2 s left"
        );
        assert_eq!(
            progress_line(1_500, None, Duration::from_secs(3)),
            "progress: 1,500 rows, 500 rows/s"
        );
        // An estimate below the rows read is raised to them.
        assert_eq!(
            progress_line(2_000, Some(1_000), Duration::from_secs(1)),
            "progress: 2,000 of ~2,000 rows (100%), 2,000 rows/s, about 0 s left"
        );
        assert_eq!(duration_text(3_725), "1 h 2 min");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
    }
}
