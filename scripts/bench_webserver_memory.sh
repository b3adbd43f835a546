#!/usr/bin/env bash
# Webserver memory under expensive GraphQL requests (issue 14): the release webserver on a
# temporary DAGSTER_HOME with the repo's demo code location (pipeline-config/local.yaml, the demo
# job run once so there are runs, events and materializations), then 1,000 requests mixing the
# expensive shapes (aliases of large fields, deep nesting, large `limit:`, introspection), 16 at a
# time. Every request must be answered with a result or a QUERY_COST_LIMIT error (no connection
# error, no 5xx). Reports the webserver's RSS idle before, the peak during (VmRSS sampled every
# 50 ms, and VmHWM) and 10 s after.
#
# Usage: scripts/bench_webserver_memory.sh [--allocator NAME]... [--requests 1000]
#        [--concurrency 16] [--env KEY=VALUE (for the webserver; repeatable)]
#        [--debug (debug build: only to check the script)]
# Allocators (each a build or an environment of the same binary):
#   default       the build's default: jemalloc with the settings of .cargo/config.toml and the
#                 per-worker cache flush (crates/webserver/src/alloc.rs)
#   jemalloc-defaults  the same binary with jemalloc's own defaults restored through
#                 _RJEM_MALLOC_CONF (8 arenas on 2 cores, 32 KiB thread caches, 10 s decay)
#   glibc         --no-default-features --features ui: glibc malloc
#   glibc-arena2  glibc with MALLOC_ARENA_MAX=2 and MALLOC_TRIM_THRESHOLD_=131072
#   mimalloc      --no-default-features --features ui,mimalloc
# Without --allocator: all of them, one after the other. Targets: peak <= 100 MB, <= 30 MB 10 s
# after the burst.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=1000; concurrency=16; profile=release; allocators=(); extra_env=()
while [ $# -gt 0 ]; do
  case "$1" in
    --allocator) allocators+=("$2"); shift ;;
    --env) extra_env+=("$2"); shift ;;
    --requests) requests="$2"; shift ;;
    --concurrency) concurrency="$2"; shift ;;
    --debug) profile=debug ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#allocators[@]} -gt 0 ] || allocators=(default jemalloc-defaults glibc glibc-arena2 mimalloc)
target=${CARGO_TARGET_DIR:-$PWD/target}
flag=--release; [ "$profile" = debug ] && flag=

