//! `type: clickhouse`: a ClickHouse server over HTTP through the official `clickhouse` crate.
//!
//! ```yaml
//! resources:
//!   reporting:
//!     type: clickhouse
//!     config:
//!       url: http://127.0.0.1:8123              # required (http only)
//!       user: default
//!       password: {env: CLICKHOUSE_PASSWORD}    # secret: never logged or shown
//!       database: reporting                     # required
//!       validation: false                       # must be false for 18.x servers
//!       compression: lz4                        # none | lz4
//!       timeout_seconds: 600
//! ```
//!
//! `validation: true` (the default) lets the crate check typed rows against the schema with
//! `RowBinaryWithNamesAndTypes`, which ClickHouse 18.x does not know: set it to `false` there.
//! The table sync writes its own Native blocks and reads metadata as TabSeparated, so it
//! works either way.
//!
//! **Blocking API.** The crate is async; the resource owns a small current-thread tokio runtime
//! and every method blocks on it. Call it from blocking threads (asset computations run on
//! their own threads), never from a tokio worker thread. Building the resource does not connect.
//! Errors name the resource, `host:port` and the cause, never the password.

use super::int_or;
use dagster_core::config::yaml::Map;
use dagster_core::defs::{Resource, ResourceDef, ResourceType, SqlResource};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

/// Errors of the ClickHouse resource; each names the resource and `host:port`, never the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClickhouseResourceError {
    #[error("clickhouse resource `{resource}`: invalid config: {message}")]
    Config { resource: String, message: String },
    #[error("clickhouse resource `{resource}` ({addr}): cannot connect: {cause}")]
    Connect {
        resource: String,
        addr: String,
        cause: String,
    },
    #[error("clickhouse resource `{resource}` ({addr}): `{statement}` failed: {cause}")]
    Query {
        resource: String,
        addr: String,
        statement: String,
        cause: String,
    },
    #[error("clickhouse resource `{resource}` ({addr}): {cause}")]
    Other {
        resource: String,
        addr: String,
        cause: String,
    },
}

/// Compression of data sent to and received from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChCompression {
    None,
    Lz4,
}

/// The resolved settings. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ClickhouseSettings {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
    pub validation: bool,
    pub compression: ChCompression,
    pub timeout: Duration,
}

debug_fields!(ClickhouseSettings {
    url,
    user,
    password: super::hidden,
    database,
    validation,
    compression,
    timeout,
});

/// `host:port` of an `http://host[:port][/...]` URL (port 8123 when absent).
pub fn url_addr(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.is_empty() {
        return None;
    }
    let has_port = if let Some(end) = authority.rfind(']') {
        authority[end..].contains(':')
    } else {
        authority.contains(':')
    };
    Some(if has_port {
        authority.to_string()
    } else {
        format!("{authority}:8123")
    })
}

impl ClickhouseSettings {
    pub fn new(url: &str, database: &str) -> Self {
        ClickhouseSettings {
            url: url.into(),
            user: None,
            password: None,
            database: database.into(),
            validation: true,
            compression: ChCompression::Lz4,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
        }
    }

    /// `host:port` of the URL.
    pub fn addr(&self) -> String {
        url_addr(&self.url).unwrap_or_else(|| self.url.clone())
    }

    /// Reads the JSON config produced by [`ClickhouseResourceType::read_config`].
    pub fn from_config(
        resource: &str,
        config: &serde_json::Value,
    ) -> Result<Self, ClickhouseResourceError> {
        let err = |message: String| ClickhouseResourceError::Config {
            resource: resource.into(),
            message,
        };
        let text = |key: &str| config.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let url = text("url").ok_or_else(|| err("`url` is missing".into()))?;
        let database = text("database").ok_or_else(|| err("`database` is missing".into()))?;
        let mut s = ClickhouseSettings::new(&url, &database);
        s.user = text("user");
        s.password = text("password");
        if let Some(v) = config.get("validation").and_then(|v| v.as_bool()) {
            s.validation = v;
        }
        s.compression = match text("compression").as_deref() {
            None | Some("lz4") => ChCompression::Lz4,
            Some("none") => ChCompression::None,
            Some(other) => return Err(err(format!("unknown compression `{other}`"))),
        };
        if let Some(t) = config.get("timeout_seconds").and_then(|v| v.as_u64()) {
            s.timeout = Duration::from_secs(t.max(1));
        }
        Ok(s)
    }
}

/// The `clickhouse` resource type.
pub struct ClickhouseResourceType;

