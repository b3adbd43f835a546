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
