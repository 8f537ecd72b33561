"""Exports of a snapshot in the formats ML teams load, byte-identical for the same snapshot.

``export(lake, "name@tag", "coco", "out/")``; formats: hf, coco, yolo, webdataset, parquet,
clips. Building, resuming and publishing are in :mod:`.base`; one module per format.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from drivelake.curate import snapshot as _snapshot
from drivelake.curate.datasets import datasets, parse_ref
from drivelake.curate.exporters.base import (
    Progress,
    Snapshot,
    is_complete,
    partial_dir,
    publish,
)
from drivelake.errors import InputError

if TYPE_CHECKING:
    from drivelake.lake import Lake

FORMATS = ("hf", "coco", "yolo", "webdataset", "parquet", "clips")


def _recipe_pad(manifest: dict) -> float:
    return max((float(s.get("pad_s") or 0.0) for s in manifest["recipe"]), default=0.0)


def export(
    lake: Lake,
    ref: str,
    format: str,
    out: str | Path,
    *,
    progress: Progress | None = None,
    pad_s: float | None = None,
) -> Path:
    """Export snapshot ``ref`` (``name@tag``) to the folder ``out``; returns it.

    A complete export of the same snapshot already at ``out`` is left as it is; a rerun after a
    failure resumes from what ``<out>.partial`` holds. Clips are padded by ``pad_s`` (default:
    the largest pad of the recipe).
    """
    if format not in FORMATS:
        raise InputError("--format", f"{format!r} is not one of {', '.join(FORMATS)}")
    name, tag = parse_ref(ref)
    if tag is None:
        raise InputError("export", f"{ref!r}: export a snapshot, name@tag")
    dataset = datasets(lake)[name]
    manifest = _snapshot.manifest(dataset, tag)
    out = Path(out)
    if is_complete(out, manifest["content_sha256"]):
        return out
    if out.exists() and any(out.iterdir()):
        raise InputError(out, "exists and is not an export of this snapshot; choose another -o")
    snap = Snapshot(dataset.members(manifest["version"], images=True), manifest)
    work = partial_dir(out)
    work.mkdir(parents=True, exist_ok=True)
    writer = importlib.import_module(f"drivelake.curate.exporters.{format}")
    report = progress or (lambda done, total: None)
    if format == "clips":
        pad = _recipe_pad(manifest) if pad_s is None else pad_s
        writer.write(snap, work, report, lake=lake, pad_s=pad)
    else:
        writer.write(snap, work, report)
    publish(work, out, _snapshot.manifest_bytes(manifest), manifest["content_sha256"])
    return out


__all__ = ["FORMATS", "export"]
