"""Low-pass filters and block reductions that cost a fixed, small number of passes over the data.

Manoeuvres last from half a second to several seconds, so a moving average over a fraction of a
second removes engine and road vibration without smearing them; built from doubled sums, it
costs a few contiguous additions, which keeps fleet-scale detection near memory speed.
"""

from __future__ import annotations

import numpy as np


def cumulative(x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``[0, x0, x0+x1, ...]`` along the last axis: sums over any span by one subtraction."""
    x = np.asarray(x)
    c = np.empty((*x.shape[:-1], x.shape[-1] + 1), dtype)
    c[..., 0] = 0.0
    np.cumsum(x, axis=-1, dtype=dtype, out=c[..., 1:])
    return c


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the last axis over ``window`` samples (same length as ``x``).

    Sample ``i`` averages ``x[i - window//2 : i - window//2 + window]`` clipped to the data, so
    the edges average over the samples that exist; NaNs reach only the windows that hold them.
    Float input keeps its dtype.

    The interior sums are built by doubling: sums of 1, 2, 4, ... consecutive samples, each one
    vectorised addition of the previous sums to themselves shifted, added together along the
    bits of ``window``. That is about ``2 log2(window)`` contiguous additions -- for the
    sub-second windows manoeuvres are smoothed with, several times faster than a running sum
    (a sequential scan: NumPy's costs more than ten additions), and in float32 no long sum
    drifts.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    n = x.shape[-1]
    window = max(int(window), 1)
    if window == 1:
        return x.copy()
    half = window // 2
    if n < window:  # every window clipped, most on both sides: from one running sum
        i = np.arange(n)
        lo, hi = np.maximum(i - half, 0), np.minimum(i - half + window, n)
        c = cumulative(x)
        return ((c[..., hi] - c[..., lo]) / (hi - lo)).astype(x.dtype, copy=False)
    # Rows are summed as one flat, contiguous series (fast additions): a window that crosses
    # from one row into the next lands on an edge sample, which is overwritten below.
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape, x.dtype)
    flat = x.reshape(-1)
    interior = out.reshape(-1)[half : flat.size - window + half + 1]
    length = interior.size
    sums, size, offset, started = flat, 1, 0, False
    while True:
        if window & size:
            part = sums[offset : offset + length]
            if started:
                interior += part
            else:
                interior[...] = part
                started = True
            offset += size
        if 2 * size > window:
            break
        sums = sums[:-size] + sums[size:]  # sums of 2 * size samples
        size *= 2
    interior *= x.dtype.type(1.0 / window)
    # clipped at the ends: the first ``half`` windows end at samples window - half .. window - 1,
    # the last ones start window - 1 .. half + 1 samples before the end
    head = np.cumsum(x[..., : window - 1], axis=-1)
    out[..., :half] = head[..., window - half - 1 :] / np.arange(window - half, window)
    tail = np.cumsum(x[..., : n - window : -1], axis=-1)
    out[..., n - window + half + 1 :] = tail[..., : half - 1 : -1] / np.arange(window - 1, half, -1)
    return out


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Mean over consecutive blocks of ``factor`` samples (a trailing partial block is dropped).

    Averaging then decimating is both the anti-alias low-pass and the rate reduction in one pass.
    """
    n = (len(x) // factor) * factor
    return x[:n].reshape(n // factor, factor, *x.shape[1:]).mean(axis=1)


def penalised_smooth(weight: np.ndarray, rhs: np.ndarray, penalty: float) -> np.ndarray:
    """Solve ``(diag(weight) + penalty * D'D) x = rhs`` along the last axis (``D``: first
    differences): Whittaker's smoother. ``x`` follows the data where ``weight`` is high and its
    neighbours where it is low; ``rhs`` is the weighted data (``weight * values``), (n,) or
    (k, n) for k series that share the weights. One banded solve, O(n).
    """
    from scipy.linalg import solveh_banded

    n = len(weight)
    bands = np.zeros((2, n))
    bands[1] = weight
    bands[1, :-1] += penalty
    bands[1, 1:] += penalty
    bands[0, 1:] = -penalty
    return solveh_banded(bands, np.asarray(rhs).T).T
