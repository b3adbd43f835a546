#!/usr/bin/env bash
# The image the DockerRunLauncher tests (crates/daemon/tests/docker_launcher.rs) run their runs
# in: dagster-rs-run-test, FROM the local debian:bookworm-slim (scripts/containers/base-images.sh)
# with what the `dagster` binary links against (libssl3) and `dagster` looked up in
# /opt/dagster/bin first. The tests bind-mount the freshly built binaries there, so code changes
# need no image rebuild. Skipped when the image exists, unless --rebuild.
#
#   scripts/containers/run-test-image.sh [--rebuild]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

name=dagster-rs-run-test
rebuild=false
for arg in "$@"; do
  case $arg in
    --rebuild) rebuild=true ;;
    -h | --help) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$arg' (only --rebuild)" ;;
  esac
done
command -v podman >/dev/null || die "podman not found on PATH (apt-get install podman runc)"
CONTAINERS_CONF=$("$here/engine.sh" env | sed -n 's/^export CONTAINERS_CONF=//p')
export CONTAINERS_CONF
if ! $rebuild && podman image exists "$name"; then
  log "$name exists (--rebuild to build it again)"
  exit 0
fi
podman image exists debian:bookworm-slim \
  || die "no debian:bookworm-slim image: run scripts/containers/base-images.sh first"
t0=$(date +%s.%N)
buildlog=$dir/build-$name.log
mkdir -p "$dir"
podman build --format docker --network host --pull=never -t "$name" - >"$buildlog" 2>&1 <<'CONTAINERFILE' \
  || die "podman build of $name failed; last lines of $buildlog:
$(tail -n 25 "$buildlog")"
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/dagster/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CONTAINERFILE
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
log "built $name in ${secs}s"
