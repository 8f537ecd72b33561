"""The comma2k19 reader on the real recorded segment, plus generated broken copies of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from drivelake.errors import InputError
from drivelake.ingest.base import ReadOptions, Recording, Stream, haversine_m
from drivelake.ingest.comma import COMMA_READER, ecef_to_geodetic
from drivelake.schema import FRAME_DEVICE_FLU

ROUTE = "b0c9d2329ad1606b|2018-08-02--08-34-47"
DONGLE = "b0c9d2329ad1606b"

#: stream -> the time array it is built from (relative to the segment folder)
TIME_ARRAYS = {
    "can": "processed_log/CAN/speed/t",
    "wheel_speed": "processed_log/CAN/wheel_speed/t",
    "radar": "processed_log/CAN/radar/t",
    "accel": "processed_log/IMU/accelerometer/t",
    "gyro": "processed_log/IMU/gyro/t",
    "magnetometer": "processed_log/IMU/magnetometer/t",
    "gnss": "processed_log/GNSS/live_gnss_ublox/t",
    "pose": "global_pose/frame_times",
}


@pytest.fixture(scope="module")
def segment() -> Path:
    return shared("comma2k19", ROUTE, "40")


@pytest.fixture(scope="module")
def rec(segment: Path) -> Recording:
    return COMMA_READER.read(segment, ReadOptions())


def streams(rec: Recording) -> dict[str, Stream]:
    return {s.name: s for s in rec.streams}


def at(stream: Stream, channel: str, t_ns: np.ndarray) -> np.ndarray:
    return np.interp(t_ns, stream.t_ns, stream.channels[channel])


def test_sniffed_as_a_segment_folder(segment: Path) -> None:
    assert COMMA_READER.sniff(segment) > 0.5
    assert COMMA_READER.sniff(segment.parent) == 0.0
    assert COMMA_READER.sniff(segment / "processed_log") == 0.0


def test_sample_counts_equal_the_arrays(segment: Path, rec: Recording) -> None:
    got = {name: len(s) for name, s in streams(rec).items()}
    want = {name: len(np.load(segment / rel)) for name, rel in TIME_ARRAYS.items()}
    assert got == want


def test_times_are_boot_nanoseconds_and_monotonic(segment: Path, rec: Recording) -> None:
    for name, s in streams(rec).items():
        assert s.t_ns.dtype == np.int64
        assert np.all(np.diff(s.t_ns) >= 0), name
        t = np.load(segment / TIME_ARRAYS[name])
        assert abs(s.t_ns[0] - t[0] * 1e9) < 1e3, name


def test_can_speed_is_mps_and_matches_gnss(rec: Recording) -> None:
    s = streams(rec)
    can, gnss = s["can"], s["gnss"]
    speed = can.channels["speed_mps"]
    assert 5 < np.median(speed) < 40  # highway commute, m/s (km/h would be 3.6x)
    can_at_fix = at(can, "speed_mps", gnss.t_ns)
    assert np.median(np.abs(can_at_fix - gnss.channels["speed_mps"])) < 0.5
    assert np.corrcoef(can_at_fix, gnss.channels["speed_mps"])[0, 1] > 0.99
    assert np.all(np.abs(can.channels["steering_deg"]) < 90)  # highway: small angles


def test_wheel_speeds_are_mps_like_can_speed(rec: Recording) -> None:
    s = streams(rec)
    wheels = np.column_stack(list(s["wheel_speed"].channels.values()))
    ratio = wheels.mean(axis=1) / at(s["can"], "speed_mps", s["wheel_speed"].t_ns)
    assert abs(np.median(ratio) - 1) < 0.02


def test_radar_keeps_every_track(rec: Recording) -> None:
    radar = streams(rec)["radar"]
    assert len(np.unique(radar.channels["track_id"])) > 4
    assert np.all(radar.channels["lead_dist_m"] > 0)


def test_imu_in_forward_left_up_with_gravity_on_plus_z(rec: Recording) -> None:
    s = streams(rec)
    assert rec.source_frame == FRAME_DEVICE_FLU
    mean = np.array([s["accel"].channels[c].mean() for c in ("ax", "ay", "az")])
    assert abs(mean[2] - 9.81) < 0.5
    assert mean[2] / np.linalg.norm(mean) > 0.98
    gyro = np.column_stack(list(s["gyro"].channels.values()))
    assert np.all(np.abs(np.median(gyro, axis=0)) < 0.05)  # rad/s, not deg/s
    mag = np.linalg.norm(np.column_stack(list(s["magnetometer"].channels.values())), axis=1)
    assert 20 < np.median(mag) < 70  # µT: the Earth's field


def test_pose_positions_match_gnss_fixes(rec: Recording) -> None:
    s = streams(rec)
    pose, gnss = s["pose"], s["gnss"]
    lat, lon = at(pose, "lat", gnss.t_ns), at(pose, "lon", gnss.t_ns)
    pairs = (
        np.column_stack([lat, gnss.channels["lat"]]),
        np.column_stack([lon, gnss.channels["lon"]]),
    )
    dist = np.array([haversine_m(la, lo)[0] for la, lo in zip(*pairs, strict=True)])
    assert np.median(dist) < 20
    assert np.median(np.abs(at(pose, "alt_m", gnss.t_ns) - gnss.channels["alt_m"])) < 10
    assert np.median(np.abs(at(pose, "speed_mps", gnss.t_ns) - gnss.channels["speed_mps"])) < 0.5
    course_diff = (at(pose, "course_deg", gnss.t_ns) - gnss.channels["course_deg"] + 180) % 360
    assert np.median(np.abs(course_diff - 180)) < 3


def test_ecef_to_geodetic_round_trip() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(-89.9, 89.9, 500)
    lon = rng.uniform(-180, 180, 500)
    h = rng.uniform(-400, 20_000, 500)
    a, e2 = 6_378_137.0, (1 / 298.257223563) * (2 - 1 / 298.257223563)
    la, lo = np.radians(lat), np.radians(lon)
    n = a / np.sqrt(1 - e2 * np.sin(la) ** 2)
    xyz = np.column_stack(
        [
            (n + h) * np.cos(la) * np.cos(lo),
            (n + h) * np.cos(la) * np.sin(lo),
            (n * (1 - e2) + h) * np.sin(la),
        ]
    )
    lat2, lon2, h2 = ecef_to_geodetic(xyz)
    assert np.max(np.abs(lat2 - lat)) < 1e-9
    assert np.max(np.abs(lon2 - lon)) < 1e-9
    assert np.max(np.abs(h2 - h)) < 1e-3


def test_vehicle_and_clock(segment: Path, rec: Recording) -> None:
    assert rec.vehicle_id == DONGLE
    assert rec.metadata["segment"] == "40"
    assert rec.metadata["gnss_receiver"] == "ublox"
    start = datetime.fromtimestamp((rec.time_range()[0] + rec.utc_offset_ns) / 1e9, tz=UTC)
    assert start.date().isoformat() == "2018-08-02"
    # the route started 08:34:47 Pacific (UTC-7) and this is its 40th one-minute segment
    expected = datetime(2018, 8, 2, 15, 34, 47, tzinfo=UTC) + timedelta(minutes=40)
    assert abs((start - expected).total_seconds()) < 10
    assert COMMA_READER.read(segment, ReadOptions(vehicle_id="rav4")).vehicle_id == "rav4"


def test_sources_are_every_array_and_the_preview(segment: Path, rec: Recording) -> None:
    arrays = [p for p in segment.rglob("*") if p.is_file() and p.suffix == ""]
    roles = [s.role for s in rec.sources]
    assert roles.count("telemetry") == len(arrays)
    assert roles.count("preview") == 1


def test_ingest_segment_end_to_end(lake, segment: Path) -> None:
    report = lake.ingest([segment])
    assert [r.status for r in report.results] == ["ingested"]
    (drive,) = lake.drives().to_pylist()
    assert drive["source_format"] == "comma2k19"
    assert drive["vehicle_id"] == DONGLE
    assert drive["source_frame"] == FRAME_DEVICE_FLU
    assert set(drive["streams"]) == set(TIME_ARRAYS)
    assert drive["repairs"] == []
    assert drive["start_utc"].date().isoformat() == "2018-08-02"
    can = lake.stream(drive["drive_id"], "can")
    t = can.column("t_ns").to_numpy() / 1e9
    v = can.column("speed_mps").to_numpy().astype(np.float64)
    integral = np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(t))
    assert drive["distance_m"] == pytest.approx(integral, rel=0.05)
    radar = lake.stream(drive["drive_id"], "radar")
    assert radar.num_rows == len(np.load(segment / TIME_ARRAYS["radar"]))


# --------------------------------------------------------------------------- generated copies


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:  # np.save(str) would append ".npy"
        np.save(fh, array)


def _copy(segment: Path, dest: Path, streams: list[str]) -> Path:
    """A segment folder holding ``streams`` (paths under processed_log), saved with numpy."""
    for rel in streams:
        for name in ("t", "value"):
            _save(
                dest / "processed_log" / rel / name, np.load(segment / "processed_log" / rel / name)
            )
    return dest


def test_corrupt_array_fails_naming_the_file_others_still_land(
    lake, segment: Path, tmp_path: Path
) -> None:
    bad = _copy(segment, tmp_path / "data" / ROUTE / "41", ["CAN/speed", "IMU/accelerometer"])
    broken = bad / "processed_log" / "IMU" / "accelerometer" / "value"
    broken.write_bytes(broken.read_bytes()[:5000])
    report = lake.ingest([bad, segment])
    by_source = {r.source: r for r in report.results}
    failed = by_source[str(bad)]
    assert failed.status == "failed"
    assert str(broken) in failed.message
    assert by_source[str(segment)].status == "ingested"
    assert len(lake.drives()) == 1


def test_missing_stream_folders_are_absent_and_tesla_converted(
    segment: Path, tmp_path: Path
) -> None:
    copy = _copy(segment, tmp_path / ROUTE / "40", ["CAN/speed", "IMU/magnetometer"])
    mag_value = copy / "processed_log" / "IMU" / "magnetometer" / "value"
    original = np.load(mag_value)
    _save(mag_value, original * 1e-6)  # as the dataset README documents it: tesla
    rec = COMMA_READER.read(copy, ReadOptions())
    s = streams(rec)
    assert set(s) == {"can", "magnetometer"}
    assert "steering_deg" not in s["can"].channels
    assert rec.utc_offset_ns is None
    np.testing.assert_allclose(s["magnetometer"].channels["mx"], original[:, 0], rtol=1e-9)


def test_stream_folder_without_its_value_array_is_an_error(segment: Path, tmp_path: Path) -> None:
    copy = _copy(segment, tmp_path / ROUTE / "40", ["CAN/speed"])
    (copy / "processed_log" / "CAN" / "speed" / "value").unlink()
    with pytest.raises(InputError, match=r"speed/value: missing array"):
        COMMA_READER.read(copy, ReadOptions())


def test_mismatched_lengths_are_an_error(segment: Path, tmp_path: Path) -> None:
    copy = _copy(segment, tmp_path / ROUTE / "40", ["IMU/gyro"])
    value = copy / "processed_log" / "IMU" / "gyro" / "value"
    _save(value, np.load(value)[:-3])
    with pytest.raises(InputError, match=r"gyro/value: expected 6256 numeric rows"):
        COMMA_READER.read(copy, ReadOptions())
