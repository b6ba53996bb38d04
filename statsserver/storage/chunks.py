"""The blob formats the store keeps: window times, and blocks of one category's series.

A block holds every series of one category (a chart's worth: the cores of `cpu`, the two
directions of `network.eth0`) over one window, as matrices with a row per series:

- raw: the values at the window's times (shared by the source, stored once per window in the
  `windows` table), NaN where a series has no sample;
- rollup: min, max, mean and count per bucket on the tier's grid over the chunk's span (the sum
  is mean x count; a mean needs far fewer bits than a sum of hundreds of values), count 0
  where a bucket is empty.

Grouping by category is what makes queries cheap: a chart reads a few blocks, and a block is
decoded for all its series at once, by numpy, instead of one Python call per series per chunk.

Each row is quantised to its own step (steps_for; rollups to four significant digits of
the row's largest value when that is coarser), delta-encoded along time, divided by the row's
common factor, and the whole matrix is stored in the narrowest integer width with its bytes
shuffled into planes, then zlib. Rows that cannot be quantised are kept as floats.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

from .codec import CodecError, UNIT_STEPS, DEFAULT_STEP, SIGNIFICANT_DIGITS, compress, \
    decode_ints_array, decompress, encode_ints

ROLLUP_DIGITS = 4
_RAW, _ROLLUP = 1, 2
_BLOCK = struct.Struct("<BHI")  # kind, series, length
_MATRIX = struct.Struct("<B")  # integer width in bytes
_LIMIT = float(1 << 62)
_WIDTHS = ((1, np.int8), (2, np.int16), (4, np.int32), (8, np.int64))


def _strict(decode):
    """Bytes that do not parse are a CodecError, whatever part of the parsing notices."""
    @functools.wraps(decode)
    def checked(*arguments):
        try:
            return decode(*arguments)
        except (struct.error, ValueError, IndexError, KeyError, TypeError) as error:
            if isinstance(error, CodecError):
                raise
            raise CodecError(f"corrupt block: {error}") from None
    return checked


def encode_times(times: list[int]) -> bytes:
    return compress([encode_ints(times, 2)])


@_strict
def decode_times_array(blob: bytes) -> np.ndarray:
    return decode_ints_array(decompress(blob))[0]


def steps_for(units: list[str], values: np.ndarray, digits: int | None = None) -> np.ndarray:
    """Per-row quantisation steps: the unit's step, finer for small values (SIGNIFICANT_DIGITS of
    the row's largest), 1 for rows of whole numbers; with `digits`, never finer than that many
    significant digits of the row's largest value."""
    steps = np.array([UNIT_STEPS.get(unit, DEFAULT_STEP) for unit in units], np.float64)
    with np.errstate(all="ignore"):
        magnitude = np.abs(np.where(np.isfinite(values), values, np.nan))
        largest = np.nan_to_num(np.nanmax(magnitude, axis=1, initial=0.0), nan=0.0) if values.size else \
            np.zeros(len(units))
        exponent = np.floor(np.log10(np.where(largest > 0, largest, 1.0)))
        fine = np.where(largest > 0, 10.0 ** (exponent - SIGNIFICANT_DIGITS + 1), np.inf)
        steps = np.minimum(steps, fine)
        whole = np.all(np.isnan(values) | (values == np.floor(values)) | (magnitude >= _LIMIT), axis=1)
        steps = np.where((steps < 1) & whole, 1.0, steps)
        if digits is not None:
            steps = np.maximum(steps, np.where(largest > 0, 10.0 ** (exponent - digits + 1), 0.0))
    return steps


def encode_matrix(values: np.ndarray, steps: np.ndarray, masks: bool = True) -> bytes:
    """Rows of floats (NaN: no value) quantised to their steps. Without `masks` the decoder
    does not restore the NaNs (rollups know empty buckets from their counts)."""
    rows, length = values.shape
    present = ~np.isnan(values)
    partial = ~present.all(axis=1) if masks else np.zeros(rows, bool)
    # Absent values repeat the previous one, so they cost a zero delta; absent values before a
    # row's first one repeat that one, so a series (or a process) that appears mid-window costs
    # no jump from zero, which would widen the whole matrix.
    index = np.where(present, np.arange(length), 0)
    np.maximum.accumulate(index, axis=1, out=index)
    if length:
        np.maximum(index, present.argmax(axis=1)[:, None], out=index)
    filled = np.take_along_axis(values, index, axis=1)
    filled = np.where(np.isnan(filled), 0.0, filled)
    with np.errstate(all="ignore"):
        scaled = np.rint(filled / steps[:, None])
        floats = ~(np.isfinite(scaled).all(axis=1) & (np.abs(scaled) < _LIMIT).all(axis=1) & (steps > 0))
    scaled[floats] = 0
    numbers = scaled.astype(np.int64)
    bases = numbers[:, 0].copy() if length else np.zeros(rows, np.int64)
    deltas = np.diff(numbers, axis=1)
    factors = np.gcd.reduce(deltas, axis=1) if length > 1 else np.ones(rows, np.int64)
    factors[factors == 0] = 1
    deltas //= factors[:, None]
    peak = int(np.abs(deltas).max()) if deltas.size else 0
    width, dtype = next((w, d) for w, d in _WIDTHS if peak < np.iinfo(d).max)
    planes = deltas.astype(dtype).view(np.uint8).reshape(-1, width).T.tobytes()
    parts = [_MATRIX.pack(width), np.where(floats, 0.0, steps).astype("<f8").tobytes(),
             bases.astype("<i8").tobytes(), factors.astype("<i8").tobytes(),
             (partial.astype(np.uint8) | (floats.astype(np.uint8) << 1)).tobytes(), planes]
    if partial.any():
        parts.append(np.packbits(present[partial], axis=1).tobytes())
    for row in np.flatnonzero(floats):
        parts.append(filled[row].astype("<f8").view(np.uint8).reshape(-1, 8).T.tobytes())
    return b"".join(parts)


