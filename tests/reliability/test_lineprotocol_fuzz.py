"""Bad input, line protocol: whatever the body, the request-level parser answers with points or a
BadRequest naming the problem, never another exception (which the server would turn into a 500)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings, strategies as st

from statsserver.server.errors import BadRequest
from statsserver.server.ingest import parse_line_protocol
from statsserver.server.lineprotocol import PRECISION, parse

# Pieces a hostile or broken sender puts together: the syntax's own characters, huge numbers,
# suffixes, escapes, quotes, control characters and non-ASCII text.
PIECES = st.sampled_from([
    "m", "cpu", ",", "=", " ", "\\", '"', "\n", "\t", "\x00", "#", "host", "h", "v", "1", "-", ".", "e", "i", "u",
    "t", "true", "F", "9" * 25, "9" * 400, "1e308", "1e999", "nan", "inf", "_", "é", "\u202e", "<script>",
])
LINES = st.lists(PIECES, max_size=30).map("".join)
TIMESTAMPS = st.one_of(st.integers(min_value=-10**30, max_value=10**30), st.integers(),
                       st.sampled_from([10**400, -(10**400)])).map(str)


def _parses_or_refuses(body: bytes, precision: str) -> None:
    try:
        source, points, _ = parse_line_protocol(body, precision, "default")
    except BadRequest as refusal:
        assert refusal.status < 500 and refusal.reason
        return
    assert source
    for category, label, at, value in zip(*points, strict=True):
        assert category and label and at == at and value == value


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(sorted(PRECISION)))
def test_any_bytes(body, precision):
    _parses_or_refuses(body, precision)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, min_size=1, max_size=4).map("\n".join), st.sampled_from(sorted(PRECISION)))
def test_near_misses(body, precision):
    _parses_or_refuses(body.encode(), precision)


@settings(max_examples=800, deadline=None)
@example("v", "1", " " + "9" * 400, "ns")  # more than a float holds: once a 500
@example("v", "9" * 400 + "i", "", "s")
@example("v\\ w", "9" * 400 + "i", "", "s")  # the escaped name takes the careful path
@given(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
       st.one_of(st.integers().map(lambda n: f"{n}i"), st.integers(min_value=0).map(lambda n: f"{n}u"),
                 st.floats().map(repr), st.sampled_from(["t", "FALSE", '"text"'])),
       st.one_of(st.just(""), TIMESTAMPS.map(lambda stamp: " " + stamp)), st.sampled_from(sorted(PRECISION)))
def test_well_formed_lines_with_any_numbers(field, value, stamp, precision):
    _parses_or_refuses(f"m,host=h {field}={value}{stamp}".encode(), precision)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s and "\n" not in s
                                                                  and "\r" not in s and not s.startswith("#")),
                          st.text(min_size=1, max_size=8).filter(lambda s: "\n" not in s and "\r" not in s)),
                min_size=1, max_size=3, unique_by=lambda pair: pair[0]))
def test_escaped_names_come_back_as_sent(tags):
    def escape(text: str) -> str:
        return "".join("\\" + c if c in ' ,="\\' else c for c in text)

    line = "m" + "".join(f",{escape(k)}={escape(v)}" for k, v in tags) + " v=1"
    try:
        (point,) = parse(line)
    except ValueError:
        return  # refused with a reason is fine; coming back different is not
    assert dict(point.tags) == dict(tags)
