//! `type: mysql`: a MySQL or MariaDB database through the `mysql` crate's connection pool.
//!
//! ```yaml
//! resources:
//!   mysql_replica:
//!     type: mysql
//!     config:
//!       host: {env: MYSQL_REPLICA_HOST}         # required
//!       port: 3306
//!       user: {env: MYSQL_REPLICA_USER}         # required
//!       password: {env: MYSQL_REPLICA_PASSWORD} # secret: never logged or shown
//!       database: {env: MYSQL_REPLICA_DATABASE} # required
//!       pool_size: 4
//!       connect_timeout_seconds: 10
//!       read_timeout_seconds: 600
//!       tls: false                              # TLS is not built in yet: `true` is an error
//! ```
//!
//! **Session time zone.** Every pooled connection runs `SET time_zone = '+00:00'` when it is
//! opened (and connections are not reset when returned to the pool), so `TIMESTAMP` values are
//! read in UTC whatever the server's `time_zone`; `DATETIME` values are read as stored.
//!
//! **Blocking.** The `mysql` crate is synchronous: call it from blocking threads only (asset
//! computations run on the executor's blocking threads).
//!
//! Building the resource does not connect: connections are opened on first use (or
//! [`Resource::check`]). Errors name the resource, `host:port` and the cause, never the password.

use super::int_or;
use super::{error_chain, preview};
use dagster_core::config::yaml::Map;
use dagster_core::defs::{Resource, ResourceDef, ResourceType, SqlResource};
use mysql::prelude::Queryable;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 3306;
pub const DEFAULT_POOL_SIZE: u32 = 4;
pub const DEFAULT_CONNECT_TIMEOUT_SECONDS: u64 = 10;
pub const DEFAULT_READ_TIMEOUT_SECONDS: u64 = 600;
/// Statement run on every new connection of the pool.
pub const SESSION_INIT: &str = "SET time_zone = '+00:00'";

/// Errors of the MySQL resource; each names the resource and `host:port`, never the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MysqlResourceError {
    #[error("mysql resource `{resource}`: invalid config: {message}")]
    Config { resource: String, message: String },
    #[error("mysql resource `{resource}` ({addr}): cannot connect: {cause}")]
    Connect {
        resource: String,
        addr: String,
        cause: String,
    },
    #[error(
        "mysql resource `{resource}` ({addr}): statement {index} (`{statement}`) failed: {cause}"
    )]
    Statement {
        resource: String,
        addr: String,
        index: usize,
        statement: String,
        cause: String,
    },
    #[error("mysql resource `{resource}` ({addr}): {cause}")]
    Query {
        resource: String,
        addr: String,
        cause: String,
    },
}

/// The resolved settings of a MySQL resource. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    pub pool_size: u32,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl std::fmt::Debug for MysqlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

impl MysqlSettings {
    /// Settings with the defaults for everything but the connection target.
    pub fn new(host: &str, user: &str, database: &str) -> Self {
        MysqlSettings {
            host: host.into(),
            port: DEFAULT_PORT,
            user: user.into(),
            password: None,
            database: database.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECONDS),
            read_timeout: Duration::from_secs(DEFAULT_READ_TIMEOUT_SECONDS),
        }
    }

    /// `host:port` (IPv6 hosts in brackets).
    pub fn addr(&self) -> String {
        super::host_port(&self.host, self.port)
    }

    /// Reads the JSON config produced by [`MysqlResourceType::read_config`].
    pub fn from_config(
        resource: &str,
        config: &serde_json::Value,
    ) -> Result<Self, MysqlResourceError> {
        let err = |message: String| MysqlResourceError::Config {
            resource: resource.into(),
            message,
        };
        let c = super::ServerConfig::from_json(config).map_err(err)?;
        let mut s = MysqlSettings::new(&c.host, &c.user, &c.database);
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
        if let Some(t) = config.get("read_timeout_seconds").and_then(|v| v.as_u64()) {
            s.read_timeout = Duration::from_secs(t.max(1));
        }
        if config.get("tls").and_then(|v| v.as_bool()) == Some(true) {
            return Err(err("`tls: true` is not supported by this build".into()));
        }
        Ok(s)
    }
}