def decode_matrix(data: bytes, offset: int, rows: int, length: int) -> tuple[np.ndarray, int]:
    try:
        (width,) = _MATRIX.unpack_from(data, offset)
        offset += _MATRIX.size
        steps = np.frombuffer(data, "<f8", rows, offset)
        offset += 8 * rows
        bases = np.frombuffer(data, "<i8", rows, offset)
        offset += 8 * rows
        factors = np.frombuffer(data, "<i8", rows, offset)
        offset += 8 * rows
        flags = np.frombuffer(data, np.uint8, rows, offset)
        offset += rows
        if width not in dict(_WIDTHS):
            raise CodecError(f"corrupt block: an integer width of {width}")
        cells = rows * max(length - 1, 0)
        planes = np.frombuffer(data, np.uint8, cells * width, offset)
        offset += cells * width
    except (ValueError, KeyError, struct.error) as error:
        raise CodecError(f"corrupt block: {error}") from None
    deltas = _from_planes(planes, width, cells).reshape(rows, max(length - 1, 0))
    numbers = np.empty((rows, length), np.int64)
    if length:
        numbers[:, 0] = bases
        if (factors != 1).any():
            deltas *= factors[:, None]
        np.cumsum(deltas, axis=1, out=numbers[:, 1:])
        numbers[:, 1:] += bases[:, None]
    values = numbers * steps[:, None]
    partial = np.flatnonzero(flags & 1)
    if len(partial):
        mask_bytes = (length + 7) // 8
        packed = np.frombuffer(data, np.uint8, mask_bytes * len(partial), offset).reshape(len(partial), mask_bytes)
        present = np.unpackbits(packed, axis=1, count=length).astype(bool)
        values[partial] = np.where(present, values[partial], np.nan)
        offset += mask_bytes * len(partial)
    for row in np.flatnonzero(flags & 2):
        raw = np.frombuffer(data, np.uint8, 8 * length, offset).reshape(8, length).T.copy().view("<f8")
        values[row] = np.where(np.isnan(values[row]), np.nan, raw.reshape(length))
        offset += 8 * length
    return values, offset


def _from_planes(planes: np.ndarray, width: int, cells: int) -> np.ndarray:
    """Undo the byte shuffle into int64."""
    if width == 1:
        return planes.view(np.int8).astype(np.int64)
    return planes.reshape(width, cells).T.copy().view(dict(_WIDTHS)[width]).reshape(cells).astype(np.int64)


def encode_raw_block(ids: list[int], values: np.ndarray, units: list[str]) -> bytes:
    """`values`: a row per series (ids ascending), a column per window time, NaN if absent."""
    header = _BLOCK.pack(_RAW, len(ids), values.shape[1])
    return compress([header, encode_ints(ids, 1), encode_matrix(values, steps_for(units, values))])


def _read_header(data: bytes, kind: int) -> tuple[np.ndarray, int, int]:
    try:
        found, rows, length = _BLOCK.unpack_from(data)
    except struct.error:
        raise CodecError("corrupt block header") from None
    if found != kind:
        raise CodecError("a block of the wrong kind")
    ids, offset = decode_ints_array(data, _BLOCK.size)
    if len(ids) != rows:
        raise CodecError("block series do not match its header")
    return ids, length, offset


@_strict
def decode_raw_block(blob: bytes) -> tuple[np.ndarray, np.ndarray, bool]:
    """(series ids, values matrix with NaN where a series has no sample, whether it has none)."""
    data = decompress(blob)
    ids, length, offset = _read_header(data, _RAW)
    (width,) = _MATRIX.unpack_from(data, offset)
    complete = not (np.frombuffer(data, np.uint8, len(ids), offset + _MATRIX.size + 24 * len(ids)) & 1).any()
    values, _ = decode_matrix(data, offset, len(ids), length)
    return ids, values, complete


def encode_rollup_block(ids: list[int], mins, maxs, sums, counts, units: list[str]) -> bytes:
    """Matrices of one tier's buckets over a chunk's span; count 0 marks an empty bucket.

    The four are stacked into one matrix (min rows, max rows, mean rows, count rows), so a block
    decodes in one pass."""
    empty = counts == 0
    with np.errstate(all="ignore"):
        means = np.where(empty, np.nan, sums / np.where(empty, 1, counts))
    mins = np.where(empty, np.nan, mins)
    maxs = np.where(empty, np.nan, maxs)
    steps = steps_for(units, np.concatenate([mins, maxs, means], axis=1), ROLLUP_DIGITS)
    header = _BLOCK.pack(_ROLLUP, len(ids), counts.shape[1])
    stacked = np.concatenate([mins, maxs, means, counts.astype(np.float64)])
    all_steps = np.concatenate([steps, steps, steps, np.ones(len(ids))])
    return compress([header, encode_ints(ids, 1), encode_matrix(stacked, all_steps, masks=False)])


@_strict
def decode_rollup_block(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(series ids, aggregates): min, max, sum and count stacked (4 x series x buckets), one array
    that a query slices and joins in one step each. An empty bucket has count and sum 0, and NaN
    min and max."""
    data = decompress(blob)
    ids, length, offset = _read_header(data, _ROLLUP)
    rows = len(ids)
    aggregates = decode_matrix(data, offset, 4 * rows, length)[0].reshape(4, rows, length)
    mins, maxs, means, counts = aggregates
    empty = counts == 0
    means *= counts  # the sums
    if empty.any():
        mins[empty] = maxs[empty] = np.nan
        means[empty] = 0.0
    return ids, aggregates
