"""What the process history costs: disk per sample, against the metrics, and collector CPU.

    python benchmarks/processes.py [--quick] [--json PATH]

(a) Disk. A day (two hours with --quick) at 1 s goes through the real write path (Writer.write,
    one sample a second: the recorded trace's metrics, benchmarks/data/trace.json.gz, replayed
    back to back, with the top-10 process list) and the real maintenance. The process lists come
    from the real ranking (ProcessTable) over a synthetic machine's process table: about 70
    processes, a few daemons that wake now and then, a browser, and a build that starts a short
    compiler process every few seconds (new pids, so new identities all the time). The machine
    edge (reading /proc) is the only part replaced. Bytes on disk per table come from SQLite's
    dbstat (whole pages), after compaction: process history (identities, head, blocks) against
    every metric table, in the same file over the same time. Then raw retention is let pass, to
    measure the minute tier alone, and both are extrapolated to default retention.
(b) Collector CPU per sample, each side in a fresh process, the same run: the full default
    collection stored in SQLite, with the top-10 process list and without it (processes = 0).

Figures vary on a shared machine: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from common import print_targets, target

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statsserver.collectors.base import Metric  # noqa: E402
from statsserver.collectors.processes import ProcessTable, _Row  # noqa: E402
from statsserver.storage import Writer  # noqa: E402
from statsserver.storage.tiers import DEFAULT_KEEP, TIERS  # noqa: E402

TRACE = ROOT / "benchmarks" / "data" / "trace.json.gz"
TOP = 10
T0 = 1_767_225_600.0  # 2026-01-01, on every tier's grid
MiB = 1024 * 1024
PAGE = 4096
PROCESS_TABLES = {"processes", "process_samples", "process_chunks"}
METRIC_TABLES = {"sources", "series", "samples", "windows", "groups", "chunks", "rollups"}


# --- (a) the synthetic machine's process table, read the way LinuxScan reads /proc ------------

class SyntheticScan:
    """About 70 processes. CPU seconds grow by each process's habit; memory moves in pages."""

    def __init__(self, seed: int = 5) -> None:
        self.random = random.Random(seed)
        self.processes: dict[int, dict] = {}
        self.next_pid = 1000
        self.now = 0.0
        for pid in range(1, 61):  # daemons and shells: mostly asleep
            self.add(pid, f"daemon{pid}", busy=0.002 * (pid % 5), rss=(2_000 + 700 * pid) * PAGE, wakes=0.02)
        for pid, name, busy, rss in ((200, "chromium", 0.15, 150_000), (201, "chromium-gpu", 0.05, 60_000),
                                     (202, "postgres", 0.03, 40_000), (203, "python3", 0.08, 25_000),
                                     (204, "make", 0.01, 3_000)):
            self.add(pid, name, busy=busy, rss=rss * PAGE, wakes=0.5)

    def add(self, pid: int, name: str, busy: float, rss: int, wakes: float, lifetime: float = float("inf")) -> None:
        self.processes[pid] = {"name": name, "busy": busy, "rss": rss, "wakes": wakes, "cpu": 0.0,
                               "started": self.now, "ends": self.now + lifetime, "read": 0, "write": 0}

    def advance(self, seconds: float) -> None:
        self.now += seconds
        chance = self.random.random
        if chance() < seconds / 4:  # the build starts a compiler every four seconds or so
            self.add(self.next_pid, "cc1", busy=0.9, rss=self.random.randint(20_000, 80_000) * PAGE,
                     wakes=1.0, lifetime=self.random.uniform(1, 20))
            self.next_pid += 1
        for pid, process in list(self.processes.items()):
            if process["ends"] <= self.now:
                del self.processes[pid]
                continue
            if chance() < process["wakes"]:
                process["cpu"] += seconds * min(1.0, process["busy"] * self.random.uniform(0.5, 1.5) * 2)
                process["rss"] = max(PAGE, process["rss"] + PAGE * self.random.randint(-3, 4))
                process["write"] += self.random.choice((0, 0, 4096, 65536))

    def rows(self) -> list[_Row]:
        # CPU time in whole clock ticks (10 ms), as /proc/PID/stat gives it.
        return [_Row(pid, p["name"], "R" if p["busy"] > 0.5 else "S", round(p["cpu"], 2), p["rss"], T0 + p["started"])
                for pid, p in self.processes.items()]

    def details(self, row: _Row) -> None:
        row.uid = 0 if row.pid < 100 else 1000
        row.command = f"/usr/bin/{row.name} --option {row.pid}"

    def io(self, row: _Row) -> tuple[int, int] | None:
        process = self.processes.get(row.pid)
        return None if process is None or row.pid < 100 else (process["read"], process["write"])


