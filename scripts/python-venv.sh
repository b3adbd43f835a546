#!/usr/bin/env bash
# Creates the Python virtualenv the webserver tests use: Dagster's official GraphQL client
# (crates/webserver/tests/python_client.py, the schema comparison) and Playwright, which drives
# Debian's Chromium in the UI browser tests (crates/webserver/tests/ui_browser.py; no browser
# is downloaded). Location: $DAGSTER_GRAPHQL_VENV, default target/python-venv. Idempotent: an
# existing venv with the right versions is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DAGSTER_GRAPHQL_VENV:-target/python-venv}"
VERSION="1.13.27"
PLAYWRIGHT="1.65.3"
PY="${PYTHON:-python3}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('dagster-graphql') != '$VERSION' or m.version('playwright') != '$PLAYWRIGHT')" 2>/dev/null; then
  echo "python venv $VENV: dagster-graphql==$VERSION, playwright==$PLAYWRIGHT present"
  exit 0
fi
echo "== creating python venv $VENV with dagster-graphql==$VERSION and playwright==$PLAYWRIGHT"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "dagster-graphql==$VERSION" "playwright==$PLAYWRIGHT"
"$VENV/bin/python" -c "import dagster_graphql; print('dagster-graphql', dagster_graphql.__version__)"
