"""Pushing data in: the original add_data_point, a JSON batch, and the InfluxDB line protocol.

Every request is validated whole before any of it is stored, and stored whole or not at all.
Requests that arrive together are committed together (a group commit on one writer thread):
one SQLite transaction per burst instead of one per request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import re
import threading
import time
import zlib
from itertools import repeat
from operator import attrgetter
from types import NoneType
from urllib.parse import parse_qsl

import msgspec
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from ..collectors.base import Metric, gauge
from ..storage import StoreError, Writer
from ..storage.database import Checkpoints
from ..storage.writer import Points
from . import lineprotocol
from .errors import BadRequest

NAME_MAX = 200
UNIT_MAX = 16
# Pushed times outside this window are almost certainly milliseconds or nanoseconds sent as
# seconds, or a broken clock; refusing them beats charting the year 51000.
EARLIEST = 946_684_800  # 2000-01-01
LATEST_AHEAD = 86_400
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# How much one group commit takes at most, so one transaction stays short. A big request goes
# alone: its transaction already pays for itself, and the next request's parsing overlaps it
# instead of waiting to be answered together with it.
GROUP_MAX = 256
GROUP_POINTS = 5_000
# Pushed points wait in `incoming` (readers see them there) at most about this long before the
# ingest thread moves them into the head: long enough to move many rows per page, short enough
# that `incoming` stays small.
SETTLE_SECONDS = 1.0

log = logging.getLogger(__name__)
router = APIRouter(tags=["ingest"])


# --- validation ----------------------------------------------------------------------------

def check_name(field: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field} is missing or empty", field)
    if len(value) > NAME_MAX:
        raise BadRequest(f"{field} is longer than {NAME_MAX} characters", field)
    if _CONTROL.search(value):
        raise BadRequest(f"{field} contains control characters", field)
    return value.strip()


# Names that passed check_name, as it returned them. A pushing program sends the same names
# request after request; checking thousands of them again is most of a request's parsing.
_CHECKED_NAMES: dict[str, str] = {}
CHECKED_NAMES_MAX = 100_000


def checked_names() -> dict[str, str]:
    if len(_CHECKED_NAMES) > CHECKED_NAMES_MAX:  # a client inventing names: start afresh
        _CHECKED_NAMES.clear()
    return _CHECKED_NAMES


def check_unit(value) -> str | None:
    """The unit given; None when none is, or an empty one (a script's unset variable): the
    category keeps its own."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > UNIT_MAX or _CONTROL.search(value):
        raise BadRequest(f"unit must be at most {UNIT_MAX} printable characters", "unit")
    return value


def check_value(field: str, value) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
    elif value is None or value == "":
        raise BadRequest(f"{field} is missing or empty", field)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BadRequest(f"{field} {str(value)[:40]!r} is not a number", field) from None
    if not math.isfinite(number):
        raise BadRequest(f"{field} must be a finite number, not {value}", field)
    return number


def check_time(value, now: float) -> float:
    if value is None or value == "":
        return now
    at = check_value("time", value)
    if not EARLIEST <= at <= now + LATEST_AHEAD:
        raise BadRequest("time must be Unix seconds between 2000 and tomorrow", "time")
    return at


def check_graph(value) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise BadRequest("graph must be true or false", "graph")
    return value


def graph_setting(nograph: str | None) -> bool | None:
    """`nograph` given bare (`&nograph`) or as 1/true/yes: not charted; 0/false/no/off: charted;
    absent: as the category is."""
    return None if nograph is None else nograph.strip().lower() in ("0", "false", "no", "off")


class Metrics(dict):
    """The declaration of each category in one request; one unit and graph setting per category.
    A unit or graph setting not given (None) is the category's as stored: a later push that
    names no unit must not take away the one an earlier push gave."""

    def declare(self, category: str, unit: str | None, graph: bool | None) -> None:
        metric = self.get(category)
        if metric is not None:
            if None not in (unit, metric.unit) and unit != metric.unit or \
                    None not in (graph, metric.graph) and graph != metric.graph:
                raise BadRequest(f"category {category!r} is given two different units or graph settings "
                                 "in one request", "unit")
            unit = metric.unit if unit is None else unit
            graph = metric.graph if graph is None else graph
        self[category] = gauge(unit, graph=graph)


# --- the group commit ----------------------------------------------------------------------

class IngestWriter:
    """The one thread that stores pushed points, taking every request waiting at once."""

    def __init__(self, writer: Writer, max_series_per_source: int) -> None:
        self.writer = writer
        self.limit = max_series_per_source
        writer.db.execute("PRAGMA wal_autocheckpoint = 0")
        self.checkpoints = Checkpoints(writer.path)
        self.pending: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self.thread.start()

    async def store(self, source: str, points: Points, metrics: dict[str, Metric]) -> int:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.pending.put((source, points, metrics, loop, done))
        refusal = await done
        if isinstance(refusal, StoreError):
            raise BadRequest(f"not stored: {refusal}", None, status=503)
        if refusal:
            raise BadRequest(f"{refusal} ([server] max_series_per_source)", "label", status=422)
        return len(points.values)

    def close(self) -> None:
        self.pending.put(None)
        self.thread.join(timeout=10)
        self.checkpoints.close()

    def _run(self) -> None:
        unsettled, settled_at = False, time.monotonic()
        while True:
            try:
                first = self.pending.get(timeout=SETTLE_SECONDS if unsettled else None)
            except queue.Empty:
                first = ()  # quiet for a moment: a good time to settle
            if unsettled and (first is None or time.monotonic() - settled_at >= SETTLE_SECONDS):
                unsettled = not self._settle()
                settled_at = time.monotonic()
            if first is None:
                return
            if not first:
                continue
            group, points = [first], len(first[1].values)
            while len(group) < GROUP_MAX and points < GROUP_POINTS:
                try:
                    item = self.pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.pending.put(None)  # finish this group, then stop
                    break
                group.append(item)
                points += len(item[1].values)
            try:
                outcomes = self.writer.write_batches([item[:3] for item in group], self.limit)
            except StoreError as error:
                outcomes = [error] * len(group)
            except Exception:  # noqa: BLE001 (a bug must cost these requests, not end the thread every push waits on)
                log.exception("pushed points could not be stored")
                outcomes = [StoreError("the server failed to store them; its log says why")] * len(group)
            unsettled = unsettled or any(outcome is None for outcome in outcomes)
            # One wake-up per event loop for the whole group, not one per request.
            answers: dict[asyncio.AbstractEventLoop, list] = {}
            for (_, _, _, loop, done), outcome in zip(group, outcomes):
                answers.setdefault(loop, []).append((done, outcome))
            for loop, settled in answers.items():
                loop.call_soon_threadsafe(_answer, settled)

    def _settle(self) -> bool:
        try:
            self.writer.settle()
            return True
        except StoreError as error:
            log.warning("%s; trying again shortly", error)
            return False


def _answer(settled: list[tuple[asyncio.Future, object]]) -> None:
    for future, outcome in settled:
        if not future.done():  # the client may have gone away meanwhile
            future.set_result(outcome)


async def read_body(request: Request) -> bytes:
    """The body, decompressed if it says so, refused once it passes [server] max_body."""
    limit = request.app.state.config.server.max_body
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"body is larger than {limit} bytes ([server] max_body)", None, status=413)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(f"body is larger than {limit} bytes ([server] max_body)", None, status=413)
            chunks.append(chunk)
    except ClientDisconnect:
        # Gone before the body was whole (or dropped for sending it too slowly): nothing to store.
        raise BadRequest("the client went away before its body arrived", None) from None
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = decompressor.decompress(body, limit + 1)
        except zlib.error:
            raise BadRequest("body is not valid gzip", None) from None
        if len(body) > limit or decompressor.unconsumed_tail:
            raise BadRequest(f"body is larger than {limit} bytes when decompressed ([server] max_body)",
                             None, status=413)
    elif encoding != "identity":
        raise BadRequest(f"content-encoding {encoding!r} is not supported (gzip or identity)", None, status=415)
    return body


