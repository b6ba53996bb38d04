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

    __slots__ = ("start", "stop", "buckets", "firsts", "sizes", "trivial", "spread", "its_own", "unbroken", "rest")

    def __init__(self, times: np.ndarray, plan: Plan, low: int, high: int) -> None:
        # Array methods rather than numpy's functions: this runs for every block a query reads,
        # on a few hundred times, where the functions' Python wrappers cost as much as the work.
        self.start = int(times.searchsorted(low))
        self.stop = int(times.searchsorted(high))
        self._group(times[self.start:self.stop], plan)

    def _group(self, times: np.ndarray, plan: Plan) -> None:
        self.spread = self.its_own = self.firsts = self.sizes = self.unbroken = self.rest = None
        if plan.tier.step_ms and self._unbroken(times, plan):
            return
        inside = (times - plan.origin) // plan.width
        steps = inside[1:] != inside[:-1]
        self.trivial = bool(steps.all())
        if self.trivial:  # a bucket per time, as samples one bucket apart give
            self.buckets = inside
            return
        changes = steps.nonzero()[0] + 1
        bounds = np.concatenate(([0], changes, [len(inside)]))  # where each bucket's run starts, then the end
        self.firsts = bounds[:-1]
        self.buckets = inside[self.firsts]
        self.sizes = bounds[1:] - self.firsts
        longest = int(self.sizes.max())
        if 1 < longest <= SPREAD_LONGEST:
            # Each bucket's columns side by side; where a bucket has fewer than the longest, the
            # rest are its first column again (min and max), counted as zeros in sums. As rows
            # (columns x buckets): each step of _across then reads contiguous memory.
            columns = self.firsts + np.arange(longest)[:, None]
            self.its_own = columns < self.firsts + self.sizes
            self.spread = np.where(self.its_own, columns, self.firsts)

    def _unbroken(self, times: np.ndarray, plan: Plan) -> bool:
        """A rollup tier's buckets one after another, as a chart's blocks and their tail usually
        are: the output buckets follow from the first time and the count. Then `unbroken` is
        (columns of the first output bucket, of the widest, output buckets, times), for
        laid_out. Where the tail ends in the head's samples, off the tier's grid, the output
        buckets from the first of those on are grouped as `rest`: else the month's run would be
        reduced bucket by bucket for its last few."""
        step, count = plan.tier.step_ms, len(times)
        per_bucket = plan.width // step
        if count < 2 or not 1 < per_bucket <= SPREAD_LONGEST:
            return False
        off_step = ((times[1:] - times[:-1]) != step).nonzero()[0]
        if len(off_step):
            broken = int(times[off_step[0] + 1])
            broken_bucket = broken - (broken - plan.origin) % plan.width
            count = min(int(off_step[0]) + 1, -(-(broken_bucket - int(times[0])) // step))
            if count < SPLIT_BUCKETS * per_bucket:
                return False  # a second grouping costs more than reducing a few buckets one by one
            self.rest = Grouping.__new__(Grouping)
            self.rest._group(times[count:], plan)
        offset = int(times[0]) - plan.origin
        first = min(per_bucket - offset % plan.width // step, count)
        buckets = 1 + -(-(count - first) // per_bucket)
        longest = per_bucket if buckets > 2 else max(first, count - first)
        self.buckets = np.arange(offset // plan.width, offset // plan.width + buckets)
        self.trivial = longest == 1 and self.rest is None
        self.unbroken = first, longest, buckets, count
        if self.rest is not None:
            self.buckets = np.concatenate((self.buckets, self.rest.buckets))
        return True

    def laid_out(self, matrix: np.ndarray, padding: np.ndarray) -> np.ndarray:
        """An unbroken run's `matrix` (..., times) as (..., buckets, columns): each output
        bucket's columns side by side, then `padding` (one value per row) up to the widest
        bucket's, as `spread` and `its_own` lay them out."""
        first, longest, buckets, count = self.unbroken
        matrix = matrix[..., :count]
        shape = (*matrix.shape[:-1], buckets, longest)
        if first == longest and count == buckets * longest:
            return matrix.reshape(shape)
        laid = np.empty((*matrix.shape[:-1], buckets * longest))
        laid[...] = padding
        laid[..., :first] = matrix[..., :first]
        laid[..., longest:longest + count - first] = matrix[..., first:]
        return laid.reshape(shape)

    def fold_buckets(self, aggregates: np.ndarray) -> tuple | np.ndarray:
        """Stored rollup buckets (min, max, sum and count stacked, at the times grouped) as the
        output buckets' min, max, sum and count."""
        if self.trivial:
            return aggregates
        if self.unbroken is None:
            return self.reduce(np.fmin, aggregates[0]), self.reduce(np.fmax, aggregates[1]), \
                *self.reduce(np.add, aggregates[2:])
        laid = self.laid_out(aggregates, _ROLLUP_PADDING)
        folded = _across(np.fmin, laid[0]), _across(np.fmax, laid[1]), *_across(np.add, laid[2:])
        if self.rest is None:
            return folded
        rest = self.rest.fold_buckets(aggregates[..., self.unbroken[3]:])
        return tuple(np.concatenate(pair, axis=-1) for pair in zip(folded, rest))

    def __len__(self) -> int:
        return len(self.buckets)

    def reduce(self, ufunc: np.ufunc, matrix: np.ndarray) -> np.ndarray:
        """`ufunc` (add, or a min or max) over each bucket's columns (the last axis) of `matrix`.

        reduceat pays some 40 ns for every bucket of every row: with a few columns to a bucket
        (as rollup tiers and regular samples give) it is quicker to lay each bucket's columns
        side by side and take a few whole-array steps.
        """
        if self.spread is None:
            return ufunc.reduceat(matrix, self.firsts, axis=-1)
        columns = matrix[..., self.spread]
        if ufunc is np.add:
            columns = np.where(self.its_own, columns, 0)
        return _across(ufunc, columns.swapaxes(-1, -2))


def _across(ufunc: np.ufunc, columns: np.ndarray) -> np.ndarray:
    """`ufunc` over the last axis, as reduceat adds: the first, plus the sum of the others from
    left to right."""
    rest = columns[..., 1]
    for column in range(2, columns.shape[-1]):
        rest = ufunc(rest, columns[..., column])
    return ufunc(columns[..., 0], rest)


# Up to this many columns in a bucket, Grouping.reduce lays them side by side.
SPREAD_LONGEST = 8
# From this many output buckets of a tier's buckets one after another on, a rollup run's are laid
# out apart from those after them (the head's samples, or a gap).
SPLIT_BUCKETS = 64
# What pads a bucket's columns in a rollup block's min, max, sum and count: nothing, for fmin
# and fmax, and zeros.
_ROLLUP_PADDING = np.array([np.nan, np.nan, 0.0, 0.0])[:, None, None]


class Output:
    """The buckets that got data, of every series asked for: min, sum, max and count, a row per
    series.

    Folded parts are kept as they come and laid into one array at the end, over their buckets
    only: a chart is usually one run (its blocks and the head), whose buckets are the answer's
    as they are, where an array of every bucket of the plan would cost more to fill and scan
    than the folding. Merging uses fmin/fmax, which pass over NaN: a block marks a missing value
    with NaN, and a bucket nothing was merged into keeps the NaN it starts with, which the answer
    shows as null.
    """

    def __init__(self, ids: list[int]) -> None:
        self.ids = np.array(ids, np.int64)
        self._by_id = self.ids.argsort(kind="stable") if ids != sorted(ids) else None
        self._all = np.arange(len(ids))
        self.parts: list[tuple] = []

    def fresh(self) -> Output:
        """An Output of the same series with nothing folded yet: their layout is made once."""
        output = object.__new__(Output)
        output.__dict__.update(self.__dict__, parts=[])  # copy.copy costs ten times as much
        return output

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows of a block that were asked for, their rows here)."""
        if ids.tobytes() == self.ids.tobytes():  # a chart's category, as it usually is
            return self._all, self._all
        rows = np.minimum(self.rows_of(ids), len(self.ids) - 1)  # a ufunc: clip's wrapper costs twice as much
        block_rows = (self.ids[rows] == ids).nonzero()[0]
        return block_rows, rows[block_rows]

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The rows here of `ids`; for an id not asked for, a row past the end or another's."""
        if self._by_id is None:
            return self.ids.searchsorted(ids)
        found = np.minimum(self.ids.searchsorted(ids, sorter=self._by_id), len(self.ids) - 1)
        return self._by_id[found]

    def merge(self, rows: np.ndarray, buckets: np.ndarray, mins, maxs, sums, counts) -> None:
        """Fold in a matrix (rows x buckets); neither holds an index twice, and buckets increase."""
        self.parts.append((rows, buckets, mins, sums, maxs, counts))

    def fold_values(self, rows: np.ndarray, values: np.ndarray, grouping: Grouping, complete: bool = False) -> None:
        """Raw samples: a row per series at the times `grouping` was made from (NaN: none;
        `complete` says there is none)."""
        if not len(grouping) or not len(rows):
            return
        run = values[:, grouping.start:grouping.stop]
        present = None if complete else ~np.isnan(run)
        if complete or present.all():
            if grouping.trivial:
                self.merge(rows, grouping.buckets, run, run, run, 1)
                return
            self.merge(rows, grouping.buckets, grouping.reduce(np.minimum, run), grouping.reduce(np.maximum, run),
                       grouping.reduce(np.add, run), grouping.sizes)
            return
        if grouping.trivial:
            self.merge(rows, grouping.buckets, run, run, np.where(present, run, 0.0), present)
            return
        self.merge(rows, grouping.buckets, grouping.reduce(np.fmin, run), grouping.reduce(np.fmax, run),
                   grouping.reduce(np.add, np.where(present, run, 0.0)),
                   grouping.reduce(np.add, present.astype(np.int64)))

    def fold_buckets(self, rows: np.ndarray, grouping: Grouping, aggregates: np.ndarray) -> None:
        """Stored rollup buckets (min, max, sum and count stacked, as decode_rollup_block gives
        them) at the starts `grouping` was made from."""
        if not len(grouping) or not len(rows):
            return
        self.merge(rows, grouping.buckets, *grouping.fold_buckets(aggregates[:, :, grouping.start:grouping.stop]))

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(the buckets that got parts, and min, sum, max and count at them: 4 x series x
        buckets). Counts are floats, as a rollup block stores them: whole numbers far below 2**53."""
        parts = self.parts
        if len(parts) == 1:
            buckets = parts[0][1]
        else:
            buckets = np.unique(np.concatenate([part[1] for part in parts])) if parts else np.zeros(0, np.int64)
        cells = np.empty((4, len(self.ids), len(buckets)))
        alone = len(parts) == 1 and len(parts[0][0]) == len(self.ids)  # every cell its own
        if not alone:
            cells[::2] = np.nan
            cells[1::2] = 0.0
        for rows, at, *values in parts:
            # Views where the rows and buckets are runs, as they usually are.
            if rows is self._all:
                rows = slice(None)
            elif _consecutive(rows):
                rows = slice(rows[0], rows[-1] + 1)
            columns = slice(None) if len(parts) == 1 else buckets.searchsorted(at)
            if len(parts) > 1 and int(columns[-1]) - int(columns[0]) == len(columns) - 1:
                columns = slice(columns[0], columns[-1] + 1)
            where = np.ix_(rows, columns) if not isinstance(rows, slice) and not isinstance(columns, slice) \
                else (rows, columns)
            for cell, fold, value in zip(cells, (np.fmin, np.add, np.fmax, np.add), values):
                cell[where] = value if alone else fold(cell[where], value)
        return buckets, cells


def results(cells: np.ndarray, picked: np.ndarray | None, markers: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Min, avg and max (3 x series x buckets) of Output.cells at the `picked` buckets (all when
    None; with `markers`, -1 is a gap marker), NaN where a bucket has no data; and the buckets'
    counts. The cells become the answer. Where no bucket holds more than one sample, as in a
    chart whose buckets are the sampling interval, min, avg and max are the same numbers: then
    one (1 x series x buckets) stands for the three."""
    # take, not indexing: the answer's rows must be C-contiguous for orjson.
    cells = cells if picked is None else cells.take(picked, axis=2)
    if markers:
        cells[:, :, picked < 0] = [[[np.nan]], [[0.0]], [[np.nan]], [[0.0]]]
    columns, counts = cells[:3], cells[3]
    if counts.max(initial=0) <= 1:  # a sample's sum is itself, and min is NaN where none
        return _significant(columns[:1]), counts
    with np.errstate(invalid="ignore"):
        columns[1] /= counts  # 0 / 0 where a bucket is empty: NaN
    return _significant(columns), counts


def as_lists(columns: np.ndarray, empty: np.ndarray) -> list[tuple[list, list, list]]:
    """results as (min, avg, max) lists per series, None where a bucket has no data."""
    listed = columns.tolist()
    results = []
    for row, gaps in enumerate(empty.any(axis=1).tolist()):
        lows, averages, highs = listed[0][row], listed[1][row], listed[2][row]
        if gaps:
            for bucket in np.flatnonzero(empty[row]).tolist():
                lows[bucket] = averages[bucket] = highs[bucket] = None
        results.append((lows, averages, highs))
    return results


# Significant digits kept of each value: more than a chart or a label shows, and more than the
# store keeps (its unit's step, or three significant digits). It turns 43.300000000000004 (433
# steps of 0.1) and 43.516666666666666 (an average) into 43.3 and 43.5167, which halves the JSON
# of a chart and the time to compress and parse it.
SIGNIFICANT_DIGITS = 6


def _scales() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """By binary exponent (as numpy's frexp gives it; a negative one counts from the end, as
    `take` counts): what a value is multiplied by, and divided by, to round it to
    SIGNIFICANT_DIGITS; and whether it is left as it is."""
    binary = np.arange(2 * _EXPONENTS)
    binary[_EXPONENTS:] -= 2 * _EXPONENTS
    # A lower bound of each value's decimal exponent from its binary one (no logarithm per
    # value): six significant digits are kept, sometimes seven.
    places = SIGNIFICANT_DIGITS - 1 - np.floor((binary - 1) * 0.30102999566398120).astype(np.int64)
    # Powers of ten up to 1e22 are exact doubles: dividing by one gives the double nearest the
    # decimal, which prints as it. Values whose places lie beyond are left as they are.
    powers = 10.0 ** np.arange(23)
    up = np.where(places >= 0, powers[np.clip(places, 0, 22)], 1.0)
    down = np.where(places < 0, powers[np.clip(-places, 0, 22)], 1.0)
    return up, down, np.abs(places) > 22


_EXPONENTS = 1100  # beyond the exponents of doubles, subnormal ones included
_UP, _DOWN, _AS_IT_IS = _scales()


# _UP where a value is only scaled up (about 1e-17 to a million), else 0: one look-up and one
# test tell whether all are.
_UP_ONLY_UP = np.where((_DOWN == 1) & ~_AS_IT_IS, _UP, 0.0)


def _significant(values: np.ndarray) -> np.ndarray:
    """`values` rounded to SIGNIFICANT_DIGITS, in place."""
    exponents = np.frexp(values)[1]
    up = _UP_ONLY_UP.take(exponents)
    if up.all():
        # Most charts: the steps below for `down` and the values left as they are would each
        # pass over the array for nothing.
        values *= up
        np.rint(values, out=values)
        values /= up
        return values
    # take, not indexing: several times quicker with frexp's 32-bit exponents.
    up, down, as_is = _UP.take(exponents), _DOWN.take(exponents), _AS_IT_IS.take(exponents)
    kept = values[as_is] if as_is.any() else None
    # One of the two is 1: round(value * up) / up, or round(value / down) * down. Nothing here
    # overflows, and NaN (an empty bucket) stays NaN.
    values *= up
    values /= down
    np.rint(values, out=values)
    values *= down
    values /= up
    if kept is not None:
        values[as_is] = kept
    return values


def _consecutive(rows: np.ndarray) -> bool:
    # A row per series asked for: a few to a few hundred, quicker compared as a list.
    listed = rows.tolist()
    return listed == list(range(listed[0], listed[0] + len(listed)))
