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
//! the password. Statements passed to
//! [`SqlResource::execute_statements`](dagster_core::defs::SqlResource::execute_statements) run
//! in one transaction, each string through the simple query protocol (so it may hold several
//! statements).

use super::ServerKeys;
use super::{error_chain, preview};
use dagster_core::config::yaml::Map;
use dagster_core::defs::{Resource, ResourceDef, ResourceType};
use postgres::{NoTls, SimpleQueryMessage};
use r2d2_postgres::PostgresConnectionManager;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_POOL_SIZE: u32 = 4;
pub const DEFAULT_CONNECT_TIMEOUT_SECONDS: u64 = 10;
pub const DEFAULT_APPLICATION_NAME: &str = "dagster";

server_resource_error! {
    /// Errors of the Postgres resource; each names the resource and `host:port`, never the
    /// password.
    pub enum PostgresResourceError: "postgres"
}

server_settings! {
    /// The resolved settings of a Postgres resource. `Debug` hides the password.
    pub struct PostgresSettings {
        pub application_name: String = DEFAULT_APPLICATION_NAME.into(),
    }
}

impl PostgresSettings {
    /// Reads the JSON config produced by [`PostgresResourceType::read_config`].
    pub fn from_config(
        resource: &str,
        config: &serde_json::Value,
    ) -> Result<Self, PostgresResourceError> {
        let err = |message: String| PostgresResourceError::Config {
            resource: resource.into(),
            message,
        };
        let mut s = Self::from_server(super::ServerConfig::from_json(config).map_err(err)?);
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
        let keys = ServerKeys::read(
            config,
            DEFAULT_PORT,
            DEFAULT_POOL_SIZE,
            DEFAULT_CONNECT_TIMEOUT_SECONDS,
        );
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
        keys.check_host(config)?;
        if !sslmode_ok {
            return None;
        }
        keys.into_json(serde_json::json!({
            "sslmode": "disable",
            "application_name": application_name,
        }))
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

debug_fields!(PostgresResource { name, addr });

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

    /// [`Resource::check`]: connects and reports the server version.
    fn check_connection(&self) -> anyhow::Result<String> {
        let mut conn = self.connection()?;
        let row = conn
            .query_one("SHOW server_version", &[])
            .map_err(|e| self.query_error(&e))?;
        let version: String = row.try_get(0).map_err(|e| self.query_error(&e))?;
        Ok(format!("postgres {} (server {version})", self.addr))
    }
}

impl_sql_resource!(PostgresResource);
