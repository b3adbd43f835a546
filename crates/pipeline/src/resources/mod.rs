//! Resource types of the pipeline: what `resources.<name>.type` may name in a pipeline config.
//!
//! | type | module | config keys |
//! |------|--------|-------------|
//! | `sqlite` | [`sqlite`] | `path` (required), `busy_timeout_ms` |
//! | `postgres` | [`postgres`] | `host`, `user`, `database` (required), `port`, `password`, `pool_size`, `connect_timeout_seconds`, `sslmode`, `application_name` |
//! | `mysql` | [`mysql`] | `host`, `user`, `database` (required), `port`, `password`, `pool_size`, `connect_timeout_seconds`, `read_timeout_seconds`, `tls` (false, true or a map: `enabled`, `ca_file`, `skip_domain_validation`, `accept_invalid_certs`, `client_cert`, `client_key`) |
//! | `clickhouse` | [`clickhouse`] | `url`, `database` (required), `user`, `password`, `validation`, `compression` (none, lz4), `timeout_seconds` |
//!
//! All run SQL for the `sql` asset kind ([`Resource::as_sql`](dagster_core::defs::Resource::as_sql))
//! and can be used typed from code assets with
//! [`StepContext::typed_resource`](dagster_core::defs::StepContext::typed_resource).
//! Their calls block: they run on the executor's blocking threads, never on an async worker.

/// `Debug` showing only the fields named (not pools or clients), each through the function
/// given after it if any (`password: hidden`).
macro_rules! debug_fields {
    ($ty:ident { $($field:ident $(: $show:path)?),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &($($show)?(&self.$field))))*
                    .finish()
            }
        }
    };
}

/// The errors of a database-server resource (`$kind`: `mysql`, `postgres`); each names the
/// resource and `host:port`, never the password.
macro_rules! server_resource_error {
    ($(#[$attr:meta])* pub enum $name:ident: $kind:literal) => {
        $(#[$attr])*
        #[derive(Debug, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            #[error("{kind} resource `{resource}`: invalid config: {message}", kind = $kind)]
            Config { resource: String, message: String },
            #[error("{kind} resource `{resource}` ({addr}): cannot connect: {cause}", kind = $kind)]
            Connect {
                resource: String,
                addr: String,
                cause: String,
            },
            #[error(
                "{kind} resource `{resource}` ({addr}): statement {index} (`{statement}`) failed: {cause}",
                kind = $kind
            )]
            Statement {
                resource: String,
                addr: String,
                index: usize,
                statement: String,
                cause: String,
            },
            #[error("{kind} resource `{resource}` ({addr}): {cause}", kind = $kind)]
            Query {
                resource: String,
                addr: String,
                cause: String,
            },
        }
    };
}

/// The resolved settings of a database-server resource: the connection target, the password
/// (hidden from `Debug`), the pool size and connect timeout, then the fields given with their
/// defaults. With `new` (the defaults but for the target), `addr` and `from_server`.
macro_rules! server_settings {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$fattr:meta])* pub $field:ident: $ty:ty = $default:expr,)*
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name {
            pub host: String,
            pub port: u16,
            pub user: String,
            pub password: Option<String>,
            pub database: String,
            pub pool_size: u32,
            pub connect_timeout: Duration,
            $($(#[$fattr])* pub $field: $ty,)*
        }

        debug_fields!($name {
            host,
            port,
            user,
            password: super::hidden,
            database,
            pool_size,
            connect_timeout,
            $($field,)*
        });

        impl $name {
            /// Settings with the defaults for everything but the connection target.
            pub fn new(host: &str, user: &str, database: &str) -> Self {
                $name {
                    host: host.into(),
                    port: DEFAULT_PORT,
                    user: user.into(),
                    password: None,
                    database: database.into(),
                    pool_size: DEFAULT_POOL_SIZE,
                    connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECONDS),
                    $($field: $default,)*
                }
            }

            /// `host:port` (IPv6 hosts in brackets).
            pub fn addr(&self) -> String {
                super::host_port(&self.host, self.port)
            }

            /// The defaults overlaid with the shared settings of the resolved config.
            fn from_server(c: super::ServerConfig) -> Self {
                let mut s = $name::new(&c.host, &c.user, &c.database);
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
                s
            }
        }
    };
}

/// `Resource` for a resource that runs SQL: itself as its SQL interface, and `check` by its
/// own `check_connection`.
macro_rules! impl_resource {
    ($ty:ident) => {
        impl dagster_core::defs::Resource for $ty {
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
            fn as_sql(&self) -> Option<&dyn dagster_core::defs::SqlResource> {
                Some(self)
            }
            fn check(&self) -> anyhow::Result<String> {
                self.check_connection()
            }
        }
    };
}

/// [`impl_resource!`], and `SqlResource` by the resource's own `execute` (the statements in one
/// transaction) and `query_int`.
macro_rules! impl_sql_resource {
    ($ty:ident) => {
        impl_resource!($ty);

        impl dagster_core::defs::SqlResource for $ty {
            fn execute_statements(&self, statements: &[String]) -> anyhow::Result<u64> {
                Ok(self.execute(statements)?)
            }
            fn query_i64(&self, sql: &str) -> anyhow::Result<Option<i64>> {
                Ok(self.query_int(sql)?)
            }
        }
    };
}

pub mod clickhouse;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

