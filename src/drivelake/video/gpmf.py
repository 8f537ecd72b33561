"""GoPro GPMF telemetry: the KLV parser and the GPS reader for ``gpmd`` data tracks.

GPMF is a stream of KLV items: a 4-byte FourCC key, a 1-byte type char, a 1-byte struct size,
a 2-byte big-endian repeat count, then ``size * repeat`` payload bytes padded to 4. Type 0 is
a container of further items (``DEVC`` > ``STRM`` > data). In a GPS stream: ``SCAL`` (divisors,
one per field or one for all), ``GPSU`` (UTC ``yymmddhhmmss.sss``), ``GPSF`` (fix: 0 none,
2 2D, 3 3D), ``GPSP`` (DOP x 100) and ``GPS5`` (int32 lat, lon, alt, 2D speed, 3D speed).
Newer cameras write ``GPS9`` (type ``?`` described by ``TYPE``: the GPS5 fields, then days
since 2000, seconds since midnight, DOP, fix) which carries its own per-sample time and fix.

Sample times for GPS5: the payload's GPSU time plus ``i / n`` of the payload's duration, where
the duration is the spacing of the container packets holding consecutive payloads (the last
payload reuses the previous spacing) or 1 s when the packet times are unknown (GoPro writes one
payload per second). Samples with a fix below 2D are dropped (no GPSF at all: kept as fixed).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from drivelake.errors import DrivelakeError

NS = 1_000_000_000
_GPS9_EPOCH_NS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()) * NS

# type char -> (numpy big-endian dtype, size); 'c'/'U' are chars, 0 is a nested container
_TYPES: dict[str, str] = {
    "b": ">i1",
    "B": ">u1",
    "s": ">i2",
    "S": ">u2",
    "l": ">i4",
    "L": ">u4",
    "j": ">i8",
    "J": ">u8",
    "f": ">f4",
    "d": ">f8",
    "q": ">i4",  # Q15.16 fixed point, read raw
    "Q": ">i8",  # Q31.32 fixed point, read raw
}


class GpmfError(DrivelakeError):
    """Malformed GPMF: the message names the byte offset and the KLV path."""


@dataclass
class Klv:
    key: str
    type: str  # "\0" for a container
    size: int
    repeat: int
    payload: bytes
    offset: int
    children: list[Klv] = field(default_factory=list)

    def values(self, type_hint: str | None = None) -> np.ndarray:
        """Payload as a (repeat, size // itemsize) array; complex '?' types need ``type_hint``."""
        if self.type == "?":
            if not type_hint:
                raise GpmfError(f"offset {self.offset}: {self.key} has complex type but no TYPE")
            dt = np.dtype([(f"f{i}", _TYPES[c]) for i, c in enumerate(type_hint)])
            if dt.itemsize != self.size:
                raise GpmfError(
                    f"offset {self.offset}: {self.key} TYPE {type_hint!r} is {dt.itemsize} "
                    f"bytes, struct size is {self.size}"
                )
            rec = np.frombuffer(self.payload, dt, self.repeat)
            return np.stack([rec[n].astype(np.float64) for n in dt.names], axis=1)
        code = _TYPES.get(self.type)
        if code is None:
            raise GpmfError(f"offset {self.offset}: {self.key} has unsupported type {self.type!r}")
        width = np.dtype(code).itemsize
        if self.size % width:
            raise GpmfError(f"offset {self.offset}: {self.key} size {self.size} not a multiple")
        arr = np.frombuffer(self.payload, code, self.repeat * self.size // width)
        return arr.reshape(self.repeat, self.size // width)

    def text(self) -> str:
        return self.payload.split(b"\0", 1)[0].decode("ascii", "replace")


def parse(data: bytes, *, base: int = 0, path: str = "") -> list[Klv]:
    """Parse GPMF bytes into a KLV tree; raise :class:`GpmfError` naming where it broke."""
    items: list[Klv] = []
    pos = 0
    n = len(data)
    while pos < n:
        where = f"offset {base + pos}" + (f" in {path}" if path else "")
        if n - pos < 8:
            if not data[pos:].strip(b"\0"):
                break  # trailing padding
            raise GpmfError(f"{where}: truncated KLV header ({n - pos} of 8 bytes)")
        raw_key, tchar, size, repeat = struct.unpack_from(">4sBBH", data, pos)
        if raw_key == b"\0\0\0\0":
            break  # zero padding at the end of a payload
        try:
            key = raw_key.decode("ascii")
        except UnicodeDecodeError:
            key = ""
        if not key.isprintable() or len(key) != 4:
            raise GpmfError(f"{where}: invalid KLV key {raw_key!r}")
        length = size * repeat
        padded = (length + 3) & ~3
        start = pos + 8
        if start + length > n:
            raise GpmfError(
                f"{where}: {key} payload truncated ({n - start} of {length} bytes present)"
            )
        payload = data[start : start + length]
        item = Klv(key, chr(tchar), size, repeat, payload, base + pos)
        if tchar == 0:
            item.children = parse(payload, base=base + start, path=f"{path}/{key}".lstrip("/"))
        items.append(item)
        pos = start + min(padded, n - start)
    return items


def _gpsu_ns(text: str, where: str) -> int:
    try:
        stamp = datetime.strptime(text.strip()[:16], "%y%m%d%H%M%S.%f")
    except ValueError as exc:
        raise GpmfError(f"{where}: GPSU {text!r} is not yymmddhhmmss.sss") from exc
    stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp()) * NS + stamp.microsecond * 1000


@dataclass
class GpsPayload:
    """GPS samples from one GPMF payload (one STRM)."""

    fields: np.ndarray  # (n, 5): lat, lon, alt_m, speed2d, speed3d (scaled)
    t_ns: np.ndarray | None  # per-sample UTC ns (GPS9), else None
    start_ns: int | None  # GPSU time (GPS5)
    fix: np.ndarray  # per-sample fix (0/2/3)
    dop: np.ndarray  # per-sample DOP, NaN when unknown


def _walk_strms(items: list[Klv]):
    for it in items:
        if it.key == "STRM":
            yield it
        elif it.children:
            yield from _walk_strms(it.children)


def gps_payloads(data: bytes, *, where: str = "") -> list[GpsPayload]:
    """GPS5/GPS9 samples of every GPS stream in one GPMF payload."""
    try:
        tree = parse(data)
    except GpmfError as exc:
        raise GpmfError(f"{where}: {exc}" if where else str(exc)) from None
    out: list[GpsPayload] = []
    for strm in _walk_strms(tree):
        scal: np.ndarray | None = None
        type_hint: str | None = None
        gpsu: int | None = None
        fix = dop = None
        for it in strm.children:
            at = f"{where + ': ' if where else ''}offset {it.offset} ({it.key})"
            if it.key == "SCAL":
                scal = it.values().astype(np.float64).ravel()
            elif it.key == "TYPE":
                type_hint = it.text()
            elif it.key == "GPSU":
                gpsu = _gpsu_ns(it.payload.decode("ascii", "replace"), at)
            elif it.key == "GPSF":
                fix = float(it.values().ravel()[0])
            elif it.key == "GPSP":
                dop = float(it.values().ravel()[0]) / 100.0
            elif it.key in ("GPS5", "GPS9"):
                raw = it.values(type_hint).astype(np.float64)
                width = raw.shape[1]
                if (it.key == "GPS5" and width != 5) or (it.key == "GPS9" and width < 9):
                    raise GpmfError(f"{at}: {width} fields per sample")
                if scal is None or scal.size == 0:
                    scal = np.ones(1)
                if scal.size not in (1, width):
                    raise GpmfError(f"{at}: SCAL has {scal.size} divisors for {width} fields")
                if np.any(scal == 0):
                    raise GpmfError(f"{at}: SCAL has a zero divisor")
                vals = raw / scal
                n = len(vals)
                if it.key == "GPS9":
                    t = _GPS9_EPOCH_NS + np.round((vals[:, 5] * 86400 + vals[:, 6]) * NS)
                    out.append(
                        GpsPayload(vals[:, :5], t.astype(np.int64), None, vals[:, 8], vals[:, 7])
                    )
                else:
                    f = np.full(n, 3.0 if fix is None else fix)
                    d = np.full(n, np.nan if dop is None else dop)
                    out.append(GpsPayload(vals, None, gpsu, f, d))
    return out


def gps_from_packets(
    packets: list[tuple[bytes, int | None]], *, where: str = ""
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """GNSS channels and UTC times from ``(payload, packet_time_ns)`` pairs of a ``gpmd`` track.

    Returns ``(channels, t_ns, notes)``; samples without a 2D/3D fix are dropped and counted.
    """
    notes: list[str] = []
    parsed: list[tuple[GpsPayload, int | None]] = []
    for k, (payload, pkt_ns) in enumerate(packets):
        for p in gps_payloads(payload, where=f"{where}packet {k}"):
            parsed.append((p, pkt_ns))
    times: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    fixes: list[np.ndarray] = []
    dops: list[np.ndarray] = []
    no_time = 0
    last_dur = NS
    for j, (p, pkt_ns) in enumerate(parsed):
        n = len(p.fields)
        if p.t_ns is not None:
            t = p.t_ns
        elif p.start_ns is None:
            no_time += n
            continue
        else:
            dur = NS
            nxt = parsed[j + 1][1] if j + 1 < len(parsed) else None
            if pkt_ns is not None and nxt is not None and nxt > pkt_ns:
                dur = last_dur = nxt - pkt_ns
            elif pkt_ns is not None and j > 0:
                dur = last_dur
            t = p.start_ns + (np.arange(n, dtype=np.int64) * dur) // max(n, 1)
        times.append(np.asarray(t, np.int64))
        rows.append(p.fields)
        fixes.append(p.fix)
        dops.append(p.dop)
    if no_time:
        notes.append(f"{no_time} GPMF GPS samples without GPSU time dropped")
    if not rows:
        return {}, np.zeros(0, np.int64), notes
    t_ns = np.concatenate(times)
    vals = np.concatenate(rows)
    fix = np.concatenate(fixes)
    dop = np.concatenate(dops)
    keep = fix >= 2
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} GPMF GPS samples without a 2D/3D fix dropped")
    channels = {
        "lat": vals[keep, 0],
        "lon": vals[keep, 1],
        "alt_m": vals[keep, 2],
        "speed_mps": vals[keep, 3],
        "hdop": dop[keep],
    }
    if np.isnan(channels["hdop"]).all():
        del channels["hdop"]
    t_ns = t_ns[keep]
    order = np.argsort(t_ns, kind="stable")
    return {k: v[order] for k, v in channels.items()}, t_ns[order], notes
