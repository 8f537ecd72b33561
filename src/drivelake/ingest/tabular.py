"""Generic CSV and Parquet telemetry: one row per sample, columns found by name or mapping.

Column roles (``time``, ``lat``, ``lon``, ``speed``, ``ax`` …) are matched against common names
(``latitude``, ``speed_kmh``, ``acc_x``, ``timestamp_ms`` …) after normalising case and
punctuation; a mapping (``--map file.toml`` or ``--column role=name``) overrides the guess.
Units come from the column name (``_kmh``, ``_mph``, ``_g``, ``_dps``, ``_ms``) or from the
mapping's ``[units]``; implausible values for the assumed unit are an error that says which
unit to set. Position columns repeated at the IMU rate are collapsed to the fixes themselves.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drivelake.errors import InputError
from drivelake.ingest.base import Reader, ReadOptions, Recording, SourceFile, Stream
from drivelake.schema import FRAME_DEVICE, FRAME_NONE
from drivelake.synth import fleet_entry

G = 9.80665

#: Role -> names it is recognised by (normalised: lower case, non-alphanumerics as "_").
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "time": (
        "timestamp",
        "time",
        "t",
        "ts",
        "datetime",
        "date_time",
        "utc",
        "time_utc",
        "gps_time",
        "unix_time",
        "epoch",
        "time_s",
        "time_sec",
        "seconds",
        "timestamp_s",
        "time_ms",
        "timestamp_ms",
        "time_us",
        "timestamp_us",
        "time_ns",
        "timestamp_ns",
        "t_ns",
        "uptimenanos",
        "uptime_nanos",
    ),
    "lat": ("lat", "latitude", "gps_lat", "lat_deg", "latitude_deg", "gps_latitude"),
    "lon": (
        "lon",
        "lng",
        "long",
        "longitude",
        "gps_lon",
        "gps_lng",
        "lon_deg",
        "longitude_deg",
        "gps_longitude",
    ),
    "alt": ("alt", "altitude", "elevation", "ele", "alt_m", "altitude_m", "height", "gps_alt"),
    "speed": (
        "speed",
        "speed_mps",
        "speed_m_s",
        "speed_ms",
        "gps_speed",
        "velocity",
        "speed_kmh",
        "speed_km_h",
        "speed_kph",
        "kmh",
        "kph",
        "speed_mph",
        "mph",
        "vehicle_speed",
        "vehicle_speed_kmh",
        "obd_speed",
        "obd_speed_kmh",
        "wheel_speed",
    ),
    "course": ("course", "heading", "bearing", "course_deg", "heading_deg", "bearing_deg", "cog"),
    "hdop": ("hdop",),
    "sats": ("sats", "satellites", "num_sats", "nsat", "satellites_used"),
    "steering": ("steering", "steering_angle", "steering_deg", "steering_angle_deg"),
}
for _axis in "xyz":
    ROLE_NAMES[f"a{_axis}"] = tuple(
        n.format(_axis)
        for n in (
            "a{}",
            "acc_{}",
            "accel_{}",
            "acc{}",
            "accel{}",
            "acceleration_{}",
            "accelerometer_{}",
            "{}_acc",
            "acc_{}_g",
            "accel_{}_g",
            "a{}_g",
            "g_{}",
            "acc_{}_mps2",
            "a{}_mps2",
        )
    )
    ROLE_NAMES[f"g{_axis}"] = tuple(
        n.format(_axis)
        for n in (
            "g{}",
            "gyro_{}",
            "gyr_{}",
            "gyro{}",
            "rot_{}",
            "rotation_rate_{}",
            "angular_velocity_{}",
            "gyroscope_{}",
            "gyro_{}_dps",
            "gyro_{}_deg_s",
            "g{}_dps",
            "gyro_{}_rads",
            "gyro_{}_rad_s",
        )
    )
    ROLE_NAMES[f"m{_axis}"] = tuple(
        n.format(_axis) for n in ("m{}", "mag_{}", "magnetometer_{}", "magnetic_{}")
    )

#: Units by name suffix, per kind of quantity, with their factor to SI.
SPEED_UNITS = {"m/s": 1.0, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 0.514444}
ACCEL_UNITS = {"m/s^2": 1.0, "g": G}
GYRO_UNITS = {"rad/s": 1.0, "deg/s": np.pi / 180}
TIME_UNITS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "iso": 0.0}

_CHANNEL_OF = {
    "lat": "lat",
    "lon": "lon",
    "alt": "alt_m",
    "speed": "speed_mps",
    "course": "course_deg",
    "hdop": "hdop",
    "sats": "sats",
    "steering": "steering_deg",
    **{f"{k}{a}": f"{k}{a}" for k in "agm" for a in "xyz"},
}


def normalise(name: str) -> str:
    """``'Speed (km/h)'`` → ``'speed_km_h'``: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class ColumnPlan:
    """Which source column plays which role, and in which unit."""

    columns: dict[str, str]
    units: dict[str, str]


