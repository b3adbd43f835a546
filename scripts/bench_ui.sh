#!/usr/bin/env bash
# The web UI benchmark (issue 12, acceptance 4), in headless Chromium (Debian's `chromium`, driven
# by Playwright: scripts/bench/measure_ui.py):
#   (1) time to network idle of /runs, /assets, /overview/activity/timeline and
#       /deployment/daemons, our webserver and Python Dagster 1.13.27's side by side (visits
#       interleaved, median of --reps), each on the same small instance: the code location of
#       scripts/bench/location.yaml (ours) and scripts/bench/dagster_defs.py (Dagster's):
#       six chained assets, two jobs, a schedule and a sensor, --small-runs runs of the chain
#       job, SQLite storage, each with its daemon running;
#   (2) our webserver's RSS: idle after start, after the pages above, and Python Dagster's;
#   (3) with --large: our webserver on a Postgres instance of --runs runs x 50 events
#       (scripts/bench_seed_pg.sh) plus one run of 10,000 events: /runs and that run's page.
# Usage: scripts/bench_ui.sh [--reps 5] [--small-runs 20] [--cache cold|warm] [--large]
#        [--runs 100000] [--reuse] [--keep]
# Needs: chromium, Postgres for --large (DAGSTER_BENCH_PG_URL, default
# postgres://postgres@127.0.0.1:5432/test; schema bench_ui, dropped unless --keep/--reuse).
# Python Dagster and Playwright go to the venv target/dagster-bench-venv (created once).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5; small_runs=20; cache=cold; large=0; runs=100000; reuse=0; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="$2"; shift ;;
    --small-runs) small_runs="$2"; shift ;;
    --cache) cache="$2"; shift ;;
    --large) large=1 ;;
    --runs) runs="$2"; shift ;;
    --reuse) reuse=1; keep=1 ;;
    --keep) keep=1 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
command -v chromium >/dev/null || { echo "chromium is missing: apt-get install chromium" >&2; exit 1; }
venv=$PWD/target/dagster-bench-venv
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('dagster-webserver') != '1.13.27' or m.version('playwright') != '1.65.3')" 2>/dev/null; then
  echo "== creating $venv (dagster, dagster-webserver 1.13.27, playwright)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q dagster==1.13.27 dagster-webserver==1.13.27 dagster-graphql==1.13.27 playwright==1.65.3
fi
py=$venv/bin/python
cargo build --release -p dagster-cli -p dagster-daemon -p dagster-webserver >/dev/null 2>&1 \
  || cargo build --release -p dagster-cli -p dagster-daemon -p dagster-webserver
