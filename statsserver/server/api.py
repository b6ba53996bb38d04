"""The read API: what the web app (and anyone else) asks of the store. JSON only."""

from __future__ import annotations

import math
import time
from urllib.parse import parse_qsl

import orjson
from anyio import to_thread

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .. import __version__
from ..storage.answers import range_json
from .errors import BadRequest

router = APIRouter(prefix="/api", tags=["read"])

MAX_POINTS = 10_000
# Up to this many cells (series x points), /api/data is answered on the event loop: a
# millisecond or two of work at most.
INLINE_CELLS = 20_000


def _json(data) -> Response:
    # Straight to JSON with orjson: these shapes are plain data, and a chart's worth of floats
    # costs the standard library's encoder some twenty times as long.
    return Response(orjson.dumps(data), media_type="application/json")


def _source(request: Request, source: str | None, catalog=None) -> str:
    catalog = catalog or request.app.state.reader().catalog()
    if source is None:
        local = request.app.state.local_source
        if local in catalog.by_name:
            return local
        if catalog.sources:
            return catalog.sources[0].name
        raise BadRequest("no data has been stored yet: run `statsserver collect` on this database, or push a "
                         "value to /add_data_point", "source", status=404)
    if source not in catalog.by_name:
        raise BadRequest(f"unknown source {source[:100]!r}", "source", status=404)
    return source


# Times far outside any clock's reach would only overflow the store's millisecond integers.
LATEST_TIME = 1e11  # Unix seconds, about the year 5138


def _finite(field: str, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise BadRequest(f"{field} must be a finite number", field)
    if value is not None and not 0 <= value <= LATEST_TIME:
        raise BadRequest(f"{field} must be Unix seconds between 0 and {LATEST_TIME:.0e}", field)
    return value


@router.get("/health", summary="Liveness and version; needs no token")
async def health() -> Response:
    return _json({"status": "ok", "version": __version__})


@router.get("/sources", summary="Every source: this machine and each pushing program")
def sources(request: Request) -> Response:
    return _json({"local": request.app.state.local_source, "sources": request.app.state.reader().sources()})


@router.get("/series", summary="The series catalog of a source: category, label, unit, kind, graph")
def series(request: Request, source: str | None = Query(None, description="Default: this machine")) -> Response:
    name = _source(request, source)
    return _json({"source": name, "series": [s.as_dict() for s in request.app.state.reader().series(name)]})


def _window(start: float | None, end: float | None) -> tuple[float, float]:
    """The range asked for: by default the hour until now."""
    end = end if end is not None else time.time()
    start = start if start is not None else end - 3600
    if start >= end:
        raise BadRequest("from must be before to", "from")
    return start, end


def _read_number(fields: dict[str, str], field: str, kind=float):
    text = fields.get(field)
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise BadRequest(f"{field} must be {'a whole number' if kind is int else 'a number'}", field) from None


# /api/data reads its query string itself: FastAPI's validation of these five parameters took
# longer than answering the query. They are declared here for the OpenAPI document.
DATA_PARAMETERS = [
    {"name": "source", "in": "query", "required": False, "description": "Default: this machine",
     "schema": {"type": "string"}},
    {"name": "category", "in": "query", "required": False,
     "description": "Categories to include (repeat, or comma-separated); default: all",
     "schema": {"type": "array", "items": {"type": "string"}}},
    {"name": "from", "in": "query", "required": False, "description": "Unix seconds; default: an hour before `to`",
     "schema": {"type": "number"}},
    {"name": "to", "in": "query", "required": False, "description": "Unix seconds; default: now",
     "schema": {"type": "number"}},
    {"name": "points", "in": "query", "required": False, "description": "At most this many buckets",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_POINTS, "default": 1000}},
]


@router.get("/data", summary="A time range reduced to at most `points` buckets of min, avg and max",
            description="Columnar, ready for uPlot: `times` (bucket centres, Unix seconds) and per "
                        "series `min`, `avg`, `max` arrays of the same length; null where there was "
                        "no data, and a null row where collection stopped.",
            openapi_extra={"parameters": DATA_PARAMETERS})
async def data(request: Request) -> Response:
    state = request.app.state
    # The query string read as Starlette's query_params reads it (Latin-1, blank values kept, the
    # last of a repeated name), without the multidict it builds: that was 6 % of a request for an
    # hour's chart.
    fields: dict[str, str] = {}
    categories = []
    for name, value in parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True):
        fields[name] = value
        if name == "category":
            categories += [part for part in value.split(",") if part]
    source = fields.get("source")
    end = _finite("to", _read_number(fields, "to"))
    start = _finite("from", _read_number(fields, "from"))
    points = _read_number(fields, "points", int)
    if points is None:
        points = 1000
    elif not 1 <= points <= MAX_POINTS:
        raise BadRequest(f"points must be between 1 and {MAX_POINTS}", "points")
    categories = categories or None

    key = (source, start, end, points, tuple(categories) if categories else None)
    reader = state.reader()  # the event loop's, always: its data version numbers the kept answers
    catalog = reader.catalog()  # once: each look-up asks SQLite whether anything was committed
    # "Until now" changes by the second: only an answer with an end is kept.
    version = reader.version if end is not None else None
    kept = state.answers.get(key, version)
    if kept is None:
        kept = await _compute_data(request, catalog, source, start, end, points, categories)
        state.answers.put(key, version, kept)
    return Response(kept, media_type="application/json")


