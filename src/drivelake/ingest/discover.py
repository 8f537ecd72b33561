"""Find the sources under the paths a user gives: folders in a known layout, files, videos."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from drivelake.ingest.base import Reader
from drivelake.ingest.formats import VIDEO_SUFFIXES, best_reader, reader_named


@dataclass(frozen=True)
class Source:
    """One unit a reader reads: a file, or a folder in a known layout, plus its videos."""

    path: Path
    reader: Reader
    videos: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A path that yields no source: ``failed`` if the user named it, ``skipped`` if found."""

    path: str
    status: str
    message: str


@dataclass
class _Found:
    sources: list[Source] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def discover(paths: list[Path], format: str | None = None) -> tuple[list[Source], list[Problem]]:
    """Sources under ``paths`` (files and folders, recursively), videos attached to them.

    A video belongs to the telemetry source with the same base name, or to the only telemetry
    source in its folder, or to the folder-format source that contains it; a video that
    belongs to none is a source of its own (see :mod:`drivelake.video.reader`).
    """
    forced = reader_named(format) if format else None
    found = _Found()
    for p in paths:
        if not p.exists():
            found.problems.append(Problem(str(p), "failed", f"{p}: no such file or folder"))
        elif p.is_dir():
            _walk(p, forced, found, named=True)
        else:
            _add_file(p, forced, found, named=True)
    return _attach_videos(found), found.problems


def _walk(folder: Path, forced: Reader | None, found: _Found, *, named: bool) -> None:
    folder_reader = (forced if forced and forced.folder else None) or best_reader(
        folder, folder=True
    )
    if folder_reader is not None:
        found.sources.append(Source(folder, folder_reader))
        found.videos.extend(
            p for p in sorted(folder.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES
        )
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        found.problems.append(Problem(str(folder), "failed", f"{folder}: unreadable folder: {exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            _walk(entry, forced, found, named=False)
        else:
            _add_file(entry, forced, found, named=False)


def _add_file(path: Path, forced: Reader | None, found: _Found, *, named: bool) -> None:
    if path.suffix.lower() in VIDEO_SUFFIXES:
        found.videos.append(path)
        return
    if not os.access(path, os.R_OK):
        found.problems.append(Problem(str(path), "failed", f"{path}: file is not readable"))
        return
    reader = forced if forced and not forced.folder else best_reader(path, folder=False)
    if reader is None:
        status = "failed" if named else "skipped"
        found.problems.append(Problem(str(path), status, f"{path}: unknown format"))
        return
    found.sources.append(Source(path, reader))


def _attach_videos(found: _Found) -> list[Source]:
    from drivelake.video.reader import VIDEO_READER  # here: drivelake.video imports ingest.base

    sources = list(found.sources)
    alone = []
    for video in found.videos:
        owner = _owner_of(video, sources)
        if owner is None:  # a video without telemetry is a drive of its own
            alone.append(Source(video, VIDEO_READER))
            continue
        i = sources.index(owner)
        sources[i] = Source(owner.path, owner.reader, (*owner.videos, video))
    return sources + alone


def _owner_of(video: Path, sources: list[Source]) -> Source | None:
    for s in sources:
        if s.reader.folder and s.path in video.parents:
            return s
    same_stem = [s for s in sources if not s.reader.folder and s.path.stem == video.stem]
    if same_stem:
        return same_stem[0]
    same_folder = [s for s in sources if not s.reader.folder and s.path.parent == video.parent]
    return same_folder[0] if len(same_folder) == 1 else None
