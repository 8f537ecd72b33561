"""GPS that dashcams carry inside their video files.

Supported: NMEA sentences in a subtitle or data track (many Novatek-based cameras and some
action cameras write one ``$GPRMC``/``$GPGGA`` line per second as a text track). The sentences
are read by the project's NMEA reader, through the reader registry, so checksums, talkers and
dates behave exactly as for ``.nmea`` files. GoPro GPMF tracks are recognised and reported as
not read yet. Sidecar files (``.nmea``, ``.gpx``, ``.gps``) need nothing here: ingest reads
them as telemetry sources and attaches the same-named video to them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from drivelake.errors import DrivelakeError
from drivelake.ingest.base import ReadOptions, Stream
from drivelake.video.probe import open_input

_NMEA_LINE = re.compile(rb"\$[A-Z]{2}[A-Z]{3},[^\r\n$]*")


@dataclass
class EmbeddedGps:
    streams: list[Stream] = field(default_factory=list)
    utc_known: bool = False
    notes: list[str] = field(default_factory=list)


def embedded_gps(path: str | Path) -> EmbeddedGps:
    """GNSS streams read from the text/data tracks of a video, with notes on what was skipped."""
    found = EmbeddedGps()
    sentences: list[bytes] = []
    with open_input(path) as container:
        tracks = []
        for track in container.streams:
            if track.type not in ("subtitle", "data"):
                continue
            if (track.codec_tag or "").lower() == "gpmd":
                found.notes.append(f"{path}: GoPro GPMF telemetry track not read (unsupported)")
            else:
                tracks.append(track)
        if tracks:
            for packet in container.demux(tracks):
                sentences.extend(_NMEA_LINE.findall(bytes(packet)))
    if not sentences:
        return found
    try:
        from drivelake.ingest.formats import reader_named

        reader = reader_named("nmea")
    except DrivelakeError:
        found.notes.append(f"{path}: NMEA track found but no NMEA reader is installed")
        return found
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / (Path(path).stem + ".nmea")
        log.write_bytes(b"\r\n".join(sentences) + b"\r\n")
        rec = reader.read(log, ReadOptions())
    found.streams = rec.streams
    found.utc_known = rec.utc_offset_ns is not None
    found.notes.extend(f"{path}: embedded NMEA: {r}" for r in rec.repairs)
    return found
