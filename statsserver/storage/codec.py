"""Encoding columns of numbers into small blobs, and back, at C speed where it counts.

A column of values is quantised to a step (the series' precision), delta-encoded, stored in the
narrowest fixed-width integer array that holds the deltas, byte-shuffled (all low bytes, then all
next bytes...) so that zlib sees long runs of zeros, and compressed. Decoding is zlib, a slice
assignment per byte plane, `array.frombytes` and `itertools.accumulate`: no Python-level loop per
value, which is what makes reading millions of samples in a query affordable without numpy.

Queries decode into numpy arrays instead (decode_ints_array, decode_values_array): the same
bytes, the same numbers, without a Python object per value.

Times are integer milliseconds, delta-of-delta encoded: a regular grid costs next to nothing.
Values that cannot be quantised (non-finite, or beyond 2**62 steps) are kept as 8-byte floats,
so nothing stored is ever lost to the codec.
"""

from __future__ import annotations

import math
import struct
import zlib
from array import array
from itertools import accumulate

import numpy as np

# The coarsest step a unit's values are kept at. Finer steps are chosen for small values (see
# precision); a unit not listed here is treated like a plain number.
UNIT_STEPS = {
    "%": 0.1,
    "°C": 0.1,
    "B": 1.0,
    "B/s": 1.0,
    "Hz": 1.0,
    "RPM": 1.0,
    "/s": 0.01,
    "s": 0.001,
    "": 0.001,
}
DEFAULT_STEP = 0.001
# Values are kept to at least this many significant digits of the largest one in a column, so
# a load average of 0.05 or a pushed reading of 3e-6 survives quantisation.
SIGNIFICANT_DIGITS = 3

_WIDTHS = (("b", 1, 1 << 7), ("h", 2, 1 << 15), ("i", 4, 1 << 31), ("q", 8, 1 << 62))
_HEADER = struct.Struct("<cBIqq")  # typecode, delta order, length, base value, common factor
_FLOAT = b"d"
_LIMIT = 1 << 62


class CodecError(ValueError):
    """A blob is not one this codec wrote."""


def precision(unit: str, values: list[float]) -> float:
    """The quantisation step for these values: the unit's, or finer for small values.

    Integral values get a step of 1 when the unit's step is finer: counts of processes stay
    exact and cost fewer bits.
    """
    step = UNIT_STEPS.get(unit, DEFAULT_STEP)
    finite = [abs(v) for v in values if math.isfinite(v)]
    largest = max(finite, default=0.0)
    if largest > 0:
        fine = 10.0 ** (math.floor(math.log10(largest)) - SIGNIFICANT_DIGITS + 1)
        if fine < step:
            step = fine  # 0.0 for subnormal values: encode_values then keeps them as floats
    if step < 1 and all(v == int(v) for v in finite if v < _LIMIT):
        step = 1.0
    return step


def _pack_array(numbers: list[int]) -> tuple[bytes, bytes]:
    peak = max(map(abs, numbers), default=0)
    for typecode, width, bound in _WIDTHS:
        if peak < bound:
            break
    data = array(typecode, numbers).tobytes()
    if width > 1:  # byte shuffle: plane k holds byte k of every number
        data = b"".join(data[k::width] for k in range(width))
    return typecode.encode(), data


def _unpack_array(typecode: str, data: bytes, count: int) -> array:
    width = array(typecode).itemsize
    if len(data) != width * count:
        raise CodecError("column length does not match its header")
    if width > 1:
        plain = bytearray(len(data))
        for k in range(width):
            plain[k::width] = data[k * count:(k + 1) * count]
        data = plain
    numbers = array(typecode)
    numbers.frombytes(data)
    return numbers