def _parameters(*specs: tuple[str, str, bool]) -> dict:
    """OpenAPI parameters for routes that read the query string themselves, for speed."""
    return {"parameters": [{"name": name, "in": "query", "required": required, "description": text,
                            "schema": {"type": "string"}} for name, text, required in specs]}


# --- the original interface ----------------------------------------------------------------

# One route per method, each with its own operationId in the OpenAPI document (a route of two
# methods has one, twice: a document that client generators refuse).
ADD_DATA_POINT = dict(
    summary="Add one value (the original interface)",
    description="`projectid` names the source, `category` and `label` the series. The time is when "
                "the server received it unless `time` (Unix seconds) is given. `nograph` marks the "
                "category as values rather than a chart. POST may send the same fields as a form.",
    openapi_extra=_parameters(
        ("projectid", "The source: which program or machine", True),
        ("category", "The chart the value belongs to", True),
        ("label", "The series within the category", True),
        ("value", "A finite number", True),
        ("time", "Unix seconds; default: now", False),
        ("unit", "e.g. %, B, °C", False),
        ("nograph", "Present (or 1/true): shown as values, not charted", False)),
)


@router.get("/add_data_point", **ADD_DATA_POINT)
@router.post("/add_data_point", **ADD_DATA_POINT)
async def add_data_point(request: Request) -> Response:
    fields = dict(request.query_params)
    if request.method == "POST":
        body = await read_body(request)
        if body and "form" in request.headers.get("content-type", ""):
            try:
                fields.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise BadRequest("form body is not UTF-8", None) from None
    source = check_name("projectid", fields.get("projectid"))
    category = check_name("category", fields.get("category"))
    label = check_name("label", fields.get("label"))
    value = check_value("value", fields.get("value"))
    at = check_time(fields.get("time"), time.time())
    metrics = Metrics()
    metrics.declare(category, check_unit(fields.get("unit")), graph_setting(fields.get("nograph")))
    stored = await request.app.state.ingest.store(source, Points([category], [label], [at], [value]), metrics)
    return Response(b'{"stored":%d}' % stored, media_type="application/json")