impl ResourceType for ClickhouseResourceType {
    fn type_name(&self) -> &'static str {
        "clickhouse"
    }

    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value> {
        let url = config.req_str("url");
        let database = config.req_str("database");
        let user = config.str("user");
        let password = config.str("password");
        let validation = match config.get("validation") {
            Some(v) => v.as_bool(),
            None => Some(true),
        };
        let compression = match config.get("compression") {
            None => Some("lz4".to_string()),
            Some(v) => match v.as_str() {
                Some(c) if c == "lz4" || c == "none" => Some(c),
                Some(c) => {
                    v.error(format!("unknown compression `{c}` (expected none or lz4)"));
                    None
                }
                None => None,
            },
        };
        let timeout = i64::try_from(DEFAULT_TIMEOUT_SECONDS)
            .ok()
            .and_then(|d| int_or(config, "timeout_seconds", 1, 86_400, d));
        let url_ok = match (&url, config.get("url")) {
            (Some(u), Some(v)) => {
                if u.starts_with("https://") {
                    v.error("https is not supported by this build yet; use an http:// URL");
                    false
                } else if url_addr(u).is_none() || !u.starts_with("http://") {
                    v.error(format!(
                        "expected an http://host:port URL, found `{}`",
                        super::preview(u)
                    ));
                    false
                } else {
                    true
                }
            }
            _ => false,
        };
        if !url_ok {
            return None;
        }
        let mut out = serde_json::json!({
            "url": url?,
            "database": database?,
            "validation": validation?,
            "compression": compression?,
            "timeout_seconds": timeout?,
        });
        if let Some(obj) = out.as_object_mut() {
            if let Some(u) = user {
                obj.insert("user".into(), serde_json::Value::String(u));
            }
            if let Some(p) = password {
                obj.insert("password".into(), serde_json::Value::String(p));
            }
        }
        Some(out)
    }

    fn build(&self, def: &ResourceDef) -> anyhow::Result<Arc<dyn Resource>> {
        let settings = ClickhouseSettings::from_config(&def.name, &def.config)?;
        Ok(Arc::new(ClickhouseResource::new(&def.name, settings)?))
    }
}

/// A live ClickHouse resource: an HTTP client (lazy) and a current-thread runtime to drive it.
pub struct ClickhouseResource {
    name: String,
    addr: String,
    database: String,
    timeout: Duration,
    client: clickhouse::Client,
    /// The same client without a default database (to create it).
    server_client: clickhouse::Client,
    /// Always `Some` until dropped (taken by `Drop` to shut it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
    version: std::sync::OnceLock<String>,
}

