"""Where a video sits on its drive's timeline, and a check that it really sits there.

Placement, most trusted first (the method used is recorded per video as ``time_source``):

1. ``frame_times``: a per-frame time array on the telemetry clock — comma2k19/openpilot
   segments keep one in ``global_pose/frame_times`` beside ``video.hevc`` (raw HEVC, 20 fps).
2. ``sidecar``: ``<video>.json`` or ``<stem>.json`` with ``start_utc`` (ISO-8601) or
   ``start_s`` (seconds on the drive's timeline).
3. ``filename``: the start time dashcams write into file names (see :data:`FILENAME_PATTERNS`),
   read as UTC.
4. ``creation_time``: the container's creation time (UTC by the MP4 specification).
5. ``drive_start``: nothing better is known, so the video is assumed to start with the drive.

An absolute time only places a video when the drive's clock is tied to UTC, and only if the
video then overlaps the drive; otherwise placement falls back to ``drive_start`` and says why.
A manual offset per video (``offset_s``) is added on top of whichever method was used.

:func:`motion_check` then compares the video's motion (mean optical-flow magnitude, OpenCV's
Farnebäck) with the telemetry speed profile: a video placed wrongly, or belonging to another
drive, moves when the vehicle stands still. The correlation and the lag at which the two agree
best are recorded; the lag is the offset to try.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from drivelake.video.decode import iter_frames
from drivelake.video.probe import VideoInfo
from drivelake.video.telemetry import DriveTelemetry

#: Start-time patterns in the file names of common dashcams (BlackVue, Viofo/Novatek, Garmin,
#: Nextbase, Thinkware, comma routes...). Each yields year, month, day, hour, minute, second.
FILENAME_PATTERNS = (
    re.compile(r"(?<!\d)(20\d\d)(\d\d)(\d\d)[_-]?(\d\d)(\d\d)(\d\d)(?!\d)"),  # 20240315_142530
    re.compile(r"(?<!\d)(20\d\d)_(\d\d)(\d\d)_(\d\d)(\d\d)(\d\d)(?!\d)"),  # 2024_0315_142530
    re.compile(r"(?<!\d)(20\d\d)-(\d\d)-(\d\d)[_T -]+(\d\d)[-_.:](\d\d)[-_.:](\d\d)"),  # ISO-ish
)

#: Correlation below which motion and speed are said to disagree.
MIN_CORRELATION = 0.5


@dataclass(frozen=True)
class Placement:
    start_s: float  # the video's first frame on the drive's timeline
    start_utc: datetime | None
    time_source: str
    frame_times_s: np.ndarray | None = None  # per-frame drive times, when the source gives them
    note: str = ""


@dataclass(frozen=True)
class SyncCheck:
    status: str  # ok | mismatch | not checked: <why>
    corr: float | None = None
    lag_s: float | None = None


def filename_time(path: str | Path) -> datetime | None:
    """The recording start encoded in a dashcam file name, read as UTC."""
    name = Path(path).name
    for pattern in FILENAME_PATTERNS:
        m = pattern.search(name)
        if m:
            try:
                return datetime(*map(int, m.groups()), tzinfo=UTC)
            except ValueError:
                continue
    return None


def _sidecar(path: Path) -> dict[str, Any] | None:
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and ("start_utc" in data or "start_s" in data):
                return data
    return None


def frame_time_array(path: str | Path) -> np.ndarray | None:
    """comma's per-frame times (seconds on the boot clock) for a ``video.hevc`` in a segment."""
    path = Path(path)
    for folder in (path.parent, *path.parent.parents[:2]):
        times = folder / "global_pose" / "frame_times"
        if times.is_file():
            try:
                return np.load(times, allow_pickle=False).astype(float).ravel()
            except (OSError, ValueError):
                return None
    return None


def place(info: VideoInfo, drive: dict[str, Any]) -> Placement:
    """Place a video on its drive's timeline with the most trusted method available."""
    path = Path(info.path)
    start_ns = int(drive.get("start_ns") or 0)
    times = frame_time_array(path)
    if times is not None and len(times):
        drive_times = (times * 1e9 - start_ns) / 1e9
        return Placement(
            float(drive_times[0]), _utc(drive, drive_times[0]), "frame_times", drive_times
        )
    sidecar = _sidecar(path)
    if sidecar is not None and "start_s" in sidecar:
        start = float(sidecar["start_s"])
        return Placement(start, _utc(drive, start), "sidecar")
    candidates: list[tuple[str, datetime | None]] = [
        ("sidecar", _parse_utc(sidecar.get("start_utc")) if sidecar else None),
        ("filename", filename_time(path)),
        ("creation_time", info.creation_time),
    ]
    notes = []
    for source, when in candidates:
        if when is None:
            continue
        offset = drive.get("utc_offset_ns")
        if offset is None:
            notes.append(f"{source} {when.isoformat()} ignored: the drive's clock has no UTC")
            continue
        start = (when.timestamp() * 1e9 - offset - start_ns) / 1e9
        duration = float(drive.get("duration_s") or 0.0)
        if start + info.duration_s < 0 or start > duration:
            notes.append(f"{source} {when.isoformat()} ignored: outside the drive")
            continue
        return Placement(start, when, source)
    return Placement(0.0, _utc(drive, 0.0), "drive_start", note="; ".join(notes))


