//! The table sync MariaDB → ClickHouse against the real servers (127.0.0.1:3306 and
//! `DAGSTER_TEST_CLICKHOUSE_URL`, default http://127.0.0.1:8123): exactness, resume after a crash, cursor ties, errors, types,
//! schema evolution, soft deletes and the full mode's swap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

use dagster_pipeline::assets::table_sync::{SyncConfig, SyncMode};
use sync_support::{assert_same, Env};

const CUSTOMERS: &str = "CREATE TABLE customers (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  phone VARCHAR(32) NULL,
  status ENUM('active','inactive','banned') NOT NULL,
  balance DECIMAL(12,2) NOT NULL,
  credit_limit DECIMAL(12,2) NULL,
  is_vip TINYINT(1) NOT NULL,
  notes TEXT NULL,
  updated_at DATETIME NOT NULL,
  KEY idx_updated (updated_at, id)
) DEFAULT CHARSET=utf8mb4";

const COLS: &[&str] = &[
    "id",
    "name",
    "phone",
    "status",
    "balance",
    "credit_limit",
    "is_vip",
    "notes",
    "updated_at",
];

fn seed(env: &Env, from: u64, to: u64, updated_at: &str) {
    env.mysql(&[&format!(
        "INSERT INTO customers SELECT seq, CONCAT(ELT(1 + seq % 3, 'Ana', 'Müller', 'O''Brien'), ' ', seq),
           IF(seq % 5 = 0, NULL, CONCAT('+1-555-', seq)), ELT(1 + seq % 3, 'active', 'inactive', 'banned'),
           (seq % 100000) / 100.0, IF(seq % 3 = 0, NULL, (seq % 5000) * 1.25), seq % 2,
           IF(seq % 10 = 0, CONCAT('note ', seq, ' — 🎉'), NULL), {updated_at}
         FROM seq_{from}_to_{to}"
    )]);
}

fn config(batch: usize) -> SyncConfig {
    SyncConfig {
        batch_size: batch,
        ..SyncConfig::incremental("", "customers", "", "customers", "updated_at", &["id"])
    }
}

#[test]
fn full_then_incremental_matches_the_source() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        3000,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    let full = env.sync(SyncConfig {
        mode: SyncMode::Full,
        ..config(700)
    });
    let o = env.run(&full).unwrap();
    assert_eq!(o.rows_read, 3000);
    assert_eq!(o.rows_written, 3000);
    assert_eq!(o.batches, 5);
    assert_eq!(o.destination_rows, 3000);
    assert_eq!(
        o.cursor_after.as_deref(),
        Some("(2024-01-01 00:50:00, 3000)")
    );
    assert_same(&env, "customers", COLS, "id");
    // No staging table left behind.
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{}' AND name LIKE '%sync%'",
            env.name
        )),
        0
    );

    // Updates (including to NULL and back) and inserts, then an incremental run.
    env.mysql(&[
        "UPDATE customers SET balance = balance + 0.01, credit_limit = NULL, phone = 'x', updated_at = '2024-02-01 00:00:00' WHERE id % 7 = 0",
        "UPDATE customers SET notes = 'ünïcödé 🎉', updated_at = '2024-02-01 00:00:01' WHERE id % 11 = 0",
    ]);
    seed(
        &env,
        3001,
        3500,
        "TIMESTAMP('2024-02-02') + INTERVAL seq SECOND",
    );
    let inc = env.sync(config(700));
    let o = env.run(&inc).unwrap();
    let changed = (1..=3000u64).filter(|i| i % 7 == 0 || i % 11 == 0).count() as u64;
    assert_eq!(o.rows_read, changed + 500);
    assert_eq!(
        o.cursor_before.as_deref(),
        Some("(2024-01-01 00:50:00, 3000)")
    );
    assert_eq!(o.destination_rows, 3500);
    assert_same(&env, "customers", COLS, "id");

    // Nothing new: nothing read, same data.
    let o = env.run(&inc).unwrap();
    assert_eq!(o.rows_read, 0);
    assert_eq!(o.batches, 0);
    assert_eq!(o.destination_rows, 3500);
    assert_same(&env, "customers", COLS, "id");

    // A second full run replaces the table (swap) and stays equal.
    let o = env.run(&full).unwrap();
    assert_eq!(o.rows_read, 3500);
    assert_same(&env, "customers", COLS, "id");
    assert_eq!(
        env.ch_count(&format!("SELECT count() FROM `{}`.customers", env.name)),
        3500,
        "the full sync writes a fresh table"
    );
}

