"""Enrichment overhead: ``enrich`` vs the bare model forward over the same decoded frames.

A CLIP ViT-B/32-sized model (random weights from its config: the architecture, not the
checkpoint, sets the cost) embeds frames of the real shared video. The baseline is the model's
own ``embed_images`` over the same batches, already decoded; ``enrich`` additionally reads the
frames from the lake, decodes their JPEG thumbnails, and commits vectors and log rows per batch.
Target: enrich time <= 1.15x the bare forward. Both run in this process with fixed threads.

    python bench/bench_enrich.py [--frames 128] [--batch 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
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
    args = parser.parse_args()

    import torch

    import drivelake
    from drivelake.models import load_model
    from drivelake.models.enrich import decode_thumbnails, enrich

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-enrich-"))
    folder = clip_b32(work / "clip")
    lake = drivelake.open(work / "lake")
    frames = frames_table(VIDEO, args.frames)
    lake.append("frames", frames)
    thumbs = frames.column("thumbnail").to_pylist()
    batches = [
        decode_thumbnails(thumbs[i : i + args.batch]) for i in range(0, len(thumbs), args.batch)
    ]
    model = load_model(str(folder), threads=args.threads)

    def bare() -> float:
        start = time.perf_counter()
        for images in batches:
            model.embed_images(images)
        return time.perf_counter() - start

    first = bare()
    report = enrich(lake, str(folder), batch=args.batch, jobs=args.threads)
    bare_s = min(first, bare())  # before and after enrich: the better of two, to be fair to it
    model.close()
    # enrich's time includes loading the model; count only the run itself
    load_start = time.perf_counter()
    load_model(str(folder), threads=args.threads).close()
    load_s = time.perf_counter() - load_start
    run_s = report.seconds - load_s
    print(f"frames={args.frames} batch={args.batch} threads={args.threads} model=ViT-B/32 CLIP")
    print(f"bare forward: {bare_s:.2f} s ({args.frames / bare_s:.1f} frames/s)")
    print(f"enrich: {run_s:.2f} s ({args.frames / run_s:.1f} frames/s), model load {load_s:.1f} s")
    print(f"ratio enrich/bare: {run_s / bare_s:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