work=$(mktemp -d)
web_pid=
cleanup() {
  [ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null || true
  sleep 0.3
  rm -rf "$work"
}
trap cleanup EXIT

# The binaries: `dagster` once, the webserver once per allocator build (kept under $work).
if [ -n "${DAGSTER_BENCH_WEB_BINS:-}" ] && [ -x "$DAGSTER_BENCH_WEB_BINS/dagster" ]; then
  cp "$DAGSTER_BENCH_WEB_BINS/dagster" "$work/dagster"
else
  nice -n 19 cargo build $flag -p dagster-cli >/dev/null 2>&1 || nice -n 19 cargo build $flag -p dagster-cli
  cp "$target/$profile/dagster" "$work/dagster"
fi
build_web() { # name, features...
  local name=$1; shift
  # Pre-built binaries (DAGSTER_BENCH_WEB_BINS=<dir with web-glibc, web-jemalloc, ...>) skip the build.
  if [ -n "${DAGSTER_BENCH_WEB_BINS:-}" ] && [ -x "$DAGSTER_BENCH_WEB_BINS/web-$name" ]; then
    echo "$DAGSTER_BENCH_WEB_BINS/web-$name"; return
  fi
  if [ ! -x "$work/web-$name" ]; then
    nice -n 19 cargo build $flag -p dagster-webserver "$@" >/dev/null 2>&1 || nice -n 19 cargo build $flag -p dagster-webserver "$@"
    cp "$target/$profile/dagster-webserver" "$work/web-$name"
  fi
  echo "$work/web-$name"
}

# The instance: the demo location, its job run once.
export DAGSTER_HOME=$work/home; mkdir -p "$DAGSTER_HOME"
printf 'load_from:\n  - pipeline_config: {path: %s, location_name: dagster-pipeline}\n' "$PWD/pipeline-config/local.yaml" > "$DAGSTER_HOME/workspace.yaml"
(cd "$DAGSTER_HOME" && "$work/dagster" job execute -j demo_job > "$work/demo.log" 2>&1) \
  || { cat "$work/demo.log"; echo "the demo job failed" >&2; exit 1; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "requests: $requests, $concurrency at a time"
printf '| allocator | idle RSS (anonymous) | peak RSS (sampled) | VmHWM | RSS 10 s after (anonymous) | answered | refused (cost limit) | wall, webserver CPU |\n|---|---|---|---|---|---|---|---|\n'
for alloc in "${allocators[@]}"; do
  env_extra=(${extra_env[@]+"${extra_env[@]}"})
  case "$alloc" in
    default) bin=$(build_web default) ;;
    glibc) bin=$(build_web glibc --no-default-features --features ui) ;;
    glibc-arena2) bin=$(build_web glibc --no-default-features --features ui)
                  env_extra+=(MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072) ;;
    jemalloc-defaults) bin=$(build_web default)
                  env_extra+=(_RJEM_MALLOC_CONF=narenas:8,tcache_max:32768,dirty_decay_ms:10000) ;;
    mimalloc) bin=$(build_web mimalloc --no-default-features --features ui,mimalloc) ;;
    *) echo "unknown allocator $alloc" >&2; exit 2 ;;
  esac
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env "${env_extra[@]}" "$bin" -h 127.0.0.1 -p "$port" > "$work/web-$alloc.log" 2>&1 &
  web_pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/server_info" >/dev/null && break; sleep 0.1; done
  python3 - "$port" "$web_pid" "$requests" "$concurrency" "$alloc" <<'PY' || status=1
import json, os, sys, threading, time, http.client
from concurrent.futures import ThreadPoolExecutor

port, pid, total, conc, alloc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def rollup_kb(key):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0

