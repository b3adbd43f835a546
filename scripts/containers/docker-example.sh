#!/usr/bin/env bash
# Dagster's own Docker deployment example, with this project's images: Dagster's
# examples/deploy_docker/dagster.yaml, unchanged (DockerRunLauncher on the network
# docker_example_network, the three storages in Postgres `docker_example_postgresql` with the
# credentials from DAGSTER_POSTGRES_* variables), the services named as in that example. The
# daemon gets the engine's socket, so each run goes to a container of its own.
#
#   scripts/containers/docker-example.sh [--keep]     # --keep: leave it up at the end
#
# Checks: the instance loads (`dagster instance info` exits 0 in the daemon's container), both
# services healthy, demo_job launched through the webserver (http://127.0.0.1:3005) runs in a
# new container (image: the daemon's own, found by the launcher; labelled dagster/run_id; the
# DAGSTER_HOME volume and config files inherited from the daemon), SUCCESS, the container
# removed afterwards, its output kept as history/<run_id>/worker.log.
# What differs from Dagster's example: our images instead of Dagster's Python ones; the code
# location is pipeline-config/local.yaml (its demo job needs no outside service); DAGSTER_HOME
# is a volume shared by the services (and the runs), so the UI shows the runs' compute logs.
# Needs the images of build-images.sh (it runs it) and docker-compose. Files are written to
# target/containers/docker-example/; times appended to target/containers/docker-example.tsv.
set -euo pipefail
DIE_PREFIX="FAILED: "
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

record=$dir/docker-example.tsv
work=$dir/docker-example
project=dagster-rs-docker-example
port=3005
# shellcheck source=compose-common.sh
. "$here/compose-common.sh"
compose_prepare "$@"
sock=${DOCKER_HOST#unix://}

mkdir -p "$work"
# Dagster's examples/deploy_docker/dagster.yaml, key for key.
cp "$here/docker-example/dagster.yaml" "$work/dagster.yaml"
cat >"$work/workspace.yaml" <<'EOF'
load_from:
  - pipeline_config:
      path: /opt/dagster/app/pipeline-config/local.yaml
      location_name: dagster-pipeline
EOF
cat >"$work/docker-compose.yml" <<EOF
# Written by scripts/containers/docker-example.sh.
version: "3.7"
x-env: &env
  DAGSTER_POSTGRES_USER: postgres_user
  DAGSTER_POSTGRES_PASSWORD: postgres_password
  DAGSTER_POSTGRES_DB: postgres_db
  RUST_LOG: info
x-volumes: &volumes
  - dagster_home:/opt/dagster/dagster_home
  - ./dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro
  - ./workspace.yaml:/opt/dagster/dagster_home/workspace.yaml:ro
services:
  docker_example_postgresql:
    image: postgres:15
    container_name: docker_example_postgresql
    environment:
      POSTGRES_USER: postgres_user
      POSTGRES_PASSWORD: postgres_password
      POSTGRES_DB: postgres_db
    networks: [docker_example_network]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres_user -d postgres_db"]
      interval: 5s
      timeout: 5s
      retries: 20
  docker_example_webserver:
    image: dagster-rs-webserver
    container_name: docker_example_webserver
    environment: *env
    volumes: *volumes
    ports: ["$port:3004"]
    networks: [docker_example_network]
    depends_on:
      docker_example_postgresql:
        condition: service_healthy
  docker_example_daemon:
    image: dagster-rs-daemon
    container_name: docker_example_daemon
    # The engine's socket belongs to root.
    user: root
    environment:
      <<: *env
      DOCKER_HOST: unix:///var/run/docker.sock
    volumes:
      - dagster_home:/opt/dagster/dagster_home
      - ./dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro
      - ./workspace.yaml:/opt/dagster/dagster_home/workspace.yaml:ro
      - $sock:/var/run/docker.sock
    networks: [docker_example_network]
    depends_on:
      docker_example_postgresql:
        condition: service_healthy
networks:
  docker_example_network:
    driver: bridge
    name: docker_example_network
volumes:
  dagster_home:
EOF

compose_file=$work/docker-compose.yml
compose_start_clean

t0=$(now)
compose up -d --no-build >/dev/null 2>&1 || die "docker-compose up failed: $(compose up -d --no-build 2>&1 | tail -5)"
for svc in docker_example_postgresql docker_example_webserver docker_example_daemon; do
  left=300
  until [[ $(docker inspect -f '{{.State.Health.Status}}' "$svc") == healthy ]]; do
    status=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$svc")
    [[ $status == running* ]] || die "$svc is '$status'"
    ((left-- > 0)) || die "$svc not healthy within 150 s (state: $status)"
    sleep 0.5
  done
  record "$svc healthy" "$(since "$t0")s"
done
docker exec docker_example_daemon dagster instance info >/dev/null \
  || die "Dagster's dagster.yaml does not load: $(docker exec docker_example_daemon dagster instance info 2>&1 | tail -5)"
record "dagster instance info with Dagster's example dagster.yaml" "exit 0"

t0=$(now)
# shellcheck disable=SC2016 # GraphQL variables, not shell ones
launched=$(gql '{"query":"mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }","variables":{"p":{"selector":{"jobName":"demo_job","repositoryLocationName":"dagster-pipeline","repositoryName":"__repository__"}}}}') \
  || die "launchRun request failed"
run_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["launchRun"]["run"]["runId"])' "$launched" 2>/dev/null) \
  || die "launchRun did not succeed: $launched"
run_json() {
  gql "{\"query\":\"{ runOrError(runId: \\\"$run_id\\\") { ... on Run { status tags { key value } } } }\"}"
}
seen_container=""
for _ in $(seq 240); do
  [[ -n $seen_container ]] || seen_container=$(docker ps -aq --filter "label=dagster/run_id=$run_id")
  status=$(run_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["runOrError"].get("status", "MISSING"))')
  [[ $status == SUCCESS || $status == FAILURE || $status == CANCELED ]] && break
  sleep 0.5
done
[[ $status == SUCCESS ]] || die "demo_job run $run_id ended $status; its worker log: $(docker exec docker_example_daemon cat "/opt/dagster/dagster_home/history/$run_id/worker.log" 2>&1 | tail -20)"
container=$(run_json | python3 -c 'import json,sys; t={x["key"]:x["value"] for x in json.load(sys.stdin)["data"]["runOrError"]["tags"]}; print(t.get("docker/container_id",""), t.get("dagster/image",""))')
[[ -n ${container%% *} ]] || die "run $run_id has no docker/container_id tag"
record "demo_job launched through the webserver, SUCCESS in container ${container%% *} (image ${container#* })" "$(since "$t0")s"
[[ -n $seen_container ]] || log "note: the run's container came and went between two polls"
for _ in $(seq 60); do
  [[ -z $(docker ps -aq --filter "label=dagster/run_id=$run_id") ]] && break
  sleep 0.5
done
[[ -z $(docker ps -aq --filter "label=dagster/run_id=$run_id") ]] || die "the run's container was not removed"
docker exec docker_example_daemon test -f "/opt/dagster/dagster_home/history/$run_id/worker.log" \
  || die "no history/$run_id/worker.log (the container's output)"
record "run container removed, its output kept in history/$run_id/worker.log" "ok"
log "passed"
