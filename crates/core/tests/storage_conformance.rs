//! Storage conformance suite: every case runs against SQLite and Postgres (see `conformance!`).
//!
//! Postgres: `DAGSTER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`); each
//! test gets its own schema.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use dagster_core::domain::{
    tags, AssetKey, ErrorInfo, EventData, EventType, InstigatorStatus, LogLevel, Materialization,
    NewEvent, NewRun, Run, RunStatus, RunsFilter, TickStatus,
};
use dagster_core::storage::{
    DaemonHeartbeat, DaemonStore, DbStorage, EventLogStore, InstigatorState, InstigatorStore,
    KvStore, RunStore, Storage, StorageBackend, StorageError,
};
use dagster_core::test_support::TestDb;
use std::collections::BTreeMap;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $case() {
                    let db = dagster_core::test_support::TestDb::sqlite();
                    super::cases::$case(&db);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $case() {
                    let db = dagster_core::test_support::TestDb::postgres();
                    super::cases::$case(&db);
                }
            )*
        }
    };
}

conformance!(
    add_and_get_run,
    add_run_with_existing_id_is_refused,
    list_runs_newest_first_with_cursor,
    list_and_count_filters,
    exclude_subruns_leaves_out_backfill_runs,
    list_runs_oldest_first_with_cursor_and_tags,
    run_tag_keys_and_values,
    run_tag_lookups_use_an_index,
    add_run_tags_adds_and_replaces,
    large_tag_values,
    delete_and_wipe_runs,
    status_follows_lifecycle_events,
    canceled_then_success_is_refused,
    queued_run_canceled,
    out_of_order_transition_is_refused,
    status_event_for_missing_run_is_refused,
    failure_reason_tag,
    concurrent_batches_lose_nothing,
    events_pagination,
    asset_index,
    wipe_asset,
    instigators,
    unique_and_plain_ticks,
    tick_transitions_and_purge,
    ticks_to_resume_any_number,
    lifecycle_event_sets_run_tags_with_the_transition,
    a_batch_over_many_runs_keeps_order_and_tags,
    tick_failure_count_backfilled_by_migration,
    daemon_heartbeats,
    kvs,
    expired_leases_purged_by_prefix,
    worker_heartbeat,
    fresh_database_is_migrated,
    migrations_down_and_up,
    pending_migrations_require_migrate,
    data_survives_reopen,
);

/// Runs one SQL statement on the test database, outside `DbStorage` (to write rows the way
/// an older schema had them).
fn raw_sql(db: &TestDb, sql: &str) {
    use diesel::{Connection, RunQueryDsl};
    match db.backend() {
        StorageBackend::Sqlite { path } => {
            let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
            diesel::sql_query(sql).execute(&mut c).unwrap();
        }
        StorageBackend::Postgres { url } => {
            let mut c = diesel::PgConnection::establish(&url).unwrap();
            diesel::sql_query(sql).execute(&mut c).unwrap();
        }
    }
}

