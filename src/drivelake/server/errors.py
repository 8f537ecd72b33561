"""Every error as JSON ``{"error": "..."}`` with a clear message; never a stack trace.

drivelake's own errors map to statuses by family (access 403, not found 404, bad input 400);
anything unexpected is a 500 with a generic message (the details go to the server log only).
"""

from __future__ import annotations

import logging

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


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))


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
    return error(status, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return error(500, "internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DrivelakeError, _drivelake)
    app.add_exception_handler(Exception, _unexpected)
