"""Is a drive analysable for each event type? Too short, too sparse or saturated: say so.

Inventing events from data that cannot show them is worse than reporting nothing, so each type
gets an explicit verdict with a reason, stored beside the events.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from drivelake.events.detectors import TYPES
from drivelake.signals.resample import median_rate_hz

IMU_TYPES = tuple(t for t in TYPES if t != "speeding")


def _imu_problem(accel: pa.Table | None, gyro: pa.Table | None, cfg: dict) -> str | None:
    if accel is None or gyro is None:
        return "no accelerometer" if accel is None else "no gyroscope"
    for name, table, cols in (
        (("accel"), accel, ("ax", "ay", "az")),
        ("gyro", gyro, ("gx", "gy", "gz")),
    ):
        t = table.column("t_ns").to_numpy()
        duration = (t[-1] - t[0]) / 1e9 if len(t) > 1 else 0.0
        if duration < cfg["min_duration_drive_s"]:
            return f"{name} stream too short ({duration:.1f} s < {cfg['min_duration_drive_s']:g} s)"
        rate = median_rate_hz(t)
        if rate < cfg["min_rate_hz"]:
            return f"{name} too sparse ({rate:.1f} Hz < {cfg['min_rate_hz']:g} Hz)"
        v = np.abs(np.stack([table.column(c).to_numpy(zero_copy_only=False) for c in cols]))
        top = np.nanmax(v)
        clipped = np.mean(v >= top * 0.999) if top > 0 else 1.0
        if clipped > cfg["saturation_fraction"]:
            return f"{name} saturated ({clipped:.1%} of samples at ±{top:.3g})"
    return None


def coverage(accel, gyro, gnss, can, cfg: dict) -> dict[str, tuple[bool, str]]:
    """``{type: (analysable, reason)}`` for every event type, and for ``roughness``."""
    problem = _imu_problem(accel, gyro, cfg)
    out = {t: (problem is None, problem or "") for t in IMU_TYPES}
    speed = can if can is not None else gnss
    if speed is None:
        out["speeding"] = (False, "no speed source (CAN or GNSS)")
    else:
        rate = median_rate_hz(speed.column("t_ns").to_numpy())
        out["speeding"] = (rate >= 0.5, "" if rate >= 0.5 else f"speed too sparse ({rate:.2f} Hz)")
    # roughness is per distance: it needs the IMU and the speed that measures distance
    out["roughness"] = out["speeding"] if problem is None else (False, problem)
    return out
