"""Telemetry ingest throughput: rows/s of one large synthetic CSV through ``lake.ingest``.

Baseline, measured in the same run on the same file: ``pyarrow.csv.read_csv`` followed by
``lance.write_dataset`` of the table as read — the floor for "parse a CSV and store it in Lance".
The figure is drivelake's time over the baseline's (target: ≤ 1.5).

    .venv/bin/python bench/bench_ingest_csv.py --rows 10000000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import report, timed


def write_log(path: Path, rows: int) -> int:
    """One continuous synthetic drive of about ``rows`` 100 Hz samples as a CSV."""
    from drivelake.synth import synth_drive

    drive = synth_drive(seed=1, minutes=rows / 100 / 60)
    drive.write_csv(path)
    return len(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="CSV rows (100 Hz samples)")
    parser.add_argument("--dir", default=None, help="Work folder (default: a temp folder)")
    args = parser.parse_args()

    import lance
    import pyarrow.csv as pacsv

    import drivelake

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        csv_path = work / "synthetic-fleet-log.csv"
        gen_s, rows = timed(lambda: write_log(csv_path, args.rows))
        size = csv_path.stat().st_size
        print(f"generated {rows:,} rows, CSV {size / 1e6:.0f} MB in {gen_s:.1f} s")

        def baseline() -> None:
            table = pacsv.read_csv(csv_path)
            lance.write_dataset(table, str(work / "baseline.lance"))

        base_s, _ = timed(baseline)
        lake = drivelake.open(work / "lake")
        ours_s, result = timed(lambda: lake.ingest([csv_path]))
        assert result.ok and result.count("ingested") == 1, result.results
        print(f"baseline (read_csv + write_dataset): {base_s:.2f} s = {rows / base_s:,.0f} rows/s")
        print(f"drivelake lake.ingest:               {ours_s:.2f} s = {rows / ours_s:,.0f} rows/s")
        ratio = ours_s / base_s
        report(
            "ingest CSV",
            f"{rows / ours_s:,.0f} rows/s ({rows:,} rows, {size / 1e6:.0f} MB)",
            f"{rows / base_s:,.0f} rows/s (pyarrow.csv.read_csv + lance.write_dataset)",
            ratio,
            "time ratio <= 1.5",
            ratio <= 1.5,
        )


if __name__ == "__main__":
    main()
