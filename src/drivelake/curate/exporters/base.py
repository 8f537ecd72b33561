"""What every export shares: the snapshot it reads, atomic resumable files, the completion mark.

An export is built in ``<out>.partial/`` beside its target. Each file is written under a
temporary name and renamed into place, so the partial folder only ever holds whole files; a
rerun after a failure skips the files already there (names and contents are functions of the
snapshot alone) and writes the rest. Last come ``manifest.json`` and ``_COMPLETE`` (which
holds the snapshot's content hash), then the folder is renamed to ``<out>``: a folder named
``<out>`` is always a complete export.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

#: Called with (items done, items in all) as an export proceeds.
Progress = Callable[[int, int], None]
COMPLETE = "_COMPLETE"


@dataclass(frozen=True)
class Snapshot:
    """A snapshot's members (sorted by member id, with images) and its manifest."""

    members: pa.Table
    manifest: dict[str, Any]

    @property
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

    def box_labels(self) -> list[str]:
        return sorted(
            {b["label"] for boxes in self.members.column("boxes").to_pylist() for b in boxes or []}
        )


def image_name(row: dict[str, Any]) -> str:
    return f"{row['member_id']}.jpg"


def split_of(row: dict[str, Any]) -> str:
    return row["split"] or "all"


def write_file(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` is already there; whether it was written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


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
