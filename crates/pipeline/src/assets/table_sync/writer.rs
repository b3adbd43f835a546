//! The ClickHouse side of the hot path: one `INSERT ... FORMAT Native` per reader and batch,
//! streamed from the readers' chunks, ended and confirmed one batch behind the reading.

use super::plan::Progress;
use super::reader::Chunk;
use super::types::EncodeStats;
use dagster_core::defs::CancelToken;
use mysql::Value;

/// How streaming one batch ended on the writer side.
pub(super) enum BatchEnd {
    /// Every row of the batch was sent; its INSERTs are still open (not confirmed).
    Streamed(Streamed),
    ReaderFailed(String),
    Cancelled,
}

/// A batch whose rows have all been sent to ClickHouse.
pub(super) struct Streamed {
    /// The open INSERTs (one per reader that sent rows); dropping them aborts them.
    pub(super) inserts: Vec<clickhouse::insert_formatted::InsertFormatted>,
    pub(super) done: BatchDone,
    /// The readers have finished: no more batches.
    pub(super) finished: bool,
}

/// What a batch holds, recorded once ClickHouse has confirmed it.
pub(super) struct BatchDone {
    pub(super) rows: u64,
    pub(super) bytes: u64,
    /// Last key of the batch, per reader.
    pub(super) last_keys: Vec<Option<Vec<Value>>>,
    pub(super) stats: EncodeStats,
}

/// A batch whose INSERTs have been ended and wait for ClickHouse's answer.
pub(super) struct Ending {
    pub(super) ends: Vec<tokio::task::JoinHandle<clickhouse::error::Result<()>>>,
    pub(super) done: BatchDone,
}

/// Streams the chunks of one batch into one `INSERT ... FORMAT Native` per reader, without
/// ending them. A batch ends with a chunk marked as its last (one reader) or once it has
/// `max_rows` rows (several readers). The INSERTs of a batch that is not complete (reader
/// error, cancellation) are dropped, which aborts them.
pub(super) async fn stream_batch(
    client: &clickhouse::Client,
    sql: &str,
    rx: &mut tokio::sync::mpsc::Receiver<Result<Chunk, String>>,
    cancel: &CancelToken,
    readers: usize,
    max_rows: u64,
    progress: &Progress<'_>,
) -> clickhouse::error::Result<BatchEnd> {
    // One INSERT per reader: each one's rows arrive in key order, so ClickHouse writes sorted
    // parts without re-sorting interleaved rows.
    let mut inserts: Vec<Option<clickhouse::insert_formatted::InsertFormatted>> =
        (0..readers).map(|_| None).collect();
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut last_keys: Vec<Option<Vec<Value>>> = vec![None; readers];
    let mut stats = EncodeStats::default();
    let mut finished = false;
    loop {
        let Some(msg) = rx.recv().await else {
            finished = true;
            break;
        };
        let chunk = match msg {
            Ok(c) => c,
            Err(e) => return Ok(BatchEnd::ReaderFailed(e)),
        };
        if cancel.is_cancelled() {
            return Ok(BatchEnd::Cancelled);
        }
        if !chunk.data.is_empty() {
            bytes += chunk.data.len() as u64;
            if let Some(slot) = inserts.get_mut(chunk.range) {
                let ins = slot.get_or_insert_with(|| client.insert_formatted_with(sql.to_string()));
                ins.send(bytes::Bytes::from(chunk.data)).await?;
            }
        }
        rows += chunk.rows;
        progress.add(chunk.rows);
        stats.invalid_dates += chunk.stats.invalid_dates;
        if let Some(k) = last_keys.get_mut(chunk.range) {
            *k = Some(chunk.last_key);
        }
        if chunk.end_of_batch || rows >= max_rows {
            break;
        }
    }
    Ok(BatchEnd::Streamed(Streamed {
        inserts: inserts.into_iter().flatten().collect(),
        done: BatchDone {
            rows,
            bytes,
            last_keys,
            stats,
        },
        finished,
    }))
}

/// Ends the INSERTs of a streamed batch at once (ClickHouse writes their parts in parallel,
/// while the next batch streams in); must run on the ClickHouse resource's runtime.
pub(super) async fn end_batch(streamed: Streamed) -> clickhouse::error::Result<Ending> {
    Ok(Ending {
        ends: streamed
            .inserts
            .into_iter()
            .map(|ins| tokio::spawn(ins.end()))
            .collect(),
        done: streamed.done,
    })
}

/// Waits until ClickHouse has confirmed every INSERT of a batch.
pub(super) async fn confirm_batch(
    ends: Vec<tokio::task::JoinHandle<clickhouse::error::Result<()>>>,
) -> clickhouse::error::Result<()> {
    let mut first_error = None;
    for end in ends {
        let r = match end.await {
            Ok(r) => r,
            Err(e) => Err(clickhouse::error::Error::Custom(format!(
                "the INSERT task failed: {e}"
            ))),
        };
        if let (Err(e), None) = (r, &first_error) {
            first_error = Some(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
