"""The registry of source formats, in the order they are tried when sniff scores tie."""

from __future__ import annotations

from drivelake.errors import UnknownFormatError
from drivelake.ingest.base import Reader
from drivelake.ingest.comma import COMMA_READER
from drivelake.ingest.gpx import GPX_READER
from drivelake.ingest.nmea import NMEA_READER
from drivelake.ingest.phone import PHONE_READER
from drivelake.ingest.tabular import CSV_READER, PARQUET_READER

READERS: list[Reader] = [
    CSV_READER,
    PARQUET_READER,
    COMMA_READER,
    PHONE_READER,
    NMEA_READER,
    GPX_READER,
]

#: File extensions of video that is attached to drives rather than read as telemetry.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".hevc", ".h265", ".h264", ".264"})


def reader_named(name: str) -> Reader:
    for r in READERS:
        if r.name == name:
            return r
    valid = ", ".join(r.name for r in READERS)
    raise UnknownFormatError(name, f"unknown format; choose one of: {valid}")


def best_reader(path, *, folder: bool) -> Reader | None:
    """The reader most confident that ``path`` is its format, or None."""
    best, score = None, 0.0
    for r in READERS:
        if r.folder != folder:
            continue
        try:
            s = r.sniff(path)
        except OSError:
            s = 0.0
        if s > score:
            best, score = r, s
    return best if score >= 0.5 else None
