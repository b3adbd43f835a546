//! Dates and times into ClickHouse per server version (docs/SYNC.md, "Type mapping"): the widest
//! faithful types (`Date32` and `DateTime64` from ClickHouse 22.8, holding 1900 to 2299, and
//! 0001 to 9999 from 26.9; `Date` and `DateTime` before, with the fraction dropped on 18.x),
//! the `invalid_dates` policies (`null`, `clamp`, `fail`) into ClickHouse and Postgres, and
//! existing tables whose columns were created as `Date` / `DateTime`, which keep them.
//!
//! Every test runs against the ClickHouse of `DAGSTER_TEST_CLICKHOUSE_URL` (18.16 by default,
//! 26.9 in the second run of scripts/test.sh) and asserts what is documented for that server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sync_support;

use dagster_pipeline::assets::table_sync::types::days_from_civil;
use dagster_pipeline::assets::table_sync::{
    DestRef, InvalidDates, SourceRef, SyncConfig, SyncMode, TableSync,
};
use mysql::prelude::Queryable;
use sync_support::{ch_caps, ch_date_min_days, Env, Pg};

/// A date or time column of the source.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Date,
    /// DATETIME(p) / TIMESTAMP(p) / Postgres timestamp(p): the source prints p fraction digits.
    DateTime(u32),
}

