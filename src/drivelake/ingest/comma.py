"""comma2k19 / openpilot processed-log segments: one folder per minute of driving.

A segment folder (``<dongle>|<route start>/<segment>/``) holds ``processed_log/`` (CAN, IMU
and GNSS as pairs of extension-less numpy files: ``t`` in seconds of device boot time and
``value``), usually ``global_pose/`` (the camera's fused ECEF poses), ``preview.png`` and the
video. Each stream folder is optional: one that is absent is simply not converted, while a
present but unreadable or inconsistent array is an :class:`InputError` naming that file.

What the conversion does, and why:

- **Frame.** comma's IMU axes are the device's forward/right/down; vectors are turned into
  forward-left-up ``(x, -y, -z)`` so gravity at rest reads +9.8 m/s² on z. The device is
  mounted roughly, not exactly, along the car, so the recording's frame is
  :data:`~drivelake.schema.FRAME_DEVICE_FLU`; finding the device-to-vehicle rotation is the
  calibration stage's job, not the reader's.
- **Units, checked against the data rather than the dataset README.** Speeds are m/s (wheel
  speeds agree with CAN speed); the magnetometer is µT although the README says T (values are
  converted only if they look like tesla); GNSS ``utc_timestamp`` is in milliseconds although
  the README says seconds (the unit is picked by magnitude).
- **CAN.** Speed and steering angle come in separate CAN messages a few ms apart; the ``can``
  stream keeps the speed samples and linearly interpolates the steering angle to their times.
- **GNSS.** The u-blox fixes (10 Hz) are preferred; the Qualcomm ones (≈0.5 Hz) are used only
  when there are no u-blox fixes, so one stream never mixes two receivers.
- **Clock.** Times stay on the boot clock; ``utc_offset_ns`` is the median of
  ``utc_timestamp - t`` over the GNSS fixes. The fix's ``t`` is when its message was logged,
  so the offset is early by the receiver's latency (≈0.2 s in comma2k19 compared with the
  GPS times of ``global_pose``).
- **Pose.** ECEF positions become WGS84 latitude/longitude/height (closed-form Heikkinen
  conversion, sub-millimetre); speed is the norm of the ECEF velocity and course its bearing
  in the local east-north-up frame.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from drivelake.errors import InputError
from drivelake.ingest.base import Reader, ReadOptions, Recording, SourceFile, Stream
from drivelake.schema import FRAME_DEVICE_FLU

#: Route folders are named ``<dongle id>|<start>``; ``_`` replaces ``|`` on Windows filesystems.
ROUTE_NAME = re.compile(r"^(?P<dongle>[0-9a-f]{16})[|_](?P<start>\d{4}-\d\d-\d\d--\d\d-\d\d-\d\d)$")

#: IMU vector streams: source folder -> (stream, channel names).
IMU_STREAMS = {
    "accelerometer": ("accel", ("ax", "ay", "az")),
    "gyro": ("gyro", ("gx", "gy", "gz")),
    "magnetometer": ("magnetometer", ("mx", "my", "mz")),
}
#: forward/right/down -> forward/left/up
FRD_TO_FLU = np.array([1.0, -1.0, -1.0])

# WGS84
_A = 6_378_137.0
_F = 1 / 298.257223563
_B = _A * (1 - _F)
_E2 = _F * (2 - _F)
_EP2 = (_A**2 - _B**2) / _B**2


def ecef_to_geodetic(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 latitude, longitude (degrees) and ellipsoidal height (m) of ECEF points (n, 3).

    Heikkinen's closed form: exact to well under a millimetre near the Earth's surface.
    """
    x, y, z = np.asarray(xyz, dtype=np.float64).T
    p = np.hypot(x, y)
    f = 54 * _B**2 * z**2
    g = p**2 + (1 - _E2) * z**2 - _E2 * (_A**2 - _B**2)
    c = _E2**2 * f * p**2 / g**3
    s = np.cbrt(1 + c + np.sqrt(c**2 + 2 * c))
    k = s + 1 / s + 1
    pp = f / (3 * k**2 * g**2)
    q = np.sqrt(1 + 2 * _E2**2 * pp)
    r0 = -(pp * _E2 * p) / (1 + q) + np.sqrt(
        0.5 * _A**2 * (1 + 1 / q) - pp * (1 - _E2) * z**2 / (q * (1 + q)) - 0.5 * pp * p**2
    )
    u = np.hypot(p - _E2 * r0, z)
    v = np.sqrt((p - _E2 * r0) ** 2 + (1 - _E2) * z**2)
    z0 = _B**2 * z / (_A * v)
    height = u * (1 - _B**2 / (_A * v))
    lat = np.degrees(np.arctan2(z + _EP2 * z0, p))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon, height


