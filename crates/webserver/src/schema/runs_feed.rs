//! The runs page (compat doc §3.2): `runsFeedOrError`, `runsFeedCountOrError` and the tag
//! filter helpers `runTagKeysOrError` / `runTagsOrError`.
//!
//! The feed merges runs and backfills newest first in Dagster; there are no backfills here, so
//! an entry is always a `Run`: `ROOTS` lists the runs that belong to no backfill (no
//! `dagster/backfill` tag), `RUNS` every run, `BACKFILLS` nothing. A page is the same storage
//! query as `runsOrError` (newest first by storage id, cursor = a run id) with one run more
//! than asked for, to tell whether another page follows.
//!
//! Cursor (Dagster's format): `"<run id>::<backfill id>::<creation time of the last entry>"`,
//! empty parts allowed (`"::::"` before the first run). The next page starts strictly after the
//! cursor's run; if that run was deleted meanwhile, it starts at the runs created before the
//! cursor's timestamp instead.

use super::backfills::PartitionBackfill;
#[allow(unused_imports)]
use super::prelude::*;
use super::runs::{AssetCheckHandle, Run, RunsFilterInput, MAX_RUNS_PAGE};
use super::types::{AssetKey, PipelineTag, PythonError, RunStatus};
use super::{blocking, with_storage, Ctx};
use dagster_core::domain::RunsFilter;
use juniper::{GraphQLEnum, GraphQLObject, GraphQLUnion, ID};

/// Which entries the runs page shows.
#[derive(GraphQLEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(scalar = juniper::DefaultScalarValue)]
pub enum RunsFeedView {
    /// Runs that are not part of a backfill, and backfills.
    Roots,
    /// Every run, backfill members included.
    Runs,
    /// Backfills only.
    Backfills,
}

