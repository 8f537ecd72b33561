"""NMEA 0183 logs from GNSS receivers: the raw serial output most dashcams and trackers keep.

A receiver reports each fix (an *epoch*) as several sentences — RMC (position, speed, course,
date), GGA (position, fix quality, satellites, HDOP, altitude), VTG (speed, course), GSA
(satellites used, HDOP), GLL (position), ZDA (date) — from one or more talkers (``GP`` GPS,
``GL`` GLONASS, ``GA`` Galileo, ``GB``/``BD`` BeiDou, ``GQ`` QZSS, ``GI`` NavIC, ``GN``
combined). Sentences with the same time of day are merged into one ``gnss`` sample; sentences
without a time (VTG, GSA) belong to the epoch of the timed sentence before them.

Real logs are messy, so the reader is lenient where that is safe and strict where it is not:

- Anything that is not a talker sentence — comments, ``$P…`` proprietary sentences, u-blox
  binary, other protocols — is ignored, even mid-line.
- Sentences with a wrong checksum, without a checksum (a truncated line) or with unreadable
  fields are skipped and counted in :attr:`Recording.repairs`; they never stop the read.
- Only real fixes become samples: RMC/GLL status ``V``, GGA quality 0, and the mode indicator
  ``N`` (no fix) give no position. Simulated (GGA quality 8, mode ``S``: a receiver's demo
  mode) and manually entered (quality 7, mode ``M``) positions are not measurements and are
  skipped and counted.

Times are UTC. Sentences carry only the time of day; the date comes from RMC (or ZDA) and is
carried to the epochs around it, and a time of day going back by more than an hour is a
midnight rollover that advances the date (as gpsd does). A log without any date (GGA-only
logs) cannot be placed in absolute time: like gpsd without a clock to borrow the date from, we
keep the times of day — counted from midnight of an unknown first day, rollovers included —
and leave ``utc_offset_ns`` unset, so the drive has no UTC start rather than a made-up one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from drivelake.errors import InputError
from drivelake.ingest.base import Reader, ReadOptions, Recording, SourceFile, Stream
from drivelake.schema import FRAME_NONE

TALKERS = frozenset({"GP", "GN", "GL", "GA", "GB", "BD", "GQ", "GI"})
KNOT_MPS = 1852.0 / 3600.0
DAY_NS = 86_400 * 10**9
#: A time of day going back by more than this is the next day, not a reordered sentence.
ROLLOVER_BACK_NS = 3_600 * 10**9
_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: Sentences are padded with empty fields to this many, so optional trailing fields read as "".
_FIELDS = 20

#: ``$ADDRESS,body*hh``: the body is printable ASCII without ``$`` and ``*``, so a sentence cut
#: short by a line end, binary bytes or the next ``$`` has no checksum group.
_SENTENCE = re.compile(
    rb"\$([A-Z][A-Z0-9]{1,8}),([\x20-\x23\x25-\x29\x2b-\x7e]*)(\*[0-9A-Fa-f]{2})?"
)
_SNIFF = re.compile(
    rb"\$(?:GP|GN|GL|GA|GB|BD|GQ|GI)(?:RMC|GGA|GLL|VTG|GSA|GSV|ZDA),[^\r\n]*\*[0-9A-Fa-f]{2}"
)

#: GGA fix quality: 0 no fix; 1-6 measured (GPS, DGPS, PPS, RTK, float RTK, dead reckoning);
#: 7 manual input and 8 simulation are not measurements.
_GGA_NOT_MEASURED = frozenset({"7", "8"})
#: RMC/GLL mode indicator (NMEA 2.3+): N no fix; M manual and S simulator are not measurements.
_MODE_NOT_MEASURED = frozenset({"M", "S"})


@dataclass(slots=True)
class _Epoch:
    """What the sentences of one fix said; NaN where nothing said it."""

    tod_ns: int
    day: int = -1  # proleptic ordinal of the UTC date, -1 while unknown
    lat: float = math.nan
    lon: float = math.nan
    position_rank: int = 9  # lower is better: GGA (usually more digits), then RMC, then GLL
    simulated_line: int = 0
    alt_m: float = math.nan
    speed_mps: float = math.nan
    course_deg: float = math.nan
    hdop: float = math.nan
    gsa_hdop: float = math.nan
    sats: float = math.nan
    gsa_used: set[tuple[str, str]] = field(default_factory=set)  # (system, satellite)

    def set_position(self, lat: float, lon: float, rank: int) -> None:
        if rank < self.position_rank:
            self.lat, self.lon, self.position_rank = lat, lon, rank


@dataclass
class _Skipped:
    """Counted input problems, each with the line it first happened on."""

    count: int = 0
    first_line: int = 0

    def add(self, line: int) -> None:
        self.count += 1
        self.first_line = self.first_line or line


class _Parse:
    """State while walking the sentences of one log in order."""

    def __init__(self) -> None:
        self.epochs: list[_Epoch] = []
        self.current: _Epoch | None = None
        self.malformed = _Skipped()
        self.kinds: dict[str, int] = {}

    def epoch_at(self, tod_ns: int | None) -> _Epoch | None:
        """The epoch a sentence belongs to: the recent one with its time, else a new one."""
        if tod_ns is None:
            return self.current
        for epoch in reversed(self.epochs[-4:]):
            if epoch.tod_ns == tod_ns:
                self.current = epoch
                return epoch
        self.current = _Epoch(tod_ns)
        self.epochs.append(self.current)
        return self.current

    def sentence(self, kind: str, f: list[str], line: int) -> None:
        handler = _HANDLERS.get(kind)
        if handler is None:
            return
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        f.extend([""] * (_FIELDS - len(f)))
        try:
            handler(self, f, line)
        except ValueError:
            self.malformed.add(line)


def _number(s: str) -> float:
    return float(s) if s else math.nan


def _time_of_day(s: str) -> int | None:
    """``hhmmss[.sss]`` → ns since midnight; None when empty."""
    if not s:
        return None
    if len(s) < 6 or not s[:6].isdigit():
        raise ValueError(f"bad time {s!r}")
    h, m = int(s[:2]), int(s[2:4])
    sec = float(s[4:])
    if h > 23 or m > 59 or not 0 <= sec < 61:
        raise ValueError(f"bad time {s!r}")
    return (h * 3600 + m * 60) * 10**9 + round(sec * 1e9)


def _date_ordinal(day: int, month: int, year: int) -> int:
    """The date's ordinal, or -1 for the placeholders receivers send before they know it."""
    try:
        return date(year, month, day).toordinal()
    except ValueError:
        return -1