async def _compute_data(request: Request, catalog, source: str | None, start: float | None, end: float | None,
                        points: int, categories: list[str] | None) -> bytes:
    state = request.app.state
    source = _source(request, source, catalog)
    start, end = _window(start, end)

    query = [source, start, end, points, categories]
    cells = len(catalog.series(source, categories)) * points
    answered = await state.read_workers.answer(query, cells)
    if answered is not None:
        return answered

    def compute() -> bytes:
        return range_json(state.reader(), *query)

    # A small query costs less than handing it to a worker thread and back (about 0.2 ms of
    # CPU): the event loop answers it. Larger ones take turns in the thread pool.
    if cells <= INLINE_CELLS:
        return compute()
    return await to_thread.run_sync(compute, limiter=state.queries)


@router.get("/moment", summary="Every value, and the processes, nearest to one moment")
def moment(request: Request, t: float = Query(description="Unix seconds"),
           source: str | None = Query(None, description="Default: this machine")) -> Response:
    _finite("t", t)
    return _json({"source": (name := _source(request, source)), **request.app.state.reader().moment(name, t)})


@router.get("/processes", summary="The processes listed nearest to one moment",
            description="The nearest sample's list within two intervals; where raw samples have expired, "
                        "the top processes of the minute holding `t` (`tier` is then `1m`). Biggest CPU first; "
                        "`cpu` is % of one core, `rss` bytes, disk rates B/s (null where unknown).")
def processes(request: Request, t: float = Query(description="Unix seconds"),
              source: str | None = Query(None, description="Default: this machine")) -> Response:
    _finite("t", t)
    name = _source(request, source)
    return _json({"source": name, **request.app.state.reader().processes_at(name, t)})


@router.get("/process", summary="One process's CPU and memory over a range, in at most `points` buckets",
            description="A process is its pid and its start time (a reused pid is another process). "
                        "Columnar like /api/data: `times` and, for `cpu` (%) and `rss` (B), `min`, `avg`, "
                        "`max`; buckets where the process was not listed are left out.")
def process(
    request: Request,
    pid: int = Query(ge=0, le=2**31 - 1, description="Process id"),
    started: float = Query(description="Start time of the process, Unix seconds (within a second)"),
    source: str | None = Query(None, description="Default: this machine"),
    from_: float | None = Query(None, alias="from", description="Unix seconds; default: an hour before `to`"),
    to: float | None = Query(None, description="Unix seconds; default: now"),
    points: int = Query(1000, ge=1, le=MAX_POINTS, description="At most this many buckets"),
) -> Response:
    _finite("started", started)
    name = _source(request, source)
    start, end = _window(_finite("from", from_), _finite("to", to))
    history = request.app.state.reader().process_history(name, pid, started, start, end, points)
    if history is None:
        raise BadRequest(f"no process {pid} that started at {started} was listed", "started", status=404)
    return _json(history)


@router.get("/latest", summary="Each series' newest value")
def latest(request: Request, source: str | None = Query(None, description="Default: this machine")) -> Response:
    name = _source(request, source)
    values = {category: {label: {"time": at, "value": value} for label, (at, value) in labels.items()}
              for category, labels in request.app.state.reader().latest(name).items()}
    return _json({"source": name, "values": values})


@router.get("/live", summary="New samples as Server-Sent Events (text/event-stream)",
            description="Each event's data is `{\"time\": …, \"values\": {category: {label: value}}}`, "
                        "its id the sample's time. A comment line keeps the connection alive every 15 s.",
            response_class=Response, responses={200: {"content": {"text/event-stream": {}}}})
async def live(request: Request, source: str | None = Query(None, description="Default: this machine"),
               since: float | None = Query(None, description="Unix seconds: samples stored after this "
                                           "(up to 5 minutes back) are sent first. A reconnecting "
                                           "EventSource's Last-Event-ID does the same.")):
    resume = request.headers.get("last-event-id")
    if resume:
        try:
            since = float(resume)
        except ValueError:
            raise BadRequest("Last-Event-ID must be a sample time this feed sent", "last-event-id") from None
    return request.app.state.feed.response(_source(request, source), _finite("since", since))
