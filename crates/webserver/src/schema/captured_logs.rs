//! Captured stdout/stderr of a run's steps (compat doc §3.5): `capturedLogs`,
//! `capturedLogsMetadata`, and the reads the `capturedLogs` subscription shares (moved out of
//! [`super::logs`], which re-exports them).

#[allow(unused_imports)]
use super::prelude::*;
use super::Ctx;
use dagster_core::exec::compute_logs::COMPUTE_LOGS_DIR;
use dagster_core::exec::LogStream;
use juniper::GraphQLObject;

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct CapturedLogs {
    pub log_key: Vec<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub cursor: Option<String>,
}

#[derive(GraphQLObject, Debug, Clone)]
#[graphql(scalar = juniper::DefaultScalarValue)]
#[graphql(context = Ctx)]
pub struct CapturedLogsMetadata {
    pub stdout_download_url: Option<String>,
    pub stdout_location: Option<String>,
    pub stderr_download_url: Option<String>,
    pub stderr_location: Option<String>,
}

/// `[run_id, "compute_logs", file_key]` → `(run_id, file_key)`.
pub fn split_log_key(log_key: &[String]) -> Result<(&str, &str), PythonError> {
    match log_key {
        [run_id, dir, file_key] if dir == COMPUTE_LOGS_DIR => Ok((run_id, file_key)),
        _ => Err(PythonError::new(format!(
            "unknown log key {log_key:?}: expected [<run id>, \"{COMPUTE_LOGS_DIR}\", <file key>]"
        ))),
    }
}

/// Parses `"<stdout offset>:<stderr offset>"`.
pub fn parse_log_cursor(cursor: Option<&str>) -> Result<(u64, u64), PythonError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok((0, 0));
    };
    let bad = || {
        PythonError::new(format!(
            "invalid captured-log cursor {c:?}: expected \"<stdout offset>:<stderr offset>\""
        ))
    };
    let (a, b) = c.split_once(':').ok_or_else(bad)?;
    Ok((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    ))
}

/// `capturedLogs(logKey, cursor, limit)`: up to `limit` bytes of each stream after the cursor.
pub async fn captured_logs(
    ctx: &Ctx,
    log_key: Vec<String>,
    cursor: Option<String>,
    limit: Option<i32>,
) -> Result<CapturedLogs, PythonError> {
    split_log_key(&log_key)?;
    let (out_off, err_off) = parse_log_cursor(cursor.as_deref())?;
    let max = match limit {
        Some(l) if l <= 0 => {
            return Err(PythonError::new(format!(
                "limit must be positive (got {l})"
            )))
        }
        Some(l) => (l as usize).min(MAX_LOG_CHUNK),
        None => MAX_LOG_CHUNK,
    };
    Ok(read_captured(ctx, log_key, (out_off, err_off), max)
        .await?
        .logs)
}

/// One read of a step's captured logs ([`read_captured`]).
pub struct CapturedRead {
    pub logs: CapturedLogs,
    /// Where the next read starts (stdout, stderr byte offsets).
    pub offsets: (u64, u64),
    /// The capture had ended (`.complete` marker) before this read.
    pub complete: bool,
}

/// Reads up to `max` bytes of each stream of the step's captured logs after `offsets`
/// (stdout, stderr), on the blocking pool.
pub async fn read_captured(
    ctx: &Ctx,
    log_key: Vec<String>,
    (out_off, err_off): (u64, u64),
    max: usize,
) -> Result<CapturedRead, PythonError> {
    let (run_id, file_key) = split_log_key(&log_key)?;
    let (run_id, file_key) = (run_id.to_string(), file_key.to_string());
    let st = ctx.state.clone();
    let (out, err) = blocking(move || {
        let m = &st.instance.compute_logs;
        let out = m
            .read(&run_id, &file_key, LogStream::Stdout, out_off, max)
            .map_err(|e| PythonError::from_error(&e))?;
        let err = m
            .read(&run_id, &file_key, LogStream::Stderr, err_off, max)
            .map_err(|e| PythonError::from_error(&e))?;
        Ok((out, err))
    })
    .await?;
    Ok(CapturedRead {
        offsets: (out.next_offset, err.next_offset),
        complete: out.complete && err.complete,
        logs: CapturedLogs {
            cursor: Some(format!("{}:{}", out.next_offset, err.next_offset)),
            stdout: (!out.missing).then_some(out.data),
            stderr: (!err.missing).then_some(err.data),
            log_key,
        },
    })
}

/// `capturedLogsMetadata(logKey)`: download URLs (under the path prefix) and file paths.
pub fn captured_logs_metadata(
    ctx: &Ctx,
    log_key: &[String],
) -> Result<CapturedLogsMetadata, PythonError> {
    let (run_id, file_key) = split_log_key(log_key)?;
    let m = &ctx.state.instance.compute_logs;
    let url = |ext: &str| {
        let parts: Vec<String> = log_key.iter().map(|p| url_component(p)).collect();
        format!("{}/logs/{}/{ext}", ctx.state.path_prefix, parts.join("/"))
    };
    Ok(CapturedLogsMetadata {
        stdout_download_url: Some(url("out")),
        stdout_location: Some(
            m.path(run_id, file_key, LogStream::Stdout)
                .display()
                .to_string(),
        ),
        stderr_download_url: Some(url("err")),
        stderr_location: Some(
            m.path(run_id, file_key, LogStream::Stderr)
                .display()
                .to_string(),
        ),
    })
}

/// Percent-encodes everything but unreserved characters.
fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_cursor_and_key() {
        assert_eq!(parse_log_cursor(Some("12:100")).unwrap(), (12, 100));
        assert_eq!(parse_log_cursor(None).unwrap(), (0, 0));
        assert!(parse_log_cursor(Some("x")).is_err());
        let k = vec!["r".to_string(), "compute_logs".into(), "s".into()];
        assert_eq!(split_log_key(&k).unwrap(), ("r", "s"));
        assert!(split_log_key(&k[..2]).is_err());
        assert_eq!(url_component("a b/c"), "a%20b%2Fc");
    }
}
