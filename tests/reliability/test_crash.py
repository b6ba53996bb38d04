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

from ..conftest import ROOT, clean_environ, statsserver_command, wait_for
from . import crashdriver
from .store import expirable, integrity, raw_samples

KILLS = 48  # and 12 of a real collector below
# Where each kill is aimed, in turn: at a random moment, or inside a maintenance step ("begin":
# a run has started and no transaction has begun yet).
AIMS = (None, "begin", "incoming", "raw window", "rollup", "retention")


class Lines:
    """A child's stdout, read as it comes, so the test knows the last thing it said."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
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
                output.wait_until_said(lambda line: announces(line, aim), timeout=20)
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
        + ", ".join(f"{step} {count}" for step, count in inside.items())
        + f"; kills in a retention with rows to delete: {retention_kills['rolled back']} rolled back whole,"
        f" {retention_kills['committed']} had just committed")
    for step in ("begin", "incoming", "raw window", "rollup", "retention"):
        assert inside.get(step, 0) >= KILLS // len(AIMS) // 2, inside
    assert retention_kills["rolled back"] >= 3, retention_kills
    final = raw_samples(database)
    span = max(t for t, _ in final[crashdriver.SOURCE, "known", "a"]) - min(t for t, _ in final[crashdriver.SOURCE, "known", "a"])
    assert span <= (3600 + 20 * 60 + 120) * 1000, "retention never ran"
    with sqlite3.connect(database) as db:
        tiers = {row[0] for row in db.execute("SELECT DISTINCT tier FROM chunks")}
    assert {0, 1, 2} <= tiers, tiers


@pytest.mark.long
def test_sigkill_of_a_real_collect_process(tmp_path, tally):
    """The real `statsserver collect` at its fastest interval, killed at random moments."""
    found = tally("Crash safety (SIGKILL)")
    database = tmp_path / "statsserver.db"
    rng = random.Random(11)
    for kill in range(10):
        process = subprocess.Popen(statsserver_command("collect", "--directory", str(tmp_path), "--interval", "0.1"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_environ())
        try:
            wait_for(lambda: database.exists() and any(raw_samples(database).values()) or process.poll() is not None)
            assert process.poll() is None, process.communicate()[1]
            time.sleep(rng.uniform(0.1, 1.0))
            before = raw_samples(database)
        finally:
            process.kill()
            process.wait()
        found.runs += 1
        assert integrity(database) == "ok"
        after = raw_samples(database)
        for key, stored in after.items():
            times = [t for t, _ in stored]
            assert len(times) == len(set(times)), key
        for key, stored in before.items():
            missing = set(stored) - set(after[key])
            found.lost += len(missing)
            assert not missing, key
