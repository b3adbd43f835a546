#!/usr/bin/env bash
# The tests that talk to ClickHouse, run once more against ClickHouse 26.9 (PyPI's chdb-core,
# started by scripts/clickhouse-modern.sh on 127.0.0.1:8124 and stopped at the end unless it was
# already running). scripts/test.sh runs this after the main run, which used the machine's
# ClickHouse 18.16; the test binaries are already built then, so this costs the tests' time plus
# a second or two to start the server (and, once, the 182 MB wheel download into
# target/chdb-venv). Same options as the main run (`--workspace --all-features`), so nothing is
# rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
export DAGSTER_TEST_PG_URL="${DAGSTER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
PORT="${CLICKHOUSE_MODERN_PORT:-8124}"
TESTS=(sync_mysql_clickhouse sync_postgres sync_dates sync_config sync_job mysql_tls sync_kill)

started_here=0
if ! scripts/clickhouse-modern.sh status >/dev/null 2>&1; then
  started_here=1
fi
stop() {
  if [ "$started_here" = 1 ]; then
    scripts/clickhouse-modern.sh stop || true
  fi
}
trap stop EXIT
URL=$(scripts/clickhouse-modern.sh start "$PORT" | tail -1)
export DAGSTER_TEST_CLICKHOUSE_URL="$URL"

args=()
for t in "${TESTS[@]}"; do args+=(--test "$t"); done
begin=$SECONDS
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --no-fail-fast "${args[@]}" || status=$?
else
  cargo test --workspace --all-features --no-fail-fast "${args[@]}" || status=$?
fi
echo "== ClickHouse tests against $URL ($(curl -sf "$URL/?query=SELECT%20version()" || echo '?')): $((SECONDS - begin)) s, exit $status"
exit "$status"
