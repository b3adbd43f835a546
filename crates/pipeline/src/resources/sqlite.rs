//! `type: sqlite`: a SQLite database file.
//!
//! ```yaml
//! resources:
//!   demo_db:
//!     type: sqlite
//!     config:
//!       path: demo/demo.db      # required; relative paths resolve against $DAGSTER_HOME if set,
//!                               # else the current directory (at load time)
//!       busy_timeout_ms: 5000   # how long a statement waits for a lock held by another writer
//! ```
//!
//! Connections come from a small r2d2 pool; each is set up with `busy_timeout`, WAL journal
//! mode and `foreign_keys = ON`. The parent directory of the file is created when the resource
//! is built. Statements passed to
//! [`SqlResource::execute_statements`](dagster_core::defs::SqlResource::execute_statements) run
//! in one `BEGIN IMMEDIATE` transaction; each string may hold several statements (but no
//! `BEGIN`/`COMMIT` of its own). All calls block.

use super::preview;
use dagster_core::config::yaml::Map;
use dagster_core::defs::{Resource, ResourceDef, ResourceType};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default `busy_timeout_ms`.
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;
/// Connections kept per SQLite resource.
pub const POOL_SIZE: u32 = 4;

/// Errors of the SQLite resource; each names the resource and the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteResourceError {
    #[error("sqlite resource `{resource}`: cannot create directory {}: {source}", dir.display())]
    CreateDir {
        resource: String,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("sqlite resource `{resource}`: path {} is not valid UTF-8", path.display())]
    Path { resource: String, path: PathBuf },
    #[error("sqlite resource `{resource}`: cannot open {}: {source}", path.display())]
    Open {
        resource: String,
        path: PathBuf,
        source: diesel::ConnectionError,
    },
    #[error("sqlite resource `{resource}` ({}): no connection available: {source}", path.display())]
    Pool {
        resource: String,
        path: PathBuf,
        source: diesel::r2d2::PoolError,
    },
    #[error("sqlite resource `{resource}` ({}): statement {index} (`{statement}`) failed: {source}", path.display())]
    Statement {
        resource: String,
        path: PathBuf,
        index: usize,
        statement: String,
        source: diesel::result::Error,
    },
    #[error("sqlite resource `{resource}` ({}): {source}", path.display())]
    Query {
        resource: String,
        path: PathBuf,
        source: diesel::result::Error,
    },
    #[error("sqlite resource `{resource}`: invalid config: {message}")]
    Config { resource: String, message: String },
}

/// The `sqlite` resource type.
pub struct SqliteResourceType;

impl ResourceType for SqliteResourceType {
    fn type_name(&self) -> &'static str {
        "sqlite"
    }

    fn secret_keys(&self) -> &'static [&'static str] {
        &[]
    }

    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value> {
        let path_value = config.require("path");
        let busy_value = config.get("busy_timeout_ms");
        let busy = match busy_value {
            Some(v) => match v.as_int() {
                Some(n) if n >= 0 => Some(n.unsigned_abs()),
                Some(n) => {
                    v.error(format!("must be zero or more, found {n}"));
                    None
                }
                None => None,
            },
            None => Some(DEFAULT_BUSY_TIMEOUT_MS),
        };
        let path_value = path_value?;
        let raw = path_value.as_str()?;
        let raw = raw.trim();
        if raw.is_empty() {
            path_value.error("`path` cannot be empty");
            return None;
        }
        if raw == ":memory:" || raw.starts_with("file:") {
            path_value
                .error("give a file path: in-memory databases and `file:` URIs are not supported");
            return None;
        }
        let given = Path::new(raw);
        let resolved = if given.is_absolute() {
            given.to_path_buf()
        } else {
            let home = (config.ctx().env)("DAGSTER_HOME").filter(|h| !h.trim().is_empty());
            let base = match home {
                Some(h) => PathBuf::from(h),
                None => match std::env::current_dir() {
                    Ok(d) => d,
                    Err(e) => {
                        path_value.error(format!(
                            "cannot resolve the relative path: no current directory ({e})"
                        ));
                        return None;
                    }
                },
            };
            let joined = base.join(given);
            std::path::absolute(&joined).unwrap_or(joined)
        };
        let Some(resolved) = resolved.to_str() else {
            path_value.error("the resolved path is not valid UTF-8");
            return None;
        };
        Some(serde_json::json!({"path": resolved, "busy_timeout_ms": busy?}))
    }

    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>> {
        let config_error = |message: &str| SqliteResourceError::Config {
            resource: def.name.clone(),
            message: message.into(),
        };
        let path = def
            .config
            .get("path")
            .and_then(|p| p.as_str())
            .ok_or_else(|| config_error("`path` is missing"))?;
        let busy = def
            .config
            .get("busy_timeout_ms")
            .and_then(|b| b.as_u64())
            .unwrap_or(DEFAULT_BUSY_TIMEOUT_MS);
        Ok(Arc::new(SqliteResource::open(
            &def.name,
            path,
            Duration::from_millis(busy),
        )?))
    }
}

