"""A SYNTHETIC fleet: vehicles driving a city grid, logged like a telematics box, with ground truth.

Real fleet data has no labels and cannot be shipped with an open-source project, so the demo, the
event detectors' evaluation and the benchmarks use this generator. Everything it writes says it
is synthetic: vehicle ids start with ``synth-``, ``fleet.json`` carries ``"synthetic": true`` and
the CSV reader marks drives it finds beside such a manifest as synthetic in the ``drives`` table.

**Kinematics.** A drive is a sequence of segments, each an analytic profile of longitudinal
acceleration ``a_lon`` (its speed ``v`` is the closed-form integral, so ``dv/dt = a_lon`` holds
sample for sample) and yaw rate ``r``. Speed changes and turns use sin² pulses (finite jerk).
Lateral acceleration is centripetal, ``a_lat = v·r``; frames follow ISO 8855 (x forward, y left,
z up), so a left turn has ``r > 0`` and ``a_lat > 0``. Position is the integral of ``v`` along the
heading; turns are 90° at intersections or gentle S-bends, so tracks stay on a rotated street grid
around a base position.

**Sensors.** The accelerometer measures specific force ``[a_lon, a_lat, a_z + g]`` plus road
vibration, rotated into a tilted, yawed device frame (one fixed random mount rotation per vehicle,
``R`` with ``v_vehicle = R @ v_device``), plus a bias and white noise; the gyroscope measures
``[0, 0, r]`` in the same device frame. GPS fixes come at 1 Hz with ~2.5 m of slowly correlated
error, Doppler speed and course.

**Ground truth.** Every injected manoeuvre is a :class:`TruthEvent` with times in seconds from the
drive's first sample. ``peak`` is SI: m/s² magnitude for acceleration-type events (decel for
brakes, |lateral| for turns and lane changes, |spike| for impacts, |vertical| for potholes) and
m/s for ``speeding``. Types starting with ``normal_`` are the non-harsh negatives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from drivelake.schema import EVENT_TYPES

GENERATOR_VERSION = "1.0"
G = 9.80665
EARTH_RADIUS_M = 6_371_008.8
#: Default base of the city grid (lat, lon): an arbitrary mid-latitude city centre.
DEFAULT_BASE = (48.137, 11.575)
DEFAULT_START_UTC = datetime(2024, 3, 4, 7, 0, tzinfo=UTC)
LANE_WIDTH_M = 3.5
#: How much harder a rough stretch (broken surface, cobbles) shakes the vehicle than smooth road.
ROUGH_ROAD_FACTOR = 4.0

HARSH_TYPES = EVENT_TYPES  # the generator injects every type the detectors know
NORMAL_TYPES = ("normal_brake", "normal_acceleration", "normal_turn", "normal_lane_change")
#: Manoeuvres whose truth has a left/right direction.
DIRECTED_TYPES = frozenset({"harsh_turn", "harsh_lane_change", "normal_turn", "normal_lane_change"})

#: The ranges injected manoeuvres are drawn from (m/s² unless named otherwise). Harsh ranges start
#: above common telematics thresholds; normal ones stay below 0.2 g so they are clear negatives.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "harsh_brake": (0.50 * G, 0.75 * G),
    "harsh_acceleration": (0.38 * G, 0.50 * G),
    "harsh_turn": (0.48 * G, 0.65 * G),
    "harsh_lane_change": (0.30 * G, 0.40 * G),
    "impact": (3.0 * G, 6.0 * G),
    "pothole": (0.6 * G, 1.2 * G),
    "speeding_over_kmh": (10.0, 25.0),
    "normal_turn": (0.10 * G, 0.18 * G),
    "normal_lane_change": (0.06 * G, 0.12 * G),
    "normal_curve": (0.05 * G, 0.12 * G),
}

#: The CSV's columns and the decimals written for each: what a typical telematics export keeps.
CSV_DECIMALS = {"timestamp": 3, "lat": 7, "lon": 7, "speed_kmh": 2, "heading_deg": 1}
CSV_DECIMALS.update({f"acc_{a}": 4 for a in "xyz"} | {f"gyro_{a}": 5 for a in "xyz"})


@dataclass(frozen=True)
class VehicleClass:
    """How a kind of vehicle drives when nothing harsh happens."""

    cruise_mps: tuple[float, float]
    normal_accel: tuple[float, float]  # peak longitudinal accel/decel of normal driving, m/s²
    vibration: float  # road vibration std at 15 m/s, m/s² (vertical; a third of it horizontally)


CLASSES: dict[str, VehicleClass] = {
    "car": VehicleClass((10.0, 12.5), (0.10 * G, 0.18 * G), 0.15),
    "van": VehicleClass((9.5, 12.0), (0.08 * G, 0.15 * G), 0.20),
    "truck": VehicleClass((8.5, 11.0), (0.06 * G, 0.12 * G), 0.30),
}


@dataclass(frozen=True)
class Vehicle:
    """A synthetic vehicle and its sensor box: mount rotation (device → vehicle) and biases."""

    vehicle_id: str
    vehicle_class: str
    mount: tuple[tuple[float, ...], ...]  # 3×3 rotation R: v_vehicle = R @ v_device
    accel_bias: tuple[float, float, float]
    gyro_bias: tuple[float, float, float]

    @property
    def mount_matrix(self) -> np.ndarray:
        return np.asarray(self.mount, dtype=np.float64)

    @classmethod
    def random(cls, vehicle_id: str, vehicle_class: str, rng: np.random.Generator) -> Vehicle:
        """A box mounted at any yaw, tilted up to 20° in pitch and 15° in roll."""
        yaw = rng.uniform(-np.pi, np.pi)
        pitch = np.radians(rng.uniform(-20, 20))
        roll = np.radians(rng.uniform(-15, 15))
        mount = _rot_z(yaw) @ _rot_y(pitch) @ _rot_x(roll)
        return cls(
            vehicle_id,
            vehicle_class,
            tuple(tuple(float(x) for x in row) for row in mount),
            tuple(float(x) for x in rng.normal(0, 0.05, 3)),
            tuple(float(x) for x in rng.normal(0, 0.002, 3)),
        )


@dataclass(frozen=True)
class TruthEvent:
    """One injected manoeuvre: times in seconds from the drive's first sample, peak in SI."""

    type: str
    direction: str | None
    start_s: float
    end_s: float
    peak: float


