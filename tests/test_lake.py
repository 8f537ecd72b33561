"""The lake's store guarantees: atomic, idempotent, versioned ingest; SQL; tags; concurrency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import drivelake
from csvgen import telemetry_rows, write_csv
from drivelake.errors import NotFoundError, StoreError


def test_ingest_catalogue_row_and_samples(lake, tmp_path):
    src = write_csv(tmp_path / "src" / "drive.csv", n=500)
    report = lake.ingest([src], vehicle_id="van-17")
    assert [r.status for r in report.results] == ["ingested"]
    d = lake.drive(report.drive_ids[0])
    assert d["vehicle_id"] == "van-17"
    assert d["source_format"] == "csv"
    assert d["streams"] == ["accel", "gnss"]
    stats = {s["stream"]: s for s in d["stream_stats"]}
    assert stats["accel"]["samples"] == 500
    assert stats["gnss"]["samples"] == 10
    assert stats["accel"]["rate_hz"] == pytest.approx(50.0, rel=1e-3)
    assert d["duration_s"] == pytest.approx(499 / 50, abs=1e-6)
    assert d["utc_offset_ns"] == 0 and d["start_utc"].year == 2023
    assert 48.1 <= d["min_lat"] < d["max_lat"] < 48.2
    # 10 fixes moving ~0.27 m per sample step: distance from the fixes themselves
    assert 20 < d["distance_m"] < 200
    assert d["source_files"][0]["sha256"] and d["source_files"][0]["size"] == src.stat().st_size
    speed = lake.stream(d["drive_id"], "gnss").column("speed_mps").to_numpy()
    assert np.all((speed > 8) & (speed < 12))  # ~36 km/h converted to m/s


def test_reingest_is_a_noop_and_edits_are_new_drives(lake, tmp_path):
    src = write_csv(tmp_path / "src" / "drive.csv", n=200)
    first = lake.ingest([src])
    versions = lake.versions().num_rows
    again = lake.ingest([src])
    assert [r.status for r in again.results] == ["already present"]
    assert again.drive_ids == first.drive_ids
    assert lake.versions().num_rows == versions, "re-ingest must write nothing"
    write_csv(src, n=201)  # edited file: a new version of the data is a new drive
    edited = lake.ingest([src])
    assert edited.results[0].status == "ingested"
    assert edited.drive_ids != first.drive_ids
    assert lake.drives().num_rows == 2


def test_sql_sees_tables_and_only_committed_samples(lake, tmp_path):
    for i in range(3):
        write_csv(tmp_path / "src" / f"d{i}.csv", n=100 + i, t0=1.7e9 + i * 3600, seed=i)
    lake.ingest([tmp_path / "src"], vehicle_id="van-17")
    out = lake.sql(
        "SELECT vehicle_id, count(*) AS drives, sum(distance_m)/1000 AS km FROM drives GROUP BY 1"
    ).to_pylist()
    assert out[0]["vehicle_id"] == "van-17" and out[0]["drives"] == 3
    n = lake.sql("SELECT count(*) AS n FROM signals WHERE stream = 'accel'").to_pylist()[0]["n"]
    assert n == 100 + 101 + 102
    # an orphan (samples of an ingest that never committed) is invisible to SQL and the API
    orphan = lake.dataset("signals").head(5)
    orphan = orphan.set_column(1, "ingest_id", pa.array(["elsewhere:1:1:x"] * 5))
    lake.append("signals", orphan)
    n2 = lake.sql("SELECT count(*) AS n FROM signals WHERE stream = 'accel'").to_pylist()[0]["n"]
    assert n2 == n
    assert lake.sweep_orphans() == 1
    with pytest.raises(StoreError, match="SQL error"):
        lake.sql("SELECT nope FROM drives")


def test_versions_and_tags(lake, tmp_path):
    report = lake.ingest([write_csv(tmp_path / "a.csv", n=100)])
    drive_id = report.drive_ids[0]
    before = lake.versions().num_rows
    tag_id = lake.tag(drive_id[:8], "near miss with cyclist", kind="note", t_s=3.5)
    lake.tag(drive_id, "rain")
    tags = lake.tags(drive_id).to_pylist()
    assert {t["text"] for t in tags} == {"near miss with cyclist", "rain"}
    assert next(t for t in tags if t["tag_id"] == tag_id)["t_s"] == 3.5
    v = lake.versions("tags").to_pylist()
    assert len(v) == 2 and lake.versions().num_rows == before + 2
    with pytest.raises(NotFoundError):
        lake.tag("does-not-exist", "x")


def test_long_log_is_split_into_drives_at_gaps(lake, tmp_path):
    rows = telemetry_rows(n=300, t0=1.7e9) + telemetry_rows(n=300, t0=1.7e9 + 3600, seed=1)
    report = lake.ingest([write_csv(tmp_path / "day.csv", rows)], max_gap_s=300)
    assert [r.status for r in report.results] == ["ingested", "ingested"]
    durations = sorted(lake.drives().column("duration_s").to_pylist())
    assert durations == pytest.approx([299 / 50, 299 / 50])
    again = lake.ingest([tmp_path / "day.csv"], max_gap_s=300)
    assert [r.status for r in again.results] == ["already present"] * 2


def test_open_rejects_a_file_and_missing_lake_for_reading(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="not a folder"):
        drivelake.open(f)
    with pytest.raises(NotFoundError, match="no lake"):
        drivelake.open(tmp_path / "nothing", create=False)


def _cli(*args: str, lake: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "drivelake.cli", "--lake", str(lake), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_concurrent_ingest_processes_write_each_drive_once(tmp_path):
    for i in range(6):
        write_csv(tmp_path / "fleet" / f"d{i}.csv", n=300, t0=1.7e9 + i * 7200, seed=i)
    lake_path = tmp_path / "lake"
    procs = [_cli("ingest", str(tmp_path / "fleet"), lake=lake_path) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    lake = drivelake.open(lake_path)
    assert lake.drives().num_rows == 6
    assert len(lake.drives().column("drive_id").unique()) == 6
    counts = lake.sql("SELECT drive_id, count(*) AS n FROM signals GROUP BY 1").to_pylist()
    assert sorted(c["n"] for c in counts) == [306] * 6  # 300 accel + 6 fixes, never doubled


def test_killed_ingest_leaves_only_complete_drives_and_next_ingest_finishes(tmp_path):
    for i in range(40):
        write_csv(tmp_path / "fleet" / f"d{i:02}.csv", n=2000, t0=1.7e9 + i * 7200, seed=i)
    lake_path = tmp_path / "lake"
    p = _cli("ingest", str(tmp_path / "fleet"), lake=lake_path, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once a few drives have landed, mid-way through
        time.sleep(0.2)
        if (lake_path / "drives.lance").exists():
            n = drivelake.open(lake_path).drives().num_rows
            if n >= 3:
                break
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    lake = drivelake.open(lake_path)
    landed = lake.drives().num_rows
    assert 0 < landed < 40, "the kill must land mid-way for this test to mean anything"
    for d in lake.drives().to_pylist():
        assert lake.signals(d["drive_id"]).num_rows == sum(s["samples"] for s in d["stream_stats"])
    report = lake.ingest([tmp_path / "fleet"])
    assert report.count("already present") == landed
    assert report.count("ingested") == 40 - landed
    counts = lake.sql("SELECT count(*) AS n FROM signals").to_pylist()[0]["n"]
    assert counts == 40 * (2000 + 40)
    raw = lake.dataset("signals").count_rows()
    assert raw == counts, "orphans of the killed process were swept"


def test_stage_doors_on_the_lake(lake, tmp_path):
    """lake.detect / events / search / datasets reach the stage modules (imported on use)."""
    report = lake.ingest([write_csv(tmp_path / "a.csv", n=500)])
    result = lake.detect()
    assert result["processed"] == 1
    assert lake.events(report.drive_ids[0]).num_rows == len(lake.events())
    assert list(lake.datasets) == []
    with pytest.raises(ValueError, match="needs words"):
        lake.search()


def test_sql_view_decodes_the_same_values_as_the_api(lake, tmp_path):
    """Stored slots and integer steps are invisible: SQL and Python read the same SI floats."""
    report = lake.ingest([write_csv(tmp_path / "a.csv", n=300)])
    drive_id = report.drive_ids[0]
    for stream, channels in (("gnss", ["lat", "lon", "speed_mps"]), ("accel", ["ax", "ay", "az"])):
        api = lake.stream(drive_id, stream)
        sql = lake.sql(
            f"SELECT t_ns, {', '.join(channels)} FROM signals "
            f"WHERE drive_id = '{drive_id}' AND stream = '{stream}' ORDER BY t_ns"
        )
        assert sql.num_rows == api.num_rows > 0
        assert sql["t_ns"].to_pylist() == api["t_ns"].to_pylist()
        for c in channels:
            assert np.array_equal(sql[c].to_numpy(), api[c].to_numpy()), c
    raw = np.loadtxt(tmp_path / "a.csv", delimiter=",", skiprows=1, usecols=(4, 5, 6))
    accel = lake.stream(drive_id, "accel")
    assert np.allclose(accel["ax"].to_numpy(), raw[:, 0], atol=5e-5)  # stored in 1e-4 steps


def test_accel_and_gyro_sampled_together_share_rows(lake, tmp_path):
    """An IMU's two streams are stored once per instant, and still read as two streams."""
    rows = [
        f"{1.7e9 + i / 100:.2f},{0.1 * i:.4f},0.2000,9.8100,0.01000,-0.02000,{0.001 * i:.5f}\n"
        for i in range(400)
    ]
    header = "timestamp,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n"
    report = lake.ingest([write_csv(tmp_path / "imu.csv", rows, header=header)])
    drive_id = report.drive_ids[0]
    d = lake.drive(drive_id)
    assert d["streams"] == ["accel", "gyro"]
    assert d["signal_blocks"] == [{"block": "accel+gyro", "rows": 400}]
    assert lake.dataset("signals").count_rows() == 400
    gyro = lake.stream(drive_id, "gyro")
    assert gyro.column_names == ["stream", "t_ns", "gx", "gy", "gz"]
    assert np.allclose(gyro["gz"].to_numpy(), np.arange(400) * 0.001, atol=1e-6)
    accel = lake.stream(drive_id, "accel")
    assert np.allclose(accel["ax"].to_numpy(), np.arange(400) * 0.1, atol=1e-4)
    both = lake.signals(drive_id)
    assert both.num_rows == 800 and both["stream"].unique().to_pylist() == ["accel", "gyro"]
    sql = lake.sql(
        "SELECT stream, count(*) AS n, max(gz) AS gz, max(ax) AS ax FROM signals "
        "GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    assert [(r["stream"], r["n"]) for r in sql] == [("accel", 400), ("gyro", 400)]
    assert sql[0]["gz"] is None and sql[1]["ax"] is None
    assert sql[1]["gz"] == pytest.approx(0.399, abs=1e-6)


def test_catalogue_is_compacted_as_drives_accumulate(lake, tmp_path):
    for i in range(20):
        write_csv(tmp_path / "fleet" / f"d{i:02}.csv", n=60, t0=1.7e9 + i * 7200, seed=i)
    lake.ingest([tmp_path / "fleet"])
    assert len(lake.dataset("drives").get_fragments()) <= 16
    assert lake.drives().num_rows == 20
    first = lake.drives(columns=["drive_id"]).column("drive_id")[0].as_py()
    assert lake.signals(first).num_rows == 60 + 2  # still found through its own fragments