# --- a JSON batch --------------------------------------------------------------------------

BATCH_SCHEMA = {
    "type": "object", "required": ["source", "points"],
    "properties": {
        "source": {"type": "string", "description": "Which program or machine the points come from"},
        "points": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["category", "label", "value"],
            "properties": {
                "category": {"type": "string"}, "label": {"type": "string"},
                "value": {"type": "number", "description": "A finite number (true and false count as 1 and 0)"},
                "time": {"type": "number", "description": "Unix seconds; default: now"},
                "unit": {"type": "string"},
                "graph": {"type": "boolean", "description": "false: shown as values, not charted (nograph)"},
            }}},
    },
}


class _Point(msgspec.Struct, gc=False):  # no cycles: the garbage collector need not track 5,000 of them
    category: str
    label: str
    value: float
    time: float | None = None
    unit: str | None = None
    graph: bool | msgspec.UnsetType = msgspec.UNSET  # null is refused, as the careful way does


class _Batch(msgspec.Struct):
    source: str
    points: list[_Point]


_decode_batch = msgspec.json.Decoder(_Batch).decode
_CATEGORY, _LABEL, _TIME, _VALUE = attrgetter("category"), attrgetter("label"), attrgetter("time"), attrgetter("value")
_DECLARED = attrgetter("category", "unit", "graph")


def _typical_batch(body: bytes) -> tuple[str, Points, Metrics] | None:
    """The usual batch (strings, numbers, booleans where BATCH_SCHEMA says), decoded and typed
    in C; None for anything else, which `parse_batch` reads carefully to accept or to name
    what is wrong. Never accepts what that would refuse, nor stores anything differently."""
    try:
        batch = _decode_batch(body)
    except msgspec.DecodeError:  # malformed or of other types (ValidationError is one)
        return None
    items, names = batch.points, checked_names()
    if not items:
        return None
    now = time.time()
    try:
        source = check_name("source", batch.source)
        metrics = Metrics()
        for category, unit, graph in set(map(_DECLARED, items)):
            if category not in names:
                names[category] = check_name("category", category)
            metrics.declare(names[category], check_unit(unit), None if graph is msgspec.UNSET else graph)

        try:
            labels = list(map(names.__getitem__, map(_LABEL, items)))
        except KeyError:  # labels not seen before: each checked once
            for label in {item.label for item in items if item.label not in names}:
                names[label] = check_name("label", label)
            labels = list(map(names.__getitem__, map(_LABEL, items)))
    except BadRequest:
        return None
    times = list(map(_TIME, items))
    if None in times:  # now, for the points that give no time
        times = [now] * len(times) if times.count(None) == len(times) else [now if at is None else at for at in times]
    if not EARLIEST <= min(times) <= max(times) <= now + LATEST_AHEAD:
        return None
    categories = list(map(names.__getitem__, map(_CATEGORY, items)))
    # JSON has no NaN and msgspec refuses numbers beyond a float's range: values are finite.
    return source, Points(categories, labels, times, list(map(_VALUE, items))), metrics


def parse_batch(body: bytes) -> tuple[str, Points, Metrics]:
    return _typical_batch(body) or _careful_batch(body)


