#!/usr/bin/env bash
# Daemon benchmarks (issue: dagster-daemon): queued launch → daemon → run worker → SUCCESS latency
# for a one-asset no-op run, and the idle daemon's RSS. SQLite instance in a temp DAGSTER_HOME.
# Usage: scripts/bench_daemon.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20
[ "${1:-}" = "--runs" ] && runs="$2"
cargo build --release -p dagster-cli -p dagster-daemon >/dev/null
bin=$PWD/target/release
work=$(mktemp -d); trap 'kill $(cat "$work/daemon.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
export DAGSTER_HOME=$work/home; mkdir -p "$DAGSTER_HOME"
printf 'run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config: {max_concurrent_runs: 10, dequeue_interval_seconds: 1}\n' > "$DAGSTER_HOME/dagster.yaml"
printf 'pipeline_configs:\n  one:\n    kind: noop\njobs:\n  one_job: {selection: [one]}\n' > "$work/one.yaml"
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: bench}\n' "$work/one.yaml" > "$DAGSTER_HOME/workspace.yaml"
"$bin/dagster" instance migrate >/dev/null
"$bin/dagster-daemon" run > "$work/daemon.log" 2>&1 & echo $! > "$work/daemon.pid"
sleep 12
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
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