@dataclass
class SynthDrive:
    """One synthetic drive in memory: true kinematics, sensor readings and ground truth.

    IMU arrays are at ``rate_hz``; GPS arrays are at 1 Hz, taken at samples ``gps_index``.
    """

    vehicle: Vehicle
    rate_hz: int
    start_epoch_s: float
    speed_limit_mps: float
    speed_mps: np.ndarray  # true speed, m/s
    a_lon: np.ndarray  # true longitudinal acceleration (vehicle frame), m/s²
    a_lat: np.ndarray  # true lateral acceleration (vehicle frame), m/s²
    yaw_rate: np.ndarray  # true yaw rate, rad/s (positive = left)
    acc: np.ndarray  # (n, 3) accelerometer in the device frame, m/s²
    gyro: np.ndarray  # (n, 3) gyroscope in the device frame, rad/s
    gps_index: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    gps_speed_mps: np.ndarray
    course_deg: np.ndarray
    truth: list[TruthEvent] = field(default_factory=list)
    #: true std of the road's vertical vibration per sample, m/s² (the roughness truth)
    vibration_std: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.speed_mps)

    @property
    def t_s(self) -> np.ndarray:
        """Seconds from the drive's first sample."""
        return np.arange(len(self)) / self.rate_hz

    @property
    def duration_s(self) -> float:
        return (len(self) - 1) / self.rate_hz

    @property
    def distance_m(self) -> float:
        return float(np.sum(self.speed_mps) / self.rate_hz)

    def to_table(self):
        """The drive as the CSV's table: one row per IMU sample, GPS cells only on fix rows."""
        import pyarrow as pa

        n = len(self)
        mask = np.ones(n, dtype=bool)
        mask[self.gps_index] = False

        def sparse(name: str, values: np.ndarray) -> pa.Array:
            full = np.zeros(n)
            full[self.gps_index] = np.round(values, CSV_DECIMALS[name])
            return pa.array(full, pa.float64(), mask=mask)

        columns = {
            "timestamp": _fixed_decimals(self.start_epoch_s + self.t_s, CSV_DECIMALS["timestamp"]),
            "lat": sparse("lat", self.lat),
            "lon": sparse("lon", self.lon),
            "speed_kmh": sparse("speed_kmh", self.gps_speed_mps * 3.6),
            "heading_deg": sparse("heading_deg", self.course_deg),
        }
        for prefix, values in (("acc", self.acc), ("gyro", self.gyro)):
            for i, axis in enumerate("xyz"):
                name = f"{prefix}_{axis}"
                columns[name] = pa.array(np.round(values[:, i], CSV_DECIMALS[name]))
        return pa.table(columns)

    def write_csv(self, path: str | Path) -> None:
        """Write the telematics-style CSV that the generic reader auto-detects."""
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(
            batch_size=1 << 16, quoting_style="none", quoting_header="none"
        )
        pacsv.write_csv(self.to_table(), str(path), options)

    def write_truth(self, path: str | Path) -> None:
        lines = ["type,direction,start_s,end_s,peak"]
        lines += [
            f"{e.type},{e.direction or ''},{e.start_s:.2f},{e.end_s:.2f},{e.peak:.3f}"
            for e in self.truth
        ]
        Path(path).write_text("\n".join(lines) + "\n")


