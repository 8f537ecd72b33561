"""Low-pass filters and block reductions that cost a fixed, small number of passes over the data.

Manoeuvres last from half a second to several seconds, so a moving average over a fraction of a
second removes engine and road vibration without smearing them; a cumulative-sum moving average
costs the same whatever the window, which keeps fleet-scale detection at memory speed.
"""

from __future__ import annotations

import numpy as np


def cumulative(x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``[0, x0, x0+x1, ...]`` along the last axis: what :func:`window_mean` reads.

    Signals are component-major (one contiguous row per component), so a running sum is a
    fast 1-D scan per row. float32 is only for rows that average zero (the sum stays small):
    window means from it are then exact to ~1e-5 of the signal's scale.
    """
    x = np.asarray(x)
    c = np.empty((*x.shape[:-1], x.shape[-1] + 1), dtype)
    c[..., 0] = 0.0
    np.cumsum(x, axis=-1, dtype=dtype, out=c[..., 1:])
    return c


def window_mean(c: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` samples from a :func:`cumulative` sum ``c``.

    Sample ``i`` averages ``x[i - window//2 : i - window//2 + window]`` clipped to the data, so the
    edges average over the samples that exist. Contiguous slices along the last axis (no index
    gathers): the interior is one subtraction and one scaling, the clipped edges are at most
    ``window`` samples.
    """
    n = c.shape[-1] - 1
    window = max(int(window), 1)
    half = window // 2
    out = np.empty((*c.shape[:-1], n), c.dtype)
    if n == 0:
        return out
    # interior i in [half, n - window + half]: c[i - half + window] - c[i - half]
    lo_end = min(half, n)
    hi_start = max(n - window + half + 1, lo_end)
    mid = out[..., lo_end:hi_start]
    np.subtract(c[..., window : window + hi_start - lo_end], c[..., : hi_start - lo_end], out=mid)
    mid *= c.dtype.type(1.0 / window)
    for i0, i1 in ((0, lo_end), (hi_start, n)):
        if i1 > i0:
            i = np.arange(i0, i1)
            hi = np.minimum(i + window - half, n)
            lo = np.maximum(i - half, 0)
            out[..., i0:i1] = (c[..., hi] - c[..., lo]) / (hi - lo)
    return out


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the last axis over ``window`` samples (same length as ``x``).

    Edges average over the samples that exist; NaNs propagate to the windows that contain them.
    """
    window = max(int(window), 1)
    if window == 1 or np.shape(x)[-1] == 0:
        return np.asarray(x, dtype=np.float64)
    return window_mean(cumulative(x), window)


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Mean over consecutive blocks of ``factor`` samples (a trailing partial block is dropped).

    Averaging then decimating is both the anti-alias low-pass and the rate reduction in one pass.
    """
    n = (len(x) // factor) * factor
    return x[:n].reshape(n // factor, factor, *x.shape[1:]).mean(axis=1)
