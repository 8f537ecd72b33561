"""Videos without telemetry as drives of their own (``source_format`` ``video``).

``drivelake ingest ~/dashcam/`` on a folder of bare dashcam files makes one drive per video.
Its clock is UTC when the start time is known (file name, sidecar JSON or container creation
time, see :mod:`drivelake.video.sync`), else seconds from the first frame. GPS embedded in the
file (:mod:`drivelake.video.gps_tracks`) becomes the drive's ``gnss`` stream; a ``video``
stream with the first and last frame times marks what the video covers, so a drive without
GPS still has its extent. Frames are sampled by the video stage like any drive's video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivelake.ingest.base import Reader, ReadOptions, Recording, SourceFile, Stream
from drivelake.video.gps_tracks import embedded_gps
from drivelake.video.probe import probe
from drivelake.video.sync import place


def _sniff(path: Path) -> float:
    from drivelake.ingest.formats import VIDEO_SUFFIXES

    return 0.9 if Path(path).suffix.lower() in VIDEO_SUFFIXES else 0.0


def _read(path: Path, options: ReadOptions) -> Recording:
    info = probe(path)
    # a drive on the UTC clock that starts now places the video by its own absolute time
    absolute = place(info, {"start_ns": 0, "utc_offset_ns": 0, "duration_s": float("inf")})
    gps = embedded_gps(path)
    start_ns = round(absolute.start_s * 1e9) if absolute.time_source != "drive_start" else 0
    utc = absolute.time_source != "drive_start" or gps.utc_known
    if gps.utc_known and absolute.time_source == "drive_start" and gps.streams:
        start_ns = int(gps.streams[0].t_ns[0])
    coverage = Stream("video", np.array([start_ns, start_ns + round(info.duration_s * 1e9)]), {})
    video = SourceFile.of(path, role="video")
    return Recording(
        source_format="video",
        sources=[video],
        videos=[video],
        streams=[*gps.streams, coverage],
        t0_ns=start_ns,
        utc_offset_ns=0 if utc else None,
        repairs=gps.notes,
        metadata={"video_time_source": absolute.time_source},
    )


VIDEO_READER = Reader("video", _sniff, _read)
