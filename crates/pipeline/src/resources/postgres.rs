//! `type: postgres`: a PostgreSQL database through a pool of synchronous connections.
//!
//! ```yaml
//! resources:
//!   reporting_pg:
//!     type: postgres
//!     config:
//!       host: {env: REPORTING_PG_HOST}         # required
//!       port: 5432
//!       user: {env: REPORTING_PG_USER}         # required
//!       password: {env: REPORTING_PG_PASSWORD} # secret: never logged or shown
//!       database: {env: REPORTING_PG_DATABASE} # required
//!       pool_size: 4
//!       connect_timeout_seconds: 10
//!       sslmode: disable                       # prefer/require need TLS, which is not built in
//!       application_name: dagster
//! ```
//!
//! **Blocking.** The resource uses the synchronous `postgres` crate (with `r2d2_postgres`),
//! which drives its own runtime: call it only from blocking threads (asset computations run on
//! the executor's blocking threads; async code must go through `spawn_blocking`). Calling it on
//! a tokio worker thread panics.
//!
//! Connections are made lazily; a connection failure surfaces on first use (or [`Resource::check`])
//! after `connect_timeout_seconds`. Errors name the resource, `host:port` and the cause, never
//! the password. Statements passed to [`SqlResource::execute_statements`] run in one
//! transaction, each string through the simple query protocol (so it may hold several
//! statements).

use super::int_or;
use super::{error_chain, preview};
use dagster_core::config::yaml::Map;
use dagster_core::defs::{Resource, ResourceDef, ResourceType, SqlResource};
use postgres::{NoTls, SimpleQueryMessage};
use r2d2_postgres::PostgresConnectionManager;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_POOL_SIZE: u32 = 4;
pub const DEFAULT_CONNECT_TIMEOUT_SECONDS: u64 = 10;
pub const DEFAULT_APPLICATION_NAME: &str = "dagster";

/// Errors of the Postgres resource; each names the resource and `host:port`, never the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresResourceError {
    #[error("postgres resource `{resource}`: invalid config: {message}")]
    Config { resource: String, message: String },
    #[error("postgres resource `{resource}` ({addr}): cannot connect: {cause}")]
    Connect {
        resource: String,
        addr: String,
        cause: String,
    },
    #[error("postgres resource `{resource}` ({addr}): statement {index} (`{statement}`) failed: {cause}")]
    Statement {
        resource: String,
        addr: String,
        index: usize,
        statement: String,
        cause: String,
    },
    #[error("postgres resource `{resource}` ({addr}): {cause}")]
    Query {
        resource: String,
        addr: String,
        cause: String,
    },
}

/// The resolved settings of a Postgres resource. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    pub pool_size: u32,
    pub connect_timeout: Duration,
    pub application_name: String,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

impl PostgresSettings {
    /// Settings with the defaults for everything but the connection target.
    pub fn new(host: &str, user: &str, database: &str) -> Self {
        PostgresSettings {
            host: host.into(),
            port: DEFAULT_PORT,
            user: user.into(),
            password: None,
            database: database.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECONDS),
            application_name: DEFAULT_APPLICATION_NAME.into(),
        }
    }

    /// `host:port` (IPv6 hosts in brackets).
    pub fn addr(&self) -> String {
        super::host_port(&self.host, self.port)
    }

    /// Reads the JSON config produced by [`PostgresResourceType::read_config`].
    pub fn from_config(
        resource: &str,
        config: &serde_json::Value,
    ) -> Result<Self, PostgresResourceError> {
        let err = |message: String| PostgresResourceError::Config {
            resource: resource.into(),
            message,
        };
        let c = super::ServerConfig::from_json(config).map_err(err)?;
        let mut s = PostgresSettings::new(&c.host, &c.user, &c.database);
        s.password = c.password;
        if let Some(p) = c.port {
            s.port = p;
        }
        if let Some(n) = c.pool_size {
            s.pool_size = n;
        }
        if let Some(t) = c.connect_timeout {
            s.connect_timeout = t;
        }
        if let Some(a) = config.get("application_name").and_then(|v| v.as_str()) {
            s.application_name = a.into();
        }
        Ok(s)
    }
}

