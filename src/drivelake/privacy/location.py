"""Location privacy for shared telemetry: zones, end-point trimming, coarse coordinates, shifted
times, k-anonymous counts and rotating pseudonyms.

Every randomised choice is drawn from a keyed hash (HMAC-SHA256 with the lake's secret) of the
drive id, so a stage re-run gives the same output (stages are idempotent) while someone without
the key cannot predict or undo it.

Why the trim is randomised: if every drive loses the samples within a fixed R of its first and last
points, the first kept samples of many drives from one home lie on a circle of radius R around it,
and fitting a circle recovers the home within metres. Making only the radius random per drive does
not help for long: the fit averages the noise away as drives accumulate. So each trim circle is
centred not on the end point but on a point displaced from it by a secret offset that is the same
for every drive ending in the same place (derived from the key and the place's map cell), with a
radius drawn per drive; the end point always stays at least ``min_radius_m`` inside. Many drives
then recover, at best, the displaced centre, between ``max_offset_m / 2`` and ``max_offset_m`` from
the home in an unknown direction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EARTH_RADIUS_M = 6_371_008.8
IDENTIFIER_FIELDS = re.compile(r"(^|_)(vin|plate|licen[cs]e_plate|registration|driver)($|_)", re.I)


@dataclass(frozen=True, slots=True)
class Zone:
    """A place whose surroundings never leave the lake (a home, a depot)."""

    lat: float
    lon: float
    radius_m: float
    name: str = ""


def distance_m(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Great-circle distance in metres from (lat0, lon0) (haversine)."""
    p1, p2 = np.radians(lat), np.radians(lat0)
    dlat, dlon = p1 - p2, np.radians(lon) - np.radians(lon0)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``/``east_m`` metres away (local flat-earth approximation)."""
    dlat = np.degrees(north_m / EARTH_RADIUS_M)
    dlon = np.degrees(east_m / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    return lat + float(dlat), lon + float(dlon)


def keyed_uniform(key: bytes, *parts: str) -> float:
    """A number in [0, 1) determined by the key and ``parts``, unpredictable without the key."""
    digest = hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pseudonym(key: bytes, vehicle_id: str, period: str) -> str:
    """A vehicle id for shared data that changes every ``period`` (a drive id or a day
    ``YYYY-MM-DD``): unlinkable across periods without the key, as traffic-data sellers do."""
    digest = hmac.new(key, f"vehicle\x1f{vehicle_id}\x1f{period}".encode(), hashlib.sha256)
    return "v-" + digest.hexdigest()[:16]


def rotation_period(rotate: str, drive_id: str, start_ns: int) -> str:
    """The pseudonym period of a drive: its id (``"drive"``) or its UTC day (``"day"``)."""
    if rotate == "drive":
        return drive_id
    if rotate == "day":
        return datetime.fromtimestamp(start_ns / 1e9, UTC).date().isoformat()
    raise ValueError(f"rotate must be 'drive' or 'day', not {rotate!r}")


def outside_zones(table: pa.Table, zones: Iterable[Zone]) -> pa.Table:
    """``table`` without the samples (rows with ``lat``/``lon``) inside any zone."""
    lat, lon = _coordinates(table)
    keep = np.ones(len(table), dtype=bool)
    for zone in zones:
        keep &= distance_m(lat, lon, zone.lat, zone.lon) > zone.radius_m
    return table.filter(pa.array(keep))


def end_zones(
    table: pa.Table,
    key: bytes,
    drive_id: str,
    min_radius_m: float = 200.0,
    max_radius_m: float = 500.0,
    max_offset_m: float = 250.0,
    place_cell_deg: float = 0.005,
) -> list[Zone]:
    """The randomised trim zones around a drive's first and last valid point (see module doc)."""
    lat, lon = _coordinates(table)
    valid = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    zones = []
    for end, index in (("start", valid[:1]), ("end", valid[-1:])):
        if index.size == 0:
            continue
        lat0, lon0 = float(lat[index[0]]), float(lon[index[0]])
        place = f"{np.floor(lat0 / place_cell_deg):.0f}:{np.floor(lon0 / place_cell_deg):.0f}"
        shift = max_offset_m * (0.5 + 0.5 * keyed_uniform(key, "place", place, "shift"))
        angle = 2 * np.pi * keyed_uniform(key, "place", place, "angle")
        spread = keyed_uniform(key, "trim", drive_id, end) * (max_radius_m - min_radius_m)
        clat, clon = offset(lat0, lon0, shift * np.cos(angle), shift * np.sin(angle))
        zones.append(Zone(clat, clon, min_radius_m + shift + spread, f"{end} of {drive_id}"))
    return zones