#[test]
fn rows_sharing_one_cursor_value_arrive_exactly_once() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(&env, 1, 5000, "'2024-03-01 12:00:00'");
    let sync = env.sync(config(700));
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 5000);
    assert_eq!(o.batches, 8);
    assert_eq!(
        env.ch_count(&format!("SELECT count() FROM `{}`.customers", env.name)),
        5000,
        "no row written twice"
    );
    assert_eq!(
        env.ch_count(&format!(
            "SELECT uniqExact(id) FROM `{}`.customers",
            env.name
        )),
        5000
    );
    assert_same(&env, "customers", COLS, "id");
    // More rows with the same cursor value and a higher id: taken next time, and only them.
    seed(&env, 5001, 5100, "'2024-03-01 12:00:00'");
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 100);
    assert_same(&env, "customers", COLS, "id");
}

#[test]
fn a_crashed_sync_resumes_from_its_last_confirmed_batch() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        4000,
        "TIMESTAMP('2024-01-01') + INTERVAL (seq DIV 3) SECOND",
    );
    // The first run is a snapshot in primary key order: it fails after three batches.
    let crashing = env.sync(config(500)).fail_after_batches(3);
    let err = env.run(&crashing).unwrap_err().to_string();
    assert!(err.contains("test hook"), "{err}");
    let saved = env.saved_state().unwrap();
    assert!(
        saved.contains("\"full\":{"),
        "an unfinished snapshot: {saved}"
    );
    // Three confirmed batches; the fourth was streamed while the third was being confirmed and
    // may have reached ClickHouse too (an INSERT cut off by a crash is not reliably discarded
    // by ClickHouse 18.x): its rows are after the saved key and will be sent again.
    let written = env.ch_count(&format!("SELECT count() FROM `{}`.customers", env.name));
    assert!((1500..=2000).contains(&written), "{written} rows written");
    // Rows change while the sync is down: above the snapshot's upper key now.
    env.mysql(&["UPDATE customers SET balance = 1.23, updated_at = '2025-01-01' WHERE id IN (10, 2000, 3999)"]);
    let sync = env.sync(config(500));
    let o = env.run(&sync).unwrap();
    assert_eq!(
        o.rows_read,
        2500 - 2,
        "the snapshot resumed after key 1500; ids 2000 and 3999 moved above its upper key"
    );
    assert_eq!(o.cursor_before, None);
    assert_eq!(
        o.cursor_after.as_deref(),
        Some("(2024-01-01 00:22:13, 4000)")
    );
    // The next run takes the three moved rows, once.
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 3);
    assert_same(&env, "customers", COLS, "id");

    // An incremental run (every row moved) fails after three batches and resumes.
    env.mysql(&["UPDATE customers SET updated_at = updated_at + INTERVAL 2 YEAR"]);
    let err = env.run(&crashing).unwrap_err().to_string();
    assert!(err.contains("test hook"), "{err}");
    let saved = env.saved_state().unwrap();
    assert!(saved.contains("\"full\":null"), "{saved}");
    env.mysql(&[
        "UPDATE customers SET balance = 3.21, updated_at = '2030-01-01' WHERE id IN (5, 3000)",
    ]);
    let o = env.run(&sync).unwrap();
    assert_eq!(
        o.rows_read,
        2500 + 1,
        "resumed after row 1500; id 5 moved past the cursor"
    );
    assert_same(&env, "customers", COLS, "id");

    // Full mode: killed after 2 batches, then resumed into the same staging table.
    let crashing_full = env
        .sync(SyncConfig {
            mode: SyncMode::Full,
            ..config(1000)
        })
        .fail_after_batches(2);
    assert!(env.run(&crashing_full).is_err());
    // Readers still see the complete previous table.
    assert_same(&env, "customers", COLS, "id");
    let o = env
        .run(&env.sync(SyncConfig {
            mode: SyncMode::Full,
            ..config(1000)
        }))
        .unwrap();
    assert_eq!(o.rows_read, 2000, "resumed after 2 of 4 batches");
    assert_same(&env, "customers", COLS, "id");
}