def _parse_utc(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _utc(drive: dict[str, Any], t_s: float) -> datetime | None:
    offset = drive.get("utc_offset_ns")
    if offset is None:
        return None
    return datetime.fromtimestamp((int(drive.get("start_ns") or 0) + offset) / 1e9 + t_s, tz=UTC)


def motion_profile(
    info: VideoInfo, *, every_s: float = 0.5, width: int = 160, max_s: float = 600.0
) -> tuple[np.ndarray, np.ndarray]:
    """Mean optical-flow magnitude (pixels/s at ``width``) every ``every_s`` of the video.

    Each measurement compares a frame with the next one, so motion stays small enough for
    dense flow; frames in between are decoded (they must be) but never converted.
    """
    import cv2

    times, flows = [], []
    previous = None
    next_at = 0.0
    for frame in iter_frames(info):
        if frame.time_s > max_s:
            break
        if previous is None and frame.time_s + 1e-6 < next_at:
            continue
        height = max(2, round(frame.picture.height * width / frame.picture.width / 2) * 2)
        grey = frame.picture.reformat(width=width, height=height, format="gray").to_ndarray()
        if previous is None:
            previous = (frame.time_s, grey)
            continue
        t0, g0 = previous
        dt = frame.time_s - t0
        if dt > 0:
            flow = cv2.calcOpticalFlowFarneback(g0, grey, None, 0.5, 3, 15, 3, 5, 1.2, 0)
            times.append(t0)
            flows.append(float(np.mean(np.hypot(flow[..., 0], flow[..., 1]))) / dt)
        previous = None
        next_at = t0 + every_s
    return np.asarray(times), np.asarray(flows)


def motion_check(
    info: VideoInfo,
    placement: Placement,
    offset_s: float,
    telemetry: DriveTelemetry,
    *,
    max_lag_s: float = 10.0,
) -> SyncCheck:
    """Compare video motion with the speed profile; flag the video when they disagree."""
    if not len(telemetry.speed.t_s):
        return SyncCheck("not checked: the drive has no speed telemetry")
    try:
        import cv2  # noqa: F401
    except ImportError:
        return SyncCheck(
            "not checked: OpenCV is not installed (pip install opencv-python-headless)"
        )
    every = 0.5
    video_t, flow = motion_profile(info, every_s=every)
    if len(video_t) < 8:
        return SyncCheck("not checked: video too short to compare motion")
    drive_t = drive_times(placement, offset_s, video_t, info)
    speed = telemetry.speed_at(drive_t)
    ok = np.isfinite(speed)
    if ok.sum() < 8:
        return SyncCheck("not checked: too little speed telemetry during the video")
    if np.std(speed[ok]) < 0.5 or np.std(flow[ok]) < 1e-6:
        return SyncCheck("not checked: speed or motion too steady to compare")
    corr = float(np.corrcoef(flow[ok], speed[ok])[0, 1])
    best_lag, best_corr = 0.0, corr
    for lag in np.arange(-max_lag_s, max_lag_s + every / 2, every):
        shifted = telemetry.speed_at(drive_t + lag)
        m = np.isfinite(shifted)
        if m.sum() >= max(8, ok.sum() // 2) and np.std(shifted[m]) > 0:
            c = float(np.corrcoef(flow[m], shifted[m])[0, 1])
            if c > best_corr + 1e-9:
                best_lag, best_corr = float(lag), c
    status = "ok" if corr >= MIN_CORRELATION else "mismatch"
    return SyncCheck(status, corr, best_lag)


def drive_times(
    placement: Placement, offset_s: float, video_s: np.ndarray, info: VideoInfo
) -> np.ndarray:
    """Drive-timeline times of moments in the video (per-frame arrays win when present)."""
    video_s = np.asarray(video_s, float)
    if placement.frame_times_s is not None and info.fps:
        index = np.clip(
            np.round(video_s * info.fps).astype(int), 0, len(placement.frame_times_s) - 1
        )
        return placement.frame_times_s[index] + offset_s
    return placement.start_s + offset_s + video_s
