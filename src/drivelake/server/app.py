"""``create_app(lake)``: the FastAPI application, with its limits, audit and error handling.

Layers, outermost first: the audit log (so refused requests are recorded too), the rate limit,
the request-size limit, then FastAPI (error handlers, routers). The web app's static files are
served at ``/`` from ``server/static/`` when that folder exists; the API lives under ``/api``
and its OpenAPI docs at ``/docs``. On start-up the caches the pages need (the fleet index, the
key registry, a drive's first read) are filled in the background (:mod:`.warmup`), so the first
page does not pay for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

import drivelake
from drivelake.server import errors, warmup
from drivelake.server.audit import AuditRequests
from drivelake.server.exports import Exports
from drivelake.server.fleet import FleetIndex
from drivelake.server.limits import BodyLimit, RateLimit
from drivelake.server.plot_cache import PlotCache
from drivelake.server.routes import app as app_routes
from drivelake.server.routes import datasets as dataset_routes
from drivelake.server.routes import lake as lake_routes
from drivelake.server.routes import sharing as sharing_routes
from drivelake.share import Sharing
from drivelake.share.frame_cache import MAX_BYTES as FRAME_CACHE_BYTES

if TYPE_CHECKING:
    from drivelake.lake import Lake

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ServerConfig:
    """How the server protects itself; one object rather than keyword lists."""

    max_body_bytes: int = 1 << 20
    rate_per_s: float = 50.0
    burst: int = 100
    static_dir: Path | None = field(default=STATIC)
    #: Memory for drive plots kept encoded (:mod:`.plot_cache`).
    plot_cache_bytes: int = 32 << 20
    #: Disk for partners' redacted frames, least recently used deleted beyond it.
    frame_cache_bytes: int = FRAME_CACHE_BYTES


@asynccontextmanager
async def _warm_up(app: FastAPI) -> AsyncIterator[None]:
    app.state.warmup = warmup.start(app)
    yield


def create_app(lake: Lake, config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    app = FastAPI(
        title="drivelake",
        version=drivelake.__version__,
        description="Drives, events, frames, search, datasets and partner shares of a lake.",
        lifespan=_warm_up,
    )
    app.state.lake = lake
    app.state.sharing = Sharing(lake, config.frame_cache_bytes)
    app.state.fleet = FleetIndex(lake)
    app.state.exports = Exports(lake)
    app.state.plots = PlotCache(lake, config.plot_cache_bytes)
    app.state.warmup = None  # the warm-up thread, once the server starts (see _warm_up)
    errors.install(app)
    app.include_router(lake_routes.router)
    app.include_router(sharing_routes.router)
    app.include_router(app_routes.router)
    app.include_router(dataset_routes.router)
    if config.static_dir is not None and config.static_dir.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=config.static_dir, html=True), name="static")
    else:

        @app.get("/", include_in_schema=False)
        def index() -> dict[str, str]:
            return {"name": "drivelake", "docs": "/docs", "api": "/api"}

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(RateLimit, rate=config.rate_per_s, burst=config.burst)
    app.add_middleware(AuditRequests, log=app.state.sharing.audit)
    return app