#[test]
fn errors_name_the_problem_and_leave_the_cursor_alone() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        100,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    env.run(&env.sync(config(50))).unwrap();
    let before = env.saved_state().unwrap();

    let e = env
        .run(&env.sync(SyncConfig {
            source_table: "no_such_table".into(),
            ..config(50)
        }))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no_such_table") && e.contains("not found") && e.contains("127.0.0.1:3306"),
        "{e}"
    );

    let e = env
        .run(&env.sync(SyncConfig {
            cursor_column: Some("modified".into()),
            ..config(50)
        }))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cursor column `modified` not found") && e.contains("customers"),
        "{e}"
    );
    assert_eq!(env.saved_state().unwrap(), before);

    // Unreachable MySQL host.
    let mut s = sync_support::mysql_settings(&env.name);
    s.port = 1;
    s.connect_timeout = std::time::Duration::from_secs(2);
    let bad = dagster_pipeline::resources::MysqlResource::new("mysql_replica", s).unwrap();
    let e = env
        .sync(config(50))
        .run(
            &bad,
            &env.dst,
            env.kv.as_ref(),
            "reporting/test",
            &Default::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mysql_replica") && e.contains("127.0.0.1:1") && e.contains("cannot connect"),
        "{e}"
    );

    // Wrong password: the message names the resource and address, never the password.
    let mut s = sync_support::mysql_settings(&env.name);
    s.password = Some("s3cr3t-pw".into());
    let bad = dagster_pipeline::resources::MysqlResource::new("mysql_replica", s).unwrap();
    let e = env
        .sync(config(50))
        .run(
            &bad,
            &env.dst,
            env.kv.as_ref(),
            "reporting/test",
            &Default::default(),
            &mut |_| {},
        )
        .unwrap_err();
    let text = format!("{e:#} {e:?}");
    assert!(
        text.contains("mysql_replica")
            && text.contains("127.0.0.1:3306")
            && text.contains("Access denied"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t-pw"), "{text}");

    // ClickHouse: wrong password and unreachable.
    let mut c = sync_support::ch_settings(&env.name);
    c.password = Some("s3cr3t-pw".into());
    let bad = dagster_pipeline::resources::ClickhouseResource::new("reporting", c).unwrap();
    let e = env
        .sync(config(50))
        .run(
            &env.src,
            &bad,
            env.kv.as_ref(),
            "reporting/test",
            &Default::default(),
            &mut |_| {},
        )
        .unwrap_err();
    let text = format!("{e:#} {e:?}");
    assert!(
        text.contains("reporting")
            && text.contains(&sync_support::ch_addr())
            && text.contains("password"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t-pw"), "{text}");
    let mut c = sync_support::ch_settings(&env.name);
    c.url = "http://127.0.0.1:1".into();
    let bad = dagster_pipeline::resources::ClickhouseResource::new("reporting", c).unwrap();
    let e = env
        .sync(config(50))
        .run(
            &env.src,
            &bad,
            env.kv.as_ref(),
            "reporting/test",
            &Default::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("reporting") && e.contains("127.0.0.1:1") && e.contains("cannot connect"),
        "{e}"
    );

    assert_eq!(
        env.saved_state().unwrap(),
        before,
        "the cursor did not move"
    );
}

#[test]
fn types_round_trip_exactly() {
    let env = Env::new();
    env.mysql(&[
        "CREATE TABLE t (
           id INT NOT NULL PRIMARY KEY,
           i8 TINYINT NULL, u8 TINYINT UNSIGNED NULL, i16 SMALLINT NULL, u16 SMALLINT UNSIGNED NULL,
           i24 MEDIUMINT NULL, u24 MEDIUMINT UNSIGNED NULL, i32 INT NULL, u32 INT UNSIGNED NULL,
           i64 BIGINT NULL, u64 BIGINT UNSIGNED NULL,
           d_small DECIMAL(5,2) NULL, d_mid DECIMAL(18,6) NULL, d_big DECIMAL(38,10) NULL, d_huge DECIMAL(65,4) NULL,
           f FLOAT NULL, g DOUBLE NULL, flag BOOLEAN NULL,
           dt DATE NULL, ts DATETIME NULL, tsf DATETIME(3) NULL, tstamp TIMESTAMP NULL DEFAULT NULL,
           e ENUM('a','ü') NULL, st SET('x','y') NULL, j JSON NULL, c CHAR(3) NULL, v VARCHAR(20) NULL,
           b BLOB NULL, bits BIT(10) NULL, tm TIME NULL, yr YEAR NULL,
           updated_at DATETIME NOT NULL
         ) DEFAULT CHARSET=utf8mb4",
        "INSERT INTO t VALUES
          (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
           -9223372036854775808, 18446744073709551615,
           -999.99, 123456789012.123456, 1234567890123456789012345678.0123456789, 12345678901234567890123456789012345678901234567890.1234,
           1.5, 2.2250738585072014e-308, TRUE,
           '2024-02-29', '2038-01-19 03:14:07', '2024-01-01 00:00:00.123', '2024-06-01 12:00:00',
           'ü', 'x,y', '{\"k\": [1, \"é\"]}', 'abc', 'Grüße 🎉 \"q\" \\t', X'00FF10', b'1010101010', '-838:59:59', 2155,
           '2024-01-01'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-01-01'),
          (3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, FALSE, '1970-01-01', '1970-01-01 00:00:00',
           '1999-12-31 23:59:59.999', '2000-01-01 00:00:00', 'a', '', '[]', '', '', '', b'0', '00:00:00', 1901,
           '2024-01-01')",
    ]);
    // A zero date needs a non-strict session.
    {
        use mysql::prelude::Queryable;
        let mut conn = env.src.connection().unwrap();
        conn.query_drop("SET SESSION sql_mode = ''").unwrap();
        conn.query_drop("INSERT INTO t (id, dt, ts, updated_at) VALUES (4, '0000-00-00', '0000-00-00 00:00:00', '2024-01-01')").unwrap();
    }
    let sync = env.sync(SyncConfig::incremental(
        "",
        "t",
        "",
        "t",
        "updated_at",
        &["id"],
    ));
    let mut lines = Vec::new();
    let o = sync
        .run(
            &env.src,
            &env.dst,
            env.kv.as_ref(),
            "reporting/test",
            &dagster_core::defs::CancelToken::new(),
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap();
    assert_eq!(o.rows_read, 4);
    assert_eq!(
        o.invalid_dates, 2,
        "the zero date and zero datetime of row 4"
    );
    assert!(
        !lines.iter().any(|l| l.contains("through the mysql crate")),
        "the sync's own row reader was used: {lines:?}"
    );

    let types = env.ch_rows(&format!(
        "SELECT name, type FROM system.columns WHERE database = '{}' AND table = 't'",
        env.name
    ));
    let types: Vec<String> = types
        .into_iter()
        .map(|r| format!("{} {}", r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    // DATE, DATETIME and TIMESTAMP: Date32 and DateTime64(0, 'UTC') from ClickHouse 22.8 on.
    let (date, datetime) = if sync_support::ch_caps().wide_dates {
        ("Date32", "DateTime64(0, 'UTC')")
    } else {
        ("Date", "DateTime('UTC')")
    };
    let dt = format!("dt Nullable({date})");
    let ts = format!("ts Nullable({datetime})");
    let tstamp = format!("tstamp Nullable({datetime})");
    let updated_at = format!("updated_at {datetime}");
    for expected in [
        "id Int32",
        "i8 Nullable(Int8)",
        "u8 Nullable(UInt8)",
        "i16 Nullable(Int16)",
        "u16 Nullable(UInt16)",
        "i24 Nullable(Int32)",
        "u24 Nullable(UInt32)",
        "u32 Nullable(UInt32)",
        "i64 Nullable(Int64)",
        "u64 Nullable(UInt64)",
        "d_small Nullable(Decimal(5, 2))",
        "d_mid Nullable(Decimal(18, 6))",
        "d_big Nullable(Decimal(38, 10))",
        "d_huge Nullable(String)",
        "f Nullable(Float32)",
        "g Nullable(Float64)",
        "flag Nullable(UInt8)",
        &dt,
        &ts,
        &tstamp,
        "e Nullable(Enum8('' = 0, 'a' = 1, 'ü' = 2))",
        "bits Nullable(UInt64)",
        "tm Nullable(String)",
        "yr Nullable(UInt16)",
        &updated_at,
        "_version UInt64",
        "_is_deleted UInt8",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "missing `{expected}` in {types:?}"
        );
    }

    let cols = "i8, u8, i16, u16, i24, u24, i32, u32, i64, u64, d_small, d_mid, d_big, d_huge, f, g, flag, dt, ts, tsf, tstamp, e, st, j, c, v, bits, tm, yr";
    let rows = env.ch_rows(&format!(
        "SELECT id, {cols}, hex(b) FROM `{}`.t_dedup ORDER BY id",
        env.name
    ));
    let s = |v: &str| Some(v.to_string());
    let major: u32 = env
        .dst
        .server_version()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // DATETIME(3): DateTime64(3) from ClickHouse 20.1 on, whole seconds (DateTime) before.
    let tsf = if major >= 20 {
        "2024-01-01 00:00:00.123"
    } else {
        "2024-01-01 00:00:00"
    };
    assert_eq!(
        rows[0],
        vec![
            s("1"),
            s("-128"),
            s("255"),
            s("-32768"),
            s("65535"),
            s("-8388608"),
            s("16777215"),
            s("-2147483648"),
            s("4294967295"),
            s("-9223372036854775808"),
            s("18446744073709551615"),
            s("-999.99"),
            s("123456789012.123456"),
            s("1234567890123456789012345678.0123456789"),
            s("12345678901234567890123456789012345678901234567890.1234"),
            s("1.5"),
            s("2.2250738585072014e-308"),
            s("1"),
            s("2024-02-29"),
            s("2038-01-19 03:14:07"),
            s(tsf),
            s("2024-06-01 12:00:00"),
            s("ü"),
            s("x,y"),
            s("{\"k\": [1, \"é\"]}"),
            s("abc"),
            s("Grüße 🎉 \"q\" \t"),
            s("682"),
            s("-838:59:59"),
            s("2155"),
            s("00FF10"),
        ]
    );
    assert!(
        rows[1][1..30].iter().all(|v| v.is_none()),
        "NULLs stay NULL: {:?}",
        rows[1]
    );
    assert_eq!(rows[2][1], s("0"));
    // 1970-01-01 is day 0 (ClickHouse 18.x prints Date 0 as 0000-00-00).
    assert_eq!(
        env.ch_rows(&format!(
            "SELECT toUInt16(dt), toUInt32(ts) FROM `{}`.t_dedup WHERE id = 3",
            env.name
        ))[0],
        vec![s("0"), s("0")]
    );
    assert_eq!(rows[3][18], None, "zero date → NULL in a Nullable column");
    assert_eq!(rows[3][19], None);

    // The same rows read through the `mysql` crate (the fallback reader) arrive identical.
    let via_crate = env
        .sync(SyncConfig::incremental(
            "",
            "t",
            "",
            "t_crate",
            "updated_at",
            &["id"],
        ))
        .crate_reader(true);
    let o = via_crate
        .run(
            &env.src,
            &env.dst,
            env.kv.as_ref(),
            "reporting/test_crate",
            &dagster_core::defs::CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((o.rows_read, o.invalid_dates), (4, 2));
    let all = |table: &str| {
        env.ch_rows(&format!(
            "SELECT id, {cols}, hex(b), updated_at FROM `{}`.{table}_dedup ORDER BY id",
            env.name
        ))
    };
    assert_eq!(all("t_crate"), all("t"));
}

#[test]
fn new_source_columns_are_added_without_a_restart() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        300,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    let sync = env.sync(config(100));
    env.run(&sync).unwrap();
    env.mysql(&[
        "ALTER TABLE customers ADD COLUMN loyalty DECIMAL(6,1) NULL, ADD COLUMN tier SMALLINT UNSIGNED NOT NULL DEFAULT 2",
        "UPDATE customers SET loyalty = id / 10 WHERE id % 2 = 0",
    ]);
    seed_after_alter(&env);
    let o = env.run(&sync).unwrap();
    assert_eq!(
        o.columns_added,
        vec!["loyalty".to_string(), "tier".to_string()]
    );
    let mut cols = COLS.to_vec();
    cols.extend(["loyalty", "tier"]);
    assert_same(&env, "customers", &cols, "id");
}

fn seed_after_alter(env: &Env) {
    env.mysql(&[
        "INSERT INTO customers (id, name, status, balance, is_vip, updated_at, loyalty, tier)
                 VALUES (1000, 'new', 'active', 1.00, 0, '2025-01-01', 99.5, 7)",
    ]);
}

#[test]
fn soft_deleted_rows_disappear_from_the_view() {
    let env = Env::new();
    env.mysql(&[
        CUSTOMERS,
        "ALTER TABLE customers ADD COLUMN deleted_at DATETIME NULL",
    ]);
    seed_with_deleted(&env);
    let sync = env.sync(SyncConfig {
        soft_delete_column: Some("deleted_at".into()),
        ..config(40)
    });
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 100);
    assert_eq!(o.destination_rows, 100);
    env.mysql(&[
        "UPDATE customers SET deleted_at = '2024-05-01', updated_at = '2024-05-01' WHERE id <= 10",
    ]);
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 10);
    assert_eq!(o.destination_rows, 90);
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM `{}`.customers_dedup",
            env.name
        )),
        90
    );
    // Undelete.
    env.mysql(&["UPDATE customers SET deleted_at = NULL, updated_at = '2024-06-01' WHERE id = 3"]);
    let o = env.run(&sync).unwrap();
    assert_eq!(o.destination_rows, 91);
}

