//! Captured stdout/stderr of steps ("compute logs").
//!
//! Layout: `<base_dir>/<run_id>/compute_logs/<file_key>.out|.err`, plus an empty
//! `<file_key>.complete` marker once capture has ended. `base_dir` defaults to
//! `$DAGSTER_HOME/logs` (`compute_logs.config.base_dir` in `dagster.yaml`). The file key of a
//! step is its step key; the log key the API uses is `[run_id, "compute_logs", file_key]`
//! (compat doc §3.5).
//!
//! Run ids and file keys may come from API callers: each is turned into a single safe path
//! component first (`/`, `\` and NUL become `_`; empty, `.` and `..` get a `_` prefix; very long
//! names are shortened with a hash), so a path built here never leaves `base_dir`.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Name of the directory level between the run id and the files.
pub const COMPUTE_LOGS_DIR: &str = "compute_logs";

/// Errors of the compute log manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComputeLogError {
    #[error("cannot {action} compute log {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Which captured stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn extension(self) -> &'static str {
        match self {
            LogStream::Stdout => "out",
            LogStream::Stderr => "err",
        }
    }
}

/// A piece of a captured log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The text read (invalid UTF-8 replaced; a multi-byte character cut by `max_bytes` is
    /// left for the next read).
    pub data: String,
    /// Byte offset where the next read should start.
    pub next_offset: u64,
    /// True when the file does not exist (yet).
    pub missing: bool,
    /// True when the capture has ended (the `.complete` marker exists).
    pub complete: bool,
}

/// Where step stdout/stderr files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeLogManager {
    base_dir: PathBuf,
}

