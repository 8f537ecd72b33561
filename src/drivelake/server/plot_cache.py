"""Drive plots kept in memory, so opening a drive page again (or after warm-up) reads nothing.

A drive's plot (:func:`drivelake.server.plots.plot_data`) reads its samples, turns them into
the vehicle frame and downsamples them: ~0.1 s in process, up to a second on a loaded server,
for a page that must open within one. The answer, already encoded as JSON, is kept in a small
LRU bounded by bytes, keyed by who reads (the whole lake, or one share: its view decides
columns and anonymisation), the drive, the versions of the tables the plot is made of
(``drives``, ``signals``, ``calibrations``: any write makes new keys, so an entry is never
stale) and the width. Widths are rounded down to a step of :data:`WIDTH_STEP` pixels, so
windows of about the same size share entries and warm-up (:mod:`.warmup`) can fill the usual
ones; a plot never carries more samples than the page asked for.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from drivelake.server.plots import plot_data

if TYPE_CHECKING:
    from drivelake.lake import Lake
    from drivelake.share.views import LakeView

#: Pixels widths are rounded down to (and the smallest width plotted).
WIDTH_STEP = 256
#: The tables a plot is made of; their versions are part of every key.
SOURCES = ("drives", "signals", "calibrations")


def plot_width(width: int) -> int:
    """The width a plot of ``width`` pixels is made at (see module)."""
    return max(WIDTH_STEP, width // WIDTH_STEP * WIDTH_STEP)


class PlotCache:
    """JSON-encoded drive plots, least recently used dropped beyond ``max_bytes``."""

    def __init__(self, lake: Lake, max_bytes: int = 32 << 20) -> None:
        self.lake = lake
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, view: LakeView, drive_id: str, width: int) -> bytes:
        """The plot of ``drive_id`` as ``view`` shows it, ``width`` pixels wide, as JSON."""
        drive_id = view.drive_id(drive_id)
        width = plot_width(width)
        versions = tuple(getattr(self.lake.dataset(t), "version", None) for t in SOURCES)
        key = (view.audience, drive_id, versions, width)
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
                return body
        body = json.dumps(
            plot_data(view, drive_id, width), separators=(",", ":"), allow_nan=False
        ).encode()
        with self._lock:
            if key not in self._entries:
                self._entries[key] = body
                self._bytes += len(body)
            while self._bytes > self.max_bytes and self._entries:
                self._bytes -= len(self._entries.popitem(last=False)[1])
        return body
