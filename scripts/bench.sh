#!/usr/bin/env bash
# Benchmarks `dagster job execute` end to end as a process (issue: foundation):
#   (1) one no-op asset, (2) a 100-asset no-op chain,
# on a fresh SQLite instance, side by side with Python Dagster 1.13.27 doing the same
# (installed into a virtualenv from PyPI) when --with-python is given.
# Usage: scripts/bench.sh [--with-python] [--runs N]
# Writes the raw hyperfine results to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
with_python=0; runs=20
while [ $# -gt 0 ]; do
  case "$1" in
    --with-python) with_python=1 ;;
    --runs) runs="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release -p dagster-cli >/dev/null
bin=$PWD/target/release/dagster
out=$PWD/target/bench; mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
home=$work/home; mkdir -p "$home"; touch "$home/dagster.yaml"

# Pipeline configs: one no-op asset; a chain of 100 no-op assets.
printf 'pipeline_configs:\n  one:\n    kind: noop\njobs:\n  one_job: {selection: [one]}\n' > "$work/one.yaml"
{
  echo "pipeline_configs:"
  for i in $(seq 1 100); do
    echo "  a$i:"; echo "    kind: noop"
    [ "$i" -gt 1 ] && echo "    deps: [a$((i-1))]"
  done
  echo "jobs:"; echo "  chain_job: {selection: ['*']}"
} > "$work/chain.yaml"

export DAGSTER_HOME=$home
"$bin" instance migrate >/dev/null
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$out/rust.md" --export-json "$out/rust.json" \
  -n "rust: job execute, 1 no-op asset" "$bin job execute -q -j one_job -f $work/one.yaml" \
  -n "rust: job execute, 100-asset no-op chain" "$bin job execute -q -j chain_job -f $work/chain.yaml"
/usr/bin/time -f "rust 100-asset chain peak RSS: %M KB" "$bin" job execute -q -j chain_job -f "$work/chain.yaml" >/dev/null

if [ "$with_python" = 1 ]; then
  venv=${DAGSTER_PY_VENV:-$PWD/target/bench/dagster-venv}
  if [ ! -x "$venv/bin/dagster" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q dagster==1.13.27
  fi
  cat > "$work/defs_one.py" <<'PY'
import dagster as dg

@dg.asset
def one():
    return 1

one_job = dg.define_asset_job("one_job", selection=[one])
defs = dg.Definitions(assets=[one], jobs=[one_job])
PY
  cat > "$work/defs_chain.py" <<'PY'
import dagster as dg

assets = []
prev = None
for i in range(1, 101):
    deps = [prev] if prev is not None else []
    @dg.asset(name=f"a{i}", deps=deps)
    def _a():
        return None
    assets.append(_a)
    prev = _a
chain_job = dg.define_asset_job("chain_job", selection=assets)
defs = dg.Definitions(assets=assets, jobs=[chain_job])
PY
  pyhome=$work/pyhome; mkdir -p "$pyhome"; touch "$pyhome/dagster.yaml"
  DAGSTER_HOME=$pyhome hyperfine -N --warmup 1 --runs 5 --export-markdown "$out/python_one.md" \
    -n "python dagster: job execute, 1 no-op asset" "$venv/bin/dagster job execute -f $work/defs_one.py -j one_job"
  DAGSTER_HOME=$pyhome hyperfine -N --runs 1 --export-markdown "$out/python_chain.md" \
    -n "python dagster: job execute, 100-asset no-op chain" "$venv/bin/dagster job execute -f $work/defs_chain.py -j chain_job"
fi
