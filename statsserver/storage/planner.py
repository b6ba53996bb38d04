"""Query planning and bucketing: which tier answers a range, and folding it into output buckets.

The planner reads the coarsest tier that still gives at least `points` buckets over the range
(raw for short ranges), then returns at most `points` buckets. For a rollup tier the output
buckets are whole multiples of the tier's step on the tier's grid, so each stored bucket falls
in exactly one output bucket and min, max and average are exact.

Folding avoids a Python-level step per stored value: the boundaries of the output buckets are
found by bisection on the (sorted) times, and each bucket's min, max and sum are builtins mapped
over list slices, which run in C.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from functools import partial
from typing import Callable
from operator import add, truediv

from .tiers import RAW, ROLLUPS, Tier

_min = partial(min, default=math.inf)
_max = partial(max, default=-math.inf)


@dataclass(frozen=True)
class Plan:
    tier: Tier
    origin: int  # ms: the start of bucket 0
    width: int  # ms
    count: int  # buckets

    @property
    def end(self) -> int:
        return self.origin + self.width * self.count


def finest_tier_for(start: int, end: int, points: int) -> Tier:
    """The coarsest tier that still gives at least `points` buckets over [start, end)."""
    chosen = RAW
    for tier in ROLLUPS:
        if (end - start) // tier.step_ms >= points:
            chosen = tier
    return chosen


def choose_tier(start: int, end: int, points: int, has_data: Callable[[Tier], bool]) -> Tier:
    """The tier to read: the coarsest fine enough, unless it holds nothing in the range.

    Then the finest coarser tier that does (the range is older than the finer tier's
    retention), else the finest finer one that does (recent data not yet rolled up).
    """
    chosen = finest_tier_for(start, end, points)
    if has_data(chosen):
        return chosen
    coarser = [tier for tier in ROLLUPS if tier.step_ms > chosen.step_ms]
    finer = [tier for tier in (RAW, *ROLLUPS) if tier.step_ms < chosen.step_ms]
    return next((tier for tier in (*coarser, *finer) if has_data(tier)), chosen)


def plan(tier: Tier, start: int, end: int, points: int, interval_ms: int) -> Plan:
    if tier is RAW:
        # Narrower buckets than the sampling interval would only add empty ones.
        width = math.ceil(max((end - start) / points, interval_ms, 1))
        return Plan(tier, start, width, math.ceil((end - start) / width))
    step = tier.step_ms
    origin = start - start % step
    width = max(1, math.ceil((end - start) / points / step)) * step
    while math.ceil((end - origin) / width) > points:
        width += step
    return Plan(tier, origin, width, math.ceil((end - origin) / width))


class Columns:
    """Output buckets of one series: min, max, sum and count per bucket, filled in time order."""

    __slots__ = ("mins", "maxs", "sums", "counts", "filled")

    def __init__(self, count: int) -> None:
        self.mins = [math.inf] * count
        self.maxs = [-math.inf] * count
        self.sums = [0.0] * count
        self.counts = [0] * count
        self.filled = 0  # buckets before this index were written to

    def put(self, first: int, mins: list, maxs: list, sums: list, counts: list) -> None:
        """Merge buckets first, first+1, ... into these columns."""
        size = len(mins)
        if first == self.filled - 1 and size:  # shares one bucket with what came before
            self._merge_one(first, mins[0], maxs[0], sums[0], counts[0])
            first, mins, maxs, sums, counts, size = first + 1, mins[1:], maxs[1:], sums[1:], counts[1:], size - 1
        if first >= self.filled:
            end = first + size
            self.mins[first:end] = mins
            self.maxs[first:end] = maxs
            self.sums[first:end] = sums
            self.counts[first:end] = counts
        else:  # overlaps what is there: data stored twice over (late arrivals), rare
            for i in range(size):
                self._merge_one(first + i, mins[i], maxs[i], sums[i], counts[i])
            end = first + size
        self.filled = max(self.filled, end)

    def _merge_one(self, i: int, low: float, high: float, total: float, count: int) -> None:
        if low < self.mins[i]:
            self.mins[i] = low
        if high > self.maxs[i]:
            self.maxs[i] = high
        self.sums[i] += total
        self.counts[i] += count

    def results(self) -> tuple[list, list, list]:
        """(min, avg, max) with None where a bucket has no data."""
        counts = self.counts
        if 0 not in counts:
            return self.mins, list(map(truediv, self.sums, counts)), self.maxs
        mins = [v if c else None for v, c in zip(self.mins, counts)]
        maxs = [v if c else None for v, c in zip(self.maxs, counts)]
        avgs = [s / c if c else None for s, c in zip(self.sums, counts)]
        return mins, avgs, maxs


def cuts(times: list[int], plan: Plan, low: int, high: int) -> tuple[int, list[slice]] | None:
    """The first output bucket touched by `times` within [low, high), and one slice of `times`
    per output bucket from there on (empty slices for buckets with no entry)."""
    start = bisect_left(times, low)
    stop = bisect_left(times, high, start)
    if start >= stop:
        return None
    origin, width = plan.origin, plan.width
    first = (times[start] - origin) // width
    last = (times[stop - 1] - origin) // width
    edges = [start]
    edges.extend(bisect_left(times, origin + b * width, start, stop) for b in range(first + 1, last + 1))
    edges.append(stop)
    return first, list(map(slice, edges, edges[1:]))


def fold_values(columns: Columns, values: list[float], first: int, slices: list[slice],
                counts: list[int]) -> None:
    """Raw samples: `slices` (from `cuts` on their times) group them into buckets."""
    parts = list(map(values.__getitem__, slices))
    columns.put(first, list(map(_min, parts)), list(map(_max, parts)), list(map(sum, parts)), counts)


def fold_buckets(columns: Columns, mins, maxs, sums, counts, first: int, slices: list[slice]) -> None:
    """Stored rollup buckets: `slices` (from `cuts` on their starts) group them into output ones."""
    columns.put(first,
                list(map(_min, map(mins.__getitem__, slices))),
                list(map(_max, map(maxs.__getitem__, slices))),
                list(map(sum, map(sums.__getitem__, slices))),
                list(map(sum, map(counts.__getitem__, slices))))


def slice_lengths(slices: list[slice]) -> list[int]:
    return [s.stop - s.start for s in slices]


def total_counts(all_columns: list[Columns], count: int) -> list[int]:
    total = [0] * count
    for columns in all_columns:
        total = list(map(add, total, columns.counts))
    return total
