"""Vehicle speed from the best source a drive has: CAN, then GNSS, fused with the IMU.

CAN speed is the wheel-speed sensor: direct and frequent. GNSS speed is Doppler-based, good but
only ~1 Hz and absent in tunnels. Between fixes the longitudinal acceleration is integrated (a
complementary filter: the IMU supplies the fast part, the fixes pin the slow part), so speed is
available at the analysis rate. Events never require speed; speeding and distance-based roughness
do.
"""

from __future__ import annotations

import numpy as np

from drivelake.signals.resample import resample


def speed_on_grid(
    t_ns: np.ndarray, speed_mps: np.ndarray, grid_ns: np.ndarray, *, max_gap_s: float = 3.0
) -> np.ndarray:
    """A speed stream interpolated onto the analysis grid (NaN across gaps > ``max_gap_s``)."""
    ok = np.isfinite(speed_mps)
    return resample(t_ns[ok], speed_mps[ok], grid_ns, max_gap_s=max_gap_s)


def fuse_speed(
    t_ns: np.ndarray,
    speed_mps: np.ndarray,
    grid_ns: np.ndarray,
    a_long: np.ndarray,
    *,
    max_gap_s: float = 3.0,
) -> np.ndarray:
    """Fixes interpolated onto the grid plus the IMU's detail between them.

    With ``A`` the integral of ``a_long``, the estimate is ``interp(v_fix) + A - interp(A at the
    fixes)``: it passes through every fix, and between fixes follows what the accelerometer says
    happened, not a straight line. Vectorised, so it costs a few passes at the analysis rate.
    """
    base = speed_on_grid(t_ns, speed_mps, grid_ns, max_gap_s=max_gap_s)
    dt = np.diff(grid_ns, prepend=grid_ns[:1]) / 1e9
    integral = np.cumsum(np.nan_to_num(a_long) * dt)
    ok = np.isfinite(speed_mps)
    at_fixes = np.interp(t_ns[ok], grid_ns, integral)
    detail = integral - resample(t_ns[ok], at_fixes, grid_ns, max_gap_s=max_gap_s)
    return np.maximum(base + detail, 0.0)
