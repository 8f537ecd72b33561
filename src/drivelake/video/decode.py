"""Decoding frames, robust to damaged files, with the fast paths sampling needs.

* ``keyframes_only`` tells the decoder to skip every non-key frame (``skip_frame=NONKEY``):
  those packets are read but never decoded, which is what makes keyframe sampling cheap.
* Frame threading is on, as in the ``ffmpeg`` command line.
* A truncated or partly corrupt file yields every frame that decodes; where decoding stopped
  (frame, time, byte offset, FFmpeg's reason) is recorded in :class:`DecodeLog` so callers can
  warn instead of failing.
* Presentation times come from each frame's own timestamp, so variable frame rate is exact;
  raw elementary streams have none, and frame *i* is placed at ``i / fps`` (or at the
  per-frame time array the caller supplies, see :mod:`drivelake.video.sync`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from drivelake.video.probe import VideoInfo, open_input


@dataclass
class Frame:
    """One decoded frame: its timestamp, time from the video's first frame, and the picture."""

    pts: int | None
    time_s: float
    key: bool
    picture: Any  # av.VideoFrame
    #: position in presentation order
    index: int


@dataclass
class DecodeLog:
    """What a decoding pass saw: frames, corrupt frames, and where (and why) it stopped early."""

    path: str
    frames: int = 0
    corrupt: int = 0
    stopped: str | None = None
    packets: int = 0

    @property
    def warning(self) -> str | None:
        return f"{self.path}: {self.stopped}" if self.stopped else None


