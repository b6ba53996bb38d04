"""What the server sustains: pushes, reads and the live feed, driven from other processes.

    python benchmarks/server.py [--quick] [--only data] [--json PATH]

Load comes from wrk (Debian's `wrk`; `make bench` installs it) on loopback, against a real
`statsserver serve` on a real database. Baselines in the same run: `/api/health` (the
framework's floor per request) for the HTTP routes, on each server (pushes have a store of
their own, so that compacting them cannot slow the range queries); the same server with
`read_workers = 0` (every range query answered in its own process) for the read workers; and
the same server with no live clients for the feed's CPU. A server's CPU counts its read workers'. Range queries run
while a sample is stored every second, as in use: what the server keeps until the data changes
lasts a second, not the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from common import free_port, print_targets, target

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))



class Server:
    def __init__(self, directory: Path, command: str = "serve", interval: float = 1.0, settings: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "bench.conf"
        config.write_text(f"[generator]\ndirectory = {directory}\ninterval = {interval}\n"
                          f"[server]\nhost = 127.0.0.1\nport = {self.port}\nmax_series_per_source = 100000\n"
                          f"max_body = 64M\n{settings}")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVER_")}
        self.process = subprocess.Popen([sys.executable, "-m", "statsserver", command, "--config", str(config)],
                                        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.directory = directory
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        self.token = (directory / "token").read_text().strip()
        self.handle = psutil.Process(self.process.pid)
        self._settle()

    def _settle(self) -> None:
        """Wait until the server is idle: its read workers import numpy and open the store after
        the port is open, about half a second of CPU that would otherwise count against the
        first measure (the health baseline)."""
        deadline, before = time.monotonic() + 10, self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.cpu_seconds()
            if now - before < 0.01:  # under 5 % of a core
                return
            before = now

    def cpu_seconds(self) -> float:
        """The server's CPU time, its read workers' included."""
        total = 0.0
        for process in (self.handle, *self.handle.children(recursive=True)):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class CommitsEverySecond:
    """A sample stored every second while range queries run, as a collector stores them: each
    commit ends what the server and its workers keep until the data changes, as it would in use."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._push, daemon=True)
        self.failures: list[str] = []

    def _push(self) -> None:
        while not self.stopped.wait(1.0):
            request = urllib.request.Request(
                f"{self.server.url}/add_data_point?projectid=collector&category=cpu&label=total&value={random.random()}",
                method="POST", headers={"Authorization": f"Bearer {self.server.token}"})
            try:
                urllib.request.urlopen(request, timeout=10).read()
            except (OSError, http.client.HTTPException) as error:  # news, not the end of the commits
                self.failures.append(repr(error))

    def __enter__(self) -> "CommitsEverySecond":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        for failure in self.failures:
            print(f"a commit's push failed: {failure}", file=sys.stderr)


def distinct_queries_script(path: str, end: float) -> str:
    """wrk Lua: the same range, each request ending a millisecond later, so none is a repeat
    and every one is answered by the store, not from the server's kept answers. As a chart's
    refreshes do, they share its settled stretches (storage/answers.py); its open end is
    folded again after each commit, once a second here."""
    return f"""
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "{path}&to=" .. string.format("%.3f", {end} + counter * 0.001))
end
"""


def wrk(server: "Server", path: str, seconds: int, connections: int, script: str | None = None) -> dict:
    """Load from wrk; with the server's CPU per request, a figure the machine's noise moves
    much less than requests per second."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script or "")
    if script:
        command += ["-s", handle.name]
    cpu_before = server.cpu_seconds()
    output = subprocess.run([*command, server.url + path], capture_output=True, text=True, check=True).stdout
    cpu = server.cpu_seconds() - cpu_before
    os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    requests = int(re.search(r"(\d+) requests in", output)[1])
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {"requests_per_second": rate, "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]),
            "server_cpu_us_per_request": cpu / max(requests, 1) * 1e6,
            "non_2xx": int(non_2xx[1]) if non_2xx else 0, "socket_errors": errors[1] if errors else ""}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def post_script(body: str, content_type: str, token: str) -> str:
    return (f"wrk.method = \"POST\"\nwrk.body = {json.dumps(body)}\n"
            f"wrk.headers[\"Content-Type\"] = \"{content_type}\"\n"
            f"wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n")


def buffered_batch_script(token: str) -> str:
    """wrk Lua: each request carries the next 100 s of 50 series, so every point is new."""
    return f"""
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
request = function()
  counter = counter + 1
  local base = {int(time.time()) - 86400 * 20} + counter * 100
  local parts = {{}}
  for s = 0, 49 do
    for t = 0, 99 do
      parts[#parts + 1] = string.format('{{"category":"buffered","label":"s%d","value":%d.5,"time":%d}}', s, t, base + t)
    end
  end
  return wrk.format(nil, nil, nil, '{{"source":"buffered","points":[' .. table.concat(parts, ",") .. ']}}')
end
"""


def fill_history(directory: Path, days: int, step: int) -> int:
    """One category of 10 series, `days` of history at `step` seconds, compacted as it would be.

    Written straight into the store before the server starts, and maintained until nothing is
    left to compact: the queries then meet the store in its steady state, not a fresh backlog.
    """
    from statsserver.collectors.base import gauge
    from statsserver.storage import Writer

    writer = Writer(directory / "statsserver.db")
    writer.source_id("history", float(step))
    now = time.time()
    points: list = []
    count = 0
    for t in range(int(now - days * 86400), int(now), step):
        points.extend(("cpu", f"core{series}", float(t), random.random() * 100) for series in range(10))
        if len(points) >= 50_000:
            writer.write_points("history", points, {"cpu": gauge("%")})
            count, points = count + len(points), []
    writer.write_points("history", points, {"cpu": gauge("%")})
    count += len(points)
    while not writer.maintain(now).finished:
        pass
    writer.close()
    return count


async def live_clients(url: str, token: str, clients: int, seconds: float) -> list[float]:
    """Connect `clients` SSE streams; return the delay from each sample's time to its arrival."""
    host, port = url.removeprefix("http://").split(":")
    delays: list[float] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /api/live HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        deadline = time.time() + seconds
        try:
            while time.time() < deadline:
                line = await asyncio.wait_for(reader.readline(), max(0.1, deadline - time.time()))
                if line.startswith(b"data: "):
                    delays.append(time.time() - json.loads(line[6:])["time"])
        except asyncio.TimeoutError:
            pass
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(clients)))
    return delays