fn seed_with_deleted(env: &Env) {
    env.mysql(&["INSERT INTO customers (id, name, status, balance, is_vip, updated_at)
                 SELECT seq, 'n', 'active', 0, 0, TIMESTAMP('2024-01-01') + INTERVAL seq SECOND FROM seq_1_to_100"]);
}

#[test]
fn lookback_and_column_lists() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        200,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    let sync = env.sync(SyncConfig {
        lookback_seconds: Some(50),
        exclude_columns: vec!["notes".into()],
        ..config(64)
    });
    env.run(&sync).unwrap();
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 51, "re-reads the last 50 seconds (inclusive)");
    let cols: Vec<&str> = COLS.iter().copied().filter(|c| *c != "notes").collect();
    assert_same(&env, "customers", &cols, "id");
    let e = env
        .run(&env.sync(SyncConfig {
            exclude_columns: vec!["updated_at".into()],
            ..config(64)
        }))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot exclude `updated_at`"), "{e}");
}

#[test]
fn a_full_sync_with_parallel_readers_is_exact_and_resumes_each_key_range() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        5000,
        "TIMESTAMP('2024-01-01') + INTERVAL (seq DIV 7) SECOND",
    );
    let full = || SyncConfig {
        mode: SyncMode::Full,
        ..config(1000)
    };
    // Pages of 300 rows: the key spans more than two pages, so parallel readers split it.
    let crashing = env.sync(full()).page_rows(300).fail_after_batches(2);
    let err = env.run(&crashing).unwrap_err().to_string();
    assert!(err.contains("test hook"), "{err}");
    let saved = env.saved_state().unwrap();
    assert!(saved.contains("\"ranges\":[{"), "{saved}");
    // One query, one snapshot: the batch cut off by the crash may still be arriving.
    let counts = env.ch_rows(&format!(
        "SELECT count(), uniqExact(id) FROM `{}`.customers__full_sync",
        env.name
    ));
    let staged: u64 = counts[0][0].as_deref().unwrap().parse().unwrap();
    assert!((2000..5000).contains(&staged), "{staged} rows staged");
    assert_eq!(
        counts[0][1].as_deref(),
        Some(staged.to_string().as_str()),
        "no row staged twice"
    );
    // Rows change while the sync is down; the resumed run reads only what is left of each range.
    env.mysql(&["UPDATE customers SET balance = 7.77 WHERE id IN (3, 4999)"]);
    let o = env.run(&env.sync(full()).page_rows(300)).unwrap();
    // Resumed in both ranges after their confirmed keys (2 batches of 1,000 rows or more; the
    // rows staged beyond them, if any, belong to the batch cut off by the crash).
    assert!(
        (5000 - staged..=3000).contains(&o.rows_read),
        "resumed in both ranges: {} rows read, {staged} staged",
        o.rows_read
    );
    assert_eq!(o.destination_rows, 5000);
    assert_eq!(
        o.cursor_after.as_deref(),
        Some("(2024-01-01 00:11:54, 5000)"),
        "the incremental position is the largest (cursor, key) when the full sync started"
    );
    assert_eq!(
        env.ch_count(&format!(
            "SELECT uniqExact(id) FROM `{}`.customers",
            env.name
        )),
        5000
    );
    // Only the rows changed after the resumed part was read differ; an incremental run
    // with a newer cursor takes them.
    env.mysql(&["UPDATE customers SET updated_at = '2025-01-01' WHERE id IN (3, 4999)"]);
    let o = env.run(&env.sync(config(1000))).unwrap();
    assert_eq!(o.rows_read, 2);
    assert_same(&env, "customers", COLS, "id");

    // A fresh parallel full sync (no crash) is exact too.
    let o = env.run(&env.sync(full()).page_rows(300)).unwrap();
    assert_eq!(o.rows_read, 5000);
    assert_same(&env, "customers", COLS, "id");
}

