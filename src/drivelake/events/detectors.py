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
    vectorised passes: edges of the ``> low`` mask, then the ``>= high`` samples (few) counted
    per span by binary search; a span above ``low >= high`` needs no count for ``min_len <= 1``.
    """
    above = np.zeros(len(x) + 2, bool)
    if sign > 0:
        np.greater(x, low, out=above[1:-1])
    else:
        np.less(x, -low, out=above[1:-1])
    edges = np.flatnonzero(above[1:] != above[:-1])  # a bool comparison: no int8 difference
    s, e = edges[::2], edges[1::2]
    if len(edges) and (min_len > 1 or high > low):
        hits = np.flatnonzero(x >= high if sign > 0 else x <= -high)
        counts = np.searchsorted(hits, e) - np.searchsorted(hits, s)
        s, e = s[counts >= min_len], e[counts >= min_len]
    return list(zip(s.tolist(), e.tolist(), strict=True))


def signed_lobes(x: np.ndarray, level: float) -> list[tuple[int, int, int]]:
    """``(start, end, sign)`` of the spans where ``|x| > level``, split where the sign changes."""
    state = np.zeros(len(x) + 2, np.int8)
    np.greater(x, level, out=state[1:-1].view(bool))
    state[1:-1] -= x < -level
    edges = np.flatnonzero(state[1:] != state[:-1])
    sign = state[edges[:-1] + 1]
    lobe = np.flatnonzero(sign)  # an edge that enters a lobe; the next edge ends it
    return list(
        zip(edges[lobe].tolist(), edges[lobe + 1].tolist(), sign[lobe].tolist(), strict=True)
    )


def span_sums(
    x: np.ndarray,
    s: np.ndarray,
    e: np.ndarray,
    ufunc: np.ufunc = np.add,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """``ufunc`` reduced over every span ``x[s_k:e_k]``; ``where`` (a mask) zeroes the samples
    outside it. Spans as :func:`span_and_gap_sums` takes them.

    Spans covering little of the drive (events, candidate manoeuvres) are gathered first, so
    the cost follows their length rather than the drive's; dense ones take the segmented pass.
    """
    lengths = e - s
    total = int(lengths.sum())
    if total * 4 >= len(x):
        return span_and_gap_sums(x if where is None else x * where, s, e, ufunc)[0]
    starts = np.zeros(len(s), np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    idx = np.arange(total) + np.repeat(s - starts, lengths)
    x = x[idx] if where is None else x[idx] * where[idx]
    return ufunc.reduceat(x, starts, dtype=np.int64 if x.dtype == bool else None)


def span_and_gap_sums(
    x: np.ndarray, s: np.ndarray, e: np.ndarray, ufunc: np.ufunc = np.add
) -> tuple[np.ndarray, np.ndarray]:
    """``ufunc`` reduced over every span ``x[s_k:e_k]`` and every gap ``x[e_k:s_{k+1}]``.

    Spans must be non-empty, in order and not overlapping (what :func:`lobes` gives); an empty
    gap reduces to 0. One segmented pass over ``x`` instead of a loop of NumPy calls per event;
    a bool ``x`` is counted.
    """
    idx = np.empty(2 * len(s), np.intp)
    idx[0::2], idx[1::2] = s, e
    dtype = np.int64 if x.dtype == bool else None
    r = ufunc.reduceat(x, idx[:-1] if idx[-1] >= len(x) else idx, dtype=dtype)
    gaps = r[1::2][: len(s) - 1]
    return r[0::2], np.where(s[1:] > e[:-1], gaps, 0)


#: A manoeuvre is kept when the norm's rise is at least this share of what its ``h`` demands.
MIN_SUPPORT = 0.5


class _Norms:
    """What the frame-invariant check reads, summed per span (see :meth:`support`).

    The specific-force norm does not depend on orientation, and a real horizontal acceleration
    ``h`` raises it to ``sqrt(g² + h²)``: over a span, the summed norm rise must be at least
    :data:`MIN_SUPPORT` of what the summed ``h²`` demands. ``core`` (a mask) limits the sums to
    where the signal is above threshold, so the tail of a real event does not vouch for an
    artefact after it. The share, capped at 1, is the event's confidence: how much of the
    acceleration the estimated frame shows the frame-independent norm confirms.
    """

    def __init__(self, m: Motion):
        h2 = np.square(m.accel[:, 0])
        h2 += np.square(m.accel[:, 1])
        excess = m.excess
        if not np.isfinite(h2.sum() + excess.sum()):  # a gap somewhere: it counts as nothing
            ok = np.isfinite(h2) & np.isfinite(excess)
            h2, excess = np.where(ok, h2, 0.0), np.where(ok, excess, 0.0)
        self.h2, self.excess = h2, excess

    def support(self, s: np.ndarray, e: np.ndarray, core: np.ndarray | None = None) -> np.ndarray:
        """Per span: the norm's rise over what the frame's horizontal acceleration demands
        (``inf`` where it demands nothing)."""
        return _supported(
            span_sums(self.excess, s, e, where=core), span_sums(self.h2, s, e, where=core)
        )

    def pair_support(self, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`support` per span and per span-gap-span pair ``[s_k, e_{k+1})``."""
        rise, rise_gap = span_and_gap_sums(self.excess, s, e)
        h2, h2_gap = span_and_gap_sums(self.h2, s, e)
        pair = _supported(rise[:-1] + rise_gap + rise[1:], h2[:-1] + h2_gap + h2[1:])
        return _supported(rise, h2), pair


