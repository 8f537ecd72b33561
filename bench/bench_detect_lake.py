"""Benchmark: ``detect`` end to end on a lake, against reading the same drives' streams.

The events bench (``bench_events.py``) times the detectors on arrays in memory; a user runs
``drivelake detect --all`` on a lake, which also reads every drive's streams, resamples them,
builds the rows and commits them. Baseline: reading the four streams detection reads (accel,
gyro, gnss, can) of every drive with :meth:`drivelake.Lake.streams`, in the same run. Each
detect pass uses a fresh config, so it is a new run that processes every drive.

    .venv/bin/python bench/bench_detect_lake.py --drives 24 --minutes 30
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import drivelake
from _common import report, timed
from drivelake.events import detect
from drivelake.synth import generate_fleet

STREAMS = ("accel", "gyro", "gnss", "can")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drives", type=int, default=24)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_fleet(root / "fleet", drives=args.drives, minutes=(args.minutes, args.minutes))
        lake = drivelake.open(root / "lake")
        lake.ingest([root / "fleet"])
        ids = lake.drives(columns=["drive_id"]).column("drive_id").to_pylist()
        hours = len(ids) * args.minutes / 60
        read_s, detect_s = [], []
        for k in range(args.repeats):  # alternated, so both see the same machine load
            read_s.append(timed(lambda: [lake.streams(d, STREAMS) for d in ids])[0])
            config = root / f"run{k}.toml"
            config.write_text(f"[car]\nbrake_g = {0.25 + k / 1000}\n")
            seconds, result = timed(lambda: detect(lake, config=config))  # noqa: B023
            assert result["processed"] == len(ids)
            detect_s.append(seconds)
        read, det = min(read_s), min(detect_s)
        report(
            "detect end to end on a lake (synthetic fleet, 100 Hz)",
            f"{hours:.1f} drive-hours in {det:.2f} s = {hours / det:.1f} drive-hours/s, "
            f"{det / len(ids) * 1000:.0f} ms per drive ({result['events']} events)",
            f"reading the same streams: {read:.2f} s ({hours / read:.1f} drive-hours/s)",
            det / read,
            "none set; shows what besides the read a detect run costs",
            True,
        )


if __name__ == "__main__":
    main()
