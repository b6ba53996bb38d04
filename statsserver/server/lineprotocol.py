"""The InfluxDB line protocol, so Telegraf and existing Influx clients can push without new code.

    measurement[,tag=value…] field=value[,field=value…] [timestamp]

Mapping: the `host` tag names the source; the measurement is the category, with the other tags'
values folded in after dots (`cpu,cpu=cpu0` -> `cpu.cpu0`); each field is a label. Integer
(`12i`, `12u`), float and boolean fields are stored; string fields are not numbers and are skipped.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import msgspec

# Nanoseconds per unit, for the `precision` parameter of /api/v2/write and /write (v1 names too).
PRECISION = {"ns": 1, "n": 1, "us": 1_000, "u": 1_000, "µs": 1_000, "ms": 1_000_000,
             "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}

_TRUE = {"t", "T", "true", "True", "TRUE"}
_FALSE = {"f", "F", "false", "False", "FALSE"}


class LineError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)  # line 0: not about a line
        self.line = line
        self.reason = reason


class LinePoint(NamedTuple):
    measurement: str
    tags: tuple[tuple[str, str], ...]
    # The numeric fields, keys apart from values: a request's lines repeat the same keys.
    labels: tuple[str, ...]
    values: tuple[float, ...]
    time: float | None  # Unix seconds; None means "when received"

    @property
    def fields(self) -> tuple[tuple[str, float], ...]:
        return tuple(zip(self.labels, self.values))


def _split(text: str, separators: str, line: int) -> list[str]:
    """Split on unescaped separators outside double quotes; keeps escapes for the caller."""
    if "\\" not in text and '"' not in text:  # the common case, at C speed
        return text.split(separators)
    parts, current, quoted, index = [], [], False, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in separators and not quoted:
            parts.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    if quoted:
        raise LineError(line, "unterminated string")
    parts.append("".join(current))
    return parts


def _pair(text: str) -> tuple[str, str, str]:
    """Like str.partition("="), at the first `=` that is not escaped (a key may hold `\\=`)."""
    index = 0
    while True:
        index = text.find("=", index)
        if index < 0:
            return text, "", ""
        before = index
        while before and text[before - 1] == "\\":
            before -= 1
        if (index - before) % 2 == 0:  # an even run of backslashes escapes only itself
            return text[:index], "=", text[index + 1 :]
        index += 1


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    result, index = [], 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text) and text[index + 1] in ' ,="\\':
            result.append(text[index + 1])
            index += 2
        else:
            result.append(text[index])
            index += 1
    return "".join(result)


def _field_value(text: str, line: int, key: str) -> float | None:
    if text.startswith('"'):
        return None  # a string field: not a number to chart
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    number = text[:-1] if text[-1:] in ("i", "u") else text
    try:
        if "_" in number:  # Python reads 1_000 as a number; the line protocol does not
            raise ValueError
        value = int(number) if text[-1:] in ("i", "u") else float(number)
        if text[-1:] in ("i", "u"):
            float(value)  # an integer larger than any float: refused below, not a 500 later
    except OverflowError:
        raise LineError(line, f"field {key!r} is not a finite number") from None
    except ValueError:
        raise LineError(line, f"field {key!r} has value {text!r}, which is not a number or boolean") from None
    if text[-1:] == "u" and value < 0:
        raise LineError(line, f"field {key!r} is unsigned but negative")
    if not math.isfinite(value):
        raise LineError(line, f"field {key!r} is not a finite number")
    return float(value)


def _series_key(text: str, line: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    series = _split(text, ",", line)
    measurement = _unescape(series[0])
    if not measurement:
        raise LineError(line, "missing measurement")
    tags = []
    for tag in series[1:]:
        key, equals, value = _pair(tag)
        if not equals or not key or not value:
            raise LineError(line, f"tag {tag!r} is not key=value")
        tags.append((_unescape(key), _unescape(value)))
    return measurement, tuple(sorted(tags))


def _fields(text: str, line: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    labels, values = [], []
    for field in _split(text, ",", line):
        key, equals, value = _pair(field)
        if not equals or not key or not value:
            raise LineError(line, f"field {field!r} is not key=value")
        parsed = _field_value(value, line, _unescape(key))
        if parsed is not None:
            labels.append(_unescape(key))
            values.append(parsed)
    return tuple(labels), tuple(values)


_decode_fields = msgspec.json.Decoder(dict[str, float]).decode
_UNREAD = (msgspec.DecodeError, UnicodeEncodeError)  # the latter: a lone surrogate, which a str may hold


def _plain_fields(text: str) -> tuple[tuple[str, ...], tuple[float, ...]] | None:
    """The fields of a section without escapes or quotes, read in C as the JSON object they
    nearly are (`a=1.5,b=2i` as `{"a":1.5,"b":2.0}`); None for any that JSON might read
    otherwise than the careful way, `_fields`, which then reads them or names what is wrong.

    JSON's numbers are some of those float() reads, and read to the same values (the sign of a
    zero aside: SQLite does not keep it). JSON refuses `1_000`, `nan`, `inf`, numbers beyond a
    float, booleans and control characters. A field that is not one key=value leaves the
    document malformed, or with fewer entries than fields.
    """
    document = '{"' + text.replace(",", ',"').replace("=", '":') + "}"
    try:
        fields = _decode_fields(document)
    except _UNREAD:
        # `i` integers, with `.0` for the `i` that ends them (a key may hold `i}`, never `i,"`):
        # JSON reads `12.0` as float(int("12")) does, and refuses `1.5.0` or `1e5.0`.
        document = document.replace('i,"', '.0,"')
        try:
            fields = _decode_fields(document[:-2] + ".0}" if document.endswith("i}") else document)
        except _UNREAD:
            return None
    if len(fields) != text.count(",") + 1 or "" in fields:
        return None
    return tuple(fields), tuple(fields.values())


def parse(body: str, precision: str = "ns") -> list[LinePoint]:
    """Parse a whole body; any bad line rejects all of it (the caller stores all or nothing)."""
    if precision not in PRECISION:
        raise LineError(0, f"precision {precision!r} is not one of {', '.join(PRECISION)}")
    scale = PRECISION[precision] / 1e9
    points = []
    # Senders repeat the same measurement and tags line after line: parse each distinct one once.
    keys: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
    plain = "\\" not in body and '"' not in body  # then no line need be looked at for them
    for number, raw in enumerate(body.splitlines(), start=1):
        text = raw.strip()
        if not text or text[0] == "#":
            continue
        # Without escapes or quotes, a line splits at its spaces, and its fields (most of the
        # work) may be read the fast way.
        sections = text.split(" ") if plain or "\\" not in text and '"' not in text else []
        fields = _plain_fields(sections[1]) if len(sections) in (2, 3) else None
        if fields is None:
            sections = [part for part in _split(text, " ", number) if part != ""]
            if len(sections) not in (2, 3):
                raise LineError(number, "expected `measurement[,tags] fields [timestamp]`")
        key = keys.get(sections[0])
        if key is None:
            key = keys[sections[0]] = _series_key(sections[0], number)
        labels, values = fields or _fields(sections[1], number)
        time = None
        if len(sections) == 3:
            try:
                time = int(sections[2]) * scale
            except ValueError:
                raise LineError(number, f"timestamp {sections[2]!r} is not an integer") from None
            except OverflowError:
                raise LineError(number, "timestamp is out of range") from None
        if labels:
            points.append(LinePoint(key[0], key[1], labels, values, time))
    return points


def category_and_source(point: LinePoint, default_source: str) -> tuple[str, str]:
    source = default_source
    folded = []
    for key, value in point.tags:
        if key == "host":
            source = value
        else:
            folded.append(value)
    return ".".join([point.measurement, *folded]), source
