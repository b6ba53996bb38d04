"""The one writer: stores samples and process lists into the head, and maintains the store
(compaction, rollups, retention) when asked to."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from ..collectors.base import Metric
from ..collectors.processes import Process
from . import compaction
from .codec import CodecError
from .database import StoreError, insert_rows, open_for_writing, to_ms
from .tiers import TIERS, retention

# Process identities remembered by the writer; about the processes a machine's top lists name
# over a few hours.
PROCESS_CACHE = 4096
# An identity is deleted at the earliest 20 minutes (a raw window) after it was last listed.
PROCESS_RECHECK_MS = 10 * 60 * 1000


# Pushed rows per series from which a request goes straight into the head: a leaf page written
# for four rows or more costs less than moving them through `incoming`.
DIRECT_ROWS_PER_SERIES = 4
_NEW = object()  # a category without series yet

class Points(NamedTuple):
    """Points, column by column. Columns are made and read by loops in C; a loop in Python over
    the points was most of what storing one cost."""
    categories: Sequence[str]
    labels: Sequence[str]
    times: Sequence[float]  # Unix seconds
    values: Sequence[float]


class Writer:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = open_for_writing(self.path)
        self._lock = threading.RLock()  # `statsserver run`: the generator and the server share it
        self._catalog_stale = False
        self._load_catalog()

    def _load_catalog(self) -> None:
        # Ids handed out inside a rolled-back transaction do not exist, so after a rollback the
        # catalog (and whether `incoming` holds rows) is read again from the file.
        self._sources: dict[str, int] = dict(self.db.execute("SELECT name, id FROM sources"))
        # Per source, (category, label) -> series id; per (source, category), the declaration
        # (unit, kind, graph, description) its series carry, None while they disagree.
        self._series: dict[int, dict[tuple[str, str], int]] = {}
        self._declarations: dict[tuple[int, str], tuple | None] = {}
        # (source, pid, started ms) -> (id, when it was last written, ms)
        self._processes: dict[tuple[int, int, int], tuple[int, int]] = {}
        for series, source, category, label, *declaration in self.db.execute(
                "SELECT id, source_id, category, label, unit, kind, graph, description FROM series"):
            self._series.setdefault(source, {})[category, label] = series
            declaration[2] = bool(declaration[2])
            found = self._declarations.setdefault((source, category), tuple(declaration))
            if found != tuple(declaration):
                self._declarations[source, category] = None
        self._unsettled = bool(self.db.execute("SELECT EXISTS (SELECT 1 FROM incoming)").fetchone()[0])

    def source_id(self, name: str, interval: float | None = None) -> int:
        if name not in self._sources:
            self.db.execute("INSERT OR IGNORE INTO sources (name, interval) VALUES (?, ?)", (name, interval))
            self._sources[name] = self.db.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()[0]
        if interval is not None:
            self.db.execute("UPDATE sources SET interval = ? WHERE id = ? AND interval IS NOT ?",
                            (interval, self._sources[name], interval))
        return self._sources[name]

    def _declare(self, source_id: int, metrics: dict[str, Metric]) -> None:
        """Bring each category's series to its declaration; a collector may change a unit. A
        unit or graph setting of None (a push that names none) keeps the category's own."""
        for category, metric in metrics.items():
            known = self._declarations.get((source_id, category), _NEW)
            kept = known if known not in (_NEW, None) else ("", None, True)  # None: its series disagree
            declaration = (kept[0] if metric.unit is None else metric.unit, metric.kind,
                           kept[2] if metric.graph is None else metric.graph, metric.description)
            if known is not _NEW and known != declaration:
                self.db.execute("UPDATE series SET unit = ?, kind = ?, graph = ?, description = ?"
                                " WHERE source_id = ? AND category = ?", (*declaration, source_id, category))
            self._declarations[source_id, category] = declaration

    def _add_series(self, source_id: int, points: Points) -> None:
        ids = self._series.setdefault(source_id, {})
        for category, label in zip(points.categories, points.labels):
            if (category, label) not in ids:
                ids[category, label] = self.db.execute(
                    "INSERT INTO series (source_id, category, label, unit, kind, graph, description)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (source_id, category, label, *self._declarations[source_id, category])).lastrowid

    @contextmanager
    def _transaction(self, failure: str):
        """One write transaction; a thread waits for another's. SQLite errors become StoreError."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    if self._catalog_stale:
                        self._load_catalog()
                        self._catalog_stale = False
                    yield
                    self.db.execute("COMMIT")
                except BaseException:
                    # Ids handed out in this transaction may be gone; read the catalog again
                    # in the next one. SQLite may have rolled back already (a full disk does).
                    self._catalog_stale = True
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {failure}: {error}") from None

    def _insert(self, source_id: int, points: Points, metrics: dict[str, Metric], pushed: bool = False) -> None:
        """Store points whose times and values are finite floats."""
        self._declare(source_id, metrics)
        categories, labels, times, values = points
        try:
            series = list(map(self._series.get(source_id, {}).__getitem__, zip(categories, labels)))
        except KeyError:  # series named for the first time
            self._add_series(source_id, points)
            series = list(map(self._series[source_id].__getitem__, zip(categories, labels)))
        moments = {time: round(time * 1000) for time in set(times)}  # ms; a request's points share a few times
        times = [moments[times[0]]] * len(times) if len(moments) == 1 else list(map(moments.__getitem__, times))
        table = "samples"
        # Rows per series count only at distinct times: a request of many lines at one time (as
        # Telegraf sends a host's metrics) adds one row per series, however many it names.
        if pushed and (len(set(moments.values())) < DIRECT_ROWS_PER_SERIES or
                       len(series) < DIRECT_ROWS_PER_SERIES * len(set(series))):
            table, self._unsettled = "incoming", True
        elif self._unsettled:  # what waits in `incoming` is older: it goes first, so this wins
            compaction.move_incoming(self.db)
            self._unsettled = False
        if table == "samples" and moments:
            compaction.note_late_writes(self.db, min(moments.values()))
        # A repeated time (a clock stepped back onto stored samples) replaces, never doubles.
        insert_rows(self.db, f"INSERT OR REPLACE INTO {table} (series_id, time, value) VALUES {{}}", [series, times, values])

    def write(self, source: str, time: float, values: dict[str, dict[str, float]],
              metrics: dict[str, Metric], processes: list[Process] | None = None,
              interval: float | None = None) -> None:
        """Store one sample in one transaction: all of it is durable, or none of it."""
        with self._transaction("a sample could not be stored"):
            source_id = self.source_id(source, interval)
            self._insert(source_id, _columns((category, label, time, value)
                                             for category, entries in values.items()
                                             for label, value in entries.items()), metrics)
            if processes:
                self._insert_processes(source_id, to_ms(time), processes)

    def _process_id(self, source_id: int, at: int, process: Process) -> int:
        key = (source_id, process.pid, to_ms(process.started))
        cached = self._processes.get(key)
        # Maintenance (on another connection) deletes an identity no raw block lists any more:
        # one not written for a while is looked up again rather than trusted.
        if cached is not None and at - cached[1] <= PROCESS_RECHECK_MS:
            found = cached[0]
        else:
            row = self.db.execute("SELECT id FROM processes WHERE source_id = ? AND pid = ? AND started = ?",
                                  key).fetchone()
            found = row[0] if row else self.db.execute(
                "INSERT INTO processes (source_id, pid, started, name, user, command, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (*key, process.name, process.user, process.command, at)).lastrowid
            if len(self._processes) >= PROCESS_CACHE:  # processes come and go: start afresh
                self._processes.clear()
        self._processes[key] = (found, at)
        return found

    def _insert_processes(self, source_id: int, at: int, processes: list[Process]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO process_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (source_id, at, self._process_id(source_id, at, p), p.cpu, p.rss, p.disk_read, p.disk_write, p.state)
            for p in processes])

    def write_points(self, source: str, points: list[tuple[str, str, float, float]],
                     metrics: dict[str, Metric]) -> None:
        """Store (category, label, time, value) points of one source, at any times: all or none."""
        self.write_batches([(source, _columns(points), metrics)])

    def write_batches(self, batches: list[tuple[str, Points, dict[str, Metric]]],
                      max_series_per_source: int | None = None) -> list[str | None]:
        """Store several requests' points in one transaction (a group commit); their times and
        values must be finite floats, as the ingest makes sure.

        A batch that would give its source more than `max_series_per_source` series is left out
        whole, and its place in the returned list says why; the others are stored together.
        A request with a few rows per series goes to `incoming` (`settle()` moves it into the
        head); one with more fills pages of the head by itself and goes there directly.
        """
        refusals: list[str | None] = []
        with self._transaction("points could not be stored"):
            for source, points, metrics in batches:
                # Only a request with more points than the source has room for can pass the limit.
                if max_series_per_source is not None and \
                        self.series_count(source) + len(points.labels) > max_series_per_source:
                    source_id = self._sources.get(source)
                    known = self._series.get(source_id, {})
                    new = {pair for pair in zip(points.categories, points.labels) if pair not in known}
                    if new and self.series_count(source) + len(new) > max_series_per_source:
                        refusals.append(f"source {source!r} would have more than {max_series_per_source} series")
                        continue
                self._insert(self.source_id(source), points, metrics, pushed=True)
                refusals.append(None)
        return refusals

    def settle(self) -> int:
        """Move pushed points from `incoming` into the head; returns how many."""
        with self._transaction("pushed points could not be moved into the head"):
            moved = compaction.move_incoming(self.db)
            self._unsettled = False
        return moved

    def series_count(self, source: str) -> int:
        return len(self._series.get(self._sources.get(source), ()))

    def maintain(self, now: float, keep: dict[str, float] | None = None, max_age: float | None = None,
                 budget: float | None = None, between_steps=None) -> compaction.Report:
        """Compact closed raw windows into chunks and rollups, then apply retention.

        `keep` holds the keep_raw / keep_minutes / keep_hours settings in seconds (defaults for
        those missing), each capped by `max_age`. Safe to run while another process appends:
        only windows that ended a margin before `now` are touched, each in one transaction.
        With `budget` (seconds) it stops early and the next call carries on.
        """
        kept = retention(keep or {}, max_age)
        # Not under the writer's lock as a whole: each step takes it for its own transaction, so
        # in `statsserver run` the server's pushed points get in between steps.
        try:
            return compaction.Maintenance(self.db, self._transaction, kept, to_ms(now), budget,
                                          between_steps).run()
        except (sqlite3.Error, CodecError) as error:
            # A damaged block is one logged error, not the end of the maintenance thread.
            raise StoreError(f"{self.path}: maintenance failed: {error}") from None
        finally:
            release_freed_memory()

    def expire(self, older_than: float) -> int:
        """Delete everything older than `older_than` (Unix time) at every tier; returns rows deleted."""
        cutoff = to_ms(older_than)
        with self._lock:
            deleted = compaction.expire(self.db, self._transaction, {tier.number: cutoff for tier in TIERS})
        return deleted.get("samples", 0) + deleted.get("process_samples", 0) + deleted.get("chunks", 0)

    def close(self) -> None:
        with self._lock:  # never under another thread's transaction
            self._close()

    def _close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")
        except sqlite3.OperationalError:
            # Busy: another process's writer committed as the statistics were read, and SQLite
            # will not wait for a snapshot that is already old. The statistics are a hint that
            # the next close refreshes; closing must not fail over them.
            pass
        finally:
            self.db.close()


def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator gives memory back by itself
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Hand memory that maintenance freed back to the system.

    A window's blocks are matrices of many MiB at short intervals; glibc keeps what they freed
    in its heap, so a collector's resident size would stay at the highest it ever reached.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _columns(points: Iterable[tuple[str, str, float, float]]) -> Points:
    """The (category, label, time, value) points with a finite time and value, as columns.

    A reading that is not a finite number is no reading: it is left out, not stored as a value
    the codec and the charts would have to guess about. Floats are checked inline (x - x is 0.0
    only for finite x): two calls per value would cost the collector a fifth of its write path.
    """
    kept = [(category, label, moment, number) for category, label, time, value in points
            if ((number := value) - value == 0.0 if value.__class__ is float else
                (number := _finite(value)) is not None)
            and ((moment := time) - time == 0.0 if time.__class__ is float else
                 (moment := _finite(time)) is not None)]
    return Points(*zip(*kept)) if kept else Points((), (), (), ())


def _finite(value) -> float | None:
    if value.__class__ is float:  # the usual case, without the cost of a try and a call
        return value if value - value == 0.0 else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
