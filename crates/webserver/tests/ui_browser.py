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
                text = resp.text()
            except Exception:  # noqa: BLE001 - the page moved on before the body was read
                return
            try:
                body = json.loads(text)
            except ValueError:
                self.problems.append(f"GraphQL {op}: HTTP {resp.status}, not JSON: {text[:200]}")
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
    if token is not None:
        sign_in(page, base, token)
    watch = Watch(page, base)
    return ctx, page, watch


def sign_in(page, base, token):
    """Signs in with the token (the session cookie is kept by the context)."""
    page.goto(base + "/login", wait_until="domcontentloaded")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("button[type=submit]")
    settle(page)


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


# ---------------------------------------------------------------------------------------------
# flows

def gql(page, base, query, variables=None):
    """A GraphQL call from the page (same origin, same session cookie)."""
    return page.evaluate(
        """async ([url, query, variables]) => {
            const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                        body: JSON.stringify({query, variables})});
            return await r.json();
        }""",
        [base + "/graphql", query, variables or {}],
    )


def run_status(page, base, run_id):
    r = gql(page, base, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
            {"id": run_id})
    return ((r.get("data") or {}).get("runOrError") or {}).get("status")


def until(probe, done, what, timeout=30):
    """Calls `probe` every 0.5 s until `done(value)`; returns that value, or fails with `what`
    and the last value seen."""
    deadline = time.time() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.time() >= deadline:
            raise AssertionError(f"{what} after {timeout} s (last: {value!r})")
        time.sleep(0.5)


def wait_status(page, base, run_id, statuses, timeout=90):
    return until(lambda: run_status(page, base, run_id), lambda s: s in statuses,
                 f"run {run_id} is not {statuses}", timeout)


def run_id_of(url):
    m = re.search(r"/runs/([0-9a-f-]{36})", url)
    if not m:
        raise AssertionError(f"not a run page: {url}")
    return m.group(1)


