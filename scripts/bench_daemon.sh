#!/usr/bin/env bash
# Daemon benchmarks (issue: dagster-daemon), release build:
#  1. `dagster job launch` → daemon → run worker → SUCCESS latency of a one-asset no-op run and the
#     idle daemon's RSS/CPU, SQLite instance in a temp DAGSTER_HOME (this script, below);
#  2. the same latency with the run enqueued in process, idle RSS/CPU, 1,000 RUNNING schedules due
#     on the same minute (boundary → last tick stored) and dequeue throughput of 2,000 queued runs
#     (max_concurrent_runs 200, then 20),
#     on SQLite and on Postgres (`DAGSTER_TEST_PG_URL`, a throwaway schema):
#     crates/daemon/examples/daemon_bench.rs.
# Usage: scripts/bench_daemon.sh [--runs N] [--only-example]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20
only_example=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --only-example) only_example=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release -p dagster-cli -p dagster-daemon --bins --example daemon_bench >/dev/null
ex=$PWD/target/release/examples/daemon_bench
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
for backend in sqlite postgres; do
  "$ex" idle "$backend"
  "$ex" latency "$backend" "$runs"
  "$ex" schedules "$backend" 1000
  "$ex" dequeue "$backend" 2000 200
  "$ex" dequeue "$backend" 2000 20
done
[ -n "$only_example" ] && exit 0
bin=$PWD/target/release
work=$(mktemp -d); trap 'kill $(cat "$work/daemon.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
export DAGSTER_HOME=$work/home; mkdir -p "$DAGSTER_HOME"
printf 'run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config: {max_concurrent_runs: 10, dequeue_interval_seconds: 1}\n' > "$DAGSTER_HOME/dagster.yaml"
printf 'pipeline_configs:\n  one:\n    kind: noop\njobs:\n  one_job: {selection: [one]}\n' > "$work/one.yaml"
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$work/one.yaml" > "$DAGSTER_HOME/workspace.yaml"
"$bin/dagster" instance migrate >/dev/null
"$bin/dagster-daemon" run > "$work/daemon.log" 2>&1 & echo $! > "$work/daemon.pid"
sleep 12
pid=$(cat "$work/daemon.pid")
echo "idle daemon RSS after 12 s: $(ps -o rss= -p "$pid") KB"
t1=$(awk '{print $14+$15}' "/proc/$pid/stat"); sleep 10; t2=$(awk '{print $14+$15}' "/proc/$pid/stat")
echo "idle daemon CPU over 10 s: $(( (t2 - t1) * 10 )) ms"
python3 - "$bin/dagster" "$DAGSTER_HOME/storage/dagster.db" "$work/one.yaml" "$runs" <<'PY'
import sqlite3, statistics, subprocess, sys, time
dagster, db, cfg, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lat = []
for _ in range(runs):
    t0 = time.perf_counter()
    out = subprocess.run([dagster, "job", "launch", "-j", "one_job", "-f", cfg], capture_output=True, text=True, check=True).stdout
    run_id = out.split()[1]
    con = sqlite3.connect(db, timeout=30)
    while True:
        row = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row and row[0] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.001)
    con.close()
    assert row[0] == "SUCCESS", row
    lat.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.2)
print(f"launch -> SUCCESS over {runs} runs: median {statistics.median(lat):.1f} ms, min {min(lat):.1f}, max {max(lat):.1f}")
PY