def feed_cost(directory: Path, clients: int, seconds: float) -> dict:
    server = Server(directory, command="run", interval=1.0)
    try:
        time.sleep(3)
        idle_start, t0 = server.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        idle = (server.cpu_seconds() - idle_start) / (time.monotonic() - t0) * 100
        busy_start, t0 = server.cpu_seconds(), time.monotonic()
        delays = asyncio.run(live_clients(server.url, server.token, clients, seconds))
        busy = (server.cpu_seconds() - busy_start) / (time.monotonic() - t0) * 100
    finally:
        server.stop()
    delays.sort()
    return {"clients": clients, "events": len(delays), "cpu_percent_with_clients": busy,
            "cpu_percent_without_clients": idle, "feed_cpu_percent": busy - idle,
            "delay_p50_ms": statistics.median(delays) * 1000 if delays else math.nan,
            "delay_p99_ms": delays[int(0.99 * (len(delays) - 1))] * 1000 if delays else math.nan}


PUSH_ROWS = ("health_push", "add_data_point", "batch", "batch_buffered", "line_protocol")


def push_load(server: "Server", seconds: int) -> dict:
    """Pushes of each kind the server takes, as fast as they are answered."""
    results: dict = {}
    # Ten pushing programs at once, each sending as fast as it is answered.
    results["add_data_point"] = wrk(
        server, "/add_data_point?projectid=bench&category=load&label=requests&value=1.5", seconds, 10)
    batch = {"source": "batch", "points": [
        {"category": "batch", "label": f"s{i}", "value": i * 0.5} for i in range(5000)]}
    results["batch"] = wrk(server, "/api/points", seconds, 4,
                           post_script(json.dumps(batch), "application/json", server.token))
    results["batch"]["points_per_second"] = results["batch"]["requests_per_second"] * 5000
    # A client that buffers: 50 series, 100 samples each, every request later than the last.
    results["batch_buffered"] = wrk(server, "/api/points", seconds, 4, buffered_batch_script(server.token))
    results["batch_buffered"]["points_per_second"] = results["batch_buffered"]["requests_per_second"] * 5000
    # As Telegraf's cpu input sends it: ten fields a line, 500 lines a request.
    fields = ",".join(f"usage_{name}={{v}}" for name in ("user", "system", "idle", "nice", "iowait", "irq",
                                                      "softirq", "steal", "guest", "guest_nice"))
    lines = "\n".join(f"cpu,cpu=cpu{i % 64},host=influx " + fields.format(v=round(i * 0.37 % 100, 2))
                      for i in range(500))
    results["line_protocol"] = wrk(server, "/api/v2/write", seconds, 4,
                                   post_script(lines, "text/plain", server.token))
    results["line_protocol"]["points_per_second"] = results["line_protocol"]["requests_per_second"] * 5000
    return results



