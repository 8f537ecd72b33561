"""Writing a snapshot's frame images into a folder layout, the part most formats share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivelake.curate.exporters.base import Progress, Snapshot, write_file

#: Where a frame's JPEG goes, relative to the export root.
Layout = Callable[[dict[str, Any]], str]


def write_images(snapshot: Snapshot, root: Path, layout: Layout, progress: Progress) -> list[dict]:
    """Write every frame's JPEG at ``layout(row)``; returns the rows (without image bytes)."""
    frames = snapshot.frames
    rows = []
    total = frames.num_rows
    for batch in frames.to_batches(max_chunksize=256):
        for row in batch.to_pylist():
            write_file(root / layout(row), row.pop("image"))
            rows.append(row)
            progress(len(rows), total)
    return rows
