"""A drive's signals as the drive page plots them: columnar, downsampled, in the vehicle frame.

:func:`plot_data` reads the plotted streams through a view (:class:`~drivelake.share.views.
LakeView` for admins, a share's :class:`~drivelake.share.views.PartnerView` for partners, so a
partner gets exactly the licensed, anonymised samples) and returns one object of arrays per
stream: ``{"accel": {"t_s": [...], "ax": [...], ...}, "gnss": {...}}``.

Downsampling keeps what a plot of ``width`` pixels can show: the time axis is cut into one
bucket per two pixels and each bucket keeps the samples holding each channel's minimum and
maximum, so a one-sample spike (a pothole, an impact) survives while a 15-minute 100 Hz drive
shrinks from 90,000 samples per stream to a few thousand.

Accelerations and rotation rates are turned into the vehicle frame (x forward, y left, z up)
when the drive is not recorded in it and the event detector stored a fixed-mount calibration
for it (``calibrations`` table, one sensor → vehicle rotation per mount span); otherwise they
stay on the sensor's axes and ``frame`` says so, for the captions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc

from drivelake.schema import FRAME_ISO_VEHICLE

if TYPE_CHECKING:
    from drivelake.share.views import LakeView

#: Streams and channels the drive page plots (speed, position, acceleration, yaw rate).
CHANNELS = {
    "gnss": ("speed_mps", "lat", "lon"),
    "pose": ("speed_mps", "lat", "lon"),
    "can": ("speed_mps",),
    "accel": ("ax", "ay", "az"),
    "gyro": ("gz",),
}
#: Decimals kept per channel (the JSON stays small; the plots cannot show more).
DECIMALS = {"t_s": 3, "lat": 6, "lon": 6, "speed_mps": 2}
#: Vectors read whole, to be rotated into the vehicle frame (then only CHANNELS are sent).
VECTORS = {"accel": ("ax", "ay", "az"), "gyro": ("gx", "gy", "gz")}
#: The calibration method of a sensor fixed to the vehicle (constant rotation per span).
FIXED_MOUNT = "gravity_turns_straights"


def plot_data(view: LakeView, drive_id: str, width: int) -> dict[str, Any]:
    """The plotted streams of a drive, at most ~``width`` samples per channel (see module)."""
    drive = view.lake.drive(view.drive_id(drive_id))
    wanted = [s for s in CHANNELS if s in (drive["streams"] or ())]
    table = view.signals(drive["drive_id"], wanted, max_points=2**62) if wanted else None
    rotation = calibration(view, drive)
    streams = {}
    for stream in wanted:
        part = table.filter(pc.equal(table["stream"], stream))
        t_s = part["t_s"].to_numpy()
        if np.any(np.diff(t_s) < 0):
            part = part.take(np.argsort(t_s, kind="stable"))
            t_s = part["t_s"].to_numpy()
        columns = {
            c: part[c].to_numpy(zero_copy_only=False).astype(float)
            for c in VECTORS.get(stream, CHANNELS[stream])
            if c in part.column_names
        }
        if stream in VECTORS and rotation["rotate"] and set(VECTORS[stream]) <= set(columns):
            to_vehicle(t_s, columns, VECTORS[stream], rotation["spans"])
        columns = {c: v for c, v in columns.items() if c in CHANNELS[stream]}
        if not len(t_s) or not columns:
            continue
        keep = extremes(t_s, columns, max(1, width // 2))
        streams[stream] = {"t_s": _json(t_s[keep], "t_s")} | {
            c: _json(v[keep], c) for c, v in columns.items()
        }
    return {"streams": streams, "frame": rotation["frame"]}


def calibration(view: LakeView, drive: dict[str, Any]) -> dict[str, Any]:
    """How vectors reach the vehicle frame: ``frame`` (for captions) and rotation ``spans``."""
    source = drive.get("source_frame") or "unknown"
    if source == FRAME_ISO_VEHICLE:
        return {"rotate": False, "spans": [], "frame": {"name": "vehicle", "calibrated": False}}
    ds = view.lake.dataset("calibrations")
    rows = (
        ds.to_table(filter=f"drive_id = '{drive['drive_id']}'").sort_by("start_s").to_pylist()
        if ds is not None
        else []
    )
    fixed = [r for r in rows if r["method"] == FIXED_MOUNT]
    if not rows or len(fixed) < len(rows):
        why = "no calibration" if not rows else "heading-tracked calibration (Earth frame)"
        return {"rotate": False, "spans": [], "frame": {"name": source, "why": why}}
    quality = sum(r["quality"] * (r["end_s"] - r["start_s"]) for r in fixed) / max(
        sum(r["end_s"] - r["start_s"] for r in fixed), 1e-9
    )
    frame = {"name": "vehicle", "calibrated": True, "quality": round(quality, 2)}
    return {"rotate": True, "spans": fixed, "frame": frame}


def to_vehicle(
    t_s: np.ndarray, columns: dict[str, np.ndarray], names: tuple[str, ...], spans: list[dict]
) -> None:
    """Rotate the vector ``names`` of ``columns`` in place by each mount span's rotation.

    Span times count from the start of the detector's analysis grid, within a sample period of
    the drive's start; samples before the first span use it, after the last span the last.
    """
    rotations = np.stack([np.asarray(s["rotation"]).reshape(3, 3) for s in spans])
    if len(spans) > 1:
        starts = np.array([s["start_s"] for s in spans])
        rotations = rotations[np.clip(np.searchsorted(starts, t_s, "right") - 1, 0, len(spans) - 1)]
    x, y, z = (columns[n] for n in names)
    for k, name in enumerate(names):  # row k of each sample's rotation times (x, y, z)
        columns[name] = rotations[:, k, 0] * x + rotations[:, k, 1] * y + rotations[:, k, 2] * z


def extremes(t_s: np.ndarray, columns: dict[str, np.ndarray], buckets: int) -> np.ndarray:
    """Sorted indices of the samples holding each channel's min and max per time bucket.

    ``t_s`` is sorted, so buckets are runs of samples; every pass below is linear.
    """
    n = len(t_s)
    if n <= 2 * buckets:
        return np.arange(n)
    span = max(float(t_s[-1] - t_s[0]), 1e-9)
    bucket = np.minimum(((t_s - t_s[0]) / span * buckets).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))  # bucket run per sample
    keep = [[0, n - 1]]
    for values in columns.values():
        for reduce in (np.fmin, np.fmax):  # NaN-ignoring
            hit = np.flatnonzero(values == reduce.reduceat(values, starts)[run])
            keep.append(hit[np.r_[True, run[hit][1:] != run[hit][:-1]]])  # first hit per run
    return np.unique(np.concatenate(keep))


def _json(values: np.ndarray, name: str) -> list[float | None]:
    """Rounded values as JSON numbers, NaN as null."""
    rounded = np.round(values, DECIMALS.get(name, 3))
    if not np.isnan(rounded).any():
        return rounded.tolist()
    return [None if math.isnan(v) else v for v in rounded.tolist()]