interface! {
    /// `interface RunsFeedEntry`, implemented by `Run` and `PartitionBackfill` (a type that exists
    /// for the UI's fragments; no backfill is ever listed, see [`super::backfills`]).
    pub enum RunsFeedEntryValue: "RunsFeedEntry" {
        fields {
            "id": ID,
            "runStatus": Option<RunStatus>,
            "creationTime": f64,
            "startTime": Option<f64>,
            "endTime": Option<f64>,
            "tags": Vec<PipelineTag>,
            "jobName": Option<String>,
            "assetSelection": Option<Vec<AssetKey>>,
            "assetCheckSelection": Option<Vec<AssetCheckHandle>>,
        }
        for [
            PartitionBackfill,
            Run,
        ]
    }
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunsFeedConnection {
    pub results: Vec<RunsFeedEntryValue>,
    pub cursor: String,
    pub has_more: bool,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunsFeedConnectionOrError {
    RunsFeedConnection(RunsFeedConnection),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunsFeedCount {
    pub count: i32,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunsFeedCountOrError {
    RunsFeedCount(RunsFeedCount),
    PythonError(PythonError),
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunTagKeys {
    pub keys: Vec<String>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunTagKeysOrError {
    PythonError(PythonError),
    RunTagKeys(RunTagKeys),
}

/// A run tag and the free-form values that have been associated with it so far.
#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct PipelineTagAndValues {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct RunTags {
    pub tags: Vec<PipelineTagAndValues>,
}

#[derive(GraphQLUnion, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub enum RunTagsOrError {
    PythonError(PythonError),
    RunTags(RunTags),
}

/// Tags whose keys start with this are hidden from GraphQL (compat doc §0).
const HIDDEN_TAG_PREFIX: &str = ".dagster/";
const CURSOR_DELIMITER: &str = "::";

/// The runs feed cursor: `"<run id>::<backfill id>::<timestamp>"`, each part optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedCursor {
    pub run_id: Option<String>,
    pub backfill_id: Option<String>,
    /// Creation time (unix seconds) of the last entry returned.
    pub timestamp: Option<f64>,
}

impl FeedCursor {
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(CURSOR_DELIMITER).collect();
        let [run, backfill, ts] = parts.as_slice() else {
            return Err(format!(
                "Invalid cursor for querying runs: {s:?} (expected \"<run id>::<backfill id>::<timestamp>\")"
            ));
        };
        let timestamp = if ts.is_empty() {
            None
        } else {
            match ts.parse::<f64>() {
                Ok(t) if t.is_finite() => Some(t),
                _ => {
                    return Err(format!(
                        "Invalid cursor for querying runs: {s:?} (timestamp {ts:?} is not a number)"
                    ))
                }
            }
        };
        let part = |p: &str| (!p.is_empty()).then(|| p.to_string());
        Ok(FeedCursor {
            run_id: part(run),
            backfill_id: part(backfill),
            timestamp,
        })
    }
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ts = match self.timestamp {
            // Python's float repr, as Dagster writes it: always a decimal point.
            Some(t) if t != 0.0 => {
                let s = t.to_string();
                if s.contains('.') {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            _ => String::new(),
        };
        write!(
            f,
            "{}{CURSOR_DELIMITER}{}{CURSOR_DELIMITER}{ts}",
            self.run_id.as_deref().unwrap_or(""),
            self.backfill_id.as_deref().unwrap_or(""),
        )
    }
}

/// The storage filter of a feed view, or `None` when the view or filter can match no run.
fn feed_filter(filter: Option<RunsFilterInput>, view: RunsFeedView) -> Option<RunsFilter> {
    if view == RunsFeedView::Backfills {
        return None;
    }
    let mut f = filter.unwrap_or_default().to_domain()?;
    f.exclude_subruns = view == RunsFeedView::Roots;
    Some(f)
}

/// `runsFeedOrError(limit, cursor, filter, view)`.
pub async fn runs_feed_or_error(
    ctx: &Ctx,
    limit: i32,
    cursor: Option<String>,
    filter: Option<RunsFilterInput>,
    view: RunsFeedView,
) -> RunsFeedConnectionOrError {
    type R = RunsFeedConnectionOrError;
    if limit < 0 {
        return R::PythonError(PythonError::new(format!(
            "runsFeedOrError: limit must not be negative (got {limit})"
        )));
    }
    let from = match cursor.as_deref().map(FeedCursor::parse).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(message) => return R::PythonError(PythonError::new(message)),
    };
    let empty = |cursor: &FeedCursor| {
        R::RunsFeedConnection(RunsFeedConnection {
            results: Vec::new(),
            cursor: cursor.to_string(),
            has_more: false,
        })
    };
    let Some(mut f) = feed_filter(filter, view) else {
        return empty(&from);
    };
    let limit = limit.min(MAX_RUNS_PAGE) as usize;
    let st = ctx.state.clone();
    let start = from.clone();
    let res = blocking(move || {
        let storage = &st.instance.storage;
        let err = |e: dagster_core::storage::StorageError| PythonError::from_error(&e);
        let mut run_cursor = None;
        if let Some(id) = start.run_id {
            if storage.get_run(&id).map_err(err)?.is_some() {
                run_cursor = Some(id);
            } else if start.timestamp.is_none() {
                // Nothing is known to come after an unknown run.
                return Ok(None);
            }
        }
        if run_cursor.is_none() {
            if let Some(ts) = start.timestamp {
                f.created_before = Some(f.created_before.map_or(ts, |c| c.min(ts)));
            }
        }
        storage
            .list_runs(&f, run_cursor.as_deref(), Some(limit.saturating_add(1)))
            .map(Some)
            .map_err(err)
    })
    .await;
    let mut runs = match res {
        Ok(Some(runs)) => runs,
        Ok(None) => return empty(&from),
        Err(e) => return R::PythonError(e),
    };
    let has_more = runs.len() > limit;
    runs.truncate(limit);
    let next = match runs.last() {
        Some(last) => FeedCursor {
            run_id: Some(last.run_id.clone()),
            backfill_id: from.backfill_id.clone(),
            timestamp: Some(last.create_time),
        },
        None => from,
    };
    R::RunsFeedConnection(RunsFeedConnection {
        results: runs
            .into_iter()
            .map(|r| RunsFeedEntryValue::Run(Run::new(r)))
            .collect(),
        cursor: next.to_string(),
        has_more,
    })
}

/// `runsFeedCountOrError(view, filter)`: how many entries the feed has in all.
pub async fn runs_feed_count_or_error(
    ctx: &Ctx,
    view: RunsFeedView,
    filter: Option<RunsFilterInput>,
) -> RunsFeedCountOrError {
    let Some(f) = feed_filter(filter, view) else {
        return RunsFeedCountOrError::RunsFeedCount(RunsFeedCount { count: 0 });
    };
    let res = with_storage(&ctx.state, move |s| s.count_runs(&f)).await;
    match res {
        Ok(n) => RunsFeedCountOrError::RunsFeedCount(RunsFeedCount {
            count: i32::try_from(n).unwrap_or(i32::MAX),
        }),
        Err(e) => RunsFeedCountOrError::PythonError(e),
    }
}

/// `runTagKeysOrError`: the distinct tag keys of all runs, hidden `.dagster/*` ones left out.
pub async fn run_tag_keys_or_error(ctx: &Ctx) -> RunTagKeysOrError {
    let res = with_storage(&ctx.state, |s| s.run_tag_keys()).await;
    match res {
        Ok(keys) => RunTagKeysOrError::RunTagKeys(RunTagKeys {
            keys: keys
                .into_iter()
                .filter(|k| !k.starts_with(HIDDEN_TAG_PREFIX))
                .collect(),
        }),
        Err(e) => RunTagKeysOrError::PythonError(e),
    }
}

/// `runTagsOrError(tagKeys, valuePrefix, limit)`: the distinct values of the given tag keys
/// (every key when absent) starting with `valuePrefix`, at most `limit` (key, value) pairs
/// (`0`, like no limit, means all, as in Dagster); hidden keys left out.
pub async fn run_tags_or_error(
    ctx: &Ctx,
    tag_keys: Option<Vec<String>>,
    value_prefix: Option<String>,
    limit: Option<i32>,
) -> RunTagsOrError {
    let limit = match limit.filter(|l| *l != 0).map(usize::try_from).transpose() {
        Ok(l) => l,
        Err(_) => {
            return RunTagsOrError::PythonError(PythonError::new(format!(
                "runTagsOrError: limit must not be negative (got {})",
                limit.unwrap_or_default()
            )))
        }
    };
    let res = with_storage(&ctx.state, move |s| {
        s.run_tag_values(tag_keys.as_deref(), value_prefix.as_deref(), limit)
    })
    .await;
    match res {
        Ok(tags) => RunTagsOrError::RunTags(RunTags {
            tags: tags
                .into_iter()
                .filter(|(k, _)| !k.starts_with(HIDDEN_TAG_PREFIX))
                .map(|(key, values)| PipelineTagAndValues { key, values })
                .collect(),
        }),
        Err(e) => RunTagsOrError::PythonError(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_in_dagsters_format() {
        let c = FeedCursor::parse("1102d4cb-aaaa::::1795501440.119932").unwrap();
        assert_eq!(c.run_id.as_deref(), Some("1102d4cb-aaaa"));
        assert_eq!(c.backfill_id, None);
        assert_eq!(c.timestamp, Some(1_795_501_440.119_932));
        assert_eq!(c.to_string(), "1102d4cb-aaaa::::1795501440.119932");
        assert_eq!(FeedCursor::default().to_string(), "::::");
        assert_eq!(FeedCursor::parse("::::").unwrap(), FeedCursor::default());
        let whole = FeedCursor {
            timestamp: Some(1_795_501_440.0),
            ..Default::default()
        };
        assert_eq!(whole.to_string(), "::::1795501440.0");
    }

    #[test]
    fn malformed_cursors_are_errors_naming_the_cursor() {
        for bad in [
            "abc",
            "a::b",
            "a::b::c::d",
            "a::::NaN",
            "a::::inf",
            "a::::12x",
        ] {
            let e = FeedCursor::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
