"""What the time-series store costs on disk and in time, against a plain row table.

    python benchmarks/storage.py [--quick] [--json PATH] [--keep DIR]

(a) Trace replay: benchmarks/data/trace.json.gz, recorded from a real machine with
    `statsserver collect --interval 1`, is replayed back to back (shifted in time) through
    Writer.write_points and Writer.maintain until it covers a day (two hours with --quick), so
    the file's fixed overhead does not dominate. Bytes per sample per tier count the whole file:
    a copy holding only that tier, vacuumed.
(b) Synthetic busy machine: 200 series at 1 s. Raw windows for 7 days (2 hours with --quick) are
    encoded by the store's own chunk encoder; rollup tiers are generated directly for their
    default retention, up to a year (some shorter with --quick); the last hour goes through the
    real write path and maintenance, leaving a realistic head. Each part's bytes are the growth
    of the file while it was added.
    Queries: one category (10 series) and the whole dashboard (200 series) at 1,000 points over
    1 h, 1 d, 30 d and 1 y ending now, p50 and p95 on an open Reader (as the server keeps one),
    and the first query on a freshly opened one.
(c) Baseline, same run: the same one-category data in a plain row table (series, time, value)
    with its primary key index, queried with GROUP BY. Where building it would take too long
    (200 series, or 30 d with --quick), its time is extrapolated from its measured rows/s; the
    report says so.

Machine figures vary on a shared machine: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from itertools import repeat
from operator import add, mul
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statsserver.collectors.base import Metric  # noqa: E402
from statsserver.storage import Reader, Writer  # noqa: E402
import numpy as np  # noqa: E402

from statsserver.storage.chunks import encode_raw_block, encode_rollup_block, encode_times  # noqa: E402
from statsserver.storage.reader import DECODED  # noqa: E402
from statsserver.storage.tiers import DAY, HOUR, RAW, ROLLUPS, TIERS, DEFAULT_KEEP  # noqa: E402

TRACE = ROOT / "benchmarks" / "data" / "trace.json.gz"
MiB = 1024 * 1024
SOURCE = "busy"
NOW_MS = 1_767_225_600_000  # 2026-01-01, on every tier's grid
RANGES = {"1h": HOUR, "1d": DAY, "30d": 30 * DAY, "1y": 365 * DAY}


def file_size(path: Path) -> int:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.stat().st_size


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


# --- (a) the recorded trace ------------------------------------------------------------------

def load_trace() -> dict:
    with gzip.open(TRACE, "rt") as handle:
        return json.load(handle)


def trace_points(trace: dict, shift_ms: int) -> list[tuple]:
    points = []
    for series, values in zip(trace["series"], trace["values"]):
        category, label = series["category"], series["label"]
        points.extend((category, label, (t + shift_ms) / 1000, v)
                      for t, v in zip(trace["times"], values) if v is not None)
    return points


def tier_only_size(path: Path, keep: int | None, workdir: Path) -> int:
    """Whole-file bytes of a copy that keeps one tier (None: the head and catalog only)."""
    copy = workdir / "tier-copy.db"
    shutil.copy(path, copy)
    db = sqlite3.connect(copy, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("DELETE FROM chunks WHERE tier IS NOT ?", (keep,))
    if keep != RAW.number:
        db.execute("DELETE FROM windows")
    db.execute("DELETE FROM rollups WHERE tier IS NOT ?", (keep,))
    db.execute("VACUUM")
    db.close()
    size = copy.stat().st_size
    copy.unlink()
    return size


def bench_trace(quick: bool, workdir: Path) -> dict:
    trace = load_trace()
    duration = trace["times"][-1] - trace["times"][0] + 1000
    target = 2 * HOUR if quick else DAY
    passes = max(1, math.ceil(target / duration))
    path = workdir / "trace.db"
    writer = Writer(path)
    writer.source_id(trace["source"], trace["interval"])
    metrics = {s["category"]: Metric(s["unit"], s["kind"], s["graph"]) for s in trace["series"]}
    start = NOW_MS - passes * duration - HOUR
    samples = write_seconds = maintain_seconds = 0.0
    for i in range(passes):
        points = trace_points(trace, start + i * duration - trace["times"][0])
        began = time.perf_counter()
        writer.write_points(trace["source"], points, metrics)
        write_seconds += time.perf_counter() - began
        samples += len(points)
        began = time.perf_counter()
        writer.maintain((start + (i + 1) * duration) / 1000)
        maintain_seconds += time.perf_counter() - began
    writer.maintain(NOW_MS / 1000)
    writer.close()
    whole = file_size(path)
    empty = tier_only_size(path, None, workdir)
    per_tier = {}
    for tier in TIERS:
        size = tier_only_size(path, tier.number, workdir)
        per_tier[tier.name] = {"bytes": size, "bytes_per_sample": size / samples}
    single = len(trace["times"]) * len(trace["series"])
    return {
        "recorded": {"host": trace.get("host"), "seconds": duration / 1000, "series": len(trace["series"]),
                     "samples": single},
        "passes": passes, "samples": int(samples),
        "file_bytes": whole, "file_bytes_per_sample": whole / samples,
        "empty_file_bytes": empty,
        "tiers": per_tier,
        "write_samples_per_s": samples / write_seconds,
        "compaction_samples_per_s": samples / maintain_seconds,
    }


# --- (b) the synthetic busy machine ----------------------------------------------------------

class Machine:
    """200 series of a busy machine, as (category, label, unit, kind, generator of windows).

    Values are a level that wanders (a daily cycle, bursts, random walks) plus noise drawn from
    a shared bank, so generating a hundred million of them stays cheap.
    """

    def __init__(self, seed: int = 3) -> None:
        self.random = random.Random(seed)
        rnd = self.random
        self.gauss = [rnd.gauss(0, 1) for _ in range(1 << 16)]
        self.heavy = [rnd.lognormvariate(0, 1) for _ in range(1 << 16)]
        self.series = []

        def add(category, labels, unit, kind, level, noise, floor=0.0, grid=None, bank="gauss"):
            for label in labels:
                self.series.append({"category": category, "label": label, "unit": unit, "kind": kind,
                                    "level": level, "noise": noise, "floor": floor, "grid": grid,
                                    "bank": bank, "walk": 0.0})

        cores = [f"core{i}" for i in range(9)]  # one category of ten series, as the issue asks
        add("cpu", ["total", *cores], "%", "counter", 45, 6)
        add("cpu_modes", ["user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"], "%", "counter", 12, 3)
        add("load", ["1m", "5m", "15m"], "", "gauge", 6, 0.02, grid=0.01)
        add("memory", ["used", "free", "available", "cached", "buffers", "shared"], "B", "gauge",
            20e9, 3e5, grid=4096)
        add("swap", ["used", "free"], "B", "gauge", 1e9, 5e3, grid=4096)
        disks = [f"sd{c}" for c in "abcdefgh"]
        add("disk_io", [f"{d}.{rw}" for d in disks for rw in ("read", "write")], "B/s", "counter",
            2e6, 1.5e6, grid=512, bank="heavy")
        add("disk_ops", [f"{d}.{rw}" for d in disks for rw in ("read", "write")], "/s", "counter", 150, 60,
            bank="heavy")
        add("disk_busy", disks, "%", "counter", 20, 8)
        mounts = ["/", "/home", "/var", "/data"]
        for kind in ("disk_usage", "disk_free", "disk_used", "disk_total"):
            unit = "%" if kind == "disk_usage" else "B"
            add(kind, mounts, unit, "gauge", 60 if unit == "%" else 5e11, 0.0 if kind == "disk_total" else 1e-3,
                grid=None if unit == "%" else 4096)
        nics = [f"eth{i}" for i in range(8)]
        add("network", [f"{n}.{d}" for n in nics for d in ("received", "sent")], "B/s", "counter", 3e6, 2e6,
            bank="heavy")
        add("network_packets", [f"{n}.{d}" for n in nics for d in ("received", "sent")], "/s", "counter",
            2500, 1500, bank="heavy")
        add("network_errors", [f"{n}.{d}" for n in nics[:4] for d in ("in", "out")], "/s", "counter", 0, 0)
        add("temperature", [f"sensor{i}" for i in range(12)], "°C", "gauge", 55, 0.3, grid=0.5)
        add("fans", ["fan0", "fan1", "fan2", "fan3"], "RPM", "gauge", 1800, 25)
        add("cpu_frequency", ["mean"], "Hz", "gauge", 3.1e9, 2e8, grid=1e6)
        add("system", ["processes", "threads"], "", "gauge", 600, 3, grid=1)
        while len(self.series) < 200:
            add("gpu", [f"gpu{len(self.series)}"], "%", "gauge", 30, 10)
        self.series = self.series[:200]
        self.metrics = {s["category"]: Metric(s["unit"], s["kind"]) for s in self.series}

    def level(self, series: dict, t_ms: int) -> float:
        """The slowly moving part: a daily cycle and a random walk, per window."""
        day = math.sin(2 * math.pi * (t_ms % DAY) / DAY)
        series["walk"] = 0.98 * series["walk"] + self.random.gauss(0, 0.05)
        burst = 1.0 + (2.0 if self.random.random() < 0.05 else 0.0)
        return series["level"] * (1 + 0.3 * day + series["walk"]) * burst

    def values(self, series: dict, t_ms: int, count: int) -> list[float]:
        level = self.level(series, t_ms)
        bank = self.heavy if series["bank"] == "heavy" else self.gauss
        offset = self.random.randrange(len(bank) - count)
        noise = bank[offset:offset + count]
        scale = series["noise"] * (level / series["level"] if series["level"] else 1.0)
        values = list(map(add, repeat(level, count), map(mul, noise, repeat(scale, count))))
        if series["unit"] in ("%", "B/s", "/s", "B", "RPM", "Hz"):
            values = list(map(max, values, repeat(series["floor"], count)))
        if series["unit"] == "%":
            values = list(map(min, values, repeat(100.0, count)))
        if series["grid"]:
            grid = series["grid"]
            values = [round(v / grid) * grid for v in values]
        return values


def build_synthetic(quick: bool, workdir: Path) -> dict:
    machine = Machine()
    path = workdir / "synthetic.db"
    writer = Writer(path)
    source_id = writer.source_id(SOURCE, 1.0)
    # Register every series through the write path, so the catalog is the real one.
    writer.write_points(SOURCE, [(s["category"], s["label"], (NOW_MS - 400 * DAY) / 1000, 0.0)
                                 for s in machine.series], machine.metrics)
    writer.expire((NOW_MS - 399 * DAY) / 1000)
    ids = {(c, l): i for i, c, l in writer.db.execute("SELECT id, category, label FROM series")}
    groups: dict[str, list[dict]] = {}
    for s in sorted(machine.series, key=lambda s: ids[s["category"], s["label"]]):
        groups.setdefault(s["category"], []).append(s)
    group_ids = {}
    for category in groups:
        writer.db.execute("INSERT INTO groups (source_id, category) VALUES (?, ?)", (source_id, category))
        group_ids[category] = writer.db.execute("SELECT last_insert_rowid()").fetchone()[0]
    catalog_bytes = file_size(path)
    report = {"series": len(machine.series), "tiers": {}}

    raw_days = 2 * HOUR / DAY if quick else 7.0
    live_ms = HOUR  # the last hour goes through the real write path
    raw_start = NOW_MS - int(raw_days * DAY)
    rnd = random.Random(5)
    samples = 0
    began = time.perf_counter()
    for window in range(raw_start, NOW_MS - live_ms, RAW.span_ms):
        times = [window + i * 1000 + rnd.randrange(0, 4) for i in range(RAW.span_ms // 1000)]
        rows = []
        for category, members in groups.items():
            matrix = np.array([machine.values(s, window, len(times)) for s in members])
            rows.append((0, group_ids[category], window, window + RAW.span_ms,
                         encode_raw_block([ids[category, s["label"]] for s in members], matrix,
                                          [s["unit"] for s in members])))
            samples += matrix.size
        with writer._transaction("benchmark"):
            writer.db.execute("INSERT INTO windows (source_id, start, end, times) VALUES (?, ?, ?, ?)",
                              (source_id, window, window + RAW.span_ms, encode_times(times)))
            writer.db.executemany("INSERT INTO chunks (tier, group_id, start, end, data) VALUES (?, ?, ?, ?, ?)",
                                  rows)
    encode_seconds = time.perf_counter() - began
    size = file_size(path)
    report["tiers"]["raw"] = {"entries": samples, "bytes": size - catalog_bytes,
                              "bytes_per_sample": (size - catalog_bytes) / samples,
                              "encode_samples_per_s": samples / encode_seconds}

    # Rollup tiers, generated directly for their default retention (a year at most).
    history_days = {"keep_raw": raw_days, "keep_minutes": 7 if quick else 90, "keep_hours": 365}
    for tier in ROLLUPS:
        before = size
        days = min(history_days[tier.keep], DEFAULT_KEEP[tier.keep] / 86400)
        first = NOW_MS - live_ms - int(days * DAY)
        first -= first % tier.span_ms
        entries = 0
        per = tier.step_ms // 1000  # raw samples per bucket
        length = tier.span_ms // tier.step_ms
        for chunk in range(first, NOW_MS - live_ms, tier.span_ms):
            count = min(tier.span_ms, NOW_MS - live_ms - chunk) // tier.step_ms
            if count <= 0:
                continue
            rows = []
            for category, members in groups.items():
                means = np.array([machine.values(s, chunk, count) for s in members])
                spread = np.abs(np.array([machine.values(s, chunk, count) for s in members]) - means) + \
                    np.array([[s["noise"]] for s in members])
                shape = (len(members), length)
                mins, maxs, sums = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
                counts = np.zeros(shape, np.int64)
                mins[:, :count], maxs[:, :count] = means - spread, means + spread
                sums[:, :count], counts[:, :count] = means * per, per
                rows.append((tier.number, group_ids[category], chunk, chunk + tier.span_ms,
                             encode_rollup_block([ids[category, s["label"]] for s in members], mins, maxs,
                                                 sums, counts, [s["unit"] for s in members])))
                entries += count * len(members)
            with writer._transaction("benchmark"):
                writer.db.executemany(
                    "INSERT INTO chunks (tier, group_id, start, end, data) VALUES (?, ?, ?, ?, ?)", rows)
        size = file_size(path)
        report["tiers"][tier.name] = {"entries": entries, "days": days, "bytes": size - before,
                                      "bytes_per_entry": (size - before) / max(entries, 1),
                                      "bytes_per_raw_sample": (size - before) / max(entries * per, 1)}

    # The last hour through the real write path: batches of a minute of all 200 series.
    points_written = 0
    write_seconds = 0.0
    for minute in range(NOW_MS - live_ms, NOW_MS, 60_000):
        points = []
        for s in machine.series:
            values = machine.values(s, minute, 60)
            points.extend((s["category"], s["label"], (minute + i * 1000) / 1000, v) for i, v in enumerate(values))
        began = time.perf_counter()
        writer.write_points(SOURCE, points, machine.metrics)
        writer.settle()  # as the server's ingest thread does every second: part of the cost
        write_seconds += time.perf_counter() - began
        points_written += len(points)
    # And sample by sample, as the collector writes: one transaction per second of 200 series.
    per_sample = []
    for second in range(60):
        at = (NOW_MS + 5 * 60_000 + second * 1000) / 1000
        values = {}
        for s in machine.series:
            values.setdefault(s["category"], {})[s["label"]] = s["level"]
        began = time.perf_counter()
        writer.write(SOURCE, at, values, machine.metrics, interval=1.0)
        per_sample.append(time.perf_counter() - began)
    writer.db.execute("DELETE FROM samples WHERE time >= ?", (NOW_MS + 5 * 60_000,))
    began = time.perf_counter()
    maintained = writer.maintain(NOW_MS / 1000)
    maintain_seconds = time.perf_counter() - began
    writer.close()
    report["write"] = {
        "batched_samples_per_s": points_written / write_seconds,
        "per_sample_transaction_ms_p50": statistics.median(per_sample) * 1000,
        "per_sample_samples_per_s": len(machine.series) / statistics.median(per_sample),
        "compaction_samples_per_s": maintained.samples / maintain_seconds,
        "head_rows_left": sqlite3.connect(path).execute("SELECT count(*) FROM samples").fetchone()[0],
    }
    report["file_bytes"] = file_size(path)
    report["path"] = str(path)
    report["categories"] = sorted({s["category"] for s in machine.series})
    return report


def steady_state_bytes(synthetic: dict) -> dict:
    """The file for 200 series under default retention, from the measured bytes per entry."""
    tiers = synthetic["tiers"]
    total = 0.0
    parts = {}
    for tier in TIERS:
        kept_s = DEFAULT_KEEP[tier.keep]
        if tier is RAW:
            entries = synthetic["series"] * kept_s
            bytes_ = entries * tiers["raw"]["bytes_per_sample"]
        else:
            entries = synthetic["series"] * kept_s * 1000 / tier.step_ms
            bytes_ = entries * tiers[tier.name]["bytes_per_entry"]
        # Deletion is by whole chunks: up to one more chunk per series is still on disk.
        bytes_ *= 1 + tier.span_ms / (kept_s * 1000)
        parts[tier.name] = bytes_
        total += bytes_
    return {"bytes": total, "by_tier": parts}


# --- queries ---------------------------------------------------------------------------------

def time_queries(path: Path, categories: list[str] | None, repeats: int) -> dict:
    """p50/p95 on one open Reader, as a server keeps it, after one warm-up query, with every
    block decoded again each time (a range nobody asked for lately; `p50_warm_ms` keeps the
    process's decoded blocks, as a repeated query finds them); and the first query on a freshly
    opened Reader (schema read, cold page cache) for comparison."""
    results = {}
    reader = Reader(path)
    for name, length in RANGES.items():
        fresh = Reader(path)
        began = time.perf_counter()
        fresh.query(SOURCE, (NOW_MS - length) / 1000, NOW_MS / 1000, 1000, categories)
        fresh_ms = (time.perf_counter() - began) * 1000
        fresh.db.close()
        times, warm = [], []
        for _ in range(repeats + 1):
            DECODED.clear()
            began = time.perf_counter()
            answer = reader.query(SOURCE, (NOW_MS - length) / 1000, NOW_MS / 1000, 1000, categories)
            times.append(time.perf_counter() - began)
            began = time.perf_counter()
            reader.query(SOURCE, (NOW_MS - length) / 1000, NOW_MS / 1000, 1000, categories)
            warm.append(time.perf_counter() - began)
        times = times[1:]
        filled = sum(v is not None for s in answer["series"] for v in s["avg"])
        results[name] = {"p50_ms": statistics.median(times) * 1000, "p95_ms": percentile(times, 0.95) * 1000,
                         "p50_warm_ms": statistics.median(warm[1:]) * 1000,
                         "fresh_reader_ms": fresh_ms, "tier": answer["tier"], "buckets": len(answer["times"]),
                         "series": len(answer["series"]), "values": filled}
    reader.db.close()
    return results


def baseline(quick: bool, workdir: Path, repeats: int) -> dict:
    """A plain row table of one category (10 series at 1 s), queried with GROUP BY."""
    path = workdir / "baseline.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE samples (series_id INTEGER, time INTEGER, value REAL, PRIMARY KEY (series_id, time))"
               " WITHOUT ROWID")
    days = 1 if quick else 30
    series = 10
    rnd = random.Random(9)
    began = time.perf_counter()
    for series_id in range(series):
        level = 40.0
        for day in range(days):
            start = NOW_MS - (day + 1) * DAY
            rows = []
            for i in range(0, DAY, 1000):
                level += rnd.random() - 0.5
                rows.append((series_id, start + i, round(level, 1)))
            db.execute("BEGIN")
            db.executemany("INSERT INTO samples VALUES (?, ?, ?)", rows)
            db.execute("COMMIT")
    build = time.perf_counter() - began
    rows_total = series * days * 86400
    size = file_size(path)
    result = {"series": series, "days": days, "rows": rows_total, "bytes_per_row": size / rows_total,
              "insert_rows_per_s": rows_total / build, "ranges": {}}
    marks = ",".join("?" * series)
    for name, length in RANGES.items():
        if length > days * DAY:
            continue
        width = length // 1000
        times = []
        for _ in range(repeats if length <= DAY else max(2, repeats // 5)):
            began = time.perf_counter()
            db.execute(f"SELECT series_id, (time - ?) / ? AS bucket, min(value), avg(value), max(value)"
                       f" FROM samples WHERE series_id IN ({marks}) AND time >= ? AND time < ?"
                       f" GROUP BY series_id, bucket",
                       (NOW_MS - length, width, *range(series), NOW_MS - length, NOW_MS)).fetchall()
            times.append(time.perf_counter() - began)
        rows = series * length // 1000
        result["ranges"][name] = {"p50_ms": statistics.median(times) * 1000, "rows": rows,
                                  "rows_per_s": rows / statistics.median(times), "measured": True}
    # Longer ranges and the 200-series dashboard: the measured scan rate times the rows.
    rate = min(r["rows_per_s"] for r in result["ranges"].values())
    for name, length in RANGES.items():
        if name not in result["ranges"]:
            rows = series * length // 1000
            result["ranges"][name] = {"p50_ms": rows / rate * 1000, "rows": rows, "measured": False}
        result["ranges"][name]["dashboard_p50_ms"] = result["ranges"][name]["p50_ms"] * 20
    db.close()
    path.unlink()
    return result


# --- the report ------------------------------------------------------------------------------

def targets(trace: dict, synthetic: dict, category: dict, dashboard: dict, base: dict, steady: dict) -> list[dict]:
    found = []

    def target(name, value, goal, unit, at_most=True):
        found.append({"name": name, "value": round(value, 4), "goal": goal, "unit": unit,
                      "met": value <= goal if at_most else value >= goal})

    target("raw tier, recorded trace", trace["tiers"]["raw"]["bytes_per_sample"], 1.0, "B/sample")
    target("raw tier, synthetic busy machine", synthetic["tiers"]["raw"]["bytes_per_sample"], 3.0, "B/sample")
    target("200 series, default retention, steady state", steady["bytes"] / MiB, 600, "MiB")
    target("write path (batched)", synthetic["write"]["batched_samples_per_s"], 200_000, "samples/s", at_most=False)
    for name in RANGES:
        target(f"one category p50, {name}", category[name]["p50_ms"], 5, "ms")
    for name in RANGES:
        target(f"dashboard (200 series) p50, {name}", dashboard[name]["p50_ms"], 100, "ms")
    target("30d one category, speed-up over row table", base["ranges"]["30d"]["p50_ms"] / category["30d"]["p50_ms"],
           20, "x", at_most=False)
    target("30d dashboard, speed-up over row table",
           base["ranges"]["30d"]["dashboard_p50_ms"] / dashboard["30d"]["p50_ms"], 20, "x", at_most=False)
    return found


def print_report(report: dict) -> None:
    trace, synthetic = report["trace"], report["synthetic"]
    print(f"\n(a) trace: {trace['recorded']['series']} series, {trace['recorded']['seconds']:.0f} s recorded,"
          f" replayed {trace['passes']}x = {trace['samples']:,} samples")
    print(f"    whole file {trace['file_bytes'] / MiB:.2f} MiB = {trace['file_bytes_per_sample']:.3f} B/sample"
          f" (all tiers); empty file {trace['empty_file_bytes'] / 1024:.0f} KiB")
    for name, tier in trace["tiers"].items():
        print(f"    {name:>4}: {tier['bytes_per_sample']:.3f} B per raw sample (whole file, this tier alone)")
    print(f"    write {trace['write_samples_per_s']:,.0f} samples/s, compaction"
          f" {trace['compaction_samples_per_s']:,.0f} samples/s")
    print(f"\n(b) synthetic busy machine: {synthetic['series']} series")
    for name, tier in synthetic["tiers"].items():
        if name == "raw":
            print(f"     raw: {tier['entries']:>12,} samples  {tier['bytes'] / MiB:8.1f} MiB"
                  f"  {tier['bytes_per_sample']:.3f} B/sample")
        else:
            print(f"    {name:>4}: {tier['entries']:>12,} buckets  {tier['bytes'] / MiB:8.1f} MiB"
                  f"  {tier['bytes_per_entry']:.3f} B/bucket  ({tier['days']:g} d)")
    w = synthetic["write"]
    print(f"    write path: {w['batched_samples_per_s']:,.0f} samples/s batched (a minute of 200 series per"
          f" transaction); {w['per_sample_samples_per_s']:,.0f} samples/s one sample per transaction"
          f" ({w['per_sample_transaction_ms_p50']:.2f} ms each); compaction {w['compaction_samples_per_s']:,.0f}"
          f" samples/s")
    steady = report["steady_state"]
    print(f"    steady state, 200 series, default retention: {steady['bytes'] / MiB:.0f} MiB ("
          + ", ".join(f"{k} {v / MiB:.0f}" for k, v in steady["by_tier"].items()) + ")")
    base = report["baseline"]
    print(f"\n(c) queries, 1,000 points, p50 / p95 ms   [baseline: row table, {base['bytes_per_row']:.1f} B/row]")
    print(f"    {'range':>5} {'tier':>5} {'category':>17} {'dashboard':>17} {'row table cat.':>16} {'row table dash.':>16}"
          f" {'fresh reader cat./dash.':>24}")
    for name in RANGES:
        c, d, b = report["category"][name], report["dashboard"][name], base["ranges"][name]
        mark = "" if b["measured"] else "*"
        print(f"    {name:>5} {c['tier']:>5} {c['p50_ms']:8.2f} /{c['p95_ms']:7.2f} {d['p50_ms']:8.1f} /{d['p95_ms']:7.1f}"
              f" {b['p50_ms']:15.1f}{mark} {b['dashboard_p50_ms']:15.0f}*"
              f" {c['fresh_reader_ms']:12.1f} /{d['fresh_reader_ms']:7.1f}")
    print("    * extrapolated from the row table's measured scan rate")
    print("\ntargets")
    for t in report["targets"]:
        print(f"    {'met ' if t['met'] else 'MISS'} {t['name']:<50} {t['value']:>14,.3f} {t['unit']:<9}"
              f" (goal {'≥' if t['unit'] in ('samples/s', 'x') else '≤'} {t['goal']:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer repeats: under a minute")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--keep", metavar="DIR", help="build the databases here and keep them")
    args = parser.parse_args()
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="statsserver-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    repeats = 5 if args.quick else 21
    began = time.perf_counter()
    try:
        trace = bench_trace(args.quick, workdir)
        synthetic = build_synthetic(args.quick, workdir)
        path = Path(synthetic.pop("path"))
        categories = synthetic.pop("categories")
        category = time_queries(path, ["cpu"], repeats)  # ten series: total and nine cores
        dashboard = time_queries(path, None, repeats)
        base = baseline(args.quick, workdir, repeats)
        steady = steady_state_bytes(synthetic)
        report = {
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count()},
            "quick": args.quick, "trace": trace, "synthetic": synthetic, "category": category,
            "dashboard": dashboard, "baseline": base, "steady_state": steady,
            "categories": len(categories),
        }
        report["targets"] = targets(trace, synthetic, category, dashboard, base, steady)
        report["seconds"] = time.perf_counter() - began
        print_report(report)
        print(f"\n{report['seconds']:.0f} s")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
