"""Reading the store: the catalog, latest values, every value at a moment, and reduced ranges.

Everything that shows data (the CLI, the server) reads through this interface. Times are Unix
seconds. Data lives in three places, and a reader combines them: the head (recent samples, one
row each), raw blocks (closed windows, compressed, a block per category) and the rollup tiers
(blocks, plus buckets not yet packed). Readers never block the writer: WAL gives each read a snapshot.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import planner
from .catalog import Catalog, Series
from .chunks import decode_raw_block, decode_rollup_block, decode_times_array
from .codec import CodecError
from .database import StoreError, open_for_reading, to_ms
from . import processes as history
from .tiers import MINUTE, RAW, ROLLUPS, Tier

_NEVER = 1 << 62  # ms, later than any stored time
# The blocks of some groups whose start lies in a range (its bounds the last two parameters).
_WINDOWS = ("SELECT windows.start, windows.times, chunks.data FROM windows JOIN chunks ON chunks.tier = 0"
            " AND chunks.group_id IN (%s) AND chunks.start = windows.start"
            " WHERE windows.source_id = ? AND windows.start > ? AND windows.start < ? ORDER BY windows.start")
_CHUNKS = "SELECT start, data FROM chunks WHERE tier = ? AND group_id IN (%s) AND start > ? AND start < ?"
# What a reader keeps until the next commit, for a chart's next query: the series asked for, the
# rows of the blocks read, the head, a tier's unpacked rollups and its runs, and the JSON of a long
# range's unsettled end (answers.py). A dashboard's charts.
KEPT = 64

# How far from the asked moment a sample may lie and still count as the value "at" it, for
# sources that push at no set interval.
IRREGULAR_TOLERANCE = 600.0


class Planned(NamedTuple):
    """A range query as Reader.planned makes it."""
    start: float  # s, as asked
    end: float
    selected: list[Series]  # the series asked for
    layout: planner.Output  # their output rows, with nothing folded
    plan: planner.Plan
    rows: tuple  # of the blocks the plan folds (see Reader._blocks)
    interval: float | None  # s between the source's samples; None for pushed, irregular data


class DecodedBlocks:
    """Blocks decoded lately (and, as answers.SETTLED, what was made from them), shared by every
    reader of the process.

    A closed window's block is asked for again by every refresh of a chart that shows it;
    decoding is most of a range query's time. Keyed by the block's bytes, so a block rewritten
    (late data) is simply another key, and an entry can never be stale. The arrays are
    read-only: a caller changing one in place would change it for everyone.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.size = 0
        self.entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0

    def get(self, decode, blob):
        """`decode(blob)`, decoded once; `blob` is bytes, or a tuple of rows holding them."""
        return self.kept((decode, blob), lambda: decode(blob))

    def kept(self, key: tuple, make):
        """`make()`, made once for `key`; what either holds (bytes and arrays) counts against
        the budget."""
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found[0]
        made = make()
        size = _frozen_size(key) + _frozen_size(made)
        with self.lock:
            if key not in self.entries and size <= self.budget:
                self.entries[key] = (made, size)
                self.size += size
            while self.size > self.budget and self.entries:
                self.size -= self.entries.popitem(last=False)[1][1]
        return made


