"""Python Dagster's side of the UI benchmark (scripts/bench_ui.sh): the same small code location
as location.yaml on our side. Six chained assets that do nothing, a job over them, a one-asset
job, a stopped schedule and a stopped sensor."""

import dagster as dg


def _chain():
    made = []
    for i in range(1, 7):
        deps = [f"a{i - 1}"] if i > 1 else []

        @dg.asset(name=f"a{i}", deps=deps, group_name="bench")
        def _a() -> None:
            return None

        made.append(_a)
    return made


@dg.asset(group_name="bench")
def one() -> None:
    return None


chain = _chain()
chain_job = dg.define_asset_job("chain_job", selection=[f"a{i}" for i in range(1, 7)])
one_job = dg.define_asset_job("one_job", selection=["one"])


@dg.sensor(job=one_job, minimum_interval_seconds=30)
def bench_sensor(context):
    return dg.SkipReason("benchmark instance")


defs = dg.Definitions(
    assets=[one, *chain],
    jobs=[chain_job, one_job],
    schedules=[dg.ScheduleDefinition(job=chain_job, cron_schedule="0 * * * *")],
    sensors=[bench_sensor],
)


if __name__ == "__main__":
    # Seeds DAGSTER_HOME's instance with N runs of chain_job (in process: fast).
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with dg.DagsterInstance.get() as instance:
        job = defs.get_job_def("chain_job")
        for _ in range(n):
            assert job.execute_in_process(instance=instance).success
