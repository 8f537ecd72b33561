"""What every export shares: the snapshot it reads, atomic resumable files, the completion mark.

An export is built in ``<out>.partial/`` beside its target. Last come ``manifest.json`` and
``_COMPLETE`` (which holds the snapshot's content hash), then the folder is renamed to
``<out>``: a folder named ``<out>`` is always a complete export, and nothing else is.

That final rename is what makes an export atomic, so the bulk of its files (one per image) are
written straight to their names (:func:`put_files`: one ``open(O_CREAT | O_EXCL)`` and one
``write`` each, from a few threads) rather than under a temporary name and renamed. A file
being written when a run failed may be cut short; a rerun therefore does not trust what the
partial folder holds: every file already there is compared with the bytes it should hold
(names and contents are functions of the snapshot alone) and rewritten if it differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

#: Called with (items done, items in all) as an export proceeds.
Progress = Callable[[int, int], None]
Buffer = bytes | memoryview
COMPLETE = "_COMPLETE"


@dataclass(frozen=True)
class Snapshot:
    """A snapshot's members (sorted by member id, with images) and its manifest."""

    members: pa.Table
    manifest: dict[str, Any]

    @cached_property
    def frames(self) -> pa.Table:
        """The members that are frames with an image: what image formats hold."""
        mask = pa.compute.and_(
            pa.compute.equal(self.members.column("kind"), "frame"),
            pa.compute.is_valid(self.members.column("image")),
        )
        return self.members.filter(mask)

    def labels(self) -> list[str]:
        """Class names of classification exports: event types, sorted; ``none`` for no event."""
        return sorted({t or "none" for t in self.members.column("event_type").to_pylist()})

    def frame_rows(self) -> list[dict[str, Any]]:
        """The frames as dicts, without their image bytes (what label files are made from)."""
        return self.frames.drop_columns(["image"]).to_pylist()

    def box_labels(self) -> list[str]:
        return sorted(
            {b["label"] for boxes in self.members.column("boxes").to_pylist() for b in boxes or []}
        )


def image_name(row: dict[str, Any]) -> str:
    return f"{row['member_id']}.jpg"


def split_of(row: dict[str, Any]) -> str:
    return row["split"] or "all"


def write_file(path: Path, data: Buffer) -> bool:
    """Write one file of an export (its folder made if need be); see :func:`put`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return put(str(path), data)


#: Threads that write an export's files: file creation waits on the file system, not the CPU.
WRITE_THREADS = 4
_CHUNK = 64  # files per task of the pool
_FLAGS = os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def put(path: str, data: Buffer) -> bool:
    """Write ``data`` at ``path`` unless those very bytes are there; whether it wrote.

    A file already there (from an interrupted run) is read back and rewritten if it differs,
    so a file cut short by a failure is repaired on resume.
    """
    try:
        fd = os.open(path, _FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        with open(path, "rb") as existing:
            if existing.read() == data:
                return False
        fd = os.open(path, _FLAGS | os.O_TRUNC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return True


def put_files(
    root: Path,
    files: Sequence[tuple[str, Buffer]],
    progress: Progress | None = None,
    *,
    threads: int = WRITE_THREADS,
) -> None:
    """Write ``(relative path, bytes)`` pairs under ``root`` (see :func:`put`), in parallel.

    Folders are made once each up front; ``progress(done, total)`` is called as chunks finish.
    """
    for folder in sorted({os.path.dirname(name) for name, _ in files}):
        (root / folder).mkdir(parents=True, exist_ok=True)
    base = str(root) + os.sep
    total = len(files)

    def chunk(lo: int) -> int:
        for name, data in files[lo : lo + _CHUNK]:
            put(base + name, data)
        return min(lo + _CHUNK, total) - lo

    starts = range(0, total, _CHUNK)
    parallel = threads > 1 and total > _CHUNK
    with ThreadPoolExecutor(threads) if parallel else nullcontext() as pool:
        done = 0
        for n in pool.map(chunk, starts) if pool else map(chunk, starts):
            done += n
            if progress:
                progress(done, total)


def partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def is_complete(out: Path, content_sha256: str) -> bool:
    marker = out / COMPLETE
    return marker.exists() and marker.read_text().strip() == content_sha256


def publish(work: Path, out: Path, manifest: bytes, content_sha256: str) -> None:
    """Mark ``work`` complete and move it to ``out`` (an empty ``out`` is replaced)."""
    write_file(work / "manifest.json", manifest)
    write_file(work / COMPLETE, content_sha256.encode() + b"\n")
    if out.exists():
        out.rmdir()  # only an empty folder: anything else was refused before the export began
    os.replace(work, out)
