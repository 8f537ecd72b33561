"""WebDataset tar shards: ``shards/<split>-000000.tar`` …, ``shard_size`` samples each.

A sample is ``<key>.jpg`` (the frame), ``<key>.cls`` (label index into ``classes.json``) and
``<key>.json`` (ids, times, telemetry windows, boxes). Tar headers carry fixed owners and
times, so a shard's bytes depend on the snapshot alone; a shard already written is kept on
resume.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from drivelake.curate.exporters.base import Progress, Snapshot, split_of, write_file

SHARD_SIZE = 1000
_META = ("member_id", "drive_id", "vehicle_id", "event_type", "t_s", "lat", "lon", "speed_mps")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write(snapshot: Snapshot, root: Path, progress: Progress, shard_size: int = SHARD_SIZE) -> None:
    labels = snapshot.labels()
    write_file(root / "classes.json", json.dumps(labels).encode())
    frames = snapshot.frames.to_pylist()
    by_split: dict[str, list[dict]] = {}
    for row in frames:
        by_split.setdefault(split_of(row), []).append(row)
    done = 0
    for split, rows in sorted(by_split.items()):
        for shard, lo in enumerate(range(0, len(rows), shard_size)):
            chunk = rows[lo : lo + shard_size]
            path = root / "shards" / f"{split}-{shard:06d}.tar"
            if not path.exists():
                buffer = io.BytesIO()
                with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                    for row in chunk:
                        key = row["member_id"]
                        meta = {k: row[k] for k in (*_META, "speed_window", "g_window", "boxes")}
                        _add(tar, f"{key}.jpg", row["image"])
                        _add(
                            tar,
                            f"{key}.cls",
                            str(labels.index(row["event_type"] or "none")).encode(),
                        )
                        _add(tar, f"{key}.json", json.dumps(meta, sort_keys=True).encode())
                write_file(path, buffer.getvalue())
            done += len(chunk)
            progress(done, len(frames))
