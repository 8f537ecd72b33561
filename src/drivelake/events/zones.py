"""Speed limits per geofence: a school street, a depot, a motorway, each with its own limit.

Zones come from the event config (``[[speed_zones]]``, see docs/events.md): a polygon of
``[lat, lon]`` vertices or a circle (``center`` + ``radius_m``), a ``limit_kmh`` and optionally
the vehicle ``classes`` it applies to. Inside a zone its limit replaces the vehicle class's
default; where zones overlap, the lowest limit wins. Shapes are tested in a local flat
projection (equirectangular about the point), which is exact to well under a metre over the few
kilometres a speed zone spans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivelake.errors import InputError

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class SpeedZone:
    name: str
    limit_kmh: float
    polygon: tuple[tuple[float, float], ...] = ()  # (lat, lon) vertices, degrees
    center: tuple[float, float] | None = None  # (lat, lon), degrees
    radius_m: float = 0.0
    classes: tuple[str, ...] = ()  # vehicle classes it applies to; empty = all

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> SpeedZone:
        """One ``[[speed_zones]]`` table, checked; ``where`` names it in error messages."""
        known = {"name", "limit_kmh", "polygon", "center", "radius_m", "classes"}
        if unknown := set(raw) - known:
            raise InputError(where, f"unknown speed zone settings {sorted(unknown)}")
        try:
            name, limit = str(raw["name"]), float(raw["limit_kmh"])
            polygon = tuple((float(a), float(b)) for a, b in raw.get("polygon", ()))
            center = tuple(float(x) for x in raw["center"]) if "center" in raw else None
            radius = float(raw.get("radius_m", 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(where, f"speed zone needs name, limit_kmh and a shape: {exc}") from exc
        if (len(polygon) >= 3) == (center is not None and len(center) == 2 and radius > 0):
            raise InputError(
                where,
                f"speed zone {name!r}: give polygon = [[lat, lon], ...] (3+ vertices) "
                "or center = [lat, lon] with radius_m > 0, not both",
            )
        classes = tuple(str(c) for c in raw.get("classes", ()))
        return cls(name, limit, polygon, center, radius, classes)  # type: ignore[arg-type]

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Which points (degrees; NaN = position unknown) lie inside the zone."""
        if self.center is not None:
            x, y = _local_m(lat, lon, *self.center)
            return x * x + y * y <= self.radius_m**2
        vy, vx = (np.array(c) for c in zip(*self.polygon, strict=True))
        inside = np.zeros(len(lat), bool)
        for k in range(len(vx)):  # even-odd rule: count the edges a ray to the east crosses
            x0, y0, x1, y1 = vx[k - 1], vy[k - 1], vx[k], vy[k]
            if y0 == y1:
                continue
            spans = (lat >= min(y0, y1)) & (lat < max(y0, y1))
            cross = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
            inside ^= spans & (lon < cross)
        return inside


def _local_m(lat, lon, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """East/north metres of points from ``(lat0, lon0)`` in the local flat projection."""
    k = math.pi / 180 * EARTH_RADIUS_M
    return (lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k


@dataclass(frozen=True)
class SpeedLimits:
    """The limit along one drive: km/h per analysis sample, and which zone set it."""

    limit_kmh: np.ndarray
    zone: np.ndarray  # index into ``names``; -1 where the vehicle class's default applies
    names: tuple[str, ...]

    def name(self, i: int) -> str | None:
        k = int(self.zone[i])
        return self.names[k] if k >= 0 else None


def speed_limits(
    zones: tuple[SpeedZone, ...],
    vehicle_class: str,
    lat: np.ndarray,
    lon: np.ndarray,
    default_kmh: float,
) -> SpeedLimits:
    """The limit at every point (degrees; NaN = unknown, the default applies): inside a zone
    its limit, the lowest where zones overlap, elsewhere ``default_kmh``."""
    limit = np.full(len(lat), np.inf)
    which = np.full(len(lat), -1)
    for k, zone in enumerate(zones):
        if zone.classes and vehicle_class not in zone.classes:
            continue
        lower = zone.contains(lat, lon) & (zone.limit_kmh < limit)
        limit[lower], which[lower] = zone.limit_kmh, k
    limit[which < 0] = default_kmh
    return SpeedLimits(limit, which, tuple(z.name for z in zones))