def flow(name, failures, fn):
    t0 = time.time()
    try:
        fn()
        print(f"ok   flow {name} ({time.time() - t0:.1f}s)", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure of a flow is reported
        failures.add(f"flow {name}", f"{type(e).__name__}: {str(e)[:1500]}")


def confirm(page, text):
    """Clicks a dialog's button once the dialog has finished opening."""
    button = page.locator("button", has_text=text).last
    button.wait_for(state="visible")
    page.wait_for_timeout(400)  # the dialog's opening animation
    button.click()


def flows(browser, args, failures):
    base = args.base
    data = args.data
    ctx, page, watch = open_page(browser, base, args.token)
    page.set_default_timeout(30000)
    shots = args.out

    def check(label):
        check_page(page, watch, failures, label)

    def launch_from_launchpad(job):
        """Launches `job` from its launchpad; returns the run the UI then shows."""
        page.goto(base + f"/locations/ui_fixture/jobs/{job}/playground")
        settle(page)
        page.get_by_role("button", name="Launch Run").click()
        page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}.*"), timeout=30000)
        return run_id_of(page.url)

    def launchpad():
        run_id = launch_from_launchpad("metrics_job")
        # The run page follows the run live: its status badge turns to Success and the
        # events stream in over the websocket.
        page.get_by_text("Success", exact=True).first.wait_for(timeout=90000)
        page.get_by_text("RUN_SUCCESS").first.wait_for(timeout=30000)
        page.get_by_text("ASSET_MATERIALIZATION").first.wait_for(timeout=30000)
        assert run_status(page, base, run_id) == "SUCCESS"
        check("launchpad run page")

    def materialize():
        page.goto(base + "/assets/metrics/orders")
        settle(page)
        page.locator("button", has_text=re.compile(r"^\s*Materialize\s*$")).first.click()
        wait_status(page, base, launched_run_id(), {"SUCCESS"})
        check("materialize from catalog")

    def reexecute_from_failure():
        failed = data["failed_run_id"]
        page.goto(base + "/runs/" + failed)
        settle(page)
        caret = page.locator("button", has_text="Re-execute all").locator("xpath=following-sibling::*[1]")
        caret.first.click()
        page.get_by_text("From failure", exact=True).first.click()
        page.wait_for_url(re.compile(r".*/runs/(?!" + failed + r")[0-9a-f-]{36}.*"), timeout=30000)
        child = run_id_of(page.url)
        status = wait_status(page, base, child, {"SUCCESS", "FAILURE"})
        assert status == "FAILURE", status  # the step still fails, as it should
        r = gql(page, base, """query($id: ID!) { runOrError(runId: $id) { ... on Run {
            parentRunId rootRunId stepKeysToExecute tags { key value } } } }""", {"id": child})
        run = r["data"]["runOrError"]
        assert run["parentRunId"] == failed and run["rootRunId"] == failed, run
        assert run["stepKeysToExecute"] == ["metrics__broken_report"], run
        page.get_by_text("Re-executions").first.wait_for(timeout=30000)
        check("re-execute from failure")

    def launched_run_id():
        """The run of the "Launched run <id>" toast."""
        toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
        toast.first.wait_for(timeout=30000)
        short = re.search(r"Launched run ([0-9a-f]{8})", toast.first.inner_text()).group(1)
        runs = gql(page, base, "{ runsOrError(limit: 20) { ... on Runs { results { runId } } } }")
        ids = [r["runId"] for r in runs["data"]["runsOrError"]["results"] if r["runId"].startswith(short)]
        assert ids, f"launched run {short} is not listed"
        return ids[0]

    def materialize_from_lineage():
        page.goto(base + "/locations/ui_fixture/asset-groups/metrics/lineage")
        settle(page)
        page.get_by_text("orders", exact=True).last.click()  # the graph's node
        page.locator("button", has_text="Materialize selected").first.click()
        run_id = launched_run_id()
        assert wait_status(page, base, run_id, {"SUCCESS", "FAILURE"}) == "SUCCESS"
        r = gql(page, base, """query($id: ID!) { runOrError(runId: $id) { ... on Run {
            assetSelection { path } } } }""", {"id": run_id})
        assert r["data"]["runOrError"]["assetSelection"] == [{"path": ["metrics", "orders"]}], r
        check("materialize from the lineage graph")

    def reexecute(label, choose, want_status, want_steps):
        def go():
            failed = data["failed_run_id"]
            page.goto(base + "/runs/" + failed)
            settle(page)
            choose()
            page.wait_for_url(re.compile(r".*/runs/(?!" + failed + r")[0-9a-f-]{36}.*"), timeout=30000)
            child = run_id_of(page.url)
            assert wait_status(page, base, child, {"SUCCESS", "FAILURE"}) == want_status
            r = gql(page, base, """query($id: ID!) { runOrError(runId: $id) { ... on Run {
                parentRunId stepKeysToExecute } } }""", {"id": child})
            run = r["data"]["runOrError"]
            assert run["parentRunId"] == failed, run
            assert run["stepKeysToExecute"] == want_steps, run
            check(label)
        return go

    def all_steps():
        page.locator("button", has_text="Re-execute all").first.click()

    def selected_step():
        # Select the step in the run's Gantt chart (its first box: the plan's first step; a box
        # too narrow for it may not show its label), then the button offers that step.
        try:
            page.locator(".chart-element.box").first.click()
            page.locator("button", has_text=re.compile(r"Re-execute \(.*metrics__orders")).first.click()
        except Exception as e:  # noqa: BLE001 - say what the page showed instead
            page.screenshot(path=os.path.join(shots, "flow-failure-selected-step.png"))
            boxes = page.locator(".chart-element").evaluate_all("els => els.map(e => e.innerText)")
            buttons = [t for t in page.locator("button").all_inner_texts() if "xecute" in t]
            raise AssertionError(f"{e}; chart elements {boxes}; buttons {buttons}; url {page.url}") from e

    def terminate(force):
        def go():
            run_id = launch_from_launchpad("slow_job")
            wait_status(page, base, run_id, {"STARTED"})
            page.locator("button", has_text="Terminate").first.click()
            dialog = page.locator("[role=dialog]")
            dialog.get_by_text("Force termination immediately").wait_for()
            if force:
                dialog.locator("input[type=checkbox]").first.evaluate("e => e.click()")
            confirm(page, re.compile(r"(Terminate|termination for) 1 run"))
            page.get_by_text("Canceled", exact=True).first.wait_for(timeout=60000)
            assert wait_status(page, base, run_id, {"CANCELED"}) == "CANCELED"
            check("terminate" + (" (force)" if force else ""))
        return go

    def toggle(kind, name):
        def go():
            page.goto(base + f"/locations/ui_fixture/{kind}s/{name}")
            settle(page)
            box = page.locator("input[type=checkbox]").first
            before = box.is_checked()
            box.evaluate("e => e.click()")
            page.wait_for_function(
                "([sel, want]) => document.querySelector(sel).checked === want",
                arg=["input[type=checkbox]", not before], timeout=15000)
            field = "scheduleOrError(scheduleSelector: {repositoryName: \"__repository__\", repositoryLocationName: \"ui_fixture\", scheduleName: $n}) { ... on Schedule { scheduleState { status } } }" if kind == "schedule" else "sensorOrError(sensorSelector: {repositoryName: \"__repository__\", repositoryLocationName: \"ui_fixture\", sensorName: $n}) { ... on Sensor { sensorState { status } } }"
            r = gql(page, base, "query($n: String!) { " + field + " }", {"n": name})
            state = list(r["data"].values())[0]
            status = (state.get("scheduleState") or state.get("sensorState"))["status"]
            assert status == ("STOPPED" if before else "RUNNING"), status
            # and back
            box.evaluate("e => e.click()")
            page.wait_for_function(
                "([sel, want]) => document.querySelector(sel).checked === want",
                arg=["input[type=checkbox]", before], timeout=15000)
            check(f"toggle {kind}")
        return go

    def reload_location():
        page.goto(base + "/deployment/locations")
        settle(page)
        before = gql(page, base, "{ workspaceOrError { ... on Workspace { locationEntries { name updatedTimestamp } } } }")
        page.wait_for_timeout(1100)  # timestamps have a resolution of a second
        page.locator("button", has_text=re.compile(r"^\s*Reload\s*$")).first.click()
        until(lambda: gql(page, base, "{ workspaceOrError { ... on Workspace { locationEntries { name updatedTimestamp } } } }"),
              lambda after: after != before, "no location was reloaded")
        settle(page)
        check("reload code location")

    def step_stdout():
        failed = data["failed_run_id"]
        page.goto(base + "/runs/" + failed)
        settle(page)
        page.locator("button", has_text="stdout").first.click()
        page.get_by_placeholder("Select a step\u2026").click()
        page.locator("[role=menuitem], a, li").filter(has_text="metrics__broken_report").first.click()
        page.get_by_text("building report").first.wait_for(timeout=30000)
        page.locator("button", has_text="stderr").first.click()
        page.get_by_text("report source table is missing").first.wait_for(timeout=30000)
        check("step stdout/stderr")

    def metadata_plot():
        page.goto(base + "/assets/metrics/orders")
        settle(page)
        page.locator("button", has_text="Plots").first.click()
        page.get_by_text("row_count").first.wait_for()
        page.wait_for_timeout(500)
        assert page.locator("canvas").count() >= 1, "no plot was drawn"
        page.screenshot(path=os.path.join(shots, "flow-metadata-plot.png"))
        check("metadata plot")

    def sensor_cursor():
        page.goto(base + "/locations/ui_fixture/sensors/after_failure")
        settle(page)
        page.locator("button", has_text="Edit").first.click()
        page.locator("[role=dialog] textarea").first.fill("ui-test-cursor")
        confirm(page, "Set cursor value")
        until(lambda: gql(page, base, """{ sensorOrError(sensorSelector: {repositoryName: "__repository__",
                repositoryLocationName: "ui_fixture", sensorName: "after_failure"}) {
                ... on Sensor { sensorState { typeSpecificData { ... on SensorData { lastCursor } } } } } }""")
              ["data"]["sensorOrError"]["sensorState"]["typeSpecificData"]["lastCursor"],
              lambda cursor: cursor == "ui-test-cursor", "the cursor was not set")
        check("set a sensor cursor")

    def reset_schedule():
        page.goto(base + "/locations/ui_fixture/schedules/metrics_every_minute")
        settle(page)
        page.locator("button", has_text="Reset schedule status").first.click()
        page.wait_for_timeout(1000)
        r = gql(page, base, """{ scheduleOrError(scheduleSelector: {repositoryName: "__repository__",
            repositoryLocationName: "ui_fixture", scheduleName: "metrics_every_minute"}) {
            ... on Schedule { scheduleState { status } } } }""")
        status = r["data"]["scheduleOrError"]["scheduleState"]["status"]
        assert status == "STOPPED", status  # the code default
        check("reset a schedule")

    def asset_menu(item):
        page.locator('button:right-of(button:has-text("Materialize"))').first.click()
        page.locator("[role=menuitem]", has_text=item).first.click()

    def report_materializations():
        r = gql(page, base, """{ assetOrError(assetKey: {path: ["demo", "report"]}) {
            ... on Asset { assetMaterializations(limit: 1) { runId } } } }""")
        return r["data"]["assetOrError"]["assetMaterializations"]

    def report_event():
        page.goto(base + "/assets/demo/report")
        settle(page)
        asset_menu("Report materialization event")
        confirm(page, re.compile(r"Report"))
        until(report_materializations, lambda mats: mats and mats[0]["runId"] == "",
              "no reported materialization")
        check("report a materialization")

    def wipe():
        page.goto(base + "/assets/demo/report")
        settle(page)
        asset_menu("Wipe materializations")
        confirm(page, re.compile(r"^\s*Wipe"))
        until(report_materializations, lambda mats: mats == [], "materializations remain")
        check("wipe an asset's materializations")

    def delete_run():
        victim = data.get("delete_run_id")
        assert victim, "no run to delete was given"
        page.goto(base + "/runs/" + victim)
        settle(page)
        page.locator('button:right-of(button:has-text("View tags and config"))').first.click()
        debug = page.locator("[role=menuitem]", has_text="Download debug file").first
        assert debug.count(), "no Download debug file item"
        status = page.evaluate("async (u) => (await fetch(u)).status", base + "/download_debug/" + victim)
        assert status == 200, f"/download_debug answered {status}"
        page.locator("[role=menuitem]", has_text="Delete").first.click()
        confirm(page, re.compile(r"Yes, delete 1 run"))
        until(lambda: run_status(page, base, victim), lambda s: s is None, "the run was not deleted")
        check("delete a run")

    flow("launch from the launchpad", failures, launchpad)
    flow("materialize an asset from the catalog", failures, materialize)
    flow("re-execute a failed run from failure", failures, reexecute_from_failure)
    if not args.quick:
        flow("materialize from the lineage graph", failures, materialize_from_lineage)
        flow("re-execute all steps", failures,
             reexecute("re-execute all steps", all_steps, "FAILURE", None))
        flow("re-execute a selected step", failures,
             reexecute("re-execute a selected step", selected_step, "SUCCESS", ["metrics__orders"]))
    flow("terminate a running run", failures, terminate(False))
    if not args.quick:
        flow("terminate a running run (force)", failures, terminate(True))
    flow("toggle a schedule", failures, toggle("schedule", "metrics_every_minute"))
    flow("toggle a sensor", failures, toggle("sensor", "after_failure"))
    flow("reload a code location", failures, reload_location)
    flow("open a step's stdout and stderr", failures, step_stdout)
    flow("plot an asset's numeric metadata", failures, metadata_plot)
    if not args.quick:
        flow("set a sensor cursor", failures, sensor_cursor)
        flow("reset a schedule", failures, reset_schedule)
        flow("report a materialization", failures, report_event)
        flow("wipe an asset's materializations", failures, wipe)
        flow("download a run's debug file and delete the run", failures, delete_run)
    ctx.close()


