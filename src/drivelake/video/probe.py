"""What a video file holds: codec, size, rate, frame count, duration, rotation, creation time.

Probing reads the container header, demuxes every packet (no decoding: the packets give each
frame's presentation timestamp and keyframe flag, exact for variable frame rate and B-frames)
and decodes a single frame (to read the display rotation and prove the stream decodes). Raw
elementary streams (``.h264``/``.hevc``, e.g. comma's ``video.hevc``) carry no timestamps:
frame *i* is at ``i / fps``, with the rate from the caller (comma records 20 fps) or FFmpeg's
default guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from drivelake.errors import InputError

#: Suffixes FFmpeg reads as raw elementary streams (no container, no timestamps).
RAW_SUFFIXES = frozenset({".h264", ".264", ".hevc", ".h265"})


@dataclass(frozen=True)
class VideoInfo:
    path: str
    container: str
    codec: str
    width: int  # as coded; displayed size swaps with a ±90° rotation
    height: int
    fps: float
    frame_count: int  # frames whose packets are in the file
    declared_frames: int  # frames the container's header announces (more if truncated)
    duration_s: float
    rotation: int  # degrees the picture must be turned counter-clockwise for display
    vfr: bool
    raw: bool
    creation_time: datetime | None
    #: every frame's presentation time (s from the first frame), in presentation order
    frame_times_s: np.ndarray = field(compare=False, repr=False)
    #: every frame's container timestamp and the positions of keyframes (None in raw streams)
    frame_pts: np.ndarray | None = field(compare=False, repr=False)
    keyframe_index: np.ndarray | None = field(compare=False, repr=False)

    def index_at(self, time_s: float) -> int:
        """The index of the frame shown at ``time_s`` (the last one starting at or before it)."""
        i = int(np.searchsorted(self.frame_times_s, time_s + 1e-6, side="right")) - 1
        return min(max(i, 0), max(self.frame_count - 1, 0))

    @property
    def display_size(self) -> tuple[int, int]:
        if abs(self.rotation) % 180 == 90:
            return self.height, self.width
        return self.width, self.height


def open_input(path: str | Path):
    """Open a file with FFmpeg, rejecting what holds no decodable video with a clear message."""
    import av

    try:
        container = av.open(str(path), format=_raw_format(path))
    except av.error.FFmpegError as exc:
        raise InputError(path, f"not a readable video file ({exc.strerror or exc})") from exc
    if not container.streams.video:
        container.close()
        raise InputError(path, "not a video file: FFmpeg finds no video stream in it")
    return container


def _raw_format(path: str | Path) -> str | None:
    suffix = Path(path).suffix.lower()
    if suffix not in RAW_SUFFIXES:
        return None
    return "h264" if suffix in (".h264", ".264") else "hevc"


def probe(path: str | Path, *, fps: float | None = None) -> VideoInfo:
    """Describe the video in ``path``; ``fps`` overrides the rate of raw elementary streams."""
    path = Path(path)
    raw = _raw_format(path) is not None
    with open_input(path) as container:
        stream = container.streams.video[0]
        rotation = _first_frame_rotation(container, stream, path)
    with open_input(path) as container:
        stream = container.streams.video[0]
        rate = fps if (raw and fps) else float(stream.average_rate or stream.guessed_rate or 0)
        declared = int(stream.frames or 0)
        packets = [(p.pts, p.is_keyframe) for p in _packets(container, stream)]
        count = len(packets)
        pts = keys = None
        if count and all(p is not None for p, _ in packets):
            order = np.argsort([p for p, _ in packets], kind="stable")
            pts = np.array([packets[i][0] for i in order], np.int64)
            keys = np.nonzero([packets[i][1] for i in order])[0]
            times = (pts - _start_pts(stream)) * float(stream.time_base)
            duration = _duration_s(times, rate)
            diffs = np.diff(times)
            vfr = bool(len(diffs) > 1 and np.ptp(diffs) > 0.01 * max(float(np.median(diffs)), 1e-9))
        else:
            times = np.arange(count) / rate if rate else np.zeros(count)
            duration = count / rate if rate else 0.0
            vfr = False
        return VideoInfo(
            path=str(path),
            container=container.format.name,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=rate,
            frame_count=count,
            declared_frames=max(declared, count),
            duration_s=duration,
            rotation=rotation,
            vfr=vfr,
            raw=raw,
            creation_time=_creation_time(container, stream),
            frame_times_s=times,
            frame_pts=pts,
            keyframe_index=keys,
        )


def _packets(container, stream):
    """Every packet's header (demuxing reads no pixels), stopping quietly where data ends."""
    import av

    try:
        for packet in container.demux(stream):
            if packet.size:
                yield packet
    except av.error.FFmpegError:
        return


def _first_frame_rotation(container, stream, path: Path) -> int:
    import av

    try:
        for frame in container.decode(stream):
            return int(frame.rotation or 0)
    except av.error.FFmpegError as exc:
        raise InputError(path, f"video stream does not decode ({exc.strerror or exc})") from exc
    raise InputError(path, "video stream holds no decodable frame")


def _start_pts(stream) -> int:
    return int(stream.start_time or 0)


def _duration_s(times: np.ndarray, rate: float) -> float:
    """Last frame's time plus its own duration (one mean frame interval)."""
    if len(times) > 1:
        return float(times[-1] + (times[-1] - times[0]) / (len(times) - 1))
    return 1.0 / rate if rate else 0.0


def _creation_time(container, stream) -> datetime | None:
    for meta in (container.metadata, stream.metadata):
        value = meta.get("creation_time")
        if value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if parsed.year > 1970:  # unset clocks write the epoch
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
