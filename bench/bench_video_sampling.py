"""Benchmark: sampling frames from a long 1080p H.264 dashcam video, against the ffmpeg CLI.

Generates (once, cached in the temp dir) a 10-minute 1080p 30 fps H.264 video with the
project's synthetic-video helper (keyframe every second, as dashcams write), then in the same
run times, for each mode:

* ``1fps``: one frame per second as a 320-px JPEG thumbnail — drivelake's sampler vs
  ``ffmpeg -i V -vf fps=1,scale=320:-2 -q:v 5 out/%05d.jpg``;
* ``keyframes``: every keyframe — drivelake with ``skip_frame=NONKEY`` vs
  ``ffmpeg -skip_frame nokey -i V -fps_mode passthrough -vf scale=320:-2 out/%05d.jpg``.

The ratio (drivelake time / ffmpeg time) should be at most 1.2. Thumbnail extraction is also
reported as frames/s per core. The ffmpeg binary is needed for the baseline:
``apt-get install -y ffmpeg`` (Debian/Ubuntu) or ``brew install ffmpeg``.

    .venv/bin/python bench/bench_video_sampling.py [--minutes 10] [--gop-s 1] [--append-docs]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from drivelake.video.probe import probe
from drivelake.video.sampling import SamplingPolicy, sample
from drivelake.video.sync import Placement
from drivelake.video.synth import write_synthetic_video

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def bench_video(minutes: float, gop_s: float, fps: int = 30) -> Path:
    path = Path(tempfile.gettempdir()) / f"drivelake-bench-{minutes:g}min-1080p-gop{gop_s:g}.mp4"
    if not path.exists():
        print(f"generating {path} (once; cached) ...", flush=True)
        partial = path.with_suffix(".partial.mp4")
        write_synthetic_video(
            partial, seconds=minutes * 60, fps=fps, width=1920, height=1080, gop=round(gop_s * fps)
        )
        partial.rename(path)
    return path


def run_ffmpeg(args: list[str]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-v", "error", *args, f"{out}/%05d.jpg"],
            check=True,
            stdin=subprocess.DEVNULL,
        )
        return time.perf_counter() - start, len(os.listdir(out))


def run_drivelake(path: Path, policy: SamplingPolicy) -> tuple[float, int]:
    start = time.perf_counter()
    info = probe(path)
    frames = sample(
        info,
        video_id="bench",
        drive_id="bench",
        placement=Placement(0.0, None, "drive_start"),
        offset_s=0.0,
        telemetry=None,
        policy=policy,
    )
    return time.perf_counter() - start, frames.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--gop-s", type=float, default=1.0, help="keyframe interval (s)")
    parser.add_argument("--append-docs", action="store_true", help=f"append rows to {DOCS}")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit(
            "the ffmpeg binary is needed for the baseline: apt-get install -y ffmpeg"
            " (or brew install ffmpeg)"
        )
    video = bench_video(args.minutes, args.gop_s)
    cores = os.cpu_count() or 1
    modes = {
        "1fps": (
            SamplingPolicy(fps=1.0, event_fps=0),
            ["-i", str(video), "-vf", "fps=1,scale=320:-2", "-q:v", "5"],
        ),
        "keyframes": (
            SamplingPolicy(fps=None, keyframes=True, event_fps=0),
            [
                "-skip_frame",
                "nokey",
                "-i",
                str(video),
                "-fps_mode",
                "passthrough",
                "-vf",
                "scale=320:-2",
                "-q:v",
                "5",
            ],
        ),
    }
    rows = []
    for mode, (policy, ffmpeg_args) in modes.items():
        ours, n_ours = run_drivelake(video, policy)
        theirs, n_theirs = run_ffmpeg(ffmpeg_args)
        rows.append(
            f"| video sampling, {mode}, {args.minutes:g} min 1080p30 H.264, keyframe every "
            f"{args.gop_s:g} s | {ours:.2f} s ({n_ours} thumbnails, {n_ours / ours / cores:.1f} "
            f"frames/s/core) | ffmpeg {theirs:.2f} s ({n_theirs} images) | "
            f"{ours / theirs:.2f}× (target ≤ 1.2×) |"
        )
        print(rows[-1], flush=True)
    if args.append_docs:
        _append(rows, cores)


def _append(rows: list[str], cores: int) -> None:
    header = "| benchmark | drivelake | baseline | ratio |\n|---|---|---|---|\n"
    section = (
        f"\n## Video frame sampling (`bench/bench_video_sampling.py`)\n\n"
        f"Measured on {cores} cores; the baseline is the `ffmpeg` command line in the same run.\n\n"
        + header
        + "\n".join(rows)
        + "\n"
    )
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    if DOCS.exists():
        DOCS.write_text(DOCS.read_text().rstrip("\n") + "\n" + section)
    else:
        DOCS.write_text("# Benchmarks\n" + section)


if __name__ == "__main__":
    main()
