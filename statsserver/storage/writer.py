"""The one writer: stores samples and process snapshots, and deletes what is past max_age."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from ..collectors.base import Metric
from ..collectors.processes import Process
from .database import StoreError, open_for_writing, to_ms


class Writer:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = open_for_writing(self.path)
        self._lock = threading.RLock()  # `statsserver run`: the generator and the server share it
        self._load_catalog()

    def _load_catalog(self) -> None:
        # Ids handed out inside a rolled-back transaction do not exist, so after a rollback the
        # catalog is read again from the file.
        self._sources: dict[str, int] = dict(self.db.execute("SELECT name, id FROM sources"))
        self._series: dict[tuple[int, str, str], int] = {}
        self._metadata: dict[int, tuple] = {}
        self._series_per_source: dict[int, int] = {}
        for row in self.db.execute("SELECT id, source_id, category, label, unit, kind, graph, description FROM series"):
            self._series[row[1], row[2], row[3]] = row[0]
            self._metadata[row[0]] = (row[4], row[5], bool(row[6]), row[7])
            self._series_per_source[row[1]] = self._series_per_source.get(row[1], 0) + 1

    def source_id(self, name: str, interval: float | None = None) -> int:
        if name not in self._sources:
            self.db.execute("INSERT OR IGNORE INTO sources (name, interval) VALUES (?, ?)", (name, interval))
            self._sources[name] = self.db.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()[0]
        if interval is not None:
            self.db.execute("UPDATE sources SET interval = ? WHERE id = ? AND interval IS NOT ?",
                            (interval, self._sources[name], interval))
        return self._sources[name]

    def _series_id(self, source: int, category: str, label: str, metric: Metric) -> int:
        metadata = (metric.unit, metric.kind, metric.graph, metric.description)
        key = (source, category, label)
        series = self._series.get(key)
        if series is None:
            series = self.db.execute(
                "INSERT INTO series (source_id, category, label, unit, kind, graph, description)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (*key, *metadata)).lastrowid
            self._series[key] = series
            self._series_per_source[source] = self._series_per_source.get(source, 0) + 1
        elif self._metadata.get(series) != metadata:  # a collector changed its declaration
            self.db.execute("UPDATE series SET unit = ?, kind = ?, graph = ?, description = ? WHERE id = ?",
                            (*metadata, series))
        self._metadata[series] = metadata
        return series

    @contextmanager
    def _transaction(self, failure: str):
        """One write transaction; a thread waits for another's. SQLite errors become StoreError."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.execute("ROLLBACK")
                    self._load_catalog()
                    raise
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {failure}: {error}") from None

    def _insert(self, source_id: int, points: Iterable[tuple[str, str, float, float]],
                metrics: dict[str, Metric]) -> None:
        rows = []
        checked: set[int] = set()  # series whose metadata this call has compared already
        known = self._series
        for category, label, time, value in points:
            series = known.get((source_id, category, label))
            if series is None or series not in checked:
                series = self._series_id(source_id, category, label, metrics[category])
                checked.add(series)
            rows.append((series, int(time * 1000 + 0.5), value))
        # A repeated time (a clock stepped back onto stored samples) replaces, never doubles.
        self.db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)

    def write(self, source: str, time: float, values: dict[str, dict[str, float]],
              metrics: dict[str, Metric], processes: list[Process] | None = None,
              interval: float | None = None) -> None:
        """Store one sample in one transaction: all of it is durable, or none of it."""
        with self._transaction("a sample could not be stored"):
            source_id = self.source_id(source, interval)
            self._insert(source_id, ((category, label, time, value)
                                     for category, entries in values.items()
                                     for label, value in entries.items()), metrics)
            if processes:
                self.db.execute("INSERT OR REPLACE INTO process_snapshots VALUES (?, ?, ?)",
                                (source_id, to_ms(time), json.dumps([p.as_dict() for p in processes])))

    def write_points(self, source: str, points: list[tuple[str, str, float, float]],
                     metrics: dict[str, Metric]) -> None:
        """Store (category, label, time, value) points of one source, at any times: all or none."""
        self.write_batches([(source, points, metrics)])

    def write_batches(self, batches: list[tuple[str, list[tuple[str, str, float, float]], dict[str, Metric]]],
                      max_series_per_source: int | None = None) -> list[str | None]:
        """Store several requests' points in one transaction (a group commit).

        A batch that would give its source more than `max_series_per_source` series is left out
        whole, and its place in the returned list says why; the others are stored together.
        """
        refusals: list[str | None] = []
        with self._transaction("points could not be stored"):
            for source, points, metrics in batches:
                if max_series_per_source is not None:
                    source_id = self._sources.get(source)
                    new = {(category, label) for category, label, _, _ in points
                           if (source_id, category, label) not in self._series}
                    if new and self.series_count(source) + len(new) > max_series_per_source:
                        refusals.append(f"source {source!r} would have more than {max_series_per_source} series")
                        continue
                self._insert(self.source_id(source), points, metrics)
                refusals.append(None)
        return refusals

    def series_count(self, source: str) -> int:
        source_id = self._sources.get(source)
        return self._series_per_source.get(source_id, 0)

    def expire(self, older_than: float) -> int:
        """Delete samples and snapshots older than `older_than` (Unix time); returns rows deleted."""
        cutoff = to_ms(older_than)
        with self._transaction("old samples could not be deleted"):
            # Through the primary keys, series by series, rather than a scan of the whole table.
            deleted = self.db.execute(
                "DELETE FROM samples WHERE series_id IN (SELECT id FROM series) AND time < ?",
                (cutoff,)).rowcount
            deleted += self.db.execute(
                "DELETE FROM process_snapshots WHERE source_id IN (SELECT id FROM sources) AND time < ?",
                (cutoff,)).rowcount
        return deleted

    def close(self) -> None:
        with self._lock:  # never under another thread's transaction
            self._close()

    def _close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")
        finally:
            self.db.close()
