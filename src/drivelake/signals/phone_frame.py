"""A phone's own Earth frame, levelled: the tilt its orientation filter adds, found and undone.

A phone that reports its readings in an Earth frame (east, north, up) estimates that frame
itself, and its filter pulls "up" towards the apparent gravity: a sustained horizontal
acceleration ``h`` is slowly taken for tilt. The frame leans towards ``h``; it shows less of
``h`` horizontally (a first-order filter shows ``h - LP_tau(h)``) and more specific force
vertically. In hard turns real phones lean 20-35°: trip 20 of the shared phone dataset reads
11.7-14.5 m/s² "vertical" through 0.6-0.8 g turns, and half the turn's lateral acceleration
is gone from the horizontal. Every sensor the phone reports is rotated with the frame, so the
drive itself holds two observations of that tilt:

* **The gyroscope, while turning.** A vehicle turns about the true vertical, so while it turns,
  the gyro's axis as the phone reports it *is* the true up in the phone's frame: its horizontal
  rates are the yaw rate times the tilt, ``w_xy = w_z * theta``. Direct, but only during turns,
  and body roll and mount wobble add rates of their own.
* **The filter model**, everywhere: the tilt is ``LP_tau(h) / g = integral(shown h) / (tau g)``.
  Its one parameter ``1/tau`` is fitted to the frame-free specific-force norm: the horizontal
  magnitude must match ``|h|² = |f|² - g²`` over the whole drive. (Fitting it to the gyro's
  observations instead agrees on trip21, 2.8 s against 2.9 s, but not on trips 17 and 20, 3.0
  against 1.7 s and 1.5 against 6.7 s: real filters are not first-order, and the norm's fit
  is the one that sizes braking and acceleration right, which the gyro cannot see.)

The tilt per sample is the least-squares blend of the two (the gyro weighted by the squared yaw
rate, the model by :data:`GYRO_TRUST_YAW_RATE` squared), smooth over :data:`TILT_SMOOTH_S`;
the readings (accelerometer and gyro) are rotated back by it.
"""

from __future__ import annotations

import numpy as np

from drivelake.signals.filters import moving_average, penalised_smooth
from drivelake.signals.gravity import STANDARD_GRAVITY

#: Yaw rate (rad/s) at which the gyro's observation of the tilt weighs as much as the filter
#: model: sharper turns trust the gyro (body roll rates, ≲ 0.1 rad/s, then tilt its axis by
#: less than ~8°), gentler ones the model.
GYRO_TRUST_YAW_RATE = 0.7
#: The tilt cannot swing faster than a phone filter moves it: it is smooth over this (s).
TILT_SMOOTH_S = 0.7
#: Fitted ``1/tau`` is kept within ``[0, MAX_FILTER_RATE]`` /s (tau >= 0.25 s); 0 is no filter.
MAX_FILTER_RATE = 4.0


def level_phone_frame(
    a: np.ndarray, w: np.ndarray, rate_hz: float, gravity_n: int, smooth_n: int
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Level an Earth-frame phone's specific force ``a`` and gyro rates ``w`` (3, n).

    Both are at ``rate_hz``, in the phone's frame (z up). ``gravity_n`` samples bound how long
    the filter model integrates (sensor bias cannot accumulate), and a filter slower than that
    is none: gravity's own moving estimate follows it. ``smooth_n`` is the manoeuvre smoothing.
    Non-finite gyro samples carry no evidence and stay non-finite. Returns the levelled ``a``
    and ``w`` (each in its own dtype) and the filter's fitted time constant in seconds (None
    when the norm shows no filter).
    """
    from scipy.signal import lfilter

    f = a.astype(np.float64)
    total = f.sum(axis=1)
    up = total / np.linalg.norm(total)
    shown = f - np.outer(up, up @ f)  # the horizontal specific force the frame shows
    leak = np.exp(-1.0 / max(gravity_n, 1))
    integral = lfilter([1.0 / rate_hz], [1.0, -leak], shown[:2], axis=1)
    second = max(int(rate_hz), 1)
    rates = moving_average(np.nan_to_num(w.astype(np.float64)), second)
    rate = _filter_rate_from_norm(f, shown, integral, smooth_n)
    if rate * gravity_n < rate_hz:  # slower than the gravity window, which follows such tilt
        rate = 0.0
    model = (-rate / STANDARD_GRAVITY) * integral
    theta = _tilt(rates, model, rate_hz)
    true_up = np.vstack([theta, np.ones(theta.shape[1])])
    true_up /= np.linalg.norm(true_up, axis=0)
    levelled = (rotate_onto_vertical(x, true_up).astype(x.dtype) for x in (a, w))
    return *levelled, (1.0 / rate if rate > 0 else None)


def _filter_rate_from_norm(
    f: np.ndarray, shown: np.ndarray, integral: np.ndarray, smooth_n: int
) -> float:
    """``1/tau`` from the frame-free norm: the horizontal magnitude must match the one the
    specific-force norm gives, ``|h|² = (g + excess)² - g²`` (no sustained vertical acceleration
    on a road). Least squares over the drive on a fine grid of ``1/tau``, 0 (no filter)
    included."""
    dh = moving_average(shown[:2], smooth_n)
    norm = np.sqrt(np.einsum("ij,ij->j", *(moving_average(f, smooth_n),) * 2))
    excess = norm - np.median(norm)
    target = (2 * STANDARD_GRAVITY + excess) * excess
    ismooth = moving_average(integral, smooth_n)
    # |dh + lam * I|² - target, as a quartic in lam: minimise its sum of squares on the grid
    p0 = np.einsum("ij,ij->j", dh, dh) - target
    p1 = 2 * np.einsum("ij,ij->j", dh, ismooth)
    p2 = np.einsum("ij,ij->j", ismooth, ismooth)
    lam = np.linspace(0.0, MAX_FILTER_RATE, 401)
    cost = [float(np.sum(np.square(p0 + x * p1 + x * x * p2))) for x in lam]
    return float(lam[int(np.argmin(cost))])


def _tilt(rates: np.ndarray, model: np.ndarray, rate_hz: float) -> np.ndarray:
    """The tilt (2, n): horizontal components of the true up in the phone's frame (z = 1).

    Minimises ``sum |w_xy - w_z theta|² + trust² |theta - model|² + smooth |diff theta|²``,
    two independent tridiagonal systems (x and y) solved at once.
    """
    trust = GYRO_TRUST_YAW_RATE**2
    weight = np.square(rates[2]) + trust
    rhs = rates[2] * rates[:2] + trust * model
    return penalised_smooth(weight, rhs, trust * (TILT_SMOOTH_S * rate_hz) ** 2)


def rotate_onto_vertical(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(3, n) vectors turned by the smallest rotation that takes each unit ``up`` onto z.

    Rodrigues' formula with the axis ``up x z`` (unnormalised: its length is the sine).
    """
    x = v.astype(np.float64)
    axis = np.stack([up[1], -up[0], np.zeros(up.shape[1])])
    ax = np.cross(axis, x, axis=0)
    return x + ax + np.cross(axis, ax, axis=0) / (1.0 + up[2])
