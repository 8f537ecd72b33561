"""Export throughput: ``export(name@v1, parquet)`` vs writing the same bytes with plain file I/O.

The baseline writes the same JPEGs (one ``Path.write_bytes`` each, into the same
``images/<split>/`` folders) and the same Parquet and manifest bytes with ``open().write``, on
the same disk. The export's time includes reading the snapshot from the lake; the baseline's
includes turning the in-memory Arrow table into Python ``bytes``. The two alternate
``--repeat`` times (export first, then copy first, …) into fresh folders, each after an
``os.sync()`` so that neither pays for the other's write-back; the best times are compared (the
machine is shared, and interference only ever adds time), medians are printed beside them.
Target: export time ≤ 2× the copy.

    .venv/bin/python bench/bench_export.py --frames 3000 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from _common import folder_bytes, report, timed
from _snapshot import build
from drivelake.curate import datasets
from drivelake.curate.exporters import export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--format", default="parquet")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = build(f"{tmp}/lake", args.frames)
        members = datasets(lake)["bench"].members("v1", images=True)
        exports: list[float] = []
        copies: list[float] = []

        def run_export(i: int) -> Path:
            os.sync()
            seconds, out = timed(lambda: export(lake, "bench@v1", args.format, f"{tmp}/out{i}"))
            exports.append(seconds)
            return out

        def run_copy(i: int, out: Path) -> None:
            def copy() -> None:
                root = Path(tmp) / f"copy{i}"
                for row in members.select(["member_id", "split", "image"]).to_pylist():
                    path = root / "images" / (row["split"] or "all") / f"{row['member_id']}.jpg"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(row["image"])
                for name in ("members.parquet", "manifest.json"):
                    source = next(Path(out).rglob(name), None)
                    if source is not None:
                        (root / name).write_bytes(source.read_bytes())

            os.sync()
            copies.append(timed(copy)[0])

        out = run_export(-1)  # the copy needs the export's Parquet and manifest to write
        for i in range(args.repeat):
            if i % 2:
                run_copy(i, out)
                run_export(i)
            else:
                run_export(i)
                run_copy(i, out)
        exports.pop(0)
        seconds, baseline = min(exports), min(copies)
        size = folder_bytes(out) / 2**20
        ratio = seconds / baseline
        median = statistics.median(exports) / statistics.median(copies)
        report(
            f"export {args.format}, {args.frames} frames (best of {args.repeat})",
            f"{seconds:.2f} s ({args.frames / seconds:,.0f} frames/s, {size / seconds:.0f} MiB/s)"
            f"; runs {', '.join(f'{s:.2f}' for s in exports)}",
            f"plain file copy of the same bytes {baseline:.2f} s"
            f"; runs {', '.join(f'{s:.2f}' for s in copies)}; ratio of medians {median:.2f}",
            ratio,
            "≤ 2×",
            ratio <= 2.0,
        )


if __name__ == "__main__":
    main()