/// The `postgres` resource type.
pub struct PostgresResourceType;

impl ResourceType for PostgresResourceType {
    fn type_name(&self) -> &'static str {
        "postgres"
    }

    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value> {
        let host = config.req_str("host");
        let user = config.req_str("user");
        let database = config.req_str("database");
        let password = config.str("password");
        let port = int_or(config, "port", 1, 65_535, i64::from(DEFAULT_PORT));
        let pool_size = int_or(config, "pool_size", 1, 1_000, i64::from(DEFAULT_POOL_SIZE));
        let connect_timeout = i64::try_from(DEFAULT_CONNECT_TIMEOUT_SECONDS)
            .ok()
            .and_then(|d| int_or(config, "connect_timeout_seconds", 1, 3_600, d));
        let sslmode_ok = match config.get("sslmode") {
            None => true,
            Some(v) => match v.as_str() {
                Some(m) if m == "disable" => true,
                Some(m) if m == "prefer" || m == "require" => {
                    v.error(format!(
                        "sslmode `{m}` needs TLS, which this build does not support; use `disable` (e.g. on a private network)"
                    ));
                    false
                }
                Some(m) => {
                    v.error(format!(
                        "unknown sslmode `{m}` (expected disable, prefer or require)"
                    ));
                    false
                }
                None => false,
            },
        };
        let application_name = config
            .str("application_name")
            .unwrap_or_else(|| DEFAULT_APPLICATION_NAME.into());
        if let Some(h) = &host {
            if h.trim().is_empty() {
                config.error("`host` cannot be empty");
                return None;
            }
        }
        if !sslmode_ok {
            return None;
        }
        let mut out = serde_json::json!({
            "host": host?,
            "port": port?,
            "user": user?,
            "database": database?,
            "pool_size": pool_size?,
            "connect_timeout_seconds": connect_timeout?,
            "sslmode": "disable",
            "application_name": application_name,
        });
        if let (Some(p), Some(obj)) = (password, out.as_object_mut()) {
            obj.insert("password".into(), serde_json::Value::String(p));
        }
        Some(out)
    }

    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>> {
        let settings = PostgresSettings::from_config(&def.name, &def.config)?;
        Ok(Arc::new(PostgresResource::new(&def.name, settings)))
    }
}

/// Connection error carrying the driver's full cause chain (the `postgres` error's own message
/// is only "error connecting to server"; r2d2 keeps just the message).
#[derive(Debug)]
pub struct ConnectError(String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

/// `r2d2_postgres`'s connection manager with errors that keep their cause.
pub struct Manager(PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = postgres::Client;
    type Error = ConnectError;

    fn connect(&self) -> Result<postgres::Client, ConnectError> {
        self.0.connect().map_err(|e| ConnectError(error_chain(&e)))
    }
    fn is_valid(&self, conn: &mut postgres::Client) -> Result<(), ConnectError> {
        self.0
            .is_valid(conn)
            .map_err(|e| ConnectError(error_chain(&e)))
    }
    fn has_broken(&self, conn: &mut postgres::Client) -> bool {
        self.0.has_broken(conn)
    }
}

/// A live Postgres resource: a lazy r2d2 pool. Use only from blocking threads (see module doc).
pub struct PostgresResource {
    name: String,
    addr: String,
    pool: r2d2::Pool<Manager>,
}

impl std::fmt::Debug for PostgresResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresResource")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish()
    }
}

