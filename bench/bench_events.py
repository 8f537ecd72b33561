"""Benchmark: event detection over a synthetic fleet, against one NumPy pass over the same arrays.

Drives are generated in memory (100 Hz accel + gyro, float32; speed on the 10 Hz grid, so
speeding and the road-roughness index run too) and reused to reach the target drive-hours; the
baseline is one ``sum`` over every IMU array (the memory-bandwidth floor). Prints drive-hours
per second per core, the ratio to real time and detection cost in baseline passes.

    .venv/bin/python bench/bench_events.py --hours 1000
"""

from __future__ import annotations

import os

# One core: BLAS must not spread the block reductions over other cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from drivelake.events import load_config  # noqa: E402
from drivelake.events.detectors import detect_motion, peak_floors  # noqa: E402
from drivelake.events.roughness import roughness_segments  # noqa: E402
from drivelake.signals.motion import vehicle_motion  # noqa: E402
from drivelake.synth import synth_drive  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1000.0)
    ap.add_argument("--drive-minutes", type=float, default=60.0)
    args = ap.parse_args()
    drives = [synth_drive(seed=s, minutes=args.drive_minutes) for s in range(4)]
    # speed as the lake holds it: already on the 10 Hz analysis grid, one contiguous array
    arrays = [
        (a.astype(np.float32), g.astype(np.float32), np.ascontiguousarray(v[::10]))
        for a, g, v in ((d.acc, d.gyro, d.speed_mps) for d in drives)
    ]
    hours_each = [len(a) / 100 / 3600 for a, _, _ in arrays]
    reps = int(np.ceil(args.hours / sum(hours_each)))
    cfg = load_config().thresholds("car")

    # Baseline and detection alternate drive by drive, so both see the same machine load; CPU
    # time of this (single-threaded) process is reported beside wall time, as it is what a core
    # spends when other processes share the machine.
    base_wall = base_cpu = det_wall = det_cpu = 0.0
    n_events = n_segments = 0
    for _ in range(reps):
        for acc, gyro, speed in arrays:
            w, c = time.perf_counter(), time.process_time()
            acc.sum(), gyro.sum()
            base_wall += time.perf_counter() - w
            base_cpu += time.process_time() - c
            w, c = time.perf_counter(), time.process_time()
            m = vehicle_motion(acc, gyro, 100, **peak_floors(cfg))
            m.speed = speed
            n_events += len(detect_motion(m, cfg))
            n_segments += len(roughness_segments(m, cfg))
            det_wall += time.perf_counter() - w
            det_cpu += time.process_time() - c
    hours = reps * sum(hours_each)
    print(f"drive-hours: {hours:.0f} at 100 Hz, events: {n_events}, road segments: {n_segments}")
    for name, det, base in (("wall", det_wall, base_wall), ("cpu", det_cpu, base_cpu)):
        print(
            f"{name}: detection {det:.1f} s = {hours / det:.0f} drive-hours/s/core, "
            f"real-time factor {hours * 3600 / det:,.0f}x; one NumPy pass {base:.2f} s; "
            f"detection = {det / base:.1f} passes"
        )


if __name__ == "__main__":
    main()