# ---------------------------------------------------------------------------------------------
# read-only mode

def readonly(browser, args, failures):
    base = args.base
    ctx, page, watch = open_page(browser, base, args.token)
    page.goto(base + "/locations/ui_fixture/jobs/metrics_job/playground")
    settle(page)
    launch = page.get_by_role("button", name="Launch Run")
    if launch.count() and launch.first.is_enabled():
        failures.add("read-only", "the launchpad offers an enabled Launch Run button")
    page.goto(base + "/locations/ui_fixture/schedules/metrics_every_minute")
    settle(page)
    box = page.locator("input[type=checkbox]")
    if box.count() and box.first.is_enabled():
        failures.add("read-only", "the schedule's running switch is enabled")
    page.goto(base + "/assets/metrics/orders")
    settle(page)
    mat = page.locator("button", has_text=re.compile(r"^\s*Materialize\s*$"))
    if mat.count() and mat.first.is_enabled():
        failures.add("read-only", "the asset offers an enabled Materialize button")
    r = gql(page, base, """mutation { launchRun(executionParams: {selector: {repositoryName: "__repository__",
        repositoryLocationName: "ui_fixture", jobName: "metrics_job"}}) { __typename } }""")
    if r.get("data", {}).get("launchRun", {}).get("__typename") != "UnauthorizedError":
        failures.add("read-only", f"launchRun was not refused: {r}")
    watch.take()  # the refused mutation is expected
    print("ok   read-only checks", flush=True)
    ctx.close()


