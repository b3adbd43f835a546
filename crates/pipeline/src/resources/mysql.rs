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
//!       tls: false                              # or `true`, or the map below
//! ```
//!
//! **TLS.** `tls: true` encrypts every connection (rustls, no system OpenSSL) and verifies the
//! server's certificate against the public web PKI roots and its name against `host`. For a
//! server whose certificate comes from a private CA, give the map form (names close to the
//! `mysql` crate's `SslOpts`; every value takes `{env: VAR}`):
//!
//! ```yaml
//!       tls:
//!         enabled: true                     # default true when the map is given
//!         ca_file: /etc/mysql/ca.pem        # PEM (one or more certificates) or DER; trusted in
//!                                           # addition to the web PKI roots
//!         skip_domain_validation: false     # true: accept a certificate for another host name
//!         accept_invalid_certs: false       # true: no certificate check at all (encrypts, but
//!                                           # does not authenticate the server)
//!         client_cert: /etc/mysql/client.pem  # client certificate chain (PEM or DER) and its
//!         client_key: /etc/mysql/client.key   # key (PKCS#1, PKCS#8 or SEC1): both or neither
//! ```
//!
//! Relative file paths resolve against the pipeline config file's directory; the files must
//! exist when the config is loaded. A server that does not offer TLS fails the connection (no
//! silent plain-text fallback). [`Resource::check`] reports the session's TLS version and cipher
//! (`Ssl_version`, `Ssl_cipher`). The table sync's own row reader speaks plain TCP only: with
//! TLS the sync reads through the `mysql` crate.
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

use super::{error_chain, preview};
use super::{int_or, ServerKeys};
use dagster_core::config::yaml::Map;
use dagster_core::defs::{Resource, ResourceDef, ResourceType};
use mysql::prelude::Queryable;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 3306;
pub const DEFAULT_POOL_SIZE: u32 = 4;
pub const DEFAULT_CONNECT_TIMEOUT_SECONDS: u64 = 10;
pub const DEFAULT_READ_TIMEOUT_SECONDS: u64 = 600;
/// Statement run on every new connection of the pool.
pub const SESSION_INIT: &str = "SET time_zone = '+00:00'";

server_resource_error! {
    /// Errors of the MySQL resource; each names the resource and `host:port`, never the password.
    pub enum MysqlResourceError: "mysql"
}

/// The TLS settings of a MySQL resource (`tls:`); see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MysqlTls {
    /// Extra trusted root certificate(s), PEM or DER.
    pub ca_file: Option<PathBuf>,
    /// Accept a valid certificate issued for another host name.
    pub skip_domain_validation: bool,
    /// Accept any certificate (encrypts without authenticating the server).
    pub accept_invalid_certs: bool,
    /// Client certificate chain and its private key (both or neither).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl MysqlTls {
    /// The `mysql` crate's options for these settings.
    fn ssl_opts(&self) -> mysql::SslOpts {
        let identity = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(mysql::ClientIdentity::new(cert.clone(), key.clone())),
            _ => None,
        };
        mysql::SslOpts::default()
            .with_root_cert_path(self.ca_file.clone())
            .with_danger_skip_domain_validation(self.skip_domain_validation)
            .with_danger_accept_invalid_certs(self.accept_invalid_certs)
            .with_client_identity(identity)
    }

    /// A short description for errors and reports: `TLS` plus what is not default.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ca) = &self.ca_file {
            parts.push(format!("ca_file {}", ca.display()));
        }
        if self.skip_domain_validation {
            parts.push("skip_domain_validation".to_string());
        }
        if self.accept_invalid_certs {
            parts.push("accept_invalid_certs".to_string());
        }
        if let Some(c) = &self.client_cert {
            parts.push(format!("client_cert {}", c.display()));
        }
        if parts.is_empty() {
            "TLS".into()
        } else {
            format!("TLS, {}", parts.join(", "))
        }
    }

    /// The resolved JSON form (`read_config` output).
    fn to_json(&self) -> serde_json::Value {
        let path = |p: &Option<PathBuf>| match p {
            Some(p) => serde_json::Value::String(p.to_string_lossy().into_owned()),
            None => serde_json::Value::Null,
        };
        serde_json::json!({
            "enabled": true,
            "ca_file": path(&self.ca_file),
            "skip_domain_validation": self.skip_domain_validation,
            "accept_invalid_certs": self.accept_invalid_certs,
            "client_cert": path(&self.client_cert),
            "client_key": path(&self.client_key),
        })
    }

    /// Reads the JSON form: `false`/absent (no TLS), `true`, or the map.
    fn from_json(v: Option<&serde_json::Value>) -> Result<Option<MysqlTls>, String> {
        let Some(v) = v else { return Ok(None) };
        match v {
            serde_json::Value::Null | serde_json::Value::Bool(false) => Ok(None),
            serde_json::Value::Bool(true) => Ok(Some(MysqlTls::default())),
            serde_json::Value::Object(m) => {
                if m.get("enabled").and_then(|e| e.as_bool()) == Some(false) {
                    return Ok(None);
                }
                let path = |key: &str| -> Result<Option<PathBuf>, String> {
                    match m.get(key) {
                        None | Some(serde_json::Value::Null) => Ok(None),
                        Some(serde_json::Value::String(p)) => Ok(Some(PathBuf::from(p))),
                        Some(other) => Err(format!("`tls.{key}` must be a path, found {other}")),
                    }
                };
                let flag = |key: &str| m.get(key).and_then(|b| b.as_bool()).unwrap_or(false);
                let tls = MysqlTls {
                    ca_file: path("ca_file")?,
                    skip_domain_validation: flag("skip_domain_validation"),
                    accept_invalid_certs: flag("accept_invalid_certs"),
                    client_cert: path("client_cert")?,
                    client_key: path("client_key")?,
                };
                if tls.client_cert.is_some() != tls.client_key.is_some() {
                    return Err("`tls.client_cert` and `tls.client_key` go together".into());
                }
                Ok(Some(tls))
            }
            other => Err(format!("`tls` must be true, false or a map, found {other}")),
        }
    }
}

