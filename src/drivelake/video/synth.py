"""Synthetic dashcam-like video, encoded with PyAV, for tests and benchmarks.

The project ships no video fixtures: tests and benchmarks generate what they need with this
helper, so every odd case (raw elementary streams, variable frame rate, rotation metadata,
truncation, a motion profile that follows a speed trace) is reproducible from code.

The picture is a smooth random texture that scrolls sideways by ``speed_px`` pixels per frame,
so optical flow measured on it follows the speed profile it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

#: Container formats FFmpeg needs named explicitly for raw elementary streams.
_RAW_FORMATS = {".h264": "h264", ".264": "h264", ".hevc": "hevc", ".h265": "hevc"}


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """A grey texture with structure at several scales (optical flow needs gradients)."""
    rng = np.random.default_rng(seed)
    tex = np.zeros((height, width), np.float32)
    base = max(4, width // 160)  # detail scales with the picture, as in a real scene
    for cell in (base * 16, base * 4, base):
        small = rng.random((height // cell + 2, width // cell + 2), dtype=np.float32)
        big = np.kron(small, np.ones((cell, cell), np.float32))[:height, :width]
        tex += big * cell
    tex -= tex.min()
    return (255 * tex / max(float(tex.max()), 1.0)).astype(np.uint8)


def write_synthetic_video(
    path: str | Path,
    *,
    seconds: float = 2.0,
    fps: float = 25.0,
    width: int = 160,
    height: int = 96,
    codec: str = "libx264",
    gop: int = 25,
    speed_px: Sequence[float] | float = 2.0,
    frame_times_s: Sequence[float] | None = None,
    rotation: int | None = None,
    creation_time: str | None = None,
    preset: str = "ultrafast",
    seed: int = 0,
    subtitles: Sequence[tuple[float, float, str]] = (),
) -> Path:
    """Encode a scrolling-texture video and return its path.

    ``speed_px`` is the scroll per frame (one value, or one per frame); ``frame_times_s`` makes
    a variable-frame-rate video with those presentation times; ``rotation`` writes display
    rotation metadata (degrees); the suffix picks the container (``.h264``/``.hevc`` write a
    raw elementary stream). MP4 files are written with the index first (``faststart``), as
    dashcams do, so a truncated file still opens. ``subtitles`` — (start s, end s, text) —
    become a text track (MKV/MP4), as dashcams that embed NMEA write them.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    times = None if frame_times_s is None else np.asarray(frame_times_s, float)
    n = len(times) if times is not None else round(seconds * fps)
    steps = np.broadcast_to(np.asarray(speed_px, float), (n,))
    offsets = np.concatenate([[0.0], np.cumsum(steps)[:-1]]).astype(int)
    fmt = _RAW_FORMATS.get(path.suffix.lower())
    options = {"movflags": "faststart"} if path.suffix.lower() in (".mp4", ".mov") else {}
    tex = _texture(height, width * 2, seed)
    with av.open(str(path), "w", format=fmt, options=options) as out:
        if creation_time:
            out.metadata["creation_time"] = creation_time
        stream = out.add_stream(codec, rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        quiet = {"x265-params": "log-level=error"} if codec == "libx265" else {}
        stream.codec_context.options = {"preset": preset, "sc_threshold": "0", **quiet}
        if times is not None:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        cues = _TextTrack(out, subtitles, path) if subtitles else None
        for i in range(n):
            x = offsets[i] % width
            grey = np.ascontiguousarray(tex[:, x : x + width])
            grey[:, : max(2, width // 40)] = (i * 7) % 256  # a per-frame mark
            frame = av.VideoFrame.from_ndarray(grey, format="gray")
            frame.pts = round(times[i] * 1000) if times is not None else i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if cues is not None:
            cues.copy_into(out)
    return path


def _srt_time(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


class _TextTrack:
    """Cues as a text track, read through FFmpeg's SRT demuxer (the track must be declared
    before the first video packet is written, and filled afterwards)."""

    def __init__(self, out, cues: Sequence[tuple[float, float, str]], path: Path) -> None:
        import av

        srt = path.with_name(path.name + ".srt")
        srt.write_text(
            "".join(
                f"{k + 1}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n\n"
                for k, (a, b, text) in enumerate(cues)
            )
        )
        self.src = av.open(str(srt))
        srt.unlink()
        self.track = out.add_stream_from_template(self.src.streams[0])

    def copy_into(self, out) -> None:
        with self.src:
            for packet in self.src.demux(self.src.streams[0]):
                if packet.size:
                    packet.stream = self.track
                    out.mux(packet)
