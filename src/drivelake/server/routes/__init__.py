"""The API's routers: :mod:`.lake` (admin reads of the lake) and :mod:`.sharing`."""

from __future__ import annotations

from fastapi import Path, Query

#: Ids in paths: letters, digits, ``-`` and ``_`` only, so no parameter can name a path.
ID = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$"
DriveId = Path(pattern=ID, description="a drive id (admins may give a unique prefix)")
FrameId = Path(pattern=ID, description="a frame id ({video_id}-{frame_index})")
Streams = Query(None, description="streams to return (default: all)", max_length=16)
MaxPoints = Query(2000, ge=1, le=20000, description="at most this many samples per stream")
PlotWidth = Query(1200, ge=100, le=8000, description="the plots' width in pixels")
