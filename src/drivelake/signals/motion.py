"""A drive's motion in the vehicle frame at the analysis rate: what every detector reads.

Raw IMU samples (tens to hundreds of Hz) are reduced once, in blocks, to ``ANALYSIS_HZ``: block
means are the low-passed signal (manoeuvres last seconds), block peaks keep the short shocks
(impacts, potholes) that a mean would flatten. Calibration and everything after it then run on
ten times fewer samples, which is what keeps fleet-scale detection at memory speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivelake.signals.calibration import Calibration, calibrate
from drivelake.signals.filters import moving_average
from drivelake.signals.gravity import separate_gravity

ANALYSIS_HZ = 10


@dataclass
class Motion:
    """Vehicle-frame series at ``rate_hz`` (NaN where the sensors had a gap)."""

    rate_hz: float
    accel: np.ndarray  # (n, 3) linear acceleration, forward/left/up, m/s², smoothed
    yaw_rate: np.ndarray  # (n,) rad/s, positive = turning left
    excess: np.ndarray  # (n,) specific-force norm minus gravity: frame-invariant, m/s²
    vertical_peak: np.ndarray  # (n,) largest |vertical linear acceleration| in each block, m/s²
    shock_peak: np.ndarray  # (n,) largest |linear acceleration vector| in each block, m/s²
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
) -> Motion:
    """Reduce raw (n, 3) accel/gyro at ``rate_hz`` (a multiple of ``ANALYSIS_HZ``) to a Motion.

    ``speed`` (optional) must already be on the analysis grid.
    """
    factor = max(round(rate_hz / ANALYSIS_HZ), 1)
    fs = rate_hz / factor
    nb = len(accel) // factor
    blocks = accel[: nb * factor].reshape(nb, factor, 3)
    a = _block_mean3(blocks)
    g = _block_mean3(gyro[: nb * factor].reshape(nb, factor, 3))
    valid = np.isfinite(a).all(axis=1) & np.isfinite(g).all(axis=1)
    a[~valid] = np.nanmean(a[valid], axis=0) if valid.any() else 0.0
    g[~valid] = 0.0
    cal = calibrate(a, g, fs, heading_tracked=heading_tracked)
    gravity = a - separate_gravity(a, fs)
    shock, vertical = _block_peaks(blocks, gravity, cal.up)
    smooth = max(int(smooth_s * fs), 1)
    lin = cal.to_vehicle(a - gravity)
    norm = np.linalg.norm(moving_average(a, smooth), axis=1)
    lin = moving_average(lin, smooth)
    yaw = moving_average(np.einsum("ij,ij->i", g, cal.up), smooth)
    lin[~valid], yaw[~valid] = np.nan, np.nan
    return Motion(
        rate_hz=fs,
        accel=lin,
        yaw_rate=yaw,
        excess=np.where(valid, norm - np.median(norm[valid]) if valid.any() else 0.0, np.nan),
        vertical_peak=vertical,
        shock_peak=shock,
        speed=None if speed is None else speed[: len(a)],
        calibration=cal,
    )


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
    blocks: np.ndarray, gravity: np.ndarray, up: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Largest |linear acceleration| and |vertical linear acceleration| in each block.

    Works on one sample position of every block at a time (``blocks[:, k, j]``, length ``nb``)
    with running maxima, so the (n, 3) deviation from gravity is never built and no reduction
    runs along a short axis: a handful of cheap elementwise passes over the raw samples.
    """
    dt = blocks.dtype
    g = [np.ascontiguousarray(gravity[:, j], dtype=dt) for j in range(3)]
    u = [np.ascontiguousarray(up[:, j], dtype=dt) for j in range(3)]
    smax = vmax = vmin = None
    for k in range(blocks.shape[1]):
        d = [blocks[:, k, j] - g[j] for j in range(3)]
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
    if smax is None or vmax is None or vmin is None:
        return np.zeros(0), np.zeros(0)
    return np.sqrt(smax).astype(np.float64), np.maximum(vmax, -vmin).astype(np.float64)
