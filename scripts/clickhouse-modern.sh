#!/usr/bin/env bash
# A modern ClickHouse (26.9, from PyPI's chdb-core wheel) serving HTTP on 127.0.0.1, for running
# the table-sync tests against a current server next to the machine's ClickHouse 18.16:
#
#   scripts/clickhouse-modern.sh start [port]   # default port 8124; prints the URL
#   scripts/clickhouse-modern.sh status
#   scripts/clickhouse-modern.sh stop
#
#   DAGSTER_TEST_CLICKHOUSE_URL=$(scripts/clickhouse-modern.sh start | tail -1) \
#     cargo nextest run -p dagster-pipeline --test sync_mysql_clickhouse
#
# `start` creates the venv (target/chdb-venv, `pip install --no-deps chdb-core==26.9.0`, a
# 182 MB wheel) when it is missing, starts scripts/clickhouse_modern.py in the background
# (pidfile, log and data under target/clickhouse-modern/) and waits until `SELECT version()`
# answers. When the server already answers it does nothing but print the URL. `stop` ends the
# process (TERM, then KILL after 10 s), waits until the port is free and removes the data.
# The server holds about 300 MB while it runs. Each `start` begins with an empty data directory.
# Environment: CHDB_VENV, CLICKHOUSE_MODERN_DIR, CLICKHOUSE_MODERN_PORT, PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV="${CHDB_VENV:-$ROOT/target/chdb-venv}"
DIR="${CLICKHOUSE_MODERN_DIR:-$ROOT/target/clickhouse-modern}"
CHDB_VERSION="26.9.0"
PY="${PYTHON:-python3}"
case "$DIR" in
  "" | / | "$ROOT" | "$HOME") echo "refusing CLICKHOUSE_MODERN_DIR=$DIR (it is emptied on start and stop)" >&2; exit 2 ;;
esac
PIDFILE="$DIR/server.pid"
PORTFILE="$DIR/server.port"
LOG="$DIR/server.log"

usage() {
  echo "usage: $0 start [port] | stop | status" >&2
  exit 2
}

# The PID of the running server (empty if none).
running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 0
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q clickhouse_modern.py; then
    echo "$pid"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

version_at() { curl -sf --max-time 2 "http://127.0.0.1:$1/?query=SELECT%20version()" 2>/dev/null; }

ensure_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('chdb-core') != '$CHDB_VERSION')" 2>/dev/null; then
    return 0
  fi
  echo "== creating $VENV with chdb-core==$CHDB_VERSION (a 182 MB wheel)" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --no-deps "chdb-core==$CHDB_VERSION" >&2
}

cmd_start() {
  local port="${1:-${CLICKHOUSE_MODERN_PORT:-8124}}" pid v
  [[ "$port" =~ ^[0-9]+$ ]] || usage
  pid=$(running_pid)
  if [ -n "$pid" ]; then
    local have
    have=$(cat "$PORTFILE" 2>/dev/null || echo "?")
    if [ "$have" != "$port" ]; then
      echo "clickhouse-modern already runs on port $have (pid $pid); stop it first" >&2
      exit 1
    fi
    # Started earlier (maybe still starting): wait for it below.
  else
    if port_in_use "$port"; then
      echo "port $port on 127.0.0.1 is used by another process; choose another: $0 start <port>" >&2
      exit 1
    fi
    ensure_venv
    rm -rf "$DIR"
    mkdir -p "$DIR"
    echo "$port" >"$PORTFILE"
    nohup "$VENV/bin/python" "$ROOT/scripts/clickhouse_modern.py" "$DIR/work" "$port" \
      >"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi
  for _ in $(seq 1 120); do
    if v=$(version_at "$port") && [ -n "$v" ]; then
      echo "clickhouse-modern $v (pid $pid), log $LOG" >&2
      echo "http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "clickhouse-modern exited while starting; its log ($LOG):" >&2
      tail -20 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.5
  done
  echo "clickhouse-modern (pid $pid) did not answer on port $port within 60 s; log $LOG" >&2
  exit 1
}

cmd_stop() {
  local pid port
  pid=$(running_pid)
  port=$(cat "$PORTFILE" 2>/dev/null || true)
  if [ -z "$pid" ]; then
    echo "clickhouse-modern is not running" >&2
  else
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "clickhouse-modern (pid $pid) ignored TERM for 10 s: KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    if kill -0 "$pid" 2>/dev/null; then
      echo "clickhouse-modern (pid $pid) is still alive" >&2
      exit 1
    fi
    echo "clickhouse-modern (pid $pid) stopped" >&2
  fi
  if [[ "$port" =~ ^[0-9]+$ ]]; then
    for _ in $(seq 1 50); do
      port_in_use "$port" || break
      sleep 0.1
    done
    if port_in_use "$port"; then
      echo "port $port is still in use after the stop" >&2
      exit 1
    fi
  fi
  rm -rf "$DIR"
}

cmd_status() {
  local pid port v
  pid=$(running_pid)
  port=$(cat "$PORTFILE" 2>/dev/null || echo "?")
  if [ -z "$pid" ]; then
    echo "clickhouse-modern: not running"
    exit 3
  fi
  if v=$(version_at "$port") && [ -n "$v" ]; then
    echo "clickhouse-modern: running, pid $pid, http://127.0.0.1:$port, version $v"
  else
    echo "clickhouse-modern: pid $pid alive but http://127.0.0.1:$port does not answer (yet); log $LOG"
    exit 1
  fi
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) usage ;;
esac