def _fixed_decimals(values: np.ndarray, decimals: int):
    """Non-negative numbers as text with exactly ``decimals`` decimals (``1709536667.000``).

    Vectorised through Arrow's string kernels: formatting millions of rows in Python is slow.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    scaled = np.round(values * 10**decimals).astype(np.int64)
    whole = pa.array(scaled // 10**decimals).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(scaled % 10**decimals).cast(pa.string()), decimals, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


# --------------------------------------------------------------------------- route building


class _Route:
    """Accumulates analytic segments (a_lon, v, yaw rate, vertical shock) and the truth."""

    def __init__(self, rate_hz: int, rng: np.random.Generator) -> None:
        self.rate = rate_hz
        self.rng = rng
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.cruise: list[tuple[int, int]] = []  # sample ranges that get speed noise
        self.truth: list[tuple[str, str | None, int, int, float]] = []
        self.n = 0
        self.v = 0.0

    def _t(self, seconds: float) -> np.ndarray:
        return np.arange(max(1, round(seconds * self.rate))) / self.rate

    def _add(self, a: np.ndarray, v: np.ndarray, r: np.ndarray, az: np.ndarray | None = None):
        start = self.n
        self.parts.append((a, v, r, np.zeros_like(v) if az is None else az))
        self.n += len(v)
        return start, self.n

    def mark(self, kind: str, direction: str | None, span: tuple[int, int], peak: float) -> None:
        self.truth.append((kind, direction, span[0], span[1], float(peak)))

    def hold(self, seconds: float, *, noisy: bool = True) -> tuple[int, int]:
        t = self._t(seconds)
        span = self._add(np.zeros_like(t), np.full_like(t, self.v), np.zeros_like(t))
        if noisy and self.v > 0:
            self.cruise.append(span)
        return span

    def ramp(self, v1: float, peak: float) -> tuple[tuple[int, int], float]:
        """Change speed to ``v1`` with a sin² acceleration pulse of about ``peak`` m/s²."""
        dv = v1 - self.v
        if abs(dv) < 1e-9:
            return (self.n, self.n), 0.0
        n = max(2, math.ceil(2 * abs(dv) / peak * self.rate))
        T = n / self.rate
        t = np.arange(n) / self.rate
        a = (2 * dv / T) * np.sin(np.pi * t / T) ** 2
        v = self.v + dv * (t / T - np.sin(2 * np.pi * t / T) / (2 * np.pi))
        span = self._add(a, v, np.zeros_like(t))
        self.v = v1
        return span, abs(2 * dv / T)

    def turn(self, angle: float, lateral: float) -> tuple[tuple[int, int], float]:
        """Turn by ``angle`` rad (positive = left) at constant speed, peak |v·r| ≈ ``lateral``."""
        r_peak = lateral / self.v
        n = max(2, math.ceil(2 * abs(angle) / r_peak * self.rate))
        T = n / self.rate
        t = np.arange(n) / self.rate
        r = (2 * angle / T) * np.sin(np.pi * t / T) ** 2
        span = self._add(np.zeros_like(t), np.full_like(t, self.v), r)
        return span, self.v * 2 * abs(angle) / T

    def lane_change(self, sign: int, lateral: float) -> tuple[int, int]:
        """One lane sideways: lateral accel ``sign·A·sin(2πt/T)``, heading back to the road's."""
        T = math.sqrt(2 * np.pi * LANE_WIDTH_M / lateral)
        t = self._t(T)
        r = sign * lateral * np.sin(2 * np.pi * t / T) / self.v
        return self._add(np.zeros_like(t), np.full_like(t, self.v), r)

    def spike(self, peak: float, seconds: float = 0.12) -> tuple[int, int]:
        """A frontal impact: a half-sine deceleration spike (its speed loss follows from it)."""
        t = self._t(seconds)
        a = -peak * np.sin(np.pi * t / seconds)
        v = self.v - peak * seconds / np.pi * (1 - np.cos(np.pi * t / seconds))
        span = self._add(a, v, np.zeros_like(t))
        self.v = max(0.0, self.v - 2 * peak * seconds / np.pi)
        return span

    def shock(self, peak: float) -> tuple[int, int]:
        """A pothole: a damped 10 Hz vertical oscillation at constant speed."""
        t = self._t(0.5)
        shape = np.exp(-t / 0.08) * np.sin(2 * np.pi * 10 * t)
        az = peak * shape / np.abs(shape).max()
        return self._add(np.zeros_like(t), np.full_like(t, self.v), np.zeros_like(t), az)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(4))


