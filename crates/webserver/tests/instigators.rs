#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure
//! Schedule and sensor mutations (compat doc §3.11) against a running `dagster-webserver` on a
//! temp DAGSTER_HOME (SQLite): result unions, what they write to storage (read back through
//! `dagster_core`, as the daemon does), not-found errors, stop by compound id or by
//! origin id + selector id, and `--read-only`.

mod common;

use common::*;
use dagster_core::config::home::DagsterHome;
use dagster_core::instance::Instance;
use dagster_core::instigator::schedule::selector_id;

const PIPELINE: &str = r#"location_name: loc
pipeline_configs:
  a:
    kind: command
    args: [echo, hello]
jobs:
  quick:
    selection: [a]
schedules:
  nightly:
    job: quick
    cron: "0 3 * * *"
    execution_timezone: Europe/Berlin
  hourly_on:
    job: quick
    cron: "0 * * * *"
    default_status: RUNNING
sensors:
  after_quick:
    job: quick
    kind: run_status
    monitored_job: quick
    minimum_interval_seconds: 45
"#;

struct Server {
    proc: Proc,
    port: u16,
    home: tempfile::TempDir,
}

fn start(extra: &[&str]) -> Server {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("pipeline.yaml"), PIPELINE).unwrap();
    std::fs::write(home.path().join("dagster.yaml"), "").unwrap();
    let port = free_port();
    let log = home.path().join("webserver.log");
    let child = pipeline_webserver(home.path(), port, extra)
        .spawn()
        .unwrap();
    let server = Server {
        proc: Proc {
            child,
            name: "dagster-webserver",
        },
        port,
        home,
    };
    wait_for_server(port, &log);
    server
}

impl Server {
    fn call(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let (status, v) = gql(self.port, query, variables);
        assert_eq!(status, 200, "{v}");
        assert!(v.get("errors").is_none(), "{v}");
        v["data"].clone()
    }

    /// The stored (status, body) of an instigator, as the daemon reads it.
    fn stored(&self, name: &str) -> Option<(String, serde_json::Value)> {
        let inst = Instance::open(DagsterHome::new(self.home.path().to_path_buf())).unwrap();
        inst.storage
            .get_instigator(&selector_id("loc", name))
            .unwrap()
            .map(|s| (s.status.to_string(), s.body))
    }
}

const STATE: &str = "id selectorId name instigationType status repositoryName repositoryLocationName runningCount hasStartPermission hasStopPermission runsCount runs(limit: 5) { runId } ticks(limit: 5) { tickId status } typeSpecificData { __typename ... on ScheduleData { cronSchedule startTimestamp } ... on SensorData { lastTickTimestamp lastRunKey lastCursor } }";

fn schedule_mutation(field: &str) -> String {
    format!(
        "mutation($s: ScheduleSelector!) {{ {field}(scheduleSelector: $s) {{ __typename ... on ScheduleStateResult {{ scheduleState {{ {STATE} }} }} ... on ScheduleNotFoundError {{ message scheduleName }} ... on PythonError {{ message }} }} }}"
    )
}

fn sensor_mutation(field: &str, args: &str) -> String {
    let vars = if args.contains("$c") {
        "$s: SensorSelector!, $c: String"
    } else {
        "$s: SensorSelector!"
    };
    format!(
        "mutation({vars}) {{ {field}({args}) {{ __typename ... on Sensor {{ id jobOriginId name defaultStatus canReset minIntervalSeconds sensorType hasCursorUpdatePermissions sensorState {{ {STATE} }} }} ... on SensorNotFoundError {{ message sensorName }} ... on PythonError {{ message }} }} }}"
    )
}

fn sched_sel(name: &str) -> serde_json::Value {
    serde_json::json!({"s": {"repositoryName": "__repository__", "repositoryLocationName": "loc", "scheduleName": name}})
}

