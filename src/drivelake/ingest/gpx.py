"""GPX 1.0 / 1.1 files: what phone apps, sports watches and trackers export.

A GPX file holds tracks (``trk``/``trkseg``/``trkpt``: what was recorded), routes
(``rte``/``rtept``: what was planned) and waypoints (``wpt``). A drive is a recording, so the
tracks are read when they have timed points — every track and segment into one ``gnss``
stream in time order (splitting at gaps is the pipeline's job) — and routes, then waypoints,
only when there is no timed track and they carry times themselves. A file with no timed point
at all is not a drive and is rejected with "no timed points".

Per point: ``lat``/``lon``, ``ele``, ``time``, ``hdop``, ``sat``, and speed (m/s) and course
(degrees) from GPX 1.0's ``<speed>``/``<course>`` or, in GPX 1.1, from the ``speed`` and
``course``/``bearing`` elements of the common extensions (Garmin TrackPointExtension v2,
Cluetrust gpxdata, OsmAnd) found anywhere under the point's ``<extensions>``. Times are
UTC (a time without a zone is UTC, as the GPX schema says). Times before the GPS epoch
(1980-01-06) are placeholders written by devices that had no time — e.g. 1901-12-13T20:45:52Z,
the smallest 32-bit ``time_t`` — and count as missing.

Parsing uses the standard library's expat with a streaming handler (line numbers for error
messages, constant memory). A ``DOCTYPE`` is rejected outright: GPX never needs one, and it is
how entity-expansion ("billion laughs") and external-entity attacks get in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drivelake.errors import InputError
from drivelake.ingest.base import Reader, ReadOptions, Recording, SourceFile, Stream
from drivelake.schema import FRAME_NONE

#: Point elements, in the order they are preferred as the recording.
POINT_KINDS = {"trkpt": "track point", "rtept": "route point", "wpt": "waypoint"}
#: Times before this (1980-01-06, the GPS epoch) are placeholders, not measurements.
EARLIEST_NS = 315_964_800 * 10**9
_NO_TIME = np.iinfo(np.int64).min
#: Point children read directly (GPX 1.0 has speed and course here), by channel.
_DIRECT = {
    "ele": "alt_m",
    "speed": "speed_mps",
    "course": "course_deg",
    "hdop": "hdop",
    "sat": "sats",
}
#: Elements anywhere under a point's <extensions> that extensions use for speed and course.
_EXTENSION = {"speed": "speed_mps", "course": "course_deg", "bearing": "course_deg"}
_CHANNELS = ("lat", "lon", "alt_m", "speed_mps", "course_deg", "hdop", "sats")
_ZONE = r"(Z|[+-]\d\d:?\d\d)$"


class _Rejected(Exception):
    """Raised inside expat callbacks to stop parsing; turned into an InputError."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.line = line


@dataclass
class _Points:
    """The points of one kind, as columns; times as the strings found."""

    lines: list[int] = field(default_factory=list)
    times: list[str | None] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in _CHANNELS})


