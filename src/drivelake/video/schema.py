"""Arrow schemas of the video tables: ``videos`` (one row per file of a drive) and ``frames``.

``frames.t_s`` is on the drive's timeline (seconds from the drive's start, as events use), so
frames, events and signals join on time; ``video_s`` is the time inside the file. Telemetry
columns hold the drive's sample nearest in time (null when none is within a second).
"""

from __future__ import annotations

import pyarrow as pa

_UTC = pa.timestamp("ns", tz="UTC")

VIDEOS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),  # content hash of the file
        pa.field("drive_id", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("container", pa.string()),
        pa.field("codec", pa.string()),
        pa.field("width", pa.int32()),  # as coded; rotation says how to turn it upright
        pa.field("height", pa.int32()),
        pa.field("fps", pa.float64()),
        pa.field("frame_count", pa.int64()),
        pa.field("duration_s", pa.float64()),
        pa.field("rotation", pa.int32()),
        pa.field("vfr", pa.bool_()),
        pa.field("raw", pa.bool_()),  # elementary stream without container timestamps
        pa.field("start_s", pa.float64()),  # the video's first frame on the drive's timeline
        pa.field("start_utc", _UTC),
        pa.field("time_source", pa.string()),  # how start_s was established
        pa.field("time_note", pa.string()),  # why better methods were not used
        pa.field("offset_s", pa.float64()),  # manual correction added to start_s
        pa.field("frame_times_s", pa.list_(pa.float64())),  # per-frame drive times, if given
        pa.field("sync_check", pa.string()),  # ok | mismatch | not checked: why
        pa.field("sync_corr", pa.float64()),  # motion vs speed correlation
        pa.field("sync_lag_s", pa.float64()),  # lag of best agreement (suggested extra offset)
        pa.field("decode_warning", pa.string()),
        pa.field("probed_at", _UTC),
    ]
)

FRAMES = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),  # {video_id}-{frame_index}
        pa.field("drive_id", pa.string(), nullable=False),
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame_index", pa.int64()),
        pa.field("pts", pa.int64()),  # container timestamp (null in raw streams)
        pa.field("video_s", pa.float64()),
        pa.field("t_s", pa.float64()),
        pa.field("t_utc", _UTC),
        pa.field("keyframe", pa.bool_()),
        pa.field("reason", pa.string()),  # keyframe | fps | event
        pa.field("width", pa.int32()),  # of the thumbnail
        pa.field("height", pa.int32()),
        pa.field("thumbnail", pa.binary()),  # JPEG
        pa.field("speed_mps", pa.float32()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("ax", pa.float32()),
        pa.field("ay", pa.float32()),
        pa.field("az", pa.float32()),
    ]
)
