"""The block formats: what goes in comes out, to the series' precision, and bad bytes are an error."""

import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statsserver.storage.chunks import decode_raw_block, decode_rollup_block, decode_times_array, \
    encode_raw_block, encode_rollup_block, encode_times
from statsserver.storage.chunks import steps_for
from statsserver.storage.codec import CodecError, decode_ints_array, encode_ints

finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)


@given(st.lists(st.integers(-(1 << 59), 1 << 59), max_size=50), st.sampled_from([0, 1, 2]))
def test_integer_columns_round_trip(numbers, order):
    blob = encode_ints(numbers, order)
    assert decode_ints_array(blob)[0].tolist() == numbers


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.one_of(finite, st.just(math.nan)), min_size=7, max_size=7), min_size=1, max_size=6),
       st.sampled_from(["%", "B", "", "°C", "/s", "unknown"]))
def test_raw_blocks_keep_values_to_their_precision_and_holes_as_holes(rows, unit):
    values = np.array(rows)
    ids = list(range(1, len(rows) + 1))
    decoded_ids, decoded, complete = decode_raw_block(encode_raw_block(ids, values, [unit] * len(ids)))
    assert decoded_ids.tolist() == ids
    assert np.array_equal(np.isnan(decoded), np.isnan(values))
    assert complete == (not np.isnan(values).any())
    for original, back in zip(values, decoded):
        kept = original[~np.isnan(original)]
        step = steps_for([unit], kept.reshape(1, -1))[0] if len(kept) else 1.0
        assert np.all(np.abs(back[~np.isnan(original)] - kept) <= step / 2 * (1 + 1e-9) + 1e-6 * np.abs(kept))


def test_values_that_cannot_be_quantised_are_kept_exactly():
    values = np.array([[1e300, -1e300, 5e-324, 1.0], [0.1, 0.2, 0.3, math.nan]])
    _, decoded, _ = decode_raw_block(encode_raw_block([1, 2], values, ["B", "%"]))
    assert decoded[0].tolist() == [1e300, -1e300, 5e-324, 1.0]


def test_regular_times_cost_almost_nothing():
    times = [1_700_000_000_000 + 1000 * i for i in range(600)]
    blob = encode_times(times)
    assert decode_times_array(blob).tolist() == times and len(blob) < 40


def test_rollup_blocks_round_trip_with_empty_buckets():
    counts = np.array([[10, 0, 10], [0, 0, 3]])
    mins = np.array([[1.0, 0, 2.0], [0, 0, 5.0]])
    maxs = np.array([[3.0, 0, 4.0], [0, 0, 9.0]])
    sums = np.array([[20.0, 0, 30.0], [0, 0, 21.0]])
    ids, (low, high, total, count) = decode_rollup_block(encode_rollup_block([4, 7], mins, maxs, sums, counts,
                                                                            ["%", "%"]))
    assert ids.tolist() == [4, 7] and count.tolist() == counts.tolist()
    assert np.isnan(low[0, 1]) and np.isnan(high[1, 0]) and total[0, 1] == total[1, 0] == 0.0
    assert low[1, 2] == 5.0 and high[0, 2] == 4.0 and total[0, 0] == pytest.approx(20.0) and total[1, 2] == pytest.approx(21.0)


@pytest.mark.parametrize("damage", [
    lambda b: b[:10], lambda b: b[:12] + bytes([b[12] ^ 0xFF]) + b[13:], lambda b: b"", lambda b: bytes(50),
    lambda b: zlib.compress(b"\x01\x02\x00\x03\x00\x00\x00garbage"), lambda b: zlib.compress(zlib.decompress(b)[:-3])])
def test_damaged_blocks_raise_codec_errors(damage):
    blob = encode_raw_block([1, 2], np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), ["%", "%"])
    with pytest.raises(CodecError):
        decode_raw_block(damage(blob))