def load_trace() -> dict:
    with gzip.open(TRACE, "rt") as handle:
        return json.load(handle)


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of whole pages per table, its indexes counted with it."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    owners = {name: table for name, table in db.execute("SELECT name, tbl_name FROM sqlite_master")}
    sizes: dict[str, int] = {}
    for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        table = owners.get(name, name)
        sizes[table] = sizes.get(table, 0) + size
    db.close()
    return sizes


def split(sizes: dict[str, int]) -> tuple[int, int]:
    return (sum(v for k, v in sizes.items() if k in PROCESS_TABLES),
            sum(v for k, v in sizes.items() if k in METRIC_TABLES))


def blob_bytes(path: Path) -> dict:
    db = sqlite3.connect(path)
    found = {
        "process": dict(db.execute("SELECT tier, sum(length(times) + length(data)) FROM process_chunks GROUP BY tier")),
        "metric": dict(db.execute("SELECT tier, sum(length(data)) FROM chunks GROUP BY tier")),
        "windows": db.execute("SELECT coalesce(sum(length(times)), 0) FROM windows").fetchone()[0],
        "identities": db.execute("SELECT count(*) FROM processes").fetchone()[0],
    }
    db.close()
    return found


def bench_disk(quick: bool, workdir: Path) -> dict:
    seconds = 2 * 3600 if quick else 86400
    trace = load_trace()
    metrics = {s["category"]: Metric(s["unit"], s["kind"], s["graph"], s["description"]) for s in trace["series"]}
    columns = list(zip(*[values for values in trace["values"]]))  # a row of values per trace time
    labels = [(s["category"], s["label"]) for s in trace["series"]]
    path = workdir / "processes.db"
    writer = Writer(path)
    scan = SyntheticScan()
    table = ProcessTable(TOP, scan=scan)
    listed = 0
    started = time.perf_counter()
    for second in range(seconds):
        scan.advance(1.0)
        processes = table.snapshot(now=float(second))
        listed += len(processes)
        values: dict[str, dict[str, float]] = {}
        for (category, label), value in zip(labels, columns[second % len(columns)]):
            if value is not None:
                values.setdefault(category, {})[label] = value
        writer.write("bench", T0 + second, values, metrics, processes, interval=1.0)
        if second % 600 == 599:  # maintenance as the generator runs it, every so often
            writer.maintain(T0 + second)
    writer.maintain(T0 + seconds + 120)
    write_seconds = time.perf_counter() - started
    sizes = table_bytes(path)
    process_bytes, metric_bytes = split(sizes)
    blobs = blob_bytes(path)
    # Let raw retention pass: what the minute tier keeps, alone.
    writer.maintain(T0 + seconds + DEFAULT_KEEP["keep_raw"] + 3600)
    writer.close()
    minute_sizes = table_bytes(path)
    minute_process, minute_metric = split(minute_sizes)
    minute_blob = blob_bytes(path)["process"].get(2, 0)
    minutes = seconds / 60
    samples_stored = seconds
    # Default retention, from the blobs per day of each tier (pages add a few percent to both).
    # A process block is raw for keep_raw, then its minutes until keep_minutes.
    per_day = 86400 / seconds
    kept_days = {tier.number: DEFAULT_KEEP[tier.keep] / 86400 for tier in TIERS}
    # The identities table keeps a process while a raw block lists it; minute blocks carry
    # their own (counted in minute_blob).
    identity_bytes = sizes.get("processes", 0)
    steady_blocks = per_day * (blobs["process"].get(0, 0) * kept_days[0] + minute_blob * (kept_days[2] - kept_days[0]))
    steady_identities = per_day * identity_bytes * kept_days[0]
    steady_process = steady_blocks + steady_identities
    steady_metric = (sum(size * per_day * kept_days[tier] for tier, size in blobs["metric"].items())
                     + blobs["windows"] * per_day * kept_days[0])
    return {
        "seconds": seconds, "samples": samples_stored, "process_rows": listed,
        "rows_per_sample": listed / samples_stored, "identities": blobs["identities"],
        "series": len(labels), "write_seconds": write_seconds,
        "table_bytes": sizes, "process_bytes": process_bytes, "metric_bytes": metric_bytes,
        "process_bytes_per_sample": process_bytes / samples_stored,
        "process_bytes_per_row": process_bytes / listed,
        "metric_bytes_per_sample": metric_bytes / samples_stored,
        "ratio": process_bytes / metric_bytes,
        "minute_tier": {"table_bytes": minute_sizes, "process_bytes": minute_process, "metric_bytes": minute_metric,
                        "process_bytes_per_minute": minute_process / minutes},
        "blobs": blobs, "minute_blob_bytes": minute_blob,
        "identity_bytes": identity_bytes, "bytes_per_identity": identity_bytes / max(1, blobs["identities"]),
        "steady_state": {"process_mib": steady_process / MiB, "process_blocks_mib": steady_blocks / MiB,
                         "process_identities_mib": steady_identities / MiB, "metric_mib": steady_metric / MiB,
                         "ratio": steady_process / steady_metric},
    }


