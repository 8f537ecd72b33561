"""A drive's motion in the vehicle frame at the analysis rate: what every detector reads.

Raw IMU samples (tens to hundreds of Hz) are reduced once, in blocks, to ``ANALYSIS_HZ``: block
means are the low-passed signal (manoeuvres last seconds), block peaks keep the short shocks
(impacts, potholes) that a mean would flatten. Calibration and everything after it then run on
ten times fewer samples, which is what keeps fleet-scale detection at memory speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivelake.signals.calibration import Calibration, calibrate_frames, frame_segments, project
from drivelake.signals.filters import block_mean, moving_average
from drivelake.signals.phone_frame import level_phone_frame

ANALYSIS_HZ = 10
#: Gravity is estimated from blocks of this many seconds (see :func:`resting_gravity`); a block
#: whose mean horizontal acceleration (m/s²) or yaw rate (rad/s) exceeds these is a manoeuvre.
RESTING_BLOCK_S = 2.0
MANOEUVRE_ACCEL = 1.0
MANOEUVRE_YAW_RATE = 0.05
#: Share of the gravity window's blocks that must be resting for their mean to be trusted.
MIN_RESTING_SHARE = 0.1


@dataclass
class Motion:
    """Vehicle-frame series at ``rate_hz`` (NaN where the sensors had a gap)."""

    rate_hz: float
    accel: np.ndarray  # (n, 3) linear acceleration, forward/left/up, m/s², smoothed
    yaw_rate: np.ndarray  # (n,) rad/s, positive = turning left
    excess: np.ndarray  # (n,) specific-force norm minus gravity: frame-invariant, m/s²
    # largest |vertical linear acceleration| and |linear acceleration vector| in each block, m/s²
    # (exact where they can reach the floors they were computed with, else a bound below them)
    vertical_peak: np.ndarray
    shock_peak: np.ndarray
    # (n,) mean square of the high-passed vertical acceleration in each block, m²/s⁴: what the
    # road's roughness shakes the vehicle with (see ``_block_shocks``)
    vibration: np.ndarray
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
    vibration_s: float = 1.0,
    shock_floor: float = 0.0,
    vertical_floor: float = 0.0,
) -> Motion:
    """Reduce raw (n, 3) accel/gyro at ``rate_hz`` (a multiple of ``ANALYSIS_HZ``) to a Motion.

    ``speed`` (optional) must already be on the analysis grid. ``shock_floor`` and
    ``vertical_floor`` (m/s²): the block peaks are exact only where they can reach them (pass
    the impact and pothole thresholds in use); 0 makes them exact everywhere. ``vibration_s``:
    the moving average taken out of the vertical acceleration before its vibration is
    measured (body motion slower than about ``0.5 / vibration_s`` Hz is not road roughness).

    At the analysis rate the specific force is projected once into each mount span's frame
    (horizontal basis, up), levelled (:func:`_levelled`) and carried component-major in float32,
    (3, n) rows: its 1 s moving average serves the calibration and the vibration's high-pass,
    its ``smooth_s`` one the manoeuvres and the frame-invariant norm, its resting blocks gravity.
    """
    factor = max(round(rate_hz / ANALYSIS_HZ), 1)
    fs = rate_hz / factor
    nb = len(accel) // factor
    blocks = accel[: nb * factor].reshape(nb, factor, 3)
    up_guess = _up_guess(accel)
    means, centred = _block_means(blocks, up_guess)
    a = np.array(means.T, dtype=np.float32, order="C")  # (3, nb) block means, contiguous rows
    valid = np.ones(nb, bool)
    if not np.isfinite(a.sum()):
        valid = np.isfinite(a).all(axis=0)
        a[:, ~valid] = a[:, valid].mean(axis=1, keepdims=True) if valid.any() else 0.0
    a_measured = a
    filter_tau = None
    smooth = max(int(smooth_s * fs), 1)
    gyro_blocks = gyro[: nb * factor].reshape(nb, factor * 3)
    levelled_gyro = None
    if heading_tracked and nb > 1:
        w = block_mean(gyro, factor).T
        a, levelled_gyro, filter_tau = level_phone_frame(a, w, fs, int(gravity_s * fs), smooth)

    def yaw_of(i0: int, i1: int, up: np.ndarray) -> np.ndarray:
        """Block-mean gyro rate about ``up``: one product over the raw samples (no 3-axis mean),
        or over the block means of a levelled phone frame."""
        if levelled_gyro is None:
            y = gyro_blocks[i0:i1] @ np.tile(up / factor, factor).astype(gyro_blocks.dtype)
        else:
            y = up.astype(levelled_gyro.dtype) @ levelled_gyro[:, i0:i1]
        if not np.isfinite(y.sum()):
            bad = ~np.isfinite(y)
            y[bad] = 0.0
            valid[i0:i1] &= ~bad
        return y

    segments = frame_segments(a, fs, heading_tracked=heading_tracked)
    p, level = _levelled(a, segments)
    cal_n, vib_n = max(int(fs), 1), max(int(vibration_s * fs), 1)  # calibration smooths over 1 s
    s_cal = moving_average(p, cal_n)
    cal, yaw_raw = calibrate_frames(
        s_cal[:2], segments, yaw_of, fs, heading_tracked=heading_tracked, smooth_n=cal_n
    )
    all_valid = bool(valid.all())
    gravity = resting_gravity(p, yaw_raw, int(RESTING_BLOCK_S * fs), int(gravity_s * fs))
    # shocks and vibration read the measured samples (the same as ``p`` unless a phone's frame
    # was levelled)
    p_measured = p if a is a_measured else _levelled(a_measured, segments)[0]
    same = vib_n == cal_n and a is a_measured
    low = s_cal[2] if same else moving_average(p_measured[2], vib_n)
    shock, vertical, vibration = _block_shocks(
        blocks,
        (p_measured, gravity, low, level),
        (up_guess, centred),
        segments,
        shock_floor,
        vertical_floor,
    )
    # the specific-force norm is frame-invariant: from the measured samples, never corrected
    m = moving_average(p_measured, smooth)
    yaw = moving_average(yaw_raw, smooth)
    if cal.heading_tracked:
        # the heading turns within the smoothing window: rotate each sample, then smooth
        lin = moving_average(_to_vehicle(p - gravity, cal), smooth)
    else:
        # a fixed rotation per mount commutes with the moving average: smooth, then rotate;
        # gravity (a 30 s mean) is left as it is by a further 0.5 s average
        sm = m if a is a_measured else moving_average(p, smooth)
        lin = _to_vehicle(np.subtract(sm, gravity, out=sm if sm is not m else None), cal)
    cal.filter_tau_s = filter_tau
    if filter_tau is not None:  # stored with the calibration, so `drivelake show` reports it
        for span in cal.spans:
            span.method += f"+phone_tilt_filter_{filter_tau:.1f}s_undone"
    norm = np.sqrt(_norm2(m, level))
    if all_valid:
        norm -= _median(norm)
        excess = norm
    else:
        lin[:, ~valid], yaw[~valid], vibration[~valid] = np.nan, np.nan, np.nan
        med = _median(norm[valid]) if valid.any() else 0.0
        excess = np.where(valid, norm - med, np.nan)
    return Motion(
        rate_hz=fs,
        accel=lin.T,
        yaw_rate=yaw,
        excess=excess,
        vertical_peak=vertical,
        shock_peak=shock,
        vibration=vibration,
        speed=None if speed is None else speed[:nb],
        calibration=cal,
    )


def resting_gravity(p: np.ndarray, yaw: np.ndarray, block: int, window: int) -> np.ndarray:
    """Gravity (with a phone frame's slow attitude error) per sample, (3, n) float32.

    A plain moving mean of the specific force over ``window`` samples also holds the vehicle's
    own mean acceleration there: the velocity change across the window over its length. After
    a 90° turn at 7 m/s, or a stop from 50 km/h, that is 0.04-0.05 g, and turns the same way in
    a row (around a block) add up, so subtracting it shaved that much off every manoeuvre's
    peak. Gravity is therefore the window's mean over the ``block``-sample blocks in which the
    vehicle was not manoeuvring: horizontal specific force below :data:`MANOEUVRE_ACCEL`
    (the rows are levelled: their mean over the mount span is zero, so a block's mean is its
    deviation from the span's mean gravity) and ``|yaw|`` (less the median block's: the gyro's
    bias) below :data:`MANOEUVRE_YAW_RATE`. Where fewer than :data:`MIN_RESTING_SHARE` of a
    window's blocks qualify (a long bend or climb), the plain mean stands. Gravity moves
    slowly, so all of it is done per block of the specific force ``p`` (3, n) and the yaw rate
    ``yaw`` (n), and interpolated back to the samples.
    """
    n = p.shape[1]
    block = max(block, 1)
    nb = n // block
    if nb < 2:
        return moving_average(p, window)
    rows = np.empty((7, nb), np.float32)  # block sums; the same where resting; resting
    ones = np.ones(block, np.float32)
    for k in range(3):  # one matrix-vector product per row: a strided sum is slower
        np.matmul(p[k, : nb * block].reshape(nb, block), ones, out=rows[k])
    h = np.hypot(rows[0], rows[1])
    turn = yaw[: nb * block].reshape(nb, block) @ ones.astype(yaw.dtype)
    turn = np.abs(turn - _median(turn))  # a gyro's bias (most blocks go straight) is no turn
    resting = np.less(h, MANOEUVRE_ACCEL * block, out=rows[6])
    resting *= turn < MANOEUVRE_YAW_RATE * block
    np.multiply(rows[:3], resting, out=rows[3:6])
    means = moving_average(rows, max(round(window / block), 1))
    gravity, share = means[:3], means[6]
    np.divide(means[3:6], share, out=gravity, where=share >= MIN_RESTING_SHARE)
    return _upsample(gravity / block, block, n)


def _upsample(blocks: np.ndarray, block: int, n: int) -> np.ndarray:
    """(k, nb) block means -> (k, n) float32 samples, piecewise linear through the block edges
    (each edge takes the mean of the blocks beside it; samples past the last block, its value).

    Sample ``r`` of block ``j`` is ``edge[j] * (1 - r/block) + edge[j + 1] * r/block``: one
    (k·nbp, 2) x (2, block) matrix product writes every sample in order.
    """
    k, nb = blocks.shape
    nbp = -(-n // block)  # a last, partial block holds the last block's value
    edges = np.empty((k, nbp + 1), np.float32)
    np.add(blocks[:, 1:], blocks[:, :-1], out=edges[:, 1:nb])
    edges[:, 1:nb] *= 0.5
    edges[:, 0] = blocks[:, 0]
    edges[:, nb:] = blocks[:, -1:]
    pairs = np.empty((k, nbp, 2), np.float32)
    pairs[:, :, 0], pairs[:, :, 1] = edges[:, :-1], edges[:, 1:]
    frac = np.arange(block, dtype=np.float32) / block
    out = pairs.reshape(k * nbp, 2) @ np.stack([1 - frac, frac])
    return out.reshape(k, nbp * block)[:, :n]


def _levelled(a: np.ndarray, segments: list) -> tuple[np.ndarray, np.ndarray]:
    """``a`` (3, n) in each segment's frame minus the segment's mean vertical, float32, and that
    mean per sample (what to add back where the absolute vertical is needed).

    Every row then averages zero over its segment, so its running sum stays small (about ten
    times the speed, in m/s) and float32 holds it: window means from it are exact to ~1e-5
    m/s², and every analysis-rate row operation moves half the bytes of float64.
    """
    p = project(a.astype(np.float32, copy=False), segments)
    level = np.empty(p.shape[1], np.float32)
    for i0, i1, _, _ in segments:
        level[i0:i1] = p[2, i0:i1].mean()  # pairwise: exact enough, and only an offset
        p[2, i0:i1] -= level[i0]
    return p, level


def _to_vehicle(x: np.ndarray, cal: Calibration) -> np.ndarray:
    """(3, n) vectors in each segment's frame (basis, up) -> vehicle frame (forward, left, up).

    Up is shared; the horizontal pair turns by the forward angle: a scalar rotation per mount
    span, or per sample when the heading is tracked. In place.
    """
    for i0, i1, _, _ in cal.segments:
        if cal.heading_tracked:
            phi = cal.phi[i0:i1]
            c, s = np.cos(phi).astype(x.dtype), np.sin(phi).astype(x.dtype)
        else:
            c, s = float(np.cos(cal.phi[i0])), float(np.sin(cal.phi[i0]))
        h0, h1 = x[0, i0:i1], x[1, i0:i1]
        fwd = c * h0
        fwd += s * h1
        h1 *= c
        h1 -= s * h0
        h0[:] = fwd
    return x


def _norm2(x: np.ndarray, level: np.ndarray | None = None) -> np.ndarray:
    """Squared norm of each column of component-major (3, n) ``x``, row by row; ``level`` is
    added to the vertical row first (see :func:`_levelled`)."""
    out = np.square(x[2] if level is None else x[2] + level)
    out += np.square(x[0])
    out += np.square(x[1])
    return out


def _median(x: np.ndarray) -> float:
    """``np.median`` of finite ``x`` from one partition (NumPy's also scans for NaN)."""
    k = len(x) // 2
    p = np.partition(x, k)
    return float(p[k] if len(x) % 2 else (p[k] + p[:k].max()) / 2)


def _up_guess(accel: np.ndarray) -> np.ndarray:
    """Up from a sparse sample of the accelerometer: good to a fraction of a degree for a fixed
    mount, which is all :func:`_block_means` needs of it (calibration later says exactly)."""
    sample = accel[:: max(len(accel) // 512, 1)]
    mean = sample.mean(axis=0)
    if not np.isfinite(mean).all():
        mean = np.nanmean(sample, axis=0)
    norm = np.linalg.norm(mean)
    return mean / norm if np.isfinite(norm) and norm > 0 else np.array([0.0, 0.0, 1.0])


def _block_means(blocks: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-block means of (nb, factor, 3) samples (nb, 3), and every sample's component along
    ``up`` minus its block's mean (nb, factor), from ONE matrix product: a single pass over the
    raw samples. Both are views of the product (the sample's dtype).

    NumPy's ``mean(axis=1)`` over a short middle axis is a strided reduction several times
    slower than memory speed; a product with a (factor·3, 3 + factor) matrix (averaging
    columns, then one centred projecting column per sample position, padded with zero columns
    to a multiple of 8) streams the data once through BLAS.
    """
    nb, factor, k = blocks.shape
    width = -(-(k + factor) // 8) * 8  # BLAS kernels run fastest on multiples of 8 columns
    w = np.zeros((factor, k, width), blocks.dtype)
    w[:, :, :k] = np.eye(k) / factor
    w[:, :, k : k + factor] = -up[:, None] / factor
    w[np.arange(factor), :, k + np.arange(factor)] += up
    out = blocks.reshape(nb, factor * k) @ w.reshape(factor * k, width)
    return out[:, :k], out[:, k : k + factor]


def _block_shocks(
    blocks: np.ndarray,
    analysis: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    guess: tuple[np.ndarray, np.ndarray],
    segments: list,
    shock_floor: float,
    vertical_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block: peak |linear acceleration|, peak |vertical linear acceleration|, vibration.

    ``analysis`` is ``(p, gravity, low, level)`` in each segment's frame, levelled
    (:func:`_levelled`): the block means of the measured samples and gravity (3, nb), the moving
    average of ``p``'s vertical row that the vibration is taken about, and the level.

    The peaks are exact wherever they can reach their floor; elsewhere the value is an upper
    bound that is itself below the floor. With ``d`` the block mean's deviation from gravity and
    ``W`` the samples' summed squared deviation from the block mean, every sample deviates from
    gravity by at most ``|d| + sqrt(W)`` (and its vertical part by at most ``|d_up| +
    sqrt(W)``): ``W`` comes from one fused sum of squares over the raw samples, the rest is at
    the analysis rate, and only the blocks a bound cannot clear get per-sample maxima.

    The vibration is the mean square, per block, of the vertical acceleration minus its moving
    average ``low`` (a band from about 0.5 Hz for a 1 s window to the IMU's Nyquist rate): the
    within-block variance plus the block mean's own deviation, which add exactly because
    deviations from a block mean sum to zero. ``guess`` is ``(up, every sample's component
    along it minus its block mean)`` from :func:`_block_means`; a mount span whose up is more
    than 1° from it projects its samples again.
    """
    p, gravity, low, level = analysis
    nb, factor, _ = blocks.shape
    flat = blocks.reshape(nb, -1)
    sumsq = np.einsum("ij,ij->i", flat, flat).astype(np.float32, copy=False)
    # float32 rounding of the sums is far below 1e-4 of them: the bounds stay bounds
    spread = np.multiply(sumsq, 1.0 + 1e-4)
    spread -= factor * _norm2(p, level)
    np.sqrt(np.maximum(spread, 0.0, out=spread), out=spread)
    d = p - gravity
    shock = np.sqrt(_norm2(d))
    shock += spread
    vertical = np.abs(d[2])
    vertical += spread
    within = np.empty(nb, np.float32)
    up_guess, centred = guess
    for i0, i1, up, basis in segments:
        check = i0 + np.flatnonzero(vertical[i0:i1] >= vertical_floor)
        if len(check):
            v = blocks[check] @ up.astype(blocks.dtype)
            g_up = (gravity[2, check] + level[check])[:, None]
            vertical[check] = np.abs(v - g_up.astype(v.dtype)).max(1)
        if up @ up_guess >= np.cos(np.radians(1.0)):
            v = centred[i0:i1]
        else:
            v = blocks[i0:i1] @ up.astype(blocks.dtype)
            v -= v.mean(axis=1, keepdims=True)
        within[i0:i1] = np.einsum("ij,ij->i", v, v)
        idx = i0 + np.flatnonzero(shock[i0:i1] >= shock_floor)
        if len(idx):  # gravity back in the sensor frame, for these blocks only
            g = gravity[:, idx].T.astype(np.float64)
            g[:, 2] += level[idx]
            g = g @ np.stack([basis[0], basis[1], up])
            shock[idx] = _exact_shock(blocks[idx], g)
    vibration = np.subtract(p[2], low)
    np.square(vibration, out=vibration)
    within *= 1.0 / factor
    vibration += within
    return shock, vertical, vibration


def _exact_shock(part: np.ndarray, gravity: np.ndarray) -> np.ndarray:
    """Largest |sample - gravity| per block of (k, factor, 3) raw samples."""
    d = part - gravity.astype(part.dtype)[:, None, :]
    d *= d
    return np.sqrt(d.sum(axis=2).max(axis=1))