def _careful_batch(body: bytes) -> tuple[str, Points, Metrics]:
    try:
        batch = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not JSON", None) from None
    if not isinstance(batch, dict):
        raise BadRequest("body must be an object with source and points", None)
    source = check_name("source", batch.get("source"))
    items = batch.get("points")
    if not isinstance(items, list) or not items:
        raise BadRequest("points must be a non-empty list", "points")
    now = time.time()
    latest = now + LATEST_AHEAD
    points, metrics, names, declared = [], Metrics(), checked_names(), set()
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise BadRequest("must be an object", "")
            category, label = item.get("category"), item.get("label")
            # Names repeat across points and requests; each distinct one is checked once
            # (check_name refuses anything but a fitting string, so only strings reach `names`).
            if category.__class__ is not str or category not in names:
                names[category] = check_name("category", category)
            if label.__class__ is not str or label not in names:
                names[label] = check_name("label", label)
            value = item.get("value")
            if value.__class__ is not float or value - value != 0.0:  # x - x is 0.0 for finite x only
                value = check_value("value", value)
            at = item.get("time", now)
            if at.__class__ is int and EARLIEST <= at <= latest:  # whole seconds, as many send them
                at = float(at)
            elif at.__class__ is not float or not EARLIEST <= at <= latest:
                at = now if at is None else check_time(at, now)
            points.append((names[category], names[label], at, value))
            unit, graph = item.get("unit"), item.get("graph")
            if graph is None and "graph" in item:  # absent: as the category is; null: a mistake
                raise BadRequest("graph must be true or false", "graph")
            if unit.__class__ not in (str, NoneType) or graph.__class__ not in (bool, NoneType) \
                    or (category, unit, graph) not in declared:
                metrics.declare(names[category], check_unit(unit), check_graph(graph))
                declared.add((category, unit, graph))
        except BadRequest as error:
            error.field = f"points[{index}]" + (f".{error.field}" if error.field else "")
            error.reason = f"points[{index}]: {error.reason}"
            raise
    return source, Points(*zip(*points)), metrics


@router.post("/api/points", summary="Add many values in one request, all or nothing",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}})
async def add_points(request: Request) -> JSONResponse:
    source, points, metrics = parse_batch(await read_body(request))
    return JSONResponse({"stored": await request.app.state.ingest.store(source, points, metrics)})


# --- InfluxDB line protocol ----------------------------------------------------------------

def parse_line_protocol(body: bytes, precision: str, default_source: str) -> tuple[str, Points, Metrics]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8", None) from None
    try:
        parsed = lineprotocol.parse(text, precision)
    except lineprotocol.LineError as error:
        raise BadRequest(str(error), "precision" if error.line == 0 else "body") from None
    now = time.time()
    sources, metrics, names = set(), Metrics(), checked_names()
    categories, labels, times, values = points = [], [], [], []
    # Lines repeat their series and their fields' keys: each distinct one is checked once.
    series: dict[tuple, str] = {}  # (measurement, tags) -> category
    shapes: dict[tuple[str, ...], tuple[str, ...]] = {}  # field keys -> labels
    for point in parsed:
        at = check_time(point.time, now) if point.time is not None else now
        category = series.get(point[:2])
        if category is None:
            category, source = lineprotocol.category_and_source(point, default_source)
            sources.add(source)
            if category not in names:
                names[category] = check_name("measurement", category)
            metrics.declare(names[category], None, None)
            category = series[point[:2]] = names[category]
        checked = shapes.get(point.labels)
        if checked is None:
            for label in point.labels:
                if label not in names:
                    names[label] = check_name("field", label)
            checked = shapes[point.labels] = tuple(names[label] for label in point.labels)
        categories.extend(repeat(category, len(checked)))
        labels.extend(checked)
        times.extend(repeat(at, len(checked)))
        values.extend(point.values)
    if len(sources) > 1:
        # All or nothing holds per request, and a request writes one source.
        raise BadRequest("one request may carry one host's points; send one request per host", "host")
    source = check_name("host tag", sources.pop() if sources else default_source)
    return source, Points(*points), metrics


async def _line_protocol(request: Request, precision: str, default_source: str) -> Response:
    source, points, metrics = parse_line_protocol(await read_body(request), precision, default_source)
    if points.values:
        await request.app.state.ingest.store(source, points, metrics)
    return Response(status_code=204)


LINE_BODY = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}


@router.post("/api/v2/write", status_code=204, response_class=Response,
             summary="InfluxDB 2 line protocol (Telegraf's outputs.influxdb_v2)",
             openapi_extra={**_parameters(("bucket", "The source, when points have no host tag", False),
                                          ("org", "Accepted and ignored", False),
                                          ("precision", "ns (default), us, ms or s", False)), **LINE_BODY})
async def influx_v2_write(request: Request) -> Response:
    query = request.query_params
    return await _line_protocol(request, query.get("precision", "ns"), query.get("bucket") or "influx")


@router.post("/write", status_code=204, response_class=Response,
             summary="InfluxDB 1 line protocol (Telegraf's outputs.influxdb)",
             openapi_extra={**_parameters(("db", "The source, when points have no host tag", False),
                                          ("precision", "n (default), u, ms, s, m or h", False)), **LINE_BODY})
async def influx_v1_write(request: Request) -> Response:
    query = request.query_params
    return await _line_protocol(request, query.get("precision", "ns"), query.get("db") or "influx")


# The push routes; their handlers read their requests themselves and are handed them straight
# (server/direct.py), past FastAPI's routing: it would be most of the cost of a one-value push.
INGEST_PATHS = tuple(dict.fromkeys(route.path for route in router.routes))
