"""Event clips: a stretch of video cut out exactly, with an optional telemetry overlay.

A clip spans whole frames: from the first frame shown at or after its start to the last one
before its end, so its duration matches the request within one frame. It is a *stream copy*
(packets copied, no quality loss, fast) when the cut points allow it — the clip starts on a
keyframe and ends on a keyframe or at the end of the file, and nothing is drawn on it;
otherwise the frames are decoded from the keyframe before the start and re-encoded with
libx264. Re-encoded clips are written upright (rotation applied), with speed and g-force
burned in on request. :func:`event_clip` and :func:`event_clips` cut around events of the
``events`` table and describe each clip in a manifest entry (event, drive, video, times).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drivelake.errors import InputError, NotFoundError
from drivelake.events import store as event_store
from drivelake.video.decode import iter_selected, to_rgb
from drivelake.video.probe import VideoInfo, open_input

if TYPE_CHECKING:
    from drivelake.lake import Lake

_CLIP_TIME_BASE = Fraction(1, 90_000)


@dataclass(frozen=True)
class Clip:
    path: str
    method: str  # stream copy | re-encode
    video_start_s: float  # the clip's first frame, in video time
    video_end_s: float
    frames: int

    @property
    def duration_s(self) -> float:
        return self.video_end_s - self.video_start_s


def frame_span(info: VideoInfo, start_s: float, end_s: float) -> tuple[int, int]:
    """[first, stop) frame indices covering [start_s, end_s) of video time."""
    times = info.frame_times_s
    first = int(np.searchsorted(times, max(start_s, 0.0) - 1e-6))
    stop = int(np.searchsorted(times, end_s - 1e-6))
    if stop <= first:
        raise InputError(info.path, f"no frames between {start_s:.2f} s and {end_s:.2f} s")
    return first, stop


def _time_of(info: VideoInfo, index: int) -> float:
    return float(info.frame_times_s[index]) if index < info.frame_count else info.duration_s


def cut(
    info: VideoInfo,
    start_s: float,
    end_s: float,
    out: str | Path,
    *,
    overlay: Callable[[float], str] | None = None,
) -> Clip:
    """Cut [start_s, end_s) of video time into ``out`` (MP4); ``overlay(video_s)`` is drawn."""
    first, stop = frame_span(info, start_s, end_s)
    keys = set() if info.keyframe_index is None else {int(k) for k in info.keyframe_index}
    copyable = (
        overlay is None
        and info.frame_pts is not None
        and first in keys
        and (stop >= info.frame_count or stop in keys)
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if copyable:
        _stream_copy(info, first, stop, out)
    else:
        _re_encode(info, first, stop, out, overlay)
    method = "stream copy" if copyable else "re-encode"
    return Clip(str(out), method, _time_of(info, first), _time_of(info, stop), stop - first)


def _stream_copy(info: VideoInfo, first: int, stop: int, out: Path) -> None:
    assert info.frame_pts is not None
    lo = int(info.frame_pts[first])
    hi = int(info.frame_pts[stop]) if stop < info.frame_count else None
    with open_input(info.path) as src, _output(out) as dst:
        stream = src.streams.video[0]
        target = dst.add_stream_from_template(stream)
        if info.rotation:
            target.set_display_rotation(info.rotation)
        src.seek(lo, stream=stream, backward=True)
        for packet in src.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            if hi is not None and packet.pts >= hi and packet.is_keyframe:
                break
            if packet.pts < lo or (hi is not None and packet.pts >= hi):
                continue
            packet.pts -= lo
            if packet.dts is not None:
                packet.dts -= lo
            packet.stream = target
            dst.mux(packet)


def _output(path: Path):
    import av

    return av.open(str(path), "w", format="mp4")


def _re_encode(
    info: VideoInfo, first: int, stop: int, out: Path, overlay: Callable[[float], str] | None
) -> None:
    import av

    width, height = info.display_size
    t0 = _time_of(info, first)
    end = _time_of(info, stop)
    with _output(out) as dst:
        stream = dst.add_stream("libx264", rate=round(info.fps) or 25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = stream.time_base = _CLIP_TIME_BASE
        # the same cut must give the same bytes (exports are reproducible): one x264 thread, and
        # no macroblock-tree rate control, whose output varied from run to run on identical input
        # (1 to 10 cuts in 40; 0 of 1,200 without it, see docs/datasets.md)
        stream.codec_context.options = {
            "preset": "veryfast",
            "crf": "20",
            "threads": "1",
            "x264-params": "mbtree=0",
        }
        last = None
        for frame in iter_selected(info, list(range(first, stop))):
            rgb = to_rgb(frame, info.rotation)
            if overlay is not None:
                rgb = _draw(rgb, overlay(frame.time_s))
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            picture.pts = round((frame.time_s - t0) / _CLIP_TIME_BASE)
            if last is not None:
                last.duration = picture.pts - last.pts
            for packet in stream.encode(picture):
                dst.mux(packet)
            last = picture
        if last is None:
            raise InputError(info.path, f"no decodable frames between {t0:.2f} s and {end:.2f} s")
        for packet in stream.encode():
            dst.mux(packet)


def _draw(rgb: np.ndarray, text: str) -> np.ndarray:
    """Burn ``text`` into the top-left corner on a dark box, sized to the picture."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, image.height // 18))
    margin = max(4, image.height // 60)
    box = draw.textbbox((margin, margin), text, font=font)
    pad = margin // 2
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(0, 0, 0))
    draw.text((margin, margin), text, fill=(255, 255, 255), font=font)
    return np.asarray(image)