fn sensor_vars(name: &str, cursor: Option<&str>) -> serde_json::Value {
    serde_json::json!({"s": {"repositoryName": "__repository__", "repositoryLocationName": "loc", "sensorName": name}, "c": cursor})
}

const STOP_SCHEDULE: &str = "mutation($id: String, $o: String, $s: String) { stopRunningSchedule(id: $id, scheduleOriginId: $o, scheduleSelectorId: $s) { __typename ... on ScheduleStateResult { scheduleState { name status runningCount typeSpecificData { ... on ScheduleData { cronSchedule startTimestamp } } } } ... on PythonError { message } } }";

#[test]
fn schedule_mutations_write_the_state_the_daemon_reads() {
    let server = start(&[]);

    // start
    let d = server.call(&schedule_mutation("startSchedule"), sched_sel("nightly"));
    let r = &d["startSchedule"];
    assert_eq!(r["__typename"], "ScheduleStateResult", "{d}");
    let st = &r["scheduleState"];
    // Dagster's compound id: `<origin id>::<selector id>`
    let compound = st["id"].as_str().unwrap().to_string();
    let (origin, sel) = compound.split_once("::").unwrap();
    assert_eq!(sel, selector_id("loc", "nightly"));
    assert_eq!(origin.len(), 40, "{compound}");
    assert_eq!(st["selectorId"], selector_id("loc", "nightly").as_str());
    assert_eq!(st["name"], "nightly");
    assert_eq!(st["instigationType"], "SCHEDULE");
    assert_eq!(st["status"], "RUNNING");
    assert_eq!(st["repositoryName"], "__repository__");
    assert_eq!(st["repositoryLocationName"], "loc");
    assert_eq!(st["runningCount"], 1);
    assert_eq!(st["hasStartPermission"], true);
    assert_eq!(st["runsCount"], 0);
    assert_eq!(st["runs"], serde_json::json!([]));
    assert_eq!(st["ticks"], serde_json::json!([]));
    assert_eq!(st["typeSpecificData"]["__typename"], "ScheduleData");
    assert_eq!(st["typeSpecificData"]["cronSchedule"], "0 3 * * *");
    assert!(st["typeSpecificData"]["startTimestamp"].as_f64().unwrap() > 1.0e9);
    let (status, body) = server.stored("nightly").unwrap();
    assert_eq!(status, "RUNNING");
    assert_eq!(body["cron"], "0 3 * * *");
    assert_eq!(body["timezone"], "Europe/Berlin");

    // stop by compound id
    let d = server.call(STOP_SCHEDULE, serde_json::json!({"id": compound}));
    let st = &d["stopRunningSchedule"]["scheduleState"];
    assert_eq!(st["status"], "STOPPED", "{d}");
    assert_eq!(st["runningCount"], 0);
    assert!(st["typeSpecificData"]["startTimestamp"].is_null(), "{d}");
    assert_eq!(server.stored("nightly").unwrap().0, "STOPPED");

    // start again, stop by origin id + selector id
    server.call(&schedule_mutation("startSchedule"), sched_sel("nightly"));
    assert_eq!(server.stored("nightly").unwrap().0, "RUNNING");
    let d = server.call(
        STOP_SCHEDULE,
        serde_json::json!({"o": origin, "s": selector_id("loc", "nightly")}),
    );
    assert_eq!(
        d["stopRunningSchedule"]["scheduleState"]["status"], "STOPPED",
        "{d}"
    );

    // reset: back to the code default (STOPPED for `nightly`, RUNNING for `hourly_on`)
    let d = server.call(&schedule_mutation("resetSchedule"), sched_sel("nightly"));
    assert_eq!(
        d["resetSchedule"]["scheduleState"]["status"], "STOPPED",
        "{d}"
    );
    assert_eq!(server.stored("nightly").unwrap().0, "DECLARED_IN_CODE");
    let d = server.call(
        STOP_SCHEDULE,
        serde_json::json!({"id": format!("{origin}::{}", selector_id("loc", "hourly_on"))}),
    );
    assert_eq!(
        d["stopRunningSchedule"]["scheduleState"]["status"], "STOPPED",
        "{d}"
    );
    let d = server.call(&schedule_mutation("resetSchedule"), sched_sel("hourly_on"));
    let st = &d["resetSchedule"]["scheduleState"];
    assert_eq!(st["status"], "RUNNING", "{d}");
    assert!(st["typeSpecificData"]["startTimestamp"].as_f64().is_some());
    let (status, body) = server.stored("hourly_on").unwrap();
    assert_eq!(status, "DECLARED_IN_CODE");
    assert!(body["start_timestamp"].as_f64().is_some(), "{body}");

    // not found: unknown schedule, unknown location, unknown repository
    for vars in [
        sched_sel("nope"),
        serde_json::json!({"s": {"repositoryName": "__repository__", "repositoryLocationName": "other", "scheduleName": "nightly"}}),
        serde_json::json!({"s": {"repositoryName": "repo", "repositoryLocationName": "loc", "scheduleName": "nightly"}}),
    ] {
        let d = server.call(&schedule_mutation("startSchedule"), vars.clone());
        let r = &d["startSchedule"];
        assert_eq!(r["__typename"], "ScheduleNotFoundError", "{vars}: {d}");
        let name = vars["s"]["scheduleName"].as_str().unwrap();
        assert_eq!(r["scheduleName"], name);
        assert_eq!(r["message"], format!("Schedule {name} could not be found."));
    }
    // stop: unknown ids and missing arguments are PythonErrors
    for vars in [
        serde_json::json!({"id": "x::y"}),
        serde_json::json!({"id": "no-separator"}),
        serde_json::json!({"o": "only-origin"}),
        serde_json::json!({}),
    ] {
        let d = server.call(STOP_SCHEDULE, vars.clone());
        assert_eq!(
            d["stopRunningSchedule"]["__typename"], "PythonError",
            "{vars}: {d}"
        );
    }
    let d = server.call(STOP_SCHEDULE, serde_json::json!({}));
    assert_eq!(
        d["stopRunningSchedule"]["message"],
        "Must specify id or scheduleOriginId and scheduleSelectorId"
    );
}

