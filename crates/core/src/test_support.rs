//! Isolated test databases (enabled by the `test-support` feature and in this crate's tests).
//!
//! * [`TestDb::sqlite`]: a fresh database file in a temporary directory (removed on drop).
//! * [`TestDb::postgres`]: a fresh schema `t_<uuid>` in the database named by the environment
//!   variable `DAGSTER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`); the
//!   backend URL pins `search_path` to that schema, and the schema is dropped (CASCADE) on drop.
//! * [`TestDb::postgres_database`]: a fresh database `t_<uuid>` on that server, for tests that
//!   configure storage by host, port, user and database name ([`TestDb::pg_params`]); dropped
//!   (with its sessions) on drop.
//!
//! Every test gets its own database, so tests run in parallel without `#[serial]`.
//!
//! ```no_run
//! use dagster_core::storage::RunStore;
//! use dagster_core::test_support::TestDb;
//! let db = TestDb::sqlite();
//! let storage = db.storage();
//! assert!(storage.get_run("nope").unwrap().is_none());
//! ```

use crate::storage::{DbStorage, OpenOptions, StorageBackend};
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable naming the Postgres database the tests use.
pub const PG_URL_ENV: &str = "DAGSTER_TEST_PG_URL";
/// Used when [`PG_URL_ENV`] is unset.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A throwaway database; see the module docs.
pub struct TestDb {
    kind: Kind,
}

enum Kind {
    Sqlite {
        // Held for its Drop (removes the directory).
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        base_url: String,
        schema: String,
        url: String,
    },
    PgDatabase {
        base_url: String,
        params: PgParams,
        url: String,
    },
}

/// Connection settings of a test Postgres database, as a `postgres_db` config names them.
#[derive(Debug, Clone, PartialEq)]
pub struct PgParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
}

/// Splits `postgres://user[:password]@host[:port]/db[?params]` (the test server's URL).
fn parse_pg_url(url: &str) -> Option<(PgParams, String)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hostpath) = rest.rsplit_once('@')?;
    let user = userinfo.split(':').next()?.to_string();
    let (hostport, dbname) = hostpath.split_once('/').unwrap_or((hostpath, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().ok()?),
        None => (hostport.to_string(), 5432),
    };
    Some((
        PgParams {
            host,
            port,
            user,
            dbname: dbname.to_string(),
        },
        query.to_string(),
    ))
}

impl TestDb {
    /// A new SQLite database file in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let path = dir.path().join("storage").join("dagster.db");
        TestDb {
            kind: Kind::Sqlite { _dir: dir, path },
        }
    }

    /// A new, empty schema in the test Postgres database.
    ///
    /// Panics with instructions when the server is not reachable.
    pub fn postgres() -> TestDb {
        let base_url = std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = pg_connect(&base_url);
        // Identifiers cannot be bound; `schema` is generated above from hex digits only.
        diesel::sql_query(format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("cannot create schema {schema}: {e}"));
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
        TestDb {
            kind: Kind::Postgres {
                base_url,
                schema,
                url,
            },
        }
    }

    /// A new, empty database on the test Postgres server (see the module docs).
    ///
    /// Panics with instructions when the server is not reachable.
    pub fn postgres_database() -> TestDb {
        let base_url = std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
        let (mut params, query) = parse_pg_url(&base_url).unwrap_or_else(|| {
            panic!("{PG_URL_ENV}={base_url} is not a postgres://user@host:port/db URL")
        });
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = pg_connect(&base_url);
        // Identifiers cannot be bound; `name` is generated above from hex digits only.
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let prefix = &base_url[..base_url.len() - query.len()];
        let prefix = prefix.trim_end_matches('?');
        let without_db = &prefix[..prefix.len() - params.dbname.len()];
        let mut url = format!("{without_db}{name}");
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        params.dbname = name;
        TestDb {
            kind: Kind::PgDatabase {
                base_url,
                params,
                url,
            },
        }
    }

    /// Host, port, user and database of a [`TestDb::postgres_database`].
    pub fn pg_params(&self) -> Option<PgParams> {
        match &self.kind {
            Kind::PgDatabase { params, .. } => Some(params.clone()),
            _ => None,
        }
    }

    /// The backend to open (for tests that open storage themselves).
    pub fn backend(&self) -> StorageBackend {
        match &self.kind {
            Kind::Sqlite { path, .. } => StorageBackend::Sqlite { path: path.clone() },
            Kind::Postgres { url, .. } | Kind::PgDatabase { url, .. } => {
                StorageBackend::Postgres { url: url.clone() }
            }
        }
    }

    /// Opens (and on first use migrates) a storage on this database. Each call opens a new pool.
    pub fn storage(&self) -> DbStorage {
        DbStorage::open(&self.backend(), &Self::options()).unwrap_or_else(|e| {
            panic!(
                "cannot open test storage {}: {e}",
                self.backend().describe()
            )
        })
    }

    /// Small pool options suited to tests.
    pub fn options() -> OpenOptions {
        OpenOptions {
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
            ..OpenOptions::default()
        }
    }

    /// The Postgres URL (with `search_path` set to this test's schema), if Postgres.
    pub fn pg_url(&self) -> Option<String> {
        match &self.kind {
            Kind::Sqlite { .. } => None,
            Kind::Postgres { url, .. } | Kind::PgDatabase { url, .. } => Some(url.clone()),
        }
    }
}

