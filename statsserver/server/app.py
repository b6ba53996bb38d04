"""The ASGI application: read API, live feed, ingest, sign-in, and the web app's files."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..generator import MAINTAIN_EVERY_SECONDS, maintain_if_alone
from ..storage import Reader, StoreError, Writer
from . import api, ingest
from .auth import AccessControl, cookie_header
from .cache import AnswerCache
from .direct import DirectRoutes, direct_routes
from .errors import HANDLERS, BadRequest
from .feed import Feed
from .readworkers import ReadWorkers

log = logging.getLogger(__name__)

# Built from web/ by `npm run build` (the Makefile and the package build run it).
WEB_ROOT = Path(__file__).resolve().parent.parent / "web" / "dist"
# Fingerprinted files never change under their name: browsers may keep them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"


# A person who follows a wrong link gets a page and a way back; programs (and /api) get JSON.
NOT_FOUND_PAGE = ('<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" '
                  'content="width=device-width, initial-scale=1"><title>Not found · StatsServer</title>'
                  '<h1>Not found</h1><p>Nothing is at this address. <a href="/">Open StatsServer</a></p></html>')


class WebFiles(StaticFiles):
    async def get_response(self, path: str, scope):
        try:
            response = await super().get_response(path, scope)
        except HTTPException as error:
            wants_page = any(name == b"accept" and b"text/html" in value for name, value in scope["headers"])
            if error.status_code != 404 or not wants_page or path.split("/", 1)[0] == "api":
                raise
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
        fingerprinted = path.startswith("assets/")
        response.headers["cache-control"] = IMMUTABLE if fingerprinted else "no-cache"
        return response


class CompressAnswers(GZipMiddleware):
    """Gzip for the clients that take it. Pushes, whose answers are a few bytes, skip the
    middleware altogether: it would cost a push a tenth of its time for nothing."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] not in ingest.INGEST_PATHS and any(
                name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"]):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class ReaderPool:
    """One read-only connection per thread: SQLite connections are not for sharing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()

    def __call__(self) -> Reader:
        reader = getattr(self.local, "reader", None)
        if reader is None:
            try:
                reader = self.local.reader = Reader(self.path)
            except StoreError as error:
                raise BadRequest(str(error), None, status=503) from None
        return reader


def create_app(config, token: str | None, local_source: str) -> FastAPI:
    readers = ReaderPool(config.database_path)
    feed = Feed(lambda source, after, until: readers().since(source, after, until),
                lambda source: readers().last_time(source),
                poll_seconds=min(config.generator.interval, 1.0) / 2)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = Writer(config.database_path)
        app.state.ingest = ingest.IngestWriter(store, config.server.max_series_per_source)
        # Range queries are numpy and SQLite work: run more at once than there are cores and
        # each takes longer (their threads contend for the interpreter), so they take turns.
        app.state.queries = anyio.CapacityLimiter(os.cpu_count() or 2)
        app.state.read_workers = ReadWorkers(config.database_path, config.server.read_workers, api.INLINE_CELLS)
        await app.state.read_workers.start()
        poller = asyncio.create_task(feed.run())
        stop_maintenance = threading.Event()
        maintenance = threading.Thread(target=maintain_while_serving, args=(config, stop_maintenance),
                                     name="maintenance", daemon=True)
        maintenance.start()
        try:
            yield
        finally:
            feed.close()
            poller.cancel()
            await app.state.read_workers.stop()
            stop_maintenance.set()
            maintenance.join()
            app.state.ingest.close()
            store.close()

    # FastAPI's OpenTelemetry hooks ask three global providers whether they are set on every
    # request (a twentieth of a push's cost); StatsServer installs no OpenTelemetry SDK to set them.
    app = FastAPI(title="StatsServer", version=__version__, lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  exception_handlers=HANDLERS,
                  description="A machine's resources and their history. Reads need the server's token "
                              "(cookie, `Authorization: Bearer`, or `token=`); pushes from this machine "
                              "need none while `[server] trust_localhost` is on.")
    app.state.config = config
    app.state.reader = readers
    app.state.answers = AnswerCache()
    app.state.feed = feed
    app.state.local_source = local_source
    app.include_router(api.router)
    app.include_router(ingest.router)
    secure = bool(config.server.certfile)

    @app.post("/api/login", tags=["access"], summary="Trade the token for a session cookie",
              description="Form (`token=…`, answered with a redirect to the app) or JSON "
                          "(`{\"token\": …}`, answered with 204).")
    async def login(request: Request) -> Response:
        body = await ingest.read_body(request)
        is_form = "form" in request.headers.get("content-type", "")
        try:
            given = (dict(parse_qsl(body.decode())) if is_form else login_json(body)).get("token", "")
        except (UnicodeDecodeError, ValueError, AttributeError):
            raise BadRequest("send the token as a form field or JSON {\"token\": …}", "token") from None
        if token is None or not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            if is_form:
                return RedirectResponse("/?signin=failed", status_code=303)
            raise BadRequest("wrong token", "token", status=401)
        response = RedirectResponse("/", status_code=303) if is_form else Response(status_code=204)
        response.headers.append(*(part.decode() for part in cookie_header(token, secure)))
        return response

    @app.post("/api/logout", tags=["access"], summary="Forget the session cookie", status_code=204,
              response_class=Response)
    async def logout() -> Response:
        response = Response(status_code=204)
        response.headers.append(*(part.decode() for part in cookie_header("", secure, max_age=0)))
        return response

    if WEB_ROOT.is_dir():
        app.mount("/", WebFiles(directory=WEB_ROOT, html=True), name="web")
    else:
        # A source checkout without `npm run build`: the API works; the page says what is missing.
        @app.get("/", include_in_schema=False)
        async def unbuilt() -> Response:
            return Response("The web app is not built: run `make` (or `cd web && npm ci && npm run build`).\n",
                            status_code=503, media_type="text/plain")
    # Pushes, and the range queries a dashboard makes by the dozen.
    app.add_middleware(DirectRoutes, handlers=HANDLERS, routes={
        **direct_routes(ingest.router, *ingest.INGEST_PATHS), **direct_routes(api.router, "/api/data")})
    # Level 1: a dashboard's 3 MB of JSON becomes 0.8 MB in 35 ms, where level 5 takes 90 ms for
    # 0.67 MB; on a home network the time saved is worth more than the bytes.
    app.add_middleware(CompressAnswers, minimum_size=800, compresslevel=1)
    app.add_middleware(AccessControl, token=token, trust_localhost=config.server.trust_localhost, secure=secure)
    return app


def maintain_while_serving(config, stop: threading.Event) -> None:
    """Pushed data is compacted and ages out too when no collector runs on this database.

    On a connection of its own: maintenance reads outside its write transactions, and must not
    see (or join) the ingest thread's transaction in progress.
    """
    try:
        store = Writer(config.database_path)
    except StoreError as error:
        log.error("%s; pushed data is not compacted", error)
        return
    try:
        while not stop.is_set():
            try:
                maintain_if_alone(store, config)
            except StoreError as error:
                log.error("%s", error)
            stop.wait(MAINTAIN_EVERY_SECONDS)
    finally:
        store.close()


def login_json(body: bytes) -> dict:
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError
    return data