server_settings! {
    /// The resolved settings of a MySQL resource. `Debug` hides the password.
    pub struct MysqlSettings {
        pub read_timeout: Duration = Duration::from_secs(DEFAULT_READ_TIMEOUT_SECONDS),
        /// `None`: plain TCP.
        pub tls: Option<MysqlTls> = None,
    }
}

impl MysqlSettings {
    /// Reads the JSON config produced by [`MysqlResourceType::read_config`].
    pub fn from_config(
        resource: &str,
        config: &serde_json::Value,
    ) -> Result<Self, MysqlResourceError> {
        let err = |message: String| MysqlResourceError::Config {
            resource: resource.into(),
            message,
        };
        let mut s = Self::from_server(super::ServerConfig::from_json(config).map_err(err)?);
        if let Some(t) = config.get("read_timeout_seconds").and_then(|v| v.as_u64()) {
            s.read_timeout = Duration::from_secs(t.max(1));
        }
        s.tls = MysqlTls::from_json(config.get("tls")).map_err(err)?;
        Ok(s)
    }
}

/// Reads `tls` (absent, a boolean, or the map of the module documentation); `None` after
/// recording an error, `Some(None)` for no TLS.
fn read_tls(config: &Map<'_>) -> Option<Option<MysqlTls>> {
    let Some(v) = config.get("tls") else {
        return Some(None);
    };
    let is_env = v.is_map() && v.as_map().is_some_and(|m| m.keys() == ["env"]);
    if !v.is_map() || is_env {
        return match v.as_bool()? {
            true => Some(Some(MysqlTls::default())),
            false => Some(None),
        };
    }
    let m = v.as_map()?;
    let enabled = match m.get("enabled") {
        Some(e) => e.as_bool(),
        None => Some(true),
    };
    let flag = |key: &str| match m.get(key) {
        Some(b) => b.as_bool(),
        None => Some(false),
    };
    let skip_domain_validation = flag("skip_domain_validation");
    let accept_invalid_certs = flag("accept_invalid_certs");
    let check_files = enabled == Some(true);
    let base = m.file().parent().map(Path::to_path_buf).unwrap_or_default();
    let path = |key: &str| -> Option<Option<PathBuf>> {
        let Some(pv) = m.get(key) else {
            return Some(None);
        };
        let raw = pv.as_str()?;
        let raw = raw.trim();
        if raw.is_empty() {
            pv.error(format!("`{key}` cannot be empty"));
            return None;
        }
        let given = Path::new(raw);
        let resolved = if given.is_absolute() {
            given.to_path_buf()
        } else {
            let joined = base.join(given);
            std::path::absolute(&joined).unwrap_or(joined)
        };
        if check_files {
            match std::fs::metadata(&resolved) {
                Ok(md) if md.is_file() => {}
                Ok(_) => {
                    pv.error(format!("{} is not a file", resolved.display()));
                    return None;
                }
                Err(e) => {
                    pv.error(format!("cannot read {}: {e}", resolved.display()));
                    return None;
                }
            }
        }
        if resolved.to_str().is_none() {
            pv.error("the resolved path is not valid UTF-8");
            return None;
        }
        Some(Some(resolved))
    };
    let ca_file = path("ca_file");
    let client_cert = path("client_cert");
    let client_key = path("client_key");
    m.finish();
    if m.has("client_cert") != m.has("client_key") {
        m.error("`client_cert` and `client_key` go together: give both or neither");
        return None;
    }
    let tls = MysqlTls {
        ca_file: ca_file?,
        skip_domain_validation: skip_domain_validation?,
        accept_invalid_certs: accept_invalid_certs?,
        client_cert: client_cert?,
        client_key: client_key?,
    };
    match enabled? {
        true => Some(Some(tls)),
        false => Some(None),
    }
}

