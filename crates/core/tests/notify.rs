//! Postgres `NOTIFY` on run-queue changes and the [`RunListener`] that receives them.
//!
//! Postgres: `DAGSTER_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`); each
//! test gets its own schema.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use dagster_core::domain::{EventType, NewEvent, NewRun, Run, RunStatus};
use dagster_core::storage::notify::{RunListener, RUN_CHANNEL};
use dagster_core::storage::{DbStorage, EventLogStore, RunStore};
use dagster_core::test_support::TestDb;
use postgres::fallible_iterator::FallibleIterator;
use std::sync::mpsc;
use std::time::Duration;

fn event(run_id: &str, t: EventType) -> NewEvent {
    NewEvent::new(run_id, "j", Some(t), "")
}

/// Creates a run of job `j` directly in QUEUED.
fn add_queued_run(s: &DbStorage) -> Run {
    s.add_run(NewRun {
        job_name: "j".into(),
        status: Some(RunStatus::Queued),
        ..Default::default()
    })
    .unwrap()
}

/// Deadline for a notification that normally arrives within milliseconds.
const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn queued_and_canceling_runs_are_notified_after_commit() {
    let db = TestDb::postgres();
    let s = db.storage();
    let url = db.pg_url().unwrap();
    // Every test schema lives in the same database: filter on ours.
    let schema = url.rsplit("search_path%3D").next().unwrap().to_string();
    let mut listener = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    listener
        .batch_execute(&format!("LISTEN {RUN_CHANNEL}"))
        .unwrap();
    let mut next_payload = || -> String {
        let mut notes = listener.notifications();
        let mut it = notes.timeout_iter(DEADLINE);
        loop {
            let n = it
                .next()
                .unwrap()
                .expect("no notification before the deadline");
            if let Some(rest) = n.payload().strip_prefix(&format!("{schema} ")) {
                return rest.to_string();
            }
        }
    };

    let run = s
        .add_run(NewRun {
            job_name: "j".into(),
            ..Default::default()
        })
        .unwrap();
    s.store_events(&[event(&run.run_id, EventType::RunEnqueued)])
        .unwrap();
    assert_eq!(next_payload(), format!("QUEUED {}", run.run_id));
    // A refused transition (QUEUED again) notifies nothing: the next notification is the one
    // of a run created QUEUED.
    let out = s
        .store_events(&[event(&run.run_id, EventType::RunEnqueued)])
        .unwrap();
    assert_eq!(out.rejected.len(), 1);
    let queued = add_queued_run(&s);
    assert_eq!(next_payload(), format!("QUEUED {}", queued.run_id));
    // A cancellation request.
    s.store_events(&[
        event(&run.run_id, EventType::RunStarting),
        event(&run.run_id, EventType::RunStart),
        event(&run.run_id, EventType::RunCanceling),
    ])
    .unwrap();
    assert_eq!(next_payload(), format!("CANCELING {}", run.run_id));
}

#[test]
fn run_listener_wakes_on_notifications_of_its_schema_only() {
    let sqlite = TestDb::sqlite();
    assert!(
        RunListener::spawn(&sqlite.backend(), || {})
            .unwrap()
            .is_none(),
        "SQLite has no LISTEN"
    );
    let db = TestDb::postgres();
    let other = TestDb::postgres();
    let s = db.storage();
    let o = other.storage();
    let (tx, rx) = mpsc::channel();
    let listener = RunListener::spawn(&db.backend(), move || {
        let _ = tx.send(());
    })
    .unwrap()
    .unwrap();
    // One wake-up when the connection is established.
    rx.recv_timeout(DEADLINE).unwrap();
    assert!(listener.is_connected());
    // A run queued in another schema of the same database does not wake this listener; one
    // in ours does.
    add_queued_run(&o);
    add_queued_run(&s);
    rx.recv_timeout(DEADLINE).unwrap();
    // Notifications are delivered in commit order, so the other schema's came first and was
    // ignored: nothing else is pending.
    add_queued_run(&o);
    add_queued_run(&s);
    rx.recv_timeout(DEADLINE).unwrap();
    assert!(rx.try_recv().is_err(), "woken by another schema's run");
}
