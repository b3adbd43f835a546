//! Shared helpers of the table sync tests: a MariaDB database and a ClickHouse database per
//! test (random suffix, dropped on drop), an instance key-value store, a runner and a
//! source/destination comparison.
//!
//! ClickHouse is the server at `DAGSTER_TEST_CLICKHOUSE_URL`, by default the machine's
//! ClickHouse 18.16 at http://127.0.0.1:8123; scripts/test.sh runs the ClickHouse tests a second
//! time against ClickHouse 26.9 (`scripts/clickhouse-modern.sh start`, http://127.0.0.1:8124).
//! Tests whose results depend on the server ask [`ch_caps`].

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use dagster_core::defs::CancelToken;
use dagster_core::storage::KvStore;
use dagster_core::test_support::TestDb;
use dagster_pipeline::assets::table_sync::types::ChCaps;
use dagster_pipeline::assets::table_sync::{
    DestRef, SourceRef, SyncConfig, SyncOutcome, TableSync,
};
use dagster_pipeline::resources::{
    ClickhouseResource, ClickhouseSettings, MysqlResource, MysqlSettings, PostgresResource,
    PostgresSettings,
};
use mysql::prelude::Queryable;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

pub const MYSQL_HOST: &str = "127.0.0.1";
/// The machine's ClickHouse (Debian's 18.16), used unless `DAGSTER_TEST_CLICKHOUSE_URL` is set.
pub const DEFAULT_CH_URL: &str = "http://127.0.0.1:8123";

/// The ClickHouse server of the tests: `DAGSTER_TEST_CLICKHOUSE_URL`, default
/// http://127.0.0.1:8123.
pub fn ch_url() -> String {
    match std::env::var("DAGSTER_TEST_CLICKHOUSE_URL") {
        Ok(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_string(),
        _ => DEFAULT_CH_URL.to_string(),
    }
}

/// `host:port` of [`ch_url`] (as the resource names it in messages).
pub fn ch_addr() -> String {
    ClickhouseSettings::new(&ch_url(), "default").addr()
}

/// The server version of [`ch_url`] (asked once per test binary); panics with how to start the
/// server when it does not answer.
pub fn ch_version() -> String {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let url = ch_url();
            let mut s = ClickhouseSettings::new(&url, "default");
            s.validation = false;
            let probe = ClickhouseResource::new("probe", s).unwrap();
            match probe.server_version() {
                Ok(v) => v,
                Err(e) if url == DEFAULT_CH_URL => panic!(
                    "ClickHouse is not reachable at {url} ({e}); install and start it with `apt-get install clickhouse-server && service clickhouse-server start` (see .ci/run), or point DAGSTER_TEST_CLICKHOUSE_URL at another server"
                ),
                Err(e) => panic!(
                    "ClickHouse is not reachable at {url} (DAGSTER_TEST_CLICKHOUSE_URL) ({e}); start the modern test server with `scripts/clickhouse-modern.sh start` (ClickHouse 26.9 from PyPI on http://127.0.0.1:8124), or unset DAGSTER_TEST_CLICKHOUSE_URL to use the machine's ClickHouse at {DEFAULT_CH_URL}"
                ),
            }
        })
        .clone()
}