def _ddmmyy(s: str) -> int:
    if len(s) != 6 or not s.isdigit():
        return -1
    yy = int(s[4:])
    return _date_ordinal(int(s[:2]), int(s[2:4]), (1900 if yy >= 80 else 2000) + yy)


def _coordinate(value: str, hemisphere: str, limit: float) -> float:
    """``dddmm.mmmm`` + ``N/S/E/W`` → signed degrees."""
    x = float(value)
    degrees = math.floor(x / 100)
    minutes = x - 100 * degrees
    result = degrees + minutes / 60
    if minutes >= 60 or result > limit or hemisphere not in ("N", "S", "E", "W"):
        raise ValueError(f"bad coordinate {value},{hemisphere}")
    return -result if hemisphere in ("S", "W") else result


def _position(f: list[str], i: int) -> tuple[float, float] | None:
    """Latitude and longitude from fields i..i+3; None when the receiver left them empty."""
    if not f[i] or not f[i + 2]:
        return None
    return (
        _coordinate(f[i], f[i + 1], 90.0),
        _coordinate(f[i + 2], f[i + 3], 180.0),
    )


def _rmc(p: _Parse, f: list[str], line: int) -> None:
    # 0 time, 1 status, 2-5 position, 6 speed kn, 7 course, 8 ddmmyy, 9-10 magvar, 11 mode
    epoch = p.epoch_at(_time_of_day(f[0]))
    if epoch is None:
        return
    day = _ddmmyy(f[8])
    if day >= 0:
        epoch.day = day
    mode = f[11][:1]
    if mode in _MODE_NOT_MEASURED:
        epoch.simulated_line = epoch.simulated_line or line
    if f[1] != "A" or mode in _MODE_NOT_MEASURED or mode == "N":
        return
    pos = _position(f, 2)
    if pos is None:
        return
    epoch.set_position(*pos, rank=1)
    speed = _number(f[6])
    if not math.isnan(speed):
        epoch.speed_mps = speed * KNOT_MPS
    course = _number(f[7])
    if not math.isnan(course):
        epoch.course_deg = course


def _gga(p: _Parse, f: list[str], line: int) -> None:
    # 0 time, 1-4 position, 5 quality, 6 satellites, 7 hdop, 8 altitude MSL, 9 unit
    epoch = p.epoch_at(_time_of_day(f[0]))
    if epoch is None:
        return
    quality = f[5]
    if quality in _GGA_NOT_MEASURED:
        epoch.simulated_line = epoch.simulated_line or line
        return
    if quality in ("", "0"):
        return
    pos = _position(f, 1)
    if pos is None:
        return
    epoch.set_position(*pos, rank=0)
    epoch.sats = _number(f[6])
    epoch.hdop = _number(f[7])
    if f[9] in ("M", ""):
        epoch.alt_m = _number(f[8])


