#!/usr/bin/env bash
# A Docker-compatible container engine on this machine: Debian's podman serving the Docker Engine
# API on a unix socket under target/containers/, for the Docker CLI, docker-compose and bollard.
#
#   eval "$(scripts/containers/engine.sh)"     # start (if not running); prints the exports
#   scripts/containers/engine.sh status        # exit 0 when the API answers
#   scripts/containers/engine.sh stop          # stop the service this script started
#
# Idempotent: a running service (pid file + answering socket) is reused. Beside the service runs
# a health-check ticker: podman 4.3 schedules HEALTHCHECKs with systemd timers, and without
# systemd (as here) no check ever runs and every container stays "starting", so compose's
# `condition: service_healthy` never holds. The ticker runs `podman healthcheck run` for each
# running container with a health check, every interval of that container's check.
# The exports it prints:
#   CONTAINERS_CONF  containers.conf written here: runtime runc (crun fails on this kernel's
#                    hybrid cgroups) and ulimits a container may set (it cannot raise them above
#                    the host's, and podman's defaults are higher than this host allows)
#   DOCKER_HOST      unix:// socket of the API service
# Everything else (image storage, networks) is podman's default for root.
#
# Environment: CONTAINERS_DIR (default <repo>/target/containers), ENGINE_WAIT_SECONDS (default 30).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

conf=$dir/containers.conf
sock=$dir/podman.sock
pidfile=$dir/podman-service.pid
log=$dir/podman-service.log
tickpid=$dir/healthcheck-ticker.pid
wait_s=${ENGINE_WAIT_SECONDS:-30}

export CONTAINERS_CONF=$conf
export DOCKER_HOST=unix://$sock

for tool in podman runc curl; do
  command -v "$tool" >/dev/null \
    || die "'$tool' not found on PATH (apt-get install podman runc curl)"
done

write_conf() {
  mkdir -p "$dir"
  local tmp
  tmp=$(mktemp "$dir/containers.conf.XXXXXX")
  cat >"$tmp" <<'EOF'
# Written by scripts/containers/engine.sh (overwritten at every start).
[containers]
# A container cannot raise its limits above the host's; podman's defaults ask for more.
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]

[engine]
# crun fails on this kernel's hybrid cgroup setup; runc works.
runtime = "runc"
EOF
  mv "$tmp" "$conf"
}

running_pid() {
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"system service"*"$sock"* ]] \
    && echo "$pid"
}

ticker_pid() {
  [[ -f $tickpid ]] || return 1
  local pid
  pid=$(<"$tickpid")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *engine.sh*healthchecks* ]] \
    && echo "$pid"
}

# The ticker's loop (`engine.sh healthchecks`, started by `start`): once a second, run the check
# of every running container whose last check (or start) is at least its interval old. The check's result
# goes where podman keeps it (State.Health, `docker inspect`, compose); errors to the log.
healthchecks() {
  declare -A last=()
  local now id secs
  while sleep 1; do
    now=$SECONDS
    while read -r id secs; do
      [[ $secs == none ]] && continue
      secs=${secs%.*}
      ((secs >= 1)) || secs=1
      # As Docker: the first check one interval after the container is first seen.
      if [[ -z ${last[$id]:-} ]]; then
        last[$id]=$now
      elif ((now - last[$id] >= secs)); then
        last[$id]=$now
        # Exit 1 = unhealthy, which podman records itself; other failures are logged.
        podman healthcheck run "$id" >/dev/null 2>&1 || (($? == 1)) \
          || echo "$(date -Is) healthcheck run $id failed" >&2
      fi
    done < <(podman ps -q | xargs -r podman inspect --format \
      '{{.Id}} {{if .Config.Healthcheck}}{{.Config.Healthcheck.Interval.Seconds}}{{else}}none{{end}}' 2>/dev/null)
  done
}

start_ticker() {
  ticker_pid >/dev/null && return
  setsid "${BASH_SOURCE[0]}" healthchecks >>"$dir/healthcheck-ticker.log" 2>&1 </dev/null &
  echo $! >"$tickpid"
}

# The API's version endpoint (what `docker version` asks), without needing the Docker CLI.
answers() { curl -fsS --max-time 5 --unix-socket "$sock" http://d/version >/dev/null 2>&1; }

print_exports() {
  echo "export CONTAINERS_CONF=$conf"
  echo "export DOCKER_HOST=$DOCKER_HOST"
}

start() {
  write_conf
  if pid=$(running_pid); then
    answers || die "podman service (pid $pid) runs but $sock does not answer GET /version; see $log, or restart: $0 stop && $0"
    start_ticker
    print_exports
    return
  fi
  if [[ -S $sock ]]; then
    # A socket without our service: another podman started by hand, or a stale file.
    if answers; then
      die "$sock answers but was not started by this script (no live pid in $pidfile); stop that service or remove the socket"
    fi
    rm -f "$sock"
  fi
  # setsid: the service outlives this script and the shell that ran it.
  setsid podman system service --time=0 "unix://$sock" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local start_ns deadline=$((SECONDS + wait_s))
  start_ns=$(date +%s%N)
  until answers; do
    if ! running_pid >/dev/null; then
      rm -f "$pidfile"
      die "podman system service exited at start; last lines of $log:
$(tail -n 20 "$log")"
    fi
    ((SECONDS < deadline)) \
      || die "podman service (pid $(<"$pidfile")) did not answer GET /version on $sock within ${wait_s}s; see $log"
    sleep 0.2
  done
  start_ticker
  echo "engine.sh: podman API on $sock answered after $((($(date +%s%N) - start_ns) / 1000000)) ms" >&2
  print_exports
}

stop() {
  local pid
  if pid=$(ticker_pid); then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  fi
  rm -f "$tickpid"
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    echo "engine.sh: no podman service started by this script is running" >&2
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && die "podman service (pid $pid) still running 10 s after SIGTERM"
  rm -f "$pidfile" "$sock"
  echo "engine.sh: stopped podman service (pid $pid)" >&2
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  status)
    if pid=$(running_pid) && answers; then
      echo "engine.sh: podman service pid $pid answers on $sock" >&2
      tpid=$(ticker_pid) || die "the health-check ticker is not running (restart: $0)"
      echo "engine.sh: health-check ticker pid $tpid" >&2
    else
      die "not running (start it: eval \"\$($0)\")"
    fi
    ;;
  env) print_exports ;;
  healthchecks) healthchecks ;;
  *) die "unknown command '$1' (start, stop, status, env, healthchecks)" ;;
esac