def iter_frames(
    info: VideoInfo,
    *,
    keyframes_only: bool = False,
    log: DecodeLog | None = None,
    wanted: Callable[[float], bool] | None = None,
) -> Iterator[Frame]:
    """Decode the frames of ``info``'s file in presentation order.

    ``wanted(time_s)`` lets the caller skip frames it does not need before any conversion.
    Raw streams are decoded in full even with ``keyframes_only`` (their frame index comes from
    counting), but only keyframes are yielded.
    """
    import av

    log = log if log is not None else DecodeLog(info.path)
    with open_input(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if keyframes_only and not info.raw:
            stream.codec_context.skip_frame = "NONKEY"
        start = int(stream.start_time or 0)
        base = float(stream.time_base) if stream.time_base else 0.0
        position = 0
        time_s = 0.0
        try:
            for packet in container.demux(stream):
                position = packet.pos if packet.pos is not None and packet.pos >= 0 else position
                log.packets += bool(packet.size)
                for picture in packet.decode():
                    if info.raw or picture.pts is None:
                        time_s = log.frames / info.fps if info.fps else 0.0
                        index = log.frames
                    else:
                        time_s = (picture.pts - start) * base
                        index = info.index_at(time_s)
                    log.frames += 1
                    log.corrupt += bool(picture.is_corrupt)
                    if keyframes_only and not picture.key_frame:
                        continue  # raw streams: the decoder cannot skip, but the caller can
                    if wanted is None or wanted(time_s):
                        yield Frame(picture.pts, time_s, bool(picture.key_frame), picture, index)
        except av.error.FFmpegError as exc:
            log.stopped = (
                f"decoding stopped after {log.frames} frames (t={time_s:.2f} s, near byte "
                f"{position}): {exc.strerror or exc}; the frames before it were kept"
            )
            return
    expected = info.declared_frames
    seen = log.frames if info.raw else log.packets
    if not keyframes_only and expected and seen < expected:
        log.stopped = (
            f"file ends early: decoding stopped after {log.frames} of {expected} frames "
            f"(t={time_s:.2f} s, near byte {position}); the frames before it were kept"
        )


def iter_selected(
    info: VideoInfo, indices: list[int], *, log: DecodeLog | None = None
) -> Iterator[Frame]:
    """Decode just the frames at ``indices`` (sorted), the cheapest way the file allows.

    When they are (most of) the keyframes, one threaded pass skips every other frame. When
    the container indexes its keyframes and the wanted frames sit close after them (e.g. 1
    frame/s from a dashcam writing a keyframe every 2 s), each group of wanted frames is
    reached by seeking to its keyframe and decoding forward; the frames between groups are
    never read. Otherwise one sequential pass decodes up to the last wanted frame.
    """
    if not indices:
        return
    log = log if log is not None else DecodeLog(info.path)
    if _keyframes_suffice(info, indices):
        wanted = set(indices)
        frames = iter_frames(info, keyframes_only=True, log=log)
        yield from (frame for frame in frames if frame.index in wanted)
        return
    groups = _seek_groups(info, indices)
    if groups is None:
        wanted = set(indices)
        last = indices[-1]
        for frame in iter_frames(info, log=log, wanted=lambda t: info.index_at(t) in wanted):
            if frame.index in wanted:
                yield frame
            if frame.index >= last:
                return
        return
    yield from _decode_groups(info, groups, log)


def _keyframes_suffice(info: VideoInfo, indices: list[int]) -> bool:
    """Whether the wanted frames are most of the keyframes and nothing else: then one
    threaded pass that skips every non-key frame beats a seek per frame."""
    keys = info.keyframe_index
    if info.raw or keys is None or len(indices) < 0.5 * len(keys):
        return False
    return set(indices) <= {int(k) for k in keys}


def _seek_groups(info: VideoInfo, indices: list[int]) -> list[tuple[int, list[int]]] | None:
    """(keyframe, wanted frames after it) pairs, or None when one sequential pass is cheaper."""
    keys = info.keyframe_index
    if info.raw or keys is None or info.frame_pts is None or not len(keys):
        return None
    groups: dict[int, list[int]] = {}
    for i in indices:
        key = int(keys[max(int(np.searchsorted(keys, i, side="right")) - 1, 0)])
        groups.setdefault(key, []).append(i)
    seek_cost = sum(members[-1] - key + 1 for key, members in groups.items())
    if seek_cost > 0.7 * (indices[-1] + 1):
        return None
    return sorted(groups.items())


def _decode_groups(
    info: VideoInfo, groups: list[tuple[int, list[int]]], log: DecodeLog
) -> Iterator[Frame]:
    import av

    assert info.frame_pts is not None
    with open_input(info.path) as container:
        stream = container.streams.video[0]
        start = int(stream.start_time or 0)
        base = float(stream.time_base)
        for key, members in groups:
            wanted = {int(info.frame_pts[i]): i for i in members}
            last_pts = int(info.frame_pts[members[-1]])
            try:
                container.seek(int(info.frame_pts[key]), stream=stream, backward=True)
                for picture in container.decode(stream):
                    log.frames += 1
                    if picture.pts in wanted:
                        time_s = (picture.pts - start) * base
                        yield Frame(
                            picture.pts,
                            time_s,
                            bool(picture.key_frame),
                            picture,
                            wanted[picture.pts],
                        )
                    if picture.pts is None or picture.pts >= last_pts:
                        break
            except av.error.FFmpegError as exc:
                log.stopped = (
                    f"decoding stopped near frame {key} (t={info.frame_times_s[key]:.2f} s): "
                    f"{exc.strerror or exc}; the frames before it were kept"
                )
                return


def frame_at(info: VideoInfo, *, pts: int | None, index: int) -> Frame:
    """One frame at full resolution, decoded on demand: seek to the keyframe before it, decode.

    Raw streams cannot seek; they are decoded from the start up to ``index``.
    """
    from drivelake.errors import InputError

    if pts is None or info.raw:
        for frame in iter_frames(info):
            if frame.index == index:
                return frame
        raise InputError(info.path, f"frame {index} is not in this video")
    with open_input(info.path) as container:
        stream = container.streams.video[0]
        container.seek(pts, stream=stream, backward=True, any_frame=False)
        start = int(stream.start_time or 0)
        for picture in container.decode(stream):
            if picture.pts is not None and picture.pts >= pts:
                time_s = float((picture.pts - start) * stream.time_base)
                return Frame(picture.pts, time_s, bool(picture.key_frame), picture, index)
    raise InputError(info.path, f"frame {index} (pts {pts}) is not in this video")


def to_rgb(frame: Frame, rotation: int, width: int | None = None) -> np.ndarray:
    """The picture as an RGB array, turned upright, optionally scaled to ``width`` (displayed).

    Scaling happens in FFmpeg (swscale) before the array is made, so thumbnails of a 1080p
    video never materialise the full-size RGB picture.
    """
    picture = frame.picture
    turned = abs(rotation) % 180 == 90
    if width is not None:
        src_w, src_h = (
            (picture.height, picture.width) if turned else (picture.width, picture.height)
        )
        height = max(2, round(src_h * width / src_w / 2) * 2)
        w, h = (height, width) if turned else (width, height)
        rgb = picture.reformat(width=w, height=h, format="rgb24").to_ndarray()
    else:
        rgb = picture.to_ndarray(format="rgb24")
    quarter_turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def jpeg_bytes(rgb: np.ndarray, quality: int = 80) -> bytes:
    """Encode an RGB array as JPEG."""
    from PIL import Image

    buf = BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def save_frame(frame: Frame, rotation: int, out: str | Path, quality: int = 95) -> Path:
    """Write a full-resolution, upright frame to an image file (format from the suffix)."""
    from PIL import Image

    out = Path(out)
    Image.fromarray(to_rgb(frame, rotation)).save(out, quality=quality)
    return out
