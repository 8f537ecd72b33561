"""GPS that dashcams carry inside their video files.

Supported: NMEA sentences in a subtitle or data track (many Novatek-based cameras and some
action cameras write one ``$GPRMC``/``$GPGGA`` line per second as a text track). The sentences
are read by the project's NMEA reader, through the reader registry, so checksums, talkers and
dates behave exactly as for ``.nmea`` files. GoPro GPMF (``gpmd``) data tracks: GPS5/GPS9
samples are read by :mod:`drivelake.video.gpmf` into a ``gnss`` stream in UTC. Sidecar files
(``.nmea``, ``.gpx``, ``.gps``) need nothing here: ingest reads
them as telemetry sources and attaches the same-named video to them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from drivelake.errors import DrivelakeError
from drivelake.ingest.base import ReadOptions, Stream
from drivelake.video.gpmf import GpmfError, gps_from_packets
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
        gpmf_tracks = []
        for track in container.streams:
            if track.type not in ("subtitle", "data"):
                continue
            if (track.codec_tag or "").lower() == "gpmd":
                gpmf_tracks.append(track)
            else:
                tracks.append(track)
        gpmf_packets: dict[int, list[tuple[bytes, int | None]]] = {t.index: [] for t in gpmf_tracks}
        if tracks or gpmf_tracks:
            for packet in container.demux(tracks + gpmf_tracks):
                data = bytes(packet)
                if packet.stream.index in gpmf_packets:
                    if data:
                        gpmf_packets[packet.stream.index].append((data, _packet_ns(packet)))
                else:
                    sentences.extend(_NMEA_LINE.findall(data))
        for index, packets in gpmf_packets.items():
            _read_gpmf(path, index, packets, found)
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
    found.streams.extend(rec.streams)
    found.utc_known = found.utc_known or rec.utc_offset_ns is not None
    found.notes.extend(f"{path}: embedded NMEA: {r}" for r in rec.repairs)
    return found


def _packet_ns(packet) -> int | None:
    if packet.pts is None or packet.time_base is None:
        return None
    return int(packet.pts * packet.time_base * 1_000_000_000)


def _read_gpmf(
    path: str | Path, index: int, packets: list[tuple[bytes, int | None]], found: EmbeddedGps
) -> None:
    """Read one GoPro ``gpmd`` track's packets into ``found`` (malformed: a note, not a crash)."""
    try:
        channels, t_ns, notes = gps_from_packets(packets, where=f"track {index} ")
    except GpmfError as exc:
        found.notes.append(f"{path}: GoPro GPMF track not read: {exc}")
        return
    found.notes.extend(f"{path}: embedded GPMF: {n}" for n in notes)
    if len(t_ns):
        found.streams.append(Stream("gnss", t_ns, channels))
        found.utc_known = True
    else:
        found.notes.append(f"{path}: GoPro GPMF track has no GPS samples with a fix")
