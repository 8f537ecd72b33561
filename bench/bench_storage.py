"""Storage: lake bytes over raw CSV bytes for a fleet of one-hour 100 Hz synthetic drives.

The baseline is the raw telematics CSV itself (GPS at 1 Hz, IMU at 100 Hz, typical decimals;
see ``drivelake.synth.CSV_DECIMALS``). The lake's bytes are everything under its root: data,
versions, indexes. Target: ≤ 0.3.

    .venv/bin/python bench/bench_storage.py --hours 100
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _common import folder_bytes, hour_fleet, report, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=100, help="Drive-hours (one-hour drives)")
    parser.add_argument("--jobs", type=int, default=2, help="Parallel ingest workers")
    parser.add_argument("--dir", default=None, help="Work folder (default: a temp folder)")
    parser.add_argument("--keep-lake", default=None, help="Move the lake here afterwards")
    args = parser.parse_args()

    import drivelake

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        gen_s, (drives, csv_bytes) = timed(lambda: hour_fleet(work / "fleet", args.hours))
        print(f"generated {args.hours} drive-hours, {csv_bytes / 1e9:.2f} GB CSV in {gen_s:.0f} s")
        lake = drivelake.open(work / "lake")
        ingest_s, result = timed(lambda: lake.ingest([drives], jobs=args.jobs))
        assert result.ok and result.count("ingested") == args.hours, result.results
        stored = lake.sql("SELECT count(DISTINCT drive_id) AS n FROM signals").column("n")[0]
        assert stored.as_py() == args.hours, f"only {stored} drives have samples"
        lake_bytes = folder_bytes(work / "lake")
        print(f"ingested in {ingest_s:.0f} s; lake {lake_bytes / 1e9:.3f} GB")
        ratio = lake_bytes / csv_bytes
        report(
            "storage",
            f"{lake_bytes / 1e6:,.0f} MB lake for {args.hours} drive-hours at 100 Hz",
            f"{csv_bytes / 1e6:,.0f} MB raw CSV",
            ratio,
            "lake/CSV bytes <= 0.3",
            ratio <= 0.3,
        )
        if args.keep_lake:
            shutil.move(str(work / "lake"), args.keep_lake)


if __name__ == "__main__":
    main()