# --- (b) collector CPU with and without the process list -------------------------------------

def measure_in_this_process(processes: int, samples: int, spacing: float) -> dict:
    from statsserver import config as settings
    from statsserver.generator import Generator

    with tempfile.TemporaryDirectory() as directory:
        config = settings.load(overrides={("generator", "directory"): directory,
                                          ("generator", "processes"): str(processes)}, environ={})
        generator = Generator(config, source="bench")
        generator.open()
        generator.step()  # primes counters and caches
        costs = []
        for _ in range(samples):
            time.sleep(spacing)
            began = time.process_time()
            generator.step()
            costs.append((time.process_time() - began) * 1000)
        generator.close()
    costs.sort()
    return {"median_ms": statistics.median(costs), "p95_ms": costs[int(0.95 * (len(costs) - 1))], "samples": samples}


def per_sample(processes: int, samples: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--measure", str(processes), "--samples", str(samples)],
                            capture_output=True, text=True, check=True)
    return json.loads(output.stdout)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="finish within a minute")
    parser.add_argument("--json", metavar="PATH", help="write the figures and targets here")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, default=0, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure is not None:
        print(json.dumps(measure_in_this_process(arguments.measure, arguments.samples, 0.05)))
        return

    with tempfile.TemporaryDirectory() as directory:
        disk = bench_disk(arguments.quick, Path(directory))
    samples = 60 if arguments.quick else 300
    # Interleaved halves, so a burst of load elsewhere on the machine falls on both sides.
    halves = [(per_sample(TOP, samples // 2), per_sample(0, samples // 2)) for _ in range(2)]
    with_list = statistics.mean(h[0]["median_ms"] for h in halves)
    without = statistics.mean(h[1]["median_ms"] for h in halves)
    cpu_ratio = with_list / without

    print(f"(a) {disk['seconds'] / 3600:.0f} h at 1 s: {disk['series']} metric series (recorded trace) and the "
          f"top-{TOP} process list ({disk['rows_per_sample']:.1f} processes a sample, "
          f"{disk['identities']} distinct processes), written in {disk['write_seconds']:.0f} s")
    rows = [
        ("process history on disk, per sample (B)", disk["process_bytes_per_sample"]),
        ("process history on disk, per process row (B)", disk["process_bytes_per_row"]),
        ("all metric series on disk, per sample (B)", disk["metric_bytes_per_sample"]),
        ("process history / metric series, same file, same time", disk["ratio"]),
        ("minute tier alone: process history per minute (B)", disk["minute_tier"]["process_bytes_per_minute"]),
        ("process identities (name, user, command) on disk, each (B)", disk["bytes_per_identity"]),
        ("default retention, process blocks, minutes with their identities (MiB)", disk["steady_state"]["process_blocks_mib"]),
        ("default retention, process identities table, raw window (MiB)", disk["steady_state"]["process_identities_mib"]),
        ("default retention, process history (MiB)", disk["steady_state"]["process_mib"]),
        ("default retention, metric series (MiB, blocks)", disk["steady_state"]["metric_mib"]),
        ("default retention, process / metric", disk["steady_state"]["ratio"]),
    ]
    for name, value in rows:
        print(f"  {name:<72} {value:>10.3f}")
    print(f"(b) collector CPU per sample, stored, median of {samples} each (two interleaved halves)")
    print(f"  {'with the top-10 process list (ms)':<72} {with_list:>10.3f}")
    print(f"  {'without it, processes = 0 (ms)':<72} {without:>10.3f}")
    print(f"  {'ratio':<72} {cpu_ratio:>10.3f}")

    targets = [
        target("process history disk / all metric series disk (same file, same time)", disk["ratio"], 1.0, "ratio"),
        target("process history / metric series at default retention", disk["steady_state"]["ratio"], 1.0, "ratio"),
    ]
    print_targets(targets)
    if arguments.json:
        report = {
            "benchmark": "processes", "quick": arguments.quick,
            "machine": {"cores": psutil.cpu_count(), "processes": len(psutil.pids()),
                        "python": platform.python_version(), "platform": platform.platform()},
            "disk": disk,
            "collector_cpu": {"with_processes_ms": with_list, "without_ms": without, "ratio": cpu_ratio,
                              "halves": halves},
            "targets": targets,
        }
        Path(arguments.json).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
