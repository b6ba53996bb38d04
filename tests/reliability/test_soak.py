"""Soak: an hour of the collector at its fastest interval (0.1 s, 36,000 samples), accelerated by
the injected clock, with retention at 15 minutes: memory flat, the database within its bound."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from statsserver.storage.tiers import RAW

from ..conftest import ROOT, clean_environ
from .store import integrity

MINUTES = 60
MAX_AGE = 15 * 60


@pytest.mark.long
@pytest.mark.timeout(600)
def test_an_accelerated_hour_at_the_fastest_interval(tmp_path, tally):
    found = tally("Soak (1 h accelerated)")
    settings = tmp_path / "settings.conf"
    settings.write_text(f"[generator]\ndirectory = {tmp_path}\ninterval = 0.1\nmax_age = {MAX_AGE}s\n")
    done = subprocess.run([sys.executable, "-m", "tests.reliability.soakdriver", str(settings), str(MINUTES)],
                          cwd=ROOT, capture_output=True, text=True, env=clean_environ(), timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    points = {entry["minute"]: entry for entry in map(json.loads, done.stdout.splitlines())}
    found.runs += 1
    assert points[MINUTES]["written"] == MINUTES * 600, "samples were dropped"

    # Memory: after the first twenty minutes (every tier built, retention under way), flat: what
    # the process keeps (a leak raises it) and its peaks.
    settled, peak = (max(points[m][key] for m in (20, 25, 30)) for key in ("floor", "rss"))
    last, last_peak = (max(points[m][key] for m in (50, 55, 60)) for key in ("floor", "rss"))
    found.notes.append(f"RSS kept {settled / 2**20:.0f} MiB at 20-30 min, {last / 2**20:.0f} MiB at 50-60 min "
                       f"({last / settled - 1:+.1%}); peaks {peak / 2**20:.0f} and {last_peak / 2**20:.0f} MiB "
                       f"({last_peak / peak - 1:+.1%})")
    assert last <= 1.10 * settled and last_peak <= 1.10 * peak, {m: (p["floor"], p["rss"]) for m, p in points.items()}

    # Retention: nothing older than max_age plus one raw window (deletion goes by whole windows).
    end = points[MINUTES]
    assert end["now"] - end["oldest"] <= MAX_AGE + RAW.span_ms / 1000 + 120, end
    database = tmp_path / "statsserver.db"
    assert integrity(database) == "ok"
    with sqlite3.connect(database) as db:
        # Process history: the head's rows, the identities, and the compressed blocks.
        snapshots = db.execute("SELECT count(DISTINCT time) FROM process_samples").fetchone()[0]
        payload = db.execute("SELECT count(*) FROM process_samples").fetchone()[0] * 40
        payload += db.execute("SELECT coalesce(sum(length(times) + length(data)), 0) FROM process_chunks").fetchone()[0]
        payload += db.execute("SELECT coalesce(sum(length(name) + length(user) + length(command) + 40), 0)"
                              " FROM processes").fetchone()[0]
        head = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        series = db.execute("SELECT count(*) FROM series").fetchone()[0]
        payload += db.execute("SELECT coalesce(sum(length(data)), 0) FROM chunks").fetchone()[0]
        payload += db.execute("SELECT count(*) FROM rollups").fetchone()[0] * 64 + head * 24
    assert snapshots <= 3 * 60 * 10, "the process head is not being compacted"
    assert head <= series * 3 * 60 * 10, "the head is not being compacted"
    size = database.stat().st_size
    # The file holds what retention keeps, plus page slack; it does not grow with the hour.
    found.notes.append(f"database {size / 2**20:.0f} MiB for {payload / 2**20:.0f} MiB kept "
                       f"({snapshots} process lists in the head)")
    assert size <= 1.5 * payload + 8 * 2**20, (size, payload)