/// Per-connection session setup.
#[derive(Debug, Clone, Copy)]
struct SessionSetup {
    busy_timeout: Duration,
}

impl SessionSetup {
    fn apply(&self, conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
        let ms = self.busy_timeout.as_millis();
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {ms}; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;"
        ))
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A live SQLite resource: a pool of connections to one file.
pub struct SqliteResource {
    name: String,
    path: PathBuf,
    pool: Pool<ConnectionManager<SqliteConnection>>,
}

debug_fields!(SqliteResource { name, path });

#[derive(QueryableByName)]
struct IntValue {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    value: Option<i64>,
}

/// Error inside the statement transaction.
enum TxError {
    Diesel(diesel::result::Error),
    Statement(usize, diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Diesel(e)
    }
}

fn total_changes(conn: &mut SqliteConnection) -> diesel::QueryResult<i64> {
    Ok(diesel::sql_query("SELECT total_changes() AS value")
        .get_result::<IntValue>(conn)?
        .value
        .unwrap_or(0))
}

impl SqliteResource {
    /// Opens (creating if needed) the database file and its directory. `name` is the resource
    /// name used in errors.
    pub fn open(
        name: &str,
        path: impl Into<PathBuf>,
        busy_timeout: Duration,
    ) -> Result<Self, SqliteResourceError> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| SqliteResourceError::CreateDir {
                resource: name.into(),
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let url = path
            .to_str()
            .ok_or_else(|| SqliteResourceError::Path {
                resource: name.into(),
                path: path.clone(),
            })?
            .to_string();
        let setup = SessionSetup { busy_timeout };
        // One direct connection first: it fails fast with the real cause (the pool would retry
        // until its timeout) and switches the file to WAL once.
        let mut first =
            SqliteConnection::establish(&url).map_err(|source| SqliteResourceError::Open {
                resource: name.into(),
                path: path.clone(),
                source,
            })?;
        setup
            .apply(&mut first)
            .map_err(|source| SqliteResourceError::Query {
                resource: name.into(),
                path: path.clone(),
                source,
            })?;
        drop(first);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(30).max(busy_timeout))
            .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
            .connection_customizer(Box::new(setup))
            .build_unchecked(ConnectionManager::new(url));
        Ok(SqliteResource {
            name: name.into(),
            path,
            pool,
        })
    }

    /// The resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a pooled connection (the typed API for code assets).
    pub fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<T>,
    ) -> Result<T, SqliteResourceError> {
        let mut conn = self.conn()?;
        f(&mut conn).map_err(|source| self.query_error(source))
    }

    fn conn(
        &self,
    ) -> Result<
        diesel::r2d2::PooledConnection<ConnectionManager<SqliteConnection>>,
        SqliteResourceError,
    > {
        self.pool.get().map_err(|source| SqliteResourceError::Pool {
            resource: self.name.clone(),
            path: self.path.clone(),
            source,
        })
    }

    fn query_error(&self, source: diesel::result::Error) -> SqliteResourceError {
        SqliteResourceError::Query {
            resource: self.name.clone(),
            path: self.path.clone(),
            source,
        }
    }

    /// Runs the statements in one `BEGIN IMMEDIATE` transaction; returns the rows changed.
    pub fn execute(&self, statements: &[String]) -> Result<u64, SqliteResourceError> {
        let mut conn = self.conn()?;
        let result = conn.immediate_transaction(|conn| -> Result<i64, TxError> {
            let before = total_changes(conn)?;
            for (i, s) in statements.iter().enumerate() {
                conn.batch_execute(s)
                    .map_err(|e| TxError::Statement(i, e))?;
            }
            Ok(total_changes(conn)? - before)
        });
        match result {
            Ok(n) => Ok(n.max(0).unsigned_abs()),
            Err(TxError::Diesel(source)) => Err(self.query_error(source)),
            Err(TxError::Statement(i, source)) => Err(SqliteResourceError::Statement {
                resource: self.name.clone(),
                path: self.path.clone(),
                index: i + 1,
                statement: preview(statements.get(i).map(String::as_str).unwrap_or("")),
                source,
            }),
        }
    }

    /// Runs a query returning one integer (first column of the first row).
    pub fn query_int(&self, sql: &str) -> Result<Option<i64>, SqliteResourceError> {
        let inner = sql.trim().trim_end_matches(';').trim();
        // A scalar subquery gives the value a known column name.
        let wrapped = format!("SELECT ({inner}) AS value");
        self.with_connection(|conn| {
            Ok(diesel::sql_query(wrapped)
                .get_result::<IntValue>(conn)?
                .value)
        })
    }

    /// [`Resource::check`]: opens a connection and reports the SQLite version.
    fn check_connection(&self) -> anyhow::Result<String> {
        #[derive(QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Text)]
            version: String,
        }
        let v = self.with_connection(|c| {
            diesel::sql_query("SELECT sqlite_version() AS version").get_result::<Version>(c)
        })?;
        Ok(format!(
            "sqlite {} (SQLite {})",
            self.path.display(),
            v.version
        ))
    }
}

impl_sql_resource!(SqliteResource);
