"""Low-pass filters and block reductions that cost a fixed, small number of passes over the data.

Manoeuvres last from half a second to several seconds, so a moving average over a fraction of a
second removes engine and road vibration without smearing them; a cumulative-sum moving average
costs the same whatever the window, which keeps fleet-scale detection at memory speed.
"""

from __future__ import annotations

import numpy as np


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 over ``window`` samples (same length as ``x``).

    Edges average over the samples that exist; NaNs propagate to the windows that contain them.
    """
    window = max(int(window), 1)
    if window == 1 or len(x) == 0:
        return np.asarray(x, dtype=np.float64)
    c = np.cumsum(np.asarray(x, dtype=np.float64), axis=0)
    c = np.concatenate([np.zeros((1, *c.shape[1:])), c])
    n = len(x)
    half = window // 2
    hi = np.minimum(np.arange(n) + window - half, n)
    lo = np.maximum(np.arange(n) - half, 0)
    count = (hi - lo).reshape(-1, *([1] * (c.ndim - 1)))
    return (c[hi] - c[lo]) / count


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Mean over consecutive blocks of ``factor`` samples (a trailing partial block is dropped).

    Averaging then decimating is both the anti-alias low-pass and the rate reduction in one pass.
    """
    n = (len(x) // factor) * factor
    return x[:n].reshape(n // factor, factor, *x.shape[1:]).mean(axis=1)