/// The `mysql` resource type.
pub struct MysqlResourceType;

impl ResourceType for MysqlResourceType {
    fn type_name(&self) -> &'static str {
        "mysql"
    }

    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value> {
        let host = config.req_str("host");
        let user = config.req_str("user");
        let database = config.req_str("database");
        let password = config.str("password");
        let num =
            |key: &str, min: i64, max: i64, default: i64| int_or(config, key, min, max, default);
        let port = num("port", 1, 65_535, i64::from(DEFAULT_PORT));
        let pool_size = num("pool_size", 1, 1_000, i64::from(DEFAULT_POOL_SIZE));
        let connect_timeout = num("connect_timeout_seconds", 1, 3_600, 10);
        let read_timeout = num("read_timeout_seconds", 1, 86_400, 600);
        let tls_ok = match config.get("tls") {
            None => true,
            Some(v) => match v.as_bool() {
                Some(false) => true,
                Some(true) => {
                    v.error("TLS is not supported by this build yet; use `tls: false` (e.g. on a private network or through a tunnel)");
                    false
                }
                None => false,
            },
        };
        if let Some(h) = &host {
            if h.trim().is_empty() {
                config.error("`host` cannot be empty");
                return None;
            }
        }
        if !tls_ok {
            return None;
        }
        let mut out = serde_json::json!({
            "host": host?,
            "port": port?,
            "user": user?,
            "database": database?,
            "pool_size": pool_size?,
            "connect_timeout_seconds": connect_timeout?,
            "read_timeout_seconds": read_timeout?,
            "tls": false,
        });
        if let (Some(p), Some(obj)) = (password, out.as_object_mut()) {
            obj.insert("password".into(), serde_json::Value::String(p));
        }
        Some(out)
    }

    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>> {
        let settings = MysqlSettings::from_config(&def.name, &def.config)?;
        Ok(Arc::new(MysqlResource::new(&def.name, settings)?))
    }
}

/// A live MySQL resource: a lazy pool (no connection until first use). Blocking.
pub struct MysqlResource {
    name: String,
    addr: String,
    database: String,
    connect_timeout: Duration,
    pool: mysql::Pool,
    settings: MysqlSettings,
}

impl std::fmt::Debug for MysqlResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlResource")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("database", &self.database)
            .finish()
    }
}

