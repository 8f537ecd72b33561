"""Put streams recorded at their own, irregular times onto one uniform time base.

Detectors compare channels sample by sample, so every stream must share a grid. Interpolation is
only honest across short dropouts: a grid point whose nearest source samples lie further apart
than ``max_gap_s`` is NaN instead of a straight line invented across the gap.
"""

from __future__ import annotations

import numpy as np


def uniform_grid(t0_ns: int, t1_ns: int, rate_hz: float) -> np.ndarray:
    """Grid times (int64 ns) from ``t0_ns`` to ``t1_ns`` inclusive at ``rate_hz``."""
    step = 1e9 / rate_hz
    n = int(np.floor((t1_ns - t0_ns) / step)) + 1
    return t0_ns + np.round(np.arange(max(n, 0)) * step).astype(np.int64)


def resample(
    t_ns: np.ndarray,
    values: np.ndarray,
    grid_ns: np.ndarray,
    *,
    max_gap_s: float = 0.5,
    dtype: type = np.float64,
) -> np.ndarray:
    """Linearly interpolate ``values`` (n,) or (n, k) at ``grid_ns``; NaN across long gaps.

    Grid points before the first or after the last sample are NaN too (nothing is extrapolated).
    One search places every grid point between its two source samples; all channels are then
    weighted from the same places (``np.interp`` would search again per channel). ``dtype``:
    of the result (float32 halves what an IMU stream weighs downstream).
    """
    values = np.asarray(values)
    flat = values.ndim == 1
    cols = values[:, None] if flat else values
    out = np.full((len(grid_ns), cols.shape[1]), np.nan, dtype)
    if len(t_ns) < 2:
        return out[:, 0] if flat else out
    if len(t_ns) == len(grid_ns) and np.array_equal(t_ns, grid_ns):  # a clean fixed-rate log
        out[:] = cols
        return out[:, 0] if flat else out
    x = (t_ns - t_ns[0]).astype(np.float64)
    xg = (grid_ns - t_ns[0]).astype(np.float64)
    right = np.searchsorted(x, xg, side="left").clip(1, len(x) - 1)
    span = x[right] - x[right - 1]
    ok = (xg >= x[0]) & (xg <= x[-1]) & (span <= max_gap_s * 1e9)
    inner = slice(None) if ok.all() else ok  # a slice keeps views where nothing is left out
    right, span, xg = right[inner], span[inner], xg[inner]
    weight = ((xg - x[right - 1]) / np.where(span > 0, span, 1.0))[:, None]
    before = cols[right - 1]
    out[inner] = before + weight * (cols[right] - before)
    return out[:, 0] if flat else out


def median_rate_hz(t_ns: np.ndarray) -> float:
    """The typical sampling rate of a stream (robust to a few dropouts); 0 for < 2 samples."""
    if len(t_ns) < 2:
        return 0.0
    dt = np.median(np.diff(t_ns))
    return float(1e9 / dt) if dt > 0 else 0.0
