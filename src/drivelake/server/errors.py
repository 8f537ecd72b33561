"""Every error as JSON ``{"error": "..."}`` with a clear message; never a stack trace.

drivelake's own errors map to statuses by family (access 403, not found 404, bad input 400);
anything unexpected is a 500 with a generic message (the details go to the server log only).
Messages name the thing and the problem, never where the lake lies on the server's disk: the
lake's path in a message (``no drive 'x' in /srv/lake``) reaches the client as "the lake"
(:func:`public`), and the full message goes to the server log.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from drivelake.errors import AccessError, DrivelakeError, InputError, NotFoundError

log = logging.getLogger("drivelake.server")

_STATUS: list[tuple[type[DrivelakeError], int]] = [
    (NotFoundError, 404),
    (AccessError, 403),
    (InputError, 400),
]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def public(message: str, lake_uri: str) -> str:
    """``message`` fit for a client: the lake's location (as given or resolved) says "the lake"."""
    places = {lake_uri, lake_uri.rstrip("/")}
    if "://" not in lake_uri:
        places.add(str(Path(lake_uri).resolve()))
    for place in sorted(places, key=len, reverse=True):
        message = message.replace(place, "the lake")
    return message


def _client_error(request: Request, status: int, message: str, headers=None) -> JSONResponse:
    shown = public(message, request.app.state.lake.uri)
    if shown != message:
        log.info("%s on %s: %s", status, request.url.path, message)
    return error(status, shown, headers)


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    return _client_error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in exc.errors()
    )
    return error(422, f"invalid request: {problems}")


async def _drivelake(request: Request, exc: DrivelakeError) -> JSONResponse:
    status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 500)
    if status == 500:
        log.error("store error on %s: %s", request.url.path, exc)
        return error(status, public(str(exc), request.app.state.lake.uri))
    return _client_error(request, status, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return error(500, "internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DrivelakeError, _drivelake)
    app.add_exception_handler(Exception, _unexpected)