# --------------------------------------------------------------------------- events


def _event(lake: Lake, event_id: str) -> dict[str, Any]:
    ds = lake.dataset("events")
    if ds is None:
        raise NotFoundError(f"no events table in {lake.uri} (run event detection first)")
    quoted = event_id.replace("'", "''")
    rows = ds.to_table(filter=f"event_id = '{quoted}'").to_pylist()[:1]
    rows = rows or ds.to_table(filter=f"starts_with(event_id, '{quoted}')").to_pylist()
    if len(rows) != 1:
        what = "no event" if not rows else "ambiguous event id prefix"
        raise NotFoundError(f"{what} {event_id!r} in {lake.uri}")
    return rows[0]


def _videos_of(lake: Lake, drive_id: str) -> list[dict[str, Any]]:
    ds = lake.dataset("videos")
    if ds is None:
        return []
    return ds.to_table(filter=f"drive_id = '{drive_id}'").to_pylist()


def _video_time(row: dict[str, Any], t_s: float) -> float:
    """A drive time in a video's own time (per-frame arrays are inverted by interpolation)."""
    offset = float(row.get("offset_s") or 0.0)
    times = row.get("frame_times_s")
    if times:
        drive = np.asarray(times, float) + offset
        video = np.arange(len(drive)) / float(row["fps"])
        return float(np.interp(t_s, drive, video))
    return t_s - float(row["start_s"]) - offset


def event_clip(
    lake: Lake,
    event_id: str,
    out: str | Path,
    *,
    pad_s: float = 5.0,
    overlay: bool = False,
) -> dict[str, Any]:
    """Cut the video around one event (``pad_s`` on each side); returns its manifest entry."""
    from drivelake.video.stage import info_and_placement
    from drivelake.video.telemetry import DriveTelemetry

    event = _event(lake, event_id)
    lo, hi = float(event["start_s"]) - pad_s, float(event["end_s"]) + pad_s
    best, best_overlap = None, 0.0
    for row in _videos_of(lake, event["drive_id"]):
        a, b = _video_time(row, lo), _video_time(row, hi)
        overlap = min(b, row["duration_s"]) - max(a, 0.0)
        if overlap > best_overlap:
            best, best_overlap = row, overlap
    if best is None:
        raise NotFoundError(f"event {event['event_id']}: no video of its drive covers it")
    info, _ = info_and_placement(best)
    video_lo = max(_video_time(best, lo), 0.0)
    video_hi = min(_video_time(best, hi), info.duration_s)
    draw = None
    if overlay:
        telemetry = DriveTelemetry.load(lake, event["drive_id"])
        shift = _video_time(best, 0.0)

        def draw(video_s: float) -> str:
            t = np.array([video_s - shift])
            speed = float(telemetry.speed_at(t)[0])
            g = float(telemetry.g_force_at(t)[0])
            kmh = f"{speed * 3.6:5.1f} km/h" if np.isfinite(speed) else "  -- km/h"
            return f"{kmh}   {g:4.2f} g" if np.isfinite(g) else f"{kmh}   -- g"

    clip = cut(info, video_lo, video_hi, out, overlay=draw)
    shift = _video_time(best, 0.0)
    entry = {
        "event_id": event["event_id"],
        "type": event.get("type"),
        "drive_id": event["drive_id"],
        "video_id": best["video_id"],
        "event_start_s": event["start_s"],
        "event_end_s": event["end_s"],
        "clip_start_s": clip.video_start_s - shift,
        "clip_end_s": clip.video_end_s - shift,
        **asdict(clip),
        "duration_s": clip.duration_s,
    }
    drive = lake.drive(event["drive_id"])
    if drive["utc_offset_ns"] is not None:
        origin = datetime.fromtimestamp((drive["start_ns"] + drive["utc_offset_ns"]) / 1e9, UTC)
        entry["clip_start_utc"] = origin + timedelta(seconds=entry["clip_start_s"])
        entry["clip_end_utc"] = origin + timedelta(seconds=entry["clip_end_s"])
    return entry


def event_clips(
    lake: Lake,
    out_dir: str | Path,
    *,
    event_type: str | None = None,
    pad_s: float = 5.0,
    overlay: bool = False,
) -> list[dict[str, Any]]:
    """Clip every event (of one type) into ``out_dir`` and write ``manifest.json`` beside them.

    Events whose drive has no covering video are listed in the manifest with the reason.
    """
    if lake.dataset("events") is None:
        raise NotFoundError(f"no events table in {lake.uri} (run event detection first)")
    events = event_store.events(lake, type=event_type).select(["event_id", "type", "drive_id"])
    events = events.to_pylist()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for event in events:
        name = f"{event['type']}-{event['event_id']}.mp4"
        try:
            manifest.append(
                event_clip(lake, event["event_id"], out_dir / name, pad_s=pad_s, overlay=overlay)
            )
        except (NotFoundError, InputError) as exc:
            manifest.append({**event, "path": None, "skipped": str(exc)})
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest
