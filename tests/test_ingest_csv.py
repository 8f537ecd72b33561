"""Generic CSV/Parquet telemetry: column detection, units, mappings, and every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csvgen import telemetry_rows, write_csv


def _status(report):
    return {r.source.rsplit("/", 1)[-1]: (r.status, r.message, r.repairs) for r in report.results}


def test_common_column_names_units_and_iso_times(lake, tmp_path):
    n = 200
    t = np.datetime64("2024-03-01T08:00:00") + (np.arange(n) * 100).astype("timedelta64[ms]")
    lines = ["Time,Latitude,Longitude,Speed (mph),ax_g,ay_g,az_g,gyro_x_dps,gyro_y_dps,gyro_z_dps"]
    for i in range(n):
        lines.append(
            f"{t[i]}Z,{40 + i * 1e-5:.6f},{-74 + i * 1e-5:.6f},30,0.1,0.0,1.0,0.0,0.0,57.29578"
        )
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    report = lake.ingest([path])
    assert report.results[0].status == "ingested", report.results[0].message
    d = lake.drive(report.drive_ids[0])
    assert d["start_utc"].isoformat().startswith("2024-03-01T08:00:00")
    gnss = lake.stream(d["drive_id"], "gnss")
    assert gnss.column("speed_mps").to_numpy() == pytest.approx(30 * 0.44704, rel=1e-5)
    accel = lake.stream(d["drive_id"], "accel")
    assert accel.column("az").to_numpy() == pytest.approx(9.80665, rel=1e-5)  # g → m/s²
    gyro = lake.stream(d["drive_id"], "gyro")
    assert gyro.column("gz").to_numpy() == pytest.approx(1.0, rel=1e-5)  # deg/s → rad/s
    assert d["stream_stats"][0]["rate_hz"] == pytest.approx(10.0)


def test_mapping_file_and_millisecond_times(lake, tmp_path):
    path = tmp_path / "odd.csv"
    rows = [f"{1_700_000_000_000 + i * 20};{i * 0.1:.2f};{9.8:.2f};0;0" for i in range(100)]
    path.write_text("ts_utc;vel;up;fwd;side\n" + "\n".join(rows) + "\n")
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[columns]\ntime = "ts_utc"\nspeed = "vel"\nax = "fwd"\nay = "side"\naz = "up"\n'
        '[units]\nspeed = "km/h"\n'
    )
    lake_dir = tmp_path / "lake2"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "drivelake.cli",
            "--lake",
            str(lake_dir),
            "ingest",
            str(path),
            "--map",
            str(mapping),
            "--vehicle",
            "truck-3",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    import drivelake

    d = drivelake.open(lake_dir).drives().to_pylist()[0]
    assert d["vehicle_id"] == "truck-3" and d["streams"] == ["accel", "can"]
    assert d["duration_s"] == pytest.approx(99 * 0.02)
    assert d["start_ns"] == 1_700_000_000_000 * 1_000_000


def test_parquet_reader(lake, tmp_path):
    n = 100
    table = pa.table(
        {
            "timestamp_ns": 1_700_000_000_000_000_000 + np.arange(n) * 10_000_000,
            "latitude": 51 + np.arange(n) * 1e-5,
            "longitude": np.full(n, 0.1),
            "speed_mps": np.full(n, 12.5),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    report = lake.ingest([tmp_path / "t.parquet"])
    assert report.results[0].status == "ingested"
    assert lake.drive(report.drive_ids[0])["source_format"] == "parquet"


def test_bad_files_fail_with_file_place_and_problem_while_the_rest_lands(lake, tmp_path):
    src = tmp_path / "batch"
    good = write_csv(src / "good.csv", n=100)
    (src / "empty.csv").write_text("")
    rows = telemetry_rows(n=50)
    rows[20] = "1700000000.400,48.1,11.5,abc,0.1,0.2,9.8\n"
    write_csv(src / "nonnumeric.csv", rows)
    fast = [r.replace(",36.", ",125.").replace(",35.", ",125.") for r in telemetry_rows(n=100)]
    write_csv(src / "kmh.csv", fast, header="timestamp,lat,lon,speed,acc_x,acc_y,acc_z\n")
    write_csv(src / "notime.csv", header="when,lat,lon,speed_kmh,acc_x,acc_y,acc_z\n", n=10)
    (src / "notes.bin").write_bytes(b"\x00\x01binary")
    report = lake.ingest([src])
    st = _status(report)
    assert st["good.csv"][0] == "ingested"
    assert st["empty.csv"][0] == "failed" and "empty file" in st["empty.csv"][1]
    assert "empty.csv" in st["empty.csv"][1]
    assert st["nonnumeric.csv"][0] == "failed"
    assert "line 22" in st["nonnumeric.csv"][1] and "'abc'" in st["nonnumeric.csv"][1]
    assert st["kmh.csv"][0] == "failed" and "km/h" in st["kmh.csv"][1]
    assert st["notime.csv"][0] == "failed" and "no time column" in st["notime.csv"][1]
    assert st["notes.bin"] == ("skipped", f"{src / 'notes.bin'}: unknown format", [])
    assert lake.drives().num_rows == 1
    assert lake.drive(report.drive_ids[0])["source_files"][0]["path"] == str(good)
    # a file the user names explicitly in an unknown format is an error, not a skip
    named = lake.ingest([src / "notes.bin"])
    assert named.results[0].status == "failed"


def test_safe_repairs_are_counted_and_reported(lake, tmp_path):
    rows = telemetry_rows(n=300)
    rows[100], rows[101] = rows[101], rows[100]  # one step backwards
    rows.insert(200, rows[199])  # a duplicated timestamp
    rows[50] = "1700000001.000,48.1001000,11.5001000,36.00,inf,0.1,9.8\n"  # inf accel
    rows.append("1700000100.000,48.1,11.5,36,0.1,0.1,9.8,EXTRA,COLUMNS\n")  # malformed row
    rows.append("1700000006.500,95.0,11.5,36,0.1,0.1,9.8\n")  # impossible latitude
    report = lake.ingest([write_csv(tmp_path / "messy.csv", rows)])
    r = report.results[0]
    assert r.status == "ingested", r.message
    text = " | ".join(r.repairs)
    assert "1 malformed rows skipped" in text and "expected 7 columns, got 9" in text
    assert "went backwards" in text
    assert "1 duplicate timestamps dropped" in text
    assert "NaN/inf" in text
    assert "impossible coordinates" in text
    d = lake.drive(r.drive_id)
    assert d["repairs"] == r.repairs
    t = lake.stream(r.drive_id, "accel").column("t_ns").to_numpy()
    assert np.all(np.diff(t) > 0)


def test_cli_reports_summary_and_nonzero_exit_after_the_rest_landed(tmp_path):
    src = tmp_path / "batch"
    write_csv(src / "good.csv", n=100)
    (src / "empty.csv").write_text("")
    lake_dir = tmp_path / "lake"
    cmd = [sys.executable, "-m", "drivelake.cli", "--lake", str(lake_dir)]
    out = subprocess.run([*cmd, "ingest", str(src)], capture_output=True, text=True)
    assert out.returncode == 1
    assert "1 ingested, 0 already present, 1 failed" in out.stderr
    assert "empty.csv: empty file" in out.stderr
    assert "Traceback" not in out.stderr
    listed = subprocess.run([*cmd, "drives", "--format", "json"], capture_output=True, text=True)
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["source_format"] == "csv"
    csv_out = subprocess.run(
        [*cmd, "sql", "SELECT count(*) AS n FROM signals", "--format", "csv"],
        capture_output=True,
        text=True,
    )
    assert csv_out.stdout.splitlines() == ["n", "102"]  # 100 accel + 2 fixes
    missing = subprocess.run([*cmd, "show", "nope"], capture_output=True, text=True)
    assert missing.returncode == 1 and "no drive 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
