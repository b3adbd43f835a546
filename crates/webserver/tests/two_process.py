"""The two-process test's client side: drives dagster-webserver with Dagster's official Python
GraphQL client while a separate dagster-daemon process launches the runs.

Usage: two_process.py PORT LOCATION_NAME
The location must define `demo_job` (finishes quickly), `long_job` (sleeps 60 s) and the
schedule `every_minute` (`* * * * *`, STOPPED in code). The instance uses the
QueuedRunCoordinator, so only the daemon can start runs.
Prints one JSON line {"demo": run_id, "long": run_id, "scheduled": run_id, "statuses": {...}}
and exits 0; exits non-zero with a message on the first failed expectation.
"""

import json
import sys
import time

from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)

START_SCHEDULE = """
mutation StartSchedule($sel: ScheduleSelector!) {
  startSchedule(scheduleSelector: $sel) {
    __typename
    ... on ScheduleStateResult {
      scheduleState { id selectorId name status instigationType runningCount
        typeSpecificData { ... on ScheduleData { cronSchedule startTimestamp } } }
    }
    ... on Error { message }
  }
}
"""

STOP_SCHEDULE = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status runningCount runsCount } }
    ... on Error { message }
  }
}
"""

RUNS = """
query Runs {
  runsOrError(limit: 50) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


def wait_for(client, run_id, wanted, timeout):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        status = client.get_run_status(run_id)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return [s.value for s in seen]
        if status in FINISHED:
            break
        time.sleep(0.1)
    raise AssertionError(f"run {run_id}: wanted {wanted}, statuses seen {seen}")


def main():
    port = int(sys.argv[1])
    location = sys.argv[2]
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    statuses = {}

    # (b) start the schedule first: its first tick is at the next minute boundary, and (a) and
    # (c) run meanwhile.
    started = client._execute(
        START_SCHEDULE,
        {"sel": {"repositoryLocationName": location, "repositoryName": "__repository__",
                 "scheduleName": "every_minute"}},
    )["startSchedule"]
    assert started["__typename"] == "ScheduleStateResult", started
    state = started["scheduleState"]
    assert state["status"] == "RUNNING" and state["runningCount"] == 1, state
    assert state["instigationType"] == "SCHEDULE", state
    assert state["typeSpecificData"]["cronSchedule"] == "* * * * *", state
    started_at = time.time()

    # (a) launch the demo-like job; the webserver only queues it, the daemon starts it
    demo = client.submit_job_execution("demo_job", run_config={}, tags={"origin": "two_process"})
    statuses["demo"] = wait_for(client, demo, DagsterRunStatus.SUCCESS, timeout=120)
    assert statuses["demo"][0] in ("QUEUED", "STARTING", "STARTED", "SUCCESS"), statuses

    # (c) a long-running run, terminated while it runs
    long_run = client.submit_job_execution(
        "long_job", repository_location_name=location, repository_name="__repository__"
    )
    wait_for(client, long_run, DagsterRunStatus.STARTED, timeout=120)
    client.terminate_run(long_run)
    statuses["long"] = wait_for(client, long_run, DagsterRunStatus.CANCELED, timeout=60)

    # (b) the schedule's run appears (next minute boundary + dequeue) and succeeds
    scheduled = None
    deadline = started_at + 75
    while scheduled is None:
        runs = client._execute(RUNS)["runsOrError"]["results"]
        for r in runs:
            tags = {t["key"]: t["value"] for t in r["tags"]}
            if tags.get("dagster/schedule_name") == "every_minute":
                scheduled = r["runId"]
        if scheduled is None:
            assert time.time() < deadline, "no run of schedule every_minute within 75 s"
            time.sleep(0.5)
    statuses["scheduled"] = wait_for(client, scheduled, DagsterRunStatus.SUCCESS, timeout=120)

    stopped = client._execute(STOP_SCHEDULE, {"id": state["id"]})["stopRunningSchedule"]
    assert stopped["__typename"] == "ScheduleStateResult", stopped
    assert stopped["scheduleState"]["status"] == "STOPPED", stopped
    assert stopped["scheduleState"]["runsCount"] >= 1, stopped

    print(json.dumps({"demo": demo, "long": long_run, "scheduled": scheduled, "statuses": statuses}))


if __name__ == "__main__":
    main()
