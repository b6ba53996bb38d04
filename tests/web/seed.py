"""Fill a running server with history through its push API, as a pushing program would.

Shared by the browser tests and benchmarks/webapp.py: 20 categories by default, the units the
collectors use, regular samples with a few spikes, and one nograph category.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx2

# (category, unit, labels): a mix of what the built-in collectors produce, by unit.
CATEGORIES = [
    ("cpu", "%", ["total", "core0"]),
    ("cpu_modes", "%", ["user", "system"]),
    ("load", "", ["1m", "5m"]),
    ("memory", "B", ["used", "available"]),
    ("swap", "B", ["used", "total"]),
    ("disk_usage", "%", ["/", "/home"]),
    ("disk_io.sda", "B/s", ["read", "write"]),
    ("disk_ops.sda", "/s", ["read", "write"]),
    ("disk_busy", "%", ["sda", "sdb"]),
    ("network.eth0", "B/s", ["received", "sent"]),
    ("network_packets.eth0", "/s", ["received", "sent"]),
    ("network_errors.eth0", "/s", ["errors_in", "drops_in"]),
    ("temperature", "°C", ["cpu", "nvme"]),
    ("fans", "RPM", ["fan1", "fan2"]),
    ("battery", "%", ["BAT0", "BAT1"]),
    ("system", "", ["processes", "threads"]),
    ("cpu_frequency", "Hz", ["mean", "max"]),
    ("network.wlan0", "B/s", ["received", "sent"]),
    ("disk_io.nvme0n1", "B/s", ["read", "write"]),
    ("garden", "", ["moisture", "light"]),
]
SCALE = {"%": 100, "B": 8 * 2**30, "B/s": 50 * 2**20, "/s": 2000, "°C": 80, "RPM": 3000, "Hz": 3.2e9, "": 300}


def value_at(index: int, category: int, label: int, unit: str) -> float:
    """A smooth wave, different per series, with a spike every 97 samples (the band keeps it)."""
    wave = 0.5 + 0.3 * math.sin(index / 40 + category + label * 1.7) + 0.05 * math.sin(index * 1.3 + label)
    if (index + category * 7) % 97 == 0:
        wave = 0.98
    return round(max(0.0, wave) * SCALE[unit] * (1 if unit != "%" else 0.9), 3)


def seed(url: str, source: str = "bench", categories: int = 20, points: int = 1000, span: float = 3600.0,
         end: float | None = None, extra: list[dict] | None = None, token: str | None = None) -> dict:
    """Push `points` samples per series over the `span` seconds before `end` (default now)."""
    end = time.time() if end is None else end
    step = span / points
    batch: list[dict] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx2.Client(base_url=url, timeout=60, headers=headers) as client:
        def flush():
            if batch:
                response = client.post("/api/points", json={"source": source, "points": batch})
                assert response.status_code < 300, response.text
                batch.clear()

        for c, (category, unit, labels) in enumerate(CATEGORIES[:categories]):
            for i in range(points):
                t = end - span + (i + 0.5) * step
                for j, label in enumerate(labels):
                    batch.append({"category": category, "label": label, "unit": unit,
                                  "value": value_at(i, c, j, unit), "time": round(t, 3)})
                if len(batch) >= 20_000:
                    flush()
        for mount, free in (("/", 41.2 * 2**30), ("/home", 512.5 * 2**30)):
            batch.append({"category": "disk_free", "label": mount, "unit": "B", "graph": False,
                          "value": free, "time": round(end - step / 2, 3)})
        batch.extend(extra or [])
        flush()
    return {"source": source, "end": end, "span": span, "step": step, "categories": CATEGORIES[:categories]}


def seed_processes(database: Path, source: str = "bench", span: float = 3600.0, points: int = 600,
                   end: float | None = None) -> None:
    """Process lists for a source, through the store's writer, as a collector on that machine
    would store them: `alpha-job` is busiest in the first half of the span, `beta-job` in the
    second (with a pid that alpha-job had, reused), and `steady` is always there."""
    from statsserver.collectors.processes import Process
    from statsserver.storage import Writer

    end = time.time() if end is None else end
    start, step = end - span, span / points
    writer = Writer(database)
    try:
        for i in range(points):
            t = start + (i + 0.5) * step
            first_half = i < points // 2
            busy = (Process(500, "alpha-job", "alice", 80.0 + i % 7, 200_000_000, "R", start - 5, "alpha-job --run")
                    if first_half else
                    Process(500, "beta-job", "bob", 60.0 + i % 5, 50_000_000, "R", start + span / 2, "beta-job --go"))
            steady = Process(1, "steady", "root", 1.0, 400_000_000, "S", start - 3600, "/sbin/steady")
            writer.write(source, t, {}, {}, [busy, steady])
    finally:
        writer.close()