/// The database's plan for `sql` as text (Postgres: with sequential scans disabled, so the
/// plan shows whether an index *can* serve the query however few rows the test table has).
fn query_plan(db: &TestDb, sql: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct PgLine {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    #[derive(diesel::QueryableByName)]
    struct SqliteLine {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    match db.backend() {
        StorageBackend::Sqlite { path } => {
            let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
            let rows: Vec<SqliteLine> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load(&mut c)
                .unwrap();
            rows.into_iter().map(|r| r.detail + "\n").collect()
        }
        StorageBackend::Postgres { url } => {
            let mut c = diesel::PgConnection::establish(&url).unwrap();
            diesel::sql_query("SET enable_seqscan = off")
                .execute(&mut c)
                .unwrap();
            let rows: Vec<PgLine> = diesel::sql_query(format!("EXPLAIN {sql}"))
                .load(&mut c)
                .unwrap();
            rows.into_iter().map(|r| r.line + "\n").collect()
        }
    }
}

fn tagmap(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn add(s: &DbStorage, job: &str, tags: &[(&str, &str)]) -> Run {
    s.add_run(NewRun {
        job_name: job.into(),
        tags: tagmap(tags),
        ..Default::default()
    })
    .unwrap()
}

fn ev(run: &Run, t: EventType) -> NewEvent {
    NewEvent::new(
        &run.run_id,
        &run.job_name,
        Some(t),
        format!("{} happened", t.name()),
    )
}

fn ev_at(run: &Run, t: EventType, ts: f64) -> NewEvent {
    let mut e = ev(run, t);
    e.timestamp = ts;
    e
}

fn status(s: &DbStorage, run: &Run) -> RunStatus {
    s.get_run(&run.run_id).unwrap().unwrap().status
}

fn all_events(s: &DbStorage, run_id: &str) -> Vec<dagster_core::domain::EventRecord> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = s.events_for_run(run_id, after, 100).unwrap();
        out.extend(page.events);
        after = page.cursor;
        if !page.has_more {
            return out;
        }
    }
}

fn materialization(run: &Run, key: &AssetKey, partition: Option<&str>) -> NewEvent {
    ev(run, EventType::AssetMaterialization)
        .step(&key.to_step_key())
        .data(EventData::Asset(Materialization {
            asset_key: key.clone(),
            description: None,
            metadata: vec![],
            partition: partition.map(str::to_string),
            tags: BTreeMap::new(),
        }))
}

fn ids(runs: &[Run]) -> Vec<&str> {
    runs.iter().map(|r| r.run_id.as_str()).collect()
}

mod cases {
    use super::*;

    pub fn add_and_get_run(db: &TestDb) {
        let s = db.storage();
        let run = s
            .add_run(NewRun {
                job_name: "etl".into(),
                tags: tagmap(&[("team", "data"), (".dagster/repository", "repo@loc")]),
                run_config: serde_json::json!({"ops": {"a": {"config": {"x": 1}}}}),
                asset_selection: Some(vec![AssetKey(vec!["a".into(), "b".into()])]),
                step_keys_to_execute: Some(vec!["a__b".into()]),
                parent_run_id: Some("parent".into()),
                root_run_id: Some("root".into()),
                code_location: Some("loc".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(run.status, RunStatus::NotStarted);
        assert!(
            uuid::Uuid::parse_str(&run.run_id).is_ok(),
            "generated id {}",
            run.run_id
        );
        assert_eq!(run.start_time, None);
        assert_eq!(run.create_time, run.update_time);
        let got = s.get_run(&run.run_id).unwrap().unwrap();
        assert_eq!(got, run);

        let defaults = s
            .add_run(NewRun {
                job_name: "j".into(),
                run_id: Some("my-id".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(defaults.run_id, "my-id");
        assert_eq!(defaults.run_config, serde_json::json!({}));
        assert_eq!(s.get_run("my-id").unwrap().unwrap(), defaults);

        let queued = s
            .add_run(NewRun {
                job_name: "j".into(),
                status: Some(RunStatus::Queued),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(status(&s, &queued), RunStatus::Queued);
        assert!(s.get_run("missing").unwrap().is_none());
    }

    pub fn add_run_with_existing_id_is_refused(db: &TestDb) {
        let s = db.storage();
        let new = NewRun {
            job_name: "j".into(),
            run_id: Some("dup".into()),
            ..Default::default()
        };
        s.add_run(new.clone()).unwrap();
        let err = s.add_run(new).unwrap_err();
        assert!(
            matches!(err, StorageError::RunExists(ref id) if id == "dup"),
            "{err:?}"
        );
        assert_eq!(s.count_runs(&RunsFilter::default()).unwrap(), 1);
    }

    pub fn list_runs_newest_first_with_cursor(db: &TestDb) {
        let s = db.storage();
        let runs: Vec<Run> = (0..5).map(|i| add(&s, &format!("job{i}"), &[])).collect();
        let expected: Vec<&str> = runs.iter().rev().map(|r| r.run_id.as_str()).collect();
        let all = s.list_runs(&RunsFilter::default(), None, None).unwrap();
        assert_eq!(ids(&all), expected);

        let p1 = s.list_runs(&RunsFilter::default(), None, Some(2)).unwrap();
        assert_eq!(ids(&p1), &expected[..2]);
        let p2 = s
            .list_runs(&RunsFilter::default(), Some(&p1[1].run_id), Some(2))
            .unwrap();
        assert_eq!(ids(&p2), &expected[2..4]);
        let p3 = s
            .list_runs(&RunsFilter::default(), Some(&p2[1].run_id), Some(2))
            .unwrap();
        assert_eq!(ids(&p3), &expected[4..]);
        let p4 = s
            .list_runs(&RunsFilter::default(), Some(&p3[0].run_id), Some(2))
            .unwrap();
        assert!(p4.is_empty());
        assert!(s
            .list_runs(&RunsFilter::default(), Some("no-such-run"), None)
            .unwrap()
            .is_empty());
    }

    pub fn list_and_count_filters(db: &TestDb) {
        let s = db.storage();
        let a = add(&s, "etl", &[("team", "data"), ("env", "prod")]);
        pause_ms(5);
        let b = add(&s, "etl", &[("team", "data"), ("env", "dev")]);
        pause_ms(5);
        let c = add(&s, "report", &[("team", "web")]);
        s.store_events(&[ev(&b, EventType::RunStart)]).unwrap();

        let check = |f: RunsFilter, want: &[&Run]| {
            let got = s.list_runs(&f, None, None).unwrap();
            let want_ids: Vec<&str> = want.iter().map(|r| r.run_id.as_str()).collect();
            assert_eq!(ids(&got), want_ids, "{f:?}");
            assert_eq!(s.count_runs(&f).unwrap(), want.len() as i64, "{f:?}");
        };
        check(RunsFilter::default(), &[&c, &b, &a]);
        check(
            RunsFilter {
                tag_keys: vec!["env".into()],
                ..Default::default()
            },
            &[&b, &a],
        );
        check(
            RunsFilter {
                tag_keys: vec!["env".into(), "team".into()],
                tags: vec![("team".into(), "data".into())],
                job_name: Some("etl".into()),
                ..Default::default()
            },
            &[&b, &a],
        );
        check(
            RunsFilter {
                tag_keys: vec!["nope".into()],
                ..Default::default()
            },
            &[],
        );
        check(
            RunsFilter {
                job_name: Some("etl".into()),
                ..Default::default()
            },
            &[&b, &a],
        );
        check(
            RunsFilter {
                statuses: Some(vec![RunStatus::Started]),
                ..Default::default()
            },
            &[&b],
        );
        check(
            RunsFilter {
                statuses: Some(vec![RunStatus::NotStarted, RunStatus::Started]),
                ..Default::default()
            },
            &[&c, &b, &a],
        );
        check(
            RunsFilter {
                statuses: Some(vec![]),
                ..Default::default()
            },
            &[],
        );
        check(
            RunsFilter {
                tags: vec![("team".into(), "data".into())],
                ..Default::default()
            },
            &[&b, &a],
        );
        check(
            RunsFilter {
                tags: vec![
                    ("team".into(), "data".into()),
                    ("env".into(), "prod".into()),
                ],
                ..Default::default()
            },
            &[&a],
        );
        check(
            RunsFilter {
                tags: vec![("team".into(), "nobody".into())],
                ..Default::default()
            },
            &[],
        );
        check(
            RunsFilter {
                run_ids: Some(vec![a.run_id.clone(), c.run_id.clone()]),
                ..Default::default()
            },
            &[&c, &a],
        );
        check(
            RunsFilter {
                job_name: Some("etl".into()),
                statuses: Some(vec![RunStatus::NotStarted]),
                ..Default::default()
            },
            &[&a],
        );
        // Exclusive bounds on create_time.
        check(
            RunsFilter {
                created_after: Some(a.create_time),
                ..Default::default()
            },
            &[&c, &b],
        );
        check(
            RunsFilter {
                created_before: Some(c.create_time),
                ..Default::default()
            },
            &[&b, &a],
        );
        check(
            RunsFilter {
                created_after: Some(a.create_time),
                created_before: Some(c.create_time),
                ..Default::default()
            },
            &[&b],
        );
        let b_now = s.get_run(&b.run_id).unwrap().unwrap();
        check(
            RunsFilter {
                updated_after: Some(b_now.update_time - 0.000_001),
                ..Default::default()
            },
            &[&b],
        );
        check(
            RunsFilter {
                updated_before: Some(b_now.update_time),
                ..Default::default()
            },
            &[&c, &a],
        );
        // Absurd bounds are clamped, never an error.
        check(
            RunsFilter {
                created_after: Some(f64::MAX),
                ..Default::default()
            },
            &[],
        );
        check(
            RunsFilter {
                created_after: Some(f64::NAN),
                ..Default::default()
            },
            &[&c, &b, &a],
        );
    }

    pub fn list_runs_oldest_first_with_cursor_and_tags(db: &TestDb) {
        let s = db.storage();
        let a = add(&s, "etl", &[("team", "data"), ("k", "1")]);
        let b = add(&s, "etl", &[]);
        let c = add(&s, "etl", &[("team", "ops")]);
        let f = RunsFilter {
            oldest_first: true,
            ..Default::default()
        };
        let all = s.list_runs(&f, None, None).unwrap();
        assert_eq!(
            ids(&all),
            [a.run_id.as_str(), b.run_id.as_str(), c.run_id.as_str()]
        );
        assert_eq!(all[0].tags, tagmap(&[("team", "data"), ("k", "1")]));
        assert!(all[1].tags.is_empty());
        assert_eq!(all[2].tags, tagmap(&[("team", "ops")]));
        let page = s.list_runs(&f, Some(&a.run_id), Some(1)).unwrap();
        assert_eq!(ids(&page), [b.run_id.as_str()]);
        let page = s.list_runs(&f, Some(&b.run_id), None).unwrap();
        assert_eq!(ids(&page), [c.run_id.as_str()]);
    }

    pub fn exclude_subruns_leaves_out_backfill_runs(db: &TestDb) {
        let s = db.storage();
        let a = add(&s, "etl", &[("team", "data")]);
        let b = add(&s, "etl", &[(tags::BACKFILL, "bf1"), ("team", "data")]);
        let c = add(&s, "etl", &[]);
        let d = add(&s, "report", &[("team", "data")]);
        // A run that joins a backfill after it was created is left out too.
        s.add_run_tags(&d.run_id, &tagmap(&[(tags::BACKFILL, "bf2")]))
            .unwrap();
        let roots = RunsFilter {
            exclude_subruns: true,
            ..Default::default()
        };
        let got = s.list_runs(&roots, None, None).unwrap();
        assert_eq!(ids(&got), [c.run_id.as_str(), a.run_id.as_str()]);
        assert_eq!(s.count_runs(&roots).unwrap(), 2);
        // Combined with other conditions, a cursor and a limit.
        let f = RunsFilter {
            tags: vec![("team".into(), "data".into())],
            ..roots.clone()
        };
        assert_eq!(
            ids(&s.list_runs(&f, None, None).unwrap()),
            [a.run_id.as_str()]
        );
        assert_eq!(s.count_runs(&f).unwrap(), 1);
        let page = s.list_runs(&roots, Some(&d.run_id), Some(1)).unwrap();
        assert_eq!(ids(&page), [c.run_id.as_str()]);
        let page = s.list_runs(&roots, Some(&c.run_id), Some(1)).unwrap();
        assert_eq!(ids(&page), [a.run_id.as_str()]);
        // Asking for a backfill's runs while excluding them matches nothing.
        let f = RunsFilter {
            tags: vec![(tags::BACKFILL.into(), "bf1".into())],
            ..roots.clone()
        };
        assert!(s.list_runs(&f, None, None).unwrap().is_empty());
        // Without the flag every run is listed.
        assert_eq!(s.count_runs(&RunsFilter::default()).unwrap(), 4);
        assert_eq!(
            s.list_runs(
                &RunsFilter {
                    tags: vec![(tags::BACKFILL.into(), "bf1".into())],
                    ..Default::default()
                },
                None,
                None
            )
            .unwrap()[0]
                .run_id,
            b.run_id
        );
    }

    pub fn run_tag_keys_and_values(db: &TestDb) {
        let s = db.storage();
        assert!(s.run_tag_keys().unwrap().is_empty());
        assert!(s.run_tag_values(None, None, None).unwrap().is_empty());
        add(
            &s,
            "j",
            &[("team", "data"), ("env", "prod"), (".dagster/h", "x")],
        );
        add(&s, "j", &[("team", "web"), ("env", "prod")]);
        add(
            &s,
            "j",
            &[("team", "Data"), ("env", "dev"), ("p%", "50%_off")],
        );
        add(&s, "j", &[("team", "datum"), ("lang", "日本語")]);
        assert_eq!(
            s.run_tag_keys().unwrap(),
            [".dagster/h", "env", "lang", "p%", "team"]
        );
        let owned = |v: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
            v.iter()
                .map(|(k, vs)| (k.to_string(), vs.iter().map(|x| x.to_string()).collect()))
                .collect()
        };
        let keys = |k: &[&str]| -> Vec<String> { k.iter().map(|x| x.to_string()).collect() };
        // Distinct values, keys and values sorted.
        assert_eq!(
            s.run_tag_values(Some(&keys(&["team", "env"])), None, None)
                .unwrap(),
            owned(&[
                ("env", &["dev", "prod"]),
                ("team", &["Data", "data", "datum", "web"])
            ])
        );
        // Every key when none are given.
        assert_eq!(s.run_tag_values(None, None, None).unwrap().len(), 5);
        assert!(s.run_tag_values(Some(&[]), None, None).unwrap().is_empty());
        // The prefix is exact and case-sensitive; LIKE wildcards are plain characters.
        assert_eq!(
            s.run_tag_values(Some(&keys(&["team"])), Some("dat"), None)
                .unwrap(),
            owned(&[("team", &["data", "datum"])])
        );
        assert_eq!(
            s.run_tag_values(None, Some("50%_"), None).unwrap(),
            owned(&[("p%", &["50%_off"])])
        );
        assert!(s
            .run_tag_values(None, Some("5_%"), None)
            .unwrap()
            .is_empty());
        assert_eq!(
            s.run_tag_values(None, Some("日本"), None).unwrap(),
            owned(&[("lang", &["日本語"])])
        );
        // An empty prefix is no prefix; the limit counts (key, value) pairs across keys.
        assert_eq!(
            s.run_tag_values(Some(&keys(&["lang", "env"])), Some(""), Some(3))
                .unwrap(),
            owned(&[("env", &["dev", "prod"]), ("lang", &["日本語"])])
        );
        assert_eq!(
            s.run_tag_values(Some(&keys(&["lang", "env"])), None, Some(2))
                .unwrap(),
            owned(&[("env", &["dev", "prod"])])
        );
        assert!(s
            .run_tag_values(Some(&keys(&["team"])), None, Some(0))
            .unwrap()
            .is_empty());
        // More keys than one IN list holds.
        let mut many: Vec<String> = (0..1200).map(|i| format!("k{i}")).collect();
        many.push("lang".into());
        assert_eq!(
            s.run_tag_values(Some(&many), None, Some(10)).unwrap(),
            owned(&[("lang", &["日本語"])])
        );
    }

    /// The runs page's tag filter (`run_tag_keys`: the next key after one; `run_tag_values`: the
    /// values of given keys) is served by an index on `run_tags.key`, not a table scan.
    pub fn run_tag_lookups_use_an_index(db: &TestDb) {
        let s = db.storage();
        add(&s, "j", &[("team", "data"), ("env", "prod")]);
        let index = match db.backend() {
            StorageBackend::Sqlite { .. } => "INDEX idx_run_tags (key",
            StorageBackend::Postgres { .. } => "idx_run_tags_key",
        };
        for sql in [
            "SELECT MIN(key) FROM run_tags WHERE key > 'env'",
            "SELECT DISTINCT key, value FROM run_tags WHERE key IN ('team', 'env') ORDER BY key, value",
        ] {
            let plan = query_plan(db, sql);
            assert!(plan.contains(index), "{sql}:\n{plan}");
        }
        assert_eq!(s.run_tag_keys().unwrap(), ["env", "team"]);
    }

    pub fn add_run_tags_adds_and_replaces(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[("a", "1"), ("b", "2")]);
        s.add_run_tags(&r.run_id, &tagmap(&[("b", "3"), ("c", "4")]))
            .unwrap();
        let got = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(got.tags, tagmap(&[("a", "1"), ("b", "3"), ("c", "4")]));
        let listed = s.list_runs(&RunsFilter::default(), None, None).unwrap();
        assert_eq!(listed[0].tags, got.tags);
        let f = RunsFilter {
            tags: vec![("b".into(), "3".into())],
            ..Default::default()
        };
        assert_eq!(s.count_runs(&f).unwrap(), 1);
        let f = RunsFilter {
            tags: vec![("b".into(), "2".into())],
            ..Default::default()
        };
        assert_eq!(s.count_runs(&f).unwrap(), 0);
        let err = s
            .add_run_tags("missing", &tagmap(&[("x", "y")]))
            .unwrap_err();
        assert!(
            matches!(err, StorageError::RunNotFound(ref id) if id == "missing"),
            "{err:?}"
        );
    }

    pub fn large_tag_values(db: &TestDb) {
        let s = db.storage();
        let big = "x".repeat(20_000);
        let r = add(&s, "j", &[("big", &big)]);
        assert_eq!(s.get_run(&r.run_id).unwrap().unwrap().tags["big"], big);
        let f = RunsFilter {
            tags: vec![("big".into(), big.clone())],
            ..Default::default()
        };
        assert_eq!(s.count_runs(&f).unwrap(), 1);
    }

    pub fn delete_and_wipe_runs(db: &TestDb) {
        let s = db.storage();
        let a = add(&s, "j", &[("t", "1")]);
        let b = add(&s, "j", &[("t", "1")]);
        s.store_events(&[ev(&a, EventType::RunStart), ev(&b, EventType::RunStart)])
            .unwrap();
        assert!(s.delete_run(&a.run_id).unwrap());
        assert!(!s.delete_run(&a.run_id).unwrap());
        assert!(s.get_run(&a.run_id).unwrap().is_none());
        assert!(all_events(&s, &a.run_id).is_empty());
        assert_eq!(all_events(&s, &b.run_id).len(), 1);
        let f = RunsFilter {
            tags: vec![("t".into(), "1".into())],
            ..Default::default()
        };
        assert_eq!(s.count_runs(&f).unwrap(), 1);
        // A new run may reuse a deleted run's id.
        s.add_run(NewRun {
            job_name: "j".into(),
            run_id: Some(a.run_id.clone()),
            ..Default::default()
        })
        .unwrap();
        assert!(s.get_run(&a.run_id).unwrap().unwrap().tags.is_empty());

        s.wipe_runs().unwrap();
        assert_eq!(s.count_runs(&RunsFilter::default()).unwrap(), 0);
        assert!(all_events(&s, &b.run_id).is_empty());
        // Storage ids are never reused after deletes.
        let c = add(&s, "j", &[]);
        let out = s.store_events(&[ev(&c, EventType::RunStart)]).unwrap();
        assert!(out.storage_ids[0] > 2, "{:?}", out.storage_ids);
    }

    pub fn status_follows_lifecycle_events(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[]);
        let t0 = 1_700_000_000.25;
        let out = s
            .store_events(&[
                ev_at(&r, EventType::RunEnqueued, t0),
                ev_at(&r, EventType::RunStarting, t0 + 1.0),
                ev_at(&r, EventType::EngineEvent, t0 + 1.5),
                ev_at(&r, EventType::RunStart, t0 + 2.0),
            ])
            .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        assert_eq!(out.storage_ids.len(), 4);
        let got = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(got.status, RunStatus::Started);
        assert_eq!(got.start_time, Some(t0 + 2.0));
        assert_eq!(got.end_time, None);
        assert_eq!(got.update_time, t0 + 2.0);

        // RUN_START after a suspension/resume keeps the first start time.
        s.store_events(&[ev_at(&r, EventType::RunSuspended, t0 + 3.0)])
            .unwrap();
        assert_eq!(status(&s, &r), RunStatus::Suspended);
        s.store_events(&[ev_at(&r, EventType::RunStart, t0 + 4.0)])
            .unwrap();
        let got = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(got.status, RunStatus::Started);
        assert_eq!(got.start_time, Some(t0 + 2.0));

        s.store_events(&[
            ev_at(&r, EventType::StepStart, t0 + 5.0).step("a"),
            ev_at(&r, EventType::RunSuccess, t0 + 6.0),
        ])
        .unwrap();
        let got = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(got.status, RunStatus::Success);
        assert_eq!(got.end_time, Some(t0 + 6.0));
        let types: Vec<Option<EventType>> = all_events(&s, &r.run_id)
            .iter()
            .map(|e| e.event.event_type)
            .collect();
        assert_eq!(types.len(), 8);
        assert_eq!(types.last(), Some(&Some(EventType::RunSuccess)));
    }

    pub fn canceled_then_success_is_refused(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[]);
        s.store_events(&[ev(&r, EventType::RunStart), ev(&r, EventType::RunCanceling)])
            .unwrap();
        assert_eq!(status(&s, &r), RunStatus::Canceling);
        s.store_events(&[ev(&r, EventType::RunCanceled)]).unwrap();
        let canceled = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(canceled.status, RunStatus::Canceled);
        let before = all_events(&s, &r.run_id).len();

        let out = s
            .store_events(&[
                ev(&r, EventType::RunSuccess),
                ev(&r, EventType::StepStart).step("late"),
            ])
            .unwrap();
        assert_eq!(
            out.rejected,
            vec![(
                r.run_id.clone(),
                "RUN_SUCCESS".to_string(),
                Some(RunStatus::Canceled)
            )]
        );
        assert_eq!(
            out.storage_ids.len(),
            1,
            "only the step event gets an id in the outcome"
        );
        let after = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(after.status, RunStatus::Canceled);
        assert_eq!(after.end_time, canceled.end_time);

        let events = all_events(&s, &r.run_id);
        assert_eq!(events.len(), before + 2);
        assert!(events
            .iter()
            .all(|e| e.event.event_type != Some(EventType::RunSuccess)));
        let warning = &events[before].event;
        assert_eq!(warning.event_type, Some(EventType::EngineEvent));
        assert_eq!(warning.level, LogLevel::Warning);
        assert_eq!(
            warning.message,
            format!("Ignored RUN_SUCCESS: run {} is already CANCELED", r.run_id)
        );
        assert_eq!(events[before + 1].storage_id, out.storage_ids[0]);

        // FAILURE after CANCELED is refused too.
        let out = s.store_events(&[ev(&r, EventType::RunFailure)]).unwrap();
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(status(&s, &r), RunStatus::Canceled);
    }

    pub fn queued_run_canceled(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[]);
        s.store_events(&[
            ev(&r, EventType::RunEnqueued),
            ev(&r, EventType::RunCanceling),
            ev(&r, EventType::RunCanceled),
        ])
        .unwrap();
        let got = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(got.status, RunStatus::Canceled);
        assert_eq!(got.start_time, None);
        assert!(got.end_time.is_some());
    }

    pub fn out_of_order_transition_is_refused(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[]);
        s.store_events(&[ev(&r, EventType::RunEnqueued)]).unwrap();
        let out = s.store_events(&[ev(&r, EventType::RunSuccess)]).unwrap();
        assert_eq!(
            out.rejected,
            vec![(
                r.run_id.clone(),
                "RUN_SUCCESS".to_string(),
                Some(RunStatus::Queued)
            )]
        );
        assert_eq!(status(&s, &r), RunStatus::Queued);
        let last = all_events(&s, &r.run_id).pop().unwrap().event;
        assert!(
            last.message
                .starts_with(&format!("Ignored RUN_SUCCESS: run {} is QUEUED", r.run_id)),
            "{}",
            last.message
        );
    }

    pub fn status_event_for_missing_run_is_refused(db: &TestDb) {
        let s = db.storage();
        let e = NewEvent::new("ghost", "j", Some(EventType::RunStart), "");
        let out = s.store_events(&[e]).unwrap();
        assert_eq!(
            out.rejected,
            vec![("ghost".to_string(), "RUN_START".to_string(), None)]
        );
        assert!(s.get_run("ghost").unwrap().is_none());
        let events = all_events(&s, "ghost");
        assert_eq!(events.len(), 1);
        assert!(events[0].event.message.contains("does not exist"));
    }

    pub fn failure_reason_tag(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[("keep", "me")]);
        let failure =
            ev(&r, EventType::RunFailure)
                .level(LogLevel::Error)
                .data(EventData::Failure {
                    error: ErrorInfo::new("step a failed"),
                    reason: Some("STEP_FAILURE".into()),
                });
        s.store_events(&[
            ev(&r, EventType::RunStart),
            ev(&r, EventType::StepFailure).step("a"),
            failure,
        ])
        .unwrap();
        let got = s.get_run(&r.run_id).unwrap().unwrap();
        assert_eq!(got.status, RunStatus::Failure);
        assert!(got.end_time.is_some());
        assert_eq!(
            got.tags.get(tags::FAILURE_REASON).map(String::as_str),
            Some("STEP_FAILURE")
        );
        assert_eq!(got.tags.get("keep").map(String::as_str), Some("me"));
        let f = RunsFilter {
            tags: vec![(tags::FAILURE_REASON.into(), "STEP_FAILURE".into())],
            ..Default::default()
        };
        assert_eq!(s.count_runs(&f).unwrap(), 1);

        // No reason, no tag.
        let r2 = add(&s, "j", &[]);
        s.store_events(&[ev(&r2, EventType::RunStart), ev(&r2, EventType::RunFailure)])
            .unwrap();
        assert!(!s
            .get_run(&r2.run_id)
            .unwrap()
            .unwrap()
            .tags
            .contains_key(tags::FAILURE_REASON));
    }

    pub fn concurrent_batches_lose_nothing(db: &TestDb) {
        const THREADS: usize = 4;
        const BATCHES: usize = 25;
        const PER_BATCH: usize = 8;
        let s = db.storage();
        let shared = add(&s, "shared", &[]);
        s.store_events(&[ev(&shared, EventType::RunStart)]).unwrap();
        let own: Vec<Run> = (0..THREADS)
            .map(|i| add(&s, &format!("own{i}"), &[]))
            .collect();
        std::thread::scope(|scope| {
            for (t, own_run) in own.iter().enumerate() {
                let s = s.clone();
                let shared = shared.clone();
                scope.spawn(move || {
                    let mut last_id = 0;
                    for b in 0..BATCHES {
                        let mut batch = Vec::new();
                        for i in 0..PER_BATCH {
                            let run = if i % 2 == 0 { &shared } else { own_run };
                            let seq = b * PER_BATCH + i;
                            batch.push(
                                ev(run, EventType::EngineEvent).step(&format!("t{t}-{seq:04}")),
                            );
                        }
                        let out = s.store_events(&batch).unwrap();
                        assert_eq!(out.storage_ids.len(), PER_BATCH);
                        assert!(out.storage_ids.windows(2).all(|w| w[0] < w[1]));
                        assert!(out.storage_ids[0] > last_id);
                        last_id = *out.storage_ids.last().unwrap();
                    }
                });
            }
        });
        let shared_events = all_events(&s, &shared.run_id);
        assert_eq!(shared_events.len(), 1 + THREADS * BATCHES * PER_BATCH / 2);
        assert!(shared_events
            .windows(2)
            .all(|w| w[0].storage_id < w[1].storage_id));
        for (t, own_run) in own.iter().enumerate() {
            let events = all_events(&s, &own_run.run_id);
            assert_eq!(events.len(), BATCHES * PER_BATCH / 2);
            let keys: Vec<String> = events
                .iter()
                .map(|e| e.event.step_key.clone().unwrap())
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "events of thread {t} out of order");
            // The thread's events in the shared run are in its write order too.
            let mine: Vec<String> = shared_events
                .iter()
                .filter_map(|e| e.event.step_key.clone())
                .filter(|k| k.starts_with(&format!("t{t}-")))
                .collect();
            let mut sorted = mine.clone();
            sorted.sort();
            assert_eq!(mine.len(), BATCHES * PER_BATCH / 2);
            assert_eq!(mine, sorted);
        }
    }

    pub fn events_pagination(db: &TestDb) {
        let s = db.storage();
        assert_eq!(s.latest_event_id().unwrap(), None);
        let r = add(&s, "j", &[]);
        let other = add(&s, "j", &[]);
        let batch: Vec<NewEvent> = (0..25)
            .flat_map(|i| {
                [
                    NewEvent::new(&r.run_id, "j", None, format!("line {i}")).level(LogLevel::Info),
                    NewEvent::new(&other.run_id, "j", None, "noise"),
                ]
            })
            .collect();
        s.store_events(&batch).unwrap();

        let p1 = s.events_for_run(&r.run_id, None, 10).unwrap();
        assert_eq!(p1.events.len(), 10);
        assert!(p1.has_more);
        assert_eq!(p1.cursor, Some(p1.events[9].storage_id));
        assert_eq!(p1.events[0].event.message, "line 0");
        assert_eq!(p1.events[0].event.event_type, None);
        assert_eq!(p1.events[0].event.level, LogLevel::Info);
        let p2 = s.events_for_run(&r.run_id, p1.cursor, 10).unwrap();
        assert_eq!(p2.events[0].event.message, "line 10");
        let p3 = s.events_for_run(&r.run_id, p2.cursor, 10).unwrap();
        assert_eq!(p3.events.len(), 5);
        assert!(!p3.has_more);
        assert_eq!(p3.events[4].event.message, "line 24");
        let p4 = s.events_for_run(&r.run_id, p3.cursor, 10).unwrap();
        assert!(p4.events.is_empty());
        assert!(!p4.has_more);
        assert_eq!(p4.cursor, p3.cursor);
        let exact = s.events_for_run(&r.run_id, None, 25).unwrap();
        assert_eq!(exact.events.len(), 25);
        assert!(!exact.has_more);
        let none = s.events_for_run("missing", None, 10).unwrap();
        assert!(none.events.is_empty() && !none.has_more && none.cursor.is_none());
        // The latest id of the whole log is the other run's last event.
        let last_other = s.events_for_run(&other.run_id, None, 100).unwrap().cursor;
        assert_eq!(s.latest_event_id().unwrap(), last_other);
        assert!(last_other > p3.cursor);
        // The stored event round-trips.
        assert_eq!(p1.events[0].event, batch[0]);
    }

    pub fn asset_index(db: &TestDb) {
        let s = db.storage();
        let a = AssetKey(vec!["warehouse".into(), "orders".into()]);
        let b = AssetKey(vec!["customers".into()]);
        let r1 = add(&s, "j", &[]);
        let r2 = add(&s, "j", &[]);
        let planned = ev(&r1, EventType::AssetMaterializationPlanned).data(EventData::Asset(
            Materialization {
                asset_key: b.clone(),
                description: None,
                metadata: vec![],
                partition: None,
                tags: BTreeMap::new(),
            },
        ));
        let out1 = s
            .store_events(&[planned, materialization(&r1, &a, Some("2024-01-01"))])
            .unwrap();
        let out2 = s.store_events(&[materialization(&r2, &a, None)]).unwrap();

        let records = s.asset_records(None).unwrap();
        assert_eq!(records.len(), 2);
        // Ordered by stored key: `["customers"]` < `["warehouse", "orders"]`.
        assert_eq!(records[0].asset_key, b);
        assert!(records[0].last_materialization.is_none());
        assert_eq!(records[1].asset_key, a);
        let last = records[1].last_materialization.as_ref().unwrap();
        assert_eq!(last.storage_id, out2.storage_ids[0]);
        assert_eq!(last.event.run_id, r2.run_id);
        assert_eq!(records[1].last_run_id.as_deref(), Some(r2.run_id.as_str()));

        let only_a = s.asset_records(Some(std::slice::from_ref(&a))).unwrap();
        assert_eq!(only_a.len(), 1);
        assert_eq!(only_a[0].asset_key, a);
        assert!(s
            .asset_records(Some(&[AssetKey(vec!["nope".into()])]))
            .unwrap()
            .is_empty());

        let mats = s.materializations(&a, None, 10).unwrap();
        assert_eq!(
            mats.iter().map(|m| m.storage_id).collect::<Vec<_>>(),
            vec![out2.storage_ids[0], out1.storage_ids[1]]
        );
        assert_eq!(mats[1].event.partition(), Some("2024-01-01"));
        let older = s
            .materializations(&a, Some(out2.storage_ids[0]), 10)
            .unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].storage_id, out1.storage_ids[1]);
        assert_eq!(s.materializations(&a, None, 1).unwrap().len(), 1);
        assert!(s.materializations(&b, None, 10).unwrap().is_empty());

        // An older materialization committed later does not replace the latest one.
        let mut stale = materialization(&r1, &a, None);
        stale.timestamp = 1_000.0;
        s.store_events(&[stale]).unwrap();
        let rec = s.asset_records(Some(std::slice::from_ref(&a))).unwrap();
        assert_eq!(
            rec[0].last_materialization.as_ref().unwrap().storage_id,
            out2.storage_ids[0]
        );
        // Deleting a run does not touch the asset index.
        s.delete_run(&r2.run_id).unwrap();
        assert_eq!(
            s.asset_records(Some(std::slice::from_ref(&a)))
                .unwrap()
                .len(),
            1
        );
    }

    pub fn wipe_asset(db: &TestDb) {
        let s = db.storage();
        let a = AssetKey(vec!["a".into()]);
        let b = AssetKey(vec!["b".into()]);
        let r = add(&s, "j", &[]);
        s.store_events(&[materialization(&r, &a, None), materialization(&r, &b, None)])
            .unwrap();
        s.wipe_asset(&a).unwrap();
        let keys: Vec<AssetKey> = s
            .asset_records(None)
            .unwrap()
            .into_iter()
            .map(|r| r.asset_key)
            .collect();
        assert_eq!(keys, vec![b.clone()]);
        assert!(s.materializations(&a, None, 10).unwrap().is_empty());
        assert_eq!(s.materializations(&b, None, 10).unwrap().len(), 1);
        // The run log keeps its events.
        assert_eq!(all_events(&s, &r.run_id).len(), 2);
        // Materializing again brings the asset back.
        let out = s.store_events(&[materialization(&r, &a, None)]).unwrap();
        let rec = s.asset_records(Some(std::slice::from_ref(&a))).unwrap();
        assert_eq!(
            rec[0].last_materialization.as_ref().unwrap().storage_id,
            out.storage_ids[0]
        );
        assert_eq!(s.materializations(&a, None, 10).unwrap().len(), 1);
    }

    pub fn instigators(db: &TestDb) {
        let s = db.storage();
        let sched = InstigatorState {
            selector_id: "sel-1".into(),
            name: "daily".into(),
            instigator_type: "SCHEDULE".into(),
            status: InstigatorStatus::Running,
            body: serde_json::json!({"cron": "0 0 * * *"}),
        };
        let sensor = InstigatorState {
            selector_id: "sel-2".into(),
            name: "watch".into(),
            instigator_type: "SENSOR".into(),
            status: InstigatorStatus::Stopped,
            body: serde_json::json!({"cursor": null}),
        };
        s.upsert_instigator(&sched).unwrap();
        s.upsert_instigator(&sensor).unwrap();
        assert_eq!(s.get_instigator("sel-1").unwrap(), Some(sched.clone()));
        assert!(s.get_instigator("nope").unwrap().is_none());
        let mut stopped = sched.clone();
        stopped.status = InstigatorStatus::Stopped;
        stopped.body = serde_json::json!({"cron": "0 1 * * *"});
        s.upsert_instigator(&stopped).unwrap();
        assert_eq!(s.get_instigator("sel-1").unwrap(), Some(stopped.clone()));
        assert_eq!(
            s.list_instigators(None).unwrap(),
            vec![stopped.clone(), sensor.clone()]
        );
        assert_eq!(s.list_instigators(Some("SENSOR")).unwrap(), vec![sensor]);
        // An unknown status cannot be written: `InstigatorState::status` is an
        // `InstigatorStatus` (and the column still has its CHECK constraint).
    }

    pub fn unique_and_plain_ticks(db: &TestDb) {
        let s = db.storage();
        let body = serde_json::json!({"run_ids": []});
        let t1 = s
            .create_tick("sched", "SCHEDULE", 1_700_000_000.0, true, &body)
            .unwrap()
            .unwrap();
        assert_eq!(t1.status, "STARTED");
        assert!(s
            .create_tick("sched", "SCHEDULE", 1_700_000_000.0, true, &body)
            .unwrap()
            .is_none());
        let t2 = s
            .create_tick("sched", "SCHEDULE", 1_700_003_600.0, true, &body)
            .unwrap()
            .unwrap();
        // Another schedule at the same time is a different key.
        assert!(s
            .create_tick("other", "SCHEDULE", 1_700_000_000.0, true, &body)
            .unwrap()
            .is_some());
        // Sensor ticks are never deduplicated.
        let s1 = s
            .create_tick("sensor", "SENSOR", 5.5, false, &body)
            .unwrap()
            .unwrap();
        let s2 = s
            .create_tick("sensor", "SENSOR", 5.5, false, &body)
            .unwrap()
            .unwrap();
        assert_ne!(s1.id, s2.id);

        let done = serde_json::json!({"run_ids": ["r1"]});
        s.update_tick(t1.id, TickStatus::Success, &done).unwrap();
        let ticks = s.list_ticks("sched", 10).unwrap();
        assert_eq!(
            ticks.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![t2.id, t1.id]
        );
        assert_eq!(ticks[1].status, "SUCCESS");
        assert_eq!(ticks[1].body, done);
        assert_eq!(ticks[1].timestamp, 1_700_000_000.0);
        assert_eq!(ticks[0], t2);
        assert_eq!(s.list_ticks("sched", 1).unwrap().len(), 1);
        assert_eq!(
            s.list_ticks("sensor", 10)
                .unwrap()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>(),
            vec![s2.id, s1.id]
        );
        assert!(matches!(
            s.update_tick(999_999, TickStatus::Success, &done),
            Err(StorageError::TickNotFound(999_999))
        ));
        // An unknown status cannot be written: `update_tick` takes a `TickStatus` (and the
        // column still has its CHECK constraint).
    }

    pub fn tick_transitions_and_purge(db: &TestDb) {
        let s = db.storage();
        let body = serde_json::json!({"run_ids": []});
        let t = s
            .create_tick("sched", "SCHEDULE", 100.0, true, &body)
            .unwrap()
            .unwrap();
        s.update_tick(t.id, TickStatus::Failure, &body).unwrap();
        // Conditional: only the first FAILURE -> STARTED succeeds.
        let retry = serde_json::json!({"run_ids": [], "failure_count": 1});
        assert!(s
            .transition_tick(t.id, TickStatus::Failure, TickStatus::Started, &retry)
            .unwrap());
        assert!(!s
            .transition_tick(t.id, TickStatus::Failure, TickStatus::Started, &retry)
            .unwrap());
        assert!(!s
            .transition_tick(999_999, TickStatus::Failure, TickStatus::Started, &retry)
            .unwrap());
        let got = &s.list_ticks("sched", 1).unwrap()[0];
        assert_eq!((got.status.as_str(), &got.body), ("STARTED", &retry));
        s.update_tick(t.id, TickStatus::Success, &body).unwrap();
        for (sel, ty, ts, status) in [
            ("sched", "SCHEDULE", 200.0, "SKIPPED"),
            ("sched", "SCHEDULE", 300.0, "SUCCESS"),
            ("sensor", "SENSOR", 150.0, "SKIPPED"),
            ("sensor", "SENSOR", 250.0, "SKIPPED"),
        ] {
            let t = s.create_tick(sel, ty, ts, false, &body).unwrap().unwrap();
            s.update_tick(t.id, tick_status(status), &body).unwrap();
        }
        // Only the given type and status, strictly before the cut-off.
        assert_eq!(
            s.purge_ticks("SENSOR", TickStatus::Skipped, 250.0).unwrap(),
            1
        );
        assert_eq!(
            s.purge_ticks("SENSOR", TickStatus::Success, 1e12).unwrap(),
            0
        );
        assert_eq!(
            s.purge_ticks("SCHEDULE", TickStatus::Success, 300.0)
                .unwrap(),
            1
        );
        let left = |sel: &str| -> Vec<f64> {
            s.list_ticks(sel, 10)
                .unwrap()
                .iter()
                .map(|t| t.timestamp)
                .collect()
        };
        assert_eq!(left("sched"), vec![300.0, 200.0]);
        assert_eq!(left("sensor"), vec![250.0]);
    }

    pub fn ticks_to_resume_any_number(db: &TestDb) {
        let s = db.storage();
        let ids = |ticks: Vec<dagster_core::storage::Tick>| -> Vec<f64> {
            ticks.iter().map(|t| t.timestamp).collect()
        };
        // 30 ticks: the retryable FAILURE ticks are the oldest ones, far beyond any "latest N".
        for i in 0..30 {
            let ts = 1000.0 + f64::from(i);
            let (status, body) = match i {
                0 | 1 => ("FAILURE", serde_json::json!({"failure_count": 1})),
                2 => ("FAILURE", serde_json::json!({"failure_count": 3})),
                3 => ("STARTED", serde_json::json!({})),
                _ => ("SUCCESS", serde_json::json!({})),
            };
            let t = s
                .create_tick("sched", "SCHEDULE", ts, true, &serde_json::json!({}))
                .unwrap()
                .unwrap();
            s.update_tick(t.id, tick_status(status), &body).unwrap();
        }
        s.create_tick("other", "SCHEDULE", 1.0, true, &serde_json::json!({}))
            .unwrap()
            .unwrap();
        assert_eq!(ids(s.ticks_to_resume("sched", 0).unwrap()), vec![1003.0]);
        assert_eq!(
            ids(s.ticks_to_resume("sched", 2).unwrap()),
            vec![1000.0, 1001.0, 1003.0]
        );
        assert_eq!(
            ids(s.ticks_to_resume("sched", 3).unwrap()),
            vec![1000.0, 1001.0, 1002.0, 1003.0]
        );
        assert_eq!(ids(s.ticks_to_resume("other", 3).unwrap()), vec![1.0]);
        // A FAILURE tick taken for a retry (FAILURE -> STARTED) is found as STARTED; its
        // count follows the body written with the transition.
        let first = s.ticks_to_resume("sched", 3).unwrap()[0].clone();
        assert!(s
            .transition_tick(
                first.id,
                TickStatus::Failure,
                TickStatus::Started,
                &serde_json::json!({"failure_count": 1, "attempt_timestamp": 5.0})
            )
            .unwrap());
        s.update_tick(
            first.id,
            TickStatus::Failure,
            &serde_json::json!({"failure_count": 2}),
        )
        .unwrap();
        assert_eq!(
            ids(s.ticks_to_resume("sched", 1).unwrap()),
            vec![1001.0, 1003.0]
        );
    }

    pub fn lifecycle_event_sets_run_tags_with_the_transition(db: &TestDb) {
        let s = db.storage();
        let a = add(&s, "j", &[("keep", "1")]);
        let b = add(&s, "j", &[]);
        s.store_events(&[ev(&a, EventType::RunEnqueued)]).unwrap();
        // b is NOT_STARTED: its RUN_STARTING (allowed) and a second claim of a are batched
        // with a's claim; only accepted transitions set their tags.
        let claim = |r: &Run, who: &str| {
            ev(r, EventType::RunStarting).with_run_tags(tagmap(&[(".dagster/claimed_by", who)]))
        };
        let out = s
            .store_events(&[claim(&a, "d1"), claim(&a, "d2"), claim(&b, "d3")])
            .unwrap();
        assert_eq!(out.rejected.len(), 1, "{out:?}");
        let a = s.get_run(&a.run_id).unwrap().unwrap();
        assert_eq!(a.status, RunStatus::Starting);
        assert_eq!(
            a.tags,
            tagmap(&[("keep", "1"), (".dagster/claimed_by", "d1")])
        );
        let filter = RunsFilter {
            tags: tagmap(&[(".dagster/claimed_by", "d1")])
                .into_iter()
                .collect(),
            ..Default::default()
        };
        assert_eq!(s.count_runs(&filter).unwrap(), 1);
        let b = s.get_run(&b.run_id).unwrap().unwrap();
        assert_eq!(b.tags[".dagster/claimed_by"], "d3");
    }

    /// One batch moving several runs, one of them twice, with a refusal in the middle: every
    /// event is stored once in input order, each run ends in its last accepted status with the
    /// tags of all its accepted transitions.
    pub fn a_batch_over_many_runs_keeps_order_and_tags(db: &TestDb) {
        let s = db.storage();
        let runs: Vec<Run> = (0..3).map(|_| add(&s, "j", &[("keep", "1")])).collect();
        let claim = |r: &Run| {
            ev(r, EventType::RunStarting).with_run_tags(tagmap(&[(".dagster/claimed_by", "d")]))
        };
        let failure = ev(&runs[1], EventType::RunFailure).data(EventData::Failure {
            error: ErrorInfo::new("worker lost"),
            reason: Some("RUN_EXCEPTION".into()),
        });
        let batch = vec![
            claim(&runs[0]),
            claim(&runs[1]),
            ev(&runs[1], EventType::EngineEvent),
            ev(&runs[2], EventType::RunSuccess), // refused: NOT_STARTED
            claim(&runs[2]),
            ev(&runs[1], EventType::RunStart),
            failure,
            ev(&runs[0], EventType::EngineEvent),
        ];
        let out = s.store_events(&batch).unwrap();
        assert_eq!(out.rejected.len(), 1, "{out:?}");
        assert_eq!(out.storage_ids.len(), batch.len() - 1);
        assert!(out.storage_ids.windows(2).all(|w| w[0] < w[1]), "{out:?}");
        let mut stored: Vec<(i64, String, Option<EventType>)> = runs
            .iter()
            .flat_map(|r| all_events(&s, &r.run_id))
            .map(|e| (e.storage_id, e.event.run_id, e.event.event_type))
            .collect();
        stored.sort_by_key(|(id, ..)| *id);
        let expected: Vec<(String, Option<EventType>)> = batch
            .iter()
            .map(|e| match e.event_type {
                // The refused RUN_SUCCESS is stored as an engine event in its place.
                Some(EventType::RunSuccess) => (e.run_id.clone(), Some(EventType::EngineEvent)),
                t => (e.run_id.clone(), t),
            })
            .collect();
        assert_eq!(
            stored
                .iter()
                .map(|(_, r, t)| (r.clone(), *t))
                .collect::<Vec<_>>(),
            expected
        );
        let accepted: Vec<i64> = stored
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, (id, ..))| *id)
            .collect();
        assert_eq!(accepted, out.storage_ids);
        let got: Vec<Run> = runs
            .iter()
            .map(|r| s.get_run(&r.run_id).unwrap().unwrap())
            .collect();
        assert_eq!(got[0].status, RunStatus::Starting);
        assert_eq!(got[1].status, RunStatus::Failure);
        assert_eq!(got[2].status, RunStatus::Starting);
        assert!(got[1].start_time.is_some() && got[1].end_time.is_some());
        assert_eq!(
            got[1].tags,
            tagmap(&[
                ("keep", "1"),
                (".dagster/claimed_by", "d"),
                (tags::FAILURE_REASON, "RUN_EXCEPTION")
            ])
        );
        for r in [&got[0], &got[2]] {
            assert_eq!(
                r.tags,
                tagmap(&[("keep", "1"), (".dagster/claimed_by", "d")])
            );
        }
    }

    pub fn tick_failure_count_backfilled_by_migration(db: &TestDb) {
        let s = db.storage();
        let t = s
            .create_tick("sched", "SCHEDULE", 10.0, true, &serde_json::json!({}))
            .unwrap()
            .unwrap();
        // Back to before the migration that added failure_count (and any after it).
        while !s.revert_last_migration().unwrap().contains("000003") {}
        // Written by a binary that knew no failure_count column: only the body has it.
        let sql = format!(
            "UPDATE job_ticks SET status = 'FAILURE', tick_body = '{{\"failure_count\": 2}}' \
             WHERE id = {}",
            t.id
        );
        raw_sql(db, &sql);
        s.migrate().unwrap();
        assert_eq!(s.ticks_to_resume("sched", 1).unwrap().len(), 0);
        assert_eq!(s.ticks_to_resume("sched", 2).unwrap()[0].id, t.id);
    }

    pub fn daemon_heartbeats(db: &TestDb) {
        let s = db.storage();
        let hb = |t: &str, id: &str, ts: f64| DaemonHeartbeat {
            daemon_type: t.into(),
            daemon_id: id.into(),
            timestamp: ts,
            errors: vec![],
        };
        s.add_heartbeat(&hb("SCHEDULER", "d1", 1.5)).unwrap();
        s.add_heartbeat(&hb("SENSOR", "d1", 2.0)).unwrap();
        let mut with_error = hb("SCHEDULER", "d2", 3.25);
        with_error.errors.push(ErrorInfo::new("boom"));
        s.add_heartbeat(&with_error).unwrap();
        assert_eq!(
            s.heartbeats().unwrap(),
            vec![with_error, hb("SENSOR", "d1", 2.0)]
        );
        s.wipe_heartbeats().unwrap();
        assert!(s.heartbeats().unwrap().is_empty());
    }

    pub fn kvs(db: &TestDb) {
        let s = db.storage();
        assert_eq!(s.kv_get("k").unwrap(), None);
        s.kv_set("k", "v1").unwrap();
        s.kv_set("k", "v2").unwrap();
        s.kv_set("other", "").unwrap();
        assert_eq!(s.kv_get("k").unwrap().as_deref(), Some("v2"));
        assert_eq!(s.kv_get("other").unwrap().as_deref(), Some(""));
        s.kv_delete("k").unwrap();
        s.kv_delete("k").unwrap();
        assert_eq!(s.kv_get("k").unwrap(), None);
    }

    pub fn expired_leases_purged_by_prefix(db: &TestDb) {
        let s = db.storage();
        let now = 1_800_000_000.0;
        assert!(s
            .kv_try_lease("daemon/alive/dead", "dead", now - 7200.0, 30.0)
            .unwrap());
        assert!(s
            .kv_try_lease("daemon/alive/live", "live", now, 30.0)
            .unwrap());
        assert!(s
            .kv_try_lease("other/old", "x", now - 7200.0, 30.0)
            .unwrap());
        // `_` in the prefix is literal: this key does not start with "daemon/alive/".
        assert!(s
            .kv_try_lease("daemonXalive/old", "x", now - 7200.0, 30.0)
            .unwrap());
        s.kv_set("daemon/alive/not-a-lease", "plain text").unwrap();
        assert!(s
            .kv_try_lease("daemon_alive/old", "x", now - 7200.0, 30.0)
            .unwrap());
        assert_eq!(
            s.kv_purge_expired_leases("daemon/alive/", now - 3600.0)
                .unwrap(),
            1
        );
        assert_eq!(s.kv_get("daemon/alive/dead").unwrap(), None);
        assert!(s.kv_get("daemon/alive/live").unwrap().is_some());
        assert!(s.kv_get("daemon/alive/not-a-lease").unwrap().is_some());
        assert!(s.kv_get("other/old").unwrap().is_some());
        assert!(s.kv_get("daemonXalive/old").unwrap().is_some());
        assert_eq!(s.kv_purge_expired_leases("daemon_", now).unwrap(), 1);
        assert!(s.kv_get("daemonXalive/old").unwrap().is_some());
        assert_eq!(s.kv_get("daemon_alive/old").unwrap(), None);
    }

    pub fn worker_heartbeat(db: &TestDb) {
        let s = db.storage();
        let r = add(&s, "j", &[]);
        assert_eq!(s.worker_heartbeat(&r.run_id).unwrap(), None);
        s.record_worker_heartbeat(&r.run_id, 4242, 1_700_000_000.5)
            .unwrap();
        s.record_worker_heartbeat(&r.run_id, 4242, 1_700_000_010.5)
            .unwrap();
        assert_eq!(
            s.worker_heartbeat(&r.run_id).unwrap(),
            Some((4242, 1_700_000_010.5))
        );
        assert!(matches!(
            s.record_worker_heartbeat("missing", 1, 1.0),
            Err(StorageError::RunNotFound(_))
        ));
        assert_eq!(s.worker_heartbeat("missing").unwrap(), None);
    }

    pub fn fresh_database_is_migrated(db: &TestDb) {
        let s = db.storage();
        let (current, latest) = s.schema_version().unwrap();
        assert_eq!(current.as_deref(), Some(latest.as_str()));
        assert!(s.migrate().unwrap().is_empty(), "nothing pending");
        let id = s.run_storage_id().unwrap().unwrap();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{id}");
        // Opening again neither fails nor changes the instance id.
        let again = db.storage();
        assert_eq!(again.run_storage_id().unwrap(), Some(id));
    }

    pub fn migrations_down_and_up(db: &TestDb) {
        let s = db.storage();
        add(&s, "j", &[]);
        let reverted = s.revert_all_migrations().unwrap();
        assert_eq!(reverted.len(), 4, "{reverted:?}");
        assert_eq!(s.schema_version().unwrap().0, None);
        assert!(s.get_run("x").is_err(), "tables are gone");
        let applied = s.migrate().unwrap();
        assert_eq!(applied.len(), 4, "{applied:?}");
        let (current, latest) = s.schema_version().unwrap();
        assert_eq!(current.as_deref(), Some(latest.as_str()));
        assert_eq!(s.count_runs(&RunsFilter::default()).unwrap(), 0);
        add(&s, "j", &[]);
        // And down/up once more from a used database.
        s.revert_all_migrations().unwrap();
        s.migrate().unwrap();
        assert_eq!(s.count_runs(&RunsFilter::default()).unwrap(), 0);
    }

    pub fn pending_migrations_require_migrate(db: &TestDb) {
        let s = db.storage();
        let reverted = s.revert_last_migration().unwrap();
        let err =
            dagster_core::storage::DbStorage::open(&db.backend(), &TestDb::options()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StorageError::Migration { .. }), "{err:?}");
        assert!(msg.contains("dagster instance migrate"), "{msg}");
        assert!(
            msg.contains(&reverted.replace('-', "")) || msg.contains(&reverted),
            "{msg}"
        );
        let unchecked =
            dagster_core::storage::DbStorage::open_unchecked(&db.backend(), &TestDb::options())
                .unwrap();
        let (current, latest) = unchecked.schema_version().unwrap();
        assert_ne!(current.as_deref(), Some(latest.as_str()));
        assert_eq!(unchecked.migrate().unwrap(), vec![reverted]);
        db.storage();
    }

    pub fn data_survives_reopen(db: &TestDb) {
        let run = {
            let s = db.storage();
            let r = add(&s, "j", &[("k", "v")]);
            s.store_events(&[ev(&r, EventType::RunStart)]).unwrap();
            r
        };
        let s = db.storage();
        let got = s.get_run(&run.run_id).unwrap().unwrap();
        assert_eq!(got.status, RunStatus::Started);
        assert_eq!(got.tags, tagmap(&[("k", "v")]));
        assert_eq!(s.describe(), db.backend().describe());
    }
}

