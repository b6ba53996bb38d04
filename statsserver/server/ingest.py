"""Pushing data in: the original add_data_point, a JSON batch, and the InfluxDB line protocol.

Every route validates all of a request before storing any of it, and stores all of it in one
transaction: a rejected request leaves nothing behind.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..collectors.base import Metric, gauge
from ..storage import StoreError
from . import lineprotocol
from .errors import BadRequest

NAME_MAX = 200
UNIT_MAX = 16
# Pushed times outside this window are almost certainly milliseconds or nanoseconds sent as
# seconds, or a broken clock; refusing them beats charting the year 51000.
EARLIEST = 946_684_800  # 2000-01-01
LATEST_AHEAD = 86_400

router = APIRouter(tags=["ingest"])


@dataclass
class Pushed:
    category: str
    label: str
    value: float
    time: float
    unit: str
    graph: bool


def check_name(field: str, value: str | None) -> str:
    if value is None or value.strip() == "":
        raise BadRequest(f"{field} is missing or empty", field)
    if len(value) > NAME_MAX:
        raise BadRequest(f"{field} is longer than {NAME_MAX} characters", field)
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in value):
        raise BadRequest(f"{field} contains control characters", field)
    return value.strip()


def check_unit(value: str | None) -> str:
    if not value:
        return ""
    if len(value) > UNIT_MAX or any(ord(char) < 32 for char in value):
        raise BadRequest(f"unit must be at most {UNIT_MAX} printable characters", "unit")
    return value


def check_value(field: str, value) -> float:
    if isinstance(value, bool):
        return float(value)
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


def flag(value: str | None) -> bool:
    """`nograph` given bare (`&nograph`) or as 1/true/yes means the category is not charted."""
    return value is not None and value.strip().lower() not in ("0", "false", "no", "off")


def store(request: Request, source: str, points: list[Pushed]) -> int:
    """Check the source's series budget and metadata, then store all points or none."""
    state = request.app.state
    writer = state.writer
    metrics: dict[str, Metric] = {}
    for point in points:
        metric = gauge(point.unit, graph=point.graph)
        if metrics.setdefault(point.category, metric) != metric:
            raise BadRequest(f"category {point.category!r} is given two different units or graph settings "
                             "in one request", "unit")
    new = {(p.category, p.label) for p in points if not writer.known(source, p.category, p.label)}
    limit = state.config.server.max_series_per_source
    if new and writer.series_count(source) + len(new) > limit:
        raise BadRequest(f"source {source!r} would have more than {limit} series "
                         "([server] max_series_per_source)", "label", status=422)
    try:
        writer.write_points(source, [(p.category, p.label, p.time, p.value) for p in points], metrics)
    except StoreError as error:
        raise BadRequest(f"not stored: {error}", None, status=503) from None
    return len(points)


async def read_body(request: Request) -> bytes:
    """The body, decompressed if it says so, refused once it passes [server] max_body."""
    limit = request.app.state.config.server.max_body
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"body is larger than {limit} bytes ([server] max_body)", None, status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"body is larger than {limit} bytes ([server] max_body)", None, status=413)
        chunks.append(chunk)
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


# --- the original interface ----------------------------------------------------------------

@router.api_route(
    "/add_data_point", methods=["GET", "POST"],
    summary="Add one value (the original interface)",
    description="`projectid` names the source, `category` and `label` the series. The time is when "
                "the server received it unless `time` (Unix seconds) is given. `nograph` marks the "
                "category as values rather than a chart. POST may send the same fields as a form.",
)
async def add_data_point(
    request: Request,
    projectid: str | None = Query(None, description="The source: which program or machine"),
    category: str | None = Query(None, description="The chart the value belongs to"),
    label: str | None = Query(None, description="The series within the category"),
    value: str | None = Query(None, description="A finite number"),
    time_: str | None = Query(None, alias="time", description="Unix seconds; default: now"),
    unit: str | None = Query(None, description="e.g. %, B, °C"),
    nograph: str | None = Query(None, description="Present (or 1/true): shown as values, not charted"),
) -> JSONResponse:
    fields = {"projectid": projectid, "category": category, "label": label, "value": value,
              "time": time_, "unit": unit, "nograph": nograph}
    if request.method == "POST":
        body = await read_body(request)
        if body and "form" in request.headers.get("content-type", ""):
            from urllib.parse import parse_qsl

            try:
                form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise BadRequest("form body is not UTF-8", None) from None
            fields.update({key: form[key] for key in fields if key in form})
    source = check_name("projectid", fields["projectid"])
    point = Pushed(check_name("category", fields["category"]), check_name("label", fields["label"]),
                   check_value("value", fields["value"]), check_time(fields["time"], time.time()),
                   check_unit(fields["unit"]), not flag(fields["nograph"]))
    return JSONResponse({"stored": await run_in_threadpool(store, request, source, [point])})