impl MysqlResource {
    /// Builds the pool without connecting. `name` is the resource name used in errors.
    pub fn new(name: &str, settings: MysqlSettings) -> Result<Self, MysqlResourceError> {
        let max = usize::try_from(settings.pool_size)
            .unwrap_or(usize::MAX)
            .max(1);
        let constraints =
            mysql::PoolConstraints::new(0, max).ok_or_else(|| MysqlResourceError::Config {
                resource: name.into(),
                message: format!("invalid pool_size {max}"),
            })?;
        let pool_opts = mysql::PoolOpts::default()
            .with_constraints(constraints)
            .with_reset_connection(false);
        let opts = mysql::OptsBuilder::new()
            .ip_or_hostname(Some(settings.host.clone()))
            .tcp_port(settings.port)
            .user(Some(settings.user.clone()))
            .pass(settings.password.clone())
            .db_name(Some(settings.database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(settings.connect_timeout))
            .read_timeout(Some(settings.read_timeout))
            .write_timeout(Some(settings.read_timeout))
            .init(vec![SESSION_INIT])
            .pool_opts(pool_opts);
        let addr = settings.addr();
        let kept = settings.clone();
        let pool = mysql::Pool::new(opts).map_err(|e| MysqlResourceError::Connect {
            resource: name.into(),
            addr: addr.clone(),
            cause: error_chain(&e),
        })?;
        Ok(MysqlResource {
            name: name.into(),
            addr,
            database: settings.database,
            connect_timeout: settings.connect_timeout,
            pool,
            settings: kept,
        })
    }

    /// The resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The resolved settings (for connections opened outside the pool, e.g. the table sync's
    /// row reader). Holds the password: never log them (their `Debug` hides it).
    pub(crate) fn settings(&self) -> &MysqlSettings {
        &self.settings
    }

    /// The configured database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// A pooled connection (session time zone UTC). Blocking.
    pub fn connection(&self) -> Result<mysql::PooledConn, MysqlResourceError> {
        self.pool
            .try_get_conn(self.connect_timeout)
            .map_err(|e| MysqlResourceError::Connect {
                resource: self.name.clone(),
                addr: self.addr.clone(),
                cause: error_chain(&e),
            })
    }

    /// An error of this resource with `cause`.
    pub fn query_error(&self, cause: impl std::fmt::Display) -> MysqlResourceError {
        MysqlResourceError::Query {
            resource: self.name.clone(),
            addr: self.addr.clone(),
            cause: cause.to_string(),
        }
    }

    /// Runs the statements in one transaction; returns the rows changed.
    pub fn execute(&self, statements: &[String]) -> Result<u64, MysqlResourceError> {
        let mut conn = self.connection()?;
        let mut tx = conn
            .start_transaction(mysql::TxOpts::default())
            .map_err(|e| self.query_error(error_chain(&e)))?;
        let mut rows = 0u64;
        for (i, s) in statements.iter().enumerate() {
            let result = tx
                .query_iter(s.as_str())
                .map_err(|e| MysqlResourceError::Statement {
                    resource: self.name.clone(),
                    addr: self.addr.clone(),
                    index: i + 1,
                    statement: preview(s),
                    cause: error_chain(&e),
                })?;
            rows = rows.saturating_add(result.affected_rows());
            drop(result);
        }
        tx.commit().map_err(|e| self.query_error(error_chain(&e)))?;
        Ok(rows)
    }

    /// Runs a query whose first column of the first row is an integer; `None` for no row or NULL.
    pub fn query_int(&self, sql: &str) -> Result<Option<i64>, MysqlResourceError> {
        let mut conn = self.connection()?;
        let row: Option<mysql::Row> = conn
            .query_first(sql)
            .map_err(|e| self.query_error(error_chain(&e)))?;
        let Some(row) = row else { return Ok(None) };
        let value = row.as_ref(0).cloned().unwrap_or(mysql::Value::NULL);
        match value {
            mysql::Value::NULL => Ok(None),
            mysql::Value::Int(i) => Ok(Some(i)),
            mysql::Value::UInt(u) => Ok(Some(i64::try_from(u).unwrap_or(i64::MAX))),
            mysql::Value::Bytes(b) => {
                let text = String::from_utf8_lossy(&b);
                let t = text.trim();
                let whole =
                    t.split_once('.').map_or(
                        t,
                        |(w, f)| {
                            if f.chars().all(|c| c == '0') {
                                w
                            } else {
                                t
                            }
                        },
                    );
                whole.parse::<i64>().map(Some).map_err(|_| {
                    self.query_error(format!(
                        "query `{}` returned `{}`, not an integer",
                        preview(sql),
                        preview(t)
                    ))
                })
            }
            other => Err(self.query_error(format!(
                "query `{}` returned {other:?}, not an integer",
                preview(sql)
            ))),
        }
    }
}

impl SqlResource for MysqlResource {
    fn execute_statements(&self, statements: &[String]) -> anyhow::Result<u64> {
        Ok(self.execute(statements)?)
    }
    fn query_i64(&self, sql: &str) -> anyhow::Result<Option<i64>> {
        Ok(self.query_int(sql)?)
    }
}

impl Resource for MysqlResource {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_sql(&self) -> Option<&dyn SqlResource> {
        Some(self)
    }
    fn check(&self) -> anyhow::Result<String> {
        let mut conn = self.connection()?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .map_err(|e| self.query_error(error_chain(&e)))?;
        let tz: Option<String> = conn
            .query_first("SELECT @@session.time_zone")
            .map_err(|e| self.query_error(error_chain(&e)))?;
        Ok(format!(
            "mysql {} database `{}` (server {}, session time zone {})",
            self.addr,
            self.database,
            version.unwrap_or_default(),
            tz.unwrap_or_default()
        ))
    }
}