def ecef_velocity_to_enu(lat_deg: np.ndarray, lon_deg: np.ndarray, v: np.ndarray) -> np.ndarray:
    """ECEF velocities (n, 3) rotated into the local east-north-up frame at each point."""
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    vx, vy, vz = np.asarray(v, dtype=np.float64).T
    east = -np.sin(lo) * vx + np.cos(lo) * vy
    north = -np.sin(la) * np.cos(lo) * vx - np.sin(la) * np.sin(lo) * vy + np.cos(la) * vz
    up = np.cos(la) * np.cos(lo) * vx + np.cos(la) * np.sin(lo) * vy + np.sin(la) * vz
    return np.column_stack([east, north, up])


# --------------------------------------------------------------------------- arrays


def _load(path: Path) -> np.ndarray:
    try:
        with path.open("rb") as fh:
            return np.load(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"unreadable numpy array: {exc}") from exc


def _times_ns(path: Path) -> np.ndarray:
    t = _load(path)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.number):
        raise InputError(path, f"expected a 1-D numeric time array, found {t.dtype} {t.shape}")
    bad = ~np.isfinite(t)
    if bad.any():
        raise InputError(path, "non-finite time", where=f"sample {int(np.argmax(bad))}")
    return np.round(t.astype(np.float64) * 1e9).astype(np.int64)


def _values(path: Path, n: int, columns: int) -> np.ndarray:
    """A value array as float64 (n, k) with at least ``columns`` columns."""
    v = _load(path)
    if not np.issubdtype(v.dtype, np.number) or v.ndim == 0 or len(v) != n:
        raise InputError(
            path, f"expected {n} numeric rows to match its t array, found {v.dtype} {v.shape}"
        )
    v = v.reshape(n, -1).astype(np.float64, copy=False)
    if v.shape[1] < columns:
        raise InputError(path, f"expected at least {columns} columns, found {v.shape[1]}")
    return v


