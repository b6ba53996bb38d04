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
from itertools import chain
from typing import Callable

import numpy as np

from .chunks import decode_raw_block, decode_rollup_block, decode_times_array, encode_raw_block, \
    encode_rollup_block, encode_times
from . import processes
from .database import insert_rows
from .tiers import BY_NUMBER, COMPACTION_MARGIN_MS, HEAD_MS, RAW, ROLLUP_BATCH, ROLLUP_WAIT_MS, ROLLUPS, Tier, \
    window_start

Transaction = Callable[[str], AbstractContextManager]

_UPSERT_ROLLUPS = (
    "INSERT INTO rollups VALUES {} ON CONFLICT (tier, series_id, start) DO UPDATE"
    " SET min = min(rollups.min, excluded.min), max = max(rollups.max, excluded.max),"
    " sum = rollups.sum + excluded.sum, count = rollups.count + excluded.count")


# A write into the samples of a time this far before the writer's clock counts as late: it may
# land in a window that maintenance is folding, outside the write lock. Maintenance folds only
# windows that ended half a minute before its clock (COMPACTION_MARGIN_MS), so a clock may step
# back 20 s meanwhile and a late write still be counted.
LATE_WRITE_MS = 10 * 1000


def note_late_writes(db: sqlite3.Connection, earliest_ms: int | None) -> None:
    """Count a write into `samples` (in the writer's transaction) whose earliest time is late."""
    if earliest_ms is not None and earliest_ms < time.time() * 1000 - LATE_WRITE_MS:
        db.execute("UPDATE late_writes SET count = count + 1")


@dataclass
class _WindowWork:
    state: tuple[int, int]  # the late writes' count and the window's rows, when read
    times: bytes | None = None  # the window's times, and its blocks by category: None beyond raw retention
    blocks: list[tuple[str, bytes]] = field(default_factory=list)
    rollups: list[list] = field(default_factory=list)


