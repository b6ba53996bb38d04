"""The InfluxDB line protocol, so Telegraf and existing Influx clients can push without new code.

    measurement[,tag=value…] field=value[,field=value…] [timestamp]

Mapping: the `host` tag names the source; the measurement is the category, with the other tags'
values folded in after dots (`cpu,cpu=cpu0` -> `cpu.cpu0`); each field is a label. Integer
(`12i`, `12u`), float and boolean fields are stored; string fields are not numbers and are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Nanoseconds per unit, for the `precision` parameter of /api/v2/write and /write (v1 names too).
PRECISION = {"ns": 1, "n": 1, "us": 1_000, "u": 1_000, "µs": 1_000, "ms": 1_000_000,
             "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}

_TRUE = {"t", "T", "true", "True", "TRUE"}
_FALSE = {"f", "F", "false", "False", "FALSE"}


class LineError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class LinePoint:
    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, float], ...]
    time: float | None  # Unix seconds; None means "when received"


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
        value = int(number) if text[-1:] in ("i", "u") else float(number)
    except ValueError:
        raise LineError(line, f"field {key!r} has value {text!r}, which is not a number or boolean") from None
    if text[-1:] == "u" and value < 0:
        raise LineError(line, f"field {key!r} is unsigned but negative")
    if not math.isfinite(value):
        raise LineError(line, f"field {key!r} is not a finite number")
    return float(value)


def parse(body: str, precision: str = "ns") -> list[LinePoint]:
    """Parse a whole body; any bad line rejects all of it (the caller stores all or nothing)."""
    if precision not in PRECISION:
        raise LineError(0, f"precision {precision!r} is not one of {', '.join(PRECISION)}")
    scale = PRECISION[precision]
    points = []
    for number, raw in enumerate(body.splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        sections = [part for part in _split(text, " ", number) if part != ""]
        if len(sections) not in (2, 3):
            raise LineError(number, "expected `measurement[,tags] fields [timestamp]`")
        series = _split(sections[0], ",", number)
        measurement = _unescape(series[0])
        if not measurement:
            raise LineError(number, "missing measurement")
        tags = []
        for tag in series[1:]:
            key, equals, value = tag.partition("=")
            if not equals or not key or not value:
                raise LineError(number, f"tag {tag!r} is not key=value")
            tags.append((_unescape(key), _unescape(value)))
        fields = []
        for field in _split(sections[1], ",", number):
            key, equals, value = field.partition("=")
            if not equals or not key or not value:
                raise LineError(number, f"field {field!r} is not key=value")
            parsed = _field_value(value, number, _unescape(key))
            if parsed is not None:
                fields.append((_unescape(key), parsed))
        time = None
        if len(sections) == 3:
            try:
                time = int(sections[2]) * scale / 1e9
            except ValueError:
                raise LineError(number, f"timestamp {sections[2]!r} is not an integer") from None
        if fields:
            points.append(LinePoint(measurement, tuple(sorted(tags)), tuple(fields), time))
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