def plan_columns(names: list[str], options: ReadOptions, path: Path) -> ColumnPlan:
    """Match columns to roles (mapping first, then known names) and infer units from names."""
    by_norm = {normalise(n): n for n in names}
    columns: dict[str, str] = {}
    for role, source in options.column_map.items():
        if role not in ROLE_NAMES:
            raise InputError(path, f"mapping names unknown role {role!r}")
        if source not in names:
            raise InputError(path, f"mapped column {source!r} (for {role}) not in the header")
        columns[role] = source
    taken = set(columns.values())
    for role, candidates in ROLE_NAMES.items():
        if role in columns:
            continue
        for cand in candidates:
            if cand in by_norm and by_norm[cand] not in taken:
                columns[role] = by_norm[cand]
                taken.add(by_norm[cand])
                break
    if "time" not in columns:
        raise InputError(
            path, f"no time column found among {names[:12]}; map one with --column time=NAME"
        )
    units = {role: _unit_from_name(role, normalise(col)) for role, col in columns.items()}
    for role, unit in options.units.items():
        units[role] = unit
    return ColumnPlan(columns, {k: v for k, v in units.items() if v})


def _unit_from_name(role: str, norm: str) -> str | None:
    if role == "speed":
        if norm.endswith(("kmh", "km_h", "kph")):
            return "km/h"
        if norm.endswith("mph"):
            return "mph"
        if norm.endswith(("knots", "kn")):
            return "kn"
        return None
    if role.startswith("a") and role[1:] in ("x", "y", "z"):
        return "g" if norm.endswith("_g") or norm.startswith("g_") else None
    if role.startswith("g") and role[1:] in ("x", "y", "z"):
        return "deg/s" if norm.endswith(("_dps", "_deg_s")) else None
    if role == "time":
        for suffix, unit in (("_ms", "ms"), ("_us", "us"), ("_ns", "ns"), ("nanos", "ns")):
            if norm.endswith(suffix):
                return unit
        if norm in ("time_s", "time_sec", "seconds", "timestamp_s"):
            return "s"
    return None


# --------------------------------------------------------------------------- conversion


def _numeric(table: pa.Table, column: str, path: Path) -> np.ndarray:
    """A column as float64 with nulls as NaN; non-numeric cells are an error naming the line."""
    col = table.column(column)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if pa.types.is_null(col.type):
        return np.full(len(col), np.nan)
    text = pc.utf8_trim_whitespace(col.cast(pa.string()))
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        values = text.to_pylist()
        for i, v in enumerate(values):
            if v in (None, ""):
                continue
            try:
                float(v)
            except ValueError:
                raise InputError(
                    path, f"column {column!r}: non-numeric value {v!r}", where=f"line {i + 2}"
                ) from None
        raise


def _times_ns(table: pa.Table, plan: ColumnPlan, path: Path) -> tuple[np.ndarray, bool]:
    """Sample times in ns, and whether they are absolute UTC (epoch or ISO-8601)."""
    column = plan.columns["time"]
    col = table.column(column)
    unit = plan.units.get("time")
    if pa.types.is_timestamp(col.type):
        ts = col.cast(pa.timestamp("ns", tz=col.type.tz)).cast(pa.int64())
        return ts.to_numpy(zero_copy_only=False), True
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or unit == "iso":
        try:
            num = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
        except pa.ArrowInvalid:
            return _parse_iso(col, path, column), True
        col = num
    raw = _numeric(pa.table({column: col}), column, path)
    if np.isnan(raw).any():
        bad = int(np.argmax(np.isnan(raw)))
        raise InputError(path, f"empty or invalid time in column {column!r}", f"line {bad + 2}")
    if unit is None:
        peak = np.nanmax(np.abs(raw)) if len(raw) else 0
        unit = "ns" if peak > 1e17 else "us" if peak > 1e14 else "ms" if peak > 1e11 else "s"
    # float seconds since the epoch carry ~0.2 µs of precision: round to whole microseconds
    step = min(TIME_UNITS[unit], 1e3)
    t = np.round(raw * (TIME_UNITS[unit] / step)).astype(np.int64) * int(step)
    absolute = unit != "ns" and bool(len(raw)) and 9.0e8 < raw[0] * TIME_UNITS[unit] / 1e9 < 4.1e9
    return t, absolute


