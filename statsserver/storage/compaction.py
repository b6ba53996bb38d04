"""Maintenance: compact closed raw windows, fill and pack rollup tiers, delete what is past its age.

Every step is one write transaction that moves data from one form to the next and deletes the
source in the same commit, so a crash between steps loses nothing and doubles nothing, and the
next run simply carries on: the state of the work is the content of the tables, nothing else.

Raw samples count in the rollups exactly once: when their head rows are deleted. A sample that
arrives for a window already compacted (pushed late, or a clock that stepped back) is merged
into that window's chunk by the next run; if it replaces a stored sample, the rollup sums are
corrected and the min and max may keep the replaced value (the one imprecision allowed).
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Callable

from .chunks import Buckets, decode_raw, decode_rollup, decode_times, encode_raw, encode_rollup, \
    encode_times, merge
from .tiers import COMPACTION_MARGIN_MS, RAW, ROLLUP_BATCH, ROLLUPS, Tier, window_start

Transaction = Callable[[str], AbstractContextManager]

_UPSERT_ROLLUP = (
    "INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tier, series_id, start) DO UPDATE"
    " SET min = min(rollups.min, excluded.min), max = max(rollups.max, excluded.max),"
    " sum = rollups.sum + excluded.sum, count = rollups.count + excluded.count")


@dataclass
class Report:
    windows: int = 0  # raw windows compacted
    samples: int = 0  # head rows moved into chunks and rollups
    rollup_chunks: int = 0  # rollup chunks written
    deleted: dict[str, int] = field(default_factory=dict)
    finished: bool = True  # False: the time budget ran out; the next run continues


def _marks(items) -> str:
    return ",".join("?" * len(items))


class Maintenance:
    """One maintenance run over a database. `transaction(what)` opens a write transaction."""

    def __init__(self, db: sqlite3.Connection, transaction: Transaction,
                 kept_ms: dict[int, int], now_ms: int, budget_s: float | None = None,
                 between_steps: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.transaction = transaction
        self.kept_ms = kept_ms
        self.now_ms = now_ms
        self.deadline = None if budget_s is None else time.monotonic() + budget_s
        # Called after each committed step; tests use it to stop a run between two steps.
        self.between_steps = between_steps or (lambda step: None)
        self.report = Report()
        # Everything before the horizon is closed: raw windows there are compacted.
        self.horizon = window_start(now_ms - COMPACTION_MARGIN_MS, RAW.span_ms)

    def cutoff(self, tier: Tier) -> int:
        return self.now_ms - self.kept_ms[tier.number]

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.report.finished = False
            return True
        return False

    def run(self) -> Report:
        if self.compact_raw() and self.pack_rollups():
            self.expire()
        return self.report

    # --- raw windows ------------------------------------------------------------------------

    def _series_by_source(self) -> dict[int, dict[int, str]]:
        found: dict[int, dict[int, str]] = defaultdict(dict)
        for series_id, source_id, unit in self.db.execute("SELECT id, source_id, unit FROM series"):
            found[source_id][series_id] = unit
        return found

    def compact_raw(self) -> bool:
        for source_id, units in self._series_by_source().items():
            ids = list(units)
            while True:
                (oldest,) = self.db.execute(
                    f"SELECT min(time) FROM samples WHERE series_id IN ({_marks(ids)})", ids).fetchone()
                if oldest is None or oldest >= self.horizon:
                    break
                if self.out_of_time():
                    return False
                self.compact_window(source_id, units, window_start(oldest, RAW.span_ms))
                self.between_steps("raw window")
        return True

    def compact_window(self, source_id: int, units: dict[int, str], start: int) -> None:
        end = start + RAW.span_ms
        ids = list(units)
        with self.transaction("a raw window could not be compacted"):
            new: dict[int, dict[int, float]] = defaultdict(dict)
            rows = self.db.execute(
                f"SELECT series_id, time, value FROM samples WHERE series_id IN ({_marks(ids)})"
                " AND time >= ? AND time < ?", (*ids, start, end)).fetchall()
            for series_id, at, value in rows:
                new[series_id][at] = value
            replaced: dict[int, dict[int, float]] = {}
            if end > self.cutoff(RAW):
                replaced = self._store_window(source_id, units, start, new)
            self._add_to_rollups(new, replaced)
            self.db.execute(f"DELETE FROM samples WHERE series_id IN ({_marks(ids)}) AND time >= ? AND time < ?",
                            (*ids, start, end))
        self.report.windows += 1
        self.report.samples += len(rows)

    def _store_window(self, source_id: int, units: dict[int, str], start: int,
                      new: dict[int, dict[int, float]]) -> dict[int, dict[int, float]]:
        """Write the window's chunks, merged with what an earlier run stored; returns the
        stored values that new ones replaced."""
        series: dict[int, dict[int, float]] = defaultdict(dict)
        existing = self.db.execute("SELECT times FROM windows WHERE source_id = ? AND start = ?",
                                   (source_id, start)).fetchone()
        if existing:
            old_times = decode_times(existing[0])
            ids = list(units)
            for series_id, blob in self.db.execute(
                    f"SELECT series_id, data FROM chunks WHERE tier = 0 AND start = ?"
                    f" AND series_id IN ({_marks(ids)})", (start, *ids)):
                times, values = decode_raw(blob, old_times)
                series[series_id].update(zip(times, values))
        replaced = {}
        for series_id, points in new.items():
            stored = series[series_id]
            overlap = {t: stored[t] for t in points if t in stored}
            if overlap:
                replaced[series_id] = overlap
            stored.update(points)
        window_times = sorted({t for points in series.values() for t in points})
        self.db.execute(
            "INSERT INTO windows (source_id, start, end, times) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (source_id, start) DO UPDATE SET times = excluded.times",
            (source_id, start, start + RAW.span_ms, encode_times(window_times)))
        self.db.executemany(
            "INSERT INTO chunks (tier, series_id, start, end, data) VALUES (0, ?, ?, ?, ?)"
            " ON CONFLICT (tier, series_id, start) DO UPDATE SET data = excluded.data",
            [(series_id, start, start + RAW.span_ms,
              encode_raw(window_times, sorted(points), [points[t] for t in sorted(points)], units[series_id]))
             for series_id, points in series.items() if points])
        return replaced

    def _add_to_rollups(self, new: dict[int, dict[int, float]], replaced: dict[int, dict[int, float]]) -> None:
        finest, coarser = ROLLUPS[0], ROLLUPS[1:]
        rows = []
        for series_id, points in new.items():
            old = replaced.get(series_id, {})
            buckets: dict[int, list] = {}
            for at, value in points.items():
                start = at - at % finest.step_ms
                # A replaced sample is taken out of the sum and not counted twice.
                total, count = (value - old[at], 0) if at in old else (value, 1)
                entry = buckets.get(start)
                if entry is None:
                    buckets[start] = [value, value, total, count]
                else:
                    entry[0] = min(entry[0], value)
                    entry[1] = max(entry[1], value)
                    entry[2] += total
                    entry[3] += count
            rows.extend((finest.number, series_id, start, *entry) for start, entry in buckets.items())
            for tier in coarser:
                # Each tier's buckets are whole multiples of the finer tiers' buckets.
                wider: dict[int, list] = {}
                for start, (low, high, total, count) in buckets.items():
                    entry = wider.setdefault(start - start % tier.step_ms, [low, high, 0.0, 0])
                    entry[0] = min(entry[0], low)
                    entry[1] = max(entry[1], high)
                    entry[2] += total
                    entry[3] += count
                rows.extend((tier.number, series_id, start, *entry) for start, entry in wider.items())
                buckets = wider
        self.db.executemany(_UPSERT_ROLLUP, rows)

    # --- rollup tiers -----------------------------------------------------------------------

    def pack_rollups(self) -> bool:
        units = dict(self.db.execute("SELECT id, unit FROM series"))
        for tier in ROLLUPS:
            # Only whole buckets: every raw window they cover is compacted.
            complete = self.horizon - tier.step_ms
            windows: dict[int, int] = {}  # window start -> its oldest bucket
            for (start,) in self.db.execute(
                    "SELECT start FROM rollups WHERE tier = ? AND start <= ?", (tier.number, complete)):
                window = window_start(start, tier.span_ms)
                windows[window] = min(start, windows.get(window, start))
            for window, oldest in sorted(windows.items()):
                closed = window + tier.span_ms <= self.horizon
                if not closed and oldest > self.horizon - ROLLUP_BATCH * tier.step_ms:
                    continue  # let the batch grow before rewriting the open chunk
                if self.out_of_time():
                    return False
                self.pack_window(tier, window, min(complete, window + tier.span_ms - tier.step_ms), units)
                self.between_steps(f"rollup {tier.name}")
        return True

    def pack_window(self, tier: Tier, window: int, last_bucket: int, units: dict[int, str]) -> None:
        with self.transaction("rollups could not be packed"):
            rows = self.db.execute(
                "SELECT series_id, start, min, max, sum, count FROM rollups"
                " WHERE tier = ? AND start >= ? AND start <= ? ORDER BY series_id, start",
                (tier.number, window, last_bucket)).fetchall()
            by_series: dict[int, list] = defaultdict(list)
            for series_id, *bucket in rows:
                by_series[series_id].append(bucket)
            end = window + tier.span_ms
            if end > self.cutoff(tier):
                chunks = []
                for series_id, buckets in by_series.items():
                    found = self.db.execute(
                        "SELECT data FROM chunks WHERE tier = ? AND series_id = ? AND start = ?",
                        (tier.number, series_id, window)).fetchone()
                    merged = Buckets.from_rows(buckets)
                    if found:
                        merged = merge(decode_rollup(found[0], window, tier.step_ms), merged)
                    chunks.append((tier.number, series_id, window, end,
                                   encode_rollup(window, tier.step_ms, merged, units.get(series_id, ""))))
                self.db.executemany(
                    "INSERT INTO chunks (tier, series_id, start, end, data) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (tier, series_id, start) DO UPDATE SET data = excluded.data", chunks)
                self.report.rollup_chunks += len(chunks)
            self.db.execute("DELETE FROM rollups WHERE tier = ? AND start >= ? AND start <= ?",
                            (tier.number, window, last_bucket))

    # --- retention --------------------------------------------------------------------------

    def expire(self) -> None:
        self.report.deleted = expire(self.db, self.transaction,
                                     {tier.number: self.cutoff(tier) for tier in (RAW, *ROLLUPS)})
        self.between_steps("retention")


def expire(db: sqlite3.Connection, transaction: Transaction, cutoffs: dict[int, int]) -> dict[str, int]:
    """Delete, per tier, whole chunks that ended before the tier's cutoff (ms); raw head rows and
    process snapshots go with the raw tier. Returns rows deleted per kind."""
    deleted: dict[str, int] = defaultdict(int)
    with transaction("old data could not be deleted"):
        raw = cutoffs[RAW.number]
        # Through the primary keys, series by series, rather than a scan of the whole table.
        deleted["samples"] = db.execute(
            "DELETE FROM samples WHERE series_id IN (SELECT id FROM series) AND time < ?", (raw,)).rowcount
        deleted["process_snapshots"] = db.execute(
            "DELETE FROM process_snapshots WHERE source_id IN (SELECT id FROM sources) AND time < ?",
            (raw,)).rowcount
        deleted["windows"] = db.execute("DELETE FROM windows WHERE end <= ?", (raw,)).rowcount
        for tier in (RAW, *ROLLUPS):
            cutoff = cutoffs[tier.number]
            deleted["chunks"] += db.execute("DELETE FROM chunks WHERE tier = ? AND end <= ?",
                                            (tier.number, cutoff)).rowcount
            if tier.step_ms:
                deleted["rollups"] += db.execute(
                    "DELETE FROM rollups WHERE tier = ? AND start <= ?",
                    (tier.number, cutoff - tier.step_ms)).rowcount
    return dict(deleted)
