import re

import pytest
from hypothesis import given, settings, strategies as st

from statsserver.server.lineprotocol import LineError, LinePoint, category_and_source, parse


def test_telegraf_lines():
    body = ("cpu,cpu=cpu0,host=web1 usage_user=1.5,usage_system=0.5 1700000000000000000\n"
            "mem,host=web1 used=123456i,available_percent=80.1 1700000000000000000\n"
            "system,host=web1 uptime=99u,load1=0.1,n_users=2i 1700000001000000000\n")
    points = parse(body)
    assert points[0] == LinePoint("cpu", (("cpu", "cpu0"), ("host", "web1")),
                                  (("usage_user", 1.5), ("usage_system", 0.5)), 1_700_000_000.0)
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
