"""An hour of `statsserver collect` at its fastest interval, in a few minutes of real time.

The real Generator, collectors and store (the processes collector reading a made-up process
table), on an injected clock that moves one interval per sample instead of waiting for it;
maintenance runs every minute of that clock on its own connection, as the generator's
maintenance thread does. Prints one JSON line per five minutes of
the clock: the highest and the lowest resident memory seen in them, database size on disk, and
the oldest raw sample kept.

Run as `python -m tests.reliability.soakdriver SETTINGS MINUTES`.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import sys
import time

import psutil

from statsserver import config as settings
from statsserver.collectors.processes import ProcessTable, _Row
from statsserver.generator import Generator, build_sampler
from statsserver.storage import Writer

START = 1_800_000_000.0
PROCESSES = 200
# Of which this many are replaced in turn, each every ten minutes of the clock: five a minute.
CHURNING = 50


class MadeUpProcesses:
    """The machine's process table as the processes collector scans it, made up (the edge of the
    machine): PROCESSES processes, each using CPU at its own steady pace, five replaced by new ones
    (new pids) every minute of the clock. The real table moves with whatever else the machine
    runs (another test's servers, a build), and the collector's memory with it: an hour's memory
    compared with itself needs the same input throughout."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.born = time.monotonic()

    def rows(self) -> list[_Row]:
        minute = int((self.clock() - START) // 60)
        running = time.monotonic() - self.born
        rows = []
        for slot in range(PROCESSES):
            generation = (minute + slot) // (CHURNING // 5) if slot < CHURNING else 0
            rows.append(_Row(pid=1000 + slot + generation * PROCESSES, name=f"worker{slot}", state="S",
                             cpu_seconds=(slot % 17 + 1) / 100 * running, rss=(slot % 23 + 1) * 2**20,
                             started=START + generation * 60 + slot))
        return rows

    def details(self, row: _Row) -> None:
        row.uid, row.command = 1000 + row.pid % 3, f"/usr/bin/{row.name} --pid {row.pid}"

    def io(self, row: _Row) -> tuple[int, int]:
        return int(row.cpu_seconds * 1e6), int(row.cpu_seconds * 5e5)


def main(path: str, minutes: float) -> None:
    config = settings.load(path)
    now = [START]
    clock = lambda: now[0]  # noqa: E731
    sampler = build_sampler(config, clock)
    sampler.processes = ProcessTable(config.generator.processes, scan=MadeUpProcesses(clock))
    generator = Generator(config, sampler, source="soak", clock=clock)
    generator.open()
    maintainer = Writer(config.database_path)
    me = psutil.Process()
    interval = config.generator.interval
    steps = round(minutes * 60 / interval)
    per_minute = round(60 / interval)
    # The highest and the lowest resident size of each five minutes, read after every
    # maintenance run: at 0.1 s a window's process block is a large matrix while it is encoded,
    # so a single reading lands on a peak or between two by chance. The lowest is what the
    # process keeps (maintenance hands freed memory back): a leak raises it.
    peak, floor = 0, None
    try:
        for step in range(1, steps + 1):
            generator.step()
            now[0] += interval
            if step % per_minute == 0:
                generator.maintain(maintainer)
                rss = me.memory_info().rss
                peak, floor = max(peak, rss), min(floor or rss, rss)
            if step % (5 * per_minute) == 0:
                gc.collect()
                database = config.database_path
                size = sum(p.stat().st_size for p in database.parent.glob(database.name + "*") if p.is_file())
                with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
                    oldest = db.execute("SELECT min(start) FROM windows").fetchone()[0]
                    head = db.execute("SELECT min(time) FROM samples").fetchone()[0]
                oldest = min(x for x in (oldest, head) if x is not None) / 1000
                rss = me.memory_info().rss
                rss, least, peak, floor = max(peak, rss), min(floor or rss, rss), 0, None
                print(json.dumps({"minute": step // per_minute, "rss": rss, "floor": least, "bytes": size,
                                  "oldest": oldest, "now": now[0], "written": generator.samples_written}),
                      flush=True)
    finally:
        maintainer.close()
        generator.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
