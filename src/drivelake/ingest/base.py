"""What a reader produces, and the checks every recording passes before it reaches the lake.

A reader turns one *source* (a file, or a folder such as a comma2k19 segment) into one
:class:`Recording`: streams of samples in SI units on the source's own clock. The ingest
pipeline then validates the streams (:func:`clean_stream`), splits long recordings into
drives at gaps (:func:`split_at_gaps`) and writes each drive atomically.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from drivelake.errors import InputError
from drivelake.schema import CHANNELS, FRAME_NONE


@dataclass(frozen=True)
class SourceFile:
    """A file a drive was read from (or that belongs to it, like a video), with its content hash."""

    path: str
    size: int
    sha256: str
    role: str = "telemetry"

    @classmethod
    def of(cls, path: str | Path, role: str = "telemetry") -> SourceFile:
        p = Path(path)
        digest = hashlib.sha256()
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return cls(str(p.resolve()), p.stat().st_size, digest.hexdigest(), role)


@dataclass
class Stream:
    """One stream of samples: int64 ns times on the source clock and named channel arrays."""

    name: str
    t_ns: np.ndarray
    channels: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        unknown = set(self.channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"stream {self.name!r}: unknown channels {sorted(unknown)}")
        self.t_ns = np.asarray(self.t_ns, dtype=np.int64)
        for k, v in self.channels.items():
            if len(v) != len(self.t_ns):
                raise ValueError(f"stream {self.name!r}: channel {k} length differs from t_ns")

    def __len__(self) -> int:
        return len(self.t_ns)

    def take(self, index: np.ndarray | slice) -> Stream:
        return Stream(self.name, self.t_ns[index], {k: v[index] for k, v in self.channels.items()})


@dataclass
class Recording:
    """Everything one source yields: the streams plus what is known about clock and frame."""

    source_format: str
    sources: list[SourceFile]
    streams: list[Stream]
    source_frame: str = FRAME_NONE
    #: drive start on the source clock (t = 0 s for events and labels); default: first sample
    t0_ns: int | None = None
    #: utc_ns = t_ns + utc_offset_ns, when the source clock's relation to UTC is known
    utc_offset_ns: int | None = None
    vehicle_id: str | None = None
    videos: list[SourceFile] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    #: counted, reported repairs and skipped input ("12 duplicate timestamps dropped")
    repairs: list[str] = field(default_factory=list)
    synthetic: bool = False

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256(self.source_format.encode())
        for s in sorted(self.sources, key=lambda s: s.sha256):
            digest.update(s.sha256.encode())
        return digest.hexdigest()

    def time_range(self) -> tuple[int, int]:
        starts = [int(s.t_ns[0]) for s in self.streams if len(s)]
        ends = [int(s.t_ns[-1]) for s in self.streams if len(s)]
        if not starts:
            raise ValueError("recording has no samples")
        return min(starts), max(ends)


@dataclass(frozen=True)
class ReadOptions:
    """Options every reader accepts; format-specific ones live in ``extra``."""

    vehicle_id: str | None = None
    #: a column mapping for tabular readers (target channel or role -> source column)
    column_map: dict[str, str] = field(default_factory=dict)
    #: unit overrides for tabular readers (source column -> unit, e.g. "km/h", "g", "ms")
    units: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    """A source format: how to recognise it and how to read it.

    ``sniff`` returns a confidence in [0, 1] that ``path`` is in this format (cheap: looks at
    names and the first bytes); ``read`` returns the recording or raises :class:`InputError`.
    """

    name: str
    sniff: Callable[[Path], float]
    read: Callable[[Path, ReadOptions], Recording]
    #: True for formats whose source is a folder rather than a file
    folder: bool = False


# --------------------------------------------------------------------------- validation


def clean_stream(stream: Stream, path: str) -> tuple[Stream, list[str]]:
    """Make a stream safe to store, or raise: sorts, drops duplicates, NaNs and impossible values.

    Repairs that are safe are counted and returned as messages; a stream with nothing usable
    left raises :class:`InputError`.
    """
    repairs: list[str] = []
    s = stream
    if len(s) == 0:
        return s, repairs
    if np.any(np.diff(s.t_ns) < 0):
        order = np.argsort(s.t_ns, kind="stable")
        back = int(np.sum(np.diff(s.t_ns) < 0))
        s = s.take(order)
        repairs.append(f"{s.name}: {back} timestamps went backwards; samples sorted by time")
    if "track_id" in s.channels:  # radar: several tracks at one instant are distinct samples
        s = s.take(np.lexsort((s.channels["track_id"], s.t_ns)))
    dup = np.concatenate([[False], np.diff(s.t_ns) == 0])
    if "track_id" in s.channels:
        track = np.asarray(s.channels["track_id"])
        dup[1:] &= track[1:] == track[:-1]
    if dup.any():
        s = s.take(~dup)
        repairs.append(f"{s.name}: {int(dup.sum())} duplicate timestamps dropped")
    nonfinite = _unusable(s)
    if nonfinite.any():
        repairs.append(
            f"{s.name}: {int(nonfinite.sum())} samples with NaN/inf values dropped"
            f" (first at sample {int(np.argmax(nonfinite))})"
        )
    impossible = np.zeros(len(s), dtype=bool)
    if "lat" in s.channels:
        with np.errstate(invalid="ignore"):
            lat = np.asarray(s.channels["lat"], dtype=np.float64)
            lon = np.asarray(s.channels["lon"], dtype=np.float64)
            impossible = (np.abs(lat) > 90) | (np.abs(lon) > 180) | ((lat == 0) & (lon == 0))
        impossible &= ~nonfinite
        if impossible.any():
            repairs.append(
                f"{s.name}: {int(impossible.sum())} impossible coordinates dropped"
                f" (first at sample {int(np.argmax(impossible))})"
            )
    bad = nonfinite | impossible
    if bad.any():
        s = s.take(~bad)
    if len(s) == 0:
        raise InputError(path, f"stream {stream.name!r} has no valid samples left")
    return s, repairs


#: Channels a sample of these streams cannot do without (others may be missing, stored as null).
REQUIRED_CHANNELS: dict[str, tuple[str, ...]] = {
    "gnss": ("lat", "lon"),
    "pose": ("lat", "lon"),
    "accel": ("ax", "ay", "az"),
    "accel_linear": ("ax", "ay", "az"),
    "gyro": ("gx", "gy", "gz"),
    "magnetometer": ("mx", "my", "mz"),
}


def _unusable(s: Stream) -> np.ndarray:
    """Samples missing a required channel, or (other streams) with no finite channel at all.

    Infinite values in optional channels become NaN (stored as null) rather than dropping the
    sample: an RMC fix without a GGA altitude is still a fix.
    """
    finite = {c: np.isfinite(np.asarray(v, dtype=np.float64)) for c, v in s.channels.items()}
    for c, ok in finite.items():
        if not ok.all() and np.issubdtype(np.asarray(s.channels[c]).dtype, np.floating):
            s.channels[c] = np.where(ok, s.channels[c], np.nan)
    required = [c for c in REQUIRED_CHANNELS.get(s.name, ()) if c in s.channels]
    if required:
        return ~np.logical_and.reduce([finite[c] for c in required])
    if not finite:
        return np.zeros(len(s), dtype=bool)
    return ~np.logical_or.reduce(list(finite.values()))


def split_at_gaps(rec: Recording, max_gap_s: float) -> list[Recording]:
    """Split a recording into drives wherever no stream has a sample for ``max_gap_s``.

    A vehicle's day logged continuously becomes one drive per trip. Recordings without such a
    gap are returned as they are.
    """
    # sorted, duplicates kept: they never make a gap (and np.unique is slow on millions)
    times = np.sort(np.concatenate([s.t_ns for s in rec.streams if len(s)]), kind="stable")
    if len(times) < 2:
        return [rec]
    gap_ns = int(max_gap_s * 1e9)
    cut_at = np.nonzero(np.diff(times) > gap_ns)[0]
    if len(cut_at) == 0:
        return [rec]
    bounds = [times[0], *[times[i + 1] for i in cut_at], times[-1] + 1]
    parts = []
    for lo, hi in itertools.pairwise(bounds):
        streams = []
        for s in rec.streams:
            a, b = np.searchsorted(s.t_ns, [lo, hi])
            if b > a:
                streams.append(s.take(slice(a, b)))
        parts.append(replace(rec, streams=streams, t0_ns=int(lo)))
    return parts


def drive_id_for(rec: Recording, part: int, parts: int) -> str:
    """A drive's id derives from its sources' content: same data, same id; edited data, new id."""
    digest = hashlib.sha256(rec.content_hash.encode())
    if parts > 1:
        digest.update(f":part{part}".encode())
    return digest.hexdigest()[:20]


def haversine_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Distances in metres between consecutive WGS84 points."""
    r = 6_371_008.8
    la, lo = np.radians(lat), np.radians(lon)
    dlat, dlon = np.diff(la), np.diff(lo)
    a = np.sin(dlat / 2) ** 2 + np.cos(la[:-1]) * np.cos(la[1:]) * np.sin(dlon / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def stream_rate_hz(t_ns: np.ndarray) -> float:
    """Median sampling rate of a stream (robust to gaps)."""
    steps = np.diff(t_ns)
    if (steps < 0).any():
        steps = np.diff(np.sort(t_ns, kind="stable"))
    steps = steps[steps > 0]  # streams of several tracks (radar) share sample times
    # (np.unique would do the same but is ~30x slower on millions of samples)
    return float(1e9 / np.median(steps)) if len(steps) else math.nan
