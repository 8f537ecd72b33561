"""Arrow schemas of the lake's tables and the conventions every reader follows.

Units are SI (m, s, m/s, m/s², rad/s); latitude/longitude are WGS84 degrees; times are int64
nanoseconds on the source's own clock, with each drive recording how that clock maps to UTC.
Vectors are expressed in the ISO 8855 vehicle frame (x forward, y left, z up) when the source
frame is known to be the vehicle's; otherwise ``source_frame`` on the drive says which frame
they are in (e.g. ``earth_enu`` for phones reporting in an Earth frame).

**Signals layout.** ``signals`` holds one row per sample, one column per channel, with the
stream name saying which channels are meaningful (the others are null). A drive's rows are
written together, sorted by (stream, t_ns), in fragments of their own, so a whole-drive load is
one indexed scan; every numeric column is zstd-compressed (nulls cost a bit each). This keeps
the table directly queryable with SQL (``SELECT avg(speed_mps) FROM signals WHERE stream =
'gnss'``) while loading an hour of 100 Hz data in tens of milliseconds.
"""

from __future__ import annotations

import pyarrow as pa

#: Frames a source's vectors can be expressed in.
FRAME_ISO_VEHICLE = "iso_vehicle"  # x forward, y left, z up, fixed to the vehicle
FRAME_DEVICE_FLU = "device_flu"  # the device's own axes, converted to forward-left-up naming
FRAME_EARTH_ENU = "earth_enu"  # an Earth frame: z up, x/y horizontal but not the car's heading
FRAME_DEVICE = "device"  # a device frame with unknown orientation relative to the vehicle
FRAME_NONE = "none"  # no vector data

#: Streams and the channels that are meaningful in each.
STREAM_CHANNELS: dict[str, tuple[str, ...]] = {
    "gnss": ("lat", "lon", "alt_m", "speed_mps", "course_deg", "hdop", "sats"),
    "pose": ("lat", "lon", "alt_m", "speed_mps", "course_deg"),
    "accel": ("ax", "ay", "az"),
    "accel_linear": ("ax", "ay", "az"),
    "gyro": ("gx", "gy", "gz"),
    "magnetometer": ("mx", "my", "mz"),
    "can": ("speed_mps", "steering_deg"),
    "wheel_speed": ("wheel_fl_mps", "wheel_fr_mps", "wheel_rl_mps", "wheel_rr_mps"),
    "radar": ("lead_dist_m", "lead_lat_m", "lead_rel_speed_mps", "track_id"),
}

#: Channel columns of the signals table, with their units (in the column metadata).
CHANNEL_UNITS: dict[str, str] = {
    "lat": "deg",
    "lon": "deg",
    "alt_m": "m",
    "speed_mps": "m/s",
    "course_deg": "deg",
    "hdop": "1",
    "sats": "1",
    "ax": "m/s^2",
    "ay": "m/s^2",
    "az": "m/s^2",
    "gx": "rad/s",
    "gy": "rad/s",
    "gz": "rad/s",
    "mx": "uT",
    "my": "uT",
    "mz": "uT",
    "steering_deg": "deg",
    "wheel_fl_mps": "m/s",
    "wheel_fr_mps": "m/s",
    "wheel_rl_mps": "m/s",
    "wheel_rr_mps": "m/s",
    "lead_dist_m": "m",
    "lead_lat_m": "m",
    "lead_rel_speed_mps": "m/s",
    "track_id": "1",
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_UNITS)
DOUBLE_CHANNELS = frozenset({"lat", "lon"})

_ZSTD = {"lance-encoding:compression": "zstd", "lance-encoding:compression-level": "3"}


def _channel_field(name: str) -> pa.Field:
    kind = pa.float64() if name in DOUBLE_CHANNELS else pa.float32()
    return pa.field(name, kind, metadata={**_ZSTD, "unit": CHANNEL_UNITS[name]})


SIGNALS = pa.schema(
    [
        pa.field("drive_id", pa.string(), nullable=False),
        pa.field("ingest_id", pa.string(), nullable=False),
        pa.field("stream", pa.string(), nullable=False),
        pa.field("t_ns", pa.int64(), nullable=False, metadata=_ZSTD),
        *(_channel_field(c) for c in CHANNELS),
    ]
)

SOURCE_FILE = pa.struct(
    [("path", pa.string()), ("size", pa.int64()), ("sha256", pa.string()), ("role", pa.string())]
)
STREAM_STATS = pa.struct(
    [("stream", pa.string()), ("samples", pa.int64()), ("rate_hz", pa.float64())]
)
UTC = pa.timestamp("ns", tz="UTC")

DRIVES = pa.schema(
    [
        pa.field("drive_id", pa.string(), nullable=False),
        pa.field("vehicle_id", pa.string()),
        pa.field("source_format", pa.string()),
        pa.field("source_files", pa.list_(SOURCE_FILE)),
        pa.field("source_frame", pa.string()),
        pa.field("start_ns", pa.int64()),  # drive start on the source clock (t = 0 s)
        pa.field("end_ns", pa.int64()),
        pa.field("utc_offset_ns", pa.int64()),  # utc = t_ns + utc_offset_ns, when known
        pa.field("start_utc", UTC),
        pa.field("end_utc", UTC),
        pa.field("duration_s", pa.float64()),
        pa.field("distance_m", pa.float64()),
        pa.field("streams", pa.list_(pa.string())),
        pa.field("stream_stats", pa.list_(STREAM_STATS)),
        pa.field("min_lat", pa.float64()),
        pa.field("min_lon", pa.float64()),
        pa.field("max_lat", pa.float64()),
        pa.field("max_lon", pa.float64()),
        pa.field("videos", pa.list_(SOURCE_FILE)),
        pa.field("repairs", pa.list_(pa.string())),
        pa.field("synthetic", pa.bool_()),
        pa.field("metadata_json", pa.string()),
        pa.field("ingest_id", pa.string(), nullable=False),
        pa.field("ingested_at", UTC),
    ]
)

TAGS = pa.schema(
    [
        pa.field("tag_id", pa.string(), nullable=False),
        pa.field("drive_id", pa.string(), nullable=False),
        pa.field("kind", pa.string()),  # "tag" or "note"
        pa.field("text", pa.string()),
        pa.field("t_s", pa.float64()),  # the moment in the drive it refers to, if any
        pa.field("author", pa.string()),
        pa.field("created_at", UTC),
    ]
)

#: Every table the lake knows, by name.
TABLES: dict[str, pa.Schema] = {"drives": DRIVES, "signals": SIGNALS, "tags": TAGS}

from drivelake.video.schema import FRAMES, VIDEOS  # noqa: E402  (tables of the video stage)

TABLES.update(videos=VIDEOS, frames=FRAMES)

from drivelake.models.tables import TABLES as _MODEL_TABLES  # noqa: E402  (model stage outputs)

TABLES.update(_MODEL_TABLES)
