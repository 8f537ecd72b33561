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
from drivelake.signals.filters import block_mean, moving_average
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
    a = blocks.mean(axis=1)
    g = block_mean(gyro, factor)
    valid = np.isfinite(a).all(axis=1) & np.isfinite(g).all(axis=1)
    a[~valid] = np.nanmean(a[valid], axis=0) if valid.any() else 0.0
    g[~valid] = 0.0
    cal = calibrate(a, g, fs, heading_tracked=heading_tracked)
    gravity = a - separate_gravity(a, fs)
    dev = blocks - gravity[:, None, :]
    shock = np.sqrt(np.einsum("bkj,bkj->bk", dev, dev).max(axis=1))
    vertical = np.abs(np.einsum("bkj,bj->bk", dev, cal.up)).max(axis=1)
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
