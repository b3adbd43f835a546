"""Drives a running dagster-webserver with Dagster's official Python GraphQL client.

Usage: python_client.py PORT LOCATION_NAME
The server's code location must define jobs `quick` (finishes at once) and `long` (sleeps 30 s),
and its instance must launch runs (DefaultRunCoordinator) so runs reach SUCCESS without a daemon.
Exits non-zero with a message on the first failed expectation.
"""

import sys
import time

from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from dagster_graphql.client.utils import (
    ReloadRepositoryLocationStatus,
    ShutdownRepositoryLocationStatus,
)
from dagster import DagsterRunStatus


def wait_for(client, run_id, wanted, timeout=60.0):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        status = client.get_run_status(run_id)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return seen
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            break
        time.sleep(0.1)
    raise AssertionError(f"run {run_id}: wanted {wanted}, statuses seen {seen}")


def main():
    port = int(sys.argv[1])
    location = sys.argv[2]
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)

    # submit without repository location / name: the client looks the job up first
    run_a = client.submit_job_execution("quick", run_config={}, tags={"origin": "python"})
    wait_for(client, run_a, DagsterRunStatus.SUCCESS)

    # submit with location and repository given, run config as an object
    run_b = client.submit_job_execution(
        "quick",
        repository_location_name=location,
        repository_name="__repository__",
        run_config={"ops": {"a": {"config": {}}}},
    )
    wait_for(client, run_b, DagsterRunStatus.SUCCESS)

    # an unknown job is reported as the client's JobNotFoundError
    try:
        client.submit_job_execution("no_such_job")
        raise AssertionError("submitting an unknown job did not fail")
    except DagsterGraphQLClientError as e:
        assert e.args[0] == "JobNotFoundError", e.args

    # invalid run config → RunConfigValidationInvalid
    try:
        client.submit_job_execution(
            "quick",
            repository_location_name=location,
            repository_name="__repository__",
            run_config={"nope": {}},
        )
        raise AssertionError("invalid run config was accepted")
    except DagsterGraphQLClientError as e:
        assert e.args[0] == "RunConfigValidationInvalid", e.args

    # unknown run id
    try:
        client.get_run_status("00000000-0000-0000-0000-000000000000")
        raise AssertionError("unknown run id did not fail")
    except DagsterGraphQLClientError as e:
        assert e.args[0] == "RunNotFoundError", e.args

    reload = client.reload_repository_location(location)
    assert reload.status == ReloadRepositoryLocationStatus.SUCCESS, reload
    missing = client.reload_repository_location("no_such_location")
    assert missing.status == ReloadRepositoryLocationStatus.FAILURE, missing
    assert missing.failure_type == "RepositoryLocationNotFound", missing

    shutdown = client.shutdown_repository_location(location)
    assert shutdown.status == ShutdownRepositoryLocationStatus.SUCCESS, shutdown
    shutdown_missing = client.shutdown_repository_location("no_such_location")
    assert shutdown_missing.status == ShutdownRepositoryLocationStatus.FAILURE, shutdown_missing

    # terminate a long-running run → CANCELED
    run_long = client.submit_job_execution("long", repository_location_name=location, repository_name="__repository__")
    wait_for(client, run_long, DagsterRunStatus.STARTED)
    client.terminate_run(run_long)
    wait_for(client, run_long, DagsterRunStatus.CANCELED, timeout=30.0)

    # terminating a finished run fails with the TerminateRunFailure message
    try:
        client.terminate_run(run_a)
        raise AssertionError("terminating a finished run did not fail")
    except DagsterGraphQLClientError as e:
        assert e.args[0] == "TerminateRunFailure", e.args
        assert "could not be terminated due to having status SUCCESS" in e.args[1], e.args

    # terminate_runs: two running runs succeed; mixed lists report the failures
    run_c = client.submit_job_execution("long", repository_location_name=location, repository_name="__repository__")
    run_d = client.submit_job_execution("long", repository_location_name=location, repository_name="__repository__")
    wait_for(client, run_c, DagsterRunStatus.STARTED)
    wait_for(client, run_d, DagsterRunStatus.STARTED)
    client.terminate_runs([run_c, run_d])
    wait_for(client, run_c, DagsterRunStatus.CANCELED, timeout=30.0)
    wait_for(client, run_d, DagsterRunStatus.CANCELED, timeout=30.0)
    try:
        client.terminate_runs([run_a, "00000000-0000-0000-0000-000000000000"])
        raise AssertionError("terminate_runs of finished/unknown runs did not fail")
    except DagsterGraphQLClientError as e:
        assert e.args[0] == "TerminateRunsError", e.args
        assert "All run terminations failed" in e.args[1], e.args

    print("python client: all checks passed")


if __name__ == "__main__":
    main()