def _parse_iso(col: pa.ChunkedArray, path: Path, column: str) -> np.ndarray:
    text = pc.utf8_trim_whitespace(col)
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return (
                pc.strptime(text, format=fmt, unit="ns")
                .cast(pa.int64())
                .to_numpy(zero_copy_only=False)
            )
        except pa.ArrowInvalid:
            continue
    try:
        ts = pc.cast(text, pa.timestamp("ns"))
    except pa.ArrowInvalid:
        ts = None
    if ts is None:
        try:
            ts = pc.cast(text, pa.timestamp("ns", tz="UTC"))
        except pa.ArrowInvalid:
            values = text.to_pylist()
            for i, v in enumerate(values):
                try:
                    pc.cast(pa.array([v]), pa.timestamp("ns", tz="UTC"))
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    raise InputError(
                        path, f"column {column!r}: unreadable time {v!r}", f"line {i + 2}"
                    ) from None
            raise
    return ts.cast(pa.int64()).to_numpy(zero_copy_only=False)


def _scaled(values: np.ndarray, role: str, unit: str | None, path: Path) -> np.ndarray:
    """Convert a column in ``unit`` to SI (unknown units are an error)."""
    table = (
        SPEED_UNITS
        if role == "speed"
        else ACCEL_UNITS
        if role[0] == "a" and len(role) == 2
        else GYRO_UNITS
        if role[0] == "g" and len(role) == 2
        else None
    )
    if table is None or unit is None:
        return values
    if unit not in table:
        raise InputError(path, f"unknown unit {unit!r} for {role}; use one of {sorted(table)}")
    return values * table[unit]


def table_to_recording(
    table: pa.Table, path: Path, options: ReadOptions, source_format: str, source: SourceFile
) -> Recording:
    """Turn a table of samples into streams (shared by the CSV and Parquet readers)."""
    if table.num_rows == 0:
        raise InputError(path, "no data rows")
    plan = plan_columns(table.column_names, options, path)
    t_ns, absolute = _times_ns(table, plan, path)
    values: dict[str, np.ndarray] = {}
    repairs: list[str] = []
    for role, column in plan.columns.items():
        if role == "time":
            continue
        values[role] = _scaled(_numeric(table, column, path), role, plan.units.get(role), path)
    _check_units(values, plan, path, repairs)
    streams = _streams(t_ns, values)
    if not streams:
        raise InputError(path, "no telemetry columns recognised (position, speed, IMU)")
    has_vectors = any(s.name in ("accel", "gyro", "magnetometer") for s in streams)
    frame = options.extra.get("frame") or (FRAME_DEVICE if has_vectors else FRAME_NONE)
    return Recording(
        source_format=source_format,
        sources=[source],
        streams=streams,
        source_frame=frame,
        utc_offset_ns=0 if absolute else None,
        vehicle_id=options.vehicle_id,
        metadata={"columns": ",".join(f"{k}={v}" for k, v in sorted(plan.columns.items()))},
        repairs=repairs,
    )


