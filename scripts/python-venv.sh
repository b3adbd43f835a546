#!/usr/bin/env bash
# Creates the Python virtualenv the webserver tests drive the official Dagster GraphQL client
# from (crates/webserver/tests/python_client.py). Location: $DAGSTER_GRAPHQL_VENV, default
# target/python-venv. Idempotent: an existing venv with the right client version is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DAGSTER_GRAPHQL_VENV:-target/python-venv}"
VERSION="1.13.27"
PY="${PYTHON:-python3}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('dagster-graphql') != '$VERSION')" 2>/dev/null; then
  echo "python venv $VENV: dagster-graphql==$VERSION present"
  exit 0
fi
echo "== creating python venv $VENV with dagster-graphql==$VERSION"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "dagster-graphql==$VERSION"
"$VENV/bin/python" -c "import dagster_graphql; print('dagster-graphql', dagster_graphql.__version__)"
