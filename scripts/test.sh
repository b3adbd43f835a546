#!/usr/bin/env bash
# The project's test command: formatting, lints, then every test (unit, storage conformance on
# SQLite and Postgres, execution, CLI end-to-end), then the tests that talk to ClickHouse once more
# against ClickHouse 26.9 from PyPI. Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database
# `test`), MariaDB and ClickHouse 18.16 (see .ci/run), python3-venv, and podman, runc and
# debootstrap as root (the DockerRunLauncher tests' container engine and image, built locally);
# see README "Running the tests".
set -euo pipefail
cd "$(dirname "$0")/.."
export DAGSTER_TEST_PG_URL="${DAGSTER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== guard: dagster-core must not depend on actix-web or juniper"
if cargo tree -p dagster-core -e normal 2>/dev/null | grep -Eq '^[^a-z]*(actix-web|juniper) '; then
  echo "dagster-core depends on actix-web or juniper" >&2; exit 1
fi
echo "== python venv with the official dagster-graphql client (webserver tests)"
scripts/python-venv.sh
echo "== container engine (podman's Docker API) and the DockerRunLauncher tests' image"
# crates/daemon/tests/docker_launcher.rs runs runs in containers on this engine (DOCKER_HOST).
# An engine this script starts is stopped at the end; one already running is left alone.
if ! scripts/containers/engine.sh status >/dev/null 2>&1; then
  trap 'scripts/containers/engine.sh stop >/dev/null 2>&1 || true' EXIT
fi
eval "$(scripts/containers/engine.sh)"
scripts/containers/base-images.sh
scripts/containers/run-test-image.sh
echo "== tests"
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --no-fail-fast || status=$?
else
  cargo test --workspace --all-features --no-fail-fast || status=$?
fi
# The tests that talk to ClickHouse ran against the machine's ClickHouse 18.16 (127.0.0.1:8123);
# they run again against ClickHouse 26.9 from PyPI (chdb-core, started on 127.0.0.1:8124 and
# stopped afterwards). The script fails if either run failed.
echo "== ClickHouse tests against ClickHouse 26.9 (scripts/test-clickhouse-modern.sh)"
scripts/test-clickhouse-modern.sh || status=$?
exit "$status"
