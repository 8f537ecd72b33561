"""Parquet + JPEG folders: ``images/<split>/<member>.jpg`` and ``members.parquet`` beside them.

The Parquet file holds every member (frames, spans and drives) with its metadata, labels,
telemetry windows and boxes, and for frames the image's relative path.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from drivelake.curate.datasets import META_COLUMNS
from drivelake.curate.exporters.base import Progress, Snapshot, image_name, split_of, write_file
from drivelake.curate.exporters.images import write_images


def _path(row: dict) -> str:
    return f"images/{split_of(row)}/{image_name(row)}"


def write(snapshot: Snapshot, root: Path, progress: Progress) -> None:
    written = {r["member_id"]: _path(r) for r in write_images(snapshot, root, _path, progress)}
    members = snapshot.members.select(META_COLUMNS)
    paths = pa.array([written.get(m) for m in members.column("member_id").to_pylist()])
    buffer = io.BytesIO()
    pq.write_table(members.append_column("image_path", paths), buffer, compression="zstd")
    write_file(root / "members.parquet", buffer.getvalue())
