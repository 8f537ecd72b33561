"""The video stage: a drive's videos into the ``videos`` and ``frames`` tables.

Run after a drive is ingested (ingest calls :func:`process_drive`) and re-runnable at any time
(``drivelake video process``): a video already in ``videos`` is not probed again, and only
frames not yet in ``frames`` are decoded, so running it twice changes nothing, and running it
after events were mined adds just the denser frames around them. A damaged video yields the
frames that decode plus a warning; a file that is not video yields a warning and no rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from drivelake.errors import InputError
from drivelake.events import store as event_store
from drivelake.video.decode import DecodeLog, Frame, frame_at, save_frame
from drivelake.video.probe import VideoInfo, probe
from drivelake.video.sampling import SamplingPolicy, sample
from drivelake.video.schema import VIDEOS
from drivelake.video.sync import Placement, SyncCheck, frame_time_array, motion_check, place
from drivelake.video.telemetry import DriveTelemetry

if TYPE_CHECKING:
    from drivelake.lake import Lake


def video_id_of(sha256: str) -> str:
    """A video's id: its content hash (shortened as drive ids are)."""
    return sha256[:20]


def process_drive(
    lake: Lake,
    drive_id: str,
    policy: SamplingPolicy | None = None,
    *,
    check_sync: bool = True,
) -> list[str]:
    """Register and sample every video of a drive; returns warnings (one line each)."""
    policy = policy or SamplingPolicy()
    drive = lake.drive(drive_id)
    if not drive.get("videos"):
        return []
    telemetry = DriveTelemetry.load(lake, drive["drive_id"])
    windows = event_windows(lake, drive["drive_id"])
    warnings = []
    for video in drive["videos"]:
        try:
            warning = _process_video(lake, drive, video, telemetry, policy, windows, check_sync)
        except InputError as exc:
            warning = str(exc)
        if warning:
            warnings.append(warning)
    return warnings


def video_row(lake: Lake, video_id: str) -> dict[str, Any] | None:
    ds = lake.dataset("videos")
    if ds is None:
        return None
    rows = ds.to_table(filter=f"video_id = '{video_id}'").to_pylist()
    return rows[0] if rows else None


def resolve_video_id(lake: Lake, video_id: str) -> str:
    """Accept a unique prefix of a video id."""
    from drivelake.errors import NotFoundError

    ds = lake.dataset("videos")
    ids = [] if ds is None else ds.to_table(columns=["video_id"]).column("video_id").to_pylist()
    matches = [v for v in ids if v.startswith(video_id)]
    if len(matches) != 1:
        what = "no video" if not matches else "ambiguous video id prefix"
        raise NotFoundError(f"{what} {video_id!r} in {lake.uri}")
    return matches[0]


def info_and_placement(row: dict[str, Any]) -> tuple[VideoInfo, Placement]:
    """Re-probe a registered video (cheap: header and index) and rebuild its placement."""
    info = _probe(Path(row["path"]))
    times = row.get("frame_times_s")
    placement = Placement(
        row["start_s"],
        row["start_utc"],
        row["time_source"],
        np.asarray(times, float) if times else None,
    )
    return info, placement


def event_windows(lake: Lake, drive_id: str) -> list[tuple[float, float]]:
    """(start_s, end_s) of the drive's events (its latest detector run), if it has any."""
    table = event_store.events(lake, drive_id)
    return list(
        zip(table.column("start_s").to_pylist(), table.column("end_s").to_pylist(), strict=True)
    )


def set_offset(lake: Lake, video_id: str, offset_s: float) -> int:
    """Set a video's manual time offset and re-time its frames; returns frames rewritten."""
    video_id = resolve_video_id(lake, video_id)
    lake.dataset("videos").update(
        {"offset_s": repr(float(offset_s))}, where=f"video_id = '{video_id}'"
    )
    lake.delete("frames", f"video_id = '{video_id}'")
    row = video_row(lake, video_id)
    assert row is not None
    drive = lake.drive(row["drive_id"])
    telemetry = DriveTelemetry.load(lake, drive["drive_id"])
    info, placement = info_and_placement(row)
    frames = sample(
        info,
        video_id=video_id,
        drive_id=drive["drive_id"],
        placement=placement,
        offset_s=offset_s,
        telemetry=telemetry,
        policy=SamplingPolicy(),
        event_windows=_video_windows(event_windows(lake, drive["drive_id"]), placement, offset_s),
    )
    if frames.num_rows:
        lake.insert_new("frames", frames, "frame_id", message=f"re-time video {video_id}")
    return frames.num_rows


def _probe(path: Path) -> VideoInfo:
    """Probe; a raw stream with a per-frame time array takes its frame rate from it."""
    times = frame_time_array(path)
    fps = None
    if times is not None and len(times) > 1:
        fps = float(1.0 / np.median(np.diff(times)))
    return probe(path, fps=fps)


def _video_windows(
    windows: list[tuple[float, float]], placement: Placement, offset_s: float
) -> list[tuple[float, float]]:
    """Event windows moved from the drive's timeline to the video's."""
    shift = placement.start_s + offset_s
    return [(lo - shift, hi - shift) for lo, hi in windows]