def _frozen_size(value) -> int:
    """The bytes `value` holds (bytes, arrays, and tuples or lists of them), its arrays made
    read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value.nbytes
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(_frozen_size(item) for item in value)
    return 0


# A year at one minute for a busy machine's dashboard is a few MiB decoded.
DECODED = DecodedBlocks(32 * 2**20)


class Reader:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = open_for_reading(self.path)
        self._catalog: Catalog | None = None
        # PRAGMA data_version as of the last catalog check: it moves on every commit by anyone else.
        self.version: int | None = None
        # The head and the unpacked rollups of a set of series, as matrices, until the next
        # commit: they are the parts of a range query read row by row, and every chart of the
        # last hour (of a month) reads all of them.
        self._kept_rows: dict[bytes | tuple, object] = {}

    def _rows(self, sql: str, parameters=()) -> list[tuple]:
        try:
            return self.db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: read failed: {error}") from None

    def catalog(self) -> Catalog:
        """The catalog as of the last commit (read again only after one)."""
        version = self._rows("PRAGMA data_version")[0][0]
        if self._catalog is None or version != self.version:
            # One snapshot for the three, so that no series is read without its source or group
            # (the caller's, when it has one open).
            own = not self.db.in_transaction
            if own:
                self._rows("BEGIN")
            try:
                self._catalog = Catalog(self._rows(Catalog.SOURCES), self._rows(Catalog.SERIES),
                                        self._rows(Catalog.GROUPS))
            finally:
                if own:
                    self._rows("COMMIT")
            self.version = version
            self._kept_rows = {}
        return self._catalog

    def sources(self) -> list[dict]:
        return [{"name": source.name, "interval": source.interval} for source in self.catalog().sources]

    def interval(self, source: str) -> float | None:
        found = self.catalog().by_name.get(source)
        return found.interval if found else None

    def series(self, source: str, categories: list[str] | None = None) -> list[Series]:
        return self.catalog().series(source, categories)

    def _checked(self, decode, *blobs):
        try:
            return decode(*blobs)
        except CodecError as error:
            raise StoreError(f"{self.path}: {error}") from None

    def _decoded(self, decode, blob: bytes):
        """A metric block or window's times, decoded once for every reader of the process."""
        return self._checked(DECODED.get, decode, blob)

    def _window_rows(self, source_id: int | None, groups: list[int], low: int, high: int) -> tuple:
        """(window start, times blob, block blob) of each raw block of `groups` in the windows
        overlapping [low, high), in time order."""
        if source_id is None or not groups:
            return ()
        return tuple(self._rows(_WINDOWS % _marks(groups), (*groups, source_id, low - RAW.span_ms, high)))

    def _raw_blocks(self, source_id: int | None, groups: list[int], low: int, high: int):
        """(window times, [block blob, ...]) for each raw window overlapping [low, high) that
        holds a block of `groups`."""
        rows = self._window_rows(source_id, groups, low, high)
        for _, window in itertools.groupby(rows, key=lambda row: row[0]):
            window = list(window)
            yield self._decoded(decode_times_array, window[0][1]), [data for _, _, data in window]

    def latest(self, source: str) -> dict[str, dict[str, tuple[float, float]]]:
        """{category: {label: (time, value)}}: each series' newest sample."""
        result: dict[str, dict[str, tuple[float, float]]] = {}
        catalog = self.series(source)
        newest: dict[int, tuple[int, float]] = {}
        for series in catalog:
            rows = self._rows("SELECT time, value FROM head WHERE series_id = ? ORDER BY time DESC LIMIT 1",
                              (series.id,))
            if rows:
                newest[series.id] = rows[0]
        missing = {s.id for s in catalog if s.id not in newest}
        if missing:  # all of it compacted: the newest raw block that has the series
            for group in self.catalog().groups(source, {s.category for s in catalog if s.id in missing}):
                found = self._rows(
                    "SELECT chunks.data, windows.times FROM chunks JOIN windows ON windows.start = chunks.start"
                    " AND windows.source_id = (SELECT source_id FROM groups WHERE id = ?)"
                    " WHERE chunks.tier = 0 AND chunks.group_id = ? ORDER BY chunks.start DESC LIMIT 1",
                    (group, group))
                if not found:
                    continue
                ids, values, _ = self._decoded(decode_raw_block, found[0][0])
                times = self._decoded(decode_times_array, found[0][1])
                for series_id, row in zip(ids.tolist(), values):
                    present = np.flatnonzero(~np.isnan(row))
                    if series_id in missing and len(present):
                        newest[series_id] = (int(times[present[-1]]), float(row[present[-1]]))
        for series in catalog:
            if series.id in newest:
                time, value = newest[series.id]
                result.setdefault(series.category, {})[series.label] = (time / 1000, value)
        return result

    def last_time(self, source: str) -> float | None:
        """The newest sample's time of a source, or None when it has none."""
        return max((at for labels in self.latest(source).values() for at, _ in labels.values()), default=None)

    def since(self, source: str, after: float, until: float | None = None, limit: int = 10_000) -> list[dict]:
        """Samples stored after `after` up to `until` (Unix seconds), oldest first: what the live
        feed sends.

        [{"time": t, "values": {category: {label: value}}}], one entry per sample time.
        """
        catalog = {s.id: s for s in self.series(source)}
        if not catalog:
            return []
        marks = ",".join("?" * len(catalog))
        by_time: dict[int, dict[str, dict[str, float]]] = {}
        for series_id, time, value in self._rows(
                f"SELECT series_id, time, value FROM head WHERE series_id IN ({marks}) AND time > ? AND time <= ?"
                f" ORDER BY time LIMIT ?", (*catalog, to_ms(after), _NEVER if until is None else to_ms(until), limit)):
            series = catalog[series_id]
            by_time.setdefault(time, {}).setdefault(series.category, {})[series.label] = value
        return [{"time": time / 1000, "values": values} for time, values in sorted(by_time.items())]

    def moment(self, source: str, at: float, tolerance: float | None = None) -> dict:
        """Every series' sample nearest to `at`, and the process snapshot nearest to it.

        A series with no sample within `tolerance` seconds (by default two sampling intervals)
        is left out: at that moment it had no value. Where raw samples have expired, the value is
        the average of the finest rollup bucket holding `at`, timed at the bucket's centre.
        """
        known = self.catalog()  # once: each look-up asks SQLite whether anything was committed
        found = known.by_name.get(source)
        if tolerance is None:
            tolerance = 2 * found.interval if found and found.interval else IRREGULAR_TOLERANCE
        catalog = {s.id: s for s in known.series(source)}
        low, high, target = to_ms(at - tolerance), to_ms(at + tolerance), to_ms(at)
        nearest: dict[int, tuple[int, float]] = {}

        def consider(series_id: int, time: int, value: float) -> None:
            best = nearest.get(series_id)
            if best is None or abs(time - target) < abs(best[0] - target):
                nearest[series_id] = (time, value)

        if catalog:
            ids = list(catalog)
            for series_id, time, value in self._rows(
                    f"SELECT series_id, time, value FROM head WHERE series_id IN ({_marks(ids)})"
                    " AND time BETWEEN ? AND ?", (*ids, low, high)):
                consider(series_id, time, value)
            groups = known.groups(source)
            for times, blobs in self._raw_blocks(found.id, groups, low, high + 1):
                first, last = np.searchsorted(times, low), np.searchsorted(times, high, side="right")
                if first >= last:
                    continue
                window = times[first:last]
                closest = np.argsort(np.abs(window - target), kind="stable")
                for blob in blobs:
                    block_ids, values, _ = self._decoded(decode_raw_block, blob)
                    for series_id, row in zip(block_ids.tolist(), values[:, first:last]):
                        present = closest[~np.isnan(row[closest])]
                        if series_id in catalog and len(present):
                            consider(series_id, int(window[present[0]]), float(row[present[0]]))
            missing = [i for i in ids if i not in nearest]
            for tier in ROLLUPS:
                if not missing:
                    break
                for series_id, (start, value) in self._bucket_at(tier, groups, missing, target).items():
                    nearest[series_id] = (start + tier.step_ms // 2, value)
                missing = [i for i in missing if i not in nearest]
        values: dict[str, dict[str, dict]] = {}
        for series_id, (time, value) in nearest.items():
            series = catalog[series_id]
            values.setdefault(series.category, {})[series.label] = {"time": time / 1000, "value": value}
        listed = self.processes_at(source, at, tolerance)
        return {"time": at, "values": values, "processes": listed["processes"],
                "processes_time": listed["time"], "processes_tier": listed["tier"]}

    def _bucket_at(self, tier: Tier, groups: list[int], ids: list[int], at: int) -> dict[int, tuple[int, float]]:
        """{series id: (bucket start, average)} for the bucket of `tier` that holds `at`, from
        rollup rows and the blocks of `groups`."""
        bucket = at - at % tier.step_ms
        found: dict[int, list] = {}
        for series_id, total, count in self._rows(
                f"SELECT series_id, sum, count FROM rollups WHERE tier = ? AND start = ?"
                f" AND series_id IN ({_marks(ids)})", (tier.number, bucket, *ids)):
            found[series_id] = [total, count]
        wanted = set(ids)
        for start, blob in self._rows(
                f"SELECT start, data FROM chunks WHERE tier = ? AND start > ? AND start <= ?"
                f" AND group_id IN ({_marks(groups)})", (tier.number, at - tier.span_ms, at, *groups)):
            block_ids, (_, _, sums, counts) = self._decoded(decode_rollup_block, blob)
            column = (bucket - start) // tier.step_ms
            for series_id, total, count in zip(block_ids.tolist(), sums[:, column].tolist(),
                                               counts[:, column].tolist()):
                if series_id in wanted and count:
                    entry = found.setdefault(series_id, [0.0, 0])
                    entry[0] += total
                    entry[1] += count
        return {series_id: (bucket, total / count) for series_id, (total, count) in found.items() if count}

    # --- process history ---------------------------------------------------------------------

    def _source_id(self, source: str) -> int | None:
        found = self.catalog().by_name.get(source)
        return found.id if found else None

    def _process_blocks(self, source_id: int, tier: int, low: int, high: int) -> list[tuple[int, int, bytes, bytes]]:
        """(start, end, times blob, data blob) of the process blocks overlapping [low, high]."""
        return self._rows("SELECT start, end, times, data FROM process_chunks WHERE source_id = ? AND tier = ?"
                          " AND start > ? AND start <= ? ORDER BY start",
                          (source_id, tier, low - RAW.span_ms, high))

    def _identities(self, ids) -> dict[int, tuple]:
        ids = list(ids)
        return {row[0]: row[1:] for row in self._rows(
            f"SELECT id, pid, started, name, user, command FROM processes WHERE id IN ({_marks(ids)})", ids)}

    def processes_at(self, source: str, at: float, tolerance: float | None = None) -> dict:
        """The process list nearest to `at`: {"time", "tier", "processes": [...]}.

        The nearest sample's list within `tolerance` (default two intervals), from the head or a
        raw block; where raw has expired, the top processes of the minute holding `at`, timed at
        the minute's start. Biggest CPU first.
        """
        found = self.catalog().by_name.get(source)
        if tolerance is None:
            tolerance = 2 * found.interval if found and found.interval else IRREGULAR_TOLERANCE
        empty = {"time": None, "tier": None, "processes": []}
        if found is None:
            return empty
        source_id = found.id
        low, high, target = to_ms(at - tolerance), to_ms(at + tolerance), to_ms(at)
        best: tuple | None = None  # (distance, time, tier, block start, block)
        head = self._rows("SELECT time FROM process_samples WHERE source_id = ? AND time BETWEEN ? AND ?"
                          " ORDER BY abs(time - ?) LIMIT 1", (source_id, low, high, target))
        if head:
            best = (abs(head[0][0] - target), head[0][0], "head", None)
        for start, _, times_blob, data_blob in self._process_blocks(source_id, history.RAW_TIER, low, high):
            times = self._checked(history.decode_times, times_blob)
            inside = times[(times >= low) & (times <= high)]
            if len(inside):
                nearest = int(inside[np.argmin(np.abs(inside - target))])
                if best is None or abs(nearest - target) < best[0]:
                    best = (abs(nearest - target), nearest, "raw", (times_blob, data_blob))
        legacy = self._rows("SELECT time, processes FROM process_snapshots WHERE source_id = ? AND time BETWEEN ? AND ?"
                            " ORDER BY abs(time - ?) LIMIT 1", (source_id, low, high, target))
        if legacy and (best is None or abs(legacy[0][0] - target) < best[0]):
            # Not converted by maintenance yet (a database from 0001): the list as it was stored.
            listed = sorted(history.legacy_list(legacy), key=lambda p: (p.get("cpu") or 0.0, p.get("rss") or 0),
                            reverse=True)
            return {"time": legacy[0][0] / 1000, "tier": "raw", "processes": listed}
        if best is None:
            minute = target - target % MINUTE
            for start, _, times_blob, data_blob in self._process_blocks(source_id, history.MINUTE_TIER,
                                                                       minute, minute):
                if minute in self._checked(history.decode_times, times_blob):
                    best = (0, minute, "1m", (times_blob, data_blob))
        if best is None:
            return empty
        _, time, tier, blobs = best
        block = None
        if blobs is None:
            rows = self._rows("SELECT process_id, cpu, rss, disk_read, disk_write, state FROM process_samples"
                              " WHERE source_id = ? AND time = ?", (source_id, time))
        else:
            block = self._checked(history.decode_block, *blobs)
            column = int(np.searchsorted(block.times, time))
            cells = block.values[:, :, column]
            rows = [(int(process), *_number_or_none(cells[:4, row]),
                     chr(int(cells[4, row])) if cells[4, row] == cells[4, row] else "")
                    for row, process in enumerate(block.ids.tolist()) if cells[1, row] == cells[1, row]]
        identities = block.identities if block is not None and block.identities else \
            self._identities(row[0] for row in rows)
        listed = []
        for process, cpu, rss, disk_read, disk_write, state in rows:
            if process not in identities:
                continue
            pid, started, name, user, command = identities[process]
            listed.append({"pid": pid, "name": name, "user": user,
                           "cpu": None if cpu is None else round(cpu, 1), "rss": int(rss), "state": state,
                           "started": started / 1000, "command": command,
                           "disk_read": None if disk_read is None else round(disk_read, 1),
                           "disk_write": None if disk_write is None else round(disk_write, 1)})
        listed.sort(key=lambda p: (p["cpu"] or 0.0, p["rss"]), reverse=True)
        return {"time": time / 1000, "tier": "1m" if tier == "1m" else "raw", "processes": listed}

    def process(self, source: str, pid: int, started: float) -> dict | None:
        """The identity of the process with this pid that started at `started` (Unix seconds)."""
        source_id = self._source_id(source)
        if source_id is None:
            return None
        target = to_ms(started)
        rows = self._rows("SELECT id, pid, started, name, user, command, last_seen FROM processes"
                          " WHERE source_id = ? AND pid = ? AND started BETWEEN ? AND ?"
                          " ORDER BY abs(started - ?) LIMIT 1",
                          (source_id, pid, target - history.STARTED_TOLERANCE_MS,
                           target + history.STARTED_TOLERANCE_MS, target))
        if not rows:
            return None
        process, pid, started_ms, name, user, command, _ = rows[0]
        return {"id": process, "source_id": source_id, "pid": pid, "started": started_ms / 1000,
                "name": name, "user": user, "command": command}

    def _process_in_minutes(self, source: str, pid: int, started: float, start: float, end: float) -> dict | None:
        """The identity of a process listed only in minute blocks of [start, end) any more."""
        source_id = self._source_id(source)
        if source_id is None:
            return None
        target = to_ms(started)
        for _, _, times_blob, data_blob in self._process_blocks(source_id, history.MINUTE_TIER, to_ms(start), to_ms(end)):
            block = self._checked(history.decode_block, times_blob, data_blob)
            for process, (found_pid, started_ms, name, user, command) in (block.identities or {}).items():
                if found_pid == pid and abs(started_ms - target) <= history.STARTED_TOLERANCE_MS:
                    return {"id": process, "source_id": source_id, "pid": pid, "started": started_ms / 1000,
                            "name": name, "user": user, "command": command}
        return None

    def process_history(self, source: str, pid: int, started: float, start: float, end: float,
                        points: int) -> dict | None:
        """One process's CPU and memory over [start, end), in at most `points` buckets of min,
        avg and max (columnar, like `query`); None when no such process was ever listed.

        Raw samples (head and blocks) where they exist, the minute tier before them (where raw
        has expired). A bucket in which the process was not listed is left out.
        """
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
            raise ValueError("the range must have a finite start before its end")
        if points < 1:
            raise ValueError("points must be at least 1")
        identity = self.process(source, pid, started) or self._process_in_minutes(source, pid, started, start, end)
        if identity is None:
            return None
        process, source_id = identity.pop("id"), identity.pop("source_id")
        low, high = max(to_ms(start), to_ms(identity["started"]) - MINUTE), to_ms(end)
        series: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {"raw": [], "1m": []}

        def take(tier_name: str, blobs) -> None:
            block = self._checked(history.decode_block, *blobs)
            row = np.searchsorted(block.ids, process)
            if row < len(block.ids) and block.ids[row] == process:
                keep = ~np.isnan(block.values[1, row]) & (block.times >= low) & (block.times < high)
                series[tier_name].append((block.times[keep], block.values[0, row, keep], block.values[1, row, keep]))

        raw_blocks = self._process_blocks(source_id, history.RAW_TIER, low, high)
        for block in raw_blocks:
            take("raw", block[2:])
        head = self._rows("SELECT time, cpu, rss FROM process_samples WHERE source_id = ? AND process_id = ?"
                          " AND time >= ? AND time < ?", (source_id, process, low, high))
        if head:
            times, cpu, rss = (np.array(column, np.float64) for column in zip(*head))
            series["raw"].append((times.astype(np.int64), cpu, rss))
        # Minutes fill in only before the first raw sample: where raw has expired.
        raw_start = min([int(times[0]) for times, _, _ in series["raw"] if len(times)]
                        + [block[0] for block in raw_blocks] + [high])
        for block in self._process_blocks(source_id, history.MINUTE_TIER, low, min(high, raw_start)):
            take("1m", block[2:])
        minutes = [(times[times < raw_start] + MINUTE // 2, cpu[times < raw_start], rss[times < raw_start])
                   for times, cpu, rss in series["1m"]]
        parts = [part for part in minutes + series["raw"] if len(part[0])]
        used = {name for name, found in (("1m", minutes), ("raw", series["raw"])) if any(len(p[0]) for p in found)}
        tier = "+".join(sorted(used)) or "raw"
        times = np.concatenate([p[0] for p in parts]) if parts else np.array([], np.int64)
        cpu = np.concatenate([p[1] for p in parts]) if parts else np.array([])
        rss = np.concatenate([p[2] for p in parts]) if parts else np.array([])
        width = max(1, math.ceil((high - low) / points))
        if "1m" in used:  # buckets of whole minutes on the minute grid, as the tier stores them
            low -= low % MINUTE
            width = math.ceil(max(width, (high - low) / points) / MINUTE) * MINUTE
        buckets = (times - low) // width
        result = {**identity, "source": source, "start": start, "end": end, "step": width / 1000,
                  "tier": tier, "times": [], "cpu": {"min": [], "avg": [], "max": []},
                  "rss": {"min": [], "avg": [], "max": []}}
        if not len(times):
            return result
        order = np.argsort(buckets, kind="stable")
        buckets, cpu, rss = buckets[order], cpu[order], rss[order]
        firsts = np.concatenate(([0], np.flatnonzero(np.diff(buckets)) + 1))
        result["times"] = ((low + (buckets[firsts] + 0.5) * width) / 1000).tolist()
        for name, values in (("cpu", cpu), ("rss", rss)):
            known = ~np.isnan(values)
            counts = np.add.reduceat(known.astype(np.int64), firsts)
            sums = np.add.reduceat(np.where(known, values, 0.0), firsts)
            with np.errstate(all="ignore"):
                lows = np.minimum.reduceat(np.where(known, values, np.inf), firsts)
                highs = np.maximum.reduceat(np.where(known, values, -np.inf), firsts)
                means = sums / counts
            digits = 1 if name == "cpu" else 0
            for key, column in (("min", lows), ("avg", means), ("max", highs)):
                result[name][key] = [round(float(v), digits) if c else None for v, c in zip(column, counts)]
        return result

    def _has_data(self, tier: Tier, group: int, series_id: int, low: int, high: int) -> bool:
        """Whether `tier` holds anything for the group in [low, high): index seeks only."""
        if self._rows("SELECT 1 FROM chunks WHERE tier = ? AND group_id = ? AND start > ? AND start < ? LIMIT 1",
                      (tier.number, group, low - tier.span_ms, high)):
            return True
        if tier is RAW:
            return bool(self._rows("SELECT 1 FROM head WHERE series_id = ? AND time >= ? AND time < ? LIMIT 1",
                                   (series_id, low, high)))
        return bool(self._rows(
            "SELECT 1 FROM rollups WHERE tier = ? AND series_id = ? AND start > ? AND start < ? LIMIT 1",
            (tier.number, series_id, low - tier.step_ms, high)))

    def query(self, source: str, start: float, end: float, points: int,
              categories: list[str] | None = None, tier: str | None = None, arrays: bool = False) -> dict:
        """The range [start, end) reduced to at most `points` buckets of min, avg and max.

        Columnar, as uPlot wants it: one `times` array (bucket centres) and, per series, arrays
        of the same length. A bucket without samples is null. Where the source stopped sampling
        for more than two intervals, a row of nulls is put in, so a chart shows a hole rather
        than a line across it. The answer comes from the coarsest tier that still gives `points`
        buckets (see planner); `tier` (a tier name) forces one, and the answer names the tier.
        With `arrays`, the columns are numpy arrays with NaN for null, for a JSON encoder that
        writes them as they are (orjson's OPT_SERIALIZE_NUMPY: quicker than lists).
        """
        with self.snapshot():
            return self.answer(self.planned(source, start, end, points, categories, tier), arrays)

    @contextlib.contextmanager
    def snapshot(self):
        """One read snapshot for all that is read inside: the catalog, the blocks and the head of
        one moment, so that what is kept for later queries is exactly that moment's."""
        self._rows("BEGIN")
        try:
            yield
        finally:
            self._rows("COMMIT")

    def answer(self, planned: Planned, arrays: bool = False) -> dict:
        """query's answer to a planned range."""
        plan = planned.plan
        result = {"start": planned.start, "end": planned.end, "step": plan.width / 1000, "tier": plan.tier.name,
                  "times": [], "series": []}
        if not planned.selected:
            return result
        output = planned.layout.fresh()
        self.fold(planned, plan, output)
        times, columns, counts, _ = answer_columns(output, plan, planned.interval)
        result["times"] = times if arrays else times.tolist()
        if arrays:
            # The same array thrice where min, avg and max are the same numbers: JSON writes them once.
            rows = zip(*columns) if len(columns) == 3 else ((row, row, row) for row in columns[0])
        else:
            rows = planner.as_lists(columns.repeat(3 // len(columns), axis=0), counts == 0)
        result["series"] = [{**s.fields, "min": lows, "avg": averages, "max": highs}
                            for s, (lows, averages, highs) in zip(planned.selected, rows)]
        return result

    def planned(self, source: str, start: float, end: float, points: int,
                categories: list[str] | None = None, tier: str | None = None) -> Planned:
        """What query reads for a range, and how it folds it (within a snapshot)."""
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
            raise ValueError("the range must have a finite start before its end")
        if points < 1:
            raise ValueError("points must be at least 1")
        catalog = self.catalog()
        found = catalog.by_name.get(source)
        interval = found.interval if found else None
        selected, ids, groups, layout = self.kept(
            ("selection", source, None if categories is None else tuple(categories)),
            lambda: self._selection(catalog, source, categories))
        low, high = to_ms(start), to_ms(end)
        blocks: dict[int, tuple] = {}  # rows of blocks, by tier number
        plans: dict[int, planner.Plan] = {}

        def plan_for(tier: Tier) -> planner.Plan:
            if tier.number not in plans:
                plans[tier.number] = planner.plan(tier, low, high, points, to_ms(interval or 0))
            return plans[tier.number]

        if tier is not None:
            chosen = next((t for t in (RAW, *ROLLUPS) if t.name == tier), None)
            if chosen is None:
                raise ValueError(f"no tier named {tier!r}")
        elif ids:
            probe_group = found.groups.get(selected[0].category, -1)

            def has_data(tier: Tier) -> bool:
                # A chart's one category: the blocks the tier's folding reads tell, without a probe.
                if groups == [probe_group]:
                    rows = blocks[tier.number] = self._blocks(tier, found.id, groups, low, high, plan_for(tier))
                    if any(low - tier.span_ms < row[0] < high for row in rows):
                        return True
                return self._has_data(tier, probe_group, ids[0], low, high)

            chosen = planner.choose_tier(low, high, points, has_data)
        else:
            chosen = RAW
        plan = plan_for(chosen)
        rows = blocks.get(chosen.number) if selected else ()
        if rows is None:
            rows = self._blocks(chosen, found.id, groups, low, high, plan)
        return Planned(start, end, selected, layout, plan, rows, interval)

    def fold(self, planned: Planned, plan: planner.Plan, output: planner.Output) -> None:
        """The buckets of `plan` (the planned one, or a run of its buckets) folded into `output`:
        the planned blocks, and what is not in blocks yet."""
        if plan.tier is RAW:
            self._fold_raw(planned.rows, plan, max(to_ms(planned.start), plan.origin),
                           min(to_ms(planned.end), plan.end), output)
        else:
            self._fold_rollups(plan.tier, planned.rows, plan, output)

    def unpacked_since(self, planned: Planned) -> int | None:
        """The earliest time (ms) of the series asked for that is not yet packed into a block of
        the planned rollup tier: a bucket of its unpacked rollups, or a sample in the head; None
        if there is none."""
        tail = self._tail_of(planned.plan.tier, planned.layout)
        return None if tail is None else int(tail[0][0])

    @staticmethod
    def _selection(catalog: Catalog, source: str, categories) -> tuple:
        """The series asked for, their ids, their groups and their Output's layout."""
        selected = catalog.series(source, categories)
        ids = [s.id for s in selected]
        return selected, ids, catalog.groups(source, {s.category for s in selected}), planner.Output(ids)

    def _blocks(self, tier: Tier, source_id: int, groups: list[int], low: int, high: int, plan: planner.Plan) -> tuple:
        """Rows of the blocks of `groups` a query folds, in time order: raw windows' (start,
        times blob, block blob) overlapping [low, high); or rollup blocks' (start, blob)
        overlapping the plan's range, widened to the tier's grid.

        Read once until the next commit for the range widened to whole spans: a chart's next
        query, a moment later, asks for the same blocks (a statement costs a tenth of a query).
        """
        if not groups:
            return ()
        after, before = (low - RAW.span_ms, high) if tier is RAW else (plan.origin - tier.span_ms, plan.end)
        wide = (after - after % tier.span_ms, before - before % tier.span_ms + tier.span_ms)

        def read() -> tuple:
            if tier is RAW:
                return tuple(self._rows(_WINDOWS % _marks(groups), (*groups, source_id, *wide)))
            found = self._rows(_CHUNKS % _marks(groups), (tier.number, *groups, *wide))
            return tuple(sorted(found, key=lambda row: row[0]))

        rows = self.kept(("blocks", tier.number, source_id, *groups, *wide), read)
        return tuple(row for row in rows if after < row[0] < before)

    def _fold_raw(self, windows, plan, low, high, output) -> None:
        # The blocks of one set of series are folded as one run, window after window, and the
        # head's samples after them: a numpy step costs microseconds whatever its size, and an
        # hour's chart spans four windows and the head.
        runs: dict[bytes, _Run] = {}
        for key, ids, times, values, complete in self._joined_windows(windows):
            first, stop = times.searchsorted(low), times.searchsorted(high)
            if first < stop:
                run = runs[key] = _Run(ids)
                run.add(times[first:stop], values[:, first:stop], complete)
        for number, (times, values, complete) in enumerate(self._head_matrices(output, low, high)):
            run = runs.get(output.ids.tobytes()) if number == 0 else None
            if run is None or run.times[-1][-1] >= times[0]:
                # Series of several categories, or samples that came late for a window: a run
                # of their own, merged with the blocks' buckets.
                run = runs[b"head %d" % number] = _Run(output.ids)
            run.add(times, values, complete)
        for run in runs.values():
            times, values = run.joined()
            block_rows, rows = output.rows(run.ids)
            if len(block_rows) != len(run.ids):  # some of the category was not asked for
                values = values[block_rows]
            output.fold_values(rows, values, planner.Grouping(times, plan, low, high), all(run.complete))

    def _joined_windows(self, rows: tuple) -> list[tuple[bytes, np.ndarray, np.ndarray, np.ndarray, bool]]:
        """(key, series ids, times, values, whether none is missing) for each set of series stored
        together in the raw windows of `rows` (as _window_rows gives them), its windows joined
        in time order.

        Joined once for every query of the process that reads the same windows (a chart of the
        last hour reads the same four for twenty minutes), kept with the decoded blocks and
        keyed, like them, by their bytes: a window rewritten (late data, or the open one every
        minute) is simply another key.
        """
        return self._checked(DECODED.get, _joined_windows, rows) if rows else []

    def _head_matrices(self, output, low, high) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """The head's samples in [low, high) as (times, values with a row per series of `output`
        and NaN where one has none, whether none is missing); usually one, none when empty."""
        whole = self.kept(output.ids.tobytes(), lambda: self._head(output))
        parts = []
        for times, values, missing in whole:
            first, stop = times.searchsorted(low), times.searchsorted(high)
            if first < stop:
                parts.append((times[first:stop], values[:, first:stop], not missing[first:stop].any()))
        return parts

    def kept(self, key: bytes | tuple, read):
        """`read()`, read once until the next commit (the catalog's check clears them)."""
        found = self._kept_rows.get(key, self)
        if found is self:
            if len(self._kept_rows) >= KEPT:
                self._kept_rows.clear()
            found = self._kept_rows[key] = read()
        return found

    def _head(self, output) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """All of the head of `output`'s series: (times, values, where a column misses a value)."""
        among, ids = _among(output.ids.tolist())
        found = self._rows(f"SELECT series_id, time, value FROM head WHERE {among}", ids)
        if not found:
            return []
        series, times, values = np.array(found).T
        times, columns = np.unique(times.astype(np.int64), return_inverse=True)
        cells = output.rows_of(series.astype(np.int64)) * len(times) + columns
        matrix = np.full((len(output.ids), len(times)), np.nan)
        matrix.put(cells, values)
        if np.count_nonzero(matrix == matrix) == len(cells):
            return [_matrix(times, matrix)]
        # A point pushed over a stored one is in the head twice until it settles: both count,
        # as the rollup tiers' GROUP BY counts them, each from a matrix of its own.
        once = np.unique(cells, return_index=True)[1]
        again = np.ones(len(cells), bool)
        again[once] = False
        matrices = []
        for chosen in (once, again):
            matrix = np.full((len(output.ids), len(times)), np.nan)
            matrix.put(cells[chosen], values[chosen])
            matrices.append(_matrix(times, matrix))
        return matrices

    def _fold_rollups(self, tier, rows, plan, output) -> None:
        # A rollup tier answers whole buckets: the range widens to the tier's grid.
        low, high = plan.origin, plan.end
        # Buckets not yet packed into blocks and the head's samples, as one matrix of buckets kept
        # until the next commit (every chart of the tier reads all of it).
        tail = self._tail_of(tier, output)
        # The runs of the blocks whole, joined once until the next commit: a chart's next query
        # folds its range of the same ones. Not where data came late (see _rollup_runs).
        runs = self.kept(("rollup runs", tier.number, output.ids.tobytes(), rows),
                          lambda: self._rollup_runs(tier, rows, output.ids, tail, -_NEVER, _NEVER))
        if runs is None:
            runs = self._rollup_runs(tier, rows, output.ids, tail, low, high)
        for ids, grid, aggregates in runs:
            block_rows, rows = output.rows(ids)
            if len(block_rows) != len(ids):
                aggregates = aggregates[:, block_rows]
            output.fold_buckets(rows, planner.Grouping(grid, plan, low, high), aggregates)

    def _tail_of(self, tier, output):
        return self.kept(b"tail %d " % tier.number + output.ids.tobytes(), lambda: self._tail(tier, output))

    def _rollup_runs(self, tier, rows, ids, tail, low, high) -> tuple | None:
        """(series ids, times, aggregates) of each set of series stored together in the blocks
        of `rows`, of each block the part with data in [low, high), joined; and the tail, folded
        in the run of `ids` when it follows it, as it does unless data came late. None where
        data came late for a run whole (-_NEVER to _NEVER): whether the tail follows it then
        depends on the range."""
        runs: dict[bytes, _Run] = {}
        for start, blob in rows:
            block_ids, aggregates, skipped = self._decoded(_occupied_rollup_block, blob)
            occupied = start + skipped * tier.step_ms
            first = max(0, -((occupied - low) // tier.step_ms))
            stop = min(aggregates.shape[2], -((occupied - high) // tier.step_ms))
            if first < stop:
                grid = np.arange(occupied + first * tier.step_ms, occupied + stop * tier.step_ms, tier.step_ms)
                runs.setdefault(block_ids.tobytes(), _Run(block_ids)).add(grid, aggregates[:, :, first:stop])
        if tail is not None:
            run = runs.get(ids.tobytes())
            if run is not None and run.times[-1][-1] > tail[0][0]:
                if high == _NEVER:
                    return None
                run = None
            if run is None:
                run = runs[b"tail"] = _Run(ids)
            run.add(*tail)
        return tuple(_read_only(run.ids, *run.joined()) for run in runs.values())

    def _tail(self, tier, output) -> tuple[np.ndarray, np.ndarray] | None:
        """The buckets of `tier` not yet packed into blocks and the head's samples, of `output`'s
        series: (times, min, max, sum and count stacked as a rollup block's, NaN and 0 where a
        series has none), or None when there are none."""
        among, ids = _among(output.ids.tolist())
        found = self._rows(f"SELECT series_id, start, min, max, sum, count FROM rollups WHERE tier = ? AND {among}"
                           f" UNION ALL SELECT series_id, time, value, value, value, 1 FROM head WHERE {among}",
                           (tier.number, *ids, *ids))
        if not found:
            return None
        series, times, *columns = np.array(found).T
        times, cells = np.unique(times.astype(np.int64), return_inverse=True)
        cells = (output.rows_of(series.astype(np.int64)), cells)
        aggregates = np.zeros((4, len(output.ids), len(times)))
        aggregates[:2] = np.nan
        # A sample at a bucket's start, or a point pushed over a stored one, shares its cell: both count.
        for kept, fold, column in zip(aggregates, (np.fmin, np.fmax, np.add, np.add), columns):
            fold.at(kept, cells, column)
        for array in (times, aggregates):
            array.flags.writeable = False
        return times, aggregates


def _joined_windows(rows: tuple) -> tuple:
    """Rows of (window start, times blob, block blob) in time order, as (key, series ids, times,
    values, whether none is missing) per set of series stored together.

    The blocks of a window share its times: the categories of a dashboard's chart are stacked
    into one matrix and folded as one (each row is reduced on its own, so no value changes),
    rather than a fold of a dozen numpy steps per category. Their key is not their ids, so that
    the head, a run of its own beside several categories, stays one.
    """
    runs: dict[bytes, _Run] = {}
    for _, window in itertools.groupby(rows, key=lambda row: row[0]):
        window = list(window)
        times = DECODED.get(decode_times_array, window[0][1])
        blocks = [DECODED.get(decode_raw_block, blob) for _, _, blob in window]
        if any(values.shape[1] != len(times) for _, values, _ in blocks):
            raise CodecError("a raw block does not match its window")
        if len(blocks) == 1:
            block_ids, values, complete = blocks[0]
            key = block_ids.tobytes()
        else:
            block_ids = np.concatenate([ids for ids, _, _ in blocks])
            values = np.concatenate([values for _, values, _ in blocks])
            complete = all(complete for _, _, complete in blocks)
            key = b"stacked " + block_ids.tobytes()
        runs.setdefault(key, _Run(block_ids)).add(times, values, complete)
    return tuple((key, run.ids, *run.joined(), all(run.complete)) for key, run in runs.items())


def _occupied_rollup_block(blob: bytes) -> tuple[np.ndarray, np.ndarray, int]:
    """decode_rollup_block without the empty buckets before the first and after the last that
    holds data, and how many it left out before: a block's span is filled as time passes, so a
    query would otherwise fold days of empty buckets."""
    ids, aggregates = decode_rollup_block(blob)
    occupied = aggregates[3].any(axis=0).nonzero()[0]
    if not len(occupied):
        return ids, aggregates[:, :, :0], 0
    return ids, aggregates[:, :, occupied[0]:occupied[-1] + 1].copy(), int(occupied[0])


class _Run:
    """Parts of one set of series (a block's rows) in time order, folded as one."""

    __slots__ = ("ids", "times", "values", "complete")

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self.times: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.complete: list[bool] = []

    def add(self, times: np.ndarray, values: np.ndarray, complete: bool = True) -> None:
        self.times.append(times)
        self.values.append(values)
        self.complete.append(complete)

    def joined(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.times) == 1:
            return self.times[0], self.values[0]
        return np.concatenate(self.times), np.concatenate(self.values, axis=-1)


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.flags.writeable = False
    return arrays


def _matrix(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, values, where a column misses a value), read-only: it is kept for later queries."""
    for array in (times, values):
        array.flags.writeable = False
    return times, values, np.isnan(values).any(axis=0)


def answer_columns(output: planner.Output, plan: planner.Plan, interval: float | None) -> tuple:
    """(bucket times, min, avg and max as planner.results gives them, the buckets' counts, the
    buckets that got data) of what was folded into `output`: buckets without data left out, and
    a null row put in after each bucket that precedes a gap in collection (see query)."""
    buckets, cells = output.cells()
    picked = cells[3].sum(axis=0).nonzero()[0]  # some buckets may have got only empty cells
    if len(picked) < len(buckets):
        buckets = buckets[picked]
    markers = False
    centres = buckets + 0.5
    # Buckets one after another have no gap between them, as a chart's usually are.
    if interval and len(buckets) > 1 and int(buckets[-1]) - int(buckets[0]) >= len(buckets):
        gaps = ((buckets[1:] - buckets[:-1]) > gap_buckets(plan, interval)).nonzero()[0]
        if markers := len(gaps) > 0:
            # A marker bucket (picked -1: every series null) just after each bucket that
            # precedes a gap, so a chart draws a hole rather than a line across it.
            picked = np.insert(picked, gaps + 1, -1)
            centres = np.insert(centres, gaps + 1, buckets[gaps] + 1.0)
    if len(picked) == cells.shape[2] and not markers:
        picked = None
    times = (plan.origin + centres * plan.width) / 1000
    columns, counts = planner.results(cells, picked, markers)
    return times, columns, counts, buckets


def gap_buckets(plan: planner.Plan, interval: float) -> float:
    """How many buckets apart two with data must be for collection to have stopped between
    them: more than two sampling intervals with nothing."""
    return 1 + 2 * to_ms(interval) / plan.width


def _number_or_none(values) -> list:
    return [None if value != value else float(value) for value in values.tolist()]


def _among(ids: list[int]) -> tuple[str, list[int]]:
    """A condition on series_id that selects `ids`, and its parameters. A category's series are
    usually numbered as one run: a range, which SQLite scans in the same order as an IN list,
    costs it less than building the list's table at every statement."""
    if ids and ids[-1] - ids[0] == len(ids) - 1 and ids == sorted(ids):
        return "series_id BETWEEN ? AND ?", [ids[0], ids[-1]]
    return f"series_id IN ({_marks(ids)})", ids


def _marks(items) -> str:
    return ",".join("?" * len(items))
