"""Writing a snapshot's frame images into a folder layout, the part most formats share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa

from drivelake.curate.exporters.base import Buffer, Progress, Snapshot, put_files

#: Where a frame's JPEG goes, relative to the export root, from its member id and split.
Layout = Callable[[str, str], str]


def binary_views(column: pa.ChunkedArray | pa.Array) -> Iterator[memoryview]:
    """Each value of a binary column as a view of Arrow's buffer (no copy, no ``bytes``)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError("binary_views: the column holds nulls")
        kind = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
        _, offsets_buffer, data_buffer = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, kind)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
        bounds = offsets.tolist()
        for lo, hi in pairwise(bounds):
            yield data[lo:hi]


def write_images(snapshot: Snapshot, root: Path, layout: Layout, progress: Progress) -> list[str]:
    """Write every frame's JPEG at ``layout(member_id, split)``; the paths, in frame order."""
    frames = snapshot.frames
    ids = frames.column("member_id").to_pylist()
    splits = [s or "all" for s in frames.column("split").to_pylist()]
    paths = [layout(m, s) for m, s in zip(ids, splits, strict=True)]
    images: list[Buffer] = list(binary_views(frames.column("image")))
    put_files(root, list(zip(paths, images, strict=True)), progress)
    return paths
