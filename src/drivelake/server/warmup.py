"""Warm the server's caches in the background as it starts, so the first page pays no cold costs.

A fresh server pays, on its first requests, for what its handlers import (Lance, DuckDB,
pandas), the sharing registry's first read (every request authenticates), the lake catalogue's
cache, the fleet index (1-2 s at 10,000 drives and 100,000 events) and the first read of a
drive's signals. :func:`warm` does all of it once, in a daemon thread the app's lifespan starts:
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
#: The plot width the warm-up reads a drive at (about a laptop's plot).
PLOT_WIDTH = 1000


def start(app: FastAPI) -> threading.Thread:
    """Start :func:`warm` in a daemon thread; the thread."""
    thread = threading.Thread(target=warm, args=(app,), name="drivelake-warmup", daemon=True)
    thread.start()
    return thread


def warm(app: FastAPI) -> None:
    """Fill the caches every page needs, then read the latest drive as the drive page would."""
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], object]]] = [
        ("registry", lambda: _registry(app)),
        ("latest drive", lambda: _latest_drive(app)),
        ("fleet index", app.state.fleet.refresh),
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


def _latest_drive(app: FastAPI) -> None:
    """What the drive page reads (drive, plot, events, tags), for the latest drive with samples."""
    from drivelake.server.plots import plot_data
    from drivelake.share.views import LakeView

    lake = app.state.lake
    drives = lake.drives(columns=["drive_id", "start_utc", "streams"])
    drives = drives.filter(pc.greater(pc.list_value_length(drives["streams"]), 0))
    if not drives.num_rows:
        return
    latest = pc.index(drives["start_utc"], pc.max(drives["start_utc"])).as_py()
    drive_id = drives["drive_id"][max(latest, 0)].as_py()
    view = LakeView(lake)
    view.drive(drive_id)
    plot_data(view, drive_id, PLOT_WIDTH)
    view.events(drive_id)
    lake.tags(drive_id)