@dataclass
class Report:
    windows: int = 0  # raw windows compacted
    settled: int = 0  # pushed rows moved from `incoming` into the head
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
        self._groups: dict[tuple[int, str], int] = {}
        self.info: dict[int, tuple[int, str, str]] = {}
        # Head rows before the horizon are compacted: into their window's block, merged with
        # what earlier runs put there, so the head (which every query reads row by row) holds
        # only the last minute or two while blocks still span whole windows.
        self.horizon = window_start(now_ms - COMPACTION_MARGIN_MS, HEAD_MS)

    def cutoff(self, tier: Tier) -> int:
        return self.now_ms - self.kept_ms[tier.number]

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.report.finished = False
            return True
        return False

    def run(self) -> Report:
        self._series_by_source()
        self.report.settled = settle_incoming(self.db, self.transaction)
        self.between_steps("incoming")
        if self.compact_raw() and self.compact_processes() and self.pack_rollups() and self.downsample_processes():
            self.expire()
        return self.report

    # --- raw windows ------------------------------------------------------------------------

    def _series_by_source(self) -> dict[int, dict[int, str]]:
        found: dict[int, dict[int, str]] = defaultdict(dict)
        self.info: dict[int, tuple[int, str, str]] = {}  # series id -> (source id, category, unit)
        for series_id, source_id, category, unit in self.db.execute(
                "SELECT id, source_id, category, unit FROM series"):
            found[source_id][series_id] = unit
            self.info[series_id] = (source_id, category, unit)
        return found

    def group_id(self, source_id: int, category: str, make: bool = True) -> int | None:
        """The group's id; where there is none yet, one is made, or with `make` False (outside a
        write transaction) None."""
        key = (source_id, category)
        if key not in self._groups:
            if make:
                self.db.execute("INSERT OR IGNORE INTO groups (source_id, category) VALUES (?, ?)", key)
            found = self.db.execute("SELECT id FROM groups WHERE source_id = ? AND category = ?", key).fetchone()
            if found is None:
                return None
            self._groups[key] = found[0]
        return self._groups[key]

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
        end = min(start + RAW.span_ms, self.horizon)
        ids = list(units)
        # Read and fold the window before taking the write lock, which every push waits for: a
        # heavily pushed source's window is seconds of work. If anything was written into the
        # window meanwhile (a late push, pushes settled, a clock that stepped back), the late
        # writes' count or the window's rows tell, and it is done again under the lock.
        self.db.execute("BEGIN")  # one snapshot for the rows and the blocks they merge into
        try:
            work = self._window_work(source_id, units, ids, start, end)
        finally:
            self.db.execute("COMMIT")
        with self.transaction("a raw window could not be compacted"):
            if self._window_state(ids, start, end) != work.state:
                work = self._window_work(source_id, units, ids, start, end)
            if work.times is not None:
                self.db.execute(
                    "INSERT INTO windows (source_id, start, end, times) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (source_id, start) DO UPDATE SET times = excluded.times",
                    (source_id, start, start + RAW.span_ms, work.times))
                self.db.executemany(
                    "INSERT INTO chunks (tier, group_id, start, end, data) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (tier, group_id, start) DO UPDATE SET data = excluded.data",
                    [(0, self.group_id(source_id, category), start, start + RAW.span_ms, block)
                     for category, block in work.blocks])
            self._add_to_rollups(work.rollups)
            self.db.execute(f"DELETE FROM samples WHERE series_id IN ({_marks(ids)}) AND time >= ? AND time < ?",
                            (*ids, start, end))
        self.report.windows += 1
        self.report.samples += work.state[1]

    def _window_state(self, ids: list[int], start: int, end: int) -> tuple[int, int]:
        """What a write into the window changes: the late writes' count, and its rows."""
        (rows,) = self.db.execute(f"SELECT count(*) FROM samples WHERE series_id IN ({_marks(ids)})"
                                  " AND time >= ? AND time < ?", (*ids, start, end)).fetchone()
        return self._late_writes(), rows

    def _late_writes(self) -> int:
        return self.db.execute("SELECT count FROM late_writes").fetchone()[0]

    def _window_work(self, source_id: int, units: dict[int, str], ids: list[int], start: int,
                     end: int) -> "_WindowWork":
        """What compacting the window writes, read and computed without writing anything."""
        late = self._late_writes()
        rows = self.db.execute(
            f"SELECT series_id, time, value FROM samples WHERE series_id IN ({_marks(ids)})"
            " AND time >= ? AND time < ? ORDER BY series_id, time", (*ids, start, end)).fetchall()
        new: dict[int, dict[int, float]] = defaultdict(dict)
        for series_id, at, value in rows:
            new[series_id][at] = value
        work = _WindowWork((late, len(rows)))
        replaced: dict[int, dict[int, float]] = {}
        if start + RAW.span_ms > self.cutoff(RAW):
            replaced = self._window_blocks(source_id, units, start, new, work)
        work.rollups = self._rollup_rows(rows, replaced)
        return work

    def _window_blocks(self, source_id: int, units: dict[int, str], start: int,
                       new: dict[int, dict[int, float]], work: "_WindowWork") -> dict[int, dict[int, float]]:
        """The window's times and blocks, merged with what an earlier run stored, into `work`;
        returns the stored values that new ones replaced."""
        series: dict[int, dict[int, float]] = defaultdict(dict)
        existing = self.db.execute("SELECT times FROM windows WHERE source_id = ? AND start = ?",
                                   (source_id, start)).fetchone()
        if existing:  # data that arrived after the window was compacted: merge, rare
            old_times = decode_times_array(existing[0]).tolist()
            groups = [group for (source, _), group in self._all_groups(source_id)]
            for (blob,) in self.db.execute(
                    f"SELECT data FROM chunks WHERE tier = 0 AND start = ? AND group_id IN ({_marks(groups)})",
                    (start, *groups)):
                ids, values, _ = decode_raw_block(blob)
                for series_id, row in zip(ids.tolist(), values.tolist()):
                    series[series_id].update((t, v) for t, v in zip(old_times, row) if v == v)
        replaced = {}
        for series_id, points in new.items():
            stored = series[series_id]
            overlap = {t: stored[t] for t in points if t in stored}
            if overlap:
                replaced[series_id] = overlap
            stored.update(points)
        window_times = sorted({t for points in series.values() for t in points})
        position = {t: i for i, t in enumerate(window_times)}
        work.times = encode_times(window_times)
        by_category: dict[str, list[int]] = defaultdict(list)
        for series_id in sorted(i for i, points in series.items() if points):
            by_category[self.info[series_id][1]].append(series_id)
        for category, ids in by_category.items():
            matrix = np.full((len(ids), len(window_times)), np.nan)
            for row, series_id in enumerate(ids):
                points = series[series_id]
                matrix[row, [position[t] for t in points]] = list(points.values())
            work.blocks.append((category, encode_raw_block(ids, matrix, [units[i] for i in ids])))
        return replaced

    def _all_groups(self, source_id: int):
        return [((source_id, category), group) for group, category in self.db.execute(
            "SELECT id, category FROM groups WHERE source_id = ?", (source_id,))]

    @staticmethod
    def _rollup_rows(rows: list[tuple[int, int, float]], replaced: dict[int, dict[int, float]]) -> list[list]:
        """Every rollup tier's buckets of a window's new head rows (series id, time, value, in
        key order), as columns: tier, series id, start, min, max, sum, count.

        In numpy: a big window (5,000 pushed series, a million and more rows) took seconds in a
        loop per value.
        """
        columns: list[list] = [[] for _ in range(7)]
        if not rows:
            return columns
        # As floats, in C: series ids and times in ms are whole numbers far below 2**53.
        table = np.fromiter(chain.from_iterable(rows), np.float64, 3 * len(rows)).reshape(-1, 3)
        ids, starts, values = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2]
        totals, counts = values.copy(), np.ones(len(ids), np.int64)
        for series_id, old in replaced.items():  # rare: samples pushed over ones already compacted
            first, last = ids.searchsorted(series_id), ids.searchsorted(series_id, "right")
            at = first + starts[first:last].searchsorted(list(old))
            # A replaced sample is taken out of the sum and not counted twice.
            totals[at] -= list(old.values())
            counts[at] = 0
        lows = highs = values
        for tier in ROLLUPS:
            # Each tier's buckets are whole multiples of the finer tiers' buckets, so each tier
            # folds the one before it. Within a series, times (so buckets) never go down.
            starts = starts - starts % tier.step_ms
            if len(starts) > 1:
                firsts = np.flatnonzero(np.concatenate(([True], (ids[1:] != ids[:-1]) | (starts[1:] != starts[:-1]))))
                ids, starts = ids[firsts], starts[firsts]
                lows, highs = np.minimum.reduceat(lows, firsts), np.maximum.reduceat(highs, firsts)
                totals, counts = np.add.reduceat(totals, firsts), np.add.reduceat(counts, firsts)
            for column, tier_column in zip(columns, ([tier.number] * len(ids), ids, starts, lows, highs, totals, counts)):
                column.extend(tier_column if isinstance(tier_column, list) else tier_column.tolist())
        return columns

    def _add_to_rollups(self, columns: list[list]) -> None:
        """Add buckets (as _rollup_rows gives them) to the rollup tiers' stored ones."""
        insert_rows(self.db, _UPSERT_ROLLUPS, columns)

    # --- process history ---------------------------------------------------------------------

    def compact_processes(self) -> bool:
        cutoffs = {tier: self.cutoff(BY_NUMBER[tier]) for tier in (processes.RAW_TIER, processes.MINUTE_TIER)}
        for (source_id,) in self.db.execute("SELECT id FROM sources").fetchall():
            while True:
                (head,) = self.db.execute("SELECT min(time) FROM process_samples WHERE source_id = ?",
                                          (source_id,)).fetchone()
                legacy = processes.legacy_oldest(self.db, source_id)
                oldest = min((t for t in (head, legacy) if t is not None), default=None)
                if oldest is None or oldest >= self.horizon:
                    break
                if self.out_of_time():
                    return False
                start = window_start(oldest, RAW.span_ms)
                end = min(start + RAW.span_ms, self.horizon)
                with self.transaction("process lists could not be compacted"):
                    if legacy is not None and legacy < end:
                        processes.convert_legacy(self.db, source_id, start, end,
                                                 keep=start + RAW.span_ms > min(cutoffs.values()))
                    processes.compact_window(self.db, source_id, start, self.horizon, cutoffs)
                self.between_steps("process window")
        return True

    def downsample_processes(self) -> bool:
        cutoffs = {tier: self.cutoff(BY_NUMBER[tier]) for tier in (processes.RAW_TIER, processes.MINUTE_TIER)}
        for source_id, start in processes.expiring_windows(self.db, cutoffs):
            if self.out_of_time():
                return False
            with self.transaction("process lists could not be reduced to minutes"):
                processes.downsample_window(self.db, source_id, start, cutoffs)
            self.between_steps("process minutes")
        return True

    # --- rollup tiers -----------------------------------------------------------------------

    def pack_rollups(self) -> bool:
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
                if not closed and oldest > self.horizon - min(ROLLUP_BATCH * tier.step_ms, ROLLUP_WAIT_MS):
                    continue  # let the batch grow before rewriting the open chunk
                if self.out_of_time():
                    return False
                self.pack_window(tier, window, min(complete, window + tier.span_ms - tier.step_ms))
                self.between_steps(f"rollup {tier.name}")
        return True

    def pack_window(self, tier: Tier, window: int, last_bucket: int) -> None:
        # Read and built before the write lock is taken, as a raw window is: the 10 s tier of
        # thousands of series is seconds of work. Only maintenance writes rollups, one step at a
        # time; the check under the lock is for a second maintainer, which should not exist.
        self.db.execute("BEGIN")
        try:
            state, blocks = self._rollup_state(tier, window, last_bucket), self._rollup_blocks(tier, window, last_bucket)
        finally:
            self.db.execute("COMMIT")
        with self.transaction("rollups could not be packed"):
            if self._rollup_state(tier, window, last_bucket) != state:
                blocks = self._rollup_blocks(tier, window, last_bucket)
            end = window + tier.span_ms
            self.db.executemany(
                "INSERT INTO chunks (tier, group_id, start, end, data) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (tier, group_id, start) DO UPDATE SET data = excluded.data",
                [(tier.number, self.group_id(*key), window, end, block) for key, block in blocks])
            self.report.rollup_chunks += len(blocks)
            self.db.execute("DELETE FROM rollups WHERE tier = ? AND start >= ? AND start <= ?",
                            (tier.number, window, last_bucket))

    def _rollup_state(self, tier: Tier, window: int, last_bucket: int) -> tuple:
        return self.db.execute("SELECT count(*), total(count), total(sum) FROM rollups"
                               " WHERE tier = ? AND start >= ? AND start <= ?", (tier.number, window, last_bucket)).fetchone()

    def _rollup_blocks(self, tier: Tier, window: int, last_bucket: int) -> list[tuple[tuple[int, str], bytes]]:
        """Each (source id, category)'s block of the window, with its stored buckets merged in;
        read and computed without writing anything."""
        rows = self.db.execute(
            "SELECT series_id, start, min, max, sum, count FROM rollups"
            " WHERE tier = ? AND start >= ? AND start <= ?",
            (tier.number, window, last_bucket)).fetchall()
        known = [row for row in rows if row[0] in self.info]  # a deleted series leaves nothing
        if window + tier.span_ms <= self.cutoff(tier) or not known:
            return []
        by_series: dict[int, list] = defaultdict(list)
        for series_id, *bucket in known:
            by_series[series_id].append(bucket)
        by_category: dict[tuple[int, str], list[int]] = defaultdict(list)
        for series_id in sorted(by_series):
            by_category[self.info[series_id][:2]].append(series_id)
        return [(key, self._rollup_block(tier, self.group_id(*key, make=False), window, ids, by_series))
                for key, ids in by_category.items()]

    def _rollup_block(self, tier: Tier, group: int | None, window: int, ids: list[int],
                      by_series: dict[int, list]) -> bytes:
        """The group's block for this window: what is stored, with the new buckets merged in."""
        found = self.db.execute("SELECT data FROM chunks WHERE tier = ? AND group_id = ? AND start = ?",
                                (tier.number, group, window)).fetchone()
        old_ids: list[int] = []
        if found:
            stored_ids, stored = decode_rollup_block(found[0])
            old_ids = stored_ids.tolist()
        every = sorted(set(old_ids) | set(ids))
        row_of = {series_id: row for row, series_id in enumerate(every)}
        length = tier.span_ms // tier.step_ms
        mins = np.full((len(every), length), np.nan)
        maxs = np.full((len(every), length), np.nan)
        sums = np.zeros((len(every), length))
        counts = np.zeros((len(every), length), np.int64)
        if found:
            rows = [row_of[i] for i in old_ids]
            for target, source in zip((mins, maxs, sums, counts), stored):
                target[rows] = source
        for series_id in ids:
            row = row_of[series_id]
            for start, low, high, total, count in by_series[series_id]:
                column = (start - window) // tier.step_ms
                if counts[row, column]:  # the bucket is stored already: late data, combine
                    mins[row, column] = min(mins[row, column], low)
                    maxs[row, column] = max(maxs[row, column], high)
                    sums[row, column] += total
                    counts[row, column] += count
                else:
                    mins[row, column], maxs[row, column] = low, high
                    sums[row, column], counts[row, column] = total, count
        units = [self.info[i][2] for i in every]
        return encode_rollup_block(every, mins, maxs, sums, counts, units)

    # --- retention --------------------------------------------------------------------------

    def expire(self) -> None:
        self.report.deleted = expire(self.db, self.transaction,
                                     {tier.number: self.cutoff(tier) for tier in (RAW, *ROLLUPS)})
        self.between_steps("retention")


