"""What the web app costs a browser: page weight, time to draw, cursor-to-inspector latency.

    python benchmarks/webapp.py [--quick] [--json PATH]

A real `statsserver serve` on a real database filled through /api/points with 20 categories
(two series each) of 2,000 samples over the last hour, then compacted as the server's own
maintenance does within a minute (a server an hour into its history holds it so; the pushed
backlog is read row by row, several times slower, and is reported beside it), measured in
headless Chromium (Debian's `chromium`, driven by Playwright). The app asks for one point per
device pixel of a chart; at 1440×900 and a device pixel ratio of 2.5 that is a little over 1,000
points per chart.

- page weight: bytes on the wire (gzip, as the server sends them) for HTML, JS and CSS on a
  first visit, from the DevTools protocol's Network events;
- time to draw: navigation start to the app's `charts-drawn` mark (every chart drawn, and the
  frame showing them painted), median of fresh page loads; baseline in the same run: a page that
  only fetches and parses the same /api/data answer. A first visit is a new context (nothing
  cached) whose window has finished opening: Chromium spends over a core for a second or more
  opening one (its own UI's renderer among it), which a person's first visit, in a browser already
  open, does not compete with;
- cursor: from a mouse move's input event to the end of the frame that shows the inspector with
  that moment's values (the app's `inspector-shown` measure), over many moves across a chart;
  baseline in the same run: a page whose one listener changes one text, measured the same way;
  and the CPU time Chromium's processes spend per move (all threads: the page's, its compositor's,
  raster, the display compositor), for both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx2
import psutil

from common import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.seed import seed  # noqa: E402  (the same data the browser tests use)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
VIEWPORT = {"width": 1440, "height": 900}
PIXEL_RATIO = 2.5
CATEGORIES = 20
SAMPLES = 2000
GOALS = {"first_load_kb": 150, "draw_ms": 1000, "cursor_ms": 16}



class Server:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "bench.conf"
        config.write_text(f"[generator]\ndirectory = {directory}\n"
                          f"[server]\nhost = 127.0.0.1\nport = {self.port}\nmax_body = 64M\n")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVER_")}
        self.process = subprocess.Popen([sys.executable, "-m", "statsserver", "serve", "--config", str(config)],
                                        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        self.token = (directory / "token").read_text().strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def compact(directory: Path) -> None:
    """Maintain the store until nothing is left to compact, under the lock the server's own
    maintenance takes, so that the two never run at once."""
    from statsserver.generator import WriterLock
    from statsserver.storage import Writer

    database = directory / "statsserver.db"
    lock = WriterLock(database)
    lock.acquire(wait=60)
    writer = Writer(database)
    try:
        while not writer.maintain(time.time()).finished:
            pass
    finally:
        writer.close()
        lock.release()


def data_ms(server, runs: int = 5) -> float:
    """The server's answer for every category at the points the app asks for: median, in ms."""
    end = time.time()
    params = {"source": "bench", "from": end - 3600, "to": end, "points": 1080}
    times = []
    with httpx2.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}",
                                                    "Accept-Encoding": "gzip"}, timeout=60) as client:
        for _ in range(runs):
            began = time.perf_counter()
            client.get("/api/data", params=params).raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def wait(page, expression, timeout=30.0):
    # Polled through the DevTools protocol: the app's CSP rightly forbids eval in the page.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        time.sleep(0.02)
    raise SystemExit(f"not true within {timeout} s: {expression}")


def new_context(browser, server):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=PIXEL_RATIO)
    # The cookie the sign-in link would set, without a visit that would warm any cache.
    context.add_cookies([{"name": "statsserver_token", "value": server.token, "url": server.url}])
    return context


def chromium_cpu() -> float:
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if "chrom" in process.name():
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            pass
    return total


def settle(quiet=0.025, period=0.25, timeout=10.0):
    """Wait until the browser's processes use under `quiet` s of CPU in a `period`: a new
    context's window done opening."""
    deadline = time.monotonic() + timeout
    used = chromium_cpu()
    while time.monotonic() < deadline:
        time.sleep(period)
        now = chromium_cpu()
        if now - used < quiet:
            return
        used = now


