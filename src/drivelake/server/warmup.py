"""Warm the server's caches in the background as it starts, so the first page pays no cold costs.

A fresh server pays, on its first requests, for what its handlers import (Lance, DuckDB,
pandas), the sharing registry's first read (every request authenticates), the lake catalogue's
cache, the fleet index (1-2 s at 10,000 drives and 100,000 events) and the first read of a
drive's signals. :func:`warm` does all of it once, and fills the plot cache
(:mod:`.plot_cache`) with the most recent drives' plots at the usual widths, in a daemon
thread the app's lifespan starts:
start-up stays fast, and a request that comes earlier does the same work itself (these caches are
shared and thread-safe), so warming never makes a page wait longer than it would have.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow.compute as pc

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("drivelake.server")
#: How many of the most recent drives (with samples) have their drive page warmed.
RECENT_DRIVES = 3
#: Plot widths warmed: windows of about 1280-1400, 1536 and 1920 px less the drive page's side
#: column and axis (``plotWidth`` in ``drive.js``), rounded as the plot cache rounds them.
PLOT_WIDTHS = (768, 1024, 1280)


def start(app: FastAPI) -> threading.Thread:
    """Start :func:`warm` in a daemon thread; the thread."""
    thread = threading.Thread(target=warm, args=(app,), name="drivelake-warmup", daemon=True)
    thread.start()
    return thread


def warm(app: FastAPI) -> None:
    """Fill the caches every page needs; read the recent drives as the drive page would."""
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], object]]] = [
        ("registry", lambda: _registry(app)),
        ("latest drive", lambda: _drive_pages(app, 1, PLOT_WIDTHS[:1])),
        ("fleet index", app.state.fleet.refresh),
        ("recent drives", lambda: _drive_pages(app, RECENT_DRIVES, PLOT_WIDTHS)),
    ]
    for name, step in steps:
        try:
            step()
        except Exception:  # a cold cache is slower, never wrong: the page will load it itself
            log.warning("warming %s failed", name, exc_info=True)
    log.info("caches warm in %.1f s", time.perf_counter() - started)


def _registry(app: FastAPI) -> None:
    from drivelake.share.tables import TABLES

    app.state.lake.table_names()
    for name in TABLES:
        app.state.sharing.tables.rows(name)


def _drive_pages(app: FastAPI, count: int, widths: tuple[int, ...]) -> None:
    """What the drive page reads (drive, plots at ``widths``, events, tags) for the ``count``
    most recent drives with samples (plots already cached cost a lookup)."""
    from drivelake.share.views import LakeView

    lake = app.state.lake
    drives = lake.drives(columns=["drive_id", "start_utc", "streams"])
    drives = drives.filter(pc.greater(pc.list_value_length(drives["streams"]), 0))
    recent = drives.sort_by([("start_utc", "descending")])["drive_id"].to_pylist()
    view = LakeView(lake)
    for drive_id in recent[:count]:
        view.drive(drive_id)
        for width in widths:
            app.state.plots.get(view, drive_id, width)
        view.events(drive_id)
        lake.tags(drive_id)