def _supported(rise: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """The norm's summed rise over the rise that summed ``h2`` demands, ``inf`` for none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(h2 > 0, rise * (2 * G) / h2, np.inf)


def longitudinal(m: Motion, cfg: dict, norms: _Norms | None = None) -> list[Candidate]:
    """harsh_brake and harsh_acceleration: forward acceleration beyond the class threshold.

    ``norms``: the drive's frame-free check, when the caller already built it."""
    out = []
    fwd = m.accel[:, 0]
    min_len = max(int(cfg["min_duration_s"] * m.rate_hz), 1)
    for kind, sign, thr in (
        ("harsh_brake", -1, cfg["brake_g"]),
        ("harsh_acceleration", 1, cfg["accel_g"]),
    ):
        spans = lobes(fwd, thr * G, thr * G / 2, min_len, sign)
        if not spans:
            continue
        s, e = np.array(spans).T
        x = fwd if sign > 0 else -fwd
        norms = norms or _Norms(m)
        support = norms.support(s, e, x >= thr * G)
        peaks = span_sums(x, s, e, np.fmax)
        out += [
            Candidate(kind, i0, i1, peak, "m/s^2", thr * G, confidence=min(1.0, ok))
            for i0, i1, peak, ok in zip(
                s.tolist(), e.tolist(), peaks.tolist(), support.tolist(), strict=True
            )
            if ok >= MIN_SUPPORT
        ]
    return out


def lateral(m: Motion, cfg: dict, norms: _Norms | None = None) -> list[Candidate]:
    """harsh_turn and harsh_lane_change, told apart by the heading change the gyro integrates.

    A turn is one lateral lobe that changes heading; a lane change is two opposite lobes in quick
    succession whose heading change cancels. Direction: the side the vehicle moves to first
    (left = positive lateral acceleration and yaw rate in ISO 8855). Every per-lobe quantity
    is one segmented sum over the drive; the loop below only compares numbers. ``norms``: as
    for :func:`longitudinal`.
    """
    out = []
    y = m.accel[:, 1]
    min_len = max(int(cfg["min_duration_s"] * m.rate_hz), 1)
    gap = int(cfg["merge_gap_s"] * m.rate_hz)
    lc, turn = cfg["lane_change_g"] * G, cfg["turn_g"] * G
    spans = signed_lobes(y, min(lc, turn) / 2)
    if not spans:
        return []
    s, e, sign = (np.array(c) for c in zip(*spans, strict=True))
    high = span_sums(y, s, e, np.fmax)
    low = span_sums(y, s, e, np.fmin)
    peak = np.where(sign > 0, high, -low).tolist()
    # heading change from sample s to e - 1: the yaw rate summed over [s + 1, e)
    yaw = m.yaw_rate if np.isfinite(m.yaw_rate.sum()) else np.nan_to_num(m.yaw_rate)
    yaw_sum, yaw_gap = span_and_gap_sums(yaw, s, e)
    yaw_sum -= yaw[s]
    deg = np.degrees(1.0 / m.rate_hz)
    turned = (yaw_sum * deg).tolist()
    turned_pair = ((yaw_sum[:-1] + yaw_gap + yaw_sum[1:] + yaw[s[1:]]) * deg).tolist()
    left = span_sums(y >= turn, s, e)
    right = span_sums(y <= -turn, s, e)
    strong = np.where(sign > 0, left, right).tolist()
    wide, wide_gap = span_and_gap_sums(np.abs(y) >= lc, s, e)
    strong_pair = (wide[:-1] + wide_gap + wide[1:]).tolist()
    norms = norms or _Norms(m)
    support, support_pair = (r.tolist() for r in norms.pair_support(s, e))
    s, e, sign = s.tolist(), e.tolist(), sign.tolist()
    used = set()
    for k in range(len(s)):
        if k in used:
            continue
        pair = k + 1 < len(s) and sign[k + 1] == -sign[k] and s[k + 1] - e[k] <= gap
        if (
            pair
            and abs(turned_pair[k]) <= cfg["lane_change_max_heading_deg"]
            and strong_pair[k] >= min_len
            and support_pair[k] >= MIN_SUPPORT
        ):
            side = _side(sign[k])
            peak2 = max(peak[k], peak[k + 1])
            sure = min(1.0, support_pair[k])
            out.append(
                Candidate("harsh_lane_change", s[k], e[k + 1], peak2, "m/s^2", lc, side, sure)
            )
            used.add(k + 1)
            continue
        if (
            abs(turned[k]) >= cfg["turn_min_heading_deg"]
            and strong[k] >= min_len
            and support[k] >= MIN_SUPPORT
        ):
            side = _side(np.sign(turned[k]))
            sure = min(1.0, support[k])
            out.append(Candidate("harsh_turn", s[k], e[k], peak[k], "m/s^2", turn, side, sure))
    return _merge_double_lane_changes(out, int(cfg["double_lane_change_gap_s"] * m.rate_hz))


def _merge_double_lane_changes(cands: list[Candidate], gap: int) -> list[Candidate]:
    """A lane change followed within ``gap`` samples by one to the other side is ONE manoeuvre.

    Out-and-back (positioning in one lane before a change to the other, a swerve, ISO 3888's
    double lane change) is one event, not two: it spans both halves and takes the direction of
    the half that completes it, the later one, and the lower confidence. (The harsher half,
    by mean-square lateral acceleration, was tried first: it named all four of trip21's pairs
    right but both of unseen trip 17's wrong, where the positioning half was the harsher.)
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
            out[-1] = Candidate(
                c.type,
                prev.i0,
                c.i1,
                max(prev.peak, c.peak),
                c.unit,
                c.threshold,
                c.direction,
                min(prev.confidence, c.confidence),
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
    if spans := lobes(m.shock_peak, impact_thr, impact_thr, 1):
        s, e = np.array(spans).T
        shock = span_sums(m.shock_peak, s, e, np.fmax)
        vertical = span_sums(m.vertical_peak, s, e, np.fmax)
        for i0, i1, peak, up in zip(
            s.tolist(), e.tolist(), shock.tolist(), vertical.tolist(), strict=True
        ):
            if up < 0.8 * peak:
                out.append(
                    Candidate(
                        "impact",
                        max(i0 - half, 0),
                        i1 + half,
                        peak,
                        "m/s^2",
                        impact_thr,
                        confidence=_stopped_after(m, i1),
                    )
                )
    if spans := lobes(m.vertical_peak, pothole_thr, pothole_thr, 1):
        s, e = axle_pairs(m, cfg, *np.array(spans).T)
        vertical = span_sums(m.vertical_peak, s, e, np.fmax)
        impacts = [(c.i0, c.i1) for c in out]
        for i0, i1, peak in zip(s.tolist(), e.tolist(), vertical.tolist(), strict=True):
            if not any(a < i1 and i0 < b for a, b in impacts):
                out.append(
                    Candidate("pothole", max(i0 - half, 0), i1 + half, peak, "m/s^2", pothole_thr)
                )
    return out


def axle_pairs(m: Motion, cfg: dict, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jolt spans with each one's rear-axle echo joined to it: one pothole, not two.

    The rear wheels cross a pothole a wheelbase after the front ones, ``wheelbase_m / speed``
    later (0.3 s at 30 km/h for a car): a jolt that follows the previous one within that gap
    (plus a 0.1 s margin for the spans' edges) is the same hole. Without a speed the gap is
    ``pothole_axle_gap_s``, which covers a car's wheelbase down to about 10 km/h. Spans are
    few (jolts above the pothole level), so a loop over them costs nothing next to the passes.
    """
    if len(s) < 2:
        return s, e
    if m.speed is None:
        gap_s = np.full(len(s) - 1, cfg["pothole_axle_gap_s"])
    else:
        speed = np.fmax(np.nan_to_num(m.speed[np.minimum(e[:-1], len(m.speed) - 1)]), 1.0)
        gap_s = cfg["wheelbase_m"] / speed + 0.1
    echo = (s[1:] - e[:-1] <= gap_s * m.rate_hz).tolist()
    first, last = [], []
    k = 0
    while k < len(s):  # a jolt takes at most one echo: a run of them is rough road, not one hole
        paired = k < len(echo) and echo[k]
        first.append(k)
        last.append(k + paired)
        k += 1 + paired
    return s[first], e[last]


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
    norms = _Norms(m)
    cands = [
        *longitudinal(m, cfg, norms),
        *lateral(m, cfg, norms),
        *shocks(m, cfg),
        *speeding(m, cfg, limits),
    ]
    cands = suppress_overlaps(cands, m.rate_hz)
    return [c for c in cands if types is None or c.type in types]