def _series(folder: Path, columns: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(t_ns, values)`` of a ``t``/``value`` stream folder, or None when the folder is absent."""
    if not folder.is_dir():
        return None
    for name in ("t", "value"):
        if not (folder / name).is_file():
            raise InputError(folder / name, "missing array (its stream folder exists)")
    t_ns = _times_ns(folder / "t")
    return t_ns, _values(folder / "value", len(t_ns), columns)


# --------------------------------------------------------------------------- streams


def _can_streams(can: Path) -> list[Stream]:
    streams = []
    speed = _series(can / "speed", 1)
    steer = _series(can / "steering_angle", 1)
    if speed is not None:
        channels = {"speed_mps": speed[1][:, 0]}
        if steer is not None and len(steer[0]):
            channels["steering_deg"] = np.interp(speed[0], steer[0], steer[1][:, 0])
        streams.append(Stream("can", speed[0], channels))
    elif steer is not None:
        streams.append(Stream("can", steer[0], {"steering_deg": steer[1][:, 0]}))
    wheels = _series(can / "wheel_speed", 4)
    if wheels is not None:
        names = ("wheel_fl_mps", "wheel_fr_mps", "wheel_rl_mps", "wheel_rr_mps")
        streams.append(
            Stream("wheel_speed", wheels[0], {c: wheels[1][:, i] for i, c in enumerate(names)})
        )
    radar = _series(can / "radar", 7)
    if radar is not None:
        t_ns, v = radar
        streams.append(
            Stream(
                "radar",
                t_ns,
                {
                    "lead_dist_m": v[:, 0],
                    "lead_lat_m": v[:, 1],
                    "lead_rel_speed_mps": v[:, 2],
                    "track_id": v[:, 5],  # the radar message address: one per track slot
                },
            )
        )
    return streams


def _imu_streams(imu: Path) -> list[Stream]:
    streams = []
    for folder, (name, channels) in IMU_STREAMS.items():
        series = _series(imu / folder, 3)
        if series is None:
            continue
        t_ns, v = series
        v = v[:, :3] * FRD_TO_FLU
        if name == "magnetometer" and len(v) and np.nanmedian(np.linalg.norm(v, axis=1)) < 1e-2:
            v = v * 1e6  # tesla, as the dataset README documents, to µT
        streams.append(Stream(name, t_ns, {c: v[:, i] for i, c in enumerate(channels)}))
    return streams


def _gnss(gnss: Path) -> tuple[Stream | None, str | None, int | None]:
    """The GNSS stream (u-blox preferred), its receiver, and the boot-clock -> UTC offset."""
    for receiver in ("ublox", "qcom"):
        series = _series(gnss / f"live_gnss_{receiver}", 6)
        if series is None or not len(series[0]):
            continue
        t_ns, v = series
        stream = Stream(
            "gnss",
            t_ns,
            {
                "lat": v[:, 0],
                "lon": v[:, 1],
                "speed_mps": v[:, 2],
                "alt_m": v[:, 4],
                "course_deg": v[:, 5],
            },
        )
        return stream, receiver, _utc_offset_ns(t_ns, v[:, 3])
    return None, None, None


def _utc_offset_ns(t_ns: np.ndarray, utc: np.ndarray) -> int | None:
    """Median of ``utc - t`` over fixes with a UTC time (given in ms or s, told by magnitude)."""
    ok = np.isfinite(utc) & (utc > 0)
    if not ok.any():
        return None
    scale = 1e6 if np.median(utc[ok]) > 1e11 else 1e9
    utc_ns = np.round(utc[ok] * scale).astype(np.int64)
    return int(np.median(utc_ns - t_ns[ok]))


def _pose_stream(pose: Path) -> Stream | None:
    if not pose.is_dir():
        return None
    names = ("frame_times", "frame_positions", "frame_velocities")
    for name in names:
        if not (pose / name).is_file():
            raise InputError(pose / name, "missing array (global_pose exists)")
    t_ns = _times_ns(pose / "frame_times")
    xyz = _values(pose / "frame_positions", len(t_ns), 3)[:, :3]
    vel = _values(pose / "frame_velocities", len(t_ns), 3)[:, :3]
    lat, lon, alt = ecef_to_geodetic(xyz)
    enu = ecef_velocity_to_enu(lat, lon, vel)
    course = np.degrees(np.arctan2(enu[:, 0], enu[:, 1])) % 360.0
    speed = np.linalg.norm(vel, axis=1)
    channels = {"lat": lat, "lon": lon, "alt_m": alt, "speed_mps": speed, "course_deg": course}
    return Stream("pose", t_ns, channels)


# --------------------------------------------------------------------------- reader


def _sniff(path: Path) -> float:
    if (path / "processed_log").is_dir():
        return 0.95
    if (path / "global_pose" / "frame_times").is_file():
        return 0.8
    return 0.0


def _sources(path: Path) -> list[SourceFile]:
    files = [
        SourceFile.of(f)
        for sub in ("processed_log", "global_pose")
        for f in sorted((path / sub).rglob("*"))
        if f.is_file()
    ]
    for name, role in (("preview.png", "preview"), ("raw_log.bz2", "raw_log")):
        if (path / name).is_file():
            files.append(SourceFile.of(path / name, role=role))
    return files


def _read(path: Path, options: ReadOptions) -> Recording:
    log = path / "processed_log"
    streams = [*_can_streams(log / "CAN"), *_imu_streams(log / "IMU")]
    gnss, receiver, utc_offset = _gnss(log / "GNSS")
    pose = _pose_stream(path / "global_pose")
    streams.extend(s for s in (gnss, pose) if s is not None)
    if not any(len(s) for s in streams):
        raise InputError(path, "no processed_log or global_pose arrays with samples")
    metadata = {"segment": path.name}
    route = ROUTE_NAME.match(path.parent.name)
    if route:
        metadata.update(route=path.parent.name, dongle_id=route["dongle"])
    if receiver:
        metadata["gnss_receiver"] = receiver
    return Recording(
        source_format=COMMA_READER.name,
        sources=_sources(path),
        streams=streams,
        source_frame=FRAME_DEVICE_FLU,
        utc_offset_ns=utc_offset,
        vehicle_id=options.vehicle_id or (route["dongle"] if route else None),
        metadata=metadata,
    )


COMMA_READER = Reader("comma2k19", _sniff, _read, folder=True)