def _drive_plan(
    route: _Route,
    kind: VehicleClass,
    minutes: float,
    harsh: Sequence[str],
    speed_limit: float,
) -> None:
    """Drive street segments and intersections until ``minutes`` pass, injecting ``harsh``."""
    rng, u = route.rng, route.rng.uniform
    queue = list(harsh)
    route.hold(u(5, 15))
    span, peak = route.ramp(u(*kind.cruise_mps), u(*kind.normal_accel))
    route.mark("normal_acceleration", None, span, peak)
    leg = 0
    while route.n < minutes * 60 * route.rate:
        vc = u(*kind.cruise_mps)
        if abs(vc - route.v) > 0.5:
            route.ramp(vc, u(*kind.normal_accel))
        route.hold(u(12, 40))
        leg += 1
        if leg % 2 == 0 and queue:
            _harsh(route, queue.pop(0), kind, speed_limit)
        else:
            action = rng.choice(["straight", "stop", "normal_turn", "bend", "lane_change"])
            _normal(route, str(action), kind)
    span, peak = route.ramp(0.0, u(*kind.normal_accel))
    route.mark("normal_brake", None, span, peak)
    route.hold(u(3, 10))


def _side(rng: np.random.Generator) -> tuple[int, str]:
    sign = int(rng.choice([-1, 1]))
    return sign, "left" if sign > 0 else "right"


