"""Crash safety: SIGKILL at random moments, also inside compaction, rollups and retention."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from ..conftest import ROOT, clean_environ, statsserver_command, wait_for
from . import crashdriver
from .store import integrity, raw_samples

KILLS = 60
MAINTENANCE_STEPS = ("begin", "raw window", "rollup", "retention")


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
def test_sigkill_during_sampling_and_maintenance_loses_nothing(tmp_path, tally):
    found = tally("Crash safety (SIGKILL)")
    settings = tmp_path / "settings.conf"
    settings.write_text(f"[generator]\ndirectory = {tmp_path}\ninterval = {crashdriver.STEP}\n"
                        "max_age = 1h\nkeep_raw = 30m\n")
    database = tmp_path / "statsserver.db"
    rng = random.Random(7)
    landed: dict[str, int] = {}
    for kill in range(KILLS):
        process = subprocess.Popen([sys.executable, "-m", "tests.reliability.crashdriver", str(settings)],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=clean_environ())
        output = Lines(process)
        try:
            wait_for(lambda: "ready" in output.lines or process.poll() is not None)
            assert process.poll() is None, process.communicate()[1]
            time.sleep(rng.uniform(0.05, 1.0))
            before = raw_samples(database)
            if kill % 2:
                # Every other kill waits for maintenance to be under way, then lands a moment
                # after a step's commit: inside the next step's transaction, or between steps.
                seen = len(output.lines)
                wait_for(lambda: any(line.startswith(("raw", "rollup")) for line in output.lines[seen:]),
                         timeout=10, interval=0.0005)
                time.sleep(rng.uniform(0, 0.002))
        finally:
            process.kill()
            process.wait()
        where = "rollup" if output.last.startswith("rollup") else output.last or "none"
        landed[where] = landed.get(where, 0) + 1
        found.runs += 1
        assert integrity(database) == "ok", f"kill {kill}"
        after = raw_samples(database)
        check_known(after, before, found)
        for key in before:
            assert max(t for t, _ in after[key]) >= max(t for t, _ in before[key]), key
    in_maintenance = sum(count for where, count in landed.items() if where in MAINTENANCE_STEPS)
    found.notes.append(f"{in_maintenance} of {KILLS} kills landed inside a maintenance run "
                       f"(last line before the kill: {landed})")
    # The fast clock made every kind of maintenance happen, and kills landed among them.
    assert in_maintenance >= KILLS // 3, landed
    assert {"raw window", "rollup", "retention"} & set(landed), landed
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
