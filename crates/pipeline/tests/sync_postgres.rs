//! The table sync with Postgres as source and as destination, against the real servers
//! (PostgreSQL 127.0.0.1:5432, MariaDB 127.0.0.1:3306, ClickHouse at `DAGSTER_TEST_CLICKHOUSE_URL`, default http://127.0.0.1:8123):
//! MySQL → Postgres, Postgres → ClickHouse, Postgres → Postgres (lifecycle, full-mode crash
//! resume, lookback), text and composite key reconciliation on all four combinations, plus
//! `source_query`, reconciliation and ENUM columns on MySQL → ClickHouse and Postgres
//! `±infinity` dates. Each test has its own Postgres schema, MariaDB database and ClickHouse
//! database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

use dagster_core::defs::CancelToken;
use dagster_pipeline::assets::table_sync::{
    DestRef, SourceRef, SyncConfig, SyncMode, SyncOutcome, TableSync,
};
use sync_support::{assert_same_rows, Env, Pg};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Src {
    My,
    Pg,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dst {
    Ch,
    Pg,
}

/// How `updated_at` is filled by a seed.
enum Ts<'a> {
    /// `base + id seconds`
    Step(&'a str),
    Fixed(&'a str),
}

struct Case {
    env: Env,
    pg: Pg,
    src: Src,
    dst: Dst,
}

impl Case {
    fn new(src: Src, dst: Dst) -> Case {
        let c = Case {
            env: Env::new(),
            pg: Pg::new(),
            src,
            dst,
        };
        match src {
            Src::My => c.env.mysql(&["CREATE TABLE customers (
                id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
                name VARCHAR(64) NOT NULL,
                phone VARCHAR(32) NULL,
                status ENUM('active','inactive','banned') NOT NULL,
                balance DECIMAL(12,2) NOT NULL,
                credit_limit DECIMAL(12,2) NULL,
                is_vip TINYINT(1) NOT NULL,
                notes TEXT NULL,
                deleted_at DATETIME NULL,
                updated_at DATETIME NOT NULL,
                KEY idx_updated (updated_at, id)
            ) DEFAULT CHARSET=utf8mb4"]),
            Src::Pg => {
                let s = &c.pg.schema;
                c.pg.exec(&[
                    &format!("CREATE TYPE {s}.status_t AS ENUM ('active', 'inactive', 'banned')"),
                    &format!(
                        "CREATE TABLE {s}.customers (
                        id bigint PRIMARY KEY,
                        name varchar(64) NOT NULL,
                        phone text NULL,
                        status {s}.status_t NOT NULL,
                        balance numeric(12,2) NOT NULL,
                        credit_limit numeric(12,2) NULL,
                        is_vip boolean NOT NULL,
                        notes text NULL,
                        uid uuid NULL,
                        doc jsonb NULL,
                        small smallint NULL,
                        ratio double precision NULL,
                        born date NULL,
                        seen timestamptz NULL,
                        deleted_at timestamp NULL,
                        updated_at timestamp(0) NOT NULL)"
                    ),
                    &format!("CREATE INDEX ON {s}.customers (updated_at, id)"),
                ]);
            }
        }
        c
    }

    fn src_table(&self) -> String {
        match self.src {
            Src::My => "customers".into(),
            Src::Pg => self.pg.t("customers"),
        }
    }

    fn dst_table(&self, name: &str) -> String {
        match self.dst {
            Dst::Ch => name.into(),
            Dst::Pg => self.pg.t(&format!("dst_{name}")),
        }
    }

    fn source_sql(&self, sql: &str) {
        let sql = sql.replace("{t}", &self.src_table());
        match self.src {
            Src::My => self.env.mysql(&[&sql]),
            Src::Pg => self.pg.exec(&[&sql]),
        }
    }

    fn seed(&self, from: u64, to: u64, ts: Ts<'_>) {
        match self.src {
            Src::My => {
                let upd = match ts {
                    Ts::Step(b) => format!("TIMESTAMP('{b}') + INTERVAL seq SECOND"),
                    Ts::Fixed(t) => format!("'{t}'"),
                };
                self.env.mysql(&[&format!(
                    "INSERT INTO customers SELECT seq, CONCAT(ELT(1 + seq % 3, 'Ana', 'Müller', 'O''Brien'), ' ', seq),
                       IF(seq % 5 = 0, NULL, CONCAT('+1-555-', seq)), ELT(1 + seq % 3, 'active', 'inactive', 'banned'),
                       (seq % 100000) / 100.0, IF(seq % 3 = 0, NULL, (seq % 5000) * 1.25), seq % 2,
                       IF(seq % 10 = 0, CONCAT('note ', seq, ' — 🎉'), NULL), NULL, {upd}
                     FROM seq_{from}_to_{to}"
                )]);
            }
            Src::Pg => {
                let upd = match ts {
                    Ts::Step(b) => format!("TIMESTAMP '{b}' + g * interval '1 second'"),
                    Ts::Fixed(t) => format!("TIMESTAMP '{t}'"),
                };
                let s = &self.pg.schema;
                self.pg.exec(&[&format!(
                    "INSERT INTO {s}.customers SELECT g, (ARRAY['Ana', 'Müller', 'O''Brien'])[1 + g % 3] || ' ' || g,
                       CASE WHEN g % 5 = 0 THEN NULL ELSE '+1-555-' || g END,
                       ((ARRAY['active', 'inactive', 'banned'])[1 + g % 3])::{s}.status_t,
                       (g % 100000) / 100.0, CASE WHEN g % 3 = 0 THEN NULL ELSE (g % 5000) * 1.25 END, g % 2 = 1,
                       CASE WHEN g % 10 = 0 THEN 'note ' || g || ' — 🎉' END,
                       CASE WHEN g % 4 = 0 THEN NULL ELSE md5(g::text)::uuid END,
                       CASE WHEN g % 6 = 0 THEN NULL ELSE jsonb_build_object('g', g, 's', 'x ü') END,
                       (g % 30000)::smallint, g / 8.0, DATE '2000-01-01' + g::int,
                       TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1.5 second',
                       NULL, {upd}
                     FROM generate_series({from}, {to}) g"
                )]);
            }
        }
    }

    /// Compared columns: (source expression, destination expression).
    fn cols(&self, extra: bool) -> Vec<(String, String)> {
        let mut v: Vec<(&str, &str)> = vec![("id", "id"), ("name", "name"), ("phone", "phone")];
        let pg_src = self.src == Src::Pg;
        let pg_dst = self.dst == Dst::Pg;
        v.push((
            if pg_src { "status::text" } else { "status" },
            if pg_dst { "status::text" } else { "status" },
        ));
        v.extend([("balance", "balance"), ("credit_limit", "credit_limit")]);
        v.push((
            if pg_src { "is_vip::int" } else { "is_vip" },
            if pg_dst { "is_vip::int" } else { "is_vip" },
        ));
        v.extend([("notes", "notes"), ("updated_at", "updated_at")]);
        if pg_src {
            v.extend([
                ("uid::text", if pg_dst { "uid::text" } else { "uid" }),
                ("doc::text", if pg_dst { "doc::text" } else { "doc" }),
                ("small", "small"),
                ("ratio", "ratio"),
                ("born", "born"),
            ]);
            // timestamptz (microseconds; the rows have half seconds): DateTime64(6) where
            // ClickHouse has it (20.1 on), whole seconds on 18.x.
            v.push(if pg_dst {
                (
                    "to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
                    "to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
                )
            } else if sync_support::ch_caps().datetime64 {
                (
                    "to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
                    "toString(seen)",
                )
            } else {
                (
                    "to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
                    "toString(seen)",
                )
            });
        }
        if extra {
            v.push(("extra", "extra"));
        }
        v.into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn source_rows(&self, select: &str, filter: &str) -> Vec<Vec<Option<String>>> {
        let sql = format!(
            "SELECT {select} FROM {} {filter} ORDER BY id",
            self.src_table()
        );
        match self.src {
            Src::My => self.env.mysql_rows(&sql),
            Src::Pg => self.pg.rows(&sql),
        }
    }

    fn dest_rows(&self, select: &str, table: &str) -> Vec<Vec<Option<String>>> {
        match self.dst {
            Dst::Ch => self.env.ch_rows(&format!(
                "SELECT {select} FROM `{}`.`{table}_dedup` ORDER BY id",
                self.env.name
            )),
            Dst::Pg => self.pg.rows(&format!(
                "SELECT {select} FROM {} ORDER BY id",
                self.dst_table(table)
            )),
        }
    }

    /// Live destination rows equal the source rows without `deleted_at`.
    fn assert_equal(&self, extra: bool) {
        let cols = self.cols(extra);
        let s: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
        let d: Vec<&str> = cols.iter().map(|c| c.1.as_str()).collect();
        let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
        assert_same_rows(
            &self.source_rows(&s.join(", "), "WHERE deleted_at IS NULL"),
            &self.dest_rows(&d.join(", "), "customers"),
            &names,
        );
    }

    fn config(&self, batch: usize) -> SyncConfig {
        SyncConfig {
            batch_size: batch,
            soft_delete_column: Some("deleted_at".into()),
            ..SyncConfig::incremental(
                "src",
                &self.src_table(),
                "dst",
                &self.dst_table("customers"),
                "updated_at",
                &["id"],
            )
        }
    }

    fn run(&self, sync: &TableSync) -> anyhow::Result<SyncOutcome> {
        let src = match self.src {
            Src::My => SourceRef::Mysql(&self.env.src),
            Src::Pg => SourceRef::Postgres(&self.pg.res),
        };
        let dst = match self.dst {
            Dst::Ch => DestRef::Clickhouse(&self.env.dst),
            Dst::Pg => DestRef::Postgres(&self.pg.res),
        };
        self.env.run_with(sync, src, dst)
    }

    fn dest_count(&self, table: &str) -> u64 {
        match self.dst {
            Dst::Ch => self.env.ch_count(&format!(
                "SELECT count() FROM `{}`.`{table}`",
                self.env.name
            )),
            Dst::Pg => self
                .pg
                .count(&format!("SELECT count(*) FROM {}", self.dst_table(table))),
        }
    }
}

/// Full, incremental, crash and resume, soft delete, a new column and hard-delete
/// reconciliation, in that order, on one table.
fn lifecycle(src: Src, dst: Dst) {
    let c = Case::new(src, dst);
    c.seed(1, 3000, Ts::Step("2024-01-01"));
    let full = TableSync::new(SyncConfig {
        mode: SyncMode::Full,
        ..c.config(700)
    });
    let o = c.run(&full).unwrap();
    assert_eq!((o.rows_read, o.rows_written, o.batches), (3000, 3000, 5));
    assert_eq!(o.destination_rows, 3000);
    assert_eq!(
        o.cursor_after.as_deref(),
        Some("(2024-01-01 00:50:00, 3000)")
    );
    c.assert_equal(false);

    // Updates (to NULL and back) and inserts, then an incremental run.
    c.source_sql("UPDATE {t} SET balance = balance + 0.01, credit_limit = NULL, phone = 'x', updated_at = '2024-02-01 00:00:00' WHERE id % 7 = 0");
    c.source_sql(
        "UPDATE {t} SET notes = 'ünïcödé 🎉', updated_at = '2024-02-01 00:00:01' WHERE id % 11 = 0",
    );
    c.seed(3001, 3500, Ts::Step("2024-02-02"));
    let inc = TableSync::new(c.config(700));
    let o = c.run(&inc).unwrap();
    let changed = (1..=3000u64).filter(|i| i % 7 == 0 || i % 11 == 0).count() as u64;
    assert_eq!(o.rows_read, changed + 500);
    assert_eq!(
        o.cursor_before.as_deref(),
        Some("(2024-01-01 00:50:00, 3000)")
    );
    assert_eq!(o.destination_rows, 3500);
    c.assert_equal(false);
    let o = c.run(&inc).unwrap();
    assert_eq!((o.rows_read, o.batches, o.destination_rows), (0, 0, 3500));

    // A crash after 2 confirmed batches, changes while down, then a resume.
    c.source_sql(
        "UPDATE {t} SET balance = 1.23, updated_at = '2024-03-01 00:00:00' WHERE id % 13 = 0",
    );
    c.seed(3501, 4500, Ts::Step("2024-03-02"));
    let pending = (1..=3500u64).filter(|i| i % 13 == 0).count() as u64 + 1000;
    let err = c
        .run(&TableSync::new(c.config(200)).fail_after_batches(2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("test hook"), "{err}");
    c.source_sql(
        "UPDATE {t} SET name = 'moved', updated_at = '2024-03-03 00:00:00' WHERE id IN (13, 4500)",
    );
    let o = c.run(&TableSync::new(c.config(200))).unwrap();
    assert_eq!(
        o.rows_read,
        pending - 400 + 1,
        "resumed after the 400 confirmed rows; id 13 moved past the cursor"
    );
    c.assert_equal(false);

    // Soft delete.
    c.source_sql("UPDATE {t} SET deleted_at = '2024-04-01 00:00:00', updated_at = '2024-04-01 00:00:00' WHERE id % 17 = 0");
    let o = c.run(&inc).unwrap();
    let soft = (1..=4500u64).filter(|i| i % 17 == 0).count() as u64;
    assert_eq!(o.rows_read, soft);
    assert_eq!(o.destination_rows, 4500 - soft);
    c.assert_equal(false);

    // A new source column.
    match src {
        Src::My => c.source_sql("ALTER TABLE {t} ADD COLUMN extra INT NULL"),
        Src::Pg => c.source_sql("ALTER TABLE {t} ADD COLUMN extra integer NULL"),
    }
    c.source_sql(
        "UPDATE {t} SET extra = id % 9, updated_at = '2024-05-01 00:00:00' WHERE id % 2 = 0",
    );
    let o = c.run(&inc).unwrap();
    assert_eq!(o.columns_added, vec!["extra".to_string()]);
    c.assert_equal(true);

    // Hard deletes, reconciled.
    c.source_sql("DELETE FROM {t} WHERE id % 19 = 0 OR id BETWEEN 100 AND 150");
    let gone = (1..=4500u64)
        .filter(|i| (i % 19 == 0 || (100..=150).contains(i)) && i % 17 != 0)
        .count() as u64;
    let reconciling = TableSync::new(SyncConfig {
        reconcile_every_runs: Some(1),
        ..c.config(700)
    });
    let o = c.run(&reconciling).unwrap();
    assert_eq!(o.rows_hard_deleted, Some(gone));
    assert_eq!(o.destination_rows, 4500 - soft - gone);
    c.assert_equal(true);
    let o = c.run(&reconciling).unwrap();
    assert_eq!(o.rows_hard_deleted, Some(0), "nothing left to reconcile");
    assert_eq!(o.destination_rows, 4500 - soft - gone);
}

/// 5,000 rows on one cursor value across batches, then a `source_query` sync.
fn ties_and_query(src: Src, dst: Dst) {
    let c = Case::new(src, dst);
    c.seed(1, 5000, Ts::Fixed("2024-03-01 12:00:00"));
    let sync = TableSync::new(c.config(700));
    let o = c.run(&sync).unwrap();
    assert_eq!((o.rows_read, o.batches), (5000, 8));
    assert_eq!(c.dest_count("customers"), 5000, "no row written twice");
    c.assert_equal(false);
    c.seed(5001, 5100, Ts::Fixed("2024-03-01 12:00:00"));
    let o = c.run(&sync).unwrap();
    assert_eq!(o.rows_read, 100);
    c.assert_equal(false);

    // source_query: a derived table.
    let query = format!(
        "SELECT id, name, balance, updated_at FROM {} WHERE id % 2 = 0",
        c.src_table()
    );
    let q = TableSync::new(SyncConfig {
        source_table: String::new(),
        source_query: Some(query),
        destination_table: c.dst_table("q"),
        soft_delete_column: None,
        ..c.config(900)
    });
    let o = c.run(&q).unwrap();
    assert_eq!((o.rows_read, o.destination_rows), (2550, 2550));
    c.source_sql(
        "UPDATE {t} SET name = 'renamed', updated_at = '2024-03-02 00:00:00' WHERE id IN (2, 3, 4)",
    );
    let o = c.run(&q).unwrap();
    assert_eq!(o.rows_read, 2, "only the even ids the query returns");
    let cols = ["id", "name", "balance", "updated_at"];
    assert_same_rows(
        &c.source_rows(&cols.join(", "), "WHERE id % 2 = 0"),
        &c.dest_rows(&cols.join(", "), "q"),
        &cols,
    );
}

#[test]
fn mysql_to_postgres_lifecycle() {
    lifecycle(Src::My, Dst::Pg);
}

#[test]
fn mysql_to_postgres_ties_and_query() {
    ties_and_query(Src::My, Dst::Pg);
}

#[test]
fn postgres_to_clickhouse_lifecycle() {
    lifecycle(Src::Pg, Dst::Ch);
}

#[test]
fn postgres_to_clickhouse_ties_and_query() {
    ties_and_query(Src::Pg, Dst::Ch);
}

#[test]
fn postgres_to_postgres_lifecycle() {
    lifecycle(Src::Pg, Dst::Pg);
}

#[test]
fn postgres_to_postgres_ties_and_query() {
    ties_and_query(Src::Pg, Dst::Pg);
}

#[test]
fn mysql_to_clickhouse_reconcile_and_query() {
    // The hot path with reconciliation, and a source_query (general engine).
    let c = Case::new(Src::My, Dst::Ch);
    c.seed(1, 3000, Ts::Step("2024-01-01"));
    let sync = TableSync::new(SyncConfig {
        reconcile_every_runs: Some(2),
        ..c.config(1000)
    });
    let o = c.run(&sync).unwrap();
    assert_eq!(o.rows_hard_deleted, None, "every second run");
    c.source_sql("DELETE FROM {t} WHERE id % 10 = 3");
    let o = c.run(&sync).unwrap();
    assert_eq!(o.rows_hard_deleted, Some(300));
    assert_eq!(o.destination_rows, 2700);
    c.assert_equal(false);
    ties_and_query_on(&c);
}

fn ties_and_query_on(c: &Case) {
    let query = format!(
        "SELECT id, name, status, balance, updated_at FROM {} WHERE id % 2 = 0",
        c.src_table()
    );
    let q = TableSync::new(SyncConfig {
        source_table: String::new(),
        source_query: Some(query),
        destination_table: c.dst_table("q"),
        soft_delete_column: None,
        mode: SyncMode::Full,
        ..c.config(400)
    });
    let o = c.run(&q).unwrap();
    assert_eq!(o.rows_read, 1500);
    let cols = ["id", "name", "status", "balance", "updated_at"];
    assert_same_rows(
        &c.source_rows(&cols.join(", "), "WHERE id % 2 = 0"),
        &c.dest_rows(&cols.join(", "), "q"),
        &cols,
    );
    // The ENUM label set came through the query's column metadata.
    let t = c.env.ch_rows(&format!(
        "SELECT type FROM system.columns WHERE database = '{}' AND table = 'q' AND name = 'status'",
        c.env.name
    ));
    assert_eq!(
        t[0][0].as_deref(),
        Some("Enum8('' = 0, 'active' = 1, 'inactive' = 2, 'banned' = 3)")
    );
}

impl Case {
    /// Runs a sync and returns its outcome and log lines.
    fn run_logged(&self, sync: &TableSync) -> (anyhow::Result<SyncOutcome>, Vec<String>) {
        let src = match self.src {
            Src::My => SourceRef::Mysql(&self.env.src),
            Src::Pg => SourceRef::Postgres(&self.pg.res),
        };
        let dst = match self.dst {
            Dst::Ch => DestRef::Clickhouse(&self.env.dst),
            Dst::Pg => DestRef::Postgres(&self.pg.res),
        };
        let mut lines = Vec::new();
        let r = sync.sync(
            src,
            dst,
            self.env.kv.as_ref(),
            "reporting/test",
            &CancelToken::new(),
            &mut |l| lines.push(l.to_string()),
        );
        (r, lines)
    }

    /// Whether the destination table exists.
    fn dest_exists(&self, table: &str) -> bool {
        match self.dst {
            Dst::Ch => {
                self.env.ch_count(&format!(
                    "SELECT count() FROM system.tables WHERE database = '{}' AND name = '{table}'",
                    self.env.name
                )) == 1
            }
            Dst::Pg => {
                self.pg.count(&format!(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}' AND table_name = 'dst_{table}'",
                    self.pg.schema
                )) == 1
            }
        }
    }
}

/// A full sync that crashes after two confirmed batches resumes into its staging table (the
/// destination keeps its previous content until then), reads only the rest, and swaps the
/// staging table in once; rows changed after the full sync started are taken by the next
/// incremental run.
fn full_resume(src: Src, dst: Dst) {
    let c = Case::new(src, dst);
    c.seed(1, 3000, Ts::Step("2024-01-01"));
    let full = |fail: Option<u64>| {
        let s = TableSync::new(SyncConfig {
            mode: SyncMode::Full,
            ..c.config(500)
        });
        match fail {
            Some(n) => s.fail_after_batches(n),
            None => s,
        }
    };
    let o = c.run(&full(None)).unwrap();
    assert_eq!((o.rows_read, o.batches), (3000, 6));
    // Hard deletes at the source: a full sync is what removes them.
    c.source_sql("DELETE FROM {t} WHERE id % 10 = 1");
    let err = c.run(&full(Some(2))).unwrap_err().to_string();
    assert!(err.contains("test hook"), "{err}");
    assert_eq!(
        c.dest_count("customers"),
        3000,
        "the destination keeps its previous content until the swap"
    );
    assert_eq!(
        c.dest_count("customers__full_sync"),
        1000,
        "two batches staged"
    );
    // Changes while down: id 5 (already staged) and id 2500 (not yet) move past the upper
    // bound of the full sync, and new rows arrive.
    c.source_sql(
        "UPDATE {t} SET name = 'late', updated_at = '2024-06-01 00:00:00' WHERE id IN (5, 2500)",
    );
    c.seed(3001, 3100, Ts::Step("2024-07-01"));
    let (o, log) = c.run_logged(&full(None));
    let o = o.unwrap();
    assert!(
        log.iter()
            .any(|l| l.contains("resuming the unfinished full sync")),
        "{log:?}"
    );
    assert_eq!(
        o.rows_read,
        2700 - 1000 - 1,
        "resumed after the 1,000 staged rows; id 2500 is past the upper bound"
    );
    assert_eq!(o.upper_bound.as_deref(), Some("2024-01-01 00:50:00"));
    assert_eq!(o.destination_rows, 2699);
    assert_eq!(c.dest_count("customers"), 2699, "every key written once");
    assert!(!c.dest_exists("customers__full_sync"), "staging swapped in");
    assert!(!c.dest_exists("customers__old_sync"), "old table dropped");
    // The next incremental run takes what changed since the full sync started.
    let o = c.run(&TableSync::new(c.config(500))).unwrap();
    assert_eq!(
        o.cursor_before.as_deref(),
        Some("(2024-01-01 00:50:00, 3000)")
    );
    assert_eq!(o.rows_read, 2 + 100);
    assert_eq!(o.destination_rows, 2800);
    c.assert_equal(false);
}

/// `lookback_seconds` on the general engine: each run re-reads the window before the saved
/// cursor (idempotently) and so takes a late row whose cursor value is older than the saved
/// cursor but within the window, with a lower primary key.
fn lookback(src: Src, dst: Dst) {
    let c = Case::new(src, dst);
    // updated_at = 2024-01-01 00:00:00 + id seconds: 00:00:01 .. 00:16:40.
    c.seed(1, 1000, Ts::Step("2024-01-01"));
    let sync = TableSync::new(SyncConfig {
        lookback_seconds: Some(120),
        ..c.config(300)
    });
    let o = c.run(&sync).unwrap();
    assert_eq!(o.rows_read, 1000);
    assert_eq!(
        o.cursor_after.as_deref(),
        Some("(2024-01-01 00:16:40, 1000)")
    );
    // Late rows: id 10 stamped 40 s before the saved cursor (inside the window), id 20 400 s
    // before (outside it).
    c.source_sql("UPDATE {t} SET name = 'late' , updated_at = '2024-01-01 00:16:00' WHERE id = 10");
    c.source_sql(
        "UPDATE {t} SET name = 'too late', updated_at = '2024-01-01 00:10:00' WHERE id = 20",
    );
    let o = c.run(&sync).unwrap();
    // The window [00:14:40, 00:16:40] holds ids 880..=1000, plus id 10.
    assert_eq!(o.rows_read, 121 + 1);
    assert_eq!(o.destination_rows, 1000, "re-read rows replace themselves");
    let o = c.run(&sync).unwrap();
    assert_eq!(o.rows_read, 122, "the window is re-read on every run");
    assert_eq!(o.destination_rows, 1000);
    let names = c.dest_rows("id, name", "customers");
    assert_eq!(names[9][1].as_deref(), Some("late"));
    assert_ne!(
        names[19][1].as_deref(),
        Some("too late"),
        "outside the lookback window"
    );
    if dst == Dst::Pg {
        assert_eq!(c.dest_count("customers"), 1000);
    }
    // Once its cursor moves past the saved one, id 20 arrives as well.
    c.source_sql("UPDATE {t} SET updated_at = '2024-01-01 00:17:00' WHERE id = 20");
    let o = c.run(&sync).unwrap();
    assert_eq!(o.rows_read, 123);
    assert_eq!(o.cursor_after.as_deref(), Some("(2024-01-01 00:17:00, 20)"));
    c.assert_equal(false);
}

#[test]
fn mysql_to_postgres_full_resume() {
    full_resume(Src::My, Dst::Pg);
}

#[test]
fn postgres_to_clickhouse_full_resume() {
    full_resume(Src::Pg, Dst::Ch);
}

#[test]
fn postgres_to_postgres_full_resume() {
    full_resume(Src::Pg, Dst::Pg);
}

#[test]
fn mysql_to_postgres_lookback() {
    lookback(Src::My, Dst::Pg);
}

#[test]
fn postgres_to_clickhouse_lookback() {
    lookback(Src::Pg, Dst::Ch);
}

#[test]
fn postgres_to_postgres_lookback() {
    lookback(Src::Pg, Dst::Pg);
}

type Rows = Vec<Vec<Option<String>>>;

/// Words whose byte order differs from collation order: mixed case, accents, other scripts,
/// quotes and backslashes.
const WORDS: &[&str] = &[
    "apple",
    "Banana",
    "cherry",
    "Zebra",
    "zulu",
    "éclair",
    "Émile",
    "ångström",
    "Ärger",
    "ösel",
    "Øre",
    "straße",
    "ñandú",
    "日本",
    "中文",
    "O'Brien",
    "back\\slash",
    "Ω",
    "a b",
    "a_b",
    "ABC",
    "abd",
];

/// Regions of a latin1 (MySQL: cp1252) column, with cp1252's `€` and `Ÿ`, whose byte order
/// differs from their UTF-8 order.
const REGIONS: &[&str] = &[
    "Åland", "Ärø", "Zürich", "zug", "Bern", "basel", "Évian", "évora", "Øst", "ñu", "O'Neil",
    "€uro", "Ÿpres", "abc",
];

impl Case {
    fn src_t(&self, table: &str) -> String {
        match self.src {
            Src::My => table.into(),
            Src::Pg => self.pg.t(table),
        }
    }

    /// Inserts rows through parameters (no quoting), `updated_at` = 2024-01-01 + `secs`.
    fn insert(&self, sql_my: &str, sql_pg: &str, rows: &[(String, i32, i32)]) {
        match self.src {
            Src::My => {
                use mysql::prelude::Queryable;
                let mut conn = self.env.src.connection().unwrap();
                conn.exec_batch(sql_my, rows.iter().map(|(k, n, s)| (k, n, s)))
                    .unwrap();
            }
            Src::Pg => {
                let mut conn = self.pg.res.connection().unwrap();
                let sql = sql_pg.replace("{s}", &self.pg.schema);
                for (k, n, s) in rows {
                    conn.execute(&sql, &[k, n, s]).unwrap();
                }
            }
        }
    }

    /// Rows of the source and of the live destination as text, sorted by bytes.
    fn sorted_pair(&self, table: &str, cols: &str) -> (Rows, Rows) {
        let sql = format!("SELECT {cols} FROM {}", self.src_t(table));
        let mut s = match self.src {
            Src::My => self.env.mysql_rows(&sql),
            Src::Pg => self.pg.rows(&sql),
        };
        let mut d = match self.dst {
            Dst::Ch => self.env.ch_rows(&format!(
                "SELECT {cols} FROM `{}`.`{table}_dedup`",
                self.env.name
            )),
            Dst::Pg => self
                .pg
                .rows(&format!("SELECT {cols} FROM {}", self.dst_table(table))),
        };
        s.sort();
        d.sort();
        (s, d)
    }
}

/// Hard-delete reconciliation with a text primary key and a composite (text, integer) one,
/// whose values sort differently by collation and by bytes: no key is wrongly deleted, and
/// the deleted ones (and a key that only changed case) are.
fn text_keys(src: Src, dst: Dst) {
    let c = Case::new(src, dst);
    match src {
        Src::My => c.env.mysql(&[
            "CREATE TABLE tk (code VARCHAR(40) NOT NULL PRIMARY KEY, v INT NOT NULL, updated_at DATETIME NOT NULL,
               KEY (updated_at, code)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
            "CREATE TABLE tk2 (region VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL, n INT NOT NULL,
               v INT NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (region, n), KEY (updated_at, region, n))
               DEFAULT CHARSET=utf8mb4",
        ]),
        Src::Pg => {
            let s = &c.pg.schema;
            c.pg.exec(&[
                &format!("CREATE TABLE {s}.tk (code varchar(40) COLLATE \"und-x-icu\" PRIMARY KEY, v integer NOT NULL, updated_at timestamp(0) NOT NULL)"),
                &format!("CREATE TABLE {s}.tk2 (region text COLLATE \"en-x-icu\" NOT NULL, n integer NOT NULL, v integer NOT NULL, updated_at timestamp(0) NOT NULL, PRIMARY KEY (region, n))"),
            ]);
        }
    }
    let mut words: Vec<&str> = WORDS.to_vec();
    if src == Src::Pg {
        // Case-sensitive keys: both spellings at once.
        words.extend(["APPLE", "Zulu", "Abc"]);
    }
    let keys: Vec<(String, i32, i32)> = words
        .iter()
        .flat_map(|w| (0..4).map(move |i| format!("{w}-{i}")))
        .enumerate()
        .map(|(i, k)| (k, i as i32, i as i32))
        .collect();
    c.insert(
        "INSERT INTO tk VALUES (?, ?, TIMESTAMP('2024-01-01') + INTERVAL ? SECOND)",
        "INSERT INTO {s}.tk VALUES ($1, $2, TIMESTAMP '2024-01-01' + $3::int * interval '1 second')",
        &keys,
    );
    let keys2: Vec<(String, i32, i32)> = REGIONS
        .iter()
        .flat_map(|r| (1..=5).map(move |n| (r.to_string(), n)))
        .enumerate()
        .map(|(i, (r, n))| (r, n, i as i32))
        .collect();
    c.insert(
        "INSERT INTO tk2 VALUES (?, ?, 0, TIMESTAMP('2024-01-01') + INTERVAL ? SECOND)",
        "INSERT INTO {s}.tk2 VALUES ($1, $2, 0, TIMESTAMP '2024-01-01' + $3::int * interval '1 second')",
        &keys2,
    );
    for (table, pk, cols, n) in [
        ("tk", vec!["code"], "code, v", keys.len() as u64),
        (
            "tk2",
            vec!["region", "n"],
            "region, n, v",
            keys2.len() as u64,
        ),
    ] {
        // Pages of 7 keys: the keyset comparison of each side is exercised, not only the sort.
        let sync = TableSync::new(SyncConfig {
            reconcile_every_runs: Some(1),
            batch_size: 20,
            ..SyncConfig::incremental(
                "src",
                &c.src_t(table),
                "dst",
                &c.dst_table(table),
                "updated_at",
                &pk,
            )
        })
        .page_rows(7);
        let o = c.run(&sync).unwrap();
        assert_eq!(o.rows_read, n, "{table}");
        assert_eq!(
            o.rows_hard_deleted,
            Some(0),
            "{table}: no key wrongly deleted"
        );
        assert_eq!(o.destination_rows, n, "{table}");
        if dst == Dst::Pg {
            // A destination key column whose collation is not byte order either.
            let (col, ty) = match (table, src) {
                ("tk", _) => ("code", "character varying(40)"),
                (_, Src::My) => ("region", "character varying(20)"),
                (_, Src::Pg) => ("region", "text"),
            };
            c.pg.exec(&[&format!(
                "ALTER TABLE {} ALTER COLUMN {col} TYPE {ty} COLLATE \"und-x-icu\"",
                c.dst_table(table)
            )]);
            let o = c.run(&sync).unwrap();
            assert_eq!((o.rows_read, o.rows_hard_deleted), (0, Some(0)), "{table}");
        }
        let (s, d) = c.sorted_pair(table, cols);
        assert_eq!(s, d, "{table}");

        // Deletes, and a key that only changes case (a new key by bytes).
        let (del, rename) = match table {
            "tk" => (
                "DELETE FROM {t} WHERE v % 3 = 0",
                "UPDATE {t} SET code = 'ÉCLAIR-0', updated_at = '2024-02-01 00:00:00' WHERE code = 'éclair-0'",
            ),
            _ => (
                "DELETE FROM {t} WHERE n = 2 OR region IN ('€uro', 'Ÿpres', 'Zürich')",
                "UPDATE {t} SET region = 'ZUG', updated_at = '2024-02-01 00:00:00' WHERE region = 'zug' AND n = 1",
            ),
        };
        let before = s.len() as u64;
        let run_sql = |sql: &str| {
            let sql = sql.replace("{t}", &c.src_t(table));
            match src {
                Src::My => c.env.mysql(&[&sql]),
                Src::Pg => c.pg.exec(&[&sql]),
            }
        };
        run_sql(del);
        run_sql(rename);
        let (s, _) = c.sorted_pair(table, cols);
        let deleted = before - s.len() as u64;
        assert!(deleted > 10, "{table}: {deleted}");
        let o = c.run(&sync).unwrap();
        assert_eq!(o.rows_read, 1, "{table}: the renamed key");
        assert_eq!(
            o.rows_hard_deleted,
            Some(deleted + 1),
            "{table}: the deleted keys and the old spelling of the renamed one"
        );
        let (s, d) = c.sorted_pair(table, cols);
        assert_eq!(s, d, "{table}");
        let o = c.run(&sync).unwrap();
        assert_eq!(o.rows_hard_deleted, Some(0), "{table}: nothing left");
        assert_eq!(o.destination_rows, s.len() as u64, "{table}");
    }
}

#[test]
fn mysql_to_clickhouse_text_keys() {
    text_keys(Src::My, Dst::Ch);
}

#[test]
fn mysql_to_postgres_text_keys() {
    text_keys(Src::My, Dst::Pg);
}

#[test]
fn postgres_to_clickhouse_text_keys() {
    text_keys(Src::Pg, Dst::Ch);
}

#[test]
fn postgres_to_postgres_text_keys() {
    text_keys(Src::Pg, Dst::Pg);
}

/// A destination table created before ENUMs mapped to `Enum8` holds them as `String`: an
/// incremental run keeps writing the labels into that `String` column, on the hot path and on
/// the general engine (`source_query`).
#[test]
fn mysql_to_clickhouse_enum_kept_as_string() {
    let c = Case::new(Src::My, Dst::Ch);
    c.seed(1, 100, Ts::Step("2024-01-01"));
    let query = "SELECT id, name, status, updated_at FROM customers";
    let table_sync = TableSync::new(c.config(1000));
    let query_sync = TableSync::new(SyncConfig {
        source_table: String::new(),
        source_query: Some(query.into()),
        destination_table: "q".into(),
        soft_delete_column: None,
        ..c.config(1000)
    });
    for (day, sync, table) in [(1, &table_sync, "customers"), (2, &query_sync, "q")] {
        c.run(sync).unwrap();
        let type_of_status = || {
            c.env.ch_rows(&format!(
                "SELECT type FROM system.columns WHERE database = '{}' AND table = '{table}' AND name = 'status'",
                c.env.name
            ))[0][0]
                .clone()
                .unwrap()
        };
        assert!(type_of_status().starts_with("Enum8("), "{table}");
        c.env
            .dst
            .execute(&format!(
                "ALTER TABLE `{}`.`{table}` MODIFY COLUMN status String",
                c.env.name
            ))
            .unwrap();
        c.source_sql(
            &format!("UPDATE {{t}} SET status = 'banned', updated_at = NOW() + INTERVAL {day} DAY WHERE id <= 10"));
        let o = c.run(sync).unwrap();
        assert_eq!(o.rows_read, 10, "{table}");
        assert_eq!(type_of_status(), "String", "{table}");
        let cols = ["id", "name", "status", "updated_at"];
        assert_same_rows(
            &c.source_rows(&cols.join(", "), ""),
            &c.dest_rows(&cols.join(", "), table),
            &cols,
        );
    }
}

/// Postgres `±infinity` dates and timestamps: kept by a Postgres destination, an invalid date
/// (NULL, or the type's minimum when NOT NULL) in ClickHouse; `-infinity` as a cursor value is read
/// first; `infinity` as the cursor's maximum fails an incremental run with a message that
/// says what to do, and leaves the cursor alone.
#[test]
fn postgres_infinity_dates() {
    for dst in [Dst::Ch, Dst::Pg] {
        let c = Case::new(Src::Pg, dst);
        let s = &c.pg.schema;
        c.pg.exec(&[
            &format!("CREATE TABLE {s}.inf (id int PRIMARY KEY, d date NULL, dn date NOT NULL, t timestamp NULL, tz timestamptz NULL, updated_at timestamp NOT NULL)"),
            &format!("INSERT INTO {s}.inf VALUES
                (1, 'infinity', '-infinity', 'infinity', '-infinity', '2024-01-01'),
                (2, '2024-01-02', '2024-01-02', '2024-01-02 01:02:03', '2024-01-02 01:02:03+00', '2024-01-02'),
                (3, NULL, '2024-01-03', NULL, NULL, '-infinity')"),
        ]);
        let sync = TableSync::new(SyncConfig {
            batch_size: 1,
            lookback_seconds: Some(60),
            ..SyncConfig::incremental(
                "src",
                &c.pg.t("inf"),
                "dst",
                &c.dst_table("inf"),
                "updated_at",
                &["id"],
            )
        });
        let o = c.run(&sync).unwrap();
        assert_eq!((o.rows_read, o.batches), (3, 3), "{dst:?}");
        let (rows, invalid) = match dst {
            Dst::Ch => (
                c.env.ch_rows(&format!(
                    "SELECT id, d, toInt32(dn), t, tz FROM `{}`.inf_dedup ORDER BY id",
                    c.env.name
                )),
                5, // and row 3's updated_at
            ),
            Dst::Pg => (
                c.pg.rows(&format!(
                    "SELECT id, d, dn, t, tz AT TIME ZONE 'UTC' FROM {} ORDER BY id",
                    c.dst_table("inf")
                )),
                0,
            ),
        };
        assert_eq!(o.invalid_dates, invalid, "{dst:?}");
        let row1: Vec<Option<&str>> = rows[0].iter().map(|v| v.as_deref()).collect();
        match dst {
            // `-infinity` in the NOT NULL date: the type's minimum (1970-01-01 for `Date`).
            Dst::Ch => assert_eq!(
                row1,
                [
                    Some("1"),
                    None,
                    Some(sync_support::ch_date_min_days().to_string().as_str()),
                    None,
                    None
                ]
            ),
            Dst::Pg => assert_eq!(
                row1,
                [
                    Some("1"),
                    Some("infinity"),
                    Some("-infinity"),
                    Some("infinity"),
                    Some("-infinity")
                ]
            ),
        }
        // A `timestamp` is DateTime64(6) where ClickHouse has it.
        let t = if dst == Dst::Ch && sync_support::ch_caps().datetime64 {
            "2024-01-02 01:02:03.000000"
        } else {
            "2024-01-02 01:02:03"
        };
        assert_eq!(rows[1][3].as_deref(), Some(t));
        assert_eq!(rows.len(), 3);
        let o = c.run(&sync).unwrap();
        assert_eq!(
            o.rows_read, 1,
            "{dst:?}: the lookback window of the last row"
        );

        c.pg.exec(&[&format!(
            "UPDATE {s}.inf SET updated_at = 'infinity' WHERE id = 2"
        )]);
        let before = c.env.saved_state();
        let e = c.run(&sync).unwrap_err().to_string();
        assert!(
            e.contains("cursor column `updated_at` holds `infinity`") && e.contains("source_query"),
            "{e}"
        );
        assert_eq!(c.env.saved_state(), before, "the cursor did not move");
    }
}

/// A source column whose type changed: the incremental sync resyncs every row into a staging
/// table and swaps it in (general engine; the hot path's case is in sync_mysql_clickhouse).
fn type_change_resync(src: Src, dst: Dst) {
    let c = Case::new(src, dst);
    c.seed(1, 1500, Ts::Step("2024-01-01"));
    let inc = TableSync::new(c.config(400));
    assert_eq!(c.run(&inc).unwrap().rows_read, 1500);
    c.source_sql(match src {
        Src::My => "ALTER TABLE {t} MODIFY balance DECIMAL(16,4) NOT NULL",
        Src::Pg => "ALTER TABLE {t} ALTER COLUMN balance TYPE numeric(16,4)",
    });
    c.source_sql("UPDATE {t} SET balance = 123456.7891, updated_at = '2025-01-01' WHERE id = 7");
    let o = c.run(&inc).unwrap();
    assert_eq!(o.rows_read, 1500, "every row again");
    c.assert_equal(false);
    let o = c.run(&inc).unwrap();
    assert_eq!(o.rows_read, 0);
    assert_eq!(o.cursor_before.as_deref(), Some("(2025-01-01 00:00:00, 7)"));
}

#[test]
fn mysql_to_postgres_type_change_resync() {
    type_change_resync(Src::My, Dst::Pg);
}

#[test]
fn postgres_to_clickhouse_type_change_resync() {
    type_change_resync(Src::Pg, Dst::Ch);
}
