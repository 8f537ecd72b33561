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
from dataclasses import dataclass, field

import numpy as np

from drivelake.signals.filters import moving_average
from drivelake.signals.gravity import up_axis

#: Yaw rate (rad/s) below which the vehicle counts as going straight.
STRAIGHT_YAW_RATE = 0.03
#: Horizontal acceleration (m/s²) below which a sample says nothing about the axes.
MIN_MANOEUVRE_ACCEL = 0.4
#: Angle (deg) between windowed gravity directions that means the mount moved.
MOUNT_CHANGE_DEG = 15.0


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
    """Per-sample forward angle plus the spans it was estimated from."""

    up: np.ndarray  # (n, 3) unit up vector per sample, sensor frame
    basis: np.ndarray  # (n, 2, 3): two horizontal unit vectors per sample
    phi: np.ndarray  # (n,) forward angle in that basis
    spans: list[CalibrationSpan] = field(default_factory=list)
    heading_tracked: bool = False

    @property
    def quality(self) -> float:
        """Duration-weighted quality of the spans."""
        if not self.spans:
            return 0.0
        w = np.array([s.end_s - s.start_s for s in self.spans])
        q = np.array([s.quality for s in self.spans])
        return float((w * q).sum() / max(w.sum(), 1e-9))

    def to_vehicle(self, vec: np.ndarray) -> np.ndarray:
        """Rotate sensor-frame vectors (n, 3) into the vehicle frame: forward, left, up."""
        h1 = np.einsum("ij,ij->i", vec, self.basis[:, 0])
        h2 = np.einsum("ij,ij->i", vec, self.basis[:, 1])
        c, s = np.cos(self.phi), np.sin(self.phi)
        return np.stack(
            [c * h1 + s * h2, c * h2 - s * h1, np.einsum("ij,ij->i", vec, self.up)], axis=1
        )


def horizontal_basis(up: np.ndarray) -> np.ndarray:
    """Two unit vectors completing ``up`` to a right-handed frame (e1, e2, up)."""
    seed = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = seed - up * (seed @ up)
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(up, e1)])


def axis_evidence(w: np.ndarray, yaw_rate: np.ndarray) -> tuple[complex, complex]:
    """Evidence about the forward direction in complex horizontal accelerations ``w``.

    Returns ``(left, axis)``: ``left`` is the yaw-correlated acceleration (centripetal physics),
    normalised to a correlation, so ``arg(left) - pi/2`` is the forward angle with its sign;
    ``axis`` is the mean doubled angle of straight-line accelerations (``|axis|`` near 1 when they
    all lie on one line), so ``arg(axis) / 2`` is the forward axis without its sign.
    """
    ok = np.isfinite(w) & np.isfinite(yaw_rate)
    w, yaw_rate = w[ok], yaw_rate[ok]
    denom = np.sqrt(np.sum(np.abs(w) ** 2) * np.sum(yaw_rate**2))
    left = complex(np.sum(w * yaw_rate) / denom) if denom > 0 else 0j
    straight = (np.abs(yaw_rate) < STRAIGHT_YAW_RATE) & (np.abs(w) > MIN_MANOEUVRE_ACCEL)
    axis = 0j
    if straight.sum() >= 10:
        ws = w[straight]
        axis = complex(np.sum(ws**2) / np.sum(np.abs(ws) ** 2))
    return left, axis


