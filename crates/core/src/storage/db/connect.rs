//! Opening the database: connection strings (parsed for descriptions and redaction), pools, sessions, migrations.

use super::*;

/// The parts of a libpq connection string we need for descriptions and redaction.
#[derive(Default)]
pub(super) struct PgParts {
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) host: Option<String>,
    pub(super) port: Option<String>,
    pub(super) dbname: Option<String>,
}

impl PgParts {
    pub(super) fn parse(url: &str) -> PgParts {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"));
        match rest {
            Some(rest) => Self::parse_uri(rest),
            None => Self::parse_keywords(url),
        }
    }

    /// URI form. The user info ends at the *last* `@`, so a password with an unescaped `@`, `/`
    /// or `:` is still recognised as the password.
    pub(super) fn parse_uri(rest: &str) -> PgParts {
        let mut p = PgParts::default();
        let (userinfo, hostrest) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        if let Some(ui) = userinfo {
            match ui.split_once(':') {
                Some((u, pw)) => {
                    p.user = Some(u.to_string());
                    p.password = Some(pw.to_string());
                }
                None => p.user = Some(ui.to_string()),
            }
        }
        let (hostpath, query) = match hostrest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (hostrest, None),
        };
        let (hostport, db) = match hostpath.split_once('/') {
            Some((h, d)) => (h, Some(d)),
            None => (hostpath, None),
        };
        if !hostport.is_empty() {
            // `[::1]:5432` or `host:5432`
            let (h, port) = match hostport.rfind(':') {
                Some(i) if !hostport[i..].contains(']') => {
                    (&hostport[..i], Some(&hostport[i + 1..]))
                }
                _ => (hostport, None),
            };
            p.host = Some(h.to_string());
            p.port = port.filter(|s| !s.is_empty()).map(str::to_string);
        }
        p.dbname = db.filter(|d| !d.is_empty()).map(str::to_string);
        for pair in query.unwrap_or_default().split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                p.set(k, percent_decode(v));
            }
        }
        p
    }

    /// Keyword/value form: `host=h port=5432 password='a b'`.
    pub(super) fn parse_keywords(s: &str) -> PgParts {
        let mut p = PgParts::default();
        let mut chars = s.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut key = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' || c.is_whitespace() {
                    break;
                }
                key.push(c);
                chars.next();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.next_if_eq(&'=').is_none() {
                break;
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let mut value = String::new();
            if chars.next_if_eq(&'\'').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '\'' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            p.set(&key, value);
        }
        p
    }

    pub(super) fn set(&mut self, key: &str, value: String) {
        match key {
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "host" | "hostaddr" => self.host = Some(value),
            "port" => self.port = Some(value),
            "dbname" => self.dbname = Some(value),
            _ => {}
        }
    }
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds libpq's `connect_timeout` (whole seconds, at least 2) unless the string sets one, so an
/// unreachable host fails within the pool's timeout instead of hanging in the kernel.
pub(super) fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout") {
        return url.to_string();
    }
    let secs = timeout.as_secs().max(2);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}connect_timeout={secs}")
    } else {
        format!("{url} connect_timeout={secs}")
    }
}

/// Pool options.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenOptions {
    /// Maximum connections in the pool (default 8).
    pub pool_size: u32,
    /// How long to wait for a connection, at open and at every checkout (default 10 s).
    pub connect_timeout: Duration,
    /// Idle connections the pool opens on its own, in its background threads (default 0).
    /// Connections come back to the pool after use and stay open, so a long-lived process has
    /// one ready anyway; opening still checks that the database answers (the schema check
    /// connects). With 1, every checkout that took the last idle connection started a
    /// background connect, and a command that exited meanwhile could crash in it: with
    /// password (SCRAM) authentication, `dagster run list` died with SIGSEGV in libcrypto in
    /// 7 of 30 runs (OpenSSL's exit-time cleanup under a connecting thread).
    pub min_idle: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            min_idle: 0,
        }
    }
}

pub(super) fn migration_err(target: &str, e: impl fmt::Display) -> DbErr {
    DbErr::Storage(StorageError::Migration {
        target: target.to_string(),
        message: e.to_string(),
    })
}

pub(super) fn version_strings(v: &[diesel::migration::MigrationVersion<'_>]) -> Vec<String> {
    v.iter().map(|v| v.to_string()).collect()
}

/// Latest version among the embedded migrations.
pub(super) fn latest_embedded<DB: Backend>(
    m: &EmbeddedMigrations,
    target: &str,
) -> Result<String, DbErr>
where
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let all = diesel::migration::MigrationSource::<DB>::migrations(m)
        .map_err(|e| migration_err(target, e))?;
    Ok(all
        .iter()
        .map(|m| m.name().version().to_string())
        .max()
        .unwrap_or_default())
}