/// The cause of a connection failure, with what TLS was asked for and a hint for the usual
/// TLS mistakes.
fn connect_cause(e: &mysql::Error, tls: Option<&MysqlTls>) -> String {
    let chain = error_chain(e);
    let Some(tls) = tls else { return chain };
    let hint = if matches!(
        e,
        mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)
    ) {
        "the server does not offer TLS: enable it on the server (ssl_cert/ssl_key) or set `tls: false`"
    } else if chain.contains("UnknownIssuer") || chain.contains("BadSignature") {
        "the server's certificate is not signed by a trusted CA: give its CA as `tls.ca_file`"
    } else if chain.contains("NotValidForName") || chain.contains("not valid for name") {
        "the server's certificate is not issued for this host name: connect by the name in the certificate or set `tls.skip_domain_validation: true`"
    } else {
        ""
    };
    if hint.is_empty() {
        format!("{chain} [{}]", tls.describe())
    } else {
        format!("{chain} [{}]; {hint}", tls.describe())
    }
}

/// The `mysql` resource type.
pub struct MysqlResourceType;

impl ResourceType for MysqlResourceType {
    fn type_name(&self) -> &'static str {
        "mysql"
    }

    fn read_config(&self, config: &Map<'_>) -> Option<serde_json::Value> {
        let keys = ServerKeys::read(
            config,
            DEFAULT_PORT,
            DEFAULT_POOL_SIZE,
            DEFAULT_CONNECT_TIMEOUT_SECONDS,
        );
        let read_timeout = int_or(config, "read_timeout_seconds", 1, 86_400, 600);
        let tls = read_tls(config);
        keys.check_host(config)?;
        let tls = match tls? {
            Some(t) => t.to_json(),
            None => serde_json::Value::Bool(false),
        };
        keys.into_json(serde_json::json!({
            "read_timeout_seconds": read_timeout?,
            "tls": tls,
        }))
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

debug_fields!(MysqlResource {
    name,
    addr,
    database
});

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
            .ssl_opts(settings.tls.as_ref().map(MysqlTls::ssl_opts))
            .pool_opts(pool_opts);
        let addr = settings.addr();
        let kept = settings.clone();
        let pool = mysql::Pool::new(opts).map_err(|e| MysqlResourceError::Connect {
            resource: name.into(),
            addr: addr.clone(),
            cause: connect_cause(&e, settings.tls.as_ref()),
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
                cause: connect_cause(&e, self.settings.tls.as_ref()),
            })
    }

    /// True when connections are encrypted (`tls` configured).
    pub fn tls(&self) -> bool {
        self.settings.tls.is_some()
    }

    /// The session's TLS version and cipher (`Ssl_version`, `Ssl_cipher`) on a pooled
    /// connection; `None` when the connection is not encrypted.
    pub fn session_tls(&self) -> Result<Option<(String, String)>, MysqlResourceError> {
        let mut conn = self.connection()?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
            .map_err(|e| self.query_error(error_chain(&e)))?;
        let get = |name: &str| {
            rows.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let cipher = get("Ssl_cipher");
        if cipher.is_empty() {
            return Ok(None);
        }
        Ok(Some((get("Ssl_version"), cipher)))
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

    /// [`Resource::check`]: connects and reports the server version, the session time zone
    /// and the encryption.
    fn check_connection(&self) -> anyhow::Result<String> {
        let mut conn = self.connection()?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .map_err(|e| self.query_error(error_chain(&e)))?;
        let tz: Option<String> = conn
            .query_first("SELECT @@session.time_zone")
            .map_err(|e| self.query_error(error_chain(&e)))?;
        drop(conn);
        let encryption = match self.session_tls()? {
            Some((version, cipher)) => format!("encrypted ({version}, cipher {cipher})"),
            None if self.tls() => {
                return Err(self
                    .query_error("`tls` is on but the session reports no TLS cipher")
                    .into())
            }
            None => "not encrypted".to_string(),
        };
        Ok(format!(
            "mysql {} database `{}` (server {}, session time zone {}, {encryption})",
            self.addr,
            self.database,
            version.unwrap_or_default(),
            tz.unwrap_or_default()
        ))
    }
}

impl_sql_resource!(MysqlResource);
