"""Location privacy: zones, randomised end trims (and the circle-fit attack they defeat),
coarse coordinates, time shifts, k-anonymous counts, pseudonyms and PII masking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from drivelake.privacy.location import (
    LocationPolicy,
    Zone,
    cell_counts,
    distance_m,
    end_zones,
    lake_secret,
    offset,
    outside_zones,
    pseudonym,
)
from drivelake.privacy.metadata import DEFAULT_RULES, mask_columns, mask_text, name_rule

KEY = b"k" * 32
HOME = (37.77, -122.42)


def drive_from_home(bearing_deg: float, length_m: float = 3000.0, step_m: float = 10.0) -> pa.Table:
    """Samples every ``step_m`` along a straight street leaving HOME, then back (a commute)."""
    d = np.arange(0.0, length_m, step_m)
    d = np.concatenate([d, d[::-1]])
    b = np.radians(bearing_deg)
    points = [offset(*HOME, x * np.cos(b), x * np.sin(b)) for x in d]
    lat, lon = np.array(points).T
    return pa.table({"t_ns": np.arange(len(d), dtype=np.int64) * 10**9, "lat": lat, "lon": lon})


def fit_circle(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """Least-squares (Kåsa) circle centre through points: the attacker's estimate of home."""
    y = (lat - HOME[0]) * 111_320.0
    x = (lon - HOME[1]) * 111_320.0 * np.cos(np.radians(HOME[0]))
    a = np.column_stack([x, y, np.ones_like(x)])
    cx, cy, _ = np.linalg.lstsq(a, x**2 + y**2, rcond=None)[0] / np.array([2, 2, 1])
    return cx, cy


def first_kept_points(trim) -> tuple[np.ndarray, np.ndarray]:
    """Where 60 drives along four streets from HOME start after trimming."""
    rng = np.random.default_rng(1)
    lat, lon = [], []
    for i in range(60):
        table = drive_from_home(rng.choice([10.0, 95.0, 190.0, 280.0]) + rng.normal(0, 2))
        kept = trim(table, f"drive-{i}")
        lat.append(kept["lat"][0].as_py())
        lon.append(kept["lon"][0].as_py())
    return np.array(lat), np.array(lon)


def test_fixed_radius_trim_leaks_home_randomised_trim_does_not():
    fixed = lambda t, _id: outside_zones(  # noqa: E731
        t, [Zone(t["lat"][0].as_py(), t["lon"][0].as_py(), 300.0)]
    )
    randomised = lambda t, drive_id: outside_zones(t, end_zones(t, KEY, drive_id, 200, 800))  # noqa: E731
    leak = np.hypot(*fit_circle(*first_kept_points(fixed)))
    kept = np.hypot(*fit_circle(*first_kept_points(randomised)))
    assert leak < 15  # the fixed trim gives home away to within metres
    assert kept > 100  # the displaced, randomised trim leaves the attacker far off
    lat, lon = first_kept_points(randomised)
    assert distance_m(lat, lon, *HOME).min() > 200  # and never keeps a sample near home


def test_end_zones_always_contain_the_end_points_and_are_stable():
    table = drive_from_home(45.0)
    zones = end_zones(table, KEY, "d1", 200, 500)
    assert zones == end_zones(table, KEY, "d1", 200, 500)  # re-running a stage changes nothing
    assert zones != end_zones(table, KEY, "d2", 200, 500)
    for zone in zones:
        away = distance_m(np.array([HOME[0]]), np.array([HOME[1]]), zone.lat, zone.lon)[0]
        assert 125 - 1 <= away <= 250 + 1  # the secret per-place offset
        assert away <= zone.radius_m - 200 + 1e-6  # the end point is ≥ 200 m inside


def test_policy_cuts_zones_coarsens_shifts_and_pseudonymises():
    table = drive_from_home(0.0).append_column("vin", pa.array(["1HGCM82633A004352"] * 600))
    depot = Zone(*offset(*HOME, 1500.0, 0.0), 100.0, "depot")
    policy = LocationPolicy(zones=(depot,), decimals=4, max_time_shift_s=86400)
    shared = policy.apply(table, KEY, "drive-1", "truck-7")
    lat, lon = shared["lat"].to_numpy(), shared["lon"].to_numpy()
    assert "vin" not in shared.column_names
    assert distance_m(lat, lon, depot.lat, depot.lon).min() > 100 - 11  # rounding moves ≤ 11 m
    assert distance_m(lat, lon, *HOME).min() > 200 - 11
    assert np.allclose(lat, np.round(lat, 4))
    shift = shared["t_ns"][0].as_py() - table["t_ns"][len(table) - len(shared)].as_py()
    assert shift != 0 and abs(shift) <= 86400 * 10**9 + 2 * 10**12
    ids = set(shared["vehicle_id"].to_pylist())
    assert len(ids) == 1 and "truck-7" not in ids.pop()


def test_pseudonyms_rotate_per_period_and_need_the_key():
    a = pseudonym(KEY, "truck-7", "2024-05-01")
    assert a == pseudonym(KEY, "truck-7", "2024-05-01")
    assert a != pseudonym(KEY, "truck-7", "2024-05-02")
    assert a != pseudonym(b"x" * 32, "truck-7", "2024-05-01")


def test_cell_counts_suppress_cells_with_fewer_than_k_vehicles():
    busy = [(37.7705, -122.4205, f"v{i}") for i in range(5)]
    lonely = [(37.7905, -122.4005, "v0")] * 50
    lat, lon, vehicle = zip(*(busy + lonely), strict=True)
    counts = cell_counts(pa.table({"lat": lat, "lon": lon, "vehicle_id": vehicle}), k=5)
    assert counts.num_rows == 1
    assert counts["vehicles"][0].as_py() == 5
    assert counts["cell_lat"][0].as_py() == pytest.approx(37.77)


def test_lake_secret_is_created_once_and_private(tmp_path):
    key = lake_secret(tmp_path)
    assert len(key) == 32 and key == lake_secret(tmp_path)
    assert (tmp_path / "_secrets" / "privacy.key").stat().st_mode & 0o077 == 0


def test_pii_rules_mask_vins_plates_and_names():
    note = "driver: John Smith, VIN 1HGCM82633A004352, rear-ended KA 05 MX 2231 near Alice's depot"
    masked = mask_text(note, (*DEFAULT_RULES, name_rule(["Alice"])))
    for secret in ("John", "Smith", "1HGCM82633A004352", "KA 05 MX 2231", "Alice"):
        assert secret not in masked
    assert masked.startswith("driver: [NAME], VIN [VIN], rear-ended [PLATE]")
    table = pa.table({"note": [note, None], "speed": [1.0, 2.0]})
    out = mask_columns(table)
    assert "[VIN]" in out["note"][0].as_py() and out["note"][1].as_py() is None
    assert out["speed"].to_pylist() == [1.0, 2.0]
