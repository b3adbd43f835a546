#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! 1000 RUNNING schedules due on the same minute: each gets exactly one tick and one run. The
//! elapsed time is printed (run with `--nocapture`); it is not asserted, the machine is shared.
use dagster_core::instigator::schedule::{evaluate_all, start_schedule};
use dagster_core::test_support::TestDb;

fn run(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut y = String::from("location_name: loc\npipeline_configs:\n  a:\n    kind: command\n    args: [echo, hi]\njobs:\n  j:\n    selection: [a]\nschedules:\n");
    for i in 0..1000 {
        y.push_str(&format!("  s{i}:\n    job: j\n    cron: \"* * * * *\"\n"));
    }
    let p = dir.path().join("p.yaml");
    std::fs::write(&p, y).unwrap();
    let (mut d, _) = dagster_pipeline::load(&p).unwrap();
    d.location_name = "loc".into();
    let s = db.storage();
    for def in d.schedules.values() {
        start_schedule(&s, "loc", def, 1_795_500_000.0).unwrap();
    }
    let locs = vec![("loc".to_string(), d)];
    let t = std::time::Instant::now();
    let r = evaluate_all(
        &dagster_core::test_support::queued_submitter(&s),
        &locs,
        1_795_500_060.5,
        &Default::default(),
    );
    eprintln!("{} schedules ticked in {:?}", r.len(), t.elapsed());
    assert_eq!(r.len(), 1000);
    assert!(r.iter().all(|(_, x)| x.as_ref().unwrap().len() == 1));
}
#[test]
fn thousand_schedules_sqlite() {
    run(TestDb::sqlite())
}
#[test]
fn thousand_schedules_postgres() {
    run(TestDb::postgres())
}
