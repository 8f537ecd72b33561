"""Video commands: frames, frame, clip, clips, and ``video list|process|sync``."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import typer

from drivelake.cli.core import FORMAT, get_lake
from drivelake.cli.output import Format, print_rows, stderr

video_app = typer.Typer(help="Videos of drives: list, (re)process, fix time sync.")

FRAME_COLUMNS = [
    "frame_id",
    "drive_id",
    "video_id",
    "frame_index",
    "pts",
    "video_s",
    "t_s",
    "t_utc",
    "keyframe",
    "reason",
    "width",
    "height",
    "speed_mps",
    "lat",
    "lon",
    "ax",
    "ay",
    "az",
]


def frames(
    ctx: typer.Context,
    drive: str = typer.Option(None, "--drive", help="Only this drive's frames (id or prefix)"),
    video: str = typer.Option(None, "--video", help="Only this video's frames"),
    thumbnails: Path = typer.Option(
        None, "--thumbnails", help="Write each thumbnail here as FRAME_ID.jpg"
    ),
    fmt: Format = FORMAT,
) -> None:
    """Sampled frames with their drive time, nearest telemetry and thumbnail size."""
    lake = get_lake(ctx)
    ds = lake.dataset("frames")
    if ds is None:
        print_rows(pa.table({c: [] for c in FRAME_COLUMNS}), fmt, title="frames")
        return
    where = []
    if drive:
        where.append(f"drive_id = '{lake.resolve_drive_id(drive)}'")
    if video:
        from drivelake.video.stage import resolve_video_id

        where.append(f"video_id = '{resolve_video_id(lake, video)}'")
    table = ds.to_table(filter=" AND ".join(where) or None)
    table = table.sort_by([("drive_id", "ascending"), ("t_s", "ascending")])
    out = table.select(FRAME_COLUMNS).append_column(
        "thumbnail_bytes", pc.binary_length(table.column("thumbnail"))
    )
    if thumbnails is not None:
        thumbnails.mkdir(parents=True, exist_ok=True)
        paths = []
        for fid, jpeg in zip(
            table.column("frame_id").to_pylist(), table.column("thumbnail").to_pylist(), strict=True
        ):
            path = thumbnails / f"{fid}.jpg"
            path.write_bytes(jpeg)
            paths.append(str(path))
        out = out.append_column("thumbnail_path", pa.array(paths, pa.string()))
    print_rows(out, fmt, title="frames")


def frame(
    ctx: typer.Context,
    frame_id: str = typer.Argument(..., help="A frame id from `drivelake frames`"),
    out: Path = typer.Option(..., "--out", "-o", help="Image file to write (.jpg, .png)"),
) -> None:
    """Write one frame at full resolution, decoded on demand from its video."""
    from drivelake.video.stage import extract_frame

    path = extract_frame(get_lake(ctx), frame_id, out)
    stderr.print(f"wrote {path}")


def clip(
    ctx: typer.Context,
    event_id: str = typer.Argument(..., help="An event id (or unique prefix)"),
    out: Path = typer.Option(..., "--out", "-o", help="MP4 file to write"),
    pad: float = typer.Option(5.0, "--pad", help="Seconds of video before and after the event"),
    overlay: bool = typer.Option(False, "--overlay", help="Burn in speed and g-force"),
) -> None:
    """Cut the video around one event; prints its manifest entry as JSON."""
    from drivelake.video.clips import event_clip

    entry = event_clip(get_lake(ctx), event_id, out, pad_s=pad, overlay=overlay)
    typer.echo(json.dumps(entry, default=str))


def clips(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the clips and manifest.json"),
    event_type: str = typer.Option(None, "--type", help="Only events of this type"),
    pad: float = typer.Option(5.0, "--pad", help="Seconds of video before and after each event"),
    overlay: bool = typer.Option(False, "--overlay", help="Burn in speed and g-force"),
    fmt: Format = FORMAT,
) -> None:
    """Clip every event (of a type) into a folder, with a manifest.json listing them."""
    from drivelake.video.clips import event_clips

    manifest = event_clips(get_lake(ctx), out, event_type=event_type, pad_s=pad, overlay=overlay)
    skipped = [m for m in manifest if m.get("skipped")]
    for m in skipped:
        stderr.print(f"[yellow]skipped[/yellow] {m['skipped']}", soft_wrap=True)
    stderr.print(f"{len(manifest) - len(skipped)} clips written to {out}/ (manifest.json)")
    columns = ["event_id", "type", "drive_id", "path", "method", "clip_start_s", "duration_s"]
    rows = [{c: m.get(c) for c in columns} for m in manifest]
    print_rows(pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in columns}), fmt)


@video_app.command("list")
def list_videos(
    ctx: typer.Context,
    drive: str = typer.Option(None, "--drive", help="Only this drive's videos"),
    fmt: Format = FORMAT,
) -> None:
    """Videos in the lake: codec, size, rate, duration, time source and sync check."""
    lake = get_lake(ctx)
    ds = lake.dataset("videos")
    if ds is None:
        print_rows(pa.table({"video_id": []}), fmt, title="videos")
        return
    where = f"drive_id = '{lake.resolve_drive_id(drive)}'" if drive else None
    table = ds.to_table(filter=where).drop_columns(["frame_times_s"])
    print_rows(table, fmt, title="videos")


@video_app.command("process")
def process(
    ctx: typer.Context,
    drive: str = typer.Option(None, "--drive", help="Only this drive (default: every drive)"),
    fps: float = typer.Option(1.0, "--fps", help="Frames per second to sample (0: none)"),
    keyframes: bool = typer.Option(False, "--keyframes", help="Also sample every keyframe"),
    event_fps: float = typer.Option(5.0, "--event-fps", help="Frames per second around events"),
    event_pad: float = typer.Option(2.0, "--event-pad", help="Seconds around each event"),
    no_sync_check: bool = typer.Option(False, "--no-sync-check", help="Skip the motion check"),
) -> None:
    """Probe and sample the videos of drives (incremental: only what is missing)."""
    from drivelake.video.sampling import SamplingPolicy
    from drivelake.video.stage import process_drive

    lake = get_lake(ctx)
    policy = SamplingPolicy(
        fps=fps or None, keyframes=keyframes, event_fps=event_fps, event_pad_s=event_pad
    )
    ids = (
        [lake.resolve_drive_id(drive)]
        if drive
        else lake.drives(columns=["drive_id"]).column("drive_id").to_pylist()
    )
    for drive_id in ids:
        for warning in process_drive(lake, drive_id, policy, check_sync=not no_sync_check):
            stderr.print(f"[yellow]warning[/yellow] {warning}", soft_wrap=True)
    stderr.print(f"processed the videos of {len(ids)} drive(s)")


@video_app.command("sync")
def sync(
    ctx: typer.Context,
    video_id: str = typer.Argument(..., help="A video id (or unique prefix)"),
    offset: float = typer.Option(..., "--offset", help="Seconds to add to the video's start"),
) -> None:
    """Set a video's manual time offset; its frames are re-timed and re-sampled."""
    from drivelake.video.stage import set_offset

    n = set_offset(get_lake(ctx), video_id, offset)
    stderr.print(f"offset set to {offset:+.3f} s; {n} frames re-sampled")


def register(app: typer.Typer) -> None:
    for command in (frames, frame, clip, clips):
        app.command()(command)
    app.add_typer(video_app, name="video")
