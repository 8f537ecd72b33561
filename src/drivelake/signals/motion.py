"""A drive's motion in the vehicle frame at the analysis rate: what every detector reads.

Raw IMU samples (tens to hundreds of Hz) are reduced once, in blocks, to ``ANALYSIS_HZ``: block
means are the low-passed signal (manoeuvres last seconds), block peaks keep the short shocks
(impacts, potholes) that a mean would flatten. Calibration and everything after it then run on
ten times fewer samples, which is what keeps fleet-scale detection at memory speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivelake.signals.calibration import Calibration, calibrate_cumulative
from drivelake.signals.filters import cumulative, window_mean
from drivelake.signals.gravity import STANDARD_GRAVITY

ANALYSIS_HZ = 10


@dataclass
class Motion:
    """Vehicle-frame series at ``rate_hz`` (NaN where the sensors had a gap)."""

    rate_hz: float
    accel: np.ndarray  # (n, 3) linear acceleration, forward/left/up, m/s², smoothed
    yaw_rate: np.ndarray  # (n,) rad/s, positive = turning left
    excess: np.ndarray  # (n,) specific-force norm minus gravity: frame-invariant, m/s²
    # largest |vertical linear acceleration| and |linear acceleration vector| in each block, m/s²
    # (exact where they can reach the ``peak_floor`` they were computed with, else a bound below it)
    vertical_peak: np.ndarray
    shock_peak: np.ndarray
    speed: np.ndarray | None  # (n,) m/s, or None without a speed source
    calibration: Calibration

    @property
    def t_s(self) -> np.ndarray:
        return np.arange(len(self.yaw_rate)) / self.rate_hz


def vehicle_motion(
    accel: np.ndarray,
    gyro: np.ndarray,
    rate_hz: float,
    *,
    heading_tracked: bool = False,
    speed: np.ndarray | None = None,
    smooth_s: float = 0.5,
    gravity_s: float = 30.0,
    peak_floor: float = 0.0,
) -> Motion:
    """Reduce raw (n, 3) accel/gyro at ``rate_hz`` (a multiple of ``ANALYSIS_HZ``) to a Motion.

    ``speed`` (optional) must already be on the analysis grid. ``peak_floor`` (m/s²): the block
    peaks are exact only where they can reach it (pass the lowest shock threshold in use, e.g.
    the pothole level); 0 makes them exact everywhere. At the analysis rate everything
    derives from one cumulative sum of the accelerometer (calibration windows, gravity over
    ``gravity_s``, the smoothed specific-force norm) and one of the yaw rate.
    """
    factor = max(round(rate_hz / ANALYSIS_HZ), 1)
    fs = rate_hz / factor
    nb = len(accel) // factor
    blocks = accel[: nb * factor].reshape(nb, factor, 3)
    a = _block_mean3(blocks)
    c = cumulative(a)
    valid = np.ones(nb, bool)
    if not np.isfinite(c[-1]).all():  # a NaN or inf anywhere reaches the last running sum
        valid = np.isfinite(a).all(axis=1)
        a[~valid] = np.mean(a[valid], axis=0) if valid.any() else 0.0
        c = cumulative(a)
    c_measured = c
    filter_tau = None
    if heading_tracked and nb > 1:
        a, filter_tau = undo_tilt_filter(a, c, fs, int(gravity_s * fs), int(smooth_s * fs))
        c = cumulative(a) if filter_tau is not None else c
    gyro_blocks = gyro[: nb * factor].reshape(nb, factor * 3)

    def yaw_of(i0: int, i1: int, up: np.ndarray) -> np.ndarray:
        """Block-mean gyro rate about ``up``: one product over the raw samples (no 3-axis mean)."""
        w = np.tile(up / factor, factor).astype(gyro_blocks.dtype)
        y = (gyro_blocks[i0:i1] @ w).astype(np.float64)
        if not np.isfinite(y.sum()):
            bad = ~np.isfinite(y)
            y[bad] = 0.0
            valid[i0:i1] &= ~bad
        return y

    cal, yaw_raw, cum_yaw = calibrate_cumulative(c, yaw_of, fs, heading_tracked=heading_tracked)
    all_valid = bool(valid.all())
    gravity = window_mean(c, int(gravity_s * fs))
    shock, vertical = _block_peaks(blocks, a, gravity, cal.segments, peak_floor)
    smooth = max(int(smooth_s * fs), 1)
    # the specific-force norm is frame-invariant: from the measured samples, never corrected
    m = window_mean(c_measured, smooth) if smooth > 1 else a
    yaw = window_mean(cum_yaw, smooth) if smooth > 1 else yaw_raw
    if cal.heading_tracked:
        # the heading turns within the smoothing window: rotate each sample, then smooth
        lin = cal.to_vehicle(a - gravity)
        lin = window_mean(cumulative(lin), smooth) if smooth > 1 else lin
    else:
        # a fixed rotation per mount commutes with the moving average: smooth, then rotate;
        # gravity (a 30 s mean) is left as it is by a further 0.5 s average
        lin = cal.to_vehicle(m - gravity)
    cal.filter_tau_s = filter_tau
    if filter_tau is not None:  # stored with the calibration, so `drivelake show` reports it
        for span in cal.spans:
            span.method += f"+phone_tilt_filter_{filter_tau:.1f}s_undone"
    norm = np.sqrt(np.einsum("ij,ij->i", m, m))
    if all_valid:
        excess = norm - _median(norm)
    else:
        lin[~valid], yaw[~valid] = np.nan, np.nan
        med = _median(norm[valid]) if valid.any() else 0.0
        excess = np.where(valid, norm - med, np.nan)
    return Motion(
        rate_hz=fs,
        accel=lin,
        yaw_rate=yaw,
        excess=excess,
        vertical_peak=vertical,
        shock_peak=shock,
        speed=None if speed is None else speed[: len(a)],
        calibration=cal,
    )


def undo_tilt_filter(
    a: np.ndarray, c: np.ndarray, rate_hz: float, gravity_n: int, smooth_n: int
) -> tuple[np.ndarray, float | None]:
    """Undo a phone's orientation filter on Earth-frame specific force (n, 3) at the analysis rate.

    A phone that reports its readings in an Earth frame estimates that frame itself, and its
    filter pulls "up" towards the apparent gravity: a sustained horizontal acceleration ``h`` is
    slowly taken for tilt, so the frame shows ``h`` minus a low-passed copy of itself -- a
    first-order high-pass ``a_f = h - LP_tau(h)``: the manoeuvre fades within seconds and
    reverses when it ends. The inverse is ``h = a_f + (1/tau) * integral(a_f)`` (the integral
    leaks over the gravity window so sensor bias cannot accumulate).

    ``tau`` is estimated from the drive itself, with no label and no threshold: the horizontal
    magnitude must match the frame-invariant one the specific-force norm gives,
    ``|h|² = (g + excess)² - g²`` (no sustained vertical acceleration on a road). ``1/tau`` is
    chosen by least squares over the whole drive, zero (no filter: the frame is left as it is)
    included. Returns the corrected samples and ``tau`` in seconds (None when uncorrected).
    """
    from scipy.signal import lfilter

    # The frame's own "up" is the filter's: horizontal specific force in it is the frame's
    # horizontal acceleration as is (a moving-average gravity would add its own high-pass).
    up = c[-1] / np.linalg.norm(c[-1])
    d = a - np.outer(a @ up, up)
    if smooth_n > 1:
        dh = window_mean(cumulative(d), smooth_n)
        m = window_mean(c, smooth_n)
    else:
        dh, m = d, a
    norm = np.sqrt(np.einsum("ij,ij->i", m, m))
    excess = norm - _median(norm)
    target = (2 * STANDARD_GRAVITY + excess) * excess
    leak = np.exp(-1.0 / max(gravity_n, 1))
    integral = lfilter([1.0 / rate_hz], [1.0, -leak], d, axis=0)
    ismooth = window_mean(cumulative(integral), smooth_n) if smooth_n > 1 else integral
    # |dh + lam * I|² - target, as a quartic in lam: minimise its sum of squares on a fine grid
    p0 = np.einsum("ij,ij->i", dh, dh) - target
    p1 = 2 * np.einsum("ij,ij->i", dh, ismooth)
    p2 = np.einsum("ij,ij->i", ismooth, ismooth)
    lam = np.linspace(0.0, 4.0, 401)  # 1/tau from 0 (no filter) to 4 /s (tau = 0.25 s)
    cost = [float(np.sum(np.square(p0 + x * p1 + x * x * p2))) for x in lam]
    best = float(lam[int(np.argmin(cost))])
    if best == 0.0:
        return a, None
    return a + best * integral, 1.0 / best


def _median(x: np.ndarray) -> float:
    """``np.median`` of finite ``x`` from one partition (NumPy's also scans for NaN)."""
    k = len(x) // 2
    p = np.partition(x, k)
    return float(p[k] if len(x) % 2 else (p[k] + p[:k].max()) / 2)


def _block_mean3(blocks: np.ndarray) -> np.ndarray:
    """Per-block mean of (nb, factor, 3) samples as one matrix product (a single pass), float64.

    NumPy's ``mean(axis=1)`` over a short middle axis is a strided reduction several times
    slower than memory speed; a product with a (factor·3, 3) averaging matrix streams the data
    once through BLAS.
    """
    nb, factor, k = blocks.shape
    w = np.tile(np.eye(k, dtype=blocks.dtype), (factor, 1)) / factor
    return (blocks.reshape(nb, factor * k) @ w).astype(np.float64)


def _block_peaks(
    blocks: np.ndarray,
    block_mean: np.ndarray,
    gravity: np.ndarray,
    segments: list,
    floor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Largest |linear acceleration| and |vertical linear acceleration| in each block.

    Exact wherever the peak can reach ``floor``; elsewhere the returned value is an upper bound
    that is itself below ``floor``. The bound is the root of the block's summed squared deviation
    from gravity, ``sum_k |a_k - g|² = sum_k |a_k|² - 2 g·sum_k a_k + f |g|²``: one fused
    sum-of-squares pass over the raw samples, the rest at the analysis rate. Only the blocks the
    bound cannot clear (a few percent of a drive at pothole/impact levels) get the per-sample
    maxima, computed one sample position at a time so no reduction runs along a short axis.
    """
    nb, factor, _ = blocks.shape
    flat = blocks.reshape(nb, -1)
    sumsq = np.einsum("ij,ij->i", flat, flat).astype(np.float64)
    dev = sumsq - factor * np.einsum("ij,ij->i", gravity, 2 * block_mean - gravity)
    bound = np.sqrt(np.maximum(dev, 0.0))
    # rounding of the float32 sum of squares is far below 1e-4 of it: the bound stays a bound
    check = dev + 1e-4 * sumsq >= floor * floor if floor > 0 else np.ones(nb, bool)
    shock, vertical = bound, bound.copy()
    for i0, i1, up, _ in segments:
        idx = i0 + np.flatnonzero(check[i0:i1])
        if len(idx) == 0:
            continue
        whole = len(idx) == i1 - i0
        part = blocks[i0:i1] if whole else blocks[idx]
        grav = gravity[i0:i1] if whole else gravity[idx]
        shock[idx], vertical[idx] = _exact_peaks(part, grav, up)
    return shock, vertical


def _exact_peaks(part: np.ndarray, gravity: np.ndarray, up: np.ndarray):
    """Per-block maxima over (k, factor, 3) raw samples.

    For the few blocks the bound leaves, whole-array operations on the gathered samples; for a
    whole segment (no bound), one sample position at a time so no reduction runs along a short
    axis of a large array.
    """
    dt = part.dtype
    if len(part) <= 4096:
        d = part - gravity.astype(dt)[:, None, :]
        v = d @ up.astype(dt)
        d *= d
        q = d.sum(axis=2)
        return np.sqrt(q.max(axis=1)), np.abs(v).max(axis=1)
    g = [np.ascontiguousarray(gravity[:, j], dtype=dt) for j in range(3)]
    u = [dt.type(x) for x in up]
    smax = vmax = vmin = None
    for k in range(part.shape[1]):
        d = [part[:, k, j] - g[j] for j in range(3)]
        q = d[0] * d[0]
        q += d[1] * d[1]
        q += d[2] * d[2]
        v = d[0] * u[0]
        v += d[1] * u[1]
        v += d[2] * u[2]
        if smax is None or vmax is None or vmin is None:
            smax, vmax, vmin = q, v.copy(), v
        else:
            np.maximum(smax, q, out=smax)
            np.maximum(vmax, v, out=vmax)
            np.minimum(vmin, v, out=vmin)
    assert smax is not None and vmax is not None and vmin is not None
    return np.sqrt(smax), np.maximum(vmax, -vmin)
