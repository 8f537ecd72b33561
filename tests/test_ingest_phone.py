"""The phone sensor-folder reader on the real trip21 recording, plus generated broken copies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from drivelake.errors import InputError
from drivelake.ingest.base import ReadOptions, Recording, stream_rate_hz
from drivelake.ingest.phone import PHONE_READER
from drivelake.schema import FRAME_EARTH_ENU

FILES = {
    "accel": "acelerometro_terra.csv",
    "accel_linear": "aceleracaoLinear_terra.csv",
    "gyro": "giroscopio_terra.csv",
}


@pytest.fixture(scope="module")
def trip() -> Path:
    return shared("phone-imu", "trip21")


@pytest.fixture(scope="module")
def rec(trip: Path) -> Recording:
    return PHONE_READER.read(trip, ReadOptions())


@pytest.fixture(scope="module")
def meta(trip: Path) -> dict:
    return json.loads((trip / "viagem.json").read_text())


def data_rows(path: Path) -> int:
    with path.open() as fh:
        return sum(1 for line in fh if line.strip()) - 1


def test_sniffed_as_a_phone_folder(trip: Path) -> None:
    assert PHONE_READER.sniff(trip) > 0.5
    assert PHONE_READER.sniff(trip.parent) == 0.0


def test_sample_counts_equal_csv_rows(trip: Path, rec: Recording) -> None:
    got = {s.name: len(s) for s in rec.streams}
    assert got == {name: data_rows(trip / f) for name, f in FILES.items()}
    assert rec.repairs == []


def test_rates_are_those_of_phone_motion_sensors(rec: Recording) -> None:
    rates = {s.name: stream_rate_hz(s.t_ns) for s in rec.streams}
    assert all(45 < r < 205 for r in rates.values()), rates


def test_earth_frame_gravity_on_z(rec: Recording) -> None:
    s = {st.name: st for st in rec.streams}
    assert rec.source_frame == FRAME_EARTH_ENU
    assert abs(s["accel"].channels["az"].mean() - 9.8) < 0.5
    assert abs(s["accel_linear"].channels["az"].mean()) < 0.5
    assert abs(s["accel"].channels["ax"].mean()) < 0.5


def test_metadata_and_label_sources(rec: Recording, meta: dict) -> None:
    roles = {Path(s.path).name: s.role for s in rec.sources}
    assert roles["groundTruth.csv"] == "labels"
    assert roles["viagem.json"] == "metadata"
    assert all(roles[f] == "telemetry" for f in FILES.values())
    assert rec.metadata["smartphoneModel"] == meta["smartphoneModel"]


def test_drive_time_base_matches_the_dataset_labels(
    lake, trip: Path, rec: Recording, meta: dict
) -> None:
    report = lake.ingest([trip])
    assert [r.status for r in report.results] == ["ingested"]
    (drive,) = lake.drives().to_pylist()
    assert drive["source_format"] == "phone_csv"
    assert drive["start_ns"] == meta["firstCollectionUptimeNanos"]
    assert drive["duration_s"] == pytest.approx(meta["elapsedTimeNanos"] / 1e9, abs=1.0)
    expected = datetime(2016, 5, 15, 19, 3, 47, 300_000, tzinfo=UTC)
    assert abs((drive["start_utc"] - expected).total_seconds()) < 1
    stats = {s["stream"]: s["samples"] for s in drive["stream_stats"]}
    assert stats == {name: data_rows(trip / f) for name, f in FILES.items()}
    # every labelled manoeuvre lies inside the drive on its t = 0 s time base
    labels = np.genfromtxt(trip / "groundTruth.csv", delimiter=",", skip_header=1)[:, 1:]
    assert labels.min() >= 0 and labels.max() <= drive["duration_s"]


# --------------------------------------------------------------------------- generated copies


def test_malformed_rows_are_skipped_and_counted(lake, trip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trip"
    folder.mkdir()
    (folder / "viagem.json").write_text((trip / "viagem.json").read_text())
    lines = (trip / FILES["accel"]).read_text().splitlines()[:1001]
    header, rows = lines[0], lines[1:]
    rows[10] = rows[10].rsplit(",", 1)[0] + ",abc"  # non-numeric cell
    rows[20] = rows[19]  # duplicated timestamp (and values)
    text = "\n".join([header, *rows, rows[-1][:25]])  # a truncated last line, no newline
    (folder / FILES["accel"]).write_text(text)

    report = lake.ingest([folder])
    (result,) = report.results
    assert result.status == "ingested", result.message
    assert result.samples == 1000 - 2
    repairs = " | ".join(result.repairs)
    assert "1 malformed rows skipped (first: line 1002" in repairs
    assert "1 rows with empty or non-numeric values skipped (first: line 12)" in repairs
    assert "accel: 1 duplicate timestamps dropped" in repairs


def test_missing_uptime_column_fails_naming_the_file(lake, trip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trip"
    folder.mkdir()
    (folder / "viagem.json").write_text((trip / "viagem.json").read_text())
    lines = (trip / FILES["gyro"]).read_text().splitlines()[:50]
    (folder / FILES["gyro"]).write_text("\n".join(lines).replace("uptimeNanos", "uptime", 1))
    with pytest.raises(InputError, match="no uptimeNanos column"):
        PHONE_READER.read(folder, ReadOptions())
    (result,) = lake.ingest([folder]).results
    assert result.status == "failed"
    assert str(folder / FILES["gyro"]) in result.message


def test_english_file_names(trip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trip"
    folder.mkdir()
    lines = (trip / FILES["gyro"]).read_text().splitlines()[:101]
    (folder / "gyroscope.csv").write_text("\n".join(lines))
    assert PHONE_READER.sniff(folder) > 0.5
    rec = PHONE_READER.read(folder, ReadOptions())
    assert [(s.name, len(s)) for s in rec.streams] == [("gyro", 100)]
    assert rec.t0_ns is None and rec.utc_offset_ns is None