#[test]
fn sensor_mutations_write_the_state_the_daemon_reads() {
    let server = start(&[]);
    let sel = "sensorSelector: $s";
    let d = server.call(
        &sensor_mutation("startSensor", sel),
        sensor_vars("after_quick", None),
    );
    let s = &d["startSensor"];
    assert_eq!(s["__typename"], "Sensor", "{d}");
    let compound = s["id"].as_str().unwrap().to_string();
    let (origin, sel_id) = compound.split_once("::").unwrap();
    assert_eq!(sel_id, selector_id("loc", "after_quick"));
    assert_eq!(s["jobOriginId"], origin);
    assert_eq!(s["name"], "after_quick");
    assert_eq!(s["defaultStatus"], "STOPPED");
    assert_eq!(s["minIntervalSeconds"], 45);
    assert_eq!(s["sensorType"], "RUN_STATUS");
    assert_eq!(s["hasCursorUpdatePermissions"], true);
    let st = &s["sensorState"];
    assert_eq!(st["status"], "RUNNING");
    assert_eq!(st["instigationType"], "SENSOR");
    assert_eq!(st["typeSpecificData"]["__typename"], "SensorData");
    assert_eq!(server.stored("after_quick").unwrap().0, "RUNNING");

    // cursor: set, then clear (null)
    let d = server.call(
        &sensor_mutation("setSensorCursor", "cursor: $c, sensorSelector: $s"),
        sensor_vars("after_quick", Some("1700000000.5")),
    );
    let st = &d["setSensorCursor"]["sensorState"];
    assert_eq!(st["typeSpecificData"]["lastCursor"], "1700000000.5", "{d}");
    assert_eq!(st["status"], "RUNNING");
    let (_, body) = server.stored("after_quick").unwrap();
    assert_eq!(body["cursor"], "1700000000.5");
    let d = server.call(
        &sensor_mutation("setSensorCursor", "cursor: $c, sensorSelector: $s"),
        sensor_vars("after_quick", None),
    );
    assert!(
        d["setSensorCursor"]["sensorState"]["typeSpecificData"]["lastCursor"].is_null(),
        "{d}"
    );

    // stop by compound id, by origin + selector id
    let stop = "mutation($id: String, $o: String, $s: String) { stopSensor(id: $id, jobOriginId: $o, jobSelectorId: $s) { __typename ... on StopSensorMutationResult { instigationState { name status instigationType } } ... on PythonError { message } } }";
    let id = s["id"].as_str().unwrap().to_string();
    let d = server.call(stop, serde_json::json!({"id": id}));
    let r = &d["stopSensor"];
    assert_eq!(r["__typename"], "StopSensorMutationResult", "{d}");
    assert_eq!(r["instigationState"]["status"], "STOPPED");
    assert_eq!(r["instigationState"]["instigationType"], "SENSOR");
    assert_eq!(server.stored("after_quick").unwrap().0, "STOPPED");
    server.call(
        &sensor_mutation("startSensor", sel),
        sensor_vars("after_quick", None),
    );
    let d = server.call(
        stop,
        serde_json::json!({"o": origin, "s": selector_id("loc", "after_quick")}),
    );
    assert_eq!(
        d["stopSensor"]["instigationState"]["status"], "STOPPED",
        "{d}"
    );
    let d = server.call(stop, serde_json::json!({"id": "x::y"}));
    assert_eq!(d["stopSensor"]["__typename"], "PythonError", "{d}");

    // reset → code default (STOPPED)
    let d = server.call(
        &sensor_mutation("resetSensor", sel),
        sensor_vars("after_quick", None),
    );
    let s = &d["resetSensor"];
    assert_eq!(s["sensorState"]["status"], "STOPPED", "{d}");
    assert_eq!(server.stored("after_quick").unwrap().0, "DECLARED_IN_CODE");

    // not found
    for field in ["startSensor", "resetSensor"] {
        let d = server.call(&sensor_mutation(field, sel), sensor_vars("nope", None));
        let r = &d[field];
        assert_eq!(r["__typename"], "SensorNotFoundError", "{d}");
        assert_eq!(r["sensorName"], "nope");
        assert_eq!(
            r["message"],
            "Could not find `nope` in the currently loaded repository."
        );
    }
}

