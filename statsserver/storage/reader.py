"""Reading the store: the catalog, latest values, every value at a moment, and reduced ranges.

Everything that shows data (the CLI, the server) reads through this interface; it is what the
compressed tiers of the next storage engine must answer too. Times are Unix seconds.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from .database import StoreError, open_for_reading, to_ms

# How far from the asked moment a sample may lie and still count as the value "at" it, for
# sources that push at no set interval.
IRREGULAR_TOLERANCE = 600.0


@dataclass(frozen=True)
class Series:
    id: int
    source: str
    category: str
    label: str
    unit: str
    kind: str
    graph: bool
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


class Reader:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = open_for_reading(self.path)

    def _rows(self, sql: str, parameters=()) -> list[tuple]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: read failed: {error}") from None

    def sources(self) -> list[dict]:
        return [{"name": name, "interval": interval}
                for name, interval in self._rows("SELECT name, interval FROM sources ORDER BY id")]

    def interval(self, source: str) -> float | None:
        rows = self._rows("SELECT interval FROM sources WHERE name = ?", (source,))
        return rows[0][0] if rows else None

    def series(self, source: str, categories: list[str] | None = None) -> list[Series]:
        rows = self._rows(
            "SELECT series.id, sources.name, category, label, unit, kind, graph, description"
            " FROM series JOIN sources ON sources.id = series.source_id"
            " WHERE sources.name = ? ORDER BY category, series.id", (source,))
        found = [Series(*row[:6], bool(row[6]), row[7]) for row in rows]
        if categories is not None:
            wanted = set(categories)
            found = [s for s in found if s.category in wanted]
        return found

    def latest(self, source: str) -> dict[str, dict[str, tuple[float, float]]]:
        """{category: {label: (time, value)}}: each series' newest sample."""
        result: dict[str, dict[str, tuple[float, float]]] = {}
        for series in self.series(source):
            rows = self._rows("SELECT time, value FROM samples WHERE series_id = ? ORDER BY time DESC LIMIT 1",
                              (series.id,))
            if rows:
                result.setdefault(series.category, {})[series.label] = (rows[0][0] / 1000, rows[0][1])
        return result

    def last_time(self, source: str) -> float | None:
        """The newest sample's time of a source, or None when it has none."""
        return max((at for labels in self.latest(source).values() for at, _ in labels.values()), default=None)

    def since(self, source: str, after: float, limit: int = 10_000) -> list[dict]:
        """Samples stored after `after` (Unix seconds), oldest first: what the live feed sends.

        [{"time": t, "values": {category: {label: value}}}], one entry per sample time.
        """
        catalog = {s.id: s for s in self.series(source)}
        if not catalog:
            return []
        marks = ",".join("?" * len(catalog))
        by_time: dict[int, dict[str, dict[str, float]]] = {}
        for series_id, time, value in self._rows(
                f"SELECT series_id, time, value FROM samples WHERE series_id IN ({marks}) AND time > ?"
                f" ORDER BY time LIMIT ?", (*catalog, to_ms(after), limit)):
            series = catalog[series_id]
            by_time.setdefault(time, {}).setdefault(series.category, {})[series.label] = value
        return [{"time": time / 1000, "values": values} for time, values in sorted(by_time.items())]

    def moment(self, source: str, at: float, tolerance: float | None = None) -> dict:
        """Every series' sample nearest to `at`, and the process snapshot nearest to it.

        A series with no sample within `tolerance` seconds (by default two sampling intervals)
        is left out: at that moment it had no value.
        """
        if tolerance is None:
            interval = self.interval(source)
            tolerance = 2 * interval if interval else IRREGULAR_TOLERANCE
        catalog = {s.id: s for s in self.series(source)}
        low, high, target = to_ms(at - tolerance), to_ms(at + tolerance), to_ms(at)
        nearest: dict[int, tuple[int, float]] = {}
        if catalog:
            marks = ",".join("?" * len(catalog))
            for series_id, time, value in self._rows(
                    f"SELECT series_id, time, value FROM samples WHERE series_id IN ({marks})"
                    " AND time BETWEEN ? AND ?", (*catalog, low, high)):
                best = nearest.get(series_id)
                if best is None or abs(time - target) < abs(best[0] - target):
                    nearest[series_id] = (time, value)
        values: dict[str, dict[str, dict]] = {}
        for series_id, (time, value) in nearest.items():
            series = catalog[series_id]
            values.setdefault(series.category, {})[series.label] = {"time": time / 1000, "value": value}
        snapshot = self._rows(
            "SELECT process_snapshots.time, processes FROM process_snapshots"
            " JOIN sources ON sources.id = source_id WHERE sources.name = ? AND time BETWEEN ? AND ?"
            " ORDER BY abs(process_snapshots.time - ?) LIMIT 1", (source, low, high, target))
        return {
            "time": at,
            "values": values,
            "processes": json.loads(snapshot[0][1]) if snapshot else [],
            "processes_time": snapshot[0][0] / 1000 if snapshot else None,
        }

    def query(self, source: str, start: float, end: float, points: int,
              categories: list[str] | None = None) -> dict:
        """The range [start, end) reduced to at most `points` buckets of min, avg and max.

        Columnar, as uPlot wants it: one `times` array (bucket centres) and, per series, arrays
        of the same length. A bucket without samples is null. Where the source stopped sampling
        for more than two intervals, a row of nulls is put in, so a chart shows a hole rather
        than a line across it.
        """
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
            raise ValueError("the range must have a finite start before its end")
        if points < 1:
            raise ValueError("points must be at least 1")
        interval = self.interval(source)
        # Narrower buckets than the sampling interval would only add empty ones.
        width = max(to_ms(end - start) / points, to_ms(interval or 0), 1)
        width = math.ceil(width)
        selected = self.series(source, categories)
        result = {"start": start, "end": end, "step": width / 1000, "times": [],
                  "series": [{**s.as_dict(), "min": [], "avg": [], "max": []} for s in selected]}
        if not selected:
            return result
        index = {s.id: i for i, s in enumerate(selected)}
        low = to_ms(start)
        marks = ",".join("?" * len(selected))
        rows = self._rows(
            f"SELECT series_id, (time - ?) / ? AS bucket, min(value), avg(value), max(value)"
            f" FROM samples WHERE series_id IN ({marks}) AND time >= ? AND time < ?"
            f" GROUP BY series_id, bucket", (low, width, *index, low, to_ms(end)))
        buckets = sorted({row[1] for row in rows})
        if interval:
            buckets = _with_gaps(buckets, gap_buckets=1 + 2 * to_ms(interval) / width)
        position = {bucket: i for i, bucket in enumerate(buckets)}
        columns = [{name: [None] * len(buckets) for name in ("min", "avg", "max")} for _ in selected]
        for series_id, bucket, low_value, mean, high_value in rows:
            column, at = columns[index[series_id]], position[bucket]
            column["min"][at], column["avg"][at], column["max"][at] = low_value, mean, high_value
        result["times"] = [(low + (bucket + 0.5) * width) / 1000 for bucket in buckets]
        for entry, column in zip(result["series"], columns):
            entry.update(column)
        return result


def _with_gaps(buckets: list[int], gap_buckets: float) -> list[float]:
    """Put a marker bucket (which no row fills, so it stays null) into each gap in the data."""
    if not buckets:
        return buckets
    result: list[float] = [buckets[0]]
    for previous, bucket in zip(buckets, buckets[1:]):
        if bucket - previous > gap_buckets:
            result.append(previous + 0.5)
        result.append(bucket)
    return result
