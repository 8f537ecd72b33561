"""Which frames of a video to keep, and the ``frames`` rows for them.

A :class:`SamplingPolicy` combines three rules: every keyframe, ``fps`` frames per second (the
frame shown at each tick, as FFmpeg's ``fps`` filter picks it), and ``event_fps`` frames per
second inside each event window (events from the ``events`` table, padded by
``event_pad_s``), so the moments that matter are covered densely. Only the selected frames are
decoded (see :func:`drivelake.video.decode.iter_selected`); each becomes a JPEG thumbnail
``thumb_width`` pixels wide with the drive's nearest telemetry.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from drivelake.video.decode import (
    DecodeLog,
    Frame,
    iter_frames,
    iter_selected,
    jpeg_bytes,
    to_rgb,
)
from drivelake.video.probe import VideoInfo
from drivelake.video.schema import FRAMES
from drivelake.video.sync import Placement, drive_times
from drivelake.video.telemetry import DriveTelemetry


@dataclass(frozen=True)
class SamplingPolicy:
    fps: float | None = 1.0  # frames per second everywhere (None: none)
    keyframes: bool = False  # every keyframe
    event_fps: float = 5.0  # frames per second inside event windows (0: none)
    event_pad_s: float = 2.0
    thumb_width: int = 320
    jpeg_quality: int = 80


def frame_id(video_id: str, index: int) -> str:
    return f"{video_id}-{index:06d}"


def plan(
    info: VideoInfo,
    policy: SamplingPolicy,
    event_windows: Iterable[tuple[float, float]] = (),
) -> dict[int, str]:
    """Frame index -> why it is sampled (``keyframe`` | ``fps`` | ``event``), in video time.

    Keyframes are planned here only when the container indexes them; otherwise
    :func:`sample` finds them while decoding with the keyframes-only fast path.
    """
    chosen: dict[int, str] = {}

    def ticks(lo: float, hi: float, rate: float, reason: str) -> None:
        lo, hi = max(lo, 0.0), min(hi, info.duration_s)
        for k in range(math.ceil(lo * rate - 1e-9), math.floor(hi * rate - 1e-9) + 1):
            chosen.setdefault(info.index_at(k / rate), reason)

    if policy.keyframes and info.keyframe_index is not None:
        for i in info.keyframe_index:
            chosen.setdefault(int(i), "keyframe")
    if policy.fps:
        ticks(0.0, info.duration_s, policy.fps, "fps")
    if policy.event_fps:
        for lo, hi in event_windows:
            ticks(lo - policy.event_pad_s, hi + policy.event_pad_s, policy.event_fps, "event")
    return chosen


def sample(
    info: VideoInfo,
    *,
    video_id: str,
    drive_id: str,
    placement: Placement,
    offset_s: float,
    telemetry: DriveTelemetry | None,
    policy: SamplingPolicy,
    event_windows: Iterable[tuple[float, float]] = (),
    skip: set[int] | frozenset[int] = frozenset(),
    log: DecodeLog | None = None,
) -> pa.Table:
    """Decode the planned frames (minus ``skip``, those already stored) into ``frames`` rows."""
    log = log if log is not None else DecodeLog(info.path)
    chosen = {i: r for i, r in plan(info, policy, event_windows).items() if i not in skip}
    decoded = iter_selected(info, sorted(chosen), log=log)
    if policy.keyframes and info.keyframe_index is None:  # found while decoding instead
        keyframes = iter_frames(info, keyframes_only=True, log=DecodeLog(info.path))
        fresh = (f for f in keyframes if f.index not in skip and f.index not in chosen)
        decoded = itertools.chain(decoded, fresh)
    rows = []
    for frame, rgb, jpeg in _thumbnails(decoded, info.rotation, policy):
        rows.append(
            {
                "frame_id": frame_id(video_id, frame.index),
                "drive_id": drive_id,
                "video_id": video_id,
                "frame_index": frame.index,
                "pts": frame.pts,
                "video_s": frame.time_s,
                "keyframe": frame.key,
                "reason": chosen.get(frame.index, "keyframe"),
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "thumbnail": jpeg,
            }
        )
    return _with_time_and_telemetry(rows, info, placement, offset_s, telemetry)


def _thumbnails(
    frames: Iterator[Frame], rotation: int, policy: SamplingPolicy
) -> Iterator[tuple[Frame, np.ndarray, bytes]]:
    """Scale and JPEG-encode frames in worker threads while the next ones decode (both
    release the GIL), keeping only a few decoded frames in memory at a time."""
    workers = os.cpu_count() or 1

    def work(frame: Frame) -> tuple[Frame, np.ndarray, bytes]:
        rgb = to_rgb(frame, rotation, width=policy.thumb_width)
        return frame, rgb, jpeg_bytes(rgb, policy.jpeg_quality)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        for frame in frames:
            pending.append(pool.submit(work, frame))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _with_time_and_telemetry(
    rows: list[dict],
    info: VideoInfo,
    placement: Placement,
    offset_s: float,
    telemetry: DriveTelemetry | None,
) -> pa.Table:
    if not rows:
        return FRAMES.empty_table()
    video_s = np.array([r["video_s"] for r in rows])
    t_s = drive_times(placement, offset_s, video_s, info)
    near = telemetry.at(t_s) if telemetry is not None else {}
    origin = placement.start_utc
    for k, row in enumerate(rows):
        row["t_s"] = float(t_s[k])
        if origin is not None:
            row["t_utc"] = origin + timedelta(seconds=float(t_s[k] - placement.start_s))
        for name, values in near.items():
            value = float(values[k])
            row[name] = value if math.isfinite(value) else None
    return pa.Table.from_pylist(rows, schema=FRAMES)
