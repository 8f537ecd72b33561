"""Parquet + JPEG folders: ``images/<split>/<member>.jpg`` and ``members.parquet`` beside them.

The Parquet file holds every member (frames, spans and drives) with its metadata, labels,
telemetry windows and boxes, and for frames the image's relative path.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from drivelake.curate.datasets import META_COLUMNS
from drivelake.curate.exporters.base import Progress, Snapshot, write_file
from drivelake.curate.exporters.images import write_images


def _path(member_id: str, split: str) -> str:
    return f"images/{split}/{member_id}.jpg"


def write(snapshot: Snapshot, root: Path, progress: Progress) -> None:
    paths = write_images(snapshot, root, _path, progress)
    members = snapshot.members.select(META_COLUMNS)
    frame_ids = snapshot.frames.column("member_id")
    at = pc.index_in(members.column("member_id"), value_set=frame_ids.combine_chunks())
    image_path = pc.take(pa.array(paths, pa.string()), at)  # null where not a frame
    buffer = io.BytesIO()
    pq.write_table(members.append_column("image_path", image_path), buffer, compression="zstd")
    write_file(root / "members.parquet", buffer.getvalue())
