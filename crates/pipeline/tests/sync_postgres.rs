//! The table sync with Postgres as source and as destination, against the real servers
//! (PostgreSQL 127.0.0.1:5432, MariaDB 127.0.0.1:3306, ClickHouse http://127.0.0.1:8123):
//! MySQL → Postgres, Postgres → ClickHouse, Postgres → Postgres, plus `source_query` and
//! hard-delete reconciliation on MySQL → ClickHouse. Each test has its own Postgres schema,
//! MariaDB database and ClickHouse database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

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
            v.push((
                "to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
                if pg_dst {
                    "to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                } else {
                    "toString(seen)"
                },
            ));
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