/// The major version of the tests' ClickHouse.
pub fn ch_major() -> u32 {
    ch_version()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// What the tests' ClickHouse holds (the sync's own reading of its version).
pub fn ch_caps() -> ChCaps {
    ChCaps::from_version(&ch_version())
}

/// Days since 1970-01-01 of the smallest value of the type a DATE column maps to on the tests'
/// ClickHouse (what a zero date becomes in a NOT NULL column): 1970-01-01 for `Date`,
/// 1900-01-01 for `Date32` on 22.8 to 26.8, 0001-01-01 from 26.9 on.
pub fn ch_date_min_days() -> i64 {
    let caps = ch_caps();
    if caps.full_dates {
        -719_162
    } else if caps.wide_dates {
        -25_567
    } else {
        0
    }
}

/// `validation:` for the tests' ClickHouse: the crate's `RowBinaryWithNamesAndTypes` check on
/// servers that know the format (23 and later), off on 18.x.
pub fn ch_validation() -> bool {
    ch_major() >= 23
}

/// The `config:` of a `clickhouse` resource on the tests' server, as YAML flow mapping text.
pub fn ch_yaml_config(database: &str) -> String {
    format!(
        "{{url: '{}', database: {database}, validation: {}}}",
        ch_url(),
        ch_validation()
    )
}

pub fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

pub fn mysql_settings(database: &str) -> MysqlSettings {
    let mut s = MysqlSettings::new(MYSQL_HOST, "root", database);
    s.pool_size = 4;
    s.connect_timeout = std::time::Duration::from_secs(5);
    s
}

pub fn ch_settings(database: &str) -> ClickhouseSettings {
    let mut s = ClickhouseSettings::new(&ch_url(), database);
    s.validation = ch_validation();
    s
}

/// One test's databases: `sync_<suffix>` in MariaDB and in ClickHouse, dropped on drop.
pub struct Env {
    pub name: String,
    pub src: MysqlResource,
    pub dst: ClickhouseResource,
    pub kv: Arc<dyn KvStore>,
    _db: TestDb,
}

impl Env {
    pub fn new() -> Env {
        Env::with_mysql(mysql_settings)
    }

    /// An environment whose source is the MariaDB server of `settings(database)` (the shared
    /// one for [`Env::new`]).
    pub fn with_mysql(settings: impl Fn(&str) -> MysqlSettings) -> Env {
        // First, so that an unreachable ClickHouse leaves no MariaDB database behind.
        ch_version();
        let name = format!("sync_{}", suffix());
        let admin_settings = settings("information_schema");
        let addr = admin_settings.addr();
        let admin = MysqlResource::new("admin", admin_settings).unwrap();
        if let Err(e) = admin.execute(&[format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4")])
        {
            panic!("MariaDB is not reachable at {addr} ({e}); start it with `service mariadb start` (see .ci/run)");
        }
        let dst = ClickhouseResource::new("reporting", ch_settings(&name)).unwrap();
        let src = MysqlResource::new("mysql_replica", settings(&name)).unwrap();
        let db = TestDb::sqlite();
        let kv: Arc<dyn KvStore> = Arc::new(db.storage());
        Env {
            name,
            src,
            dst,
            kv,
            _db: db,
        }
    }

    pub fn mysql(&self, statements: &[&str]) {
        let s: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
        self.src.execute(&s).unwrap();
    }

    /// Rows of a MySQL query as text (NULL → None), text protocol.
    pub fn mysql_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut conn = self.src.connection().unwrap();
        let rows: Vec<mysql::Row> = conn.query(sql).unwrap();
        rows.into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        mysql::Value::NULL => None,
                        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                        other => Some(format!("{other:?}")),
                    })
                    .collect()
            })
            .collect()
    }

    /// Rows of a ClickHouse query (TSV; `\N` → None). Decimals keep their trailing zeros
    /// (`1.50`, as MySQL and Postgres print them; ClickHouse 21.9 and later drop them unless
    /// `output_format_decimal_trailing_zeros` is set, a setting 18.x does not know).
    pub fn ch_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let sql = if ch_major() >= 22 {
            format!("{sql} SETTINGS output_format_decimal_trailing_zeros = 1")
        } else {
            sql.to_string()
        };
        self.dst
            .query_rows(&sql)
            .unwrap()
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| if v == "\\N" { None } else { Some(v) })
                    .collect()
            })
            .collect()
    }

    pub fn ch_count(&self, sql: &str) -> u64 {
        self.dst.query_value(sql).unwrap().unwrap().parse().unwrap()
    }

    pub fn sync(&self, cfg: SyncConfig) -> TableSync {
        TableSync::new(SyncConfig {
            source: "mysql_replica".into(),
            destination: "reporting".into(),
            ..cfg
        })
    }

    pub fn run(&self, sync: &TableSync) -> anyhow::Result<SyncOutcome> {
        sync.run(
            &self.src,
            &self.dst,
            self.kv.as_ref(),
            "reporting/test",
            &CancelToken::new(),
            &mut |_| {},
        )
    }

    /// [`Env::run`], with the lines the sync logged.
    pub fn run_logged(&self, sync: &TableSync) -> (anyhow::Result<SyncOutcome>, Vec<String>) {
        let mut lines = Vec::new();
        let r = sync.run(
            &self.src,
            &self.dst,
            self.kv.as_ref(),
            "reporting/test",
            &CancelToken::new(),
            &mut |l| lines.push(l.to_string()),
        );
        (r, lines)
    }

    /// Runs a sync between any source and destination (`TableSync::sync`).
    pub fn run_with(
        &self,
        sync: &TableSync,
        src: SourceRef<'_>,
        dst: DestRef<'_>,
    ) -> anyhow::Result<SyncOutcome> {
        sync.sync(
            src,
            dst,
            self.kv.as_ref(),
            "reporting/test",
            &CancelToken::new(),
            &mut |_| {},
        )
    }

    pub fn saved_state(&self) -> Option<String> {
        self.kv
            .kv_get(&TableSync::state_key("reporting/test"))
            .unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self
            .src
            .execute(&[format!("DROP DATABASE IF EXISTS `{}`", self.name)]);
        let _ = self
            .dst
            .execute_on_server(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

/// Per-column statistics: (non-NULL count, NULL count, order-independent checksum).
pub type Stats = (u64, u64, u64);

pub fn column_stats(rows: &[Vec<Option<String>>]) -> Vec<Stats> {
    let ncols = rows.first().map_or(0, |r| r.len());
    (0..ncols)
        .map(|c| {
            let mut nn = 0u64;
            let mut nulls = 0u64;
            let mut sum = 0u64;
            for r in rows {
                match &r[c] {
                    None => nulls += 1,
                    Some(v) => {
                        nn += 1;
                        sum = sum.wrapping_add(fnv(v.as_bytes()));
                    }
                }
            }
            (nn, nulls, sum)
        })
        .collect()
}

fn fnv(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Compares the source table with the deduplicated destination view: row count, per-column
/// checksums and NULL counts, then row by row. `cols` are the compared columns (text forms
/// that MySQL and ClickHouse print alike), `pk` the order.
pub fn assert_same(env: &Env, table: &str, cols: &[&str], pk: &str) {
    let list = cols.join(", ");
    let src = env.mysql_rows(&format!("SELECT {list} FROM `{table}` ORDER BY {pk}"));
    let dst = env.ch_rows(&format!(
        "SELECT {list} FROM `{}`.`{table}_dedup` ORDER BY {pk}",
        env.name
    ));
    assert_eq!(src.len(), dst.len(), "row count source vs destination");
    let ss = column_stats(&src);
    let ds = column_stats(&dst);
    let named: BTreeMap<&str, (Stats, Stats)> = cols
        .iter()
        .copied()
        .zip(ss.iter().copied().zip(ds.iter().copied()))
        .collect();
    for (c, (s, d)) in &named {
        assert_eq!(
            s, d,
            "column `{c}`: (non-NULL, NULL, checksum) source vs destination"
        );
    }
    assert_eq!(src, dst, "rows differ");
}

pub const PG_HOST: &str = "127.0.0.1";

/// One test's Postgres schema `sync_<suffix>` in database `test`, dropped (CASCADE) on drop.
pub struct Pg {
    pub res: PostgresResource,
    pub schema: String,
}

impl Pg {
    pub fn new() -> Pg {
        let mut s = PostgresSettings::new(PG_HOST, "postgres", "test");
        s.connect_timeout = std::time::Duration::from_secs(5);
        let res = PostgresResource::new("pg", s);
        let schema = format!("sync_{}", suffix());
        if let Err(e) = res.execute(&[format!("CREATE SCHEMA {schema}")]) {
            panic!("PostgreSQL is not reachable at {PG_HOST}:5432 ({e}); start it (e.g. `pg_ctlcluster 15 main start`) with trust auth for user postgres and a database `test`");
        }
        Pg { res, schema }
    }

    /// `<schema>.<table>`.
    pub fn t(&self, table: &str) -> String {
        format!("{}.{table}", self.schema)
    }

    pub fn exec(&self, statements: &[&str]) {
        let s: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
        self.res.execute(&s).unwrap();
    }

    /// Rows of a query as text (NULL → None).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut conn = self.res.connection().unwrap();
        conn.simple_query(sql)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).map(|v| v.to_string()))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, sql: &str) -> u64 {
        self.rows(sql)[0][0].as_deref().unwrap().parse().unwrap()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self
            .res
            .execute(&[format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)]);
    }
}

/// Compares two row sets: row count, per-column (non-NULL, NULL, checksum), then row by row.
pub fn assert_same_rows(src: &[Vec<Option<String>>], dst: &[Vec<Option<String>>], cols: &[&str]) {
    assert_eq!(src.len(), dst.len(), "row count source vs destination");
    let ss = column_stats(src);
    let ds = column_stats(dst);
    for (i, c) in cols.iter().enumerate() {
        assert_eq!(
            ss.get(i),
            ds.get(i),
            "column `{c}`: (non-NULL, NULL, checksum) source vs destination"
        );
    }
    assert_eq!(src, dst, "rows differ");
}
