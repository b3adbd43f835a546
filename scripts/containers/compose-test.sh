#!/usr/bin/env bash
# The Docker deployment on the local engine, end to end:
#   engine (engine.sh) -> base images (base-images.sh) -> both images (build-images.sh)
#   -> `docker-compose -f docker-compose-dagster.yml up` (no override file: none is needed here)
#   -> postgres, webserver, daemon healthy -> UI on :3004 -> demo_job launched through the
#   webserver's GraphQL API, run by the daemon's container -> `down` -> `up` -> the run is still
#   there -> `down --volumes`.
#
#   scripts/containers/compose-test.sh [--keep]     # --keep: leave the deployment up at the end
#
# Uses compose project `dagster-rs-test` (its own containers, network and volumes) and port 3004.
# Times are printed and appended to target/containers/compose-test.tsv.
set -euo pipefail
DIE_PREFIX="FAILED: "
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

record=$dir/compose-test.tsv
project=dagster-rs-test
port=3004
# shellcheck source=compose-common.sh
. "$here/compose-common.sh"
compose_prepare "$@"

# The compose file's required password, and the code location's resource settings (demo_job
# uses none of them; the location only has to load).
export DAGSTER_POSTGRES_PASSWORD=${DAGSTER_POSTGRES_PASSWORD:-compose-test}
export MYSQL_REPLICA_HOST=${MYSQL_REPLICA_HOST:-127.0.0.1} MYSQL_REPLICA_USER=${MYSQL_REPLICA_USER:-root} \
  MYSQL_REPLICA_PASSWORD=${MYSQL_REPLICA_PASSWORD:-unused} MYSQL_REPLICA_DATABASE=${MYSQL_REPLICA_DATABASE:-test} \
  CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123} CLICKHOUSE_USER=${CLICKHOUSE_USER:-default} \
  CLICKHOUSE_PASSWORD=${CLICKHOUSE_PASSWORD:-unused} REPORTING_PG_HOST=${REPORTING_PG_HOST:-postgres} \
  REPORTING_PG_USER=${REPORTING_PG_USER:-dagster} REPORTING_PG_PASSWORD=${REPORTING_PG_PASSWORD:-unused} \
  REPORTING_PG_DATABASE=${REPORTING_PG_DATABASE:-dagster}

compose_file=$repo/docker-compose-dagster.yml
compose_start_clean

up_until_healthy() { # up_until_healthy <label>
  local t0 svc cid status left
  t0=$(now)
  compose up -d --no-build >/dev/null 2>&1 || die "docker-compose up failed: $(compose up -d --no-build 2>&1 | tail -5)"
  record "$1: compose up returned" "$(since "$t0")s"
  for svc in postgres webserver daemon; do
    cid=$(compose ps -q "$svc")
    [[ -n $cid ]] || die "service $svc has no container"
    left=300
    until [[ $(docker inspect -f '{{.State.Health.Status}}' "$cid") == healthy ]]; do
      status=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$cid")
      [[ $status == running* ]] || die "$svc is '$status'"
      ((left-- > 0)) || die "$svc not healthy within 150 s (state: $status)"
      sleep 0.5
    done
    record "$1: $svc healthy" "$(since "$t0")s"
  done
  curl -fsS -o /dev/null http://127.0.0.1:3004/ || die "the UI does not answer on http://127.0.0.1:3004/"
  record "$1: UI answers on :3004" "$(since "$t0")s"
}

up_until_healthy "first start"

t0=$(now)
# shellcheck disable=SC2016 # GraphQL variables, not shell ones
launched=$(gql '{"query":"mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }","variables":{"p":{"selector":{"jobName":"demo_job","repositoryLocationName":"dagster-pipeline","repositoryName":"__repository__"}}}}') \
  || die "launchRun request failed"
run_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["launchRun"]["run"]["runId"])' "$launched" 2>/dev/null) \
  || die "launchRun did not succeed: $launched"
run_status() {
  gql "{\"query\":\"{ runOrError(runId: \\\"$run_id\\\") { ... on Run { status } } }\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["runOrError"].get("status", "MISSING"))'
}
for _ in $(seq 120); do
  status=$(run_status)
  [[ $status == SUCCESS || $status == FAILURE || $status == CANCELED ]] && break
  sleep 0.5
done
[[ $status == SUCCESS ]] || die "demo_job run $run_id ended $status"
# grep reads the whole log (no -q): an early exit would end `compose logs` with SIGPIPE, which
# pipefail turns into a failure.
compose logs daemon 2>&1 | grep -F "launched run worker run.id=\"$run_id\"" >/dev/null \
  || die "the daemon's log does not show a run worker for $run_id"
record "demo_job launched through the webserver, SUCCESS in the daemon's container" "$(since "$t0")s"

t0=$(now)
compose down >/dev/null 2>&1 || die "docker-compose down failed"
record "compose down (volumes kept)" "$(since "$t0")s"
up_until_healthy "second start"
status=$(run_status)
[[ $status == SUCCESS ]] || die "after down/up, run $run_id is $status (data not kept?)"
record "after down/up: run $run_id still SUCCESS" "ok"
log "passed"