impl Drop for ClickhouseResource {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks stop, which panics when the resource is
        // dropped inside an async context (the CLI drops resources there): stop it without
        // waiting instead.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

debug_fields!(ClickhouseResource {
    name,
    addr,
    database
});

/// True if the error means the server could not be reached at all.
fn is_connect_error(e: &clickhouse::error::Error) -> bool {
    matches!(e, clickhouse::error::Error::Network(_))
}

impl ClickhouseResource {
    /// Builds the client without connecting.
    pub fn new(name: &str, settings: ClickhouseSettings) -> Result<Self, ClickhouseResourceError> {
        let addr = settings.addr();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClickhouseResourceError::Other {
                resource: name.into(),
                addr: addr.clone(),
                cause: format!("cannot start the client runtime: {e}"),
            })?;
        let mut client = clickhouse::Client::default()
            .with_url(settings.url.clone())
            .with_validation(settings.validation)
            .with_compression(match settings.compression {
                ChCompression::None => clickhouse::Compression::None,
                ChCompression::Lz4 => clickhouse::Compression::Lz4,
            });
        match (&settings.user, &settings.password) {
            (Some(u), _) => client = client.with_user(u.clone()),
            // A password alone is the `default` user's.
            (None, Some(_)) => client = client.with_user("default"),
            (None, None) => {}
        }
        if let Some(p) = &settings.password {
            client = client.with_password(p.clone());
        }
        let server_client = client.clone();
        let client = client.with_database(settings.database.clone());
        Ok(ClickhouseResource {
            name: name.into(),
            addr,
            database: settings.database,
            timeout: settings.timeout,
            client,
            server_client,
            runtime: Some(runtime),
            version: std::sync::OnceLock::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn addr(&self) -> &str {
        &self.addr
    }
    pub fn database(&self) -> &str {
        &self.database
    }
    /// The crate's client (async; drive it with [`ClickhouseResource::block_on`]).
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// Runs a future on the resource's runtime with the resource timeout. Blocking: never call
    /// from an async context.
    pub fn block_on<T>(
        &self,
        what: &str,
        fut: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, ClickhouseResourceError> {
        let timeout = self.timeout;
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(ClickhouseResourceError::Other {
                resource: self.name.clone(),
                addr: self.addr.clone(),
                cause: "the client runtime has been shut down".into(),
            });
        };
        let out = runtime.block_on(async move { tokio::time::timeout(timeout, fut).await });
        match out {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(what, &e)),
            Err(_) => Err(ClickhouseResourceError::Query {
                resource: self.name.clone(),
                addr: self.addr.clone(),
                statement: super::preview(what),
                cause: format!("timed out after {} s", timeout.as_secs()),
            }),
        }
    }

    /// Maps a client error: unreachable server → `Connect`, anything else → `Query`.
    pub fn error(&self, what: &str, e: &clickhouse::error::Error) -> ClickhouseResourceError {
        let cause = super::error_chain(e).trim().to_string();
        if is_connect_error(e) {
            ClickhouseResourceError::Connect {
                resource: self.name.clone(),
                addr: self.addr.clone(),
                cause,
            }
        } else {
            ClickhouseResourceError::Query {
                resource: self.name.clone(),
                addr: self.addr.clone(),
                statement: super::preview(what),
                cause,
            }
        }
    }

    /// Runs a statement that returns nothing (DDL, INSERT ... SELECT).
    pub fn execute(&self, sql: &str) -> Result<(), ClickhouseResourceError> {
        let q = self.client.query_raw(sql);
        self.block_on(sql, q.execute())
    }

    /// Runs a statement without the default database (e.g. `CREATE DATABASE`).
    pub fn execute_on_server(&self, sql: &str) -> Result<(), ClickhouseResourceError> {
        let q = self.server_client.query_raw(sql);
        self.block_on(sql, q.execute())
    }

    /// Runs a query and returns its result as TabSeparated rows of unescaped fields (works on
    /// every server version, whatever the `validation` setting).
    pub fn query_rows(&self, sql: &str) -> Result<Vec<Vec<String>>, ClickhouseResourceError> {
        self.rows_with(&self.client, sql)
    }

    /// Like [`ClickhouseResource::query_rows`] without the default database (for queries on
    /// `system.*` that must work before the database exists).
    pub fn query_server_rows(
        &self,
        sql: &str,
    ) -> Result<Vec<Vec<String>>, ClickhouseResourceError> {
        self.rows_with(&self.server_client, sql)
    }

    fn rows_with(
        &self,
        client: &clickhouse::Client,
        sql: &str,
    ) -> Result<Vec<Vec<String>>, ClickhouseResourceError> {
        let q = client.query_raw(sql);
        let bytes = self.block_on(sql, async move {
            let mut cursor = q.fetch_bytes("TabSeparated")?;
            cursor.collect().await
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(text
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(tsv_unescape).collect())
            .collect())
    }

    /// Runs a query returning one value (first column of the first row), `None` for no row or
    /// NULL.
    pub fn query_value(&self, sql: &str) -> Result<Option<String>, ClickhouseResourceError> {
        Ok(self
            .query_rows(sql)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .filter(|v| v != "\\N"))
    }

    /// Sends pre-encoded RowBinary rows: `INSERT INTO <table> (<columns>) FORMAT RowBinary`.
    /// Returns once the server confirmed the insert.
    pub fn insert_row_binary(
        &self,
        table: &str,
        columns: &[String],
        data: bytes::Bytes,
    ) -> Result<(), ClickhouseResourceError> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!("INSERT INTO {table} ({}) FORMAT RowBinary", cols.join(", "));
        let mut insert = self.client.insert_formatted_with(sql.clone());
        self.block_on(&sql, async move {
            insert.send(data).await?;
            insert.end().await
        })
    }

    /// The server version, e.g. `18.16.1` (`SELECT version()`).
    /// Runs on the server without the default database, so it works before the database exists.
    /// The version is asked once per resource instance.
    pub fn server_version(&self) -> Result<String, ClickhouseResourceError> {
        if let Some(v) = self.version.get() {
            return Ok(v.clone());
        }
        let sql = "SELECT version()";
        let q = self.server_client.query_raw(sql);
        let bytes = self.block_on(sql, async move {
            let mut cursor = q.fetch_bytes("TabSeparated")?;
            cursor.collect().await
        })?;
        let v = String::from_utf8_lossy(&bytes).trim().to_string();
        let _ = self.version.set(v.clone());
        Ok(v)
    }

    /// [`Resource::check`]: reports the server version.
    fn check_connection(&self) -> anyhow::Result<String> {
        let version = self.server_version()?;
        Ok(format!(
            "clickhouse {} database `{}` (server {version})",
            self.addr, self.database
        ))
    }
}

/// Backquoted identifier for ClickHouse.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        match c {
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('`');
    out
}

/// Single-quoted string literal for ClickHouse.
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn tsv_unescape(field: &str) -> String {
    if !field.contains('\\') || field == "\\N" {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl SqlResource for ClickhouseResource {
    /// Runs each string as one statement, in order (ClickHouse has no transactions); returns 0.
    fn execute_statements(&self, statements: &[String]) -> anyhow::Result<u64> {
        for s in statements {
            self.execute(s)?;
        }
        Ok(0)
    }
    fn query_i64(&self, sql: &str) -> anyhow::Result<Option<i64>> {
        match self.query_value(sql)? {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                anyhow::anyhow!(
                    "clickhouse resource `{}` ({}): query `{}` returned `{}`, not an integer",
                    self.name,
                    self.addr,
                    super::preview(sql),
                    super::preview(&v)
                )
            }),
        }
    }
}

impl_resource!(ClickhouseResource);
