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
# The template run: a 6-asset no-op chain (about 45 events); the one-asset job is launched in (3).
{
  echo "location_name: bench"
  echo "pipeline_configs:"
  echo "  one: {kind: noop}"
  for i in 1 2 3 4 5 6; do
    echo "  a$i: {kind: noop$([ "$i" -gt 1 ] && echo ", deps: [a$((i-1))]")}"
  done
  echo "jobs:"
  echo "  one_job: {selection: [one]}"
  echo "  chain_job: {selection: [a1, a2, a3, a4, a5, a6]}"
} > "$work/bench.yaml"
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$work/bench.yaml" > "$DAGSTER_HOME/workspace.yaml"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
have=$(psql_ -c "SELECT count(*) FROM pg_namespace WHERE nspname = '$schema'")
if [ "$reuse" = 1 ] && [ "$have" = 1 ] && [ "$(psql_ -c "SELECT count(*) FROM $schema.runs")" -ge "$runs" ]; then
  echo "reusing schema $schema: $(psql_ -c "SELECT count(*) FROM $schema.runs") runs, $(psql_ -c "SELECT count(*) FROM $schema.event_logs") events"
else
  psql_ -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
  "$bin/dagster" instance migrate >/dev/null
  "$bin/dagster" job execute -q -j chain_job >/dev/null
  tmpl=$(psql_ -c "SELECT run_id FROM $schema.runs ORDER BY id LIMIT 1")
  echo "seeding $runs runs x $per_run events from template run $tmpl ($(psql_ -c "SELECT count(*) FROM $schema.event_logs WHERE run_id = '$tmpl'") events) ..."
  t0=$(date +%s)
  psql_ -v tmpl="$tmpl" -v runs="$runs" -v per_run="$per_run" <<SQL
SET search_path = $schema;
-- Run ids: deterministic UUID-shaped strings; creation times one minute apart.
CREATE UNLOGGED TABLE bench_ids AS
  SELECT g, substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a'
            || substr(h, 18, 3) || '-' || substr(h, 21, 12) AS run_id,
         timestamp '2025-01-01' + g * interval '1 minute' AS ts
  FROM (SELECT g, md5('bench-run-' || g) AS h FROM generate_series(1, :runs) g) s;
CREATE TEMP TABLE tmpl_events AS
  SELECT (row_number() OVER (ORDER BY id) - 1)::int AS n, event, dagster_event_type, step_key, asset_key, partition
  FROM event_logs WHERE run_id = :'tmpl';
SELECT count(*) AS tmpl_n FROM tmpl_events \gset
INSERT INTO runs (run_id, pipeline_name, status, run_body, create_timestamp, update_timestamp, start_time, end_time)
  SELECT i.run_id, r.pipeline_name, CASE WHEN i.g % 20 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END, r.run_body,
         i.ts, i.ts + interval '2 seconds',
         extract(epoch FROM i.ts) + 0.1, extract(epoch FROM i.ts) + 2
  FROM bench_ids i, runs r WHERE r.run_id = :'tmpl' ORDER BY i.g;
INSERT INTO run_tags (run_id, key, value)
  SELECT i.run_id, t.key, t.value FROM bench_ids i, run_tags t WHERE t.run_id = :'tmpl' ORDER BY i.g;
INSERT INTO event_logs (run_id, event, dagster_event_type, timestamp, step_key, asset_key, partition)
  SELECT i.run_id, replace(e.event, :'tmpl', i.run_id), e.dagster_event_type,
         i.ts + k * interval '10 milliseconds', e.step_key, e.asset_key, e.partition
  FROM bench_ids i CROSS JOIN generate_series(0, :per_run - 1) k
  JOIN tmpl_events e ON e.n = k % :tmpl_n
  ORDER BY i.g, k;
-- The template run itself goes: every run has exactly per_run events.
DELETE FROM runs WHERE run_id = :'tmpl';
DELETE FROM event_logs WHERE run_id = :'tmpl';
DROP TABLE bench_ids;
VACUUM ANALYZE runs;
VACUUM ANALYZE run_tags;
VACUUM ANALYZE event_logs;
SQL
  echo "seeded in $(( $(date +%s) - t0 )) s: $(psql_ -c "SELECT count(*) FROM $schema.runs") runs, $(psql_ -c "SELECT count(*) FROM $schema.event_logs") events, $(psql_ -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$schema' AND c.relkind = 'r'")"
fi
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
