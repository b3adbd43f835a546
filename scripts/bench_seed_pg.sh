#!/usr/bin/env bash
# Seeds a Postgres schema with a large instance for the benchmarks (scripts/bench_webserver.sh,
# scripts/bench_ui.sh): RUNS finished runs of a 6-asset no-op chain job, each with exactly
# PER_RUN events copied from a real template run (creation times one minute apart, every 20th
# run FAILURE), and optionally one more run, the newest, with BIG events (the template's
# events around BIG minus their number of user log messages in step a3).
# Usage: scripts/bench_seed_pg.sh --bin DIR --url URL --schema NAME [--runs 100000]
#        [--events-per-run 50] [--big-run-events 0] [--reuse]
# The big run's id (if any) is printed on the last line as `big run: <id>`.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=100000; per_run=50; big=0; reuse=0; bin=; base_url=; schema=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift ;;
    --url) base_url="$2"; shift ;;
    --schema) schema="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --events-per-run) per_run="$2"; shift ;;
    --big-run-events) big="$2"; shift ;;
    --reuse) reuse=1 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$bin" ] && [ -n "$base_url" ] && [ -n "$schema" ] || { echo "--bin, --url and --schema are required" >&2; exit 2; }
case "$base_url" in *\?*) sep='&' ;; *) sep='?' ;; esac
url="$base_url${sep}options=-c%20search_path%3D$schema"
psql_() { psql "$base_url" -v ON_ERROR_STOP=1 -qtA "$@"; }
big_id=$(python3 -c 'import hashlib; h = hashlib.md5(b"bench-big-run").hexdigest(); print(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}")')

have=$(psql_ -c "SELECT count(*) FROM pg_namespace WHERE nspname = '$schema'")
if [ "$reuse" = 1 ] && [ "$have" = 1 ] && [ "$(psql_ -c "SELECT count(*) FROM $schema.runs")" -ge "$runs" ] \
  && { [ "$big" = 0 ] || [ "$(psql_ -c "SELECT count(*) FROM $schema.event_logs WHERE run_id = '$big_id'")" = "$big" ]; }; then
  echo "reusing schema $schema: $(psql_ -c "SELECT count(*) FROM $schema.runs") runs, $(psql_ -c "SELECT count(*) FROM $schema.event_logs") events"
  [ "$big" = 0 ] || echo "big run: $big_id"
  exit 0
fi

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
cat > "$home/dagster.yaml" <<YAML
storage:
  postgres:
    postgres_url: "$url"
YAML
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$PWD/scripts/bench/location.yaml" > "$home/workspace.yaml"
psql_ -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
DAGSTER_HOME=$home "$bin/dagster" instance migrate >/dev/null
DAGSTER_HOME=$home "$bin/dagster" job execute -q -j chain_job >/dev/null
tmpl=$(psql_ -c "SELECT run_id FROM $schema.runs ORDER BY id LIMIT 1")
echo "seeding $runs runs x $per_run events from template run $tmpl ($(psql_ -c "SELECT count(*) FROM $schema.event_logs WHERE run_id = '$tmpl'") events)$([ "$big" = 0 ] || echo ", and run $big_id with $big events") ..."
t0=$(date +%s)
psql_ -v tmpl="$tmpl" -v runs="$runs" -v per_run="$per_run" -v big="$big" -v big_id="$big_id" <<SQL
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
DROP TABLE bench_ids;
-- The big run: the template's events in order, with user log messages in step a3 after its
-- STEP_START (built from that event: no event type, a message of its own).
SELECT n AS a3_start FROM tmpl_events WHERE dagster_event_type = 'STEP_START' AND step_key = 'a3' \gset
INSERT INTO runs (run_id, pipeline_name, status, run_body, create_timestamp, update_timestamp, start_time, end_time)
  SELECT :'big_id', r.pipeline_name, 'SUCCESS', r.run_body, now(), now(),
         extract(epoch FROM now()) - 60, extract(epoch FROM now())
  FROM runs r WHERE r.run_id = :'tmpl' AND :big > 0;
INSERT INTO run_tags (run_id, key, value)
  SELECT :'big_id', t.key, t.value FROM run_tags t WHERE t.run_id = :'tmpl' AND :big > 0;
INSERT INTO event_logs (run_id, event, dagster_event_type, timestamp, step_key, asset_key, partition)
  SELECT :'big_id', ev, et, now() - interval '60 seconds' + o * interval '5 milliseconds', sk, ak, pt
  FROM (
    SELECT (CASE WHEN e.n <= :a3_start THEN e.n ELSE e.n + :big - :tmpl_n END) AS o,
           replace(e.event, :'tmpl', :'big_id') AS ev, e.dagster_event_type AS et,
           e.step_key AS sk, e.asset_key AS ak, e.partition AS pt
    FROM tmpl_events e
    UNION ALL
    SELECT :a3_start + k,
           (replace(e.event, :'tmpl', :'big_id')::jsonb || jsonb_build_object(
             'event_type', NULL, 'level', 'INFO', 'message', 'log line ' || k || ' of a3',
             'timestamp', (e.event::jsonb->>'timestamp')::float8 + k * 0.000001))::text,
           NULL, e.step_key, NULL, NULL
    FROM tmpl_events e CROSS JOIN generate_series(1, :big - :tmpl_n) k
    WHERE e.n = :a3_start
  ) s
  WHERE :big > 0
  ORDER BY o;
-- The template run itself goes: every other run has exactly per_run events.
DELETE FROM runs WHERE run_id = :'tmpl';
DELETE FROM event_logs WHERE run_id = :'tmpl';
VACUUM ANALYZE runs;
VACUUM ANALYZE run_tags;
VACUUM ANALYZE event_logs;
SQL
echo "seeded in $(( $(date +%s) - t0 )) s: $(psql_ -c "SELECT count(*) FROM $schema.runs") runs, $(psql_ -c "SELECT count(*) FROM $schema.event_logs") events, $(psql_ -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$schema' AND c.relkind = 'r'")"
[ "$big" = 0 ] || echo "big run: $big_id"
