"""The one writer: stores samples and process snapshots, and deletes what is past max_age."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..collectors.base import Metric
from ..collectors.processes import Process
from .database import StoreError, open_for_writing, to_ms


class Writer:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = open_for_writing(self.path)
        self._load_catalog()

    def _load_catalog(self) -> None:
        # Ids handed out inside a rolled-back transaction do not exist, so after a rollback the
        # catalog is read again from the file.
        self._sources: dict[str, int] = dict(self.db.execute("SELECT name, id FROM sources"))
        self._series: dict[tuple[int, str, str], int] = {}
        self._metadata: dict[int, tuple] = {}
        for row in self.db.execute("SELECT id, source_id, category, label, unit, kind, graph, description FROM series"):
            self._series[row[1], row[2], row[3]] = row[0]
            self._metadata[row[0]] = (row[4], row[5], bool(row[6]), row[7])

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
        elif self._metadata.get(series) != metadata:  # a collector changed its declaration
            self.db.execute("UPDATE series SET unit = ?, kind = ?, graph = ?, description = ? WHERE id = ?",
                            (*metadata, series))
        self._metadata[series] = metadata
        return series

    def write(self, source: str, time: float, values: dict[str, dict[str, float]],
              metrics: dict[str, Metric], processes: list[Process] | None = None,
              interval: float | None = None) -> None:
        """Store one sample in one transaction: all of it is durable, or none of it."""
        at = to_ms(time)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                source_id = self.source_id(source, interval)
                rows = [
                    (self._series_id(source_id, category, label, metrics[category]), at, value)
                    for category, entries in values.items()
                    for label, value in entries.items()
                ]
                # A repeated time (a clock stepped back onto stored samples) replaces, never doubles.
                self.db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)", rows)
                if processes:
                    self.db.execute("INSERT OR REPLACE INTO process_snapshots VALUES (?, ?, ?)",
                                    (source_id, at, json.dumps([p.as_dict() for p in processes])))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                self._load_catalog()
                raise
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: a sample could not be stored: {error}") from None

    def expire(self, older_than: float) -> int:
        """Delete samples and snapshots older than `older_than` (Unix time); returns rows deleted."""
        cutoff = to_ms(older_than)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            # Through the primary keys, series by series, rather than a scan of the whole table.
            deleted = self.db.execute(
                "DELETE FROM samples WHERE series_id IN (SELECT id FROM series) AND time < ?",
                (cutoff,)).rowcount
            deleted += self.db.execute(
                "DELETE FROM process_snapshots WHERE source_id IN (SELECT id FROM sources) AND time < ?",
                (cutoff,)).rowcount
            self.db.execute("COMMIT")
        except sqlite3.Error as error:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise StoreError(f"{self.path}: old samples could not be deleted: {error}") from None
        return deleted

    def close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")
        finally:
            self.db.close()
