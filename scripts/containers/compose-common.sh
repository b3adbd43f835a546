# Sourced by compose-test.sh and docker-example.sh (after common.sh) once they have set `project`
# (compose project), `port` (the webserver's published port) and `record` (the .tsv the timings
# are appended to). `compose_prepare "$@"` reads `--keep` (sets `keep`), checks the tools, starts
# the engine and builds the images; once `compose_file` is set, `compose_start_clean` removes
# what an earlier run left and cleans up on exit: `down --volumes` unless `--keep`, and the last
# log lines when the script failed.
# shellcheck shell=bash
compose_prepare() {
  keep=false
  [[ ${1:-} == --keep ]] && keep=true
  [[ $# -le 1 && ( -z ${1:-} || $1 == --keep ) ]] || die "usage: $0 [--keep]"
  local tool
  for tool in docker-compose curl python3; do
    command -v "$tool" >/dev/null || die "'$tool' not found on PATH (apt-get install docker-compose curl python3)"
  done
  eval "$("$here/engine.sh")"
  "$here/base-images.sh"
  "$here/build-images.sh"
}

compose() { docker-compose -p "$project" -f "$compose_file" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
record() { printf '%s\t%s\t%s\n' "$(date -Is)" "$1" "$2" | tee -a "$record"; }
gql() { curl -fsS "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' -d "$1"; }

finish() {
  local rc=$?
  if ((rc != 0)); then
    log "logs of the failed deployment:"
    compose logs --tail=40 >&2 || true
  fi
  if ! $keep || ((rc != 0)); then
    compose down --volumes >/dev/null 2>&1 \
      || log "compose down --volumes failed; clean up with: docker-compose -p $project -f $compose_file down --volumes"
  fi
}
compose_start_clean() {
  trap finish EXIT
  if ss -ltn 2>/dev/null | grep -q ":$port "; then
    die "port $port is taken on this host (the compose file publishes the UI there); stop what listens on it"
  fi
  compose down --volumes >/dev/null 2>&1 || true
}