def data_load(server: "Server", seconds: int, results: dict, suffix: str, distinct_only: bool = False) -> None:
    for label, span in (("1h", 3600), ("30d", 30 * 86400)):
        now = time.time()
        query = f"/api/data?source=history&category=cpu&points=1000&from={now - span}&token={server.token}"
        if not distinct_only:
            # Twenty clients asking the same: the server keeps the answer until data changes.
            results[f"data_{label}"] = wrk(server, f"{query}&to={now}", seconds, 20)
        # Twenty clients each asking something new: every answer comes from the store.
        results[f"data_{label}_distinct{suffix}"] = wrk(server, query, seconds, 20, distinct_queries_script(query, now))
        if not distinct_only:
            # One client alone: the time a request takes, without waiting behind 19 others.
            results[f"data_{label}_alone"] = wrk(server, query, seconds, 1, distinct_queries_script(query, now))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="finish within a minute")
    parser.add_argument("--json", metavar="PATH", help="write the figures and targets here")
    parser.add_argument("--only", choices=("data",), help="measure the health baseline and /api/data alone")
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("benchmarks/server.py needs wrk: apt-get install wrk (or make bench)")
    seconds = 3 if arguments.quick else 10
    history_days, history_step = (2, 60) if arguments.quick else (30, 10)
    feed_seconds = 5 if arguments.quick else 20

    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        results["history_samples"] = fill_history(directory, history_days, history_step)
        if not arguments.only:
            # A store of their own: compacting what they leave behind (a minute later, seconds
            # of work for the 5,000-series batches) would otherwise land on the range queries.
            (directory / "push").mkdir()
            server = Server(directory / "push")
            try:
                results["health_push"] = wrk(server, "/api/health", seconds, 10)
                results.update(push_load(server, seconds))
            finally:
                server.stop()
        server = Server(directory)
        try:
            results["health"] = wrk(server, "/api/health", seconds, 10)
            with CommitsEverySecond(server):
                data_load(server, seconds, results, "")
        finally:
            server.stop()
        # The baseline for the read workers: every range query answered in the server's process.
        server = Server(directory, settings="read_workers = 0\n")
        try:
            with CommitsEverySecond(server):
                data_load(server, seconds, results, "_in_process", distinct_only=True)
        finally:
            server.stop()
        if not arguments.only:
            (directory / "feed").mkdir()
            results["feed"] = feed_cost(directory / "feed", 200, feed_seconds)

    print(f"{'measure':<28} {'req/s':>8} {'points/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs health':>9} "
          f"{'CPU us/req':>10} {'vs health':>9}")
    for name in ("health_push", "add_data_point", "batch", "batch_buffered", "line_protocol", "health", "data_1h", "data_1h_distinct",
                 "data_1h_distinct_in_process", "data_1h_alone", "data_30d", "data_30d_distinct",
                 "data_30d_distinct_in_process", "data_30d_alone"):
        if name not in results:
            continue
        row = results[name]
        # Each row against the health check of its own server, measured minutes apart at most.
        baseline = results["health_push" if name in PUSH_ROWS else "health"]
        health, health_cpu = baseline["requests_per_second"], baseline["server_cpu_us_per_request"]
        print(f"{name:<28} {row['requests_per_second']:>8.0f} {row.get('points_per_second', 0):>9.0f} "
              f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['requests_per_second'] / health:>9.2f} "
              f"{row['server_cpu_us_per_request']:>10.0f} {row['server_cpu_us_per_request'] / health_cpu:>9.2f}")
    feed = results.get("feed")
    if feed:
        print(f"live feed: {feed['clients']} clients, {feed['events']} events, delay p50 {feed['delay_p50_ms']:.0f} ms "
              f"p99 {feed['delay_p99_ms']:.0f} ms; server CPU {feed['cpu_percent_with_clients']:.1f} % of a core with "
              f"them, {feed['cpu_percent_without_clients']:.1f} % without")
    print(f"(history for /api/data: {results['history_samples']} samples over {history_days} d)")

    targets = []
    if "batch" in results:
        targets += [
            target("add_data_point requests/s", results["add_data_point"]["requests_per_second"], 3000, "req/s", True),
            target("add_data_point p99", results["add_data_point"]["p99_ms"], 20, "ms", False),
            target("batch push points/s, 5000 series at one time", results["batch"]["points_per_second"], 200_000,
                   "points/s", True),
            target("batch push points/s, 50 series x 100 times", results["batch_buffered"]["points_per_second"],
                   200_000, "points/s", True),
            target("line protocol points/s", results["line_protocol"]["points_per_second"], 200_000, "points/s", True),
        ]
    targets += [
        target("/api/data one category p50 at 1 h, 20 clients", results["data_1h"]["p50_ms"], 10, "ms", False),
        target("/api/data one category p50 at 30 d, 20 clients", results["data_30d"]["p50_ms"], 10, "ms", False),
        target("/api/data one category p50 at 1 h, 20 clients, each query new", results["data_1h_distinct"]["p50_ms"],
               10, "ms", False),
        target("/api/data one category p50 at 30 d, 20 clients, each query new", results["data_30d_distinct"]["p50_ms"],
               10, "ms", False),
        target("/api/data one category p50 at 1 h, one client", results["data_1h_alone"]["p50_ms"], 10, "ms", False),
        target("/api/data one category p50 at 30 d, one client", results["data_30d_alone"]["p50_ms"], 10, "ms", False),
    ]
    if feed:
        targets.append(target(f"live feed CPU for {feed['clients']} clients", feed["feed_cpu_percent"], 10,
                              "% of a core", False))
    print_targets(targets)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({
            "benchmark": "server", "quick": arguments.quick,
            "machine": {"cores": psutil.cpu_count(), "python": platform.python_version()},
            "results": results, "targets": targets}, indent=2))


if __name__ == "__main__":
    main()
