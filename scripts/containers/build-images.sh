#!/usr/bin/env bash
# Builds the deployment's two images with podman, under the names docker-compose-dagster.yml
# gives them (dagster-rs-daemon, dagster-rs-webserver), from Dockerfile.daemon and
# Dockerfile.webserver. Run scripts/containers/base-images.sh first (the FROM images).
#
#   scripts/containers/build-images.sh [daemon|webserver ...]    # default: both
#
# Two podman-specific flags:
#   --format docker   podman's default image format (OCI) has no HEALTHCHECK: podman drops the
#                     instruction with a warning, and compose's `service_healthy` never holds.
#   --network host    the build stage fetches crates (crates.io) and the UI wheel (PyPI), and
#                     apt-get reaches Debian's mirror, with the host's network.
# The build stage's `RUN --mount=type=cache` works with podman 4.3 (buildah 1.28): the cargo
# registry and target directory persist under /var/tmp/buildah-cache between builds.
# Times and sizes are appended to target/containers/build-images.tsv.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

record=$dir/build-images.tsv

command -v podman >/dev/null || die "podman not found on PATH (apt-get install podman runc)"
CONTAINERS_CONF=$("$here/engine.sh" env | sed -n 's/^export CONTAINERS_CONF=//p')
[[ -f $CONTAINERS_CONF ]] || die "no $CONTAINERS_CONF: run scripts/containers/engine.sh once first"
export CONTAINERS_CONF

images=("$@")
((${#images[@]})) || images=(daemon webserver)
for which in "${images[@]}"; do
  [[ $which == daemon || $which == webserver ]] || die "unknown image '$which' (daemon, webserver)"
  file=Dockerfile.$which
  name=dagster-rs-$which
  buildlog=$dir/build-$name.log
  t0=$(date +%s.%N)
  nice -n 19 podman build --format docker --network host --pull=never \
    -f "$repo/$file" -t "$name" "$repo" >"$buildlog" 2>&1 \
    || die "podman build of $file failed; last lines of $buildlog:
$(tail -n 25 "$buildlog")"
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  if grep -q 'HEALTHCHECK is not supported' "$buildlog"; then
    die "$name was built without its HEALTHCHECK (see $buildlog)"
  fi
  size=$(podman image inspect --format '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1/1e6}')
  printf '%s\t%s\t%ss\t%s\n' "$(date -Is)" "$name" "$secs" "$size" | tee -a "$record"
done
