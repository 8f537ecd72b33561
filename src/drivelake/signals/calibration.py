"""Orientation calibration from the data alone: sensor frame -> vehicle frame (ISO 8855).

Up comes from gravity (:mod:`~drivelake.signals.gravity`). The forward axis lies in the
horizontal plane, and two facts of vehicle physics pin it down:

* straight-line speed changes (yaw rate near zero) accelerate the vehicle along its forward axis,
  so horizontal acceleration while going straight spans the forward *axis* (sign unknown);
* in a turn the centripetal acceleration ``v * yaw_rate`` points to the inside of the turn and
  ``v > 0``, so the horizontal acceleration correlated with the yaw rate points *left*. That gives
  the forward axis its sign (and, without straight-line data, the axis itself).

Writing horizontal acceleration as a complex number ``z = a1 + i a2`` in a basis of the
horizontal plane, the forward direction is the angle ``phi`` with ``a_long + i a_lat =
z * exp(-i phi)``. For a sensor fixed to the vehicle ``phi`` is constant per mount span. For an
Earth frame (a phone reporting east/north) ``phi`` is the vehicle's heading in that frame: it
follows the integrated yaw rate through turns, ``phi(t) = psi(t) + delta(t)``, where the offset
``delta`` absorbs gyro bias and the phone's own drifting Earth frame and is re-estimated in
overlapping windows, then interpolated between them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from drivelake.signals.filters import cumulative, moving_average, penalised_smooth
from drivelake.signals.gravity import STANDARD_GRAVITY

#: Yaw rate (rad/s) below which the vehicle counts as going straight.
STRAIGHT_YAW_RATE = 0.03
#: Horizontal acceleration (m/s²) below which a sample says nothing about the axes.
MIN_MANOEUVRE_ACCEL = 0.4
#: Angle (deg) between windowed gravity directions that means the mount moved.
MOUNT_CHANGE_DEG = 15.0
#: How firmly neighbouring windows' forward axes hold each other's sign (see
#: :func:`_signed_axes`): two windows with full-strength axes cost this much twice over to flip
#: between, about the turn evidence of ten windows with a few turns each.
AXIS_LINK_WEIGHT = 5.0
#: Weight of the step between neighbouring windows' forward angles, against each window's own
#: axis strength (0..1): a window with little evidence takes its neighbours' angle, one with
#: full-strength evidence moves by a few degrees at most.
AXIS_SMOOTHING = 0.1
#: An Earth frame's heading offset is signed in long windows and followed in these (s).
FINE_WINDOW_S = 20.0
FINE_HOP_S = 10.0
#: Weight of the long windows' signed track on a short window's angle, against that window's
#: own axis strength (0..1).
SIGNED_TRACK_PRIOR = 0.2


@dataclass
class CalibrationSpan:
    """One stretch of constant mount (or, in an Earth frame, one estimation window)."""

    start_s: float
    end_s: float
    rotation: np.ndarray  # 3x3, sensor -> vehicle, at the middle of the span
    yaw_offset_deg: (
        float  # forward angle in the horizontal basis (minus integrated yaw, if tracked)
    )
    quality: float  # 0..1: how strongly the data determined the forward axis and its sign
    method: str


@dataclass
class Calibration:
    """Per-sample forward angle plus the spans it was estimated from.

    ``segments`` are the index ranges of constant mount, each with its up vector and horizontal
    basis; per-sample arrays (``up``, ``basis``) are built only on request.
    """

    segments: list[tuple[int, int, np.ndarray, np.ndarray]]  # (i0, i1, up (3,), basis (2, 3))
    phi: np.ndarray  # (n,) forward angle in the segment's basis
    spans: list[CalibrationSpan] = field(default_factory=list)
    heading_tracked: bool = False
    #: time constant (s) of the phone's own orientation filter that was undone, if any
    filter_tau_s: float | None = None

    @property
    def quality(self) -> float:
        """Duration-weighted quality of the spans."""
        if not self.spans:
            return 0.0
        w = np.array([s.end_s - s.start_s for s in self.spans])
        q = np.array([s.quality for s in self.spans])
        return float((w * q).sum() / max(w.sum(), 1e-9))

    @property
    def up(self) -> np.ndarray:
        """(n, 3) unit up vector per sample, sensor frame."""
        out = np.empty((len(self.phi), 3))
        for i0, i1, u, _ in self.segments:
            out[i0:i1] = u
        return out

    @property
    def basis(self) -> np.ndarray:
        """(n, 2, 3): the two horizontal unit vectors per sample."""
        out = np.empty((len(self.phi), 2, 3))
        for i0, i1, _, b in self.segments:
            out[i0:i1] = b
        return out

    def to_vehicle(self, vec: np.ndarray) -> np.ndarray:
        """Rotate sensor-frame vectors (n, 3) into the vehicle frame: forward, left, up.

        One 3x3 product per segment when the forward angle is constant there (a fixed mount);
        an Earth frame's per-sample heading adds one rotation in the horizontal plane. The
        result is component-major underneath (a transposed (3, n) array): each component, which
        is what detectors read, is one contiguous row.
        """
        out = np.empty((3, len(vec)))
        for i0, i1, u, b in self.segments:
            if not self.heading_tracked:
                np.matmul(_rotation(u, b, float(self.phi[i0])), vec[i0:i1].T, out=out[:, i0:i1])
                continue
            h = np.stack([b[0], b[1], u]) @ vec[i0:i1].T
            c, s = np.cos(self.phi[i0:i1]), np.sin(self.phi[i0:i1])
            out[0, i0:i1] = c * h[0] + s * h[1]
            out[1, i0:i1] = c * h[1] - s * h[0]
            out[2, i0:i1] = h[2]
        return out.T


def horizontal_basis(up: np.ndarray) -> np.ndarray:
    """Two unit vectors completing ``up`` to a right-handed frame (e1, e2, up)."""
    seed = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = seed - up * (seed @ up)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, _cross(up, e1)])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (``np.cross`` costs more in overhead than in work)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def axis_evidence(w: np.ndarray, yaw_rate: np.ndarray) -> tuple[complex, complex]:
    """Evidence about the forward direction in complex horizontal accelerations ``w``.

    Returns ``(left, axis)``: ``left`` is the yaw-correlated acceleration (centripetal physics),
    normalised to a correlation, so ``arg(left) - pi/2`` is the forward angle with its sign;
    ``axis`` is the mean doubled angle of straight-line accelerations (``|axis|`` near 1 when they
    all lie on one line), so ``arg(axis) / 2`` is the forward axis without its sign.
    """
    x, y = np.real(w), np.imag(w)
    if not np.isfinite(np.dot(x, yaw_rate) + np.dot(y, yaw_rate)):  # NaN/inf somewhere: drop
        ok = np.isfinite(w) & np.isfinite(yaw_rate)
        x, y, yaw_rate = x[ok], y[ok], yaw_rate[ok]
    return _evidence_xy(np.ascontiguousarray(x), np.ascontiguousarray(y), yaw_rate)


def _evidence_xy(x: np.ndarray, y: np.ndarray, yaw_rate: np.ndarray) -> tuple[complex, complex]:
    """:func:`axis_evidence` on finite real and imaginary parts: dot products, no complex."""
    xx, yy = np.square(x), np.square(y)
    p2 = xx + yy
    denom = np.sqrt(p2.sum() * np.dot(yaw_rate, yaw_rate))
    left = complex(np.dot(x, yaw_rate), np.dot(y, yaw_rate)) / denom if denom > 0 else 0j
    straight = np.abs(yaw_rate) < STRAIGHT_YAW_RATE
    straight &= p2 > MIN_MANOEUVRE_ACCEL**2
    axis = 0j
    if np.count_nonzero(straight) >= 10:
        # sums over the straight samples as dot products with the mask (no gathers)
        w = straight.astype(x.dtype)
        xx -= yy
        axis = complex(np.dot(w, xx), 2 * np.dot(w, x * y)) / np.dot(w, p2)
    return left, axis


def combine_evidence(left: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward angles and qualities from per-window evidence.

    Each window's doubled-angle axis (straight-line evidence plus the turn evidence's own axis)
    gives its forward axis without a sign; the signs are chosen for all windows together
    (:func:`_signed_axes`): a window keeps the sign of its neighbours where their axes join
    firmly, so one window with few turns cannot flip the forward axis, and a stretch joined to
    the rest only through windows without axis evidence is signed by its own turns.
    Quality: how consistent the axis evidence is, times how decisive the turn evidence was.
    """
    fwd_turn = left * -1j  # forward = left rotated by -90°
    doubled = _doubled_axis(fwd_turn, axis)
    if len(doubled) > 2:
        delta = _signed_axes(doubled, fwd_turn)
    else:  # one or two windows: one sign for both (and no Viterbi overhead)
        delta = np.angle(doubled) / 2
        if len(delta) == 2:
            delta[1] = delta[0] + np.angle(doubled[1] / doubled[0]) / 2
        if np.sum(np.real(fwd_turn * np.exp(-1j * delta))) < 0:
            delta = delta + np.pi
    vote = np.real(fwd_turn * np.exp(-1j * delta))
    decisive = abs(np.sum(vote)) / max(np.sum(np.abs(vote)), 1e-12)
    quality = np.clip(np.abs(doubled) / 2, 0, 1) * decisive
    return delta, quality