def first_load(browser, server) -> dict:
    """Bytes transferred by a first visit, by resource type, from the Network domain."""
    context = new_context(browser, server)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    kinds, sizes = {}, {}
    cdp.on("Network.responseReceived", lambda e: kinds.__setitem__(e["requestId"], (e["type"], e["response"]["url"])))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(server.url + "/")
    wait(page, "() => performance.getEntriesByName('charts-drawn').length > 0")
    page.wait_for_timeout(500)
    by_type: dict[str, int] = {}
    for request, size in sizes.items():
        kind = kinds.get(request, ("Other", ""))[0]
        by_type[kind] = by_type.get(kind, 0) + size
    context.close()
    shell = sum(by_type.get(kind, 0) for kind in ("Document", "Script", "Stylesheet"))
    return {"shell_bytes": shell, "by_type": by_type}


def marks(page) -> dict:
    wait(page, "() => performance.getEntriesByName('charts-drawn').length > 0")
    found = page.evaluate("() => Object.fromEntries(['data-requested', 'data-received', 'data-received-all', 'charts-drawn']"
                          ".map((n) => [n, performance.getEntriesByName(n)[0]?.startTime ?? null]))")
    charts = page.evaluate("() => document.querySelectorAll('figure.chart .uplot').length")
    if charts != CATEGORIES:
        raise SystemExit(f"{charts} charts drawn, expected {CATEGORIES}")
    return found


def draw_times(browser, server, runs: int) -> dict:
    """A first visit (new profile: nothing cached) and a return visit (assets cached, worker on)."""
    first, again, requested, fetched, fetched_all = [], [], [], [], []
    data_urls = []
    points = 0
    for _ in range(runs):
        context = new_context(browser, server)
        page = context.new_page()
        settle()
        urls = []
        page.on("request", lambda request: "/api/data" in request.url and urls.append(request.url))
        page.goto(server.url + "/")
        found = marks(page)
        first.append(found["charts-drawn"])
        data_urls = list(urls)
        points = int(parse_qs(urlparse(data_urls[0]).query)["points"][0])
        wait(page, "async () => !!(await navigator.serviceWorker.getRegistration())?.active")
        page.goto(server.url + "/")
        found = marks(page)
        again.append(found["charts-drawn"])
        requested.append(found["data-requested"])
        fetched.append(found["data-received"])
        fetched_all.append(found["data-received-all"] or found["data-received"])
        context.close()
    baseline = []
    for _ in range(runs):
        # The floor: a same-origin page that only fetches and parses the same JSON (the catalog,
        # then the app's data requests, together as the app makes them).
        context = new_context(browser, server)
        page = context.new_page()
        settle()
        page.goto(server.url + "/icon.svg")
        baseline.append(page.evaluate("""async (urls) => {
            const start = performance.now();
            await (await fetch('/api/series')).json();
            await Promise.all(urls.map(async (url) => (await fetch(url)).json()));
            return performance.getEntriesByType('navigation')[0].responseEnd + performance.now() - start;
        }""", data_urls))
        context.close()
    drawn = []
    with httpx2.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}) as client:
        for url in data_urls:
            answer = client.get(url.replace(server.url, "")).json()
            drawn += [sum(v is not None for v in s["avg"]) for s in answer["series"] if s["graph"]]
    return {"first_visit_ms": first, "draw_ms": again, "data_requested_ms": requested, "data_received_ms": fetched,
            "all_data_received_ms": fetched_all, "baseline_ms": baseline, "points_asked": points,
            "points_per_series": min(drawn), "series_drawn": len(drawn), "data_requests": len(data_urls)}