def status_kb(key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0

def post(conn, query):
    body = json.dumps({"query": query})
    conn.request("POST", "/graphql", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()

def aliases(n, field):
    return "{ " + " ".join(f"a{i}: {field}" for i in range(n)) + " }"

ASSET = ("assetNodes { id assetKey { path } groupName description computeKind kinds jobNames opNames "
         "isMaterializable isPartitioned dependencyKeys { path } dependedByKeys { path } "
         "assetMaterializations { runId timestamp } }")
RUNS = ("runsOrError(limit: 100) { ... on Runs { results { runId status pipelineName runConfigYaml "
        "tags { key value } eventConnection { events { __typename ... on MessageEvent { runId message timestamp level stepKey eventType } } } } } }")
INTRO = ("__schema { types { kind name description fields(includeDeprecated: true) { name description "
         "args { name description type { kind name ofType { kind name ofType { kind name } } } defaultValue } "
         "type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } isDeprecated deprecationReason } "
         "inputFields { name type { kind name ofType { kind name } } defaultValue } interfaces { name } "
         "enumValues(includeDeprecated: true) { name description } possibleTypes { name } } }")
def deep(levels):
    return '{ __type(name: "Query") { ' + "ofType { " * levels + "name" + " }" * (levels + 1) + " }"

SHAPES = [
    ("200 x asset graph", aliases(200, ASSET)),
    ("100 x asset graph", aliases(100, ASSET)),
    ("200 x runs+events", aliases(200, RUNS)),
    ("50 x runs+events", aliases(50, RUNS)),
    ("200 x introspection", aliases(200, "__schema { types { name fields { name type { name } } } }")),
    ("3 x introspection", aliases(3, INTRO)),
    ("1 x introspection", "{ " + INTRO + " }"),
    ("deep 23", deep(21)),
    ("deep 35", deep(33)),
    ("deep 60 (fragments)", '{ __type(name: "Query") { ...F0 } } ' + " ".join(f"fragment F{i} on __Type {{ ofType {{ ...F{i + 1} }} }}" for i in range(58)) + " fragment F58 on __Type { name }"),
    ("limit 10000", "{ runsOrError(limit: 10000) { ... on Runs { results { runId status tags { key value } } } } }"),
    ("limit 1000000", "{ runsOrError(limit: 1000000) { ... on Runs { results { runId } } } }"),
    ("events limit 10000", "{ runsOrError(limit: 1) { ... on Runs { results { runId eventConnection(limit: 10000) { events { __typename ... on MessageEvent { message timestamp } } } } } } }"),
]

samples = []
stop = threading.Event()
def sampler():
    while not stop.is_set():
        try:
            samples.append(status_kb("VmRSS"))
        except OSError:
            return
        time.sleep(0.05)

def cpu_seconds():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

time.sleep(2)
idle = status_kb("VmRSS")
idle_anon = rollup_kb("Anonymous")
cpu0 = cpu_seconds()
local = threading.local()
def one(i):
    name, q = SHAPES[i % len(SHAPES)]
    for attempt in range(2):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            status, body = post(conn, q)
            break
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            local.conn = None
            if attempt == 1:
                return name, "connection error: %s" % e, 0
    try:
        v = json.loads(body)
    except ValueError:
        return name, f"HTTP {status}: not JSON", len(body)
    errors = v.get("errors") or []
    if status >= 500:
        return name, f"HTTP {status}: {errors[:1]}", len(body)
    if errors:
        code = (errors[0].get("extensions") or {}).get("code")
        if code == "QUERY_COST_LIMIT":
            return name, "refused", len(body)
        return name, f"HTTP {status} error: {errors[0].get('message')}", len(body)
    return name, "ok", len(body)

t = threading.Thread(target=sampler, daemon=True)
t.start()
t0 = time.time()
with ThreadPoolExecutor(conc) as pool:
    results = list(pool.map(one, range(total)))
elapsed = time.time() - t0
cpu = cpu_seconds() - cpu0
peak_during = max(samples) if samples else 0
hwm = status_kb("VmHWM")
time.sleep(10)
after = status_kb("VmRSS")
after_anon = rollup_kb("Anonymous")
stop.set()
bad = [r for r in results if r[1] not in ("ok", "refused")]
by_shape = {}
for name, outcome, size in results:
    d = by_shape.setdefault(name, {"ok": 0, "refused": 0, "bad": 0, "bytes": 0})
    d["ok" if outcome == "ok" else "refused" if outcome == "refused" else "bad"] += 1
    d["bytes"] = max(d["bytes"], size)
for name, d in by_shape.items():
    print(f"#   {alloc}: {name}: ok {d['ok']}, refused {d['refused']}, bad {d['bad']}, largest answer {d['bytes']} bytes", file=sys.stderr)
for b in bad[:5]:
    print(f"#   BAD {b}", file=sys.stderr)
mb = lambda kb: f"{kb / 1024:.1f} MB"
ok = sum(1 for r in results if r[1] == "ok")
refused = sum(1 for r in results if r[1] == "refused")
print(f"| {alloc} | {mb(idle)} ({mb(idle_anon)}) | {mb(peak_during)} | {mb(hwm)} | {mb(after)} ({mb(after_anon)}) | {ok + refused}/{total} | {refused} | {elapsed:.1f} s, {cpu:.1f} s |")
sys.exit(1 if bad else 0)  # the table row is printed either way
PY
  kill "$web_pid" 2>/dev/null || true
  wait "$web_pid" 2>/dev/null || true
  web_pid=
done
exit "${status:-0}"
