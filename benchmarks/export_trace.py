"""Export a database written by `statsserver collect` into the trace file benchmarks replay.

    python benchmarks/export_trace.py DATABASE [--out benchmarks/data/trace.json.gz]

The trace is columnar JSON, gzipped: the catalog of series, the sample times (ms) and, per
series, its value at each time or null.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export(database: Path, out: Path) -> dict:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    (source_id, source, interval), *_ = db.execute("SELECT id, name, interval FROM sources ORDER BY id")
    series = db.execute("SELECT id, category, label, unit, kind, graph, description FROM series"
                        " WHERE source_id = ? ORDER BY id", (source_id,)).fetchall()
    position = {row[0]: i for i, row in enumerate(series)}
    by_time: dict[int, dict[int, float]] = {}
    for series_id, time, value in db.execute("SELECT series_id, time, value FROM samples ORDER BY time"):
        if series_id in position:
            by_time.setdefault(time, {})[position[series_id]] = value
    times = sorted(by_time)
    trace = {
        "source": source, "interval": interval, "host": source,
        "series": [{"category": c, "label": l, "unit": u, "kind": k, "graph": bool(g), "description": d}
                   for _, c, l, u, k, g, d in series],
        "times": times,
        "values": [[by_time[t].get(i) for t in times] for i in range(len(series))],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", compresslevel=9) as handle:
        json.dump(trace, handle, separators=(",", ":"))
    return trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "trace.json.gz")
    args = parser.parse_args()
    trace = export(args.database, args.out)
    print(f"{args.out}: {len(trace['series'])} series, {len(trace['times'])} times,"
          f" {args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