def _doubled_axis(fwd_turn: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The forward axis as a doubled angle: straight-line evidence plus the turns' own axis."""
    return axis + fwd_turn**2 / np.maximum(np.abs(fwd_turn), 1e-12)


def _signed_axes(doubled: np.ndarray, fwd_turn: np.ndarray) -> np.ndarray:
    """Each window's forward angle, continuous from window to window: its axis with the sign
    that best fits its own turn evidence and its neighbours' axes.

    Two states per window (the axis and its opposite), chosen by Viterbi: a window's turn
    evidence votes for one of them, and a change of angle between neighbours costs
    ``AXIS_LINK_WEIGHT * (1 - cos)`` times the weaker of their neighbourhoods' mean axis
    strengths: two firm stretches 180° apart cost ``2 * AXIS_LINK_WEIGHT`` times that strength
    to flip between. A stretch joined to the rest only through windows without axis evidence
    (no straight-line accelerations, no turns) is signed by its own turns. Before, one track was
    unwrapped through all windows and signed by one vote: across two weak windows it could slip
    by half a turn and leave a stretch of the drive driving backwards.
    """
    half = np.angle(doubled) / 2
    phi = np.stack([half, half + np.pi])  # (2, n): the two signs of every window's axis
    vote = np.real(fwd_turn * np.exp(-1j * phi))
    strength = np.clip(np.abs(doubled) / 2, 0, 1)
    # a link's strength is the weaker of two neighbourhoods' (each window with its neighbours):
    # one window without evidence between two firm ones does not cut the chain
    pooled = strength.copy()
    pooled[1:] += strength[:-1]
    pooled[:-1] += strength[1:]
    link = (AXIS_LINK_WEIGHT / 3) * np.minimum(pooled[:-1], pooled[1:])
    # step[a, b, i]: the cost of state a at window i followed by state b at window i + 1
    step = link * (1 - np.cos(phi[None, :, 1:] - phi[:, None, :-1]))
    n = len(half)
    cost = -vote[:, 0]
    came_from = np.zeros((n, 2), dtype=np.intp)
    for i in range(1, n):
        total = cost[:, None] + step[:, :, i - 1]
        came_from[i] = np.argmin(total, axis=0)
        cost = total[came_from[i], [0, 1]] - vote[:, i]
    state = np.empty(n, dtype=np.intp)
    state[-1] = int(np.argmin(cost))
    for i in range(n - 1, 0, -1):
        state[i - 1] = came_from[i, state[i]]
    # a window's angle leans on its neighbours' in proportion to how little evidence it has
    track = np.unwrap(phi[state, np.arange(n)])
    return penalised_smooth(strength + 1e-9, strength * track, AXIS_SMOOTHING)


def _mount_spans(a: np.ndarray, rate_hz: float, window_s: float) -> list[tuple[int, int]]:
    """Index ranges of constant mount: split where the windowed gravity direction jumps.

    ``a`` is the accelerometer, component-major (3, n): every window's mean is one segmented
    sum. A mount change inside a window blurs that window's direction, so windows are compared
    with both neighbours and with the ones two apart; each run of windows that disagree is then
    cut at the single sample that best separates the mean specific force before and after it
    (the CUSUM change-point estimate), not at a window edge.
    """
    n = a.shape[1]
    step = max(int(window_s * rate_hz), 1)
    starts = np.arange(0, n, step)
    ends = np.minimum(starts + step, n)
    g = np.add.reduceat(a, starts, axis=1).T.astype(np.float64)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    limit = np.cos(np.radians(MOUNT_CHANGE_DEG))
    regions: list[list[int]] = []
    for gap in (1, 2):
        cos = np.einsum("ij,ij->i", g[gap:], g[:-gap])
        for k in np.flatnonzero(cos < limit).tolist():
            regions.append([int(starts[k]), int(ends[k + gap])])
    regions.sort()
    merged: list[list[int]] = []
    for r in regions:
        if merged and r[0] < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], r[1])
        else:
            merged.append(r)
    cuts = [_change_point(a, s, e) for s, e in merged]
    bounds = [0, *sorted(set(cuts)), n]
    return [(s, e) for s, e in itertools.pairwise(bounds) if e > s]


