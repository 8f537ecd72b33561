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
when the drive is not recorded in it and the event detector stored a calibration for it
(``calibrations`` table): a fixed mount's sensor → vehicle rotation per mount span, or an Earth
frame's forward angle (the gyroscope's integrated yaw plus per-window offsets). Otherwise they
stay on the sensor's axes and ``frame`` says so, for the captions. The calibration is read
through the view, so partners' plots turn like the admin's; it never leaves the server.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
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
#: Quantities drawn once, from the first of these streams that holds them.
FIRST_OF = {("speed_mps",): ("can", "gnss", "pose"), ("lat", "lon"): ("gnss", "pose")}
#: Decimals kept per channel (the JSON stays small; the plots cannot show more).
DECIMALS = {"t_s": 3, "lat": 6, "lon": 6, "speed_mps": 2}
#: Vectors read whole, to be rotated into the vehicle frame (then only CHANNELS are sent).
VECTORS = {"accel": ("ax", "ay", "az"), "gyro": ("gx", "gy", "gz")}
#: Calibration methods: a sensor fixed to the vehicle (constant rotation per span), and an
#: Earth frame whose forward angle follows the integrated yaw (offsets per window).
FIXED_MOUNT = "gravity_turns_straights"
HEADING_TRACKED = "earth_frame_heading_tracked"


def plot_data(view: LakeView, drive_id: str, width: int) -> dict[str, Any]:
    """The plotted streams of a drive, at most ~``width`` samples per channel (see module)."""
    drive = view.lake.drive(view.drive_id(drive_id))
    wanted = [s for s in CHANNELS if s in (drive["streams"] or ())]
    table = view.signals(drive["drive_id"], wanted, max_points=2**62) if wanted else None
    parts = {}
    for stream in wanted:
        part = table.filter(pc.equal(table["stream"], stream))
        if np.any(np.diff(part["t_s"].to_numpy()) < 0):
            part = part.take(np.argsort(part["t_s"].to_numpy(), kind="stable"))
        parts[stream] = part
    rotation = calibration(view, drive)
    heading = _heading(parts.get("gyro"), rotation["spans"]) if rotation["tracked"] else None
    if rotation["tracked"] and heading is None:
        rotation = _raw(drive, "heading-tracked calibration without gyroscope samples")
    read = {}
    for stream, part in parts.items():
        t_s = part["t_s"].to_numpy()
        columns = {
            c: part[c].to_numpy(zero_copy_only=False).astype(float)
            for c in VECTORS.get(stream, CHANNELS[stream])
            if c in part.column_names
        }
        if stream in VECTORS and rotation["rotate"] and set(VECTORS[stream]) <= set(columns):
            to_vehicle(t_s, columns, VECTORS[stream], rotation["spans"], heading)
        read[stream] = (t_s, {c: v for c, v in columns.items() if c in CHANNELS[stream]})
    streams = {}
    for stream, (t_s, columns) in drawn(read).items():
        keep = extremes(t_s, columns, max(1, width // 2))
        streams[stream] = {"t_s": _json(t_s[keep], "t_s")} | {
            c: _json(v[keep], c) for c, v in columns.items()
        }
    return {"streams": streams, "frame": rotation["frame"]}


def drawn(
    read: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]],
) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Only what the drive page draws: (times, channels) per stream, empty streams dropped.

    Speed and position are each drawn from the first stream that holds them (:data:`FIRST_OF`,
    as ``drive.js`` picks them); the other streams' copies are not sent.
    """
    out = {stream: (t_s, dict(columns)) for stream, (t_s, columns) in read.items()}
    for channels, order in FIRST_OF.items():
        holders = [
            s for s in order if s in out and np.isfinite(out[s][1].get(channels[0], [])).any()
        ]
        for stream in holders[1:]:
            for channel in channels:
                del out[stream][1][channel]
    return {stream: (t_s, cols) for stream, (t_s, cols) in out.items() if len(t_s) and cols}


def calibration(view: LakeView, drive: dict[str, Any]) -> dict[str, Any]:
    """How vectors reach the vehicle frame: ``frame`` (for captions) and rotation ``spans``.

    The spans come through the view (:meth:`LakeView.calibration`), so a partner's plots turn
    like the admin's. ``tracked`` spans are an Earth frame's (the heading moves with the car).
    """
    if (drive.get("source_frame") or "unknown") == FRAME_ISO_VEHICLE:
        frame = {"name": "vehicle", "calibrated": False}
        return {"rotate": False, "tracked": False, "spans": [], "frame": frame}
    rows = view.calibration(drive["drive_id"])
    kinds = {r["method"].split("+")[0] for r in rows}
    if not rows or len(kinds) > 1 or kinds - {FIXED_MOUNT, HEADING_TRACKED}:
        return _raw(drive, "no calibration" if not rows else f"calibration by {sorted(kinds)}")
    quality = sum(r["quality"] * (r["end_s"] - r["start_s"]) for r in rows) / max(
        sum(r["end_s"] - r["start_s"] for r in rows), 1e-9
    )
    frame = {"name": "vehicle", "calibrated": True, "quality": round(quality, 2)}
    return {"rotate": True, "tracked": kinds == {HEADING_TRACKED}, "spans": rows, "frame": frame}


def _raw(drive: dict[str, Any], why: str) -> dict[str, Any]:
    """Vectors left on the sensor's axes, and why (for the captions)."""
    frame = {"name": drive.get("source_frame") or "unknown", "why": why}
    return {"rotate": False, "tracked": False, "spans": [], "frame": frame}


