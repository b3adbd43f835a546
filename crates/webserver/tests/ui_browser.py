"""Dagster's UI, served by this project's webserver, driven in headless Chromium.

Run by tests/ui_browser.rs (which seeds an instance, starts the webserver and the daemon, and
passes the details as arguments); it can also be run by hand against a running server:

    python ui_browser.py --base http://127.0.0.1:3000 crawl

Scenarios:
  crawl     visit every page reachable from the left navigation and from the code locations'
            jobs, assets, schedules, sensors and resources (breadth first, up to --max-pages);
            each must render with no GraphQL error, no uncaught exception, no error banner and
            no request to another host
  flows     the UI's flows end to end (launch from the launchpad, materialize, re-execute from
            failure, terminate, toggle schedule and sensor, reload, step stdout, metadata plot)
  readonly  pages render; the UI offers no mutation, and a mutation sent anyway is refused
  token     without the token every page asks for it; after signing in the UI works
  screenshots  writes PNGs of the main pages into --out

Exit status 0 when every check passed; otherwise each failure is printed.
"""

import argparse
import json
import os
import re
import sys
import time
from urllib.parse import urljoin, urlparse

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Text the UI shows when something went wrong (error states, toasts, Next.js crash page).
ERROR_TEXTS = [
    "Application error: a client-side exception has occurred",
    "An unexpected error occurred",
    "Unexpected GraphQL error",
    "PythonError",
    "Something went wrong",
    "GraphQL error",
]


class Failures:
    def __init__(self):
        self.items = []

    def add(self, where, what):
        self.items.append(f"{where}: {what}")
        print(f"FAIL {where}: {what}", flush=True)

    def ok(self):
        return not self.items


class Watch:
    """Everything that goes wrong on one page: console errors, uncaught exceptions, GraphQL
    errors, error members in GraphQL data, failed same-origin requests, other hosts."""

    def __init__(self, page, base):
        self.page = page
        self.origin = "{0.scheme}://{0.netloc}".format(urlparse(base))
        self.problems = []
        self.graphql_ops = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {str(e)[:500]}"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, msg):
        if msg.type == "error":
            self.problems.append(f"console error: {msg.text[:500]}")

    def _request(self, req):
        url = req.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        if not url.startswith(self.origin) and not url.startswith(self.origin.replace("http", "ws", 1)):
            self.problems.append(f"request to another host: {url}")

    def _response(self, resp):
        url = resp.url
        if not url.startswith(self.origin):
            return
        if "/graphql" in url:
            op = url.split("op=")[-1] if "op=" in url else "?"
            self.graphql_ops.append(op)
            try:
                body = resp.json()
            except Exception:  # noqa: BLE001 - any undecodable answer is a failure
                self.problems.append(f"GraphQL {op}: HTTP {resp.status}, not JSON")
                return
            if resp.status != 200 or body.get("errors"):
                self.problems.append(
                    f"GraphQL {op}: HTTP {resp.status} {json.dumps(body.get('errors'))[:500]}"
                )
                return
            text = json.dumps(body.get("data"))
            if '"PythonError"' in text:
                i = text.find('"PythonError"')
                self.problems.append(f"GraphQL {op}: PythonError {text[max(0, i - 200):i + 400]}")
        elif resp.status >= 400 and not url.endswith(".map"):
            self.problems.append(f"HTTP {resp.status} for {url}")

    def take(self):
        out, self.problems = self.problems, []
        return out


def banner_errors(page):
    try:
        text = page.inner_text("body", timeout=2000)
    except Exception:  # noqa: BLE001
        return []
    return [t for t in ERROR_TEXTS if t in text]


def settle(page, extra_ms=300):
    """Network idle (the UI polls, so allow for that), then a little more."""
    try:
        page.wait_for_load_state("networkidle", timeout=15000)
    except Exception:  # noqa: BLE001 - a page that never idles is reported by its checks
        pass
    page.wait_for_timeout(extra_ms)


def open_page(browser, base, token=None):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    watch = Watch(page, base)
    if token is not None:
        sign_in(page, base, token)
    return ctx, page, watch


def sign_in(page, base, token):
    page.goto(base + "/", wait_until="domcontentloaded")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*"), wait_until="domcontentloaded")


def check_page(page, watch, failures, label):
    problems = watch.take() + [f"error shown: {t}" for t in banner_errors(page)]
    for p in problems:
        failures.add(label, p)
    return not problems


# ---------------------------------------------------------------------------------------------
# crawl

SKIP = re.compile(r"^/(graphql|logs/|download_debug|login|logout|server_info|dagit_info)")


def links(page, base, prefix):
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    out = []
    for h in hrefs:
        if not h or h.startswith(("#", "mailto:", "javascript:")):
            continue
        u = urlparse(urljoin(base + "/", h))
        if "{0.scheme}://{0.netloc}".format(u) != "{0.scheme}://{0.netloc}".format(urlparse(base)):
            continue
        path = u.path
        if prefix and path.startswith(prefix):
            path = path[len(prefix):] or "/"
        if SKIP.match(path):
            continue
        out.append(path + (("?" + u.query) if u.query else ""))
    return out


def crawl(browser, args, failures):
    base = args.base
    prefix = urlparse(base).path.rstrip("/")
    ctx, page, watch = open_page(browser, base, args.token)
    queue = list(args.start) or ["/overview", "/runs", "/assets", "/jobs", "/automation",
                                 "/deployment", "/settings"]
    seen = set()
    visited = 0
    while queue and visited < args.max_pages:
        path = queue.pop(0)
        key = path.split("?")[0]
        if key in seen:
            continue
        seen.add(key)
        t0 = time.time()
        page.goto(base + path, wait_until="domcontentloaded")
        settle(page)
        visited += 1
        ok = check_page(page, watch, failures, path)
        print(f"{'ok  ' if ok else 'FAIL'} {path} ({time.time() - t0:.1f}s)", flush=True)
        for link in links(page, base, prefix):
            if link.split("?")[0] not in seen:
                queue.append(link)
    ctx.close()
    print(f"crawled {visited} pages", flush=True)
    if visited < args.min_pages:
        failures.add("crawl", f"only {visited} pages were reachable (expected at least {args.min_pages})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="http://host:port[/prefix]")
    ap.add_argument("--token")
    ap.add_argument("--max-pages", type=int, default=150)
    ap.add_argument("--min-pages", type=int, default=1)
    ap.add_argument("--start", action="append", default=[])
    ap.add_argument("--out", default=".")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--json", help="a JSON object of scenario inputs (run ids, names)")
    ap.add_argument("scenario", choices=["crawl", "flows", "readonly", "token", "screenshots"])
    args = ap.parse_args()
    args.base = args.base.rstrip("/")
    args.data = json.loads(args.json) if args.json else {}
    failures = Failures()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            globals()[args.scenario](browser, args, failures)
        finally:
            browser.close()
    if not failures.ok():
        print(f"{len(failures.items)} failure(s)", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)


if __name__ == "__main__":
    main()
