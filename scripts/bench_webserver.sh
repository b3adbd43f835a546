#!/usr/bin/env bash
# Webserver benchmarks (issue 5, acceptance 5), on a Postgres instance seeded with 100,000 runs and
# 5,000,000 events:
#   (1) GraphQL latency (p50/p90/p99 over 1,000 requests each, one keep-alive client, the
#       `bench_graphql` example): runsOrError(limit: 30) with count, runOrError(runId) of random
#       runs (with tags and stats-like fields), a logsForRun page of 100 events of random runs;
#   (2) the idle webserver's RSS (after start, and after the requests);
#   (3) launch -> SUCCESS through the official Python client (`DagsterGraphQLClient`,
#       submit_job_execution then get_run_status polling) with `dagster-daemon run` as a
#       separate process and the QueuedRunCoordinator, median over --launches runs.
# Usage: scripts/bench_webserver.sh [--runs 100000] [--events-per-run 50] [--requests 1000]
#        [--launches 20] [--keep] [--reuse] [--debug (debug build: only to check the script)]
# Needs Postgres (DAGSTER_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test) and the
# venv of scripts/python-venv.sh. The data goes to the schema `bench_webserver` (dropped at the
# end unless --keep; --reuse skips seeding when that schema already holds the data).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=100000; per_run=50; requests=1000; launches=20; keep=0; reuse=0; profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --events-per-run) per_run="$2"; shift ;;
    --requests) requests="$2"; shift ;;
    --launches) launches="$2"; shift ;;
    --keep) keep=1 ;;
    --reuse) reuse=1; keep=1 ;;
    --debug) profile=debug ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
base_url=${DAGSTER_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
schema=bench_webserver
case "$base_url" in *\?*) sep='&' ;; *) sep='?' ;; esac
url="$base_url${sep}options=-c%20search_path%3D$schema"
psql_() { psql "$base_url" -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -c 'select 1' >/dev/null || { echo "Postgres not reachable at $base_url (start it: pg_ctlcluster 15 main start)" >&2; exit 1; }
scripts/python-venv.sh >/dev/null
python=${DAGSTER_GRAPHQL_VENV:-$PWD/target/python-venv}/bin/python

flag=--release; [ "$profile" = debug ] && flag=
for targets in "-p dagster-cli -p dagster-daemon -p dagster-webserver" "-p dagster-webserver --example bench_graphql"; do
  # shellcheck disable=SC2086
  cargo build $flag $targets >/dev/null 2>&1 || cargo build $flag $targets
done
bin=$PWD/target/$profile
bench=$bin/examples/bench_graphql

work=$(mktemp -d)
cleanup() {
  for p in web daemon; do
    [ -f "$work/$p.pid" ] && kill "$(cat "$work/$p.pid")" 2>/dev/null || true
  done
  sleep 0.5
  [ "$keep" = 1 ] || psql_ -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export DAGSTER_HOME=$work/home; mkdir -p "$DAGSTER_HOME"
cat > "$DAGSTER_HOME/dagster.yaml" <<EOF
storage:
  postgres:
    postgres_url: "$url"
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
EOF
# The benchmarks' code location: the one-asset job is launched in (3).
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$PWD/scripts/bench/location.yaml" > "$DAGSTER_HOME/workspace.yaml"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
seed_args=(--bin "$bin" --url "$base_url" --schema "$schema" --runs "$runs" --events-per-run "$per_run")
[ "$reuse" = 1 ] && seed_args+=(--reuse)
scripts/bench_seed_pg.sh "${seed_args[@]}"
psql_ -c "SELECT run_id FROM $schema.runs ORDER BY random() LIMIT 1000" > "$work/run_ids.txt"

# (1) + (2): the webserver alone (no daemon yet), release build.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/dagster-webserver" -h 127.0.0.1 -p "$port" > "$work/web.log" 2>&1 & echo $! > "$work/web.pid"
web_pid=$(cat "$work/web.pid")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/server_info" >/dev/null && break; sleep 0.1; done
sleep 2
echo "idle webserver RSS after start: $(awk '/VmRSS/{print $2}' "/proc/$web_pid/status") KB"

run_fields='runId status pipelineName mode tags { key value } rootRunId parentRunId canTerminate creationTime startTime endTime updateTime runConfigYaml'
"$bench" --port "$port" --requests "$requests" --name "runsOrError(limit: 30) + count" \
  --query "{ runsOrError(limit: 30) { __typename ... on Runs { count results { $run_fields } } } }"
"$bench" --port "$port" --requests "$requests" --name "runOrError(runId) random run" \
  --query "query(\$id: ID!) { runOrError(runId: \$id) { __typename ... on Run { $run_fields } } }" \
  --variables '{"id": "$ID"}' --ids-file "$work/run_ids.txt"
"$bench" --port "$port" --requests "$requests" --name "logsForRun(limit: 100) random run" \
  --query "query(\$id: ID!) { logsForRun(runId: \$id, limit: 100) { __typename ... on EventConnection { cursor hasMore events { __typename ... on MessageEvent { runId message timestamp level stepKey eventType } } } } }" \
  --variables '{"id": "$ID"}' --ids-file "$work/run_ids.txt" || echo "(logsForRun: not served by this build)"
echo "webserver RSS after the requests: $(awk '/VmRSS/{print $2}' "/proc/$web_pid/status") KB (peak $(awk '/VmHWM/{print $2}' "/proc/$web_pid/status") KB)"

# (3): the daemon as a second process; launch -> SUCCESS through the official client.
"$bin/dagster-daemon" run > "$work/daemon.log" 2>&1 & echo $! > "$work/daemon.pid"
sleep 3
"$python" - "$port" "$launches" <<'PY'
import statistics, sys, time
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient
port, n = int(sys.argv[1]), int(sys.argv[2])
client = DagsterGraphQLClient("127.0.0.1", port_number=port)
def once():
    t0 = time.perf_counter()
    run_id = client.submit_job_execution("one_job", repository_location_name="bench", repository_name="__repository__")
    while True:
        status = client.get_run_status(run_id)
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            break
        time.sleep(0.002)
    assert status == DagsterRunStatus.SUCCESS, (run_id, status)
    return (time.perf_counter() - t0) * 1000
for _ in range(3):
    once()  # warm-up
lat = []
for _ in range(n):
    lat.append(once())
    time.sleep(0.2)
lat.sort()
print(f"launch -> SUCCESS (official client, daemon, one no-op asset) over {n} runs: median {statistics.median(lat):.1f} ms, min {lat[0]:.1f}, max {lat[-1]:.1f}")
PY
echo "webserver RSS after the launches: $(awk '/VmRSS/{print $2}' "/proc/$web_pid/status") KB; daemon RSS: $(awk '/VmRSS/{print $2}' "/proc/$(cat "$work/daemon.pid")/status") KB"