def _normal(route: _Route, action: str, kind: VehicleClass) -> None:
    """A non-harsh manoeuvre: the negatives a detector must not flag."""
    rng, u = route.rng, route.rng.uniform
    vc = route.v
    if action == "stop":
        span, peak = route.ramp(0.0, u(*kind.normal_accel))
        route.mark("normal_brake", None, span, peak)
        route.hold(u(4, 25))
        span, peak = route.ramp(vc, u(*kind.normal_accel))
        route.mark("normal_acceleration", None, span, peak)
    elif action == "normal_turn":
        route.ramp(u(4.5, 6.5), u(*kind.normal_accel))
        sign, side = _side(rng)
        route.mark("normal_turn", side, *route.turn(sign * np.pi / 2, u(*THRESHOLDS[action])))
        route.ramp(vc, u(*kind.normal_accel))
    elif action == "bend":  # a street jog: gentle curve, short straight, curve back
        sign, side = _side(rng)
        angle, lateral = np.radians(u(20, 40)), u(*THRESHOLDS["normal_curve"])
        route.mark("normal_turn", side, *route.turn(sign * angle, lateral))
        route.hold(u(3, 6))
        route.mark("normal_turn", _flip(side), *route.turn(-sign * angle, lateral))
    elif action == "lane_change":
        sign, side = _side(rng)
        lateral = u(*THRESHOLDS["normal_lane_change"])
        route.mark("normal_lane_change", side, route.lane_change(sign, lateral), lateral)


def _flip(side: str) -> str:
    return "right" if side == "left" else "left"


def _harsh(route: _Route, kind_name: str, kind: VehicleClass, speed_limit: float) -> None:
    """Inject one harsh manoeuvre (or impact, pothole, speeding) starting and ending at cruise."""
    rng, u = route.rng, route.rng.uniform

    def normal() -> float:
        return u(*kind.normal_accel)

    vc = route.v
    if kind_name == "harsh_brake":
        span, peak = route.ramp(0.0 if rng.random() < 0.6 else u(2, 4), u(*THRESHOLDS[kind_name]))
        route.mark(kind_name, None, span, peak)
        route.hold(u(3, 10))
        route.ramp(vc, normal())
    elif kind_name == "harsh_acceleration":
        route.ramp(0.0, normal())
        route.hold(u(4, 15))
        span, peak = route.ramp(vc, u(*THRESHOLDS[kind_name]))
        route.mark(kind_name, None, span, peak)
    elif kind_name == "harsh_turn":
        route.ramp(u(8.0, 10.0), normal())
        sign, side = _side(rng)
        route.mark(kind_name, side, *route.turn(sign * np.pi / 2, u(*THRESHOLDS[kind_name])))
        route.ramp(vc, normal())
    elif kind_name == "harsh_lane_change":
        route.ramp(max(vc, 11.0), normal())
        sign, side = _side(rng)
        lateral = u(*THRESHOLDS[kind_name])
        route.mark(kind_name, side, route.lane_change(sign, lateral), lateral)
    elif kind_name == "impact":
        peak = u(*THRESHOLDS[kind_name])
        start, _ = route.spike(peak)
        (_, stop), _ = route.ramp(0.0, 0.4 * G)
        route.mark(kind_name, None, (start, stop), peak)
        route.hold(u(45, 120))
        route.ramp(vc, normal())
    elif kind_name == "pothole":
        peak = u(*THRESHOLDS[kind_name])
        route.mark(kind_name, None, route.shock(peak), peak)
        route.hold(u(2, 5))
    elif kind_name == "speeding":
        route.ramp(speed_limit + u(*THRESHOLDS["speeding_over_kmh"]) / 3.6, normal())
        span = route.hold(u(15, 40))
        route.mark(kind_name, None, span, 0.0)  # window and peak come from the final speed
        route.ramp(vc, normal())
    else:
        raise ValueError(f"unknown manoeuvre {kind_name!r}; choose from {HARSH_TYPES}")


# --------------------------------------------------------------------------- sensors


