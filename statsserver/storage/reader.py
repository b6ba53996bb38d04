"""Reading the store: the catalog, latest values, every value at a moment, and reduced ranges.

Everything that shows data (the CLI, the server) reads through this interface. Times are Unix
seconds. Data lives in three places, and a reader combines them: the head (recent samples, one
row each), raw chunks (closed windows, compressed) and the rollup tiers (chunks, plus buckets
not yet packed). Readers never block the writer: WAL gives each read a snapshot.
"""

from __future__ import annotations

import json
import math

import numpy as np
from bisect import bisect_left, bisect_right
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from . import planner
from .chunks import decode_raw, decode_raw_array, decode_rollup, decode_rollup_arrays, decode_times, \
    decode_times_array
from .codec import CodecError
from .database import StoreError, open_for_reading, to_ms
from .tiers import BY_NUMBER, RAW, ROLLUPS

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

    def _raw_windows(self, source: str, ids: list[int], low: int, high: int, decode=decode_times):
        """(window times, {series id: chunk blob}) for each raw window overlapping [low, high]."""
        windows = self._rows(
            "SELECT windows.start, times FROM windows JOIN sources ON sources.id = source_id"
            " WHERE sources.name = ? AND windows.start > ? AND windows.start <= ? ORDER BY windows.start",
            (source, low - RAW.span_ms, high))
        if not windows or not ids:
            return
        blobs: dict[int, dict[int, bytes]] = {}
        for series_id, start, data in self._rows(
                f"SELECT series_id, start, data FROM chunks WHERE tier = 0 AND series_id IN ({_marks(ids)})"
                " AND start > ? AND start <= ?", (*ids, low - RAW.span_ms, high)):
            blobs.setdefault(start, {})[series_id] = data
        for start, times in windows:
            yield self._decoded(decode, times), blobs.get(start, {})

    def _decoded(self, decode, *arguments):
        try:
            return decode(*arguments)
        except CodecError as error:
            raise StoreError(f"{self.path}: {error}") from None

    def latest(self, source: str) -> dict[str, dict[str, tuple[float, float]]]:
        """{category: {label: (time, value)}}: each series' newest sample."""
        result: dict[str, dict[str, tuple[float, float]]] = {}
        for series in self.series(source):
            rows = self._rows("SELECT time, value FROM samples WHERE series_id = ? ORDER BY time DESC LIMIT 1",
                              (series.id,))
            if not rows:  # all of it compacted: the last value of its newest raw chunk
                chunk = self._rows(
                    "SELECT chunks.data, windows.times FROM chunks JOIN windows ON windows.start = chunks.start"
                    " AND windows.source_id = (SELECT source_id FROM series WHERE id = ?)"
                    " WHERE chunks.tier = 0 AND chunks.series_id = ? ORDER BY chunks.start DESC LIMIT 1",
                    (series.id, series.id))
                if chunk:
                    times, values = self._decoded(decode_raw, chunk[0][0], self._decoded(decode_times, chunk[0][1]))
                    rows = [(times[-1], values[-1])]
            if rows:
                result.setdefault(series.category, {})[series.label] = (rows[0][0] / 1000, rows[0][1])
        return result

    def moment(self, source: str, at: float, tolerance: float | None = None) -> dict:
        """Every series' sample nearest to `at`, and the process snapshot nearest to it.

        A series with no sample within `tolerance` seconds (by default two sampling intervals)
        is left out: at that moment it had no value. Where raw samples have expired, the value is
        the average of the finest rollup bucket holding `at`, timed at the bucket's centre.
        """
        if tolerance is None:
            interval = self.interval(source)
            tolerance = 2 * interval if interval else IRREGULAR_TOLERANCE
        catalog = {s.id: s for s in self.series(source)}
        low, high, target = to_ms(at - tolerance), to_ms(at + tolerance), to_ms(at)
        nearest: dict[int, tuple[int, float]] = {}

        def consider(series_id: int, time: int, value: float) -> None:
            best = nearest.get(series_id)
            if best is None or abs(time - target) < abs(best[0] - target):
                nearest[series_id] = (time, value)

        if catalog:
            ids = list(catalog)
            for series_id, time, value in self._rows(
                    f"SELECT series_id, time, value FROM samples WHERE series_id IN ({_marks(ids)})"
                    " AND time BETWEEN ? AND ?", (*ids, low, high)):
                consider(series_id, time, value)
            for window_times, blobs in self._raw_windows(source, ids, low, high):
                for series_id, blob in blobs.items():
                    times, values = self._decoded(decode_raw, blob, window_times)
                    first, last = bisect_left(times, low), bisect_right(times, high)
                    for time, value in zip(times[first:last], values[first:last]):
                        consider(series_id, time, value)
            missing = [i for i in ids if i not in nearest]
            for tier in ROLLUPS:
                if not missing:
                    break
                for series_id, (start, value) in self._bucket_at(tier, missing, target).items():
                    nearest[series_id] = (start + tier.step_ms // 2, value)
                missing = [i for i in missing if i not in nearest]
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

    def _bucket_at(self, tier, ids: list[int], at: int) -> dict[int, tuple[int, float]]:
        """{series id: (bucket start, average)} for the bucket of `tier` that holds `at`."""
        bucket = at - at % tier.step_ms
        found: dict[int, list] = {}
        for series_id, low, high, total, count in self._rows(
                f"SELECT series_id, min, max, sum, count FROM rollups WHERE tier = ? AND start = ?"
                f" AND series_id IN ({_marks(ids)})", (tier.number, bucket, *ids)):
            found[series_id] = [total, count]
        for series_id, start, blob in self._rows(
                f"SELECT series_id, start, data FROM chunks WHERE tier = ? AND start > ? AND start <= ?"
                f" AND series_id IN ({_marks(ids)})", (tier.number, at - tier.span_ms, at, *ids)):
            buckets = self._decoded(decode_rollup, blob, start, tier.step_ms)
            i = bisect_left(buckets.starts, bucket)
            if i < len(buckets) and buckets.starts[i] == bucket:
                entry = found.setdefault(series_id, [0.0, 0])
                entry[0] += buckets.sums[i]
                entry[1] += buckets.counts[i]
        return {series_id: (bucket, total / count) for series_id, (total, count) in found.items() if count}

    def _has_data(self, tier, series_id: int, low: int, high: int) -> bool:
        """Whether `tier` holds anything for the series in [low, high): index seeks only."""
        if self._rows("SELECT 1 FROM chunks WHERE tier = ? AND series_id = ? AND start > ? AND start < ? LIMIT 1",
                      (tier.number, series_id, low - tier.span_ms, high)):
            return True
        if tier is RAW:
            return bool(self._rows("SELECT 1 FROM samples WHERE series_id = ? AND time >= ? AND time < ? LIMIT 1",
                                   (series_id, low, high)))
        return bool(self._rows(
            "SELECT 1 FROM rollups WHERE tier = ? AND series_id = ? AND start > ? AND start < ? LIMIT 1",
            (tier.number, series_id, low - tier.step_ms, high)))

    def query(self, source: str, start: float, end: float, points: int,
              categories: list[str] | None = None, tier: str | None = None) -> dict:
        """The range [start, end) reduced to at most `points` buckets of min, avg and max.

        Columnar, as uPlot wants it: one `times` array (bucket centres) and, per series, arrays
        of the same length. A bucket without samples is null. Where the source stopped sampling
        for more than two intervals, a row of nulls is put in, so a chart shows a hole rather
        than a line across it. The answer comes from the coarsest tier that still gives `points`
        buckets (see planner); `tier` (a tier name) forces one, and the answer names the tier.
        """
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
            raise ValueError("the range must have a finite start before its end")
        if points < 1:
            raise ValueError("points must be at least 1")
        interval = self.interval(source)
        selected = self.series(source, categories)
        low, high = to_ms(start), to_ms(end)
        ids = [s.id for s in selected]
        if tier is not None:
            chosen = next((t for t in (RAW, *ROLLUPS) if t.name == tier), None)
            if chosen is None:
                raise ValueError(f"no tier named {tier!r}")
        elif ids:
            chosen = planner.choose_tier(low, high, points, lambda t: self._has_data(t, ids[0], low, high))
        else:
            chosen = RAW
        plan = planner.plan(chosen, low, high, points, to_ms(interval or 0))
        result = {"start": start, "end": end, "step": plan.width / 1000, "tier": chosen.name, "times": [],
                  "series": [{**s.as_dict(), "min": [], "avg": [], "max": []} for s in selected]}
        if not selected:
            return result
        columns = {series_id: planner.Columns(plan.count) for series_id in ids}
        if chosen is RAW:
            self._fold_raw(source, ids, plan, low, high, columns)
        else:
            # A rollup tier answers whole buckets: the range widens to the tier's grid, and the
            # head's samples are taken over the same widened range.
            low, high = plan.origin, plan.end
            self._fold_rollups(chosen, ids, plan, high, columns)
        self._fold_head(ids, plan, low, high, columns)
        filled = sum(c.counts for c in columns.values())
        buckets = np.flatnonzero(filled).tolist()
        if interval:
            buckets = _with_gaps(buckets, gap_buckets=1 + 2 * to_ms(interval) / plan.width)
        picked = None
        if len(buckets) != plan.count:
            picked = np.array([b if isinstance(b, int) else -1 for b in buckets], np.int64)
        result["times"] = [(plan.origin + (bucket + 0.5) * plan.width) / 1000 for bucket in buckets]
        for entry, series_id in zip(result["series"], ids):
            entry["min"], entry["avg"], entry["max"] = columns[series_id].results(picked)
        return result

    def _fold_raw(self, source, ids, plan, low, high, columns) -> None:
        for window_times, blobs in self._raw_windows(source, ids, low, high - 1, decode=decode_times_array):
            shared = planner.Grouping(window_times, plan, low, high)
            if not len(shared):
                continue
            for series_id, blob in blobs.items():
                times, values = self._decoded(decode_raw_array, blob, window_times)
                grouping = shared if times is window_times else planner.Grouping(times, plan, low, high)
                columns[series_id].fold_values(values, grouping)

    def _fold_rollups(self, tier, ids, plan, high, columns) -> None:
        for series_id, start, blob in self._rows(
                f"SELECT series_id, start, data FROM chunks WHERE tier = ? AND series_id IN ({_marks(ids)})"
                " AND start > ? AND start < ?",
                (tier.number, *ids, plan.origin - tier.span_ms, high)):
            starts, *aggregates = self._decoded(decode_rollup_arrays, blob, start, tier.step_ms)
            columns[series_id].fold_buckets(planner.Grouping(starts, plan, plan.origin, high), *aggregates)
        self._fold_grouped(columns, (
            f"SELECT series_id, (start - ?) / ? AS bucket, min(min), max(max), sum(sum), sum(count)"
            f" FROM rollups WHERE tier = ? AND series_id IN ({_marks(ids)}) AND start >= ? AND start < ?"
            f" GROUP BY series_id, bucket"), (plan.origin, plan.width, tier.number, *ids, plan.origin, high))

    def _fold_head(self, ids, plan, low, high, columns) -> None:
        self._fold_grouped(columns, (
            f"SELECT series_id, (time - ?) / ? AS bucket, min(value), max(value), sum(value), count(*)"
            f" FROM samples WHERE series_id IN ({_marks(ids)}) AND time >= ? AND time < ?"
            f" GROUP BY series_id, bucket"), (plan.origin, plan.width, *ids, low, high))

    def _fold_grouped(self, columns, sql: str, parameters) -> None:
        """Rows of (series, bucket, min, max, sum, count), aggregated by SQLite, folded in."""
        by_series: dict[int, list] = {}
        for row in self._rows(sql, parameters):
            by_series.setdefault(row[0], []).append(row[1:])
        for series_id, rows in by_series.items():
            bucket, low_value, high_value, total, count = (np.array(column) for column in zip(*rows))
            columns[series_id].merge(bucket.astype(np.int64), low_value, high_value, total, count)


def _marks(items) -> str:
    return ",".join("?" * len(items))


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