def _change_point(a: np.ndarray, s: int, e: int) -> int:
    """The index in ``(s, e)`` that best splits ``a[:, s:e]`` into two means."""
    c = cumulative(a[:, s:e]).T  # c[k] = sum of the first k samples of the region
    k = np.arange(1, e - s)
    frac = (k / (e - s))[:, None]
    dev = c[k] - frac * c[-1]
    stat = np.einsum("ij,ij->i", dev, dev) / (frac[:, 0] * (1 - frac[:, 0]))
    return s + int(k[np.argmax(stat)])


def frame_segments(
    a: np.ndarray, rate_hz: float, *, heading_tracked: bool = False, window_s: float = 60.0
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Spans of constant mount with their up vector and horizontal basis, ``(i0, i1, up, basis)``.

    ``a`` is the finite accelerometer, component-major (3, n). An Earth frame is one span (its
    up does not move; the heading is tracked inside it).
    """
    n = a.shape[1]
    spans = [(0, n)] if heading_tracked else _mount_spans(a, rate_hz, window_s)
    segments = []
    for i0, i1 in spans:
        u = a[:, i0:i1].sum(axis=1).astype(np.float64)  # pairwise: float32 is exact enough
        norm = np.linalg.norm(u) / max(i1 - i0, 1)
        if not np.isfinite(norm) or norm < 0.5 * STANDARD_GRAVITY:
            raise ValueError(
                "no consistent gravity in the accelerometer: cannot tell which way is up"
            )
        u = u / np.linalg.norm(u)
        segments.append((i0, i1, u, horizontal_basis(u)))
    return segments


def project(a: np.ndarray, segments: list) -> np.ndarray:
    """(3, n) vectors into each segment's frame ``(basis[0], basis[1], up)``, in ``a``'s dtype.

    Within a segment the projection is a fixed orthonormal matrix, so it commutes with moving
    averages and keeps norms: smoothing, gravity and the specific-force norm can all be taken
    after it, on contiguous rows.
    """
    out = np.empty((3, a.shape[1]), a.dtype)
    for i0, i1, u, b in segments:
        np.matmul(np.stack([b[0], b[1], u]).astype(a.dtype), a[:, i0:i1], out=out[:, i0:i1])
    return out


def calibrate(
    accel: np.ndarray,
    gyro: np.ndarray,
    rate_hz: float,
    *,
    heading_tracked: bool = False,
    smooth_s: float = 1.0,
    window_s: float = 60.0,
    hop_s: float = 20.0,
) -> Calibration:
    """Calibrate sensor -> vehicle from accelerometer and gyro samples on a uniform grid.

    ``accel`` and ``gyro`` are (n, 3) in the sensor frame (accel including gravity) at
    ``rate_hz`` (a few Hz to tens of Hz is plenty). ``heading_tracked`` is for Earth frames,
    whose horizontal axes do not turn with the vehicle. Non-finite samples count as the mean
    specific force and zero rotation (no evidence either way).
    """
    accel = np.asarray(accel, dtype=np.float64)
    gyro = np.asarray(gyro, dtype=np.float64)
    bad = ~(np.isfinite(accel).all(axis=1) & np.isfinite(gyro).all(axis=1))
    if bad.any():
        accel, gyro = accel.copy(), gyro.copy()
        accel[bad] = np.nanmean(accel[~bad], axis=0) if (~bad).any() else 0.0
        gyro[bad] = 0.0
    a = np.ascontiguousarray(accel.T)
    segments = frame_segments(a, rate_hz, heading_tracked=heading_tracked, window_s=window_s)
    smooth = max(int(smooth_s * rate_hz), 1)
    h = moving_average(project(a, segments)[:2], smooth)
    return calibrate_frames(
        h,
        segments,
        lambda i0, i1, u: gyro[i0:i1] @ u,
        rate_hz,
        heading_tracked=heading_tracked,
        smooth_n=smooth,
        window_s=window_s,
        hop_s=hop_s,
    )


def calibrate_frames(
    h: np.ndarray,
    segments: list[tuple[int, int, np.ndarray, np.ndarray]],
    yaw_of: Callable[[int, int, np.ndarray], np.ndarray],
    rate_hz: float,
    *,
    heading_tracked: bool = False,
    smooth_n: int = 10,
    window_s: float = 60.0,
    hop_s: float = 20.0,
) -> tuple[Calibration, np.ndarray]:
    """:func:`calibrate` from the smoothed horizontal specific force of :func:`frame_segments`.

    ``h`` (2, n) is the specific force in each segment's horizontal basis (:func:`project`),
    smoothed over ``smooth_n`` samples; its mean over a segment is zero by construction (up is
    the segment's mean specific force). ``yaw_of(i0, i1, up)`` returns the finite gyro rate
    about ``up`` for samples ``i0:i1`` (so a caller holding raw samples can project them straight
    onto up without a 3-axis mean). Returns the calibration and that yaw rate over the whole
    drive, which the caller reuses.
    """
    n = h.shape[1]
    phi = np.zeros(n)
    yaw_raw = np.empty(n, h.dtype)  # float32 from raw float32 samples: rates, not headings
    spans: list[CalibrationSpan] = []
    for i0, i1, u, b in segments:
        yaw_raw[i0:i1] = yaw_of(i0, i1, u)
        yaw = moving_average(yaw_raw[i0:i1], smooth_n)
        if heading_tracked:
            z = h[0, i0:i1] + 1j * h[1, i0:i1]
            psi = np.cumsum(yaw_raw[i0:i1], dtype=np.float64) / rate_hz
            phi[i0:i1], found = _tracked_offsets(z, yaw, psi, rate_hz, window_s, hop_s, i0)
            spans.extend(
                CalibrationSpan(
                    s / rate_hz,
                    e / rate_hz,
                    _rotation(u, b, phi[(s + e) // 2]),
                    float(np.degrees(d)),
                    q,
                    "earth_frame_heading_tracked",
                )
                for s, e, d, q in found
            )
        else:
            evidence = _evidence_xy(h[0, i0:i1], h[1, i0:i1], yaw)
            delta, q = combine_evidence(*(np.array([e]) for e in evidence))
            phi[i0:i1] = delta[0]
            spans.append(
                CalibrationSpan(
                    i0 / rate_hz,
                    i1 / rate_hz,
                    _rotation(u, b, phi[i0]),
                    float(np.degrees(phi[i0])),
                    float(q[0]),
                    "gravity_turns_straights",
                )
            )
    return Calibration(list(segments), phi, spans, heading_tracked), yaw_raw


def _tracked_offsets(
    z: np.ndarray,
    yaw: np.ndarray,
    psi: np.ndarray,
    rate_hz: float,
    window_s: float,
    hop_s: float,
    offset: int,
) -> tuple[np.ndarray, list[tuple[int, int, float, float]]]:
    """Forward angle per sample for an Earth frame: integrated yaw plus windowed offsets.

    The offset is signed in ``window_s`` windows (evidence enough for a firm sign, see
    :func:`combine_evidence`) and then followed in windows of :data:`FINE_WINDOW_S`
    (:func:`_followed_offsets`): a phone's heading offset can swing 90° in half a minute, as in
    the first seconds of trip 20's recording, faster than the long windows follow.
    """
    n = len(z)
    w = z * np.exp(-1j * psi)
    starts, ends = _windows(n, window_s * rate_hz, hop_s * rate_hz)
    evidence = _window_evidence(w, yaw, starts, ends)
    delta, quality = combine_evidence(evidence[:, 0], evidence[:, 1])
    fine = _followed_offsets(w, yaw, ((starts + ends) / 2, delta), rate_hz)
    spans = [
        (int(s) + offset, int(e) + offset, float(d), float(q))
        for s, e, d, q in zip(starts, ends, delta, quality, strict=True)
    ]
    return psi + fine, spans


def _windows(n: int, window: float, hop: float) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of windows of ``window`` samples every ``hop`` covering ``n`` samples."""
    win, step = max(int(window), 1), max(int(hop), 1)
    starts = np.arange(0, max(n - win, 0) + 1, step)
    return starts, np.minimum(starts + win, n)


def _window_evidence(
    w: np.ndarray, yaw: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """(k, 2) complex: :func:`axis_evidence` ``(left, axis)`` of every window."""
    return np.array([axis_evidence(w[s:e], yaw[s:e]) for s, e in zip(starts, ends, strict=True)])


def _followed_offsets(
    w: np.ndarray, yaw: np.ndarray, signed: tuple[np.ndarray, np.ndarray], rate_hz: float
) -> np.ndarray:
    """The offset per sample from short windows, each on the branch nearest the signed track.

    ``signed`` is ``(centres, angles)`` of the long windows. A short window's axis (no sign of
    its own) is placed on the branch nearest the signed track there; the angles are then
    smoothed with each window's axis strength as its weight and the signed track as a weak prior
    (:data:`SIGNED_TRACK_PRIOR`), so a short window without evidence follows the long ones.
    """
    n = len(w)
    starts, ends = _windows(n, FINE_WINDOW_S * rate_hz, FINE_HOP_S * rate_hz)
    evidence = _window_evidence(w, yaw, starts, ends)
    doubled = _doubled_axis(evidence[:, 0] * -1j, evidence[:, 1])
    centres = (starts + ends) / 2
    track = np.interp(centres, *signed)
    nearest = track + np.angle(doubled * np.exp(-2j * track)) / 2
    strength = np.clip(np.abs(doubled) / 2, 0, 1)
    prior = SIGNED_TRACK_PRIOR
    angles = penalised_smooth(strength + prior, strength * nearest + prior * track, AXIS_SMOOTHING)
    return np.interp(np.arange(n), centres, angles)


def _rotation(up: np.ndarray, basis: np.ndarray, phi: float) -> np.ndarray:
    """The 3x3 sensor -> vehicle rotation for forward angle ``phi``."""
    fwd = np.cos(phi) * basis[0] + np.sin(phi) * basis[1]
    return np.stack([fwd, _cross(up, fwd), up])
