"""Shared helpers of the benchmark scripts: timing, sizes and the result line they print."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn`` took, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def folder_bytes(path: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def machine() -> str:
    cpus = os.cpu_count()
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = float("nan")
    return (
        f"{platform.machine()}, {cpus} CPUs, {mem_gb:.0f} GiB, Python {platform.python_version()}"
    )


def report(name: str, figure: str, baseline: str, ratio: float, target: str, met: bool) -> None:
    """Print the result in one greppable block (docs/benchmarks.md is written from these)."""
    print(f"benchmark: {name}")
    print(f"figure:    {figure}")
    print(f"baseline:  {baseline}")
    print(f"ratio:     {ratio:.3f}")
    print(f"target:    {target} -> {'MET' if met else 'MISSED'}")
    print(f"date:      {date.today().isoformat()}")
    print(f"machine:   {machine()}")


def hour_fleet(folder: Path, drives: int, seed: int = 0) -> tuple[Path, int]:
    """A synthetic fleet of one-hour 100 Hz drives; returns its drives folder and CSV bytes."""
    from drivelake.synth import generate_fleet

    manifest = generate_fleet(folder, drives=drives, seed=seed, minutes=(60, 60))
    size = sum((folder / d["file"]).stat().st_size for d in manifest.drives)
    return folder / "drives", size
