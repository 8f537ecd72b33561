"""``drivelake demo`` end to end, as a user runs it: a subprocess per command."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

DRIVELAKE = str(Path(sys.executable).with_name("drivelake"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([DRIVELAKE, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_demo_generates_ingests_and_is_idempotent(tmp_path):
    lake, fleet = str(tmp_path / "lake"), str(tmp_path / "fleet")
    first = _run("--lake", lake, "demo", "--drives", "3", "--out", fleet)
    assert "SYNTHETIC" in first.stdout
    assert "3 ingested" in first.stdout

    drives = json.loads(_run("--lake", lake, "drives", "--format", "json").stdout)
    assert isinstance(drives, list) and len(drives) == 3
    assert all(d["synthetic"] for d in drives)
    assert all(d["vehicle_id"].startswith("synth-") for d in drives)
    assert {"accel", "gyro", "gnss"} <= set(drives[0]["streams"])

    query = "SELECT vehicle_id, count(*) AS drives FROM drives GROUP BY 1 ORDER BY 1"
    rows = list(csv.DictReader(io.StringIO(_run("--lake", lake, "sql", query, "-f", "csv").stdout)))
    assert sum(int(r["drives"]) for r in rows) == 3

    again = _run("--lake", lake, "demo", "--drives", "3", "--out", fleet)
    assert "0 ingested, 3 already present" in again.stdout