def cursor_latency(browser, server, moves: int) -> dict:
    context = new_context(browser, server)
    page = context.new_page()
    page.goto(server.url + "/")
    marks(page)
    box = page.evaluate("() => { const r = document.querySelector('figure.chart .u-over').getBoundingClientRect();"
                        " return [r.left, r.top, r.width, r.height]; }")
    left, top, width, height = box

    def sweep():
        """The moves; returns the browser's CPU time per move (ms): on two shared cores a move's
        latency swings with other processes' load, the CPU it costs much less."""
        page.mouse.move(left + 2, top + height / 4)
        used = chromium_cpu()
        for i in range(moves):
            x = left + 2 + (width - 4) * ((i * 7919) % moves) / moves  # jumps: every move a new moment
            page.mouse.move(x, top + height / 4)
        cpu = (chromium_cpu() - used) * 1000 / moves
        page.wait_for_timeout(200)
        return cpu

    page.evaluate("() => performance.clearMeasures()")
    cpu = sweep()
    measures = page.evaluate("""() => Object.fromEntries(['inspector-update', 'inspector-latency', 'inspector-shown']
        .map((n) => [n, performance.getEntriesByName(n).map((m) => m.duration)]))""")
    cells = page.evaluate("() => document.querySelectorAll('#inspector td.value').length")
    # Baseline: the same moves over a page whose only work is a listener that changes one text,
    # timed as the app's are: until the handler ran, and until the frame showing it is done.
    page.goto(server.url + "/icon.svg")
    page.evaluate("""() => { window.handled = []; window.shown = [];
        const text = document.documentElement.appendChild(document.createElementNS('http://www.w3.org/2000/svg', 'text'));
        text.setAttribute('y', '20');
        const channel = new MessageChannel(), queue = [];
        channel.port1.onmessage = () => queue.shift()();
        document.addEventListener('mousemove', (e) => {
            text.textContent = String(e.clientX);
            handled.push(performance.now() - e.timeStamp);
            requestAnimationFrame(() => { queue.push(() => shown.push(performance.now() - e.timeStamp)); channel.port2.postMessage(null); });
        }); }""")
    floor_cpu = sweep()
    floor = page.evaluate("() => window.handled")
    floor_shown = page.evaluate("() => window.shown")
    context.close()
    return {"cursor_ms": measures["inspector-update"], "latency_ms": measures["inspector-latency"],
            "shown_ms": measures["inspector-shown"], "baseline_latency_ms": floor, "baseline_shown_ms": floor_shown,
            "inspector_cells": cells, "cpu_per_move_ms": cpu, "baseline_cpu_per_move_ms": floor_cpu}