def synth_drive(
    seed: int = 0,
    minutes: float = 10.0,
    rate_hz: int = 100,
    vehicle: Vehicle | None = None,
    vehicle_class: str = "car",
    harsh: Sequence[str] | None = None,
    start_utc: datetime = DEFAULT_START_UTC,
    base: tuple[float, float] = DEFAULT_BASE,
    speed_limit_kmh: float = 50.0,
    rough_spans_s: Sequence[tuple[float, float]] = (),
) -> SynthDrive:
    """Generate one drive in memory (deterministic for ``seed``; vectorised, ~0.2 s per hour).

    ``harsh`` lists the manoeuvres to inject in order, one every second street segment; by
    default every type in :data:`HARSH_TYPES` in a seeded order, repeated to fill the drive.
    ``rough_spans_s``: ``(start_s, end_s)`` stretches of rough road, where the road vibration
    is :data:`ROUGH_ROAD_FACTOR` times stronger (nothing else about the drive changes).
    """
    rng = np.random.default_rng(seed)
    if vehicle is None:
        vehicle = Vehicle.random(f"synth-{vehicle_class}-00", vehicle_class, rng)
    kind = CLASSES[vehicle.vehicle_class]
    if harsh is None:
        order = [str(k) for k in rng.permutation(HARSH_TYPES)]
        harsh = (order * (1 + int(minutes // 14)))[: max(1, round(minutes / 2))]
    limit = speed_limit_kmh / 3.6
    route = _Route(rate_hz, rng)
    _drive_plan(route, kind, minutes, harsh, limit)
    a_lon, v, r, az = route.arrays()
    n, dt = len(v), 1.0 / rate_hz
    _add_cruise_noise(route, v, a_lon, dt)
    a_lat = v * r

    vibration_std = kind.vibration * np.minimum(0.1 + v / 15.0, 1.5)
    for start, end in rough_spans_s:
        vibration_std[round(start * rate_hz) : round(end * rate_hz)] *= ROUGH_ROAD_FACTOR
    vib = vibration_std[:, None] * rng.standard_normal((n, 3))
    vib[:, :2] /= 3
    mount = vehicle.mount_matrix  # device = vehicle @ R, row by row (R maps device to vehicle)
    acc = (
        (a_lon + vib[:, 0])[:, None] * mount[0]
        + (a_lat + vib[:, 1])[:, None] * mount[1]
        + (az + G + vib[:, 2])[:, None] * mount[2]
    )
    acc += np.asarray(vehicle.accel_bias) + rng.normal(0, 0.03, (n, 3))
    gyro = r[:, None] * mount[2] + np.asarray(vehicle.gyro_bias) + rng.normal(0, 0.003, (n, 3))

    grid = np.radians(rng.uniform(0, 90))  # the city grid's orientation
    heading = grid + rng.integers(0, 4) * np.pi / 2 + np.cumsum(r) * dt
    east = rng.uniform(-2000, 2000) + np.cumsum(v * np.cos(heading)) * dt
    north = rng.uniform(-2000, 2000) + np.cumsum(v * np.sin(heading)) * dt
    gps_index = np.arange(0, n, rate_hz)
    error = _gps_error(rng, len(gps_index), sigma_m=2.5)
    lat0, lon0 = base
    lat = lat0 + np.degrees((north[gps_index] + error[:, 1]) / EARTH_RADIUS_M)
    lon = lon0 + np.degrees(
        (east[gps_index] + error[:, 0]) / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))
    )
    gps_v = v[gps_index]
    course_noise = rng.normal(0, 1.0 + 30.0 * np.exp(-2 * gps_v))
    course = (90.0 - np.degrees(heading[gps_index]) + course_noise) % 360.0
    gps_speed = np.maximum(0.0, gps_v + rng.normal(0, 0.1, len(gps_index)))

    drive = SynthDrive(
        vehicle=vehicle,
        rate_hz=rate_hz,
        start_epoch_s=start_utc.timestamp(),
        speed_limit_mps=limit,
        speed_mps=v,
        a_lon=a_lon,
        a_lat=a_lat,
        yaw_rate=r,
        acc=acc,
        gyro=gyro,
        gps_index=gps_index,
        lat=lat,
        lon=lon,
        gps_speed_mps=gps_speed,
        course_deg=course,
        vibration_std=vibration_std,
    )
    drive.truth = [_truth_event(e, v, limit, rate_hz) for e in route.truth]
    return drive


def _add_cruise_noise(route: _Route, v: np.ndarray, a_lon: np.ndarray, dt: float) -> None:
    """Drivers never hold a speed exactly: add smooth wander (±~0.5 m/s) on cruise segments.

    The wander is tapered to zero at each segment's ends and its derivative is added to
    ``a_lon``, so speed stays continuous and ``dv/dt = a_lon`` still holds.
    """
    rng = route.rng
    t = np.arange(len(v)) * dt
    wander = np.zeros_like(v)
    for period in (8.0, 17.0, 31.0):
        wander += rng.uniform(0.1, 0.2) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3))
    taper = np.zeros_like(v)
    for a, b in route.cruise:
        taper[a:b] = np.sin(np.pi * np.arange(b - a) / (b - a)) ** 2
    dv = taper * wander
    v += dv
    a_lon += np.gradient(dv, dt)