def _gll(p: _Parse, f: list[str], line: int) -> None:
    # 0-3 position, 4 time, 5 status, 6 mode
    epoch = p.epoch_at(_time_of_day(f[4]))
    if epoch is None:
        return
    mode = f[6][:1]
    if mode in _MODE_NOT_MEASURED:
        epoch.simulated_line = epoch.simulated_line or line
    if f[5] != "A" or mode in _MODE_NOT_MEASURED or mode == "N":
        return
    pos = _position(f, 0)
    if pos is not None:
        epoch.set_position(*pos, rank=2)


def _vtg(p: _Parse, f: list[str], line: int) -> None:
    # 0 course true, 1 "T", 2 course magnetic, 3 "M", 4 speed kn, 5 "N", 6 speed km/h, 7 "K",
    # 8 mode; NMEA 1.x receivers omit the unit letters: course, magnetic, knots, km/h.
    epoch = p.current
    if epoch is None or f[8][:1] in ("N", *_MODE_NOT_MEASURED):
        return
    letters = f[1] == "T" or f[5] == "N"
    course = _number(f[0])
    knots = _number(f[4 if letters else 2])
    kmh = _number(f[6 if letters else 3])
    if math.isnan(epoch.course_deg) and not math.isnan(course):
        epoch.course_deg = course
    if math.isnan(epoch.speed_mps):
        epoch.speed_mps = knots * KNOT_MPS if not math.isnan(knots) else kmh / 3.6


def _gsa(p: _Parse, f: list[str], line: int) -> None:
    # 0 selection, 1 fix type, 2-13 satellites used, 14 pdop, 15 hdop, 16 vdop, 17 system
    # (NMEA 4.1); multi-GNSS receivers send one GSA per constellation, so the sets add up.
    epoch = p.current
    if epoch is None or f[1] in ("", "1"):
        return
    system = f[17]
    epoch.gsa_used.update((system, prn) for prn in f[2:14] if prn)
    hdop = _number(f[15])
    if not math.isnan(hdop):
        epoch.gsa_hdop = hdop


def _zda(p: _Parse, f: list[str], line: int) -> None:
    # 0 time, 1 day, 2 month, 3 year
    epoch = p.epoch_at(_time_of_day(f[0]))
    day, month, year = f[1], f[2], f[3]
    if epoch is not None and day.isdigit() and month.isdigit() and year.isdigit():
        ordinal = _date_ordinal(int(day), int(month), int(year))
        if ordinal >= 0:
            epoch.day = ordinal


_HANDLERS = {"RMC": _rmc, "GGA": _gga, "GLL": _gll, "VTG": _vtg, "GSA": _gsa, "ZDA": _zda}


def _checked_sentences(data: bytes) -> tuple[list[tuple[str, str, int]], _Skipped, _Skipped]:
    """Sentences whose checksum is right, as (address, body, line), and the counted rejects."""
    matches = list(_SENTENCE.finditer(data))
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 0x0A)
    if not matches:
        return [], _Skipped(), _Skipped()
    starts = np.fromiter((m.start() for m in matches), np.int64, len(matches))
    lines = np.searchsorted(newlines, starts, side="right") + 1
    # XOR of the bytes between "$" and "*" for every sentence at once, from a running XOR
    running = np.bitwise_xor.accumulate(raw)
    body_end = np.fromiter((m.end(2) for m in matches), np.int64, len(matches))
    computed = running[body_end - 1] ^ running[starts]  # running[start] is the XOR up to "$"
    bad, incomplete = _Skipped(), _Skipped()
    good = []
    for m, line, xor in zip(matches, lines.tolist(), computed.tolist(), strict=True):
        checksum = m[3]
        if checksum is None:
            incomplete.add(line)
        elif int(checksum[1:], 16) != xor:
            bad.add(line)
        else:
            good.append((m[1].decode(), m[2].decode(), line))
    return good, bad, incomplete