impl ComputeLogManager {
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        ComputeLogManager {
            base_dir: base_dir.into(),
        }
    }

    /// The default manager of an instance: `$DAGSTER_HOME/logs`.
    pub fn for_home(home: &Path) -> Self {
        Self::new(home.join("logs"))
    }

    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// The log key the API uses for a step's captured logs.
    pub fn log_key(run_id: &str, file_key: &str) -> Vec<String> {
        vec![
            run_id.to_string(),
            COMPUTE_LOGS_DIR.to_string(),
            file_key.to_string(),
        ]
    }

    /// `<base>/<run_id>/compute_logs`.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.base_dir
            .join(safe_component(run_id))
            .join(COMPUTE_LOGS_DIR)
    }

    /// Path of one stream of a step's captured logs.
    pub fn path(&self, run_id: &str, file_key: &str, stream: LogStream) -> PathBuf {
        self.run_dir(run_id).join(format!(
            "{}.{}",
            safe_component(file_key),
            stream.extension()
        ))
    }

    /// `(stdout, stderr)` paths of a step.
    pub fn paths(&self, run_id: &str, file_key: &str) -> (PathBuf, PathBuf) {
        (
            self.path(run_id, file_key, LogStream::Stdout),
            self.path(run_id, file_key, LogStream::Stderr),
        )
    }

    /// Path of the `.complete` marker.
    pub fn complete_marker(&self, run_id: &str, file_key: &str) -> PathBuf {
        self.run_dir(run_id)
            .join(format!("{}.complete", safe_component(file_key)))
    }

    /// Writes the `.complete` marker (capture of this file key has ended).
    pub fn mark_complete(&self, run_id: &str, file_key: &str) -> Result<(), ComputeLogError> {
        let path = self.complete_marker(run_id, file_key);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| io_err("create the directory of", dir, e))?;
        }
        fs::write(&path, b"").map_err(|e| io_err("write", &path, e))
    }

    pub fn is_complete(&self, run_id: &str, file_key: &str) -> bool {
        self.complete_marker(run_id, file_key).exists()
    }

    /// Reads at most `max_bytes` of a stream starting at byte `offset`. A file that does not
    /// exist yet reads as empty (`missing: true`).
    pub fn read(
        &self,
        run_id: &str,
        file_key: &str,
        stream: LogStream,
        offset: u64,
        max_bytes: usize,
    ) -> Result<LogChunk, ComputeLogError> {
        let path = self.path(run_id, file_key, stream);
        let complete = self.is_complete(run_id, file_key);
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LogChunk {
                    data: String::new(),
                    next_offset: offset,
                    missing: true,
                    complete,
                });
            }
            Err(e) => return Err(io_err("open", &path, e)),
        };
        let len = file.metadata().map_err(|e| io_err("stat", &path, e))?.len();
        if offset >= len || max_bytes == 0 {
            return Ok(LogChunk {
                data: String::new(),
                next_offset: offset.min(len),
                missing: false,
                complete,
            });
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err("seek in", &path, e))?;
        let want = usize::try_from(len - offset)
            .unwrap_or(usize::MAX)
            .min(max_bytes);
        let mut buf = Vec::with_capacity(want);
        file.take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io_err("read", &path, e))?;
        // Do not split a multi-byte character at the end of the chunk (unless it is all we have).
        if let Err(e) = std::str::from_utf8(&buf) {
            if e.error_len().is_none() && e.valid_up_to() > 0 {
                buf.truncate(e.valid_up_to());
            }
        }
        let next_offset = offset + buf.len() as u64;
        Ok(LogChunk {
            data: String::from_utf8_lossy(&buf).into_owned(),
            next_offset,
            missing: false,
            complete,
        })
    }

    /// Removes every captured log of a run. Returns false if there was nothing.
    pub fn delete_run(&self, run_id: &str) -> Result<bool, ComputeLogError> {
        let dir = self.base_dir.join(safe_component(run_id));
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("delete", &dir, e)),
        }
    }
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> ComputeLogError {
    ComputeLogError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// A single path component that cannot escape its directory.
fn safe_component(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() || out == "." || out == ".." {
        out.insert(0, '_');
    }
    if out.len() > 200 {
        // Stay under the usual 255-byte file name limit (room for the extension), and unique.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        value.hash(&mut h);
        let mut cut = 180;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out = format!("{}-{:016x}", &out[..cut], h.finish());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_layout() {
        let m = ComputeLogManager::new("/h/logs");
        let (out, err) = m.paths("r1", "a__b");
        assert_eq!(out, PathBuf::from("/h/logs/r1/compute_logs/a__b.out"));
        assert_eq!(err, PathBuf::from("/h/logs/r1/compute_logs/a__b.err"));
        assert_eq!(
            m.complete_marker("r1", "x"),
            PathBuf::from("/h/logs/r1/compute_logs/x.complete")
        );
        assert_eq!(
            ComputeLogManager::log_key("r1", "x"),
            vec!["r1", "compute_logs", "x"]
        );
    }

    #[test]
    fn paths_never_leave_the_base_dir() {
        let m = ComputeLogManager::new("/h/logs");
        for bad in ["..", "../../etc/passwd", "", "a\\b", ".", "x/../..", "a\0b"] {
            for p in [m.paths("r1", bad).0, m.paths(bad, "k").0, m.run_dir(bad)] {
                assert!(p.starts_with("/h/logs"), "{}", p.display());
                assert!(
                    !p.components().any(|c| c == std::path::Component::ParentDir),
                    "{}",
                    p.display()
                );
            }
        }
        assert_eq!(m.run_dir(".."), PathBuf::from("/h/logs/_../compute_logs"));
        let long = "k".repeat(400);
        let name = m.paths("r", &long).0.file_name().unwrap().len();
        assert!(name < 255, "{name}");
        assert_ne!(m.paths("r", &long).0, m.paths("r", &"k".repeat(401)).0);
    }

    #[test]
    fn read_with_offsets_and_utf8_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let m = ComputeLogManager::new(dir.path());
        let missing = m.read("r", "k", LogStream::Stdout, 0, 10).unwrap();
        assert!(missing.missing && missing.data.is_empty() && !missing.complete);

        let (out, _) = m.paths("r", "k");
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        fs::write(&out, "héllo wörld").unwrap();
        // "h" + 2-byte "é": cutting after 2 bytes would split the é.
        let c = m.read("r", "k", LogStream::Stdout, 0, 2).unwrap();
        assert_eq!(c.data, "h");
        assert_eq!(c.next_offset, 1);
        let c2 = m
            .read("r", "k", LogStream::Stdout, c.next_offset, 100)
            .unwrap();
        assert_eq!(c2.data, "éllo wörld");
        let end = m
            .read("r", "k", LogStream::Stdout, c2.next_offset, 100)
            .unwrap();
        assert_eq!(end.data, "");
        assert_eq!(end.next_offset, c2.next_offset);
        let beyond = m.read("r", "k", LogStream::Stdout, 10_000, 100).unwrap();
        assert_eq!(beyond.data, "");

        assert!(!m.is_complete("r", "k"));
        m.mark_complete("r", "k").unwrap();
        assert!(m.read("r", "k", LogStream::Stderr, 0, 10).unwrap().complete);

        assert!(m.delete_run("r").unwrap());
        assert!(!m.delete_run("r").unwrap());
        assert!(!out.exists());
    }
}