# --- a JSON batch --------------------------------------------------------------------------

class BatchPoint(BaseModel):
    category: str = Field(description="The chart the value belongs to")
    label: str = Field(description="The series within the category")
    value: float = Field(description="A finite number (true and false count as 1 and 0)")
    time: float | None = Field(None, description="Unix seconds; default: now")
    unit: str = ""
    graph: bool = Field(True, description="false: shown as values, not charted (nograph)")


class Batch(BaseModel):
    source: str = Field(description="Which program or machine the points come from")
    points: list[BatchPoint]


@router.post("/api/points", summary="Add many values in one request, all or nothing")
async def add_points(batch: Batch, request: Request) -> JSONResponse:
    source = check_name("source", batch.source)
    if not batch.points:
        raise BadRequest("points is empty", "points")
    now = time.time()
    points = []
    for index, item in enumerate(batch.points):
        try:
            points.append(Pushed(check_name("category", item.category), check_name("label", item.label),
                                 check_value("value", item.value), check_time(item.time, now),
                                 check_unit(item.unit), item.graph))
        except BadRequest as error:
            error.field = f"points[{index}].{error.field}"
            error.reason = f"points[{index}]: {error.reason}"
            raise
    return JSONResponse({"stored": await run_in_threadpool(store, request, source, points)})


# --- InfluxDB line protocol ----------------------------------------------------------------

async def _line_protocol(request: Request, body: bytes, precision: str, default_source: str) -> Response:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8", None) from None
    try:
        parsed = lineprotocol.parse(text, precision)
    except lineprotocol.LineError as error:
        raise BadRequest(str(error), "precision" if error.line == 0 else "body") from None
    now = time.time()
    by_source: dict[str, list[Pushed]] = {}
    for point in parsed:
        category, source = lineprotocol.category_and_source(point, default_source)
        at = check_time(point.time, now) if point.time is not None else now
        source = check_name("host tag", source)
        category = check_name("measurement", category)
        for label, value in point.fields:
            by_source.setdefault(source, []).append(
                Pushed(category, check_name("field", label), value, at, "", True))
    if len(by_source) > 1:
        # One transaction per source would break all-or-nothing across sources.
        raise BadRequest("one request may carry one host's points; send one request per host", "host")
    for source, points in by_source.items():
        await run_in_threadpool(store, request, source, points)
    return Response(status_code=204)


@router.post("/api/v2/write", status_code=204, response_class=Response,
             summary="InfluxDB 2 line protocol (Telegraf's outputs.influxdb_v2)")
async def influx_v2_write(request: Request,
                          bucket: str = Query("influx", description="The source, when points have no host tag"),
                          org: str | None = Query(None, description="Accepted and ignored"),
                          precision: str = Query("ns", description="ns, us, ms or s")) -> Response:
    return await _line_protocol(request, await read_body(request), precision, bucket)


@router.post("/write", status_code=204, response_class=Response,
             summary="InfluxDB 1 line protocol (Telegraf's outputs.influxdb)")
async def influx_v1_write(request: Request,
                          db: str = Query("influx", description="The source, when points have no host tag"),
                          precision: str = Query("ns", description="n, u, ms, s, m or h")) -> Response:
    return await _line_protocol(request, await read_body(request), precision, db)


INGEST_PATHS = ("/add_data_point", "/api/points", "/api/v2/write", "/write")
