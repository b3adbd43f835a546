#!/usr/bin/env bash
# Regenerates the screenshots of the web UI shown in README.md (docs/ui-*.png): runs the browser
# test `ui_pages_and_flows` (a seeded instance, webserver + daemon, headless Chromium), which
# writes them to target/ui-browser/, and copies them into docs/. Needs what the tests need
# (Chromium, Postgres not required; see README "Set-up").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/python-venv.sh >/dev/null
cargo build -p dagster-cli -p dagster-daemon >/dev/null
rm -f target/ui-browser/ui-*.png
cargo nextest run -p dagster-webserver --test ui_browser ui_pages_and_flows
cp target/ui-browser/ui-*.png docs/
ls -l docs/ui-*.png
