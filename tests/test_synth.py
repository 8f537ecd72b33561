"""The synthetic fleet generator: deterministic, physically consistent, readable, with truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drivelake.ingest.base import ReadOptions
from drivelake.ingest.tabular import CSV_READER
from drivelake.synth import HARSH_TYPES, FleetManifest, G, generate_fleet, read_truth, synth_drive


@pytest.fixture(scope="module")
def drive():
    """A drive long enough to hold every harsh type once."""
    return synth_drive(seed=7, minutes=20, vehicle_class="van", harsh=HARSH_TYPES)


def _window(drive, event) -> slice:
    return slice(round(event.start_s * drive.rate_hz), round(event.end_s * drive.rate_hz))


def _vehicle_frame(drive, values: np.ndarray, bias) -> np.ndarray:
    """Undo the known mount: device readings = vehicle vectors @ R, and R is orthonormal."""
    return (values - np.asarray(bias)) @ drive.vehicle.mount_matrix.T


def test_same_seed_same_drive_other_seed_other_drive():
    a, b, c = (synth_drive(seed=s, minutes=2) for s in (3, 3, 4))
    assert np.array_equal(a.acc, b.acc) and np.array_equal(a.lat, b.lat)
    assert a.truth == b.truth
    assert len(a) != len(c) or not np.array_equal(a.acc, c.acc)


def test_fleet_files_are_byte_identical_for_a_seed(tmp_path):
    one = generate_fleet(tmp_path / "one", drives=2, seed=5, minutes=(1, 2))
    two = generate_fleet(tmp_path / "two", drives=2, seed=5, minutes=(1, 2))
    for entry in one.drives:
        for key in ("file", "truth"):
            assert (tmp_path / "one" / entry[key]).read_bytes() == (
                tmp_path / "two" / entry[key]
            ).read_bytes()
    assert one.to_json() == two.to_json()


def _integral(a: np.ndarray, rate_hz: int) -> np.ndarray:
    """Trapezoidal running integral, starting at 0."""
    return np.concatenate([[0.0], np.cumsum(a[1:] + a[:-1]) / (2 * rate_hz)])


def test_integrated_longitudinal_accel_matches_speed(drive):
    acc = _vehicle_frame(drive, drive.acc, drive.vehicle.accel_bias)
    assert np.median(acc[:, 2]) == pytest.approx(G, abs=0.05)  # gravity along +z
    change = drive.speed_mps - drive.speed_mps[0]
    # the true profile integrates to the speed over the whole drive …
    assert np.max(np.abs(_integral(drive.a_lon, drive.rate_hz) - change)) < 0.05
    # … and the noisy sensor over every speed change (noise integrates to a slow random walk)
    for e in drive.truth:
        if e.type.endswith(("brake", "acceleration")) or e.type == "impact":
            w = _window(drive, e)
            sensed = _integral(acc[w, 0], drive.rate_hz)[-1]
            assert sensed == pytest.approx(change[w.stop - 1] - change[w.start], abs=0.2)


def test_every_harsh_type_is_injected_with_realistic_magnitudes(drive):
    types = {e.type for e in drive.truth}
    assert set(HARSH_TYPES) <= types
    assert {"normal_brake", "normal_turn"} <= types
    for e in drive.truth:
        w = _window(drive, e)
        assert 0 <= e.start_s < e.end_s <= drive.duration_s + 0.01
        if e.type == "harsh_brake":
            assert -drive.a_lon[w].min() >= 0.45 * G
        elif e.type == "harsh_acceleration":
            assert drive.a_lon[w].max() >= 0.35 * G
        elif e.type == "harsh_turn":
            assert np.abs(drive.a_lat[w]).max() >= 0.45 * G
        elif e.type == "harsh_lane_change":
            assert 0.28 * G <= np.abs(drive.a_lat[w]).max() <= 0.41 * G
            assert 2.0 <= e.end_s - e.start_s <= 4.0
        elif e.type == "impact":
            assert -drive.a_lon[w].min() >= 2.5 * G
            assert drive.speed_mps[w.stop - 1] < 0.05  # followed by a stop
        elif e.type == "speeding":
            assert np.all(drive.speed_mps[w] > drive.speed_limit_mps)
        elif e.type.startswith("normal_"):
            assert np.abs(drive.a_lon[w]).max() <= 0.2 * G
            assert np.abs(drive.a_lat[w]).max() <= 0.2 * G


def test_yaw_rate_sign_matches_turn_direction(drive):
    gyro = _vehicle_frame(drive, drive.gyro, drive.vehicle.gyro_bias)
    assert np.corrcoef(gyro[:, 2], drive.yaw_rate)[0, 1] > 0.9
    turns = [e for e in drive.truth if e.type.endswith("turn")]
    lane_changes = [e for e in drive.truth if e.type.endswith("lane_change")]
    assert turns and lane_changes
    for e in turns:
        w = _window(drive, e)
        sign = 1 if e.direction == "left" else -1
        assert sign * gyro[w, 2].mean() > 0
        assert sign * drive.a_lat[w].mean() > 0  # centripetal: towards the inside of the turn
    for e in lane_changes:
        w = _window(drive, e)
        first_half = drive.yaw_rate[w][: (w.stop - w.start) // 2]
        assert (1 if e.direction == "left" else -1) * first_half.mean() > 0


def test_csv_is_read_by_the_generic_reader(tmp_path):
    manifest = generate_fleet(tmp_path, drives=2, seed=1, minutes=(1, 2), vehicles=2)
    meta = json.loads((tmp_path / "fleet.json").read_text())
    assert meta["synthetic"] is True and meta["seed"] == 1 and meta["version"]
    assert set(meta["classes"].values()) == {"car", "van"}
    entry = manifest.drives[0]
    path = tmp_path / entry["file"]
    assert path.parent.name == "drives" and (tmp_path / entry["truth"]).parent.name == "truth"
    assert path.read_text().splitlines()[0].startswith("timestamp,lat,lon,speed_kmh")

    rec = CSV_READER.read(path, ReadOptions())
    rates = {s.name: 1e9 / np.median(np.diff(s.t_ns)) for s in rec.streams}
    assert rates["accel"] == pytest.approx(100, rel=1e-3)
    assert rates["gyro"] == pytest.approx(100, rel=1e-3)
    assert rates["gnss"] == pytest.approx(1, rel=1e-3)
    assert rec.synthetic and rec.vehicle_id == entry["vehicle_id"]
    assert rec.utc_offset_ns == 0  # epoch seconds: absolute time
    gnss = next(s for s in rec.streams if s.name == "gnss")
    assert np.nanmax(gnss.channels["speed_mps"]) < 30  # km/h converted to m/s
    truth = read_truth(tmp_path / entry["truth"])
    assert truth == manifest.truth(entry["file"]) and truth
    loaded = FleetManifest.load(tmp_path)
    assert loaded.to_json() == manifest.to_json() and loaded.vehicles == manifest.vehicles