def encode_ints(numbers: list[int], order: int = 1) -> bytes:
    """A column of integers; order 1 stores deltas, order 2 deltas of deltas.

    The stored numbers are divided by their greatest common divisor: memory and disk sizes
    move in whole pages, so their deltas are multiples of 4096 and shrink by twelve bits.
    """
    if not numbers:
        return _HEADER.pack(b"b", 0, 0, 0, 1)
    base = numbers[0] if order else 0
    body = numbers
    if order:
        body = [b - a for a, b in zip(numbers, numbers[1:])]
    if order == 2 and body:
        body = [body[0]] + [b - a for a, b in zip(body, body[1:])]
    if any(abs(n) >= _LIMIT for n in body) or abs(base) >= _LIMIT:
        raise OverflowError("integers too large for the codec")
    factor = math.gcd(*body) if body else 1
    if factor > 1:
        body = [n // factor for n in body]
    else:
        factor = 1
    typecode, data = _pack_array(body)
    return _HEADER.pack(typecode, order, len(numbers), base, factor) + data


def decode_ints(blob: bytes, offset: int = 0) -> tuple[list[int], int]:
    """The integers of a column at `offset`, and the offset just after it."""
    typecode, order, count, base, factor = _HEADER.unpack_from(blob, offset)
    offset += _HEADER.size
    if count == 0:
        return [], offset
    stored = count - 1 if order else count
    width = array(typecode.decode()).itemsize
    body = _unpack_array(typecode.decode(), blob[offset:offset + width * stored], stored)
    offset += width * stored
    if factor != 1:
        body = map(factor.__mul__, body)
    if order == 0:
        return list(body), offset
    if order == 2:
        body = accumulate(body)
    return list(accumulate(body, initial=base)), offset


_DTYPES = {"b": np.dtype("<i1"), "h": np.dtype("<i2"), "i": np.dtype("<i4"), "q": np.dtype("<i8"),
           "d": np.dtype("<f8")}


def _unpack_ndarray(typecode: str, blob: bytes, offset: int, count: int) -> np.ndarray:
    dtype = _DTYPES[typecode]
    width = dtype.itemsize
    if len(blob) < offset + width * count:
        raise CodecError("column length does not match its header")
    planes = np.frombuffer(blob, np.uint8, width * count, offset)
    if width > 1:
        planes = planes.reshape(width, count).T.copy()
    return planes.view(dtype).reshape(count)


def decode_ints_array(blob: bytes, offset: int = 0) -> tuple[np.ndarray, int]:
    """decode_ints into an int64 array."""
    typecode, order, count, base, factor = _HEADER.unpack_from(blob, offset)
    offset += _HEADER.size
    if count == 0:
        return np.zeros(0, np.int64), offset
    stored = count - 1 if order else count
    typecode = typecode.decode()
    body = _unpack_ndarray(typecode, blob, offset, stored).astype(np.int64)
    offset += _DTYPES[typecode].itemsize * stored
    if factor != 1:
        body *= factor
    if order == 0:
        return body, offset
    if order == 2:
        body = np.cumsum(body)
    numbers = np.empty(count, np.int64)
    numbers[0] = base
    np.cumsum(body, out=numbers[1:])
    numbers[1:] += base
    return numbers, offset


_STEP = struct.Struct("<d")


def encode_values(values: list[float], step: float) -> bytes:
    """A column of floats, quantised to multiples of `step` (the step is stored with it)."""
    try:
        if not (step > 0 and math.isfinite(step)):
            raise ValueError("no step: values too small to quantise")
        scaled = [round(v / step) for v in values]
        if any(abs(q) >= _LIMIT for q in scaled):
            raise OverflowError
        return _STEP.pack(step) + encode_ints(scaled, 1)
    except (OverflowError, ValueError):  # inf, nan, or astronomically large
        data = array("d", values).tobytes()
        data = b"".join(data[k::8] for k in range(8))
        return _STEP.pack(0.0) + _HEADER.pack(_FLOAT, 0, len(values), 0, 1) + data


def decode_values(blob: bytes, offset: int = 0) -> tuple[list[float], int]:
    (step,) = _STEP.unpack_from(blob, offset)
    offset += _STEP.size
    if step == 0.0:
        typecode, _, count, _, _ = _HEADER.unpack_from(blob, offset)
        offset += _HEADER.size
        end = offset + 8 * count
        return _unpack_array("d", blob[offset:end], count).tolist(), end
    numbers, offset = decode_ints(blob, offset)
    return list(map(step.__mul__, numbers)), offset


def decode_values_array(blob: bytes, offset: int = 0) -> tuple[np.ndarray, int]:
    """decode_values into a float64 array."""
    (step,) = _STEP.unpack_from(blob, offset)
    offset += _STEP.size
    if step == 0.0:
        _, _, count, _, _ = _HEADER.unpack_from(blob, offset)
        offset += _HEADER.size
        return _unpack_ndarray("d", blob, offset, count).copy(), offset + 8 * count
    numbers, offset = decode_ints_array(blob, offset)
    return numbers * step, offset


def compress(parts: list[bytes]) -> bytes:
    return zlib.compress(b"".join(parts), 6)


def decompress(blob: bytes) -> bytes:
    try:
        return zlib.decompress(blob)
    except zlib.error as error:
        raise CodecError(f"corrupt chunk: {error}") from None