# ---------------------------------------------------------------------------------------------
# token mode

def token(browser, args, failures):
    base = args.base
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    page.goto(base + "/runs")
    if page.locator("input[name=token]").count() != 1:
        failures.add("token", "a page without the token does not ask for it")
    page.fill("input[name=token]", "wrong-token")
    page.click("button[type=submit]")
    if "not this server's token" not in page.inner_text("body"):
        failures.add("token", "a wrong token is not refused")
    api = page.evaluate("async (u) => (await fetch(u, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{\"query\": \"{ version }\"}'})).status", base + "/graphql")
    if api != 401:
        failures.add("token", f"the API answered {api} without the token")
    page.fill("input[name=token]", args.token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/runs$"), timeout=15000)
    watch = Watch(page, base)
    settle(page)
    check_page(page, watch, failures, "/runs after signing in")
    page.get_by_text("metrics_job").first.wait_for(timeout=15000)
    print("ok   token sign-in", flush=True)
    ctx.close()


# ---------------------------------------------------------------------------------------------
# screenshots for docs/

SCREENSHOTS = [
    ("runs", "/runs"),
    ("run", "/runs/{failed_run_id}"),
    ("assets", "/assets"),
    ("asset", "/assets/metrics/orders"),
    ("lineage", "/asset-groups"),
    ("launchpad", "/locations/ui_fixture/jobs/metrics_job/playground"),
]


def screenshots(browser, args, failures):
    os.makedirs(args.out, exist_ok=True)
    ctx, page, watch = open_page(browser, args.base, args.token)
    for name, path in SCREENSHOTS:
        page.goto(args.base + path.format(**args.data))
        settle(page, 1000)
        check_page(page, watch, failures, path)
        page.screenshot(path=os.path.join(args.out, f"ui-{name}.png"))
        print(f"wrote {name}", flush=True)
    ctx.close()


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
    ap.add_argument("--quick", action="store_true", help="the shorter variant of a scenario")
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