fn pg_connect(url: &str) -> PgConnection {
    PgConnection::establish(url).unwrap_or_else(|e| {
        let target = StorageBackend::Postgres {
            url: url.to_string(),
        }
        .describe();
        panic!(
            "Postgres not reachable at {target} ({e}): start it with `pg_ctlcluster 15 main start` \
             or point {PG_URL_ENV} at a server"
        )
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (base_url, what, sql) = match &self.kind {
            Kind::Sqlite { .. } => return,
            Kind::Postgres {
                base_url, schema, ..
            } => (
                base_url,
                format!("schema {schema}"),
                format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            ),
            // FORCE: processes of the test may still hold sessions.
            Kind::PgDatabase {
                base_url, params, ..
            } => (
                base_url,
                format!("database {}", params.dbname),
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", params.dbname),
            ),
        };
        // Never panic in drop (the test may already be unwinding).
        match PgConnection::establish(base_url) {
            Ok(mut conn) => {
                if let Err(e) = diesel::sql_query(sql).execute(&mut conn) {
                    eprintln!("warning: cannot drop test {what}: {e}");
                }
            }
            Err(e) => eprintln!("warning: cannot drop test {what}: {e}"),
        }
    }
}

/// A [`RunSubmitter`](crate::exec::RunSubmitter) of this storage with the queued run
/// coordinator: runs stay QUEUED, nothing is launched (its launcher names no binary).
pub fn queued_submitter(storage: &DbStorage) -> crate::exec::RunSubmitter {
    crate::exec::RunSubmitter::new(
        std::sync::Arc::new(storage.clone()),
        crate::exec::DefaultRunLauncher::new("/nonexistent/dagster", "/tmp"),
        crate::exec::CoordinatorKind::Queued,
    )
}

/// The container engine `DOCKER_HOST` names (API version negotiated), with `image` present,
/// for the DockerRunLauncher tests, and a runtime to drive it. Panics saying how to start the
/// engine and build the images when either is missing.
pub fn docker_engine(image: &str) -> (tokio::runtime::Runtime, bollard::Docker) {
    let how = "start the engine and build the images: eval \"$(scripts/containers/engine.sh)\" && \
               scripts/containers/base-images.sh && scripts/containers/run-test-image.sh";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a tokio runtime: {e}"));
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| panic!("DOCKER_HOST is not set: {how}"));
    let docker = bollard::Docker::connect_with_unix_defaults()
        .and_then(|d| rt.block_on(d.negotiate_version()))
        .unwrap_or_else(|e| panic!("cannot reach the container engine at {host} ({e}): {how}"));
    rt.block_on(docker.inspect_image(image))
        .unwrap_or_else(|e| panic!("no image {image} on the engine at {host} ({e}): {how}"));
    (rt, docker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_urls_split_into_params() {
        let (p, q) = parse_pg_url("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(
            p,
            PgParams {
                host: "127.0.0.1".into(),
                port: 5432,
                user: "postgres".into(),
                dbname: "test".into()
            }
        );
        assert_eq!(q, "");
        let (p, q) = parse_pg_url("postgresql://u:pw@db/x?sslmode=disable").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("db", 5432, "u")
        );
        assert_eq!((p.dbname.as_str(), q.as_str()), ("x", "sslmode=disable"));
        assert!(parse_pg_url("mysql://x@y/z").is_none());
    }
}
