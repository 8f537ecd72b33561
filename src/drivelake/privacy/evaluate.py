"""Recall and precision of redaction against hand-labelled boxes.

What matters for privacy is whether a labelled face or plate ended up hidden, not whether a box
matched it tightly, so a label counts as **recalled** when at least ``covered`` (80 %) of its area
lies inside redacted boxes (any of them, after padding). A redacted box is **correct** when it and
a label of the same kind mostly overlap (their intersection is at least half of the smaller one).

    python -m drivelake.privacy.evaluate tests/data/privacy_labels.json --shared ../shared/data
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivelake.privacy.boxes import Box, intersection

COVERED = 0.8
LABELS = ("face", "plate")


@dataclass
class LabelledImage:
    name: str
    image: np.ndarray
    boxes: list[Box]


@dataclass
class Score:
    """Counts for one label kind over a set of images."""

    label: str
    labelled: int = 0
    recalled: int = 0
    detections: int = 0
    correct: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.recalled / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.detections if self.detections else 1.0


def covered_fraction(label: Box, redacted: Sequence[Box]) -> float:
    """Fraction of ``label``'s pixels inside the union of ``redacted``."""
    x0, y0, x1, y1 = label.pixels()
    mask = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1)), dtype=bool)
    for box in redacted:
        bx0, by0, bx1, by1 = box.pixels()
        mask[max(by0 - y0, 0) : max(by1 - y0, 0), max(bx0 - x0, 0) : max(bx1 - x0, 0)] = True
    return float(mask.mean())


def score(label: str, images: Sequence[LabelledImage], redacted: Sequence[Sequence[Box]]) -> Score:
    """Recall and precision for ``label`` given the redacted boxes of each image."""
    result = Score(label)
    for image, boxes in zip(images, redacted, strict=True):
        truth = [b for b in image.boxes if b.label == label]
        mine = [b for b in boxes if b.label == label]
        result.labelled += len(truth)
        for t in truth:
            if covered_fraction(t, mine) >= COVERED:
                result.recalled += 1
            else:
                result.missed.append(f"{image.name} {t.pixels()}")
        result.detections += len(mine)
        result.correct += sum(
            any(intersection(m, t) >= 0.5 * min(m.area, t.area) for t in truth) for m in mine
        )
    return result


def load_labels(path: str | Path, shared_root: str | Path) -> list[LabelledImage]:
    """The labelled images of ``path`` (see tests/data/privacy_labels.json), loaded as RGB."""
    from PIL import Image

    spec = json.loads(Path(path).read_text())
    images = []
    for item in spec["images"]:
        name = item["path"]
        if item["source"] == "skimage":
            import skimage.data

            pixels = getattr(skimage.data, item["path"])()
        elif "frame" in item:
            pixels = video_frame(Path(shared_root) / item["path"], item["frame"])
            name = f"{name}#{item['frame']}"
        else:
            with Image.open(Path(shared_root) / item["path"]) as im:
                pixels = np.asarray(im.convert("RGB"))
        boxes = [Box(*b["box"], label=b["label"]) for b in item["boxes"]]
        images.append(LabelledImage(name, pixels, boxes))
    return images


def video_frame(path: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` (0-based, in decoding order) of a video as RGB: labelled frames are named
    by index so the labels need no copy of the pixels."""
    import av

    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{path} has fewer than {index + 1} frames")


def report(images: Sequence[LabelledImage], redacted: Sequence[Sequence[Box]]) -> list[str]:
    """Lines of recall and precision per frame (for the kinds labelled there), then overall."""
    lines = []
    for image, boxes in zip(images, redacted, strict=True):
        height, width = image.image.shape[:2]
        area = sum(b.clipped(width, height).area for b in boxes) / (height * width)
        kinds = [
            _summary(score(label, [image], [boxes]))
            for label in LABELS
            if any(b.label == label for b in image.boxes)
        ]
        lines.append(
            f"{image.name}: {'; '.join(kinds) or 'nothing labelled'}; "
            f"{len(boxes)} regions, at most {area:.1%} of the frame redacted"
        )
    lines += [f"overall {_summary(score(label, images, redacted))}" for label in LABELS]
    return lines


def _summary(s: Score) -> str:
    return (
        f"{s.label} recall {s.recall:.2f} ({s.recalled}/{s.labelled}), "
        f"precision {s.precision:.2f} ({s.correct}/{s.detections})"
        + (f", missed {s.missed}" if s.missed else "")
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print recall and precision of the default anonymiser on a label file."""
    import argparse

    from drivelake.privacy.anonymize import Anonymizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels")
    parser.add_argument("--shared", default="../shared/data")
    args = parser.parse_args(argv)
    images = load_labels(args.labels, args.shared)
    anonymizer = Anonymizer()
    print("\n".join(report(images, [anonymizer.boxes(image.image) for image in images])))


if __name__ == "__main__":
    main()