class _Handler:
    """expat callbacks collecting points; names arrive as ``namespace localname``."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.points = {kind: _Points() for kind in POINT_KINDS}
        self.root: str | None = None
        self.attributes: dict[str, str] = {}
        self.depth = 0
        self.point_depth = 0  # depth of the open point element, 0 outside points
        self.in_extensions = 0  # depth of the open <extensions> inside a point, 0 if none
        self.current: dict[str, str] = {}
        self.text: list[str] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        self.depth += 1
        if self.root is None:
            self.root = local
            if local != "gpx":
                raise _Rejected(f"not a GPX file (the root element is <{local}>)")
            self.attributes = {k.rpartition(" ")[2]: v for k, v in attrs.items()}
        elif local in POINT_KINDS and not self.point_depth:
            self.point_depth = self.depth
            self.current = {"kind": local, "lat": attrs.get("lat", ""), "lon": attrs.get("lon", "")}
            self.current["line"] = str(self.parser.CurrentLineNumber)
        elif local == "extensions" and self.point_depth and not self.in_extensions:
            self.in_extensions = self.depth
        self.text = []

    def end(self, name: str) -> None:
        local = name.rpartition(" ")[2]
        if self.point_depth:
            if self.depth == self.point_depth:
                self._finish_point()
            elif self.depth == self.point_depth + 1 and (local in _DIRECT or local == "time"):
                self.current.setdefault(local, "".join(self.text).strip())
            elif self.in_extensions and local in _EXTENSION:
                self.current.setdefault(f"ext:{_EXTENSION[local]}", "".join(self.text).strip())
            if self.depth == self.in_extensions:
                self.in_extensions = 0
        self.depth -= 1

    def chars(self, data: str) -> None:
        if self.point_depth:
            self.text.append(data)

    def doctype(self, *args: object) -> None:
        raise _Rejected("DOCTYPE declarations are not allowed in GPX (entity expansion risk)")

    def _finish_point(self) -> None:
        p, kind, line = self.current, self.current["kind"], self.current["line"]
        points = self.points[kind]
        try:
            lat, lon = float(p["lat"]), float(p["lon"])
        except ValueError:
            raise _Rejected(f"<{kind}> without a numeric lat/lon", int(line)) from None
        points.lines.append(int(line))
        points.times.append(p.get("time") or None)
        points.values["lat"].append(lat)
        points.values["lon"].append(lon)
        for element, channel in _DIRECT.items():
            text = p.get(element) or p.get(f"ext:{channel}") or ""
            try:
                points.values[channel].append(float(text) if text else math.nan)
            except ValueError:
                raise _Rejected(
                    f"<{kind}> has a non-numeric {channel} {text!r}", int(line)
                ) from None
        self.point_depth = 0
        self.current = {}


def _parse(path: Path) -> _Handler:
    parser = expat.ParserCreate(namespace_separator=" ")
    handler = _Handler(parser)
    parser.buffer_text = True
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    parser.StartDoctypeDeclHandler = handler.doctype
    parser.EntityDeclHandler = handler.doctype
    try:
        with path.open("rb") as fh:
            parser.ParseFile(fh)
    except expat.ExpatError as exc:
        problem = f"malformed XML: {expat.ErrorString(exc.code)}"
        raise InputError(path, problem, where=f"line {exc.lineno}") from None
    except _Rejected as exc:
        line = exc.line or parser.CurrentLineNumber
        raise InputError(path, str(exc), where=f"line {line}") from None
    if handler.root is None:
        raise InputError(path, "empty XML document")
    return handler


def _times_ns(points: _Points, path: Path) -> np.ndarray:
    """UTC ns per point (``_NO_TIME`` where missing); zone-less times are UTC, as GPX says."""
    text = pc.utf8_trim_whitespace(pa.array(points.times, pa.string()))
    zoned = pc.if_else(
        pc.match_substring_regex(text, _ZONE), text, pc.binary_join_element_wise(text, "Z", "")
    )
    try:
        t = pc.cast(zoned, pa.timestamp("ns", tz="UTC"))
    except pa.ArrowInvalid:
        for line, value in zip(points.lines, zoned.to_pylist(), strict=True):
            try:
                pc.cast(pa.array([value]), pa.timestamp("ns", tz="UTC"))
            except pa.ArrowInvalid:
                raise InputError(path, f"unreadable time {value!r}", f"line {line}") from None
        raise
    return pc.fill_null(t.cast(pa.int64()), _NO_TIME).to_numpy()


def _count(n: int, kind: str) -> str:
    return f"{n} {POINT_KINDS[kind]}{'' if n == 1 else 's'}"


def _timed_points(parsed: _Handler, path: Path) -> tuple[str, _Points, np.ndarray]:
    """The first kind of point (tracks, routes, waypoints) with timed points, and its times."""
    for kind, points in parsed.points.items():
        if points.lines:
            t_ns = _times_ns(points, path)
            if np.any(t_ns >= EARLIEST_NS):
                return kind, points, t_ns
    found = ", ".join(_count(len(p.lines), k) for k, p in parsed.points.items() if p.lines)
    raise InputError(path, f"no timed points ({found or 'no points'}, none with a usable <time>)")


def read_gpx(path: Path, options: ReadOptions) -> Recording:
    """Read the timed tracks (or routes, or waypoints) of a GPX file as one ``gnss`` stream."""
    parsed = _parse(path)
    kind, points, t_ns = _timed_points(parsed, path)
    timed = t_ns >= EARLIEST_NS
    repairs = []
    untimed = ~timed
    if untimed.any():
        first = points.lines[int(np.argmax(untimed))]
        placeholders = int(np.sum(untimed & (t_ns != _NO_TIME)))
        note = f" ({placeholders} with a placeholder time before 1980)" if placeholders else ""
        repairs.append(
            f"{_count(int(untimed.sum()), kind)} without a usable time skipped"
            f"{note} (first at line {first})"
        )
    order = np.argsort(t_ns[timed], kind="stable")
    channels = {c: np.asarray(v, dtype=np.float64)[timed] for c, v in points.values.items()}
    # a quantity the file never gives is absent, not a column of NaN
    channels = {c: v for c, v in channels.items() if not np.isnan(v).all()}
    stream = Stream("gnss", t_ns[timed], channels).take(order)
    metadata = {
        "gpx_version": parsed.attributes.get("version", ""),
        "creator": parsed.attributes.get("creator", ""),
        "points": ",".join(f"{k}={len(p.lines)}" for k, p in parsed.points.items()),
        "read": kind,
    }
    return Recording(
        source_format="gpx",
        sources=[SourceFile.of(path)],
        streams=[stream],
        source_frame=FRAME_NONE,
        utc_offset_ns=0,
        vehicle_id=options.vehicle_id,
        metadata=metadata,
        repairs=repairs,
    )


def sniff_gpx(path: Path) -> float:
    """Confident when a ``<gpx`` element opens in the first few KB."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if re.search(rb"<(\w+:)?gpx[\s>]", head):
        return 0.95
    return 0.6 if path.suffix.lower() == ".gpx" and head.lstrip().startswith(b"<") else 0.0


GPX_READER = Reader("gpx", sniff_gpx, read_gpx)
