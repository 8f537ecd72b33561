"""``drivelake demo`` end to end, as a user runs it: a subprocess per command."""

from __future__ import annotations

import csv
import io
import json
import re
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


def _run_in_terminal(*args: str, columns: int) -> tuple[str, int]:
    """Run the CLI on a pseudo-terminal ``columns`` wide: what a user at a terminal sees."""
    import os
    import pty

    main, child = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns), LINES="200", NO_COLOR="1")
    proc = subprocess.Popen([DRIVELAKE, *args], stdout=child, stderr=child, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    screen = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode())  # styles take no columns
    return screen, proc.wait(timeout=120)


def test_events_table_fits_the_terminal_and_names_what_it_leaves_out(tmp_path):
    lake = str(tmp_path / "lake")
    _run("--lake", lake, "demo", "--drives", "1", "--out", str(tmp_path / "fleet"))
    rows = json.loads(_run("--lake", lake, "events", "--format", "json").stdout)
    drive_id = rows[0]["drive_id"]
    assert len(rows) >= 2  # a caption needs rows that share a drive

    screen, code = _run_in_terminal("--lake", lake, "events", "--drive", drive_id, columns=100)
    assert code == 0, screen
    lines = screen.splitlines()
    assert max(len(line) for line in lines) <= 100
    header = next(line for line in lines if "event_id" in line)
    for column in ("type", "direction", "start_s", "end_s", "peak", "severity"):
        assert column in header
    assert "start_utc_ns" not in header
    # every event on one line, its id whole
    assert all(any(r["event_id"] in line for line in lines) for r in rows)
    assert f"drive_id={drive_id}" in screen.replace("\n", "").replace(" ", "")
    assert "not shown at this width" in screen and "start_utc_ns" in screen

    piped = _run("--lake", lake, "events").stdout  # a pipe: every column, nothing folded
    header = next(line for line in piped.splitlines() if "event_id" in line)
    assert "start_utc_ns" in header and "config_hash" in header
    assert all(any(r["event_id"] in line for line in piped.splitlines()) for r in rows)
