"""Road roughness as a per-distance index: how hard the road shakes the vehicle, per 100 m.

A pothole is one jolt; a broken surface is many small ones, which no threshold catches. The
index is the RMS of the vertical acceleration, high-passed so that body motion slower than
about 0.5 Hz (braking pitch, grade changes) is left out, over each stretch of
``roughness_segment_m`` travelled, counting only samples at or above
``roughness_min_speed_kmh`` (a slow vehicle barely excites its suspension). Distance comes from
the drive's speed source, so a drive without one gets no index. The value is in m/s², like
ISO 2631-1's whole-body vibration (docs/events.md says how to read it and where it falls short
of a profilometer's IRI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivelake.signals.motion import Motion


@dataclass(frozen=True)
class RoughSegments:
    """Stretches of road, one entry per stretch: analysis-grid indices ``[i0, i1)`` and index."""

    i0: np.ndarray
    i1: np.ndarray
    distance_m: np.ndarray
    speed_mps: np.ndarray  # mean speed over the samples counted (the index grows with speed)
    rms_mps2: np.ndarray

    def __len__(self) -> int:
        return len(self.i0)


def roughness_segments(m: Motion, cfg: dict) -> RoughSegments:
    """Cut the drive every ``roughness_segment_m`` of travel and take each stretch's RMS.

    A stretch whose counted samples cover less than half its length (mostly slow, or cut off at
    the end of the drive) is left out: its RMS would rest on too little road.
    """
    n = 0 if m.speed is None else min(len(m.speed), len(m.vibration))
    if n == 0:
        empty = np.zeros(0)
        return RoughSegments(empty.astype(int), empty.astype(int), empty, empty, empty)
    speed, vibration = m.speed[:n], m.vibration[:n]
    dt = 1.0 / m.rate_hz
    travelled = np.cumsum(np.fmax(speed, 0.0)) * dt  # metres at each sample's end (NaN: none)
    length = cfg["roughness_segment_m"]
    # a stretch starts at the first sample whose distance reaches the next multiple of the
    # length: one search per stretch, not a float division per sample
    marks = np.arange(1, travelled[-1] // length + 1) * length
    starts = np.r_[0, np.searchsorted(travelled, marks)]
    starts = starts[np.r_[True, starts[1:] > starts[:-1]]]  # one start per sample at most
    ends = np.append(starts[1:], n)
    counted = (speed >= cfg["roughness_min_speed_kmh"] / 3.6) & np.isfinite(vibration)
    samples = np.add.reduceat(counted, starts, dtype=np.int64)
    power = np.add.reduceat(np.where(counted, vibration, 0.0), starts)
    moved = np.add.reduceat(np.where(counted, speed, 0.0), starts)
    before = travelled[starts] - np.fmax(speed[starts], 0.0) * dt  # distance at the start
    keep = (samples > 0) & (moved * dt >= 0.5 * length)
    k = np.maximum(samples, 1)[keep]
    return RoughSegments(
        starts[keep],
        ends[keep],
        (travelled[ends - 1] - before)[keep],
        moved[keep] / k,
        np.sqrt(power[keep] / k),
    )
