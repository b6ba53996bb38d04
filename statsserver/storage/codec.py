"""Integer columns, and the rules for how finely values are kept.

An integer column (times in ms, series ids) is delta- or delta-of-delta-encoded, divided by its
common factor, stored in the narrowest fixed-width integer array that holds it, and
byte-shuffled (all low bytes, then all next bytes...) so that zlib sees long runs of zeros: a
regular grid of times costs a few bytes. Encoding is plain Python (maintenance writes few
columns); decoding is numpy, for queries.

Value matrices (chunks.py) follow the same scheme, a row per series, after quantising each row
to a step derived from its unit (UNIT_STEPS) and its values.
"""

from __future__ import annotations

import math
import struct
import zlib
from array import array

import numpy as np

# The coarsest step a unit's values are kept at. Finer steps are chosen for small values (see
# chunks.steps_for); a unit not listed here is treated like a plain number.
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
_LIMIT = 1 << 62


class CodecError(ValueError):
    """A blob is not one this codec wrote."""


def _pack_array(numbers: list[int]) -> tuple[bytes, bytes]:
    peak = max(map(abs, numbers), default=0)
    for typecode, width, bound in _WIDTHS:
        if peak < bound:
            break
    data = array(typecode, numbers).tobytes()
    if width > 1:  # byte shuffle: plane k holds byte k of every number
        data = b"".join(data[k::width] for k in range(width))
    return typecode.encode(), data


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


_DTYPES = {"b": np.dtype("<i1"), "h": np.dtype("<i2"), "i": np.dtype("<i4"), "q": np.dtype("<i8"),
           }


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


def compress(parts: list[bytes]) -> bytes:
    return zlib.compress(b"".join(parts), 6)


def decompress(blob: bytes) -> bytes:
    try:
        return zlib.decompress(blob)
    except zlib.error as error:
        raise CodecError(f"corrupt chunk: {error}") from None