pub use self::clickhouse::{
    ClickhouseResource, ClickhouseResourceError, ClickhouseResourceType, ClickhouseSettings,
};
pub use self::mysql::{
    MysqlResource, MysqlResourceError, MysqlResourceType, MysqlSettings, MysqlTls,
};

pub use self::postgres::{
    PostgresResource, PostgresResourceError, PostgresResourceType, PostgresSettings,
};
pub use self::sqlite::{SqliteResource, SqliteResourceError, SqliteResourceType};

/// An error and all its causes on one line (`a: b: c`): drivers often keep the useful part
/// (e.g. "Connection refused") in the source chain, not in the top-level message.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

/// A short one-line preview of an SQL statement for error messages.
pub(crate) fn preview(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        let head: String = one_line.chars().take(77).collect();
        format!("{head}...")
    } else {
        one_line
    }
}

/// A password as `Debug` shows it: `Some("***")` when set.
pub(crate) fn hidden(password: &Option<String>) -> Option<&'static str> {
    password.as_ref().map(|_| "***")
}

/// `host:port`, with IPv6 hosts in brackets.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An integer config value within `[min, max]` (an error at the value otherwise).
pub(crate) fn int_in(v: &dagster_core::config::yaml::Value<'_>, min: i64, max: i64) -> Option<i64> {
    let n = v.as_int()?;
    if n < min || n > max {
        v.error(format!("must be between {min} and {max}, found {n}"));
        return None;
    }
    Some(n)
}

/// The integer at `key` within `[min, max]`, or `default` when the key is absent.
pub(crate) fn int_or(
    config: &dagster_core::config::yaml::Map<'_>,
    key: &str,
    min: i64,
    max: i64,
    default: i64,
) -> Option<i64> {
    match config.get(key) {
        Some(v) => int_in(&v, min, max),
        None => Some(default),
    }
}

/// The keys every database-server resource reads from its `config:` (problems are recorded on
/// `config`): the connection target, the password, the port, the pool size and the connect
/// timeout.
pub(crate) struct ServerKeys {
    host: Option<String>,
    user: Option<String>,
    database: Option<String>,
    password: Option<String>,
    port: Option<i64>,
    pool_size: Option<i64>,
    connect_timeout: Option<i64>,
}

impl ServerKeys {
    /// Reads the keys (in this order), with the resource type's defaults.
    pub fn read(
        config: &dagster_core::config::yaml::Map<'_>,
        default_port: u16,
        default_pool_size: u32,
        default_connect_timeout_seconds: u64,
    ) -> Self {
        ServerKeys {
            host: config.req_str("host"),
            user: config.req_str("user"),
            database: config.req_str("database"),
            password: config.str("password"),
            port: int_or(config, "port", 1, 65_535, i64::from(default_port)),
            pool_size: int_or(config, "pool_size", 1, 1_000, i64::from(default_pool_size)),
            connect_timeout: i64::try_from(default_connect_timeout_seconds)
                .ok()
                .and_then(|d| int_or(config, "connect_timeout_seconds", 1, 3_600, d)),
        }
    }

    /// `None` after recording an error when `host` is given but empty.
    pub fn check_host(&self, config: &dagster_core::config::yaml::Map<'_>) -> Option<()> {
        if let Some(h) = &self.host {
            if h.trim().is_empty() {
                config.error("`host` cannot be empty");
                return None;
            }
        }
        Some(())
    }

    /// The resolved JSON config: these keys, the keys of `extra` (an object) and the password
    /// when given; `None` when a key was missing or invalid.
    pub fn into_json(self, extra: serde_json::Value) -> Option<serde_json::Value> {
        let mut out = serde_json::json!({
            "host": self.host?,
            "port": self.port?,
            "user": self.user?,
            "database": self.database?,
            "pool_size": self.pool_size?,
            "connect_timeout_seconds": self.connect_timeout?,
        });
        if let (Some(obj), serde_json::Value::Object(extra)) = (out.as_object_mut(), extra) {
            obj.extend(extra);
        }
        if let (Some(p), Some(obj)) = (self.password, out.as_object_mut()) {
            obj.insert("password".into(), serde_json::Value::String(p));
        }
        Some(out)
    }
}

/// The settings every database-server resource shares, read back from the resolved JSON config
/// that its `read_config` produced.
pub(crate) struct ServerConfig {
    pub host: String,
    pub user: String,
    pub database: String,
    pub password: Option<String>,
    pub port: Option<u16>,
    pub pool_size: Option<u32>,
    pub connect_timeout: Option<std::time::Duration>,
}

impl ServerConfig {
    pub fn from_json(config: &serde_json::Value) -> Result<Self, String> {
        let text = |key: &str| config.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let required = |key: &str| text(key).ok_or_else(|| format!("`{key}` is missing"));
        let port = match config.get("port").and_then(|v| v.as_u64()) {
            Some(p) => Some(u16::try_from(p).map_err(|_| format!("port {p} is out of range"))?),
            None => None,
        };
        Ok(ServerConfig {
            host: required("host")?,
            user: required("user")?,
            database: required("database")?,
            password: text("password"),
            port,
            pool_size: config
                .get("pool_size")
                .and_then(|v| v.as_u64())
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX).max(1)),
            connect_timeout: config
                .get("connect_timeout_seconds")
                .and_then(|v| v.as_u64())
                .map(|t| std::time::Duration::from_secs(t.max(1))),
        })
    }
}
