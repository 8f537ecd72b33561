"""Arrow schemas of the lake's tables and the conventions every reader follows.

Units are SI (m, s, m/s, m/s², rad/s); latitude/longitude are WGS84 degrees; times are int64
nanoseconds on the source's own clock, with each drive recording how that clock maps to UTC.
Vectors are expressed in the ISO 8855 vehicle frame (x forward, y left, z up) when the source
frame is known to be the vehicle's; otherwise ``source_frame`` on the drive says which frame
they are in (e.g. ``earth_enu`` for phones reporting in an Earth frame).

**Signals layout.** ``signals`` holds one row per sample of one stream. Each stream's
channels (``STREAM_CHANNELS``, at most ``VALUE_SLOTS`` of them) sit in the value slots
``v0``, ``v1`` … in that order, so an IMU row fills its slots and leaves no dozen empty
columns behind (sparse wide rows cost as much to write as the data); an accelerometer and a
gyroscope sampled at the same instants share rows (``SHARED_BLOCKS``), each time stored once.
A drive's rows are written together, block by block in time order, into fragments of their
own; the drive's catalogue row records those fragment ids and the rows per block, so a
whole-drive (or one-stream) load reads exactly its rows with no filter and no index. Values
are stored as integer steps far below any sensor's resolution (``CHANNEL_STEPS``: 0.1 mm/s²
for acceleration, 1 cm for positions …), zigzag-coded so Lance bit-packs them (an
acceleration takes ~19 bits), and times are stored as offsets from the drive's start for the
same reason. A 100 Hz IMU sample costs about a fifth of its CSV text. Readers never see
blocks, slots or integers: :meth:`drivelake.Lake.signals` and the ``signals`` SQL view return
named channels as SI floats and absolute ``t_ns``.
"""

from __future__ import annotations

import pyarrow as pa

#: Frames a source's vectors can be expressed in.
FRAME_ISO_VEHICLE = "iso_vehicle"  # x forward, y left, z up, fixed to the vehicle
FRAME_DEVICE_FLU = "device_flu"  # the device's own axes, converted to forward-left-up naming
FRAME_EARTH_ENU = "earth_enu"  # an Earth frame: z up, x/y horizontal but not the car's heading
FRAME_DEVICE = "device"  # a device frame with unknown orientation relative to the vehicle
FRAME_NONE = "none"  # no vector data

#: The event types every stage and users' SQL rely on (the events table's ``type``).
EVENT_TYPES: tuple[str, ...] = (
    "harsh_brake",
    "harsh_acceleration",
    "harsh_turn",
    "harsh_lane_change",
    "impact",
    "pothole",
    "speeding",
)

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

#: The step each channel is stored in (value = stored int × step), chosen well below the
#: resolution of the sensors that produce it; int32 covers ±2³¹ steps (e.g. ±214° at 1e-7°).
CHANNEL_STEPS: dict[str, float] = {
    "lat": 1e-7,
    "lon": 1e-7,
    "alt_m": 1e-3,
    "speed_mps": 1e-4,
    "course_deg": 1e-3,
    "hdop": 1e-2,
    "sats": 1.0,
    "ax": 1e-4,
    "ay": 1e-4,
    "az": 1e-4,
    "gx": 1e-5,
    "gy": 1e-5,
    "gz": 1e-5,
    "mx": 1e-3,
    "my": 1e-3,
    "mz": 1e-3,
    "steering_deg": 1e-3,
    "wheel_fl_mps": 1e-4,
    "wheel_fr_mps": 1e-4,
    "wheel_rl_mps": 1e-4,
    "wheel_rr_mps": 1e-4,
    "lead_dist_m": 1e-3,
    "lead_lat_m": 1e-3,
    "lead_rel_speed_mps": 1e-3,
    "track_id": 1.0,
}

_ZSTD = {"lance-encoding:compression": "zstd", "lance-encoding:compression-level": "3"}
_ZSTD_LARGE = {**_ZSTD, "lance-encoding:minichunk-size": "65536"}


def channel_type(name: str) -> pa.DataType:
    """The float type a channel is read as (lat/lon need float64's precision)."""
    return pa.float64() if name in DOUBLE_CHANNELS else pa.float32()


#: Value slots of a stored row: enough for the widest stream.
VALUE_SLOTS = max(len(c) for c in STREAM_CHANNELS.values())

#: Streams sampled together are stored as one block of rows sharing ``t_ns`` (an IMU's
#: accelerometer and gyroscope): half the rows, each timestamp once. Block name -> members.
SHARED_BLOCKS: dict[str, tuple[str, ...]] = {"accel+gyro": ("accel", "gyro")}


def block_channels(block: str) -> tuple[str, ...]:
    """The channels of a stored block of rows, in slot order (a stream, or a shared block)."""
    members = SHARED_BLOCKS.get(block, (block,))
    return tuple(c for m in members for c in STREAM_CHANNELS.get(m, ()))


def slot_of(block: str, channel: str) -> str | None:
    """The stored column holding ``channel`` in rows of ``block`` (None if it has none)."""
    channels = block_channels(block)
    return f"v{channels.index(channel)}" if channel in channels else None


# zigzag-coded steps (small magnitudes -> small unsigned ints) that Lance bit-packs: as compact
# as zstd here, and several times faster to read back
_SLOT_META = {"coding": "zigzag int32 steps, see CHANNEL_STEPS"}

#: The signals table as stored (see the module docstring).
SIGNALS = pa.schema(
    [
        pa.field("drive_id", pa.string(), nullable=False, metadata=_ZSTD),
        pa.field("ingest_id", pa.string(), nullable=False, metadata=_ZSTD),
        pa.field("stream", pa.string(), nullable=False, metadata=_ZSTD),
        # time since the drive's start_ns: small enough for Lance to bit-pack (fast to read)
        pa.field("t_off_ns", pa.uint64(), nullable=False),
        *(pa.field(f"v{i}", pa.uint32(), metadata=_SLOT_META) for i in range(VALUE_SLOTS)),
    ]
)

#: A drive's samples as readers get them: stream, time and channels as floats in SI units.
SAMPLES = pa.schema(
    [
        pa.field("stream", pa.string(), nullable=False),
        pa.field("t_ns", pa.int64(), nullable=False),
        *(pa.field(c, channel_type(c), metadata={"unit": CHANNEL_UNITS[c]}) for c in CHANNELS),
    ]
)

SOURCE_FILE = pa.struct(
    [("path", pa.string()), ("size", pa.int64()), ("sha256", pa.string()), ("role", pa.string())]
)
STREAM_STATS = pa.struct(
    [("stream", pa.string()), ("samples", pa.int64()), ("rate_hz", pa.float64())]
)
SIGNAL_BLOCK = pa.struct([("block", pa.string()), ("rows", pa.int64())])
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
        # the signals fragments holding this drive's rows, in row order, and the blocks of
        # rows in them (a stream, or streams sharing timestamps; see the module doc)
        pa.field("signal_fragments", pa.list_(pa.int64())),
        pa.field("signal_blocks", pa.list_(SIGNAL_BLOCK)),
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
