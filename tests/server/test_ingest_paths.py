"""The fast ways through a push's parsing agree with the careful ones they stand in front of."""

import json
import time
from unittest import mock

from hypothesis import given, settings, strategies as st

from statsserver.server import ingest
from statsserver.server.errors import BadRequest

NOW = 1_700_000_000.0


def mostly(usual, odd):
    """Most values fit, so that whole batches fit often and both paths' results are compared."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 9 else usual)


NAMES = mostly(st.sampled_from(["cpu", " cpu ", "é"]), st.sampled_from(["", "  ", "a\x01b", "x" * 201, 5, None, True]))
NUMBERS = mostly(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**70, 2**70)),
                 st.sampled_from([True, "1.5", "nan", "", "x", None, [], {}]))
TIMES = mostly(st.one_of(st.none(), st.integers(int(NOW) - 10**8, int(NOW) + 80_000), st.floats(NOW - 10**8, NOW)),
               st.sampled_from(["", "1700000000", NOW + 90_000, 12, 946_684_799, 2**64]))
# A category's points agree on unit and graph as a rule: a batch where they differ is refused.
POINT = mostly(st.fixed_dictionaries(
    {"category": NAMES, "label": NAMES, "value": NUMBERS,
     "unit": mostly(st.just("%"), st.sampled_from(["", None, "x" * 17, "a\nb", 3])),
     "graph": mostly(st.just(True), st.sampled_from([False, 1, "yes", None]))},
    optional={"time": TIMES, "extra": st.just([1])}), st.just(3))
BATCH = st.fixed_dictionaries({"source": NAMES, "points": st.lists(POINT, max_size=8)},
                              optional={"other": st.just(None)})


def careful(body: bytes):
    try:
        return ingest._careful_batch(body)
    except BadRequest as error:
        return error.field, error.reason


def points(parsed):
    """A parse with its points as (category, label, time, value) rather than columns, which the
    paths may make as lists or tuples; a refusal or None as it is."""
    if parsed is None or len(parsed) == 2:
        return parsed
    source, columns, metrics = parsed
    return source, list(zip(*columns, strict=True)), metrics


@settings(max_examples=500, deadline=None)
@given(BATCH)
def test_the_typical_batch_is_parsed_as_the_careful_path_would(batch):
    body = json.dumps(batch).encode()
    with mock.patch.object(ingest.time, "time", return_value=NOW):
        fast = ingest._typical_batch(body)
        slow = careful(body)
    # The fast path may leave a batch to the careful one, but never accepts what it refuses.
    assert fast is None or points(fast) == points(slow)


def test_a_typical_batch_takes_the_fast_path_and_an_odd_one_the_careful_path():
    typical = {"source": "s", "points": [{"category": " c ", "label": "l", "value": 1, "time": NOW - 5, "unit": "%"},
                                         {"category": "c", "label": "m", "value": 2.5, "graph": True, "unit": "%"}]}
    with mock.patch.object(ingest.time, "time", return_value=NOW):
        fast = ingest._typical_batch(json.dumps(typical).encode())
        assert points(fast) == ("s", [("c", "l", NOW - 5, 1.0), ("c", "m", NOW, 2.5)], {"c": ingest.gauge("%")})
        typical["points"][1]["value"] = "2.5"  # numeric strings are accepted, by the careful path
        body = json.dumps(typical).encode()
        assert ingest._typical_batch(body) is None
        assert points(ingest.parse_batch(body)) == points(fast)
        typical["points"][1].update(value=2.5, time=NOW + ingest.LATEST_AHEAD + 1)
        body = json.dumps(typical).encode()
        assert ingest._typical_batch(body) is None
        assert careful(body) == ("points[1].time", "points[1]: time must be Unix seconds between 2000 and tomorrow")


def test_labels_seen_for_the_first_time_are_checked_on_the_fast_path():
    fresh = f" fresh{time.monotonic_ns()} "
    body = json.dumps({"source": "s", "points": [{"category": "c", "label": fresh, "value": 1}]}).encode()
    assert points(ingest._typical_batch(body))[1][0][:2] == ("c", fresh.strip())
    odd = f"odd{time.monotonic_ns()}\x7f"
    body = json.dumps({"source": "s", "points": [{"category": "c", "label": odd, "value": 1}]}).encode()
    assert ingest._typical_batch(body) is None
    assert careful(body) == ("points[0].label", "points[0]: label contains control characters")