def coarsen(table: pa.Table, decimals: int = 3) -> pa.Table:
    """Latitude and longitude rounded to ``decimals`` (3 ≈ 110 m, 4 ≈ 11 m)."""
    lat, lon = _coordinates(table)
    table = table.set_column(
        table.schema.get_field_index("lat"), "lat", pa.array(np.round(lat, decimals))
    )
    return table.set_column(
        table.schema.get_field_index("lon"), "lon", pa.array(np.round(lon, decimals))
    )


def time_shift_ns(key: bytes, drive_id: str, max_shift_s: float = 3 * 24 * 3600) -> int:
    """A per-drive shift in [-max_shift_s, max_shift_s], whole seconds: durations, intervals and
    the order of samples within a drive stay exact; the drive's calendar time does not."""
    u = keyed_uniform(key, "time", drive_id)
    return round((2 * u - 1) * max_shift_s) * 1_000_000_000


def shift_time(table: pa.Table, shift_ns: int, columns: Sequence[str] = ("t_ns",)) -> pa.Table:
    """``table`` with its int64 nanosecond time columns moved by ``shift_ns``."""
    for name in columns:
        if name in table.column_names:
            index = table.schema.get_field_index(name)
            table = table.set_column(
                index, name, pc.add(table[name], pa.scalar(shift_ns, pa.int64()))
            )
    return table


def drop_identifiers(table: pa.Table, pattern: re.Pattern[str] = IDENTIFIER_FIELDS) -> pa.Table:
    """``table`` without columns that name a vehicle or a person (VIN, plate, driver, ...)."""
    return table.drop_columns([name for name in table.column_names if pattern.search(name)])


def cell_counts(
    table: pa.Table, k: int = 5, cell_deg: float = 0.01, vehicle_column: str = "vehicle_id"
) -> pa.Table:
    """Samples and distinct vehicles per map cell (``cell_deg`` squares), cells seen by fewer than
    ``k`` vehicles suppressed: a cell one car visits reveals where that car goes."""
    import duckdb

    lat, lon = _coordinates(table)
    points = pa.table(
        {
            "cell_lat": np.floor(lat / cell_deg) * cell_deg,
            "cell_lon": np.floor(lon / cell_deg) * cell_deg,
            "vehicle": table[vehicle_column],
        }
    )
    con = duckdb.connect()
    con.register("points", points)
    return con.sql(
        f"""SELECT cell_lat, cell_lon, count(DISTINCT vehicle) AS vehicles, count(*) AS samples
            FROM points WHERE NOT isnan(cell_lat) AND NOT isnan(cell_lon)
            GROUP BY ALL HAVING count(DISTINCT vehicle) >= {int(k)} ORDER BY ALL"""
    ).to_arrow_table()


@dataclass(frozen=True)
class LocationPolicy:
    """What a shared copy of a drive's positions goes through, in order."""

    zones: tuple[Zone, ...] = ()
    trim_min_m: float = 200.0
    trim_max_m: float = 500.0
    decimals: int | None = 4
    max_time_shift_s: float | None = 3 * 24 * 3600
    rotate: str = "drive"

    def apply(self, table: pa.Table, key: bytes, drive_id: str, vehicle_id: str) -> pa.Table:
        """A drive's samples as they may leave the lake: zones and ends cut, coordinates
        coarsened, time shifted, identifiers dropped and a pseudonymous ``vehicle_id`` added."""
        start_ns = int(pc.min(table["t_ns"]).as_py() or 0) if "t_ns" in table.column_names else 0
        zones = [*self.zones, *end_zones(table, key, drive_id, self.trim_min_m, self.trim_max_m)]
        table = drop_identifiers(outside_zones(table, zones))
        if self.decimals is not None:
            table = coarsen(table, self.decimals)
        if self.max_time_shift_s:
            table = shift_time(table, time_shift_ns(key, drive_id, self.max_time_shift_s))
        name = pseudonym(key, vehicle_id, rotation_period(self.rotate, drive_id, start_ns))
        if "vehicle_id" in table.column_names:
            table = table.drop_columns(["vehicle_id"])
        return table.append_column("vehicle_id", pa.array([name] * len(table), pa.string()))


def lake_secret(root: str | Path) -> bytes:
    """The lake's privacy key (``<root>/_secrets/privacy.key``), created on first use, readable by
    its owner only. Pseudonyms and randomised trims are only as private as this file."""
    import secrets

    path = Path(root) / "_secrets" / "privacy.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


def _coordinates(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    lat = table["lat"].to_numpy(zero_copy_only=False).astype(np.float64)
    lon = table["lon"].to_numpy(zero_copy_only=False).astype(np.float64)
    return lat, lon