bin=$PWD/target/release

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_up PORT LOG: until the server answers (Python Dagster takes a while), else its log.
wait_up() {
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$1/server_info" >/dev/null && return 0; sleep 0.1; done
  echo "server on :$1 did not start within 120 s; its log ($2):" >&2; tail -n 30 "$2" >&2; exit 1
}
rss() { awk '/^VmRSS/{r=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{printf "%.1f MB (anonymous %.1f MB, file-backed %.1f MB)", r/1024, a/1024, f/1024}' "/proc/$1/status"; }
# A process and its descendants (Dagster's webserver runs its code server as a child).
tree_rss() { local t=0 p; for p in $1 $(pgrep -P "$1" || true); do t=$((t + $(awk '/^VmRSS/{print $2}' "/proc/$p/status"))); done; echo "$((t / 1024)) MB"; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), $(chromium --version 2>/dev/null | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# (1) The small instances.
ours=$work/ours; theirs=$work/dagster
mkdir -p "$ours" "$theirs"
: > "$ours/dagster.yaml"; : > "$theirs/dagster.yaml"
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$PWD/scripts/bench/location.yaml" > "$ours/workspace.yaml"
for _ in $(seq 1 "$small_runs"); do DAGSTER_HOME=$ours "$bin/dagster" job execute -q -j chain_job >/dev/null; done
(cd "$theirs" && DAGSTER_HOME=$theirs "$py" "$OLDPWD/scripts/bench/dagster_defs.py" "$small_runs" >/dev/null 2>&1)
ours_port=$(free_port); theirs_port=$(free_port)
(cd "$ours" && DAGSTER_HOME=$ours exec "$bin/dagster-webserver" -h 127.0.0.1 -p "$ours_port" >"$work/ours-web.log" 2>&1) & ours_pid=$!; pids+=("$ours_pid")
(cd "$ours" && DAGSTER_HOME=$ours exec "$bin/dagster-daemon" run >"$work/ours-daemon.log" 2>&1) & pids+=($!)
defs=$PWD/scripts/bench/dagster_defs.py
(cd "$theirs" && DAGSTER_HOME=$theirs exec "$venv/bin/dagster-webserver" -f "$defs" -h 127.0.0.1 -p "$theirs_port" >"$work/dagster-web.log" 2>&1) & theirs_pid=$!; pids+=("$theirs_pid")
(cd "$theirs" && DAGSTER_HOME=$theirs exec "$venv/bin/dagster-daemon" run -f "$defs" >"$work/dagster-daemon.log" 2>&1) & pids+=($!)
wait_up "$ours_port" "$work/ours-web.log"; wait_up "$theirs_port" "$work/dagster-web.log"
sleep 10  # both daemons heartbeat; both webservers settle
echo "our webserver idle after start: $(rss "$ours_pid")"
echo
echo "### Small instance ($small_runs runs of a 6-asset job, SQLite), $cache cache, median of $reps"
"$py" scripts/bench/measure_ui.py --cache "$cache" --reps "$reps" \
  --server "ours=http://127.0.0.1:$ours_port" --server "dagster=http://127.0.0.1:$theirs_port" \
  --page /runs --page /assets --page /overview/activity/timeline --page /deployment/daemons
echo
sleep 2
echo "our webserver after the pages: $(rss "$ours_pid"); Python Dagster's webserver with its code server: $(tree_rss "$theirs_pid")"

[ "$large" = 1 ] || exit 0

# (3) The large instance.
base_url=${DAGSTER_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
schema=bench_ui
psql "$base_url" -qtAc 'select 1' >/dev/null || { echo "Postgres not reachable at $base_url (start it: pg_ctlcluster 15 main start)" >&2; exit 1; }
seed_args=(--bin "$bin" --url "$base_url" --schema "$schema" --runs "$runs" --events-per-run 50 --big-run-events 10000)
[ "$reuse" = 1 ] && seed_args+=(--reuse)
seed_out=$(scripts/bench_seed_pg.sh "${seed_args[@]}")
printf '%s\n' "$seed_out"
big=$(printf '%s\n' "$seed_out" | sed -n 's/^big run: //p')
[ "$keep" = 1 ] || trap 'cleanup; psql "$base_url" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true' EXIT
case "$base_url" in *\?*) sep='&' ;; *) sep='?' ;; esac
large_home=$work/large; mkdir -p "$large_home"
printf 'storage:\n  postgres:\n    postgres_url: "%s"\n' "$base_url${sep}options=-c%20search_path%3D$schema" > "$large_home/dagster.yaml"
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$PWD/scripts/bench/location.yaml" > "$large_home/workspace.yaml"
large_port=$(free_port)
(cd "$large_home" && DAGSTER_HOME=$large_home exec "$bin/dagster-webserver" -h 127.0.0.1 -p "$large_port" >"$work/large-web.log" 2>&1) & large_pid=$!; pids+=("$large_pid")
(cd "$large_home" && DAGSTER_HOME=$large_home exec "$bin/dagster-daemon" run >"$work/large-daemon.log" 2>&1) & pids+=($!)
wait_up "$large_port" "$work/large-web.log"
sleep 5
echo
echo "### Large instance ($runs runs, $(psql "$base_url" -qtAc "SELECT count(*) FROM $schema.event_logs") events, Postgres), $cache cache, median of $reps"
"$py" scripts/bench/measure_ui.py --cache "$cache" --reps "$reps" \
  --server "ours=http://127.0.0.1:$large_port" --page /runs --page "/runs/$big"
sleep 2
echo "our webserver after the large pages: $(rss "$large_pid")"
