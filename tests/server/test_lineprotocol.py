import re
from unittest import mock

import pytest
from hypothesis import example, given, settings, strategies as st

from statsserver.server import lineprotocol
from statsserver.server.lineprotocol import LineError, LinePoint, category_and_source, parse


def test_telegraf_lines():
    body = ("cpu,cpu=cpu0,host=web1 usage_user=1.5,usage_system=0.5 1700000000000000000\n"
            "mem,host=web1 used=123456i,available_percent=80.1 1700000000000000000\n"
            "system,host=web1 uptime=99u,load1=0.1,n_users=2i 1700000001000000000\n")
    points = parse(body)
    assert points[0] == LinePoint("cpu", (("cpu", "cpu0"), ("host", "web1")),
                                  ("usage_user", "usage_system"), (1.5, 0.5), 1_700_000_000.0)
    assert points[1].fields == (("used", 123456.0), ("available_percent", 80.1))
    assert points[2].time == 1_700_000_001.0
    assert category_and_source(points[0], "influx") == ("cpu.cpu0", "web1")
    assert category_and_source(points[1], "influx") == ("mem", "web1")


def test_escapes_quotes_booleans_and_strings():
    (point,) = parse('disk\\ io,path=/mnt/my\\ disk,dev=a\\,b ok=true,bad=F,note="a, b = c",n=-3 1')
    assert point.measurement == "disk io"
    assert dict(point.tags) == {"path": "/mnt/my disk", "dev": "a,b"}
    assert point.fields == (("ok", 1.0), ("bad", 0.0), ("n", -3.0))  # the string field is skipped


@pytest.mark.parametrize("precision, stamp, seconds", [
    ("ns", "1700000000000000000", 1.7e9), ("us", "1700000000000000", 1.7e9), ("u", "1700000000000000", 1.7e9),
    ("ms", "1700000000000", 1.7e9), ("s", "1700000000", 1.7e9), ("h", "472222", 472222 * 3600),
])
def test_precision(precision, stamp, seconds):
    (point,) = parse(f"m v=1 {stamp}", precision)
    assert point.time == seconds


def test_no_timestamp_means_now_and_comments_and_blank_lines_are_skipped():
    assert parse("# a comment\n\nm v=1\n")[0].time is None


@pytest.mark.parametrize("body, reason", [
    ("m", "line 1: expected `measurement[,tags] fields [timestamp]`"),
    ("m v=abc", "line 1: field 'v' has value 'abc', which is not a number or boolean"),
    ("m,t v=1", "line 1: tag 't' is not key=value"),
    ("m v=1 soon", "line 1: timestamp 'soon' is not an integer"),
    ("m v=1\nm v=nan", "line 2: field 'v' is not a finite number"),
    ("m v=-1u", "line 1: field 'v' is unsigned but negative"),
    ('m v="open', "line 1: unterminated string"),
    (",t=1 v=1", "line 1: missing measurement"),
])
def test_errors_name_the_line(body, reason):
    with pytest.raises(LineError, match="^" + re.escape(reason)):
        parse(body)


def test_unknown_precision():
    with pytest.raises(LineError, match="precision 'weeks' is not one of"):
        parse("m v=1", "weeks")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["ns", "us", "ms", "s"]))
def test_any_input_parses_or_is_refused_with_a_line_error(body, precision):
    try:
        points = parse(body, precision)
    except LineError:
        return
    for point in points:
        assert point.measurement and point.fields


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                          st.floats(allow_nan=False, allow_infinity=False, width=32)), min_size=1, max_size=5,
                unique_by=lambda pair: pair[0]))
def test_written_fields_come_back(fields):
    line = "m,host=h " + ",".join(f"{key}={value!r}" for key, value in fields) + " 1000000000"
    (point,) = parse(line)
    assert point.fields == tuple((key, float(value)) for key, value in fields)
    assert point.time == 1.0


# Pieces of a field section: the syntax of fields and of JSON (which the fast way reads them as),
# numbers JSON and float() read differently, suffixes, booleans, control and non-ASCII characters.
FIELD_PIECES = st.sampled_from([
    "a", "b", "é", "=", ",", ":", "{", "}", "[", "]", "\t", "\x01", "-", "+", ".", "e", "E", "0", "1", "5", "i", "u",
    "_", "true", "null", "nan", "inf", "t", "F", "9" * 400, "1e999", "-0", "0.5", "12", "1.5e3", "\ud800",
])
NUMBERS = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.integers().map(str),
                    st.integers().map(lambda n: f"{n}i"), st.integers(min_value=0).map(lambda n: f"{n}u"),
                    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?i?", fullmatch=True))
SECTIONS = st.one_of(
    st.lists(FIELD_PIECES, min_size=1, max_size=24).map("".join),
    st.lists(st.tuples(st.from_regex(r"[a-z_:{}\[\]é0-9]{1,6}", fullmatch=True), NUMBERS), min_size=1, max_size=6)
    .map(lambda fields: ",".join(f"{key}={value}" for key, value in fields)))


def _read(how, *arguments):
    try:
        return how(*arguments)
    except LineError as error:
        return str(error)


@settings(max_examples=3000, deadline=None)
@given(SECTIONS)
@example("n=0i,i}=1")  # once read as `{"n":0.0,".0}":1}`
def test_the_fast_way_reads_fields_as_the_careful_way_or_leaves_them_to_it(section):
    fast, careful = lineprotocol._plain_fields(section), _read(lineprotocol._fields, section, 1)
    # Equal values, the sign of a zero aside (0.0 == -0.0): SQLite does not keep it.
    assert fast is None or fast == careful, (fast, careful)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["cpu", "cpu,cpu=cpu0,host=h", "m,t=a\\ b", "#c", "", "m,t"]),
                          SECTIONS, st.sampled_from(["", " 1700000000000000000", " x", "  5", " " + "9" * 400])),
                max_size=4).map(lambda lines: "\n".join(f"{series} {fields}{stamp}" for series, fields, stamp in lines)))
def test_a_body_parses_alike_with_and_without_the_fast_way(body):
    fast = _read(parse, body)
    with mock.patch.object(lineprotocol, "_plain_fields", return_value=None):
        assert _read(parse, body) == fast


def test_the_fast_way_takes_telegrafs_usual_fields():
    assert lineprotocol._plain_fields("usage_user=1.5,usage_idle=98.25,n=3i,big=12345678901234567890i,e=1e-7") == \
        (("usage_user", "usage_idle", "n", "big", "e"), (1.5, 98.25, 3.0, 12345678901234567890.0, 1e-7))
    for odd in ("a=1,a=2", "a=1,", "a=1.5i", "a=1e5i", "a=1_0", "a=t", 'a="x"', "a=nan", "a=1e999", "a,:1", "a=5u",
                "=1", "a=", "a=01", "a=.5"):
        assert lineprotocol._plain_fields(odd) is None, odd