/// The ClickHouse text of the valid source value `v` (as the source prints it), or `None` when
/// the server's type for the column cannot hold it.
fn on_server(kind: Kind, v: &str) -> Option<String> {
    let caps = ch_caps();
    match kind {
        Kind::Date => {
            // Before 22.8 the server's date tables end with 2106-02-07 (18.16 prints later
            // dates as 1970-01-01).
            let (lo, hi) = if caps.full_dates {
                ("0001-01-01", "9999-12-31")
            } else if caps.wide_dates {
                ("1900-01-01", "2299-12-31")
            } else {
                ("1970-01-01", "2106-02-07")
            };
            (lo <= v && v <= hi).then(|| v.to_string())
        }
        Kind::DateTime(p) => {
            // Fraction digits kept: DateTime64(p) where the server has it, none in DateTime.
            let keep = if caps.wide_dates || (caps.datetime64 && p > 0) {
                p as usize
            } else {
                0
            };
            let text = if keep == 0 {
                v[..19].to_string()
            } else {
                v[..20 + keep].to_string()
            };
            let (lo, hi) = if caps.full_dates {
                ("0001-01-01 00:00:00", "9999-12-31 23:59:59.999999")
            } else if caps.wide_dates {
                ("1900-01-01 00:00:00", "2299-12-31 23:59:59.999999")
            } else {
                ("1970-01-01 00:00:00", "2106-02-06 23:59:59.999999")
            };
            (lo <= text.as_str() && text.as_str() <= hi).then_some(text)
        }
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD…`.
fn days_of(v: &str) -> i64 {
    days_from_civil(
        v[..4].parse().unwrap(),
        v[5..7].parse().unwrap(),
        v[8..10].parse().unwrap(),
    )
}

/// Seconds since 1970-01-01 of `YYYY-MM-DD hh:mm:ss…`.
fn secs_of(v: &str) -> i64 {
    let t: i64 = v[11..13].parse::<i64>().unwrap() * 3600
        + v[14..16].parse::<i64>().unwrap() * 60
        + v[17..19].parse::<i64>().unwrap();
    days_of(v) * 86_400 + t
}

/// (first, last) second a DATETIME column holds on the tests' server.
fn datetime_bounds() -> (i64, i64) {
    let caps = ch_caps();
    if caps.full_dates {
        (
            secs_of("0001-01-01 00:00:00"),
            secs_of("9999-12-31 23:59:59"),
        )
    } else if caps.wide_dates {
        (
            secs_of("1900-01-01 00:00:00"),
            secs_of("2299-12-31 23:59:59"),
        )
    } else {
        (0, secs_of("2106-02-06 23:59:59"))
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// MySQL DATE, DATETIME, DATETIME(6) and TIMESTAMP(3) values from 1000 to 9999 into ClickHouse,
/// by the hot path (source table) and the general engine (source query): each value is kept
/// exactly where the server's type holds it (with its microseconds where it has `DateTime64`),
/// and is NULL (Nullable) or the type's minimum (NOT NULL) otherwise, counted.
#[test]
fn mysql_dates_keep_their_values_where_the_server_holds_them() {
    let env = Env::new();
    let rows: &[[&str; 5]] = &[
        [
            "1900-01-01",
            "1900-01-01 00:00:00",
            "1900-01-01 00:00:00.000001",
            "",
            "1900-01-01",
        ],
        [
            "1969-12-31",
            "1969-12-31 23:59:59",
            "1969-12-31 23:59:59.999999",
            "1970-01-01 00:00:01.001",
            "1969-12-31",
        ],
        [
            "2024-02-29",
            "2024-02-29 12:34:56",
            "2024-02-29 12:34:56.123456",
            "2038-01-19 03:14:07.999",
            "2024-02-29",
        ],
        [
            "2299-12-31",
            "2299-12-31 23:59:59",
            "2299-12-31 23:59:59.999999",
            "",
            "2299-12-31",
        ],
        [
            "1000-01-01",
            "1000-01-01 00:00:00",
            "1000-01-01 00:00:00.500000",
            "",
            "1000-01-01",
        ],
        [
            "9999-12-31",
            "9999-12-31 23:59:59",
            "9999-12-31 23:59:59.999999",
            "",
            "9999-12-31",
        ],
        // The last day and second 18.x shows, and just after them.
        [
            "2106-02-07",
            "2106-02-06 23:59:59",
            "2106-02-06 23:59:59.500000",
            "",
            "2106-02-07",
        ],
        [
            "2106-02-08",
            "2106-02-07 00:00:00",
            "2106-02-07 06:28:15.500000",
            "",
            "2106-02-08",
        ],
    ];
    let values: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let q = |v: &str| {
                if v.is_empty() {
                    "NULL".to_string()
                } else {
                    format!("'{v}'")
                }
            };
            format!(
                "({}, {}, {}, {}, {}, {}, '2024-01-01')",
                i + 1,
                q(r[0]),
                q(r[4]),
                q(r[1]),
                q(r[2]),
                q(r[3])
            )
        })
        .collect();
    env.mysql(&[
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, d DATE NULL, dn DATE NOT NULL, dt DATETIME NULL,
           dt6 DATETIME(6) NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL, updated_at DATETIME NOT NULL)",
        &format!("INSERT INTO t VALUES {}", values.join(", ")),
    ]);
    // What the server's types hold.
    let kinds = [
        Kind::Date,
        Kind::DateTime(0),
        Kind::DateTime(6),
        Kind::DateTime(3),
    ];
    let mut expected_invalid = 0;
    let expected: Vec<Vec<Option<String>>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut out = vec![s(&(i + 1).to_string())];
            for (v, kind) in [r[0], r[1], r[2], r[3]].iter().zip(kinds) {
                if v.is_empty() {
                    out.push(None);
                    continue;
                }
                let e = on_server(kind, v);
                expected_invalid += u64::from(e.is_none());
                out.push(e);
            }
            let dn = match on_server(Kind::Date, r[4]) {
                Some(_) => days_of(r[4]),
                None => {
                    expected_invalid += 1;
                    ch_date_min_days()
                }
            };
            out.push(s(&dn.to_string()));
            out
        })
        .collect();

    let caps = ch_caps();
    let (date, datetime) = if caps.wide_dates {
        ("Date32", "DateTime64(0, 'UTC')".to_string())
    } else {
        ("Date", "DateTime('UTC')".to_string())
    };
    let frac = |p: u32| {
        if caps.datetime64 {
            format!("DateTime64({p}, 'UTC')")
        } else {
            "DateTime('UTC')".to_string()
        }
    };
    let want_types = [
        format!("d Nullable({date})"),
        format!("dn {date}"),
        format!("dt Nullable({datetime})"),
        format!("dt6 Nullable({})", frac(6)),
        format!("ts3 Nullable({})", frac(3)),
        format!("updated_at {datetime}"),
    ];

    for (table, query) in [("t", None), ("t_q", Some("SELECT * FROM t"))] {
        let sync = env.sync(SyncConfig {
            source_query: query.map(str::to_string),
            source_table: if query.is_some() { "" } else { "t" }.into(),
            ..SyncConfig::incremental("", "t", "", table, "updated_at", &["id"])
        });
        let o = env
            .run_with(
                &sync,
                SourceRef::Mysql(&env.src),
                DestRef::Clickhouse(&env.dst),
            )
            .unwrap();
        assert_eq!(o.rows_read, rows.len() as u64, "{table}");
        assert_eq!(o.invalid_dates, expected_invalid, "{table}");
        let types: Vec<String> = env
            .ch_rows(&format!(
                "SELECT name, type FROM system.columns WHERE database = '{}' AND table = '{table}'",
                env.name
            ))
            .into_iter()
            .map(|r| format!("{} {}", r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect();
        for t in &want_types {
            assert!(types.contains(t), "{table}: missing `{t}` in {types:?}");
        }
        let got = env.ch_rows(&format!(
            "SELECT id, toString(d), toString(dt), toString(dt6), toString(ts3), toInt32(dn) FROM `{}`.`{table}_dedup` ORDER BY id",
            env.name
        ));
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{table} (server {})", sync_support::ch_version());
        }
        assert_eq!(got.len(), expected.len());
    }
    if caps.full_dates {
        // ClickHouse 26.9 holds every value MySQL can (1000 to 9999).
        assert_eq!(expected_invalid, 0);
    } else if !caps.datetime64 {
        // 18.x: 24 of the 34 values have no Date / DateTime value.
        assert_eq!(expected_invalid, 24);
    }
}

/// Postgres date, timestamp(6) and timestamptz(3) from 1000 to 9999 and ±infinity into
/// ClickHouse (the general engine): kept where the server's type holds them.
#[test]
fn postgres_dates_keep_their_values_where_the_server_holds_them() {
    let env = Env::new();
    let pg = Pg::new();
    let t = pg.t("pd");
    // (date, timestamp(6), timestamptz(3) in UTC)
    let rows: &[[&str; 3]] = &[
        [
            "1900-01-01",
            "1900-01-01 00:00:00.000001",
            "1900-01-01 00:00:00.001",
        ],
        [
            "1969-12-31",
            "1969-12-31 23:59:59.999999",
            "1969-12-31 23:59:59.999",
        ],
        [
            "2024-02-29",
            "2024-02-29 12:34:56.123456",
            "2024-02-29 12:34:56.123",
        ],
        [
            "2299-12-31",
            "2299-12-31 23:59:59.999999",
            "2299-12-31 23:59:59.999",
        ],
        [
            "1000-01-01",
            "1000-01-01 00:00:00.500000",
            "1000-01-01 00:00:00.500",
        ],
        [
            "9999-12-31",
            "9999-12-31 23:59:59.999999",
            "9999-12-31 23:59:59.999",
        ],
        ["infinity", "infinity", "-infinity"],
    ];
    let values: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "({}, '{}', '{}', '{}+00', '2024-01-01')",
                i + 1,
                r[0],
                r[1],
                r[2]
            )
            .replace("'-infinity+00'", "'-infinity'")
            .replace("'infinity+00'", "'infinity'")
        })
        .collect();
    pg.exec(&[
        &format!("CREATE TABLE {t} (id int PRIMARY KEY, d date NULL, ts timestamp(6) NULL, tz timestamptz(3) NULL, updated_at timestamp(0) NOT NULL)"),
        &format!("INSERT INTO {t} VALUES {}", values.join(", ")),
    ]);
    let kinds = [Kind::Date, Kind::DateTime(6), Kind::DateTime(3)];
    let mut expected_invalid = 0;
    let expected: Vec<Vec<Option<String>>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut out = vec![s(&(i + 1).to_string())];
            for (v, kind) in r.iter().zip(kinds) {
                let e = if v.contains("infinity") {
                    None
                } else {
                    on_server(kind, v)
                };
                expected_invalid += u64::from(e.is_none());
                out.push(e);
            }
            out
        })
        .collect();
    let sync = TableSync::new(SyncConfig::incremental(
        "src",
        &t,
        "dst",
        "pd",
        "updated_at",
        &["id"],
    ));
    let o = env
        .run_with(
            &sync,
            SourceRef::Postgres(&pg.res),
            DestRef::Clickhouse(&env.dst),
        )
        .unwrap();
    assert_eq!(o.rows_read, rows.len() as u64);
    assert_eq!(o.invalid_dates, expected_invalid);
    let got = env.ch_rows(&format!(
        "SELECT id, toString(d), toString(ts), toString(tz) FROM `{}`.pd_dedup ORDER BY id",
        env.name
    ));
    assert_eq!(got, expected, "server {}", sync_support::ch_version());
}

/// The source of the `invalid_dates` tests: zero dates, invalid dates and dates no ClickHouse
/// before 26.9 holds, in Nullable and NOT NULL DATE and DATETIME columns (needs a non-strict
/// session with `ALLOW_INVALID_DATES`).
fn invalid_source(env: &Env) {
    env.mysql(&[
        "CREATE TABLE bad (id INT NOT NULL PRIMARY KEY, d DATE NULL, dn DATE NOT NULL,
        dt DATETIME NULL, dtn DATETIME NOT NULL, updated_at DATETIME NOT NULL)",
    ]);
    let mut conn = env.src.connection().unwrap();
    conn.query_drop("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
        .unwrap();
    conn.query_drop(
        "INSERT INTO bad VALUES
          (1, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '2024-01-01'),
          (2, '2024-02-31', '2024-02-31', '2024-02-31 10:20:30', '2024-02-31 10:20:30', '2024-01-01'),
          (3, '2024-05-00', '2024-05-00', '2024-00-10 01:02:03', '2024-00-10 01:02:03', '2024-01-01'),
          (4, '1000-01-01', '1000-01-01', '1000-01-01 00:00:00', '9999-12-31 23:59:59', '2024-01-01'),
          (5, '2024-05-06', '2024-05-06', '2024-05-06 07:08:09', '2024-05-06 07:08:09', '2024-01-01')",
    )
    .unwrap();
}

/// (days of d, days of dn, seconds of dt, seconds of dtn) as ClickHouse holds them.
fn numeric_rows(env: &Env, table: &str) -> Vec<Vec<Option<String>>> {
    env.ch_rows(&format!(
        "SELECT id, toInt32(d), toInt32(dn), toInt64(dt), toInt64(dtn) FROM `{}`.`{table}_dedup` ORDER BY id",
        env.name
    ))
}

fn policy_sync(env: &Env, table: &str, policy: InvalidDates, query: bool) -> TableSync {
    env.sync(SyncConfig {
        invalid_dates: policy,
        source_query: query.then(|| "SELECT * FROM bad".to_string()),
        source_table: if query { "" } else { "bad" }.into(),
        ..SyncConfig::incremental("", "bad", "", table, "updated_at", &["id"])
    })
}

/// `invalid_dates: null` (the default), `clamp` and `fail` into ClickHouse, on the hot path and
/// on the general engine (a source query), as docs/SYNC.md describes them for the server.
#[test]
fn invalid_dates_policies_into_clickhouse() {
    let env = Env::new();
    invalid_source(&env);
    let dmin = ch_date_min_days();
    let (tmin, tmax) = datetime_bounds();
    let full = ch_caps().full_dates;
    let n = |v: i64| Some(v.to_string());
    let id = |i: i64| n(i);
    // Row 4: 1000-01-01 and 9999-12-31 23:59:59 are kept only from 26.9 on.
    let (d4, t4, t4n) = if full {
        (
            days_of("1000-01-01"),
            secs_of("1000-01-01 00:00:00"),
            secs_of("9999-12-31 23:59:59"),
        )
    } else {
        (dmin, tmin, tmax)
    };
    let valid5 = vec![
        id(5),
        n(days_of("2024-05-06")),
        n(days_of("2024-05-06")),
        n(secs_of("2024-05-06 07:08:09")),
        n(secs_of("2024-05-06 07:08:09")),
    ];

    // null: NULL in Nullable columns, the type's minimum in NOT NULL ones.
    let sync = policy_sync(&env, "t_null", InvalidDates::Null, false);
    let o = env.run(&sync).unwrap();
    assert_eq!(o.invalid_dates, if full { 12 } else { 16 });
    let row4 = if full {
        vec![id(4), n(d4), n(d4), n(t4), n(t4n)]
    } else {
        vec![id(4), None, n(dmin), None, n(tmin)]
    };
    assert_eq!(
        numeric_rows(&env, "t_null"),
        vec![
            vec![id(1), None, n(dmin), None, n(tmin)],
            vec![id(2), None, n(dmin), None, n(tmin)],
            vec![id(3), None, n(dmin), None, n(tmin)],
            row4,
            valid5.clone(),
        ],
        "server {}",
        sync_support::ch_version()
    );

    // clamp: the nearest value the type holds; a zero date is the type's minimum.
    let clamped = vec![
        vec![id(1), n(dmin), n(dmin), n(tmin), n(tmin)],
        vec![
            id(2),
            n(days_of("2024-02-29")),
            n(days_of("2024-02-29")),
            n(secs_of("2024-02-29 10:20:30")),
            n(secs_of("2024-02-29 10:20:30")),
        ],
        vec![
            id(3),
            n(days_of("2024-05-01")),
            n(days_of("2024-05-01")),
            n(secs_of("2024-01-10 01:02:03")),
            n(secs_of("2024-01-10 01:02:03")),
        ],
        vec![id(4), n(d4), n(d4), n(t4), n(t4n)],
        valid5,
    ];
    for (table, query) in [("t_clamp", false), ("t_clamp_q", true)] {
        let sync = policy_sync(&env, table, InvalidDates::Clamp, query);
        let o = env
            .run_with(
                &sync,
                SourceRef::Mysql(&env.src),
                DestRef::Clickhouse(&env.dst),
            )
            .unwrap();
        assert_eq!(o.invalid_dates, if full { 12 } else { 16 }, "{table}");
        assert_eq!(
            numeric_rows(&env, table),
            clamped,
            "{table} (server {})",
            sync_support::ch_version()
        );
    }
    if !full {
        // 9999-12-31 23:59:59 is clamped to the last second, not the first.
        assert_eq!(clamped[3][4], n(tmax));
    }

    // fail: the step fails naming the column, the row's key and the value; the cursor stays.
    for query in [false, true] {
        let sync = policy_sync(&env, "t_fail", InvalidDates::Fail, query);
        let e = env
            .run_with(
                &sync,
                SourceRef::Mysql(&env.src),
                DestRef::Clickhouse(&env.dst),
            )
            .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("column `d`")
                // The first run is a snapshot in primary key order: the key is the primary key.
                && e.contains("of the row with key 1:")
                && e.contains("`0000-00-00` is a zero date")
                && e.contains("invalid_dates: fail"),
            "{e}"
        );
    }
    // The failed snapshot saved its start (upper key and ranges) but no confirmed key.
    let saved = env
        .kv
        .kv_get(&TableSync::state_key("reporting/test"))
        .unwrap()
        .unwrap_or_default();
    let state: serde_json::Value = serde_json::from_str(&saved).unwrap_or_default();
    if state["destination"]
        .as_str()
        .is_some_and(|d| d.ends_with("t_fail"))
    {
        assert!(state["last_key"].is_null(), "no cursor saved: {saved}");
        assert!(
            state["full"]["last_key"].is_null(),
            "no key confirmed: {saved}"
        );
        assert!(
            state["full"]["ranges"]
                .as_array()
                .is_none_or(|rs| rs.iter().all(|r| r["last_key"].is_null())),
            "no key confirmed: {saved}"
        );
    }
}

/// The same policies into a Postgres destination (MySQL → Postgres), where only zero and
/// invalid dates lack a value: `null` writes NULL / 1970-01-01, `clamp` repairs the date (a
/// zero date becomes 0001-01-01), `fail` fails the step.
#[test]
fn invalid_dates_policies_into_postgres() {
    let env = Env::new();
    let pg = Pg::new();
    invalid_source(&env);
    let rows = |table: &str| {
        pg.rows(&format!(
            "SELECT id, d::text, dn::text, dt::text, dtn::text FROM {} ORDER BY id",
            pg.t(table)
        ))
    };
    let run = |table: &str, policy: InvalidDates| {
        let sync = TableSync::new(SyncConfig {
            invalid_dates: policy,
            ..SyncConfig::incremental("src", "bad", "dst", &pg.t(table), "updated_at", &["id"])
        });
        env.run_with(
            &sync,
            SourceRef::Mysql(&env.src),
            DestRef::Postgres(&pg.res),
        )
    };
    let last = vec![
        s("4"),
        s("1000-01-01"),
        s("1000-01-01"),
        s("1000-01-01 00:00:00"),
        s("9999-12-31 23:59:59"),
    ];
    let valid = vec![
        s("5"),
        s("2024-05-06"),
        s("2024-05-06"),
        s("2024-05-06 07:08:09"),
        s("2024-05-06 07:08:09"),
    ];
    let o = run("p_null", InvalidDates::Null).unwrap();
    assert_eq!(o.invalid_dates, 12);
    let epoch = |i: &str| vec![s(i), None, s("1970-01-01"), None, s("1970-01-01 00:00:00")];
    assert_eq!(
        rows("p_null"),
        vec![
            epoch("1"),
            epoch("2"),
            epoch("3"),
            last.clone(),
            valid.clone()
        ]
    );
    let o = run("p_clamp", InvalidDates::Clamp).unwrap();
    assert_eq!(o.invalid_dates, 12);
    assert_eq!(
        rows("p_clamp"),
        vec![
            vec![
                s("1"),
                s("0001-01-01"),
                s("0001-01-01"),
                s("0001-01-01 00:00:00"),
                s("0001-01-01 00:00:00")
            ],
            vec![
                s("2"),
                s("2024-02-29"),
                s("2024-02-29"),
                s("2024-02-29 10:20:30"),
                s("2024-02-29 10:20:30")
            ],
            vec![
                s("3"),
                s("2024-05-01"),
                s("2024-05-01"),
                s("2024-01-10 01:02:03"),
                s("2024-01-10 01:02:03")
            ],
            last,
            valid,
        ]
    );
    let e = format!("{:#}", run("p_fail", InvalidDates::Fail).unwrap_err());
    assert!(
        e.contains("`d`")
            && e.contains("`0000-00-00` is not a valid date")
            && e.contains("invalid_dates: fail"),
        "{e}"
    );
}

/// A destination table created with `Date` / `DateTime` columns (by an older version of the
/// sync, or on the server before an upgrade) keeps them on a server whose mapping is wider:
/// incremental runs write them as `Date` / `DateTime` (values outside their range follow
/// `invalid_dates`), the table is never altered; a full sync recreates it with today's types.
#[test]
fn existing_narrow_date_columns_keep_syncing() {
    let env = Env::new();
    env.mysql(&[
        "CREATE TABLE n (id INT NOT NULL PRIMARY KEY, d DATE NULL, dt DATETIME NOT NULL, dt3 DATETIME(3) NULL,
           updated_at DATETIME NOT NULL)",
        "INSERT INTO n VALUES (1, '2024-02-29', '2024-02-29 12:00:00', '2024-02-29 12:00:00.250', '2024-01-01'),
           (2, '1950-06-01', '1950-06-01 00:00:00', '1950-06-01 00:00:00.500', '2024-01-02')",
    ]);
    let db = &env.name;
    // The table as the sync created it on ClickHouse 18.16.
    env.dst
        .execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS `{db}`"))
        .unwrap();
    env.dst
        .execute(&format!(
            "CREATE TABLE `{db}`.n (id Int32, d Nullable(Date), dt DateTime('UTC'), dt3 Nullable(DateTime('UTC')),
               updated_at DateTime('UTC'), _version UInt64, _is_deleted UInt8)
             ENGINE = ReplacingMergeTree(_version) ORDER BY (id)"
        ))
        .unwrap();
    let types = || {
        env.ch_rows(&format!(
            "SELECT name, type FROM system.columns WHERE database = '{db}' AND table = 'n' AND name != '_version' AND name != '_is_deleted'"
        ))
        .into_iter()
        .map(|r| format!("{} {}", r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect::<Vec<_>>()
    };
    let narrow = vec![
        "id Int32".to_string(),
        "d Nullable(Date)".into(),
        "dt DateTime('UTC')".into(),
        "dt3 Nullable(DateTime('UTC'))".into(),
        "updated_at DateTime('UTC')".into(),
    ];
    let sync = env.sync(SyncConfig::incremental(
        "",
        "n",
        "",
        "n",
        "updated_at",
        &["id"],
    ));
    let o = env.run(&sync).unwrap();
    assert_eq!(o.rows_read, 2);
    // 1950 is before Date's and DateTime's range: NULL, or 1970-01-01 in the NOT NULL `dt`.
    assert_eq!(o.invalid_dates, 3);
    assert_eq!(types(), narrow, "the existing column types are kept");
    let rows = |table: &str| {
        env.ch_rows(&format!(
            "SELECT id, toString(d), toInt64(dt), toString(dt3) FROM `{db}`.`{table}_dedup` ORDER BY id"
        ))
    };
    let n = |v: i64| Some(v.to_string());
    assert_eq!(
        rows("n"),
        vec![
            vec![
                s("1"),
                s("2024-02-29"),
                n(secs_of("2024-02-29 12:00:00")),
                s("2024-02-29 12:00:00")
            ],
            vec![s("2"), None, n(0), None],
        ]
    );
    // Later runs keep writing into the narrow columns.
    env.mysql(&[
        "INSERT INTO n VALUES (3, '2030-01-01', '2030-01-01 01:02:03', NULL, '2024-01-03')",
    ]);
    let o = env.run(&sync).unwrap();
    assert_eq!((o.rows_read, o.invalid_dates), (1, 0));
    assert_eq!(types(), narrow);
    assert_eq!(
        rows("n")[2],
        vec![
            s("3"),
            s("2030-01-01"),
            n(secs_of("2030-01-01 01:02:03")),
            None
        ]
    );

    // A full sync recreates the table with the server's types.
    let full = env.sync(SyncConfig {
        mode: SyncMode::Full,
        ..SyncConfig::incremental("", "n", "", "n", "updated_at", &["id"])
    });
    let o = env.run(&full).unwrap();
    assert_eq!(o.rows_read, 3);
    let caps = ch_caps();
    if caps.wide_dates {
        assert_eq!(o.invalid_dates, 0);
        assert_eq!(
            types(),
            vec![
                "id Int32".to_string(),
                "d Nullable(Date32)".into(),
                "dt DateTime64(0, 'UTC')".into(),
                "dt3 Nullable(DateTime64(3, 'UTC'))".into(),
                "updated_at DateTime64(0, 'UTC')".into(),
            ]
        );
        assert_eq!(
            rows("n")[1],
            vec![
                s("2"),
                s("1950-06-01"),
                n(secs_of("1950-06-01 00:00:00")),
                s("1950-06-01 00:00:00.500")
            ]
        );
    } else {
        assert_eq!(o.invalid_dates, 3);
        assert_eq!(types(), narrow);
    }
}