#[test]
fn rows_committed_during_a_sync_are_taken_by_the_next_run_exactly_once() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        20_000,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    let bound = "2024-01-01 05:33:20"; // MAX(updated_at) when the first run starts
    let db = env.name.clone();
    // Batches (and pages) of 200 rows: the reader is at most the writer's channel (a dozen
    // chunks of one page each) ahead, so the last rows are still unread after the first batch.
    let sync = env.sync(config(200));
    let moved = "5, 19990, 19991, 19992, 19993, 19994, 19995, 19996, 19997, 19998, 19999";
    let mut changed = false;
    let first = sync
        .run(
            &env.src,
            &env.dst,
            env.kv.as_ref(),
            "reporting/test",
            &dagster_core::defs::CancelToken::new(),
            &mut |line| {
                if changed || !line.starts_with("batch 1:") {
                    return;
                }
                changed = true;
                // While the sync runs (its upper bound is fixed): 500 new rows above the bound,
                // one new row at the bound (after every existing key with that value), and
                // updates that move rows above the bound, one already read, ten not yet.
                seed(
                    &env,
                    20_001,
                    20_500,
                    "TIMESTAMP('2030-01-01') + INTERVAL seq SECOND",
                );
                seed(&env, 20_501, 20_501, &format!("'{bound}'"));
                env.mysql(&[&format!(
                    "UPDATE customers SET balance = 7.77, phone = NULL, updated_at = '2030-06-01' WHERE id IN ({moved})"
                )]);
            },
        )
        .unwrap();
    assert!(changed, "the first batch was confirmed while the sync ran");
    assert_eq!(first.upper_bound.as_deref(), Some(bound));
    // The running sync took nothing above its bound...
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM `{db}`.customers WHERE updated_at > '{bound}' OR id BETWEEN 20001 AND 20500"
        )),
        0
    );
    // ...lost none of the unchanged rows, read each row once, and the rows moved above the
    // bound before it reached them were left for the next run.
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM `{db}`.customers WHERE id <= 20000 AND id NOT IN ({moved})"
        )),
        20_000 - 11
    );
    let distinct = env.ch_count(&format!("SELECT uniqExact(id) FROM `{db}`.customers"));
    assert_eq!(first.rows_read, distinct);
    assert_eq!(
        env.ch_count(&format!("SELECT count() FROM `{db}`.customers")),
        distinct
    );
    let moved_unread = env.ch_count(&format!(
        "SELECT 11 - count() FROM `{db}`.customers WHERE id IN ({moved})"
    ));
    assert!(
        moved_unread >= 10,
        "ids 19990-19999 were updated before the reader reached them ({moved_unread} moved rows unread)"
    );
    let at_bound_first = env.ch_count(&format!(
        "SELECT count() FROM `{db}`.customers WHERE id = 20501"
    ));

    // The next run takes them, exactly once.
    let second = env.run(&sync).unwrap();
    assert_eq!(second.rows_read, 500 + 11 + (1 - at_bound_first));
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM `{db}`.customers WHERE id > 20000"
        )),
        501,
        "every new row written once"
    );
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM `{db}`.customers WHERE id IN ({moved}) AND updated_at = '2030-06-01 00:00:00'"
        )),
        11
    );
    assert_same(&env, "customers", COLS, "id");
    assert_eq!(env.run(&sync).unwrap().rows_read, 0);
}

