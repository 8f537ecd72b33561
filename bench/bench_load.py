"""Whole-drive load: ``lake.signals(drive_id)`` of a one-hour 100 Hz drive in a lake of many.

Baseline, in the same run: reading the same rows from a Parquet file of their own with
``pyarrow.parquet.read_table``. The figure is the median over repeats (target: < 50 ms).

    .venv/bin/python bench/bench_load.py --drives 20
    .venv/bin/python bench/bench_load.py --lake LAKE   # a lake kept by bench_storage.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import hour_fleet, report, timed


def median_ms(fn, repeats: int) -> float:
    fn()  # warm: open the dataset, fill the page cache
    return statistics.median(timed(fn)[0] for _ in range(repeats)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drives", type=int, default=20, help="One-hour drives in the lake")
    parser.add_argument("--lake", default=None, help="Use this lake instead of building one")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--jobs", type=int, default=2, help="Parallel ingest workers")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    import drivelake

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.lake:
            lake = drivelake.open(args.lake, create=False)
        else:
            drives, _ = hour_fleet(work / "fleet", args.drives)
            lake = drivelake.open(work / "lake")
            assert lake.ingest([drives], jobs=args.jobs).ok
        ids = lake.drives(columns=["drive_id"]).column("drive_id").to_pylist()
        drive_id = ids[len(ids) // 2]
        table = lake.signals(drive_id)
        pq.write_table(table, work / "drive.parquet")
        ours = median_ms(lambda: lake.signals(drive_id), args.repeats)
        base = median_ms(lambda: pq.read_table(work / "drive.parquet"), args.repeats)
        print(f"drive {drive_id}: {table.num_rows:,} rows, lake of {len(ids)} drives")
        report(
            "load one drive",
            f"{ours:.1f} ms median ({table.num_rows:,} rows, {len(ids)} drives in the lake)",
            f"{base:.1f} ms median (pyarrow.parquet.read_table of the same rows)",
            ours / base,
            "median < 50 ms",
            ours < 50,
        )


if __name__ == "__main__":
    main()
