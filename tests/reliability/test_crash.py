"""Crash safety: SIGKILL at random moments, also inside compaction, rollups and retention."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from statsserver.collectors.base import gauge
from statsserver.storage import Writer
from statsserver.storage.codec import DEFAULT_STEP, UNIT_STEPS

from ..conftest import ROOT, clean_environ, statsserver_command, wait_for
from . import crashdriver
from .store import expirable, integrity, raw_samples

KILLS = 48  # of the driver, and REAL_KILLS of a real collector
REAL_KILLS = 12
# Kills more, each aimed at a step no kill has landed in yet: a step of a millisecond or less
# (retention here) is often over before the test has seen that it began.
REAL_RETRIES = 12
# Where each kill is aimed, in turn: at a random moment, or inside a maintenance step ("begin":
# a run has started and no transaction has begun yet).
AIMS = (None, "begin", "incoming", "raw window", "rollup", "retention")


class Lines:
    """A child's stdout (or stderr), read as it comes, so the test knows the last thing it said."""

    def __init__(self, process: subprocess.Popen, stream=None) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream or process.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.strip())

    @property
    def last(self) -> str:
        return self.lines[-1] if self.lines else ""

    def wait_until_said(self, wanted, timeout: float) -> None:
        """Until a line said from now on is wanted(line); looks at each line once."""
        checked = len(self.lines)

        def said() -> bool:
            nonlocal checked
            new = self.lines[checked:]
            checked += len(new)
            return any(wanted(line) for line in new)

        wait_for(said, timeout=timeout, interval=0.0005)


def step_inside(line: str) -> str | None:
    """The maintenance step the driver was inside if `line` was the last thing it said."""
    if line == "begin":
        return line
    step, started, _ = line.partition(" started")
    return step if started else None


def retention_started(line: str) -> dict | None:
    """What a `retention started` line says: the cutoffs and how many rows they would delete."""
    if not line.startswith("retention started "):
        return None
    said = json.loads(line.removeprefix("retention started "))
    return {"cutoffs": {int(tier): ms for tier, ms in said["cutoffs"].items()}, "expirable": said["expirable"]}


def announces(line: str, aim: str) -> bool:
    if aim == "retention":  # one that has something to delete, or its effect could not be seen
        said = retention_started(line)
        return said is not None and any(said["expirable"].values())
    return line == aim if aim == "begin" else line == f"{aim} started"


KEEP_RAW_MS = 30 * 60 * 1000


def check_known(samples, before, tally) -> None:
    """Everything committed before the kill is there, once, in order, with its own value.

    "Everything" within keep_raw of the newest sample: older raw samples may be gone by
    retention (whole windows, and head rows that maintenance reaches only after their age).
    """
    for key, stored in samples.items():
        source, _, label = key
        assert source == crashdriver.SOURCE
        times = [t for t, _ in stored]
        assert len(times) == len(set(times)), f"{key}: a sample is stored twice"
        for t, value in stored:
            assert value == crashdriver.value_at(t / 1000, label), f"{key} at {t}: {value}"
        times.sort()
        step = int(crashdriver.STEP * 1000)
        kept = [t for t in times if t >= times[-1] - KEEP_RAW_MS]
        assert kept == list(range(kept[0], times[-1] + step, step)), f"{key}: a hole in the samples"
        earlier = [t for t, _ in before.get(key, ()) if t >= kept[0]]
        missing = set(earlier) - set(times)
        tally.lost += len(missing)
        assert not missing, f"{key}: {len(missing)} committed samples lost, e.g. {sorted(missing)[:3]}"


