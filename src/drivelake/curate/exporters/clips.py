"""MP4 clips with a JSON manifest: one clip per event among the members, with its telemetry.

Members that belong to an event (frames near it, or its span) give one clip of that event,
``pad_s`` seconds on each side, cut by :func:`drivelake.video.clips.event_clip`. The manifest
(``clips.json``) lists each clip's event, drive, times and members, and its telemetry sampled
at 10 Hz over the clip (seconds on the drive's timeline, speed in m/s, horizontal g).

``clips.json`` and the MP4s are byte-identical from export to export, re-encoded clips included
(:mod:`drivelake.video.clips` encodes them single-threaded without x264's macroblock tree, see
"Clips are byte-identical" in docs/datasets.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drivelake.curate.exporters.base import Progress, Snapshot
from drivelake.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from drivelake.lake import Lake

TELEMETRY_HZ = 10.0


def _telemetry(lake: Lake, drive_id: str, start_s: float, end_s: float) -> dict[str, list]:
    from drivelake.video.telemetry import DriveTelemetry

    telemetry = DriveTelemetry.load(lake, drive_id)
    t = np.round(np.arange(start_s, end_s, 1 / TELEMETRY_HZ), 3)
    speed, g = telemetry.speed_at(t), telemetry.g_force_at(t)

    def values(a: np.ndarray) -> list[float | None]:
        return [round(float(v), 4) if np.isfinite(v) else None for v in a]

    return {"t_s": t.tolist(), "speed_mps": values(speed), "g": values(g)}


def write(snapshot: Snapshot, root: Path, progress: Progress, *, lake: Lake, pad_s: float) -> None:
    from drivelake.video.clips import event_clip

    events: dict[str, list[str]] = {}
    for row in snapshot.members.select(["member_id", "event_id"]).to_pylist():
        if row["event_id"]:
            events.setdefault(row["event_id"], []).append(row["member_id"])
    entries: list[dict[str, Any]] = []
    for done, (event_id, members) in enumerate(sorted(events.items()), 1):
        path = root / "clips" / f"{event_id}.mp4"
        tmp = path.with_name(f".{path.name}.tmp.mp4")
        try:
            entry = event_clip(lake, event_id, tmp, pad_s=pad_s)
        except (NotFoundError, InputError) as exc:
            entries.append({"event_id": event_id, "members": members, "skipped": str(exc)})
            continue
        if path.exists():
            tmp.unlink()
        else:
            tmp.replace(path)
        entry["path"] = f"clips/{path.name}"
        entry["members"] = members
        entry["telemetry"] = _telemetry(
            lake, entry["drive_id"], entry["clip_start_s"], entry["clip_end_s"]
        )
        entries.append(entry)
        progress(done, len(events))
    text = json.dumps(entries, sort_keys=True, indent=1, default=str)
    (root / "clips.json").write_text(text)
