"""Query planning and bucketing: which tier answers a range, and folding it into output buckets.

The planner reads the coarsest tier that still gives at least `points` buckets over the range
(raw for short ranges), then returns at most `points` buckets. For a rollup tier the output
buckets are whole multiples of the tier's step on the tier's grid, so each stored bucket falls
in exactly one output bucket and min, max and average are exact.

Folding is numpy: stored values are decoded into arrays, their output bucket is computed for all
of them at once, and runs that fall in one bucket are reduced with `reduceat`. A Python-level
step per stored value would cost ten times the latency budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .tiers import RAW, ROLLUPS, Tier



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


class Grouping:
    """Which output bucket each of a sorted run of times falls in, computed once and shared by
    every series stored against those times (a raw window's series share its times)."""

    __slots__ = ("start", "stop", "buckets", "firsts", "sizes", "trivial")

    def __init__(self, times: np.ndarray, plan: Plan, low: int, high: int) -> None:
        self.start = int(np.searchsorted(times, low))
        self.stop = int(np.searchsorted(times, high))
        inside = (times[self.start:self.stop] - plan.origin) // plan.width
        if len(inside) == 0:
            self.buckets = inside
            self.trivial = True
            return
        changes = np.flatnonzero(inside[1:] != inside[:-1]) + 1
        self.firsts = np.concatenate(([0], changes))
        self.buckets = inside[self.firsts]
        self.sizes = np.diff(np.append(self.firsts, len(inside)))
        self.trivial = len(self.firsts) == len(inside)

    def __len__(self) -> int:
        return len(self.buckets)


class Columns:
    """Output buckets of one series: min, max, sum and count per bucket, as arrays."""

    __slots__ = ("mins", "maxs", "sums", "counts")

    def __init__(self, count: int) -> None:
        self.mins = np.full(count, np.inf)
        self.maxs = np.full(count, -np.inf)
        self.sums = np.zeros(count)
        self.counts = np.zeros(count, np.int64)

    def merge(self, buckets: np.ndarray, mins, maxs, sums, counts) -> None:
        """Fold per-bucket aggregates in; `buckets` holds no index twice."""
        self.mins[buckets] = np.minimum(self.mins[buckets], mins)
        self.maxs[buckets] = np.maximum(self.maxs[buckets], maxs)
        self.sums[buckets] += sums
        self.counts[buckets] += counts

    def fold_values(self, values: np.ndarray, grouping: Grouping) -> None:
        """Raw samples at the times `grouping` was made from."""
        if not len(grouping):
            return
        run = values[grouping.start:grouping.stop]
        if grouping.trivial:
            self.merge(grouping.buckets, run, run, run, 1)
        else:
            firsts = grouping.firsts
            self.merge(grouping.buckets, np.minimum.reduceat(run, firsts), np.maximum.reduceat(run, firsts),
                       np.add.reduceat(run, firsts), grouping.sizes)

    def fold_buckets(self, grouping: Grouping, mins, maxs, sums, counts) -> None:
        """Stored rollup buckets at the starts `grouping` was made from."""
        if not len(grouping):
            return
        part = slice(grouping.start, grouping.stop)
        if grouping.trivial:
            self.merge(grouping.buckets, mins[part], maxs[part], sums[part], counts[part])
        else:
            firsts = grouping.firsts
            self.merge(grouping.buckets, np.minimum.reduceat(mins[part], firsts),
                       np.maximum.reduceat(maxs[part], firsts), np.add.reduceat(sums[part], firsts),
                       np.add.reduceat(counts[part], firsts))

    def results(self, picked: np.ndarray | None) -> tuple[list, list, list]:
        """(min, avg, max) lists at the `picked` buckets (all when None; -1 is a gap marker),
        None where a bucket has no data."""
        counts, mins, maxs = self.counts, self.mins, self.maxs
        averages = self.sums / np.maximum(counts, 1)
        if picked is not None:
            counts = np.append(counts, 0)[picked]
            mins, maxs, averages = (np.append(column, 0.0)[picked] for column in (mins, maxs, averages))
        if counts.all():
            return mins.tolist(), averages.tolist(), maxs.tolist()
        empty = counts == 0
        return tuple([None if gone else value for value, gone in zip(column.tolist(), empty.tolist())]
                     for column in (mins, averages, maxs))