@pytest.mark.long
@pytest.mark.timeout(300)  # about 100 s, much of it waiting for a retention with rows to delete
def test_sigkill_during_sampling_and_maintenance_loses_nothing(tmp_path, tally):
    found = tally("Crash safety (SIGKILL)")
    settings = tmp_path / "settings.conf"
    settings.write_text(f"[generator]\ndirectory = {tmp_path}\ninterval = {crashdriver.STEP}\n"
                        "max_age = 1h\nkeep_raw = 30m\n")
    database = tmp_path / "statsserver.db"
    rng = random.Random(7)
    inside: dict[str, int] = {}  # kills per step they landed in, by the driver's last line
    retention_kills = {"rolled back": 0, "committed": 0}  # of those with rows to delete
    for kill in range(KILLS):
        aim = AIMS[kill % len(AIMS)]
        process = subprocess.Popen([sys.executable, "-m", "tests.reliability.crashdriver", str(settings)],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=clean_environ())
        output = Lines(process)
        try:
            wait_for(lambda: "ready" in output.lines or process.poll() is not None)
            assert process.poll() is None, process.communicate()[1]
            if aim is None:
                time.sleep(rng.uniform(0.05, 1.0))
            before = raw_samples(database)
            if aim:
                output.wait_until_said(lambda line: announces(line, aim), timeout=30)
                # The driver holds each step's transaction open for HOLD after its writes.
                time.sleep(rng.uniform(0, crashdriver.HOLD * 0.8))
        finally:
            process.kill()
            process.wait()
        output.thread.join()
        last = output.last  # the driver's last word before it died
        step = step_inside(last) or "between steps or sampling"
        inside[step] = inside.get(step, 0) + 1
        found.runs += 1
        assert integrity(database) == "ok", f"kill {kill}"
        after = raw_samples(database)
        check_known(after, before, found)
        for key in before:
            assert max(t for t, _ in after[key]) >= max(t for t, _ in before[key]), key
        said = retention_started(last)
        if said and any(said["expirable"].values()):
            # One transaction: everything it would delete is still there, or none of it.
            with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
                left = expirable(db, said["cutoffs"])
            assert left in (said["expirable"], dict.fromkeys(left, 0)), (said["expirable"], left)
            retention_kills["committed" if left == dict.fromkeys(left, 0) else "rolled back"] += 1
    found.notes.append(
        f"driver: {KILLS} kills, inside each step (its last word the step's 'started', not its commit): "
        + ", ".join(f"{step} {inside.get(step, 0)}" for step in AIMS[1:])
        + "".join(f", {where} {count}" for where, count in inside.items() if where not in AIMS)
        + f"; kills in a retention with rows to delete: {retention_kills['rolled back']} rolled back whole,"
        f" {retention_kills['committed']} had just committed")
    for step in AIMS[1:]:
        assert inside.get(step, 0) >= KILLS // len(AIMS) // 2, inside
    assert retention_kills["rolled back"] >= 3, retention_kills
    final = raw_samples(database)
    span = max(t for t, _ in final[crashdriver.SOURCE, "known", "a"]) - min(t for t, _ in final[crashdriver.SOURCE, "known", "a"])
    assert span <= (3600 + 20 * 60 + 120) * 1000, "retention never ran"
    with sqlite3.connect(database) as db:
        tiers = {row[0] for row in db.execute("SELECT DISTINCT tier FROM chunks")}
    assert {0, 1, 2} <= tiers, tiers


SEED_SERIES = 20
SEED_STEP = 5.0
SEED_METRICS = {"seed": gauge("")}
HOUR = 3600.0


def seed_value(time: float, label: str) -> float:
    return float((round(time / SEED_STEP) + int(label[1:])) % 97)  # whole numbers: exact in blocks


def seed_points(start: float, end: float) -> list[tuple[str, str, float, float]]:
    times = [start + n * SEED_STEP for n in range(round((end - start) / SEED_STEP))]
    return [("seed", f"s{i}", t, seed_value(t, f"s{i}")) for t in times for i in range(SEED_SERIES)]


def seed_backlog(database, source: str, now: float) -> dict[tuple[str, str, str], list[tuple[int, float]]]:
    """Work for the collector's first maintenance run, in a source of its own: an hour of samples
    past max_age, compacted as if it were then, for retention to delete; and 45 minutes of head
    rows for it to compact into raw windows and rollups. Returns those head rows by series."""
    head = seed_points(now - 50 * 60, now - 5 * 60)
    writer = Writer(database)
    try:
        writer.write_points(source, seed_points(now - 5 * HOUR, now - 4 * HOUR), SEED_METRICS)
        writer.maintain(now - 4 * HOUR + 300)
        writer.write_points(source, head, SEED_METRICS)
    finally:
        writer.close()
    by_series: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for category, label, t, value in head:
        by_series.setdefault((source, category, label), []).append((round(t * 1000), value))
    return by_series


def work_done(db: sqlite3.Connection) -> tuple:
    """What maintenance has made of the store so far: each step that does work changes it; the
    sampler, which writes only head rows meanwhile, does not."""
    return db.execute(
        "SELECT (SELECT count(*) FROM windows), (SELECT count(*) FROM rollups),"
        " (SELECT count(*) FROM chunks), (SELECT total(length(data)) FROM chunks),"
        " (SELECT count(*) FROM process_chunks), (SELECT total(length(data)) FROM process_chunks)").fetchone()


def rehearse(database, now: float, max_age: float) -> list[tuple[str, tuple, float]]:
    """The steps a maintenance run at `now` would take, each with work_done() after it and the
    seconds it took: a run on a copy of the file (the collector is not running)."""
    copy = database.with_name("rehearsal.db")
    copy.unlink(missing_ok=True)
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    writer = Writer(copy)
    steps = [("start", work_done(writer.db), 0.0)]
    began = time.perf_counter()

    def step_done(step: str) -> None:
        nonlocal began
        took = time.perf_counter() - began
        steps.append((step, work_done(writer.db), took))
        began = time.perf_counter()

    try:
        writer.maintain(now, max_age=max_age, between_steps=step_done)
    finally:
        writer.close()
    return steps


def read_work_done(database) -> tuple:
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
        return work_done(db)


def committed_step(states: list[tuple], state: tuple) -> int:
    """The last step of a rehearsal whose state this is; -1 if none."""
    return len(states) - 1 - states[::-1].index(state) if state in states else -1


def units_of(database) -> dict[tuple[str, str, str], str]:
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
        return {(source, category, label): unit for source, category, label, unit in db.execute(
            "SELECT sources.name, category, label, unit FROM series JOIN sources ON sources.id = source_id")}


