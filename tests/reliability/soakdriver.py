"""An hour of `statsserver collect` at its fastest interval, in a few minutes of real time.

The real Generator, collectors and store, on an injected clock that moves one interval per
sample instead of waiting for it; maintenance runs every minute of that clock on its own
connection, as the generator's maintenance thread does. Prints one JSON line per five minutes of
the clock: the highest resident memory seen in them, database size on disk, and the oldest raw
sample kept.

Run as `python -m tests.reliability.soakdriver SETTINGS MINUTES`.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import sys

import psutil

from statsserver import config as settings
from statsserver.generator import Generator
from statsserver.storage import Writer

START = 1_800_000_000.0


def main(path: str, minutes: float) -> None:
    config = settings.load(path)
    now = [START]
    generator = Generator(config, source="soak", clock=lambda: now[0])
    generator.open()
    maintainer = Writer(config.database_path)
    me = psutil.Process()
    interval = config.generator.interval
    steps = round(minutes * 60 / interval)
    per_minute = round(60 / interval)
    # The highest resident size of each five minutes, read after every maintenance run: at 0.1 s
    # a window's process block is a large matrix while it is encoded, so a single reading
    # lands on a peak or between two by chance; the peaks of two periods compare fairly.
    peak = 0
    try:
        for step in range(1, steps + 1):
            generator.step()
            now[0] += interval
            if step % per_minute == 0:
                generator.maintain(maintainer)
                peak = max(peak, me.memory_info().rss)
            if step % (5 * per_minute) == 0:
                gc.collect()
                database = config.database_path
                size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*") if p.is_file())
                with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
                    oldest = db.execute("SELECT min(start) FROM windows").fetchone()[0]
                    head = db.execute("SELECT min(time) FROM samples").fetchone()[0]
                oldest = min(x for x in (oldest, head) if x is not None) / 1000
                rss, peak = max(peak, me.memory_info().rss), 0
                print(json.dumps({"minute": step // per_minute, "rss": rss, "bytes": size,
                                  "oldest": oldest, "now": now[0], "written": generator.samples_written}),
                      flush=True)
    finally:
        maintainer.close()
        generator.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