#[test]
fn a_running_sync_reports_its_progress() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        20_000,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    // The estimate of a snapshot is the table's row count in information_schema.
    env.mysql(&["ANALYZE TABLE customers"]);
    let sync = env
        .sync(config(5_000))
        .page_rows(1_000)
        .progress_every(std::time::Duration::ZERO);
    let (o, lines) = env.run_logged(&sync);
    let o = o.unwrap();
    assert_eq!(o.rows_read, 20_000);
    assert!(
        lines.iter().any(|l| l.starts_with("no saved cursor")),
        "the first run loads a snapshot: {lines:?}"
    );
    let progress: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(progress.len() >= 2, "progress lines: {lines:?}");
    for l in &progress {
        assert!(
            l.contains(" of ~") && l.contains("%), ") && l.contains(" rows/s"),
            "rows copied of the estimated total and the rate: {l}"
        );
    }
    assert!(
        progress.iter().any(|l| l.contains(" left")),
        "a time left: {progress:?}"
    );
    assert_same(&env, "customers", COLS, "id");

    // An incremental run estimates the rows after the cursor.
    env.mysql(&["UPDATE customers SET updated_at = '2025-01-01' WHERE id <= 3000"]);
    let (o, lines) = env.run_logged(&sync);
    assert_eq!(o.unwrap().rows_read, 3_000);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("progress: ") && l.contains(" rows/s")),
        "{lines:?}"
    );
    assert_same(&env, "customers", COLS, "id");
}