def _gps_error(rng: np.random.Generator, n: int, sigma_m: float) -> np.ndarray:
    """East/north GPS error: AR(1) with a ~20 s correlation time, as receivers drift."""
    from scipy.signal import lfilter

    rho = math.exp(-1.0 / 20.0)
    white = rng.normal(0, sigma_m * math.sqrt(1 - rho**2), (n, 2))
    white[0] = rng.normal(0, sigma_m, 2)
    return lfilter([1.0], [1.0, -rho], white, axis=0)


def _truth_event(
    raw: tuple[str, str | None, int, int, float], v: np.ndarray, limit: float, rate_hz: int
) -> TruthEvent:
    kind, direction, start, end, peak = raw
    if kind == "speeding":  # the span is the hold above the limit: widen to all of it
        above = v > limit
        while start > 0 and above[start - 1]:
            start -= 1
        while end < len(v) and above[end]:
            end += 1
        peak = float(v[start:end].max())
    return TruthEvent(kind, direction, round(start / rate_hz, 2), round(end / rate_hz, 2), peak)


# --------------------------------------------------------------------------- fleets


@dataclass
class FleetManifest:
    """What ``fleet.json`` records: how the fleet was made and where each drive and truth is."""

    seed: int
    rate_hz: int
    speed_limit_kmh: float
    base: tuple[float, float]
    vehicles: list[Vehicle]
    drives: list[dict[str, Any]]
    out_dir: str = ""
    synthetic: bool = True
    generator: str = "drivelake.synth"
    version: str = GENERATOR_VERSION

    @property
    def classes(self) -> dict[str, str]:
        return {v.vehicle_id: v.vehicle_class for v in self.vehicles}

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("out_dir")
        data["classes"] = self.classes
        data["thresholds"] = THRESHOLDS
        return json.dumps(data, indent=1)

    @classmethod
    def load(cls, out_dir: str | Path) -> FleetManifest:
        data = json.loads((Path(out_dir) / "fleet.json").read_text())
        vehicles = [
            Vehicle(
                v["vehicle_id"],
                v["vehicle_class"],
                tuple(tuple(row) for row in v["mount"]),
                tuple(v["accel_bias"]),
                tuple(v["gyro_bias"]),
            )
            for v in data["vehicles"]
        ]
        return cls(
            seed=data["seed"],
            rate_hz=data["rate_hz"],
            speed_limit_kmh=data["speed_limit_kmh"],
            base=tuple(data["base"]),
            vehicles=vehicles,
            drives=data["drives"],
            out_dir=str(out_dir),
            synthetic=data["synthetic"],
            generator=data["generator"],
            version=data["version"],
        )

    def truth(self, drive_file: str) -> list[TruthEvent]:
        """The ground truth of a drive, by its CSV's file name."""
        entry = next(d for d in self.drives if Path(d["file"]).name == Path(drive_file).name)
        return read_truth(Path(self.out_dir) / entry["truth"])


def read_truth(path: str | Path) -> list[TruthEvent]:
    import csv

    with Path(path).open() as fh:
        return [
            TruthEvent(
                row["type"],
                row["direction"] or None,
                float(row["start_s"]),
                float(row["end_s"]),
                float(row["peak"]),
            )
            for row in csv.DictReader(fh)
        ]