def combine_evidence(left: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward angles and qualities from per-window evidence that shares one sign.

    The doubled-angle axis of every window (straight-line evidence plus the turn evidence's own
    axis) is unwrapped into one continuous track; the sign of the whole track is then decided by
    all windows' turn evidence together, so one window with few turns cannot flip the forward
    axis. Quality: how consistent the axis evidence is, times how decisive the sign vote was.
    """
    fwd_turn = left * -1j  # forward = left rotated by -90°
    doubled = axis + fwd_turn**2 / np.maximum(np.abs(fwd_turn), 1e-12)
    beta = np.unwrap(np.angle(doubled)) / 2
    vote = np.real(fwd_turn * np.exp(-1j * beta))
    sign_total = np.sum(vote)
    delta = beta + (0.0 if sign_total >= 0 else np.pi)
    decisive = abs(sign_total) / max(np.sum(np.abs(vote)), 1e-12)
    quality = np.clip(np.abs(doubled) / 2, 0, 1) * decisive
    return delta, quality


def _mount_spans(accel: np.ndarray, rate_hz: float, window_s: float) -> list[tuple[int, int]]:
    """Index ranges of constant mount: split where the windowed gravity direction jumps."""
    n = len(accel)
    step = max(int(window_s * rate_hz), 1)
    starts = np.arange(0, n, step)
    g = np.array([np.nanmean(accel[s : s + step], axis=0) for s in starts])
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    cos = np.einsum("ij,ij->i", g[1:], g[:-1])
    cuts = starts[1:][cos < np.cos(np.radians(MOUNT_CHANGE_DEG))]
    bounds = [0, *cuts.tolist(), n]
    return list(itertools.pairwise(bounds))


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
    whose horizontal axes do not turn with the vehicle.
    """
    n = len(accel)
    t_s = np.arange(n) / rate_hz
    up = np.empty((n, 3))
    basis = np.empty((n, 2, 3))
    phi = np.zeros(n)
    spans: list[CalibrationSpan] = []
    smooth = max(int(smooth_s * rate_hz), 1)
    mount_spans = [(0, n)] if heading_tracked else _mount_spans(accel, rate_hz, window_s)
    for i0, i1 in mount_spans:
        u = up_axis(accel[i0:i1])
        b = horizontal_basis(u)
        up[i0:i1], basis[i0:i1] = u, b
        a = moving_average(accel[i0:i1], smooth)
        a = a - np.nanmean(a, axis=0)
        z = a @ b[0] + 1j * (a @ b[1])
        yaw = moving_average(gyro[i0:i1] @ u, smooth)
        if heading_tracked:
            psi = np.cumsum(np.nan_to_num(gyro[i0:i1] @ u)) / rate_hz
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
            delta, q = combine_evidence(*(np.array([e]) for e in axis_evidence(z, yaw)))
            phi[i0:i1] = delta[0]
            spans.append(
                CalibrationSpan(
                    float(t_s[i0]),
                    float(i1 / rate_hz),
                    _rotation(u, b, phi[i0]),
                    float(np.degrees(phi[i0])),
                    float(q[0]),
                    "gravity_turns_straights",
                )
            )
    return Calibration(up, basis, phi, spans, heading_tracked)


def _tracked_offsets(
    z: np.ndarray,
    yaw: np.ndarray,
    psi: np.ndarray,
    rate_hz: float,
    window_s: float,
    hop_s: float,
    offset: int,
) -> tuple[np.ndarray, list[tuple[int, int, float, float]]]:
    """Forward angle per sample for an Earth frame: integrated yaw plus windowed offsets."""
    n = len(z)
    w = z * np.exp(-1j * psi)
    win, hop = max(int(window_s * rate_hz), 1), max(int(hop_s * rate_hz), 1)
    starts = np.arange(0, max(n - win, 0) + 1, hop)
    ends = np.minimum(starts + win, n)
    evidence = np.array(
        [axis_evidence(w[s:e], yaw[s:e]) for s, e in zip(starts, ends, strict=True)]
    )
    delta, quality = combine_evidence(evidence[:, 0], evidence[:, 1])
    delta_t = np.interp(np.arange(n), (starts + ends) / 2, delta)
    spans = [
        (int(s) + offset, int(e) + offset, float(d), float(q))
        for s, e, d, q in zip(starts, ends, delta, quality, strict=True)
    ]
    return psi + delta_t, spans


def _rotation(up: np.ndarray, basis: np.ndarray, phi: float) -> np.ndarray:
    """The 3x3 sensor -> vehicle rotation for forward angle ``phi``."""
    fwd = np.cos(phi) * basis[0] + np.sin(phi) * basis[1]
    return np.stack([fwd, np.cross(up, fwd), up])