#[test]
fn read_only_refuses_schedule_and_sensor_mutations() {
    let server = start(&["--read-only"]);
    let cases = [
        ("startSchedule", schedule_mutation("startSchedule"), sched_sel("nightly")),
        ("resetSchedule", schedule_mutation("resetSchedule"), sched_sel("nightly")),
        (
            "stopRunningSchedule",
            STOP_SCHEDULE.to_string(),
            serde_json::json!({"id": format!("x::{}", selector_id("loc", "nightly"))}),
        ),
        ("startSensor", sensor_mutation("startSensor", "sensorSelector: $s"), sensor_vars("after_quick", None)),
        ("resetSensor", sensor_mutation("resetSensor", "sensorSelector: $s"), sensor_vars("after_quick", None)),
        (
            "setSensorCursor",
            sensor_mutation("setSensorCursor", "cursor: $c, sensorSelector: $s"),
            sensor_vars("after_quick", Some("1")),
        ),
        (
            "stopSensor",
            "mutation { stopSensor(id: \"x::y\") { __typename ... on UnauthorizedError { message } } }".to_string(),
            serde_json::json!({}),
        ),
    ];
    for (field, q, vars) in cases {
        let d = server.call(&q, vars);
        assert_eq!(d[field]["__typename"], "UnauthorizedError", "{field}: {d}");
    }
    assert!(server.stored("nightly").is_none());
    assert!(server.stored("after_quick").is_none());
    drop(server.proc);
}
