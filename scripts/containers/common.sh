# Sourced by the scripts of this folder: messages prefixed with the script's name, and the paths
# they share (`repo`, `here`, `dir`: target/containers unless CONTAINERS_DIR).
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
me=$(basename "$0")
die() { echo "$me: ${DIE_PREFIX:-}$*" >&2; exit 1; }
log() { echo "$me: $*" >&2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/scripts/containers
dir=${CONTAINERS_DIR:-$repo/target/containers}