def _process_video(
    lake: Lake,
    drive: dict[str, Any],
    video: dict[str, Any],
    telemetry: DriveTelemetry,
    policy: SamplingPolicy,
    windows: list[tuple[float, float]],
    check_sync: bool,
) -> str | None:
    video_id = video_id_of(video["sha256"])
    row = video_row(lake, video_id)
    if row is None:
        info = _probe(Path(video["path"]))
        placement = place(info, drive)
        check = motion_check(info, placement, 0.0, telemetry) if check_sync else None
        row = _registration(info, video, video_id, drive["drive_id"], placement, check)
        lake.insert_new(
            "videos",
            pa.Table.from_pylist([row], schema=VIDEOS),
            "video_id",
            message=f"video {video_id}",
        )
        row = video_row(lake, video_id) or row
    elif row["drive_id"] != drive["drive_id"]:
        return None  # the same file already belongs to another drive (a split log)
    info, placement = info_and_placement(row)
    offset = float(row.get("offset_s") or 0.0)
    existing = lake.dataset("frames")
    done: set[int] = set()
    if existing is not None:
        done = set(
            existing.to_table(columns=["frame_index"], filter=f"video_id = '{video_id}'")
            .column("frame_index")
            .to_pylist()
        )
    log = DecodeLog(info.path)
    frames = sample(
        info,
        video_id=video_id,
        drive_id=drive["drive_id"],
        placement=placement,
        offset_s=offset,
        telemetry=telemetry,
        policy=policy,
        event_windows=_video_windows(windows, placement, offset),
        skip=done,
        log=log,
    )
    if frames.num_rows:
        lake.insert_new("frames", frames, "frame_id", message=f"frames of video {video_id}")
    if log.warning and log.warning != row.get("decode_warning"):
        quoted = log.warning.replace("'", "''")
        lake.dataset("videos").update(
            {"decode_warning": f"'{quoted}'"}, where=f"video_id = '{video_id}'"
        )
    return log.warning


def _registration(
    info: VideoInfo,
    video: dict[str, Any],
    video_id: str,
    drive_id: str,
    placement: Placement,
    check: SyncCheck | None,
) -> dict[str, Any]:
    """The ``videos`` row (damage found while sampling is added to it afterwards)."""
    return {
        "video_id": video_id,
        "drive_id": drive_id,
        "path": info.path,
        "size": video.get("size"),
        "container": info.container,
        "codec": info.codec,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "frame_count": info.frame_count,
        "duration_s": info.duration_s,
        "rotation": info.rotation,
        "vfr": info.vfr,
        "raw": info.raw,
        "start_s": placement.start_s,
        "start_utc": placement.start_utc,
        "time_source": placement.time_source,
        "offset_s": 0.0,
        "frame_times_s": None
        if placement.frame_times_s is None
        else placement.frame_times_s.tolist(),
        "sync_check": check.status if check else "not checked: disabled",
        "sync_corr": check.corr if check else None,
        "sync_lag_s": check.lag_s if check else None,
        "time_note": placement.note or None,
        "decode_warning": None,
        "probed_at": datetime.now(UTC),
    }


def process_results(lake: Lake, results: list) -> None:
    """Ingest's hook: run the stage on the drives just written (or found already present).

    The drive is committed already, so a video problem never fails it: it is reported with
    the drive's repairs, prefixed ``video:``.
    """
    for result in results:
        if result.drive_id is None or result.status not in ("ingested", "already present"):
            continue
        try:
            warnings = process_drive(lake, result.drive_id)
        except Exception as exc:  # the stage is re-runnable; the drive must not fail for it
            warnings = [f"{result.source}: video stage failed: {type(exc).__name__}: {exc}"]
        result.repairs.extend(f"video: {w}" for w in warnings)


def extract_frame(lake: Lake, frame_id: str, out: str | Path) -> Path:
    """Decode one sampled frame at full resolution from its video and write it to ``out``."""
    frame, rotation = decode_frame(lake, frame_id)
    return save_frame(frame, rotation, out)


def decode_frame(lake: Lake, frame_id: str) -> tuple[Frame, int]:
    """One sampled frame decoded at full resolution from its video, and the video's rotation."""
    from drivelake.errors import NotFoundError

    ds = lake.dataset("frames")
    quoted = frame_id.replace("'", "''")
    rows = (
        []
        if ds is None
        else ds.to_table(
            columns=["frame_id", "video_id", "frame_index", "pts"], filter=f"frame_id = '{quoted}'"
        ).to_pylist()
    )
    if not rows:
        raise NotFoundError(f"no frame {frame_id!r} in {lake.uri}")
    row = video_row(lake, rows[0]["video_id"])
    if row is None:
        raise NotFoundError(f"frame {frame_id}: its video {rows[0]['video_id']} is not registered")
    info, _ = info_and_placement(row)
    return frame_at(info, pts=rows[0]["pts"], index=rows[0]["frame_index"]), info.rotation
