"""Anonymisation throughput at 1280x720 against the bare detector networks on the same frames.

    .venv/bin/python bench/bench_anonymize.py [--frames 5] [--threads 2]

Three timings per frame, all in this process with the same thread count:
  forward    the three detectors' own work on ready-made inputs: CenterFace and the PP-OCR text
             detector (``session.run`` on input tensors), and the plate blob detector (OpenCV
             MSER ``detectRegions`` on the upscaled grey rows where plates can be), which finds
             the plates too small for the text net and is as much a detector as the networks
  detect     the detectors end to end (pre/post-processing, plate proposals and tests, merging)
  anonymize  detect + padding + redaction (what ``drivelake anonymize`` does per frame)
The overhead ratio is anonymize / forward; the target is <= 1.2x. Also printed: anonymize over
the two networks alone (without MSER), for comparison with earlier runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from drivelake.privacy.anonymize import Anonymizer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "comma2k19"


def frames(count: int) -> list[np.ndarray]:
    """Real dashcam frames at 1280x720 when the shared data is there, else a real photo tiled."""
    import cv2

    previews = sorted(SHARED.glob("*/*/preview.png"))
    if previews:
        base = cv2.cvtColor(cv2.imread(str(previews[0])), cv2.COLOR_BGR2RGB)
    else:
        import skimage.data

        base = np.tile(skimage.data.astronaut(), (2, 3, 1))
    base = cv2.resize(base, (1280, 720), interpolation=cv2.INTER_AREA)
    # small shifts so no two frames are identical
    return [np.roll(base, 7 * i, axis=1) for i in range(count)]


def blob_input(plates, image: np.ndarray):
    """The plate blob detector's MSER and the rows it runs on for ``image``, as it prepares them."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    top = plates.shape.highest_row(plates.horizon.estimate(gray), image.shape[1])
    return plates.blobs.mser(gray, top)


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    anonymizer = Anonymizer(threads=args.threads)
    face, plates = anonymizer.detectors
    text = plates.text
    images = frames(args.frames)
    face_input = np.zeros((1, 3, 736, 1280), np.float32)
    text_input = np.zeros((1, 3, 736, 1312), np.float32)  # what TextRegions feeds it for 720p

    mser_inputs = [blob_input(plates, image) for image in images]

    def networks(_image: np.ndarray) -> None:
        face.session.run(None, {"input.1": face_input})
        text.session.run(None, {text.input: text_input})

    def forward(i: int) -> None:
        networks(images[i])
        mser, gray = mser_inputs[i]
        mser.detectRegions(gray)

    anonymizer(images[0])  # warm-up: first runs allocate
    t_networks = timed(networks, images)
    t_forward = timed(forward, range(len(images)))
    t_detect = timed(anonymizer.boxes, images)
    t_anonymize = timed(anonymizer, images)
    print(f"1280x720, {args.frames} frames, {args.threads} threads")
    print(f"  networks  {1 / t_networks:6.2f} frames/s  ({t_networks * 1e3:7.1f} ms)")
    print(f"  forward   {1 / t_forward:6.2f} frames/s  ({t_forward * 1e3:7.1f} ms)")
    print(f"  detect    {1 / t_detect:6.2f} frames/s  ({t_detect * 1e3:7.1f} ms)")
    print(f"  anonymize {1 / t_anonymize:6.2f} frames/s  ({t_anonymize * 1e3:7.1f} ms)")
    print(f"  overhead anonymize/forward {t_anonymize / t_forward:.2f}x")
    print(f"  overhead anonymize/detect  {t_anonymize / t_detect:.2f}x")
    print(f"  anonymize/networks alone   {t_anonymize / t_networks:.2f}x")


if __name__ == "__main__":
    main()
