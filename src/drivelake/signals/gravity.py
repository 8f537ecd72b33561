"""Gravity separation: which way is up, and the acceleration left once gravity is taken out.

An accelerometer measures specific force, so at rest it reads +1 g *upwards*; over minutes of
driving the vehicle's own accelerations average out and the mean reading points up. A slowly
moving average (tens of seconds) follows road grade and mount creep while leaving manoeuvres,
which last seconds, in the remainder.
"""

from __future__ import annotations

import numpy as np

from drivelake.signals.filters import moving_average

STANDARD_GRAVITY = 9.80665


def up_axis(accel: np.ndarray) -> np.ndarray:
    """Unit vector of the mean specific force of ``accel`` (n, 3): "up" in the sensor's frame."""
    mean = np.nanmean(accel, axis=0)
    norm = np.linalg.norm(mean)
    if not np.isfinite(norm) or norm < 0.5 * STANDARD_GRAVITY:
        raise ValueError("no consistent gravity in the accelerometer: cannot tell which way is up")
    return mean / norm


def separate_gravity(accel: np.ndarray, rate_hz: float, window_s: float = 30.0) -> np.ndarray:
    """``accel`` (n, 3) minus its slow moving average: the linear (vehicle-caused) acceleration."""
    return accel - moving_average(accel.T, int(window_s * rate_hz)).T