/// First use of an empty database applies every migration; a database with applied *and*
/// pending migrations is refused until `dagster instance migrate` runs.
pub(super) fn init_or_check<DB: Backend, C: MigrationHarness<DB>>(
    c: &mut C,
    m: EmbeddedMigrations,
    target: &str,
) -> Result<(), DbErr>
where
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let applied = c
        .applied_migrations()
        .map_err(|e| migration_err(target, e))?;
    let latest = latest_embedded::<DB>(&m, target)?;
    if applied.is_empty() {
        let done = c
            .run_pending_migrations(m)
            .map_err(|e| migration_err(target, e))?;
        tracing::info!(storage = target, versions = ?version_strings(&done), "initialized empty database");
        return Ok(());
    }
    let current = applied
        .iter()
        .map(|v| v.to_string())
        .max()
        .unwrap_or_default();
    let pending = c
        .pending_migrations(m)
        .map_err(|e| migration_err(target, e))?;
    if !pending.is_empty() {
        let names: Vec<String> = pending.iter().map(|m| m.name().to_string()).collect();
        return Err(migration_err(
            target,
            format!(
                "database schema is at version {current}, this version of dagster needs {latest} \
                 (pending: {}): run `dagster instance migrate`",
                names.join(", ")
            ),
        ));
    }
    if current > latest {
        // Expand/contract: an older binary keeps working on a newer schema.
        tracing::warn!(
            storage = target,
            current,
            latest,
            "database schema is newer than this binary"
        );
    }
    Ok(())
}

impl DbStorage {
    /// Opens the pool. An empty database is migrated (first use). A database with pending
    /// migrations is an error telling the user to run `dagster instance migrate`, unless
    /// [`Storage::migrate`] is called on a storage from [`DbStorage::open_unchecked`].
    pub fn open(backend: &StorageBackend, opts: &OpenOptions) -> Result<DbStorage> {
        let s = Self::open_unchecked(backend, opts)?;
        migration_tx!(&s, |c, m| init_or_check(c, m, &s.target))?;
        Ok(s)
    }

    /// Opens without checking or applying migrations (for `dagster instance migrate` / `info`).
    pub fn open_unchecked(backend: &StorageBackend, opts: &OpenOptions) -> Result<DbStorage> {
        let target = backend.describe();
        let secrets = backend.secrets();
        let connect_err = |message: String| StorageError::Connect {
            target: target.clone(),
            message: redact(&secrets, message),
        };
        let pools = match backend {
            StorageBackend::Sqlite { path } => {
                let path_str = path.to_str().ok_or_else(|| {
                    connect_err("the database path is not valid UTF-8".to_string())
                })?;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        connect_err(format!("cannot create directory {}: {e}", parent.display()))
                    })?;
                }
                let manager = ConnectionManager::<SqliteConnection>::new(path_str);
                let pool = pool_builder(opts)
                    .connection_customizer(Box::new(SqliteSession))
                    .build(manager)
                    .map_err(|e| connect_err(e.to_string()))?;
                Pools::Sqlite(pool)
            }
            StorageBackend::Postgres { url } => {
                let manager = ConnectionManager::<PgConnection>::new(with_connect_timeout(
                    url,
                    opts.connect_timeout,
                ));
                let pool = pool_builder(opts)
                    .connection_customizer(Box::new(PgSession))
                    .build(manager)
                    .map_err(|e| connect_err(e.to_string()))?;
                Pools::Pg(pool)
            }
        };
        Ok(DbStorage {
            pools,
            target,
            secrets,
        })
    }

    /// Reverts every applied migration (test support: the up/down/up check).
    #[cfg(any(test, feature = "test-support"))]
    pub fn revert_all_migrations(&self) -> Result<Vec<String>> {
        migration_tx!(self, |c, m| {
            let done = c
                .revert_all_migrations(m)
                .map_err(|e| migration_err(&self.target, e))?;
            Ok(version_strings(&done))
        })
    }

    /// Reverts the latest applied migration (test support).
    #[cfg(any(test, feature = "test-support"))]
    pub fn revert_last_migration(&self) -> Result<String> {
        migration_tx!(self, |c, m| {
            let v = c
                .revert_last_migration(m)
                .map_err(|e| migration_err(&self.target, e))?;
            Ok(v.to_string())
        })
    }

    pub(super) fn checkout<C>(
        &self,
        pool: &Pool<ConnectionManager<C>>,
    ) -> Result<PooledConnection<ConnectionManager<C>>>
    where
        C: diesel::r2d2::R2D2Connection + 'static,
    {
        pool.get().map_err(|e| StorageError::Connect {
            target: self.target.clone(),
            message: redact(&self.secrets, e.to_string()),
        })
    }

    pub(super) fn fail(&self, e: DbErr) -> StorageError {
        match e {
            DbErr::Diesel(source) => StorageError::Query {
                target: self.target.clone(),
                source,
            },
            DbErr::Storage(e) => e,
        }
    }
}

pub(super) fn pool_builder<C: diesel::r2d2::R2D2Connection + 'static>(
    opts: &OpenOptions,
) -> diesel::r2d2::Builder<ConnectionManager<C>> {
    Pool::builder()
        .max_size(opts.pool_size.max(1))
        .min_idle(Some(opts.min_idle.min(opts.pool_size.max(1))))
        .connection_timeout(opts.connect_timeout.max(Duration::from_millis(100)))
}

pub(super) fn redact(secrets: &[String], mut message: String) -> String {
    for s in secrets {
        message = message.replace(s.as_str(), "***");
    }
    message
}