impl PostgresResource {
    /// Builds the pool without connecting. `name` is the resource name used in errors.
    pub fn new(name: &str, settings: PostgresSettings) -> Self {
        let mut config = postgres::Config::new();
        config
            .host(&settings.host)
            .port(settings.port)
            .user(&settings.user)
            .dbname(&settings.database)
            .application_name(&settings.application_name)
            .connect_timeout(settings.connect_timeout)
            .ssl_mode(postgres::config::SslMode::Disable);
        if let Some(p) = &settings.password {
            config.password(p);
        }
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(0))
            .connection_timeout(settings.connect_timeout)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager(PostgresConnectionManager::new(config, NoTls)));
        PostgresResource {
            name: name.into(),
            addr: settings.addr(),
            pool,
        }
    }

    /// The resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A pooled connection (the typed API for code assets). Blocking.
    pub fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, PostgresResourceError> {
        self.pool.get().map_err(|e| PostgresResourceError::Connect {
            resource: self.name.clone(),
            addr: self.addr.clone(),
            cause: e.to_string(),
        })
    }

    fn query_error(&self, e: &postgres::Error) -> PostgresResourceError {
        PostgresResourceError::Query {
            resource: self.name.clone(),
            addr: self.addr.clone(),
            cause: error_chain(e),
        }
    }

    /// Runs the statements in one transaction; returns the rows changed (statements that return
    /// rows, such as `SELECT`, do not count).
    pub fn execute(&self, statements: &[String]) -> Result<u64, PostgresResourceError> {
        let mut conn = self.connection()?;
        let mut tx = conn.transaction().map_err(|e| self.query_error(&e))?;
        let mut rows = 0u64;
        for (i, s) in statements.iter().enumerate() {
            let messages = tx
                .simple_query(s)
                .map_err(|e| PostgresResourceError::Statement {
                    resource: self.name.clone(),
                    addr: self.addr.clone(),
                    index: i + 1,
                    statement: preview(s),
                    cause: error_chain(&e),
                })?;
            let mut returned_rows = false;
            for m in messages {
                match m {
                    SimpleQueryMessage::RowDescription(_) | SimpleQueryMessage::Row(_) => {
                        returned_rows = true
                    }
                    SimpleQueryMessage::CommandComplete(n) => {
                        if !returned_rows {
                            rows = rows.saturating_add(n);
                        }
                        returned_rows = false;
                    }
                    _ => {}
                }
            }
        }
        tx.commit().map_err(|e| self.query_error(&e))?;
        Ok(rows)
    }

    /// Runs a query whose first column of the first row is an integer (any integer or
    /// integral numeric type); `None` for no row or NULL.
    pub fn query_int(&self, sql: &str) -> Result<Option<i64>, PostgresResourceError> {
        let mut conn = self.connection()?;
        let messages = conn.simple_query(sql).map_err(|e| self.query_error(&e))?;
        let Some(row) = messages.into_iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        }) else {
            return Ok(None);
        };
        let text = row.try_get(0).map_err(|e| self.query_error(&e))?;
        let Some(text) = text else { return Ok(None) };
        let parsed = text.parse::<i64>().ok().or_else(|| {
            // numeric results such as sum(bigint) come as "123" or "123.000"
            text.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        });
        parsed
            .map(Some)
            .ok_or_else(|| PostgresResourceError::Query {
                resource: self.name.clone(),
                addr: self.addr.clone(),
                cause: format!(
                    "query `{}` returned `{}`, not an integer",
                    preview(sql),
                    preview(text)
                ),
            })
    }
}

impl SqlResource for PostgresResource {
    fn execute_statements(&self, statements: &[String]) -> anyhow::Result<u64> {
        Ok(self.execute(statements)?)
    }
    fn query_i64(&self, sql: &str) -> anyhow::Result<Option<i64>> {
        Ok(self.query_int(sql)?)
    }
}

impl Resource for PostgresResource {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_sql(&self) -> Option<&dyn SqlResource> {
        Some(self)
    }
    fn check(&self) -> anyhow::Result<String> {
        let mut conn = self.connection()?;
        let row = conn
            .query_one("SHOW server_version", &[])
            .map_err(|e| self.query_error(&e))?;
        let version: String = row.try_get(0).map_err(|e| self.query_error(&e))?;
        Ok(format!("postgres {} (server {version})", self.addr))
    }
}
