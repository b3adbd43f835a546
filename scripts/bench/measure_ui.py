"""Time to network idle of UI pages in headless Chromium (scripts/bench_ui.sh drives it).

For every repetition, page and server (servers interleaved, so both see the same machine), a
fresh browser context (--cache cold: nothing cached) or a new tab of the server's one context
(--cache warm: the UI's files in its HTTP cache, as for a returning user) opens the page and Playwright waits for
`networkidle` (no request in flight for 500 ms; the figure includes that window, as Dagster's
own measurements here do). Also recorded: how long the page waited on GraphQL answers over HTTP
(the server's share), when the last HTTP response or websocket frame arrived (the UI loads a run's events over the `graphql-ws` websocket, which `networkidle` does
not wait for), and any page error or failed GraphQL response, which fail the benchmark.

Usage: measure.py --server NAME=URL [--server ...] --page PATH [--page ...] [--reps 5]
       [--warmup 1] [--cache cold|warm] [--json OUT]
"""

import argparse
import json
import os
import statistics
import sys
import time

from playwright.sync_api import sync_playwright

VIEWPORT = {"width": 1440, "height": 900}
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def visit(browser, url, context=None):
    """Returns (seconds to networkidle, seconds to the last data received, seconds waiting on
    GraphQL over HTTP, errors). With a
    `context`, a new tab of it (its HTTP cache warm); otherwise a fresh context (cold)."""
    own = context is None
    if own:
        context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors = []
    last = [0.0]
    t0 = [0.0]

    def on_response(resp):
        last[0] = time.perf_counter()
        if resp.url.endswith("/graphql") and resp.status != 200:
            errors.append(f"{resp.status} from {resp.url}")

    def on_ws(ws):
        ws.on("framereceived", lambda _frame: last.__setitem__(0, time.perf_counter()))

    page.on("response", on_response)
    page.on("websocket", on_ws)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    t0[0] = time.perf_counter()
    page.goto(url, wait_until="networkidle", timeout=120_000)
    idle = time.perf_counter() - t0[0]
    # Let websocket traffic that outlasts networkidle finish (500 ms of silence).
    while time.perf_counter() - last[0] < 0.5:
        page.wait_for_timeout(100)
    data = last[0] - t0[0]
    # Time spent waiting on the server's GraphQL answers: the union of the HTTP requests'
    # [requestStart, responseEnd] intervals (Resource Timing, taken on the network thread).
    spans = sorted(
        page.evaluate(
            """() => performance.getEntriesByType('resource')
                 .filter(e => e.name.includes('/graphql'))
                 .map(e => [e.requestStart, e.responseEnd])"""
        )
    )
    server, end = 0.0, 0.0
    for a, b in spans:
        a = max(a, end)
        if b > a:
            server += b - a
            end = b
    page.close()
    if own:
        context.close()
    return idle, data, server / 1000, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", action="append", required=True, help="NAME=URL")
    ap.add_argument("--page", action="append", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument(
        "--cache",
        choices=["cold", "warm"],
        default="cold",
        help="cold: a fresh browser context per visit (nothing cached); warm: a tab of one "
        "context per server, whose HTTP cache holds the UI's files (a returning user)",
    )
    ap.add_argument("--json")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = ap.parse_args()
    servers = [s.split("=", 1) for s in args.server]
    results = {name: {p: {"idle": [], "data": [], "server": []} for p in args.page} for name, _ in servers}
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        contexts = {
            name: browser.new_context(viewport=VIEWPORT) if args.cache == "warm" else None
            for name, _ in servers
        }
        for rep in range(args.warmup + args.reps):
            for page in args.page:
                for name, base in servers:
                    idle, data, server, errors = visit(browser, base.rstrip("/") + page, contexts[name])
                    failures += [f"{name} {page}: {e}" for e in errors]
                    if rep >= args.warmup:
                        results[name][page]["idle"].append(idle)
                        results[name][page]["data"].append(data)
                        results[name][page]["server"].append(server)
        browser.close()
    names = [n for n, _ in servers]
    header = "| page | " + " | ".join(
        f"{n}: network idle (median; min–max) | {n}: last data | {n}: waiting on GraphQL"
        for n in names
    )
    if len(names) == 2:
        header += f" | {names[0]} / {names[1]}"
    print(header + " |")
    print("|" + "---|" * (1 + 3 * len(names) + (1 if len(names) == 2 else 0)))
    for page in args.page:
        row = [page]
        medians = []
        for n in names:
            r = results[n][page]
            m = statistics.median(r["idle"])
            medians.append(m)
            row.append(f"{m:.2f} s ({min(r['idle']):.2f}–{max(r['idle']):.2f})")
            row.append(f"{statistics.median(r['data']):.2f} s")
            row.append(f"{statistics.median(r['server']) * 1000:.0f} ms")
        if len(names) == 2:
            row.append(f"{medians[0] / medians[1]:.2f}×")
        print("| " + " | ".join(row) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if failures:
        print("\n".join(["failures:"] + failures[:20]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