def generate_fleet(
    out_dir: str | Path,
    drives: int = 12,
    seed: int = 0,
    minutes: tuple[float, float] = (8, 15),
    rate_hz: int = 100,
    vehicles: int = 4,
    speed_limit_kmh: float = 50.0,
    base: tuple[float, float] = DEFAULT_BASE,
) -> FleetManifest:
    """Write a synthetic fleet: ``drives/*.csv``, ``truth/*.truth.csv`` and ``fleet.json``.

    Vehicles cycle through car, van, truck; drive ``i`` belongs to vehicle ``i % vehicles``, on
    day ``i // vehicles``. The harsh manoeuvres rotate across drives so a fleet of 4+ drives
    holds every type. Files a previous synthetic fleet in ``out_dir`` listed are replaced.
    """
    out = Path(out_dir)
    _remove_previous_fleet(out)
    (out / "drives").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = tuple(CLASSES)
    fleet = [
        Vehicle.random(f"synth-{classes[k % 3]}-{k + 1:02d}", classes[k % 3], rng)
        for k in range(vehicles)
    ]
    entries = []
    for i in range(drives):
        vehicle = fleet[i % vehicles]
        length = float(rng.uniform(*minutes))
        offset = (i // vehicles) * 86400 + (i % vehicles) * 1800 + float(rng.uniform(0, 1200))
        start = datetime.fromtimestamp(DEFAULT_START_UTC.timestamp() + round(offset), tz=UTC)
        first = (2 * i) % len(HARSH_TYPES)
        harsh = [HARSH_TYPES[(first + k) % len(HARSH_TYPES)] for k in range(round(length / 2.5))]
        drive = synth_drive(
            seed=int(rng.integers(2**31)),
            minutes=length,
            rate_hz=rate_hz,
            vehicle=vehicle,
            harsh=harsh,
            start_utc=start,
            base=base,
            speed_limit_kmh=speed_limit_kmh,
        )
        name = f"{vehicle.vehicle_id}_{i + 1:03d}"
        drive.write_csv(out / "drives" / f"{name}.csv")
        drive.write_truth(out / "truth" / f"{name}.truth.csv")
        entries.append(
            {
                "file": f"drives/{name}.csv",
                "truth": f"truth/{name}.truth.csv",
                "vehicle_id": vehicle.vehicle_id,
                "vehicle_class": vehicle.vehicle_class,
                "start_utc": start.isoformat(),
                "duration_s": drive.duration_s,
                "distance_m": round(drive.distance_m, 1),
                "events": len(drive.truth),
            }
        )
    manifest = FleetManifest(
        seed=seed,
        rate_hz=rate_hz,
        speed_limit_kmh=speed_limit_kmh,
        base=base,
        vehicles=fleet,
        drives=entries,
        out_dir=str(out),
    )
    (out / "fleet.json").write_text(manifest.to_json())
    return manifest


def _remove_previous_fleet(out: Path) -> None:
    """Delete the files an earlier synthetic fleet here wrote, so stale drives never linger."""
    try:
        old = json.loads((out / "fleet.json").read_text())
    except (OSError, ValueError):
        return
    if old.get("synthetic") is not True:
        return
    for entry in old.get("drives", []):
        for key in ("file", "truth"):
            (out / entry[key]).unlink(missing_ok=True)


def fleet_entry(path: str | Path) -> dict[str, Any] | None:
    """The ``fleet.json`` entry of a synthetic drive file, or None for any other file.

    Readers call this to mark drives synthetic: the manifest sits in the drive's folder or the
    one above it (``fleet/drives/x.csv`` beside ``fleet/fleet.json``).
    """
    p = Path(path).resolve()
    for folder in (p.parent, p.parent.parent):
        try:
            data = json.loads((folder / "fleet.json").read_text())
        except (OSError, ValueError):
            continue
        if data.get("synthetic") is not True:
            return None
        for entry in data.get("drives", []):
            if (folder / entry.get("file", "")).resolve() == p:
                return entry
        return None
    return None


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


__all__ = [
    "CLASSES",
    "HARSH_TYPES",
    "NORMAL_TYPES",
    "THRESHOLDS",
    "FleetManifest",
    "SynthDrive",
    "TruthEvent",
    "Vehicle",
    "fleet_entry",
    "generate_fleet",
    "read_truth",
    "synth_drive",
]