def _utc_days(epochs: list[_Epoch]) -> tuple[np.ndarray, bool]:
    """Each epoch's UTC day (days since 1970-01-01), and whether any date was known.

    Known dates are carried forward to the epochs after them (and back to those before the
    first), advancing by one day at every midnight rollover in between.
    """
    tod = np.fromiter((e.tod_ns for e in epochs), np.int64, len(epochs))
    known_day = np.fromiter((e.day for e in epochs), np.int64, len(epochs))
    rolls = np.concatenate([[0], np.cumsum(np.diff(tod) < -ROLLOVER_BACK_NS)])
    known = known_day >= 0
    if not known.any():
        return rolls, False
    index = np.arange(len(epochs))
    anchor = np.maximum.accumulate(np.where(known, index, -1))
    anchor = np.where(anchor >= 0, anchor, int(np.argmax(known)))
    days = known_day[anchor] + rolls - rolls[anchor] - _UNIX_EPOCH_ORDINAL
    return days, True


def _note(skipped: _Skipped, one: str, many: str) -> list[str]:
    if not skipped.count:
        return []
    what = one if skipped.count == 1 else many
    return [f"{skipped.count} {what} skipped (first at line {skipped.first_line})"]


def read_nmea(path: Path, options: ReadOptions) -> Recording:
    """Read an NMEA 0183 log into one ``gnss`` stream of merged fixes, times in UTC."""
    data = path.read_bytes()
    sentences, bad, incomplete = _checked_sentences(data)
    parse = _Parse()
    talkers: set[str] = set()
    for address, body, line in sentences:
        talker, kind = address[:2], address[2:]
        if talker in TALKERS:
            talkers.add(talker)
            parse.sentence(kind, body.split(","), line)
    if not parse.kinds:
        problem = "no NMEA sentences (RMC, GGA, GLL, VTG, GSA, ZDA) found"
        if bad.count or incomplete.count:
            problem += f" with a valid checksum ({bad.count + incomplete.count} rejected)"
        raise InputError(path, problem)
    epochs = parse.epochs
    fixed = [i for i, e in enumerate(epochs) if not math.isnan(e.lat) and not e.simulated_line]
    simulated = _Skipped()
    for e in epochs:
        if e.simulated_line:
            simulated.add(e.simulated_line)
    repairs = [
        *_note(bad, "sentence with a bad checksum", "sentences with bad checksums"),
        *_note(
            incomplete, "incomplete sentence (no checksum)", "incomplete sentences (no checksum)"
        ),
        *_note(parse.malformed, "malformed sentence", "malformed sentences"),
        *_note(
            simulated,
            "simulated or manually entered fix (not a measurement)",
            "simulated or manually entered fixes (not measurements)",
        ),
    ]
    if not fixed:
        raise InputError(
            path,
            f"no valid position fix in {len(epochs)} epochs" + "".join(f"; {r}" for r in repairs),
        )
    days, dated = _utc_days(epochs)
    chosen = [epochs[i] for i in fixed]
    t_ns = days[fixed] * DAY_NS + np.fromiter((e.tod_ns for e in chosen), np.int64, len(chosen))

    def column(get: Callable[[_Epoch], float]) -> np.ndarray:
        return np.fromiter((get(e) for e in chosen), np.float64, len(chosen))

    channels = {
        "lat": column(lambda e: e.lat),
        "lon": column(lambda e: e.lon),
        "alt_m": column(lambda e: e.alt_m),
        "speed_mps": column(lambda e: e.speed_mps),
        "course_deg": column(lambda e: e.course_deg),
        "hdop": column(lambda e: e.gsa_hdop if math.isnan(e.hdop) else e.hdop),
        "sats": column(lambda e: (len(e.gsa_used) or math.nan) if math.isnan(e.sats) else e.sats),
    }
    # a quantity the log never reports is absent, not a column of NaN
    channels = {k: v for k, v in channels.items() if not np.isnan(v).all()}
    order = np.argsort(t_ns, kind="stable")
    stream = Stream("gnss", t_ns, channels).take(order)
    metadata = {
        "talkers": ",".join(sorted(talkers)),
        "sentences": ",".join(f"{k}={n}" for k, n in sorted(parse.kinds.items())),
    }
    if not dated:
        metadata["time_base"] = "UTC time of day; the log has no date (no RMC/ZDA)"
    return Recording(
        source_format="nmea",
        sources=[SourceFile.of(path)],
        streams=[stream],
        source_frame=FRAME_NONE,
        utc_offset_ns=0 if dated else None,
        vehicle_id=options.vehicle_id,
        metadata=metadata,
        repairs=repairs,
    )


def sniff_nmea(path: Path) -> float:
    """Confident when the first few KB hold a checksummed RMC/GGA/… talker sentence."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not _SNIFF.search(head):
        return 0.0
    return 0.95 if path.suffix.lower() in (".nmea", ".gps") else 0.9


NMEA_READER = Reader("nmea", sniff_nmea, read_nmea)