#[test]
fn a_column_whose_type_changed_is_resynced_into_a_new_table() {
    let env = Env::new();
    env.mysql(&[CUSTOMERS]);
    seed(
        &env,
        1,
        3000,
        "TIMESTAMP('2024-01-01') + INTERVAL seq SECOND",
    );
    let sync = env.sync(config(700));
    assert_eq!(env.run(&sync).unwrap().rows_read, 3000);
    let db = env.name.clone();
    let balance_type = || {
        env.ch_rows(&format!(
            "SELECT type FROM system.columns WHERE database = '{db}' AND table = 'customers' AND name = 'balance'"
        ))[0][0]
            .clone()
            .unwrap()
    };
    assert_eq!(balance_type(), "Decimal(12, 2)");
    // The source column widens: the incremental sync cannot write it in place.
    env.mysql(&[
        "ALTER TABLE customers MODIFY balance DECIMAL(16,4) NOT NULL",
        "UPDATE customers SET balance = 123456.7891, updated_at = '2025-01-01' WHERE id = 7",
    ]);
    let (o, lines) = env.run_logged(&sync);
    let o = o.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("has type Decimal(12, 2)") && l.contains("resyncing every row")),
        "{lines:?}"
    );
    assert_eq!(o.rows_read, 3000, "every row again");
    assert_eq!(balance_type(), "Decimal(16, 4)");
    assert_eq!(
        env.ch_count(&format!(
            "SELECT count() FROM system.tables WHERE database = '{db}' AND name LIKE '%sync%'"
        )),
        0,
        "the new table was swapped in"
    );
    assert_same(&env, "customers", COLS, "id");
    // And the sync goes on incrementally from the resync's upper key.
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 0);
    assert_eq!(o.cursor_before.as_deref(), Some("(2025-01-01 00:00:00, 7)"));
}