def to_vehicle(
    t_s: np.ndarray,
    columns: dict[str, np.ndarray],
    names: tuple[str, ...],
    spans: list[dict],
    heading: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Rotate the vector ``names`` of ``columns`` in place into the vehicle frame.

    Fixed mounts: each span's rotation. Span times count from the start of the detector's
    analysis grid, within a sample period of the drive's start; samples before the first span
    use it, after the last span the last. Earth frames (``heading``, see :func:`_heading`):
    the forward angle is the integrated yaw plus the spans' offsets, per sample, as the
    detector computed it (:meth:`~drivelake.signals.calibration.Calibration.to_vehicle`).
    """
    vec = np.column_stack([columns[n] for n in names])
    if heading is not None:
        turned = _tracked(spans, t_s, heading).to_vehicle(vec)
        for k, name in enumerate(names):
            columns[name] = turned[:, k]
        return
    rotations = np.stack([np.asarray(s["rotation"]).reshape(3, 3) for s in spans])
    if len(spans) > 1:
        starts = np.array([s["start_s"] for s in spans])
        rotations = rotations[np.clip(np.searchsorted(starts, t_s, "right") - 1, 0, len(spans) - 1)]
    for k, name in enumerate(names):  # row k of each sample's rotation times (x, y, z)
        columns[name] = np.einsum("...j,...j->...", rotations[..., k, :], vec)


def _heading(gyro: pa.Table | None, spans: list[dict]) -> tuple[np.ndarray, np.ndarray] | None:
    """Integrated yaw (rad) at the gyroscope's times: the rotation rate about the spans' up."""
    if gyro is None or gyro.num_rows < 2 or not set(VECTORS["gyro"]) <= set(gyro.column_names):
        return None
    up = np.asarray(spans[0]["rotation"]).reshape(3, 3)[2]
    rate = np.column_stack([gyro[c].to_numpy(zero_copy_only=False) for c in VECTORS["gyro"]])
    t = gyro["t_s"].to_numpy()
    yaw_rate = np.nan_to_num(rate.astype(float) @ up)
    steps = 0.5 * (yaw_rate[1:] + yaw_rate[:-1]) * np.diff(t)
    return t, np.concatenate([[0.0], np.cumsum(steps)]) + yaw_rate[0] * t[0]


def _tracked(spans: list[dict], t_s: np.ndarray, heading: tuple[np.ndarray, np.ndarray]):
    """The Earth-frame calibration at ``t_s``: one up vector, forward angle per sample."""
    from drivelake.signals.calibration import Calibration, horizontal_basis

    up = np.asarray(spans[0]["rotation"]).reshape(3, 3)[2]
    middles = np.array([(s["start_s"] + s["end_s"]) / 2 for s in spans])
    offsets = np.radians([s["yaw_offset_deg"] for s in spans])
    phi = np.interp(t_s, *heading) + np.interp(t_s, middles, offsets)
    return Calibration([(0, len(t_s), up, horizontal_basis(up))], phi, heading_tracked=True)


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