def summary(values):
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], "n": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: within a minute")
    parser.add_argument("--json", metavar="PATH", help="write the figures and targets here")
    parser.add_argument("--gpu", action="store_true",
                        help="leave out --disable-gpu (the tests' flag): Chromium's own compositing and canvas")
    arguments = parser.parse_args()
    chromium_args = [a for a in CHROMIUM_ARGS if not (arguments.gpu and a == "--disable-gpu")]
    runs, moves = (3, 60) if arguments.quick else (10, 300)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder))
        try:
            started = time.monotonic()
            seed(server.url, source="bench", categories=CATEGORIES, points=SAMPLES, span=3600)
            seeded = time.monotonic() - started
            backlog_ms = data_ms(server)
            compact(Path(folder))
            compacted_ms = data_ms(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=chromium_args)
                weight = first_load(browser, server)
                draw = draw_times(browser, server, runs)
                cursor = cursor_latency(browser, server, moves)
                version = browser.version
                browser.close()
        finally:
            server.stop()

    draw_summary, baseline_summary = summary(draw["draw_ms"]), summary(draw["baseline_ms"])
    first_summary = summary(draw["first_visit_ms"])
    cursor_summary = summary(cursor["cursor_ms"])
    latency_summary, floor_summary = summary(cursor["latency_ms"]), summary(cursor["baseline_latency_ms"])
    shown_summary, floor_shown_summary = summary(cursor["shown_ms"]), summary(cursor["baseline_shown_ms"])
    kb = weight["shell_bytes"] / 1024
    targets = [
        {"name": "first load (HTML+JS+CSS, compressed)", "value": round(kb, 1), "goal": GOALS["first_load_kb"],
         "unit": "KiB", "met": kb <= GOALS["first_load_kb"]},
        {"name": f"navigation to {CATEGORIES} charts drawn, return visit (median)",
         "value": round(draw_summary["median"], 1), "goal": GOALS["draw_ms"], "unit": "ms",
         "met": draw_summary["median"] <= GOALS["draw_ms"]},
        {"name": f"navigation to {CATEGORIES} charts drawn, first visit (median)",
         "value": round(first_summary["median"], 1), "goal": GOALS["draw_ms"], "unit": "ms",
         "met": first_summary["median"] <= GOALS["draw_ms"]},
        {"name": "cursor move: the app's work until the inspector shows it (p95)",
         "value": round(cursor_summary["p95"], 2), "goal": GOALS["cursor_ms"], "unit": "ms",
         "met": cursor_summary["p95"] <= GOALS["cursor_ms"]},
        {"name": "cursor move: from the input event to the frame showing the inspector (median)",
         "value": round(shown_summary["median"], 2), "goal": GOALS["cursor_ms"], "unit": "ms",
         "met": shown_summary["median"] <= GOALS["cursor_ms"]},
    ]
    rows = [
        ("first load, HTML+JS+CSS (gzip)", f"{kb:.1f} KiB", "all requests: " +
         ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in sorted(weight["by_type"].items()))),
        ("navigation → charts drawn, first visit", f"{first_summary['median']:.0f} ms",
         f"min {first_summary['min']:.0f}, max {first_summary['max']:.0f}, n={first_summary['n']}"),
        ("navigation → charts drawn, return visit", f"{draw_summary['median']:.0f} ms",
         f"min {draw_summary['min']:.0f}, max {draw_summary['max']:.0f}, n={draw_summary['n']}"),
        ("  of which data requested at", f"{statistics.median(draw['data_requested_ms']):.0f} ms", ""),
        ("  first charts' data received at", f"{statistics.median(draw['data_received_ms']):.0f} ms",
         f"{draw['data_requests']} data requests: the first screenful apart from the rest"),
        ("  all data received at", f"{statistics.median(draw['all_data_received_ms']):.0f} ms", ""),
        ("baseline: fetch + parse only", f"{baseline_summary['median']:.0f} ms",
         f"draw / baseline = {draw_summary['median'] / baseline_summary['median']:.1f}×"),
        ("server: /api/data, 20 categories", f"{compacted_ms:.0f} ms",
         f"compacted; the pushed hour before compaction (rows): {backlog_ms:.0f} ms"),
        ("points per chart line (fewest)", f"{draw['points_per_series']}",
         f"asked {draw['points_asked']} (one per device pixel), {draw['series_drawn']} lines with min–max bands"),
        ("cursor → inspector, the app's work", f"{cursor_summary['median']:.2f} ms",
         f"p95 {cursor_summary['p95']:.2f}, max {cursor_summary['max']:.2f}, n={cursor_summary['n']}, "
         f"{cursor['inspector_cells']} values shown"),
        ("cursor → inspector updated, from input event", f"{latency_summary['median']:.1f} ms",
         f"p95 {latency_summary['p95']:.1f}; baseline, a page with one listener: median "
         f"{floor_summary['median']:.1f}, p95 {floor_summary['p95']:.1f}"),
        ("cursor → frame showing it, from input event", f"{shown_summary['median']:.1f} ms",
         f"p95 {shown_summary['p95']:.1f}; baseline: median {floor_shown_summary['median']:.1f}, "
         f"p95 {floor_shown_summary['p95']:.1f}; app / baseline = "
         f"{shown_summary['median'] / floor_shown_summary['median']:.1f}×"),
        ("cursor move, the browser's CPU (all processes)", f"{cursor['cpu_per_move_ms']:.1f} ms",
         f"baseline: {cursor['baseline_cpu_per_move_ms']:.1f} ms; a frame is 16.7 ms, on {psutil.cpu_count()} cores"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"web app, {CATEGORIES} charts × {SAMPLES} samples/h, Chromium {version} "
          f"({' '.join(chromium_args)}), {VIEWPORT['width']}×{VIEWPORT['height']} at {PIXEL_RATIO}×, "
          f"{psutil.cpu_count()} cores, load {os.getloadavg()[0]:.1f} (seeding took {seeded:.1f} s)")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>10}  {note}")
    print("targets:")
    for target in targets:
        print(f"  {'met ' if target['met'] else 'MISSED'} {target['name']}: {target['value']} {target['unit']}"
              f" (goal ≤ {target['goal']})")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({
            "benchmark": "webapp", "quick": arguments.quick, "chromium_args": chromium_args,
            "viewport": VIEWPORT, "pixel_ratio": PIXEL_RATIO, "load_average": os.getloadavg(),
            "machine": {"cores": psutil.cpu_count(), "python": platform.python_version(), "chromium": version,
                        "platform": platform.platform()},
            "first_load": weight, "draw": {**draw, "summary": draw_summary, "baseline_summary": baseline_summary},
            "server_data_ms": {"compacted": compacted_ms, "pushed_backlog": backlog_ms},
            "cursor": {**cursor, "summary": cursor_summary, "latency_summary": latency_summary,
                       "baseline_latency_summary": floor_summary, "shown_summary": shown_summary,
                       "baseline_shown_summary": floor_shown_summary},
            "targets": targets,
        }, indent=2))


if __name__ == "__main__":
    main()
