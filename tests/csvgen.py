"""Small telemetry CSVs for ingest tests, written row by row so tests can break them on purpose."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HEADER = "timestamp,lat,lon,speed_kmh,acc_x,acc_y,acc_z\n"


def telemetry_rows(n: int = 500, t0: float = 1_700_000_000.0, rate_hz: float = 50.0, seed: int = 0):
    """Rows of a plausible drive: 50 Hz accelerometer, a GPS fix every second, moving north-east."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        t = t0 + i / rate_hz
        fix = i % int(rate_hz) == 0
        gps = (
            f"{48.1 + i * 2e-6:.7f},{11.5 + i * 2e-6:.7f},{36 + rng.normal(0, 1):.2f}"
            if fix
            else ",,"
        )
        acc = f"{rng.normal(0, 0.3):.4f},{rng.normal(0, 0.3):.4f},{9.81 + rng.normal(0, 0.1):.4f}"
        rows.append(f"{t:.3f},{gps},{acc}\n")
    return rows


def write_csv(path: Path, rows: list[str] | None = None, header: str = HEADER, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(rows if rows is not None else telemetry_rows(**kw)))
    return path
