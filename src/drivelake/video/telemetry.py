"""A drive's telemetry at arbitrary moments: what frames, sync checks and overlays need.

Speed comes from CAN when the drive has it (the wheel speed a driver sees), else from GNSS or
fused poses; acceleration from ``accel_linear`` (gravity removed) when present, else ``accel``.
Nearest-sample lookups return NaN when no sample lies within ``tolerance_s``, so a frame far
from any fix never borrows a stale position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from drivelake.lake import Lake

G = 9.80665

#: Streams tried in order for each quantity.
_SPEED_STREAMS = ("can", "gnss", "pose")
_POSITION_STREAMS = ("gnss", "pose")
_ACCEL_STREAMS = ("accel_linear", "accel")


@dataclass
class Series:
    """Samples of some channels on the drive's timeline (seconds from the drive's start)."""

    t_s: np.ndarray
    values: dict[str, np.ndarray]

    def nearest(self, t_s: np.ndarray, tolerance_s: float) -> dict[str, np.ndarray]:
        t_s = np.asarray(t_s, float)
        if not len(self.t_s):
            return {k: np.full(len(t_s), np.nan) for k in self.values}
        right = np.clip(np.searchsorted(self.t_s, t_s), 0, len(self.t_s) - 1)
        left = np.clip(right - 1, 0, len(self.t_s) - 1)
        pick = np.where(np.abs(self.t_s[left] - t_s) <= np.abs(self.t_s[right] - t_s), left, right)
        far = np.abs(self.t_s[pick] - t_s) > tolerance_s
        return {k: np.where(far, np.nan, v[pick]) for k, v in self.values.items()}

    def interp(self, t_s: np.ndarray, name: str) -> np.ndarray:
        """Linear interpolation inside the series, NaN outside it."""
        if len(self.t_s) < 2:
            return np.full(len(np.atleast_1d(t_s)), np.nan)
        return np.interp(t_s, self.t_s, self.values[name], left=np.nan, right=np.nan)


@dataclass
class DriveTelemetry:
    speed: Series
    position: Series
    accel: Series
    tolerance_s: float = 1.0
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, lake: Lake, drive_id: str, tolerance_s: float = 1.0) -> DriveTelemetry:
        """Read the streams that matter for video from the lake, once per drive."""
        drive = lake.drive(drive_id)
        start_ns = int(drive["start_ns"] or 0)
        wanted = set(_SPEED_STREAMS + _POSITION_STREAMS + _ACCEL_STREAMS)
        present = [s for s in drive["streams"] or [] if s in wanted]
        columns = ["speed_mps", "lat", "lon", "ax", "ay", "az"]
        table = lake.signals(drive_id, streams=present, columns=columns) if present else None
        by_stream = {}
        if table is not None and table.num_rows:
            names = np.asarray(table.column("stream").to_numpy(zero_copy_only=False))
            t_s = (table.column("t_ns").to_numpy() - start_ns) / 1e9
            for name in present:
                mask = names == name
                by_stream[name] = (
                    t_s[mask],
                    {
                        c: table.column(c).to_numpy(zero_copy_only=False)[mask].astype(float)
                        for c in columns
                    },
                )
        sources: dict[str, str] = {}

        def pick(candidates: tuple[str, ...], channels: tuple[str, ...], what: str) -> Series:
            for name in candidates:
                if name in by_stream:
                    t, v = by_stream[name]
                    ok = np.all([np.isfinite(v[c]) for c in channels], axis=0)
                    if ok.any():
                        sources[what] = name
                        return Series(t[ok], {c: v[c][ok] for c in channels})
            return Series(np.empty(0), {c: np.empty(0) for c in channels})

        return cls(
            speed=pick(_SPEED_STREAMS, ("speed_mps",), "speed"),
            position=pick(_POSITION_STREAMS, ("lat", "lon"), "position"),
            accel=pick(_ACCEL_STREAMS, ("ax", "ay", "az"), "accel"),
            tolerance_s=tolerance_s,
            sources=sources,
        )

    def at(self, t_s: np.ndarray) -> dict[str, np.ndarray]:
        """Nearest speed, position and acceleration for each time (NaN where none is close)."""
        out: dict[str, np.ndarray] = {}
        for series in (self.speed, self.position, self.accel):
            out.update(series.nearest(t_s, self.tolerance_s))
        return out

    def speed_at(self, t_s: np.ndarray) -> np.ndarray:
        return self.speed.interp(t_s, "speed_mps")

    def g_force_at(self, t_s: np.ndarray) -> np.ndarray:
        """Horizontal acceleration in g (braking, accelerating and cornering together)."""
        ax = self.accel.interp(t_s, "ax")
        ay = self.accel.interp(t_s, "ay")
        return np.hypot(ax, ay) / G
