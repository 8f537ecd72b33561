"""Detectors: vehicle-frame motion in, candidate events out (times as analysis-grid indices).

Every detector is a threshold on a physical quantity with hysteresis (an event spans where the
signal exceeds half its threshold, around a core above the threshold), so thresholds mean what
fleet operators' thresholds mean: g of longitudinal or lateral acceleration.

One check is frame-invariant and guards against a frame that is itself estimated: the norm of the
specific force does not depend on orientation, and a real horizontal acceleration ``h`` raises it
to ``sqrt(g² + h²)``. A phone whose own orientation filter mistakes sustained braking for tilt
shows, once the brake ends, a decaying "acceleration" of the opposite sign with no such rise: it
is rejected, because the vehicle did not actually accelerate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from drivelake.events.zones import SpeedLimits
from drivelake.schema import EVENT_TYPES
from drivelake.signals.gravity import STANDARD_GRAVITY as G
from drivelake.signals.motion import Motion

TYPES = EVENT_TYPES


@dataclass
class Candidate:
    type: str
    i0: int
    i1: int  # exclusive
    peak: float
    unit: str
    threshold: float
    direction: str | None = None
    confidence: float = 1.0
    zone: str | None = None  # the speed zone whose limit was exceeded (speeding only)

    @property
    def severity(self) -> str:
        ratio = self.peak / self.threshold if self.threshold else 1.0
        return "high" if ratio >= 1.6 else "medium" if ratio >= 1.25 else "low"


def lobes(
    x: np.ndarray, high: float, low: float, min_len: int, sign: int = 1
) -> list[tuple[int, int]]:
    """Index spans where ``sign * x > low`` that reach ``high`` for at least ``min_len`` samples.

    NaN is below every level; ``sign = -1`` finds negative lobes without negating ``x``. A few
    vectorised passes: edges of the ``> low`` mask, and the count of ``>= high`` samples per
    span from one segmented sum.
    """
    above = np.zeros(len(x) + 2, bool)
    if sign > 0:
        np.greater(x, low, out=above[1:-1])
    else:
        np.less(x, -low, out=above[1:-1])
    edges = np.flatnonzero(above[1:] != above[:-1])  # a bool comparison: no int8 difference
    if len(edges) == 0:
        return []
    hits = np.zeros(len(x) + 1, np.int8)
    if sign > 0:
        np.greater_equal(x, high, out=hits[:-1].view(bool))
    else:
        np.less_equal(x, -high, out=hits[:-1].view(bool))
    counts = np.add.reduceat(hits, edges, dtype=np.int64)[::2]  # >= high per [start, end)
    s, e = edges[::2], edges[1::2]
    keep = counts >= min_len
    return list(zip(s[keep].tolist(), e[keep].tolist(), strict=True))


def signed_lobes(x: np.ndarray, level: float) -> list[tuple[int, int, int]]:
    """``(start, end, sign)`` of the spans where ``|x| > level``, split where the sign changes."""
    state = np.zeros(len(x) + 2, np.int8)
    np.greater(x, level, out=state[1:-1].view(bool))
    state[1:-1] -= x < -level
    edges = np.flatnonzero(np.diff(state))
    out = []
    for k, i in enumerate(edges[:-1].tolist()):
        sign = int(state[i + 1])
        if sign:
            out.append((i, int(edges[k + 1]), sign))
    return out


def _real(m: Motion, s: int, e: int, core: np.ndarray | None = None) -> bool:
    """Frame-invariant check: the specific-force norm rose as a real acceleration demands.

    ``core`` (a mask over ``s:e``) limits the check to where the signal is above threshold, so
    the tail of a real event does not vouch for an artefact that follows it.
    """
    h2 = m.accel[s:e, 0] ** 2 + m.accel[s:e, 1] ** 2
    excess = m.excess[s:e]
    if core is not None:
        h2, excess = h2[core], excess[core]
    ok = np.isfinite(excess) & np.isfinite(h2)
    return bool(excess[ok].sum() >= 0.5 * h2[ok].sum() / (2 * G))


def longitudinal(m: Motion, cfg: dict) -> list[Candidate]:
    """harsh_brake and harsh_acceleration: forward acceleration beyond the class threshold."""
    out = []
    min_len = max(int(cfg["min_duration_s"] * m.rate_hz), 1)
    for kind, sign, thr in (
        ("harsh_brake", -1, cfg["brake_g"]),
        ("harsh_acceleration", 1, cfg["accel_g"]),
    ):
        for s, e in lobes(m.accel[:, 0], thr * G, thr * G / 2, min_len, sign):
            x = sign * m.accel[s:e, 0]
            if _real(m, s, e, x >= thr * G):
                out.append(Candidate(kind, s, e, float(np.nanmax(x)), "m/s^2", thr * G))
    return out


def lateral(m: Motion, cfg: dict) -> list[Candidate]:
    """harsh_turn and harsh_lane_change, told apart by the heading change the gyro integrates.

    A turn is one lateral lobe that changes heading; a lane change is two opposite lobes in quick
    succession whose heading change cancels. Direction: the side the vehicle moves to first
    (left = positive lateral acceleration and yaw rate in ISO 8855).
    """
    out = []
    y = m.accel[:, 1]
    min_len = max(int(cfg["min_duration_s"] * m.rate_hz), 1)
    gap = int(cfg["merge_gap_s"] * m.rate_hz)
    lc, turn = cfg["lane_change_g"] * G, cfg["turn_g"] * G
    low = min(lc, turn) / 2
    spans = signed_lobes(y, low)
    used = set()
    for k, (s, e, sign) in enumerate(spans):
        if k in used:
            continue
        peak = float(np.nanmax(sign * y[s:e]))
        nxt = spans[k + 1] if k + 1 < len(spans) else None
        if nxt and nxt[2] == -sign and nxt[0] - e <= gap:
            s2, e2 = s, nxt[1]
            turned = abs(_turned(m, s2, e2))
            peak2 = max(peak, float(np.nanmax(-sign * y[nxt[0] : nxt[1]])))
            strong = np.count_nonzero(np.abs(y[s2:e2]) >= lc)
            if (
                turned <= cfg["lane_change_max_heading_deg"]
                and strong >= min_len
                and _real(m, s2, e2)
            ):
                out.append(Candidate("harsh_lane_change", s2, e2, peak2, "m/s^2", lc, _side(sign)))
                used.add(k + 1)
                continue
        turned = _turned(m, s, e)
        strong = np.count_nonzero(sign * y[s:e] >= turn)
        if abs(turned) >= cfg["turn_min_heading_deg"] and strong >= min_len and _real(m, s, e):
            out.append(Candidate("harsh_turn", s, e, peak, "m/s^2", turn, _side(np.sign(turned))))
    return _merge_double_lane_changes(out, y, int(cfg["double_lane_change_gap_s"] * m.rate_hz))


def _turned(m: Motion, s: int, e: int) -> float:
    """Heading change (deg) from sample ``s`` to ``e - 1``: the yaw rate integrated between."""
    return float(np.degrees(np.nansum(m.yaw_rate[s + 1 : e]) / m.rate_hz))


def _merge_double_lane_changes(cands: list[Candidate], y: np.ndarray, gap: int) -> list[Candidate]:
    """A lane change followed within ``gap`` samples by one to the other side is ONE manoeuvre.

    Out-and-back (a swerve, ISO 3888's double lane change, or positioning in one lane before a
    change to the other) is one event, not two: it spans both halves and takes the direction of
    the harsher half, judged by its mean-square lateral acceleration (the energy of the
    manoeuvre, less sensitive to a single sample than the peak).
    """
    out: list[Candidate] = []
    merged: list[bool] = []
    for c in sorted(cands, key=lambda c: c.i0):
        prev = out[-1] if out else None
        if (
            prev is not None
            and not merged[-1]
            and c.type == prev.type == "harsh_lane_change"
            and c.direction != prev.direction
            and c.i0 - prev.i1 <= gap
        ):
            harsh = max(prev, c, key=lambda k: float(np.nanmean(y[k.i0 : k.i1] ** 2)))
            out[-1] = Candidate(
                c.type, prev.i0, c.i1, max(prev.peak, c.peak), c.unit, c.threshold, harsh.direction
            )
            merged[-1] = True
            continue
        out.append(c)
        merged.append(False)
    return out


def _side(sign: float) -> str:
    return "left" if sign > 0 else "right"


def peak_floors(cfg: dict) -> dict[str, float]:
    """``vehicle_motion`` keywords: block peaks must be exact from the impact and pothole
    thresholds up (the impact test also reads the vertical peak, which is then far below it)."""
    return {"shock_floor": cfg["impact_g"] * G, "vertical_floor": cfg["pothole_g"] * G}


def shocks(m: Motion, cfg: dict) -> list[Candidate]:
    """impact (a short high-g spike in the force vector) and pothole (a vertical jolt).

    An impact's spike is mostly horizontal and far above road shocks; a jolt whose vertical part
    dominates is the road. An impact followed by the vehicle stopping is the classic crash
    signature and gets full confidence.
    """
    out = []
    half = max(int(0.25 * m.rate_hz), 1)
    impact_thr, pothole_thr = cfg["impact_g"] * G, cfg["pothole_g"] * G
    for s, e in lobes(m.shock_peak, impact_thr, impact_thr, 1):
        if np.nanmax(m.vertical_peak[s:e]) < 0.8 * np.nanmax(m.shock_peak[s:e]):
            out.append(
                Candidate(
                    "impact",
                    max(s - half, 0),
                    e + half,
                    float(np.nanmax(m.shock_peak[s:e])),
                    "m/s^2",
                    impact_thr,
                    confidence=_stopped_after(m, e),
                )
            )
    taken = np.zeros(len(m.shock_peak), bool)
    for c in out:
        taken[c.i0 : c.i1] = True
    for s, e in lobes(m.vertical_peak, pothole_thr, pothole_thr, 1):
        if not taken[s:e].any():
            peak = float(np.nanmax(m.vertical_peak[s:e]))
            out.append(Candidate("pothole", max(s - half, 0), e + half, peak, "m/s^2", pothole_thr))
    return out


def _stopped_after(m: Motion, i: int) -> float:
    """1.0 if the vehicle comes to rest within 30 s after ``i``, 0.6 if unknown or it drove on."""
    if m.speed is None:
        return 0.6
    after = m.speed[i : i + int(30 * m.rate_hz)]
    return 1.0 if np.nanmin(after, initial=np.inf) < 1.0 else 0.6


def speeding(m: Motion, cfg: dict, limits: SpeedLimits | None = None) -> list[Candidate]:
    """Speed above the limit plus tolerance for at least the minimum duration.

    The limit is the vehicle class's, or per sample from ``limits`` (geofenced zones): an
    episode that crosses from one zone into another is one event per zone, each naming it.
    """
    if m.speed is None:
        return []
    tolerance, min_len = cfg["speed_tolerance_kmh"], int(cfg["speeding_min_duration_s"] * m.rate_hz)
    if limits is None:
        allowed = (cfg["speed_limit_kmh"] + tolerance) / 3.6
        return [
            Candidate("speeding", s, e, float(np.nanmax(m.speed[s:e])), "m/s", allowed)
            for s, e in lobes(m.speed, allowed, allowed, min_len)
        ]
    n = len(m.speed)
    allowed_at = (limits.limit_kmh[:n] + tolerance) / 3.6
    out = []
    for s, e in lobes(m.speed - allowed_at, 0.0, 0.0, min_len):
        cuts = (s + 1 + np.flatnonzero(np.diff(limits.zone[s:e]))).tolist()
        for a, b in itertools.pairwise([s, *cuts, e]):
            if b - a >= min_len:
                peak = float(np.nanmax(m.speed[a:b]))
                out.append(
                    Candidate(
                        "speeding", a, b, peak, "m/s", float(allowed_at[a]), zone=limits.name(a)
                    )
                )
    return out


def suppress_overlaps(cands: list[Candidate], rate_hz: float) -> list[Candidate]:
    """An impact explains the deceleration during and just after it (the vehicle is being
    stopped by whatever it hit): drop harsh_brake candidates starting within 2 s of one."""
    after = int(2 * rate_hz)
    impacts = [(c.i0, c.i1 + after) for c in cands if c.type == "impact"]
    return [
        c
        for c in cands
        if c.type != "harsh_brake" or not any(c.i0 < e and s < c.i1 for s, e in impacts)
    ]


def detect_motion(
    m: Motion, cfg: dict, types: set[str] | None = None, limits: SpeedLimits | None = None
) -> list[Candidate]:
    """Every detector over one drive's motion; ``types`` limits which event types are kept;
    ``limits``: geofenced speed limits along the drive (default: the class's limit)."""
    cands = [*longitudinal(m, cfg), *lateral(m, cfg), *shocks(m, cfg), *speeding(m, cfg, limits)]
    cands = suppress_overlaps(cands, m.rate_hz)
    return [c for c in cands if types is None or c.type in types]