#[test]
fn postgres_password_never_shown() {
    let url = "postgres://postgres:Sup3rS3cretPw@127.0.0.1:1/test";
    let backend = dagster_core::storage::StorageBackend::Postgres { url: url.into() };
    assert_eq!(backend.describe(), "postgres://postgres@127.0.0.1:1/test");
    assert!(!format!("{backend:?}").contains("Sup3rS3cretPw"));
    let opts = dagster_core::storage::OpenOptions {
        pool_size: 1,
        connect_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let err = DbStorage::open(&backend, &opts).unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(matches!(err, StorageError::Connect { .. }), "{shown}");
    assert!(!shown.contains("Sup3rS3cretPw"), "{shown}");
    assert!(
        shown.contains("postgres://postgres@127.0.0.1:1/test"),
        "{shown}"
    );
}

#[test]
fn postgres_keyword_password_never_shown() {
    let url = "host=127.0.0.1 port=1 user=postgres password='An0ther Secret' dbname=test";
    let backend = dagster_core::storage::StorageBackend::Postgres { url: url.into() };
    let opts = dagster_core::storage::OpenOptions {
        pool_size: 1,
        connect_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let err = DbStorage::open(&backend, &opts).unwrap_err();
    let shown = format!("{err} / {err:?} / {backend:?}");
    assert!(!shown.contains("An0ther"), "{shown}");
}

#[test]
fn sqlite_creates_parent_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("dagster.db");
    let backend = dagster_core::storage::StorageBackend::Sqlite { path: path.clone() };
    let s = DbStorage::open(&backend, &Default::default()).unwrap();
    assert!(path.exists());
    assert_eq!(s.describe(), format!("sqlite:{}", path.display()));
    assert_eq!(s.count_runs(&RunsFilter::default()).unwrap(), 0);
    // Connections run in WAL mode (readers never block the writer).
    s.kv_set("k", "v").unwrap();
    assert!(
        path.with_extension("db-wal").exists(),
        "no WAL file next to {}",
        path.display()
    );
}

#[test]
fn sqlite_unwritable_location_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "not a directory").unwrap();
    let backend = dagster_core::storage::StorageBackend::Sqlite {
        path: file.join("dagster.db"),
    };
    let err = DbStorage::open(&backend, &Default::default()).unwrap_err();
    assert!(matches!(err, StorageError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot create directory"), "{err}");
}

/// Plain test threads, not async: a blocking sleep is fine.
#[allow(clippy::disallowed_methods)]
fn pause_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// A tick status named in a table of test cases.
fn tick_status(name: &str) -> TickStatus {
    TickStatus::parse(name).unwrap_or_else(|| panic!("not a tick status: {name}"))
}
