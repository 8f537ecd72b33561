"""Export throughput: ``export(name@v1, parquet)`` vs writing the same bytes with plain file I/O.

The baseline writes the same JPEGs and the same Parquet bytes to a folder with ``open().write``,
in the same run on the same disk. Target: export time ≤ 2× the copy.

    .venv/bin/python bench/bench_export.py --frames 5000
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = build(f"{tmp}/lake", args.frames)
        seconds, out = timed(lambda: export(lake, "bench@v1", args.format, f"{tmp}/out"))
        members = datasets(lake)["bench"].members("v1", images=True)

        def copy() -> None:
            root = Path(tmp) / "copy"
            for row in members.select(["member_id", "image"]).to_pylist():
                path = root / "images" / f"{row['member_id']}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(row["image"])
            for name in ("members.parquet", "manifest.json"):
                source = next(Path(out).rglob(name), None)
                if source is not None:
                    (root / name).write_bytes(source.read_bytes())

        baseline, _ = timed(copy)
        size = folder_bytes(out) / 2**20
        ratio = seconds / baseline
        report(
            f"export {args.format}, {args.frames} frames",
            f"{seconds:.2f} s ({args.frames / seconds:,.0f} frames/s, {size / seconds:.0f} MiB/s)",
            f"plain file copy of the same bytes {baseline:.2f} s",
            ratio,
            "≤ 2×",
            ratio <= 2.0,
        )


if __name__ == "__main__":
    main()