def settle_incoming(db: sqlite3.Connection, transaction: Transaction) -> int:
    """Move pushed rows into the head, in a transaction of their own."""
    with transaction("pushed points could not be moved into the head"):
        return move_incoming(db)


def move_incoming(db: sqlite3.Connection) -> int:
    """In key order, so each leaf page of `samples` is written once for all the rows it
    receives; a pushed row replaces a stored one at the same time."""
    note_late_writes(db, db.execute("SELECT min(time) FROM incoming").fetchone()[0])
    moved = db.execute("INSERT OR REPLACE INTO samples SELECT series_id, time, value FROM incoming"
                       " ORDER BY series_id, time").rowcount
    db.execute("DELETE FROM incoming")
    return moved


def expire(db: sqlite3.Connection, transaction: Transaction, cutoffs: dict[int, int]) -> dict[str, int]:
    """Delete, per tier, whole chunks that ended before the tier's cutoff (ms); raw head rows go with
    the raw tier, process history with its tiers (storage/processes.py). Returns rows deleted per kind."""
    deleted: dict[str, int] = defaultdict(int)
    with transaction("old data could not be deleted"):
        raw = cutoffs[RAW.number]
        # Through the primary keys, series by series, rather than a scan of the whole table.
        deleted["samples"] = db.execute(
            "DELETE FROM samples WHERE series_id IN (SELECT id FROM series) AND time < ?", (raw,)).rowcount
        deleted.update(processes.expire(db, cutoffs))
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
