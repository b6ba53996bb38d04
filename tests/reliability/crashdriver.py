"""A collector process for the crash test: the real Generator, Writer and maintenance, fed by a
collector whose values are known from their time, on a clock that runs SPEED times faster than
the wall clock, so compaction, rollups and retention happen every second or so. (Much faster,
and maintenance falls more than keep_raw behind: correct, but not the case under test.)

Run as `python -m tests.reliability.crashdriver SETTINGS`. It prints `ready`, and for each
maintenance run `begin`, then per step `<step> started` once its transaction has begun and the
step's own line once it has committed (`incoming`, `raw window`, `rollup 10s`, `retention`),
then `end`; so the test knows where a kill landed. `retention started` carries the cutoffs and
how many rows of each kind they would delete, so a test can tell a rolled-back retention from
a committed one. Each step holds its transaction open for HOLD seconds after its writes, before
COMMIT, and each run waits as long after `begin`: a kill aimed at a step lands inside it. The
delay is the driver's, in its own writer; product code runs as it is. It never stops on its own:
the test kills it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager

from statsserver import config as settings
from statsserver.collectors.base import Collector, gauge
from statsserver.collectors.sampler import Sampler
from statsserver.generator import Generator
from statsserver.storage import Reader, StoreError, Writer
from statsserver.storage.database import to_ms
from statsserver.storage.tiers import retention

from .store import expirable

SOURCE = "crash"
START = 1_700_000_000.0
STEP = 5.0  # fake seconds per sample: 20-minute raw windows close every 240 samples
SPEED = 300.0  # fake seconds per real second: a raw window closes every four seconds
HOLD = 0.05  # seconds a maintenance step's transaction stays open after its writes

# The maintenance step a write transaction belongs to, by the reason the writer would give if it
# failed (a step the driver does not know about is a KeyError: the test must learn of it).
STEPS = {
    "pushed points could not be moved into the head": "incoming",
    "a raw window could not be compacted": "raw window",
    "rollups could not be packed": "rollup",
    "old data could not be deleted": "retention",
}


def tick(time: float) -> int:
    return round((time - START) / STEP)


# A machine's worth of series, so that maintenance takes long enough for kills to land in it.
FILLER = [f"f{i}" for i in range(300)]


def value_at(time: float, label: str) -> float:
    """Whole numbers, so they come back exact through the codec's quantisation."""
    n = tick(time)
    if label[0] == "f":
        return float(n % (int(label[1:]) + 2))
    return float({"a": n, "b": 2 * n, "c": n % 97}[label])


class FastClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Known(Collector):
    name = "known"
    inline = True
    produces = {"known": gauge(""), "other": gauge("%"), "filler": gauge("")}

    def __init__(self, clock: FastClock) -> None:
        super().__init__()
        self.clock = clock

    def collect(self):
        t = self.clock.now
        return {"known": {"a": value_at(t, "a"), "b": value_at(t, "b")}, "other": {"c": value_at(t, "c")},
                "filler": {label: value_at(t, label) for label in FILLER}}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class AnnouncingWriter(Writer):
    """The maintenance thread's writer: says when a step's transaction has begun, and holds it
    open a moment before its COMMIT."""

    cutoffs: dict[int, int] = {}  # the current run's, by tier number

    @contextmanager
    def _transaction(self, failure: str):
        step = STEPS[failure]
        with super()._transaction(failure):
            started = f"{step} started"
            if step == "retention":
                started += " " + json.dumps({"cutoffs": self.cutoffs, "expirable": expirable(self.db, self.cutoffs)})
            say(started)
            yield
            time.sleep(HOLD)


def main(path: str) -> None:
    config = settings.load(path)
    last = None
    if config.database_path.exists():
        try:
            last = Reader(config.database_path).last_time(SOURCE)
        except StoreError:
            last = None
    # A restart carries on from the last committed sample, as a real collector carries on from now.
    clock = FastClock(START if last is None else last + STEP)
    generator = Generator(config, sampler=Sampler([Known(clock)], clock=clock), source=SOURCE, clock=clock)
    generator.open()

    def maintain() -> None:
        writer = AnnouncingWriter(config.database_path)
        kept = retention(generator.keep, generator.max_age)
        while True:
            now = clock()
            writer.cutoffs = {tier: to_ms(now) - ms for tier, ms in kept.items()}
            say("begin")
            time.sleep(HOLD)
            writer.maintain(now, generator.keep, generator.max_age, between_steps=say)
            say("end")
            threading.Event().wait(0.02)

    threading.Thread(target=maintain, daemon=True).start()
    say("ready")
    began, first = time.monotonic(), clock.now
    while True:
        generator.step()
        clock.now += STEP
        ahead = (clock.now - first) / SPEED - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)


if __name__ == "__main__":
    main(sys.argv[1])