def _check_units(
    values: dict[str, np.ndarray], plan: ColumnPlan, path: Path, repairs: list[str]
) -> None:
    """Catch wrong units early: km/h read as m/s, accelerations in g read as m/s²."""
    speed = values.get("speed")
    if (
        speed is not None
        and "speed" not in plan.units
        and np.nanmax(np.abs(speed), initial=0) > 100
    ):
        raise InputError(
            path,
            f"speed column {plan.columns['speed']!r} reaches {np.nanmax(speed):.0f}, implausible "
            "in m/s; set its unit (e.g. --unit speed=km/h)",
        )
    axes = [values[a] for a in ("ax", "ay", "az") if a in values]
    if len(axes) == 3 and not any(plan.units.get(a) for a in ("ax", "ay", "az")):
        stride = max(1, len(axes[0]) // 100_000)  # a median needs a sample, not every row
        sample = [np.nan_to_num(a[::stride], posinf=0.0, neginf=0.0) for a in axes]
        median = float(np.median(np.sqrt(sum(a**2 for a in sample)))) if len(axes[0]) else 0.0
        if 0.7 < median < 1.3:
            for a in ("ax", "ay", "az"):
                values[a] = values[a] * G
            repairs.append(
                f"accelerations look like g (median |a| = {median:.2f}); converted to m/s^2"
            )


def _streams(t_ns: np.ndarray, v: dict[str, np.ndarray]) -> list[Stream]:
    streams = []
    if "lat" in v and "lon" in v:
        roles = [r for r in ("lat", "lon", "alt", "speed", "course", "hdop", "sats") if r in v]
        streams.append(_rows_with(t_ns, v, roles, "gnss", key=("lat", "lon"), collapse=True))
    elif "speed" in v:
        roles = ["speed", *(["steering"] if "steering" in v else [])]
        streams.append(_rows_with(t_ns, v, roles, "can", key=("speed",)))
    if "steering" in v and "lat" in v:
        streams.append(_rows_with(t_ns, v, ["steering"], "can", key=("steering",)))
    for prefix, name in (("a", "accel"), ("g", "gyro"), ("m", "magnetometer")):
        roles = [f"{prefix}{a}" for a in "xyz"]
        if all(r in v for r in roles):
            streams.append(_rows_with(t_ns, v, roles, name, key=tuple(roles)))
    return [s for s in streams if len(s)]


def _rows_with(
    t_ns: np.ndarray,
    v: dict[str, np.ndarray],
    roles: list[str],
    name: str,
    *,
    key: tuple[str, ...],
    collapse: bool = False,
) -> Stream:
    """A stream from the rows where its key columns are filled in.

    With ``collapse``, rows that only repeat the previous fix (GPS logged at the IMU rate) are
    dropped: the fix happened once.
    """
    present = np.ones(len(t_ns), dtype=bool)
    for k in key:
        present &= ~np.isnan(v[k])
    if present.all() and not collapse:  # every row has this stream (the IMU): no copies
        return Stream(name, t_ns, {_CHANNEL_OF[r]: v[r] for r in roles})
    idx = np.nonzero(present)[0]
    if collapse and len(idx) > 1:
        same = np.ones(len(idx) - 1, dtype=bool)
        for r in roles:
            a = v[r][idx]
            same &= (a[1:] == a[:-1]) | (np.isnan(a[1:]) & np.isnan(a[:-1]))
        idx = idx[np.concatenate([[True], ~same])]
    channels = {_CHANNEL_OF[r]: v[r][idx] for r in roles}
    return Stream(name, t_ns[idx], channels)


# --------------------------------------------------------------------------- readers


def _sniff_csv(path: Path) -> float:
    """Sure for a table with a known time column; likely for any .csv (errors then say why)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt"):
        return 0.0
    with path.open("rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    first = head.splitlines()[0] if head else ""
    names = [normalise(n) for n in re.split(r"[,;\t|]", first)]
    if any(n in ROLE_NAMES["time"] for n in names):
        return 0.9
    return 0.6 if suffix in (".csv", ".tsv") else 0.0


def _read_csv(path: Path, options: ReadOptions) -> Recording:
    import pyarrow.csv as pacsv

    if path.stat().st_size == 0:
        raise InputError(path, "empty file")
    with path.open("rb") as fh:
        head = fh.read(65536).decode("utf-8", errors="replace")
    lines = head.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(path, "empty file", "line 1")
    delimiter = max([",", ";", "\t", "|"], key=lambda d: lines[0].count(d))
    if lines[0].count(delimiter) == 0:
        raise InputError(path, "not a delimited table (no delimiter in the header)", "line 1")
    bad_rows: list[str] = []

    def on_invalid(row) -> str:
        where = f"line {row.number}" if row.number is not None else "a row"
        bad_rows.append(
            f"{where}: expected {row.expected_columns} columns, got {row.actual_columns}"
        )
        return "skip"

    with ThreadPoolExecutor(1) as pool:  # hash the file while Arrow parses it
        source = pool.submit(SourceFile.of, path)
        try:
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    strings_can_be_null=True, null_values=["", "NA", "NaN", "nan", "null", "NULL"]
                ),
            )
        except pa.ArrowInvalid as exc:
            raise InputError(path, f"unreadable CSV: {str(exc).splitlines()[0]}") from exc
        rec = table_to_recording(table, path, options, "csv", source.result())
    fleet = fleet_entry(path)  # a drive of a drivelake.synth fleet: say it is synthetic
    if fleet is not None:
        rec.synthetic = True
        rec.vehicle_id = rec.vehicle_id or fleet["vehicle_id"]
    if bad_rows:
        rec.repairs.insert(0, f"{len(bad_rows)} malformed rows skipped (first: {bad_rows[0]})")
    return rec


def _sniff_parquet(path: Path) -> float:
    if path.suffix.lower() not in (".parquet", ".pq"):
        return 0.0
    with path.open("rb") as fh:
        return 0.9 if fh.read(4) == b"PAR1" else 0.0


def _read_parquet(path: Path, options: ReadOptions) -> Recording:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(path, f"unreadable Parquet: {str(exc).splitlines()[0]}") from exc
    return table_to_recording(table, path, options, "parquet", SourceFile.of(path))


CSV_READER = Reader("csv", _sniff_csv, _read_csv)
PARQUET_READER = Reader("parquet", _sniff_parquet, _read_parquet)
