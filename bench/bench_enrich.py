"""Enrichment overhead: ``enrich`` vs the bare model forward over the same decoded frames.

A CLIP ViT-B/32-sized model (random weights from its config: the architecture, not the
checkpoint, sets the cost) embeds frames of the real shared video. The baseline is the model's
own ``embed_images`` over the same batches, already decoded; ``enrich`` additionally reads the
frames from the lake, decodes their JPEG thumbnails, and commits vectors and log rows per batch.
Target: enrich time <= 1.15x the bare forward. Both run in this process with fixed threads and
the same model object, warmed by one untimed batch first; the arms are interleaved (bare,
enrich, bare, enrich, ...) and each gets its best run. Model loading is outside both arms.
Besides wall time, each run's process CPU time (every thread: torch, decode, Lance, DuckDB) is
reported: on a shared machine it moves far less with other jobs' load than wall time does.

    python bench/bench_enrich.py [--frames 128] [--batch 32] [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "solidWhiteRight.mp4"


def frames_table(video: Path, count: int) -> pa.Table:
    """Every sampled frame of the video (looping if needed) as frames rows with thumbnails."""
    import av

    rows = []
    while len(rows) < count:
        with av.open(str(video)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                image = frame.to_image()
                image.thumbnail((320, 320))
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=80)
                n = len(rows)
                rows.append(
                    {
                        "frame_id": f"f{n}",
                        "drive_id": "bench",
                        "video_id": "v",
                        "frame_index": index,
                        "t_s": n / 25,
                        "thumbnail": buffer.getvalue(),
                    }
                )
                if len(rows) == count:
                    break
    from drivelake import schema

    return pa.Table.from_pylist(rows, schema=schema.TABLES["frames"])


def clip_b32(folder: Path) -> Path:
    """A ViT-B/32 CLIP (vision 768x12, text 512x12, 512-d projection) with random weights."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from model_builders import tiny_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(folder)
    config = CLIPConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 512, "num_hidden_layers": 12},
        vision_config={"hidden_size": 768, "num_hidden_layers": 12, "patch_size": 32},
        projection_dim=512,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="enrich runs, interleaved")
    args = parser.parse_args()

    import torch

    import drivelake
    from drivelake.models import load_model
    from drivelake.models.enrich import decode_thumbnails, enrich

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-enrich-"))
    folder = clip_b32(work / "clip")
    frames = frames_table(VIDEO, args.frames)
    lakes = []
    for r in range(args.repeat):  # one fresh lake per enrich run (enrich is incremental)
        lakes.append(drivelake.open(work / f"lake{r}"))
        lakes[-1].append("frames", frames)
    thumbs = frames.column("thumbnail").to_pylist()
    start = time.perf_counter()
    batches = [
        decode_thumbnails(thumbs[i : i + args.batch]) for i in range(0, len(thumbs), args.batch)
    ]
    decode_s = time.perf_counter() - start
    load_start = time.perf_counter()
    model = load_model(str(folder), threads=args.threads)
    load_s = time.perf_counter() - load_start
    model.embed_images(batches[0])  # warm-up, untimed: both arms then use the warm model

    def timed(work) -> tuple[float, float]:
        """(wall seconds, process CPU seconds) of one run."""
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        return time.perf_counter() - wall, time.process_time() - cpu

    def bare() -> None:
        for images in batches:
            model.embed_images(images)

    def enrich_into(lake) -> None:
        report = enrich(lake, str(folder), batch=args.batch, jobs=args.threads, model=model)
        assert report.items == args.frames

    bare_timed, enrich_timed = [timed(bare)], []
    for lake in lakes:  # interleaved, so drifts in machine load hit both arms alike
        enrich_timed.append(timed(lambda lake=lake: enrich_into(lake)))
        bare_timed.append(timed(bare))
    model.close()
    bare_runs, enrich_runs = [t[0] for t in bare_timed], [t[0] for t in enrich_timed]
    bare_cpu, enrich_cpu = [t[1] for t in bare_timed], [t[1] for t in enrich_timed]
    bare_s, run_s = min(bare_runs), min(enrich_runs)
    print(f"frames={args.frames} batch={args.batch} threads={args.threads} model=ViT-B/32 CLIP")
    print(
        f"model load {load_s:.1f} s (outside both arms); JPEG decode of all frames {decode_s:.2f} s"
    )
    print(f"bare forward runs: {', '.join(f'{t:.2f}' for t in bare_runs)} s")
    print(f"enrich runs: {', '.join(f'{t:.2f}' for t in enrich_runs)} s")
    print(f"bare forward (best): {bare_s:.2f} s ({args.frames / bare_s:.1f} frames/s)")
    print(f"enrich (best): {run_s:.2f} s ({args.frames / run_s:.1f} frames/s)")
    print(f"ratio enrich/bare (best of each): {run_s / bare_s:.3f} (target <= 1.15)")
    median = statistics.median(enrich_runs) / statistics.median(bare_runs)
    print(f"ratio enrich/bare (medians): {median:.3f}")
    print(f"bare CPU seconds: {', '.join(f'{t:.2f}' for t in bare_cpu)}")
    print(f"enrich CPU seconds: {', '.join(f'{t:.2f}' for t in enrich_cpu)}")
    cpu_ratio = statistics.median(enrich_cpu) / statistics.median(bare_cpu)
    print(f"ratio enrich/bare CPU time (medians): {cpu_ratio:.3f}")
    print(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
