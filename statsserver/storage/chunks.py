"""The three blob formats the store keeps, built from codec columns and compressed with zlib.

- window times: every distinct sample time of one source in one raw window, delta-of-delta;
- a raw chunk: one series' values in one window, and which of the window's times it has
  (nothing when it has them all, the usual case);
- a rollup chunk: one series' buckets of one tier over the tier's span: bucket offsets on the
  tier's grid, then min, max, mean and count (the sum is mean x count: the mean needs far fewer
  bits than a sum of hundreds of values). Rollups are quantised to four significant digits of
  the chunk's largest value, or the unit's step if that is coarser: a chart of minutes or
  hours does not show the last byte per second, and it halves the tiers' size.

Each format has two decoders: lists for the few values maintenance and moment() touch, numpy
arrays for queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .codec import CodecError, compress, decode_ints, decode_ints_array, decode_values, \
    decode_values_array, decompress, encode_ints, encode_values, precision

ROLLUP_DIGITS = 4

_ALL_TIMES = b"\x00"
_SOME_TIMES = b"\x01"


def encode_times(times: list[int]) -> bytes:
    return compress([encode_ints(times, 2)])


def decode_times(blob: bytes) -> list[int]:
    return decode_ints(decompress(blob))[0]


def encode_raw(window_times: list[int], times: list[int], values: list[float], unit: str) -> bytes:
    """`times` must be a sorted subset of `window_times`, one value each."""
    if len(times) == len(window_times):
        presence = [_ALL_TIMES]
    else:
        position = {t: i for i, t in enumerate(window_times)}
        presence = [_SOME_TIMES, encode_ints([position[t] for t in times], 1)]
    return compress([*presence, encode_values(values, precision(unit, values))])


def decode_times_array(blob: bytes) -> np.ndarray:
    return decode_ints_array(decompress(blob))[0]


def decode_raw_array(blob: bytes, window_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times, values) arrays; `times` is `window_times` itself when the series has them all."""
    data = decompress(blob)
    if data[:1] == _ALL_TIMES:
        times, offset = window_times, 1
    elif data[:1] == _SOME_TIMES:
        positions, offset = decode_ints_array(data, 1)
        if len(positions) and (positions[0] < 0 or positions[-1] >= len(window_times)):
            raise CodecError("raw chunk does not match its window")
        times = window_times[positions]
    else:
        raise CodecError("unknown raw chunk format")
    values, _ = decode_values_array(data, offset)
    if len(values) != len(times):
        raise CodecError("raw chunk does not match its window")
    return times, values


def decode_raw(blob: bytes, window_times: list[int]) -> tuple[list[int], list[float]]:
    """(times, values) of one series in one window."""
    data = decompress(blob)
    if data[:1] == _ALL_TIMES:
        times, offset = window_times, 1
    elif data[:1] == _SOME_TIMES:
        positions, offset = decode_ints(data, 1)
        times = [window_times[i] for i in positions]
    else:
        raise CodecError("unknown raw chunk format")
    values, _ = decode_values(data, offset)
    if len(values) != len(times):
        raise CodecError("raw chunk does not match its window")
    return times, values


@dataclass
class Buckets:
    """Rollup buckets of one series, in time order; `starts` in ms."""
    starts: list[int]
    mins: list[float]
    maxs: list[float]
    sums: list[float]
    counts: list[int]

    def __len__(self) -> int:
        return len(self.starts)

    def rows(self):
        return zip(self.starts, self.mins, self.maxs, self.sums, self.counts)

    @classmethod
    def from_rows(cls, rows) -> "Buckets":
        columns = list(zip(*rows)) or [(), (), (), (), ()]
        return cls(*(list(column) for column in columns))


def merge(*parts: Buckets) -> Buckets:
    """One bucket per start: duplicates (late data stored twice over) are combined."""
    merged: dict[int, list] = {}
    for part in parts:
        for start, low, high, total, count in part.rows():
            entry = merged.get(start)
            if entry is None:
                merged[start] = [low, high, total, count]
            else:
                entry[0] = min(entry[0], low)
                entry[1] = max(entry[1], high)
                entry[2] += total
                entry[3] += count
    return Buckets.from_rows((start, *merged[start]) for start in sorted(merged))


def rollup_precision(unit: str, values: list[float]) -> float:
    step = precision(unit, values)
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if largest > 0:
        step = max(step, 10.0 ** (math.floor(math.log10(largest)) - ROLLUP_DIGITS + 1))
    return step


def encode_rollup(chunk_start: int, step_ms: int, buckets: Buckets, unit: str) -> bytes:
    means = [total / count if count else 0.0 for total, count in zip(buckets.sums, buckets.counts)]
    step = rollup_precision(unit, buckets.mins + buckets.maxs + means)
    offsets = [(start - chunk_start) // step_ms for start in buckets.starts]
    return compress([
        encode_ints(offsets, 1),
        encode_values(buckets.mins, step),
        encode_values(buckets.maxs, step),
        encode_values(means, step),
        encode_ints(buckets.counts, 1),
    ])


def decode_rollup(blob: bytes, chunk_start: int, step_ms: int) -> Buckets:
    data = decompress(blob)
    offsets, at = decode_ints(data)
    mins, at = decode_values(data, at)
    maxs, at = decode_values(data, at)
    means, at = decode_values(data, at)
    counts, _ = decode_ints(data, at)
    if not len(offsets) == len(mins) == len(maxs) == len(means) == len(counts):
        raise CodecError("rollup chunk columns differ in length")
    starts = [chunk_start + offset * step_ms for offset in offsets]
    return Buckets(starts, mins, maxs, [mean * count for mean, count in zip(means, counts)], counts)


def decode_rollup_arrays(blob: bytes, chunk_start: int, step_ms: int) -> tuple[np.ndarray, ...]:
    """(starts, mins, maxs, sums, counts) arrays."""
    data = decompress(blob)
    offsets, at = decode_ints_array(data)
    mins, at = decode_values_array(data, at)
    maxs, at = decode_values_array(data, at)
    means, at = decode_values_array(data, at)
    counts, _ = decode_ints_array(data, at)
    if not len(offsets) == len(mins) == len(maxs) == len(means) == len(counts):
        raise CodecError("rollup chunk columns differ in length")
    return offsets * step_ms + chunk_start, mins, maxs, means * counts, counts