def changed_or_missing(before: list[tuple[int, float]], after: list[tuple[int, float]],
                       unit: str) -> list[tuple[int, float]]:
    """The samples of `before` that `after` lacks, or holds with another value than compaction
    into a block (quantised to the unit's step) would give: the collector's own samples in the
    head are full floats until its maintenance compacts them."""
    now = dict(after)
    # The most compaction may move a value: half its unit's step (a small value's step is finer),
    # and a rounding error of the float arithmetic beyond it.
    quantised = UNIT_STEPS.get(unit, DEFAULT_STEP) * 0.5000001
    return [(t, value) for t, value in before if t not in now or abs(now[t] - value) > quantised]


def keep_clear_of_a_new_horizon() -> None:
    """Maintenance compacts head rows up to a minute boundary 30 s back; a rehearsal and the real
    run (the collector's start-up later, seconds on a busy machine) see the same boundary unless
    the clock passes :30 between them."""
    while 20 <= time.time() % 60 < 30:
        time.sleep(0.2)


# Where each kill of a real collector is aimed, in turn: at a random moment of its first second,
# or inside a step of the maintenance run it starts with (a kind of step: one of them at random).
REAL_AIMS = (None, "raw window", "rollup", "retention")


@pytest.mark.long
def test_sigkill_of_a_real_collect_process_during_its_maintenance(tmp_path, tally):
    """The real `statsserver collect` at its fastest interval, killed during the maintenance run
    it starts with, which has a backlog to work through: raw windows to compact, rollups to
    pack, data past max_age to delete. A rehearsal on a copy of the file says which steps that
    run takes and what the tables hold after each: the test waits for the state after the step
    before its aim, kills, and then finds which step the collector had committed last. A state
    that is none of them would be a step half done."""
    found = tally("Crash safety (SIGKILL)")
    database = tmp_path / "statsserver.db"
    rng = random.Random(11)
    command = statsserver_command("collect", "--directory", str(tmp_path), "--interval", "0.1",
                                  "--set", f"generator.max_age={int(HOUR)}s")
    landed: dict[str, int] = {}

    def aims():
        yield from (REAL_AIMS[kill % len(REAL_AIMS)] for kill in range(REAL_KILLS))
        for _ in range(REAL_RETRIES):
            missed = [step for step in REAL_AIMS if step and not landed.get(step)]
            if not missed:
                return
            yield missed[0]

    for kill, aim in enumerate(aims()):
        seeded_at = time.time()
        backlog = seed_backlog(database, f"seed{kill}", seeded_at)
        before = raw_samples(database)
        keep_clear_of_a_new_horizon()
        steps = rehearse(database, time.time(), HOUR)
        states = [state for _, state, _ in steps]
        assert steps[-1][0] == "retention" and states[-1] != states[-2], steps
        if aim:  # the step before one of the aimed kind
            target = rng.choice([i - 1 for i, (step, _, _) in enumerate(steps) if step.startswith(aim)])
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   env=clean_environ())
        log = Lines(process, stream=process.stderr)
        try:
            log.wait_until_said(lambda line: " writing " in line, timeout=20)  # maintenance starts now
            if aim:
                with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
                    # A step may commit between two looks: then the kill lands a step later.
                    wait_for(lambda: committed_step(states, work_done(db)) >= target, timeout=10, interval=0.0005)
                # Somewhere in the first half of the aimed step, as long as it took in the rehearsal:
                # a fixed delay overshot steps of a few ms, and the kill landed in the next one.
                time.sleep(rng.uniform(0, steps[target + 1][2] / 2))
            else:
                time.sleep(rng.uniform(0, 1.0))
        finally:
            process.kill()
            process.wait()
        log.thread.join()
        found.runs += 1
        assert integrity(database) == "ok", f"kill {kill}"
        after = raw_samples(database)
        units = units_of(database)
        for key, stored in after.items():
            times = [t for t, _ in stored]
            assert len(times) == len(set(times)), f"{key}: a sample is stored twice"
        young = round((seeded_at - HOUR + 60) * 1000)  # older samples may go by retention
        for key, stored in before.items():
            missing = changed_or_missing([(t, value) for t, value in stored if t >= young], after[key], units[key])
            found.lost += len(missing)
            assert not missing, f"{key}: {len(missing)} committed samples lost or changed, e.g. {missing[:3]}"
        for key, stored in backlog.items():
            assert sorted(s for s in after[key] if s[0] >= young) == stored, f"{key}: the backlog changed"
        state = read_work_done(database)
        committed = committed_step(states, state)
        assert committed >= 0, f"kill {kill}: a step half done: {state} is none of {steps}"
        where = "after its run" if committed == len(steps) - 1 else steps[committed + 1][0]
        where = "rollup" if where.startswith("rollup") else where
        landed[where] = landed.get(where, 0) + 1
    found.notes.append(f"collect: {sum(landed.values())} kills, the step of its first maintenance run each landed in: "
                       + ", ".join(f"{where} {landed.get(where, 0)}"
                                   for where in ("raw window", "rollup", "retention", "after its run")))
    for step in ("raw window", "rollup", "retention"):
        assert landed.get(step, 0) >= 1, landed
