"""Every refusal is JSON with a reason and, where one field is at fault, its name."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..storage import StoreError

log = logging.getLogger(__name__)


class BadRequest(Exception):
    def __init__(self, reason: str, field: str | None, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.status = status


def refusal(status: int, reason: str, field: str | None = None, headers=None) -> JSONResponse:
    content = {"error": reason}
    if field:
        content["field"] = field
    return JSONResponse(content, status_code=status, headers=headers)


async def bad_request(request: Request, error: BadRequest) -> JSONResponse:
    return refusal(error.status, error.reason, error.field)


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    problem = error.errors()[0]
    field = ""
    for part in problem.get("loc", ()):
        if part in ("query", "body"):
            continue
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    field = field or None
    message = problem.get("msg", "invalid")
    return refusal(400, f"{field}: {message}" if field else message, field)


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    return refusal(error.status_code, str(error.detail), headers=getattr(error, "headers", None))


async def store_failed(request: Request, error: StoreError) -> JSONResponse:
    """The request was fine; the store could not answer it (a damaged block, a full disk, a
    lock held too long). The reason names the file, and the server goes on serving the rest."""
    log.warning("%s %s: %s", request.method, request.url.path, error)
    return refusal(503, str(error))


HANDLERS = {BadRequest: bad_request, RequestValidationError: invalid_request, HTTPException: http_error,
            StoreError: store_failed}
