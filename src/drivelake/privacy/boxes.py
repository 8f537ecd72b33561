"""Boxes and the detector interface every anonymisation backend implements.

A detector is anything with ``detect(image) -> list[Box]`` on an RGB ``uint8`` array; that is the
whole contract, so the model registry can wrap these backends and users can plug in their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels (x0, y0 inclusive; x1, y1 exclusive) with a score and label."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    label: str = ""

    @property
    def width(self) -> float:
        return max(0.0, self.x1 - self.x0)

    @property
    def height(self) -> float:
        return max(0.0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        return self.width * self.height

    def scaled(self, sx: float, sy: float | None = None, dx: float = 0.0, dy: float = 0.0) -> Box:
        """This box in another image's pixels: multiplied by (sx, sy), then shifted by (dx, dy)."""
        sy = sx if sy is None else sy
        return replace(
            self,
            x0=self.x0 * sx + dx,
            y0=self.y0 * sy + dy,
            x1=self.x1 * sx + dx,
            y1=self.y1 * sy + dy,
        )

    def padded(self, fraction: float, min_px: float = 0.0) -> Box:
        """Grown on every side by ``fraction`` of its size (at least ``min_px``): detectors draw
        tight boxes, and hair, ears or a plate frame outside them still identify."""
        px = max(self.width * fraction, min_px)
        py = max(self.height * fraction, min_px)
        return replace(self, x0=self.x0 - px, y0=self.y0 - py, x1=self.x1 + px, y1=self.y1 + py)

    def clipped(self, width: int, height: int) -> Box:
        return replace(
            self,
            x0=min(max(self.x0, 0.0), width),
            y0=min(max(self.y0, 0.0), height),
            x1=min(max(self.x1, 0.0), width),
            y1=min(max(self.y1, 0.0), height),
        )

    def pixels(self) -> tuple[int, int, int, int]:
        """Integer pixel bounds that contain the whole box (rounded outwards)."""
        return (
            int(np.floor(self.x0)),
            int(np.floor(self.y0)),
            int(np.ceil(self.x1)),
            int(np.ceil(self.y1)),
        )


@runtime_checkable
class Detector(Protocol):
    """A face, plate or other detector: ``detect`` takes an RGB uint8 HxWx3 array."""

    name: str

    def detect(self, image: np.ndarray) -> list[Box]: ...


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def intersection(a: Box, b: Box) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, w) * max(0.0, h)


def nms(boxes: Sequence[Box], threshold: float = 0.3) -> list[Box]:
    """Greedy non-maximum suppression, best score first; also drops a box mostly inside a kept one
    (multi-scale passes find the same object at several sizes)."""
    if not boxes:
        return []
    xy = np.array([(b.x0, b.y0, b.x1, b.y1) for b in boxes], dtype=np.float64)
    areas = np.maximum(xy[:, 2] - xy[:, 0], 0) * np.maximum(xy[:, 3] - xy[:, 1], 0)
    order = np.argsort([-b.score for b in boxes], kind="stable")
    keep: list[int] = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.minimum(xy[i, 2], xy[rest, 2]) - np.maximum(xy[i, 0], xy[rest, 0])
        h = np.minimum(xy[i, 3], xy[rest, 3]) - np.maximum(xy[i, 1], xy[rest, 1])
        inter = np.maximum(w, 0) * np.maximum(h, 0)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        inside = inter / np.maximum(areas[rest], 1e-9)
        order = rest[(overlap < threshold) & (inside < 0.9)]
    return [boxes[i] for i in keep]


def tiles(height: int, width: int, size: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) windows of at most ``size`` pixels covering the image, neighbours sharing
    ``overlap`` pixels so an object cut by one tile's edge is whole in the next."""
    step = max(size - overlap, 1)
    ys = _starts(height, size, step)
    xs = _starts(width, size, step)
    for y in ys:
        for x in xs:
            yield x, y, min(x + size, width), min(y + size, height)


def _starts(length: int, size: int, step: int) -> list[int]:
    if length <= size:
        return [0]
    starts = list(range(0, length - size, step))
    starts.append(length - size)
    return starts


def merge_touching(
    boxes: Sequence[Box], gap: float = 2.0, growth: float = 2.0, max_width: float = np.inf
) -> list[Box]:
    """Boxes within ``gap`` pixels of each other replaced by their bounding box, repeatedly,
    unless that would be wider than ``max_width`` or ``growth`` times the wider of the two: the
    pieces of one object (MSER levels, text fragments) become one region, and one region is one
    redaction, without chaining neighbouring objects into one wide box.

    Each box is tested against every region kept so far at once (their corners in one array):
    a frame's plate proposals number in the thousands, too many for a pairwise Python loop."""
    merged = [*boxes]
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        corners = np.empty((len(merged), 4))  # x0, y0, x1, y1 of out's boxes
        for box in merged:
            kept = corners[: len(out)]
            x0, y0 = np.minimum(kept[:, 0], box.x0), np.minimum(kept[:, 1], box.y0)
            x1, y1 = np.maximum(kept[:, 2], box.x1), np.maximum(kept[:, 3], box.y1)
            touching = (
                np.minimum(kept[:, 2], box.x1 + gap) > np.maximum(kept[:, 0], box.x0 - gap)
            ) & (np.minimum(kept[:, 3], box.y1 + gap) > np.maximum(kept[:, 1], box.y0 - gap))
            wider = np.maximum(np.maximum(kept[:, 2] - kept[:, 0], 0.0), box.width)
            fits = np.maximum(x1 - x0, 0.0) <= np.minimum(max_width, growth * wider)
            hits = np.flatnonzero(touching & fits)
            if hits.size:
                i = int(hits[0])
                other = out[i]
                union = (float(x0[i]), float(y0[i]), float(x1[i]), float(y1[i]))
                out[i] = Box(*union, max(box.score, other.score), box.label)
                corners[i] = union
                changed = True
            else:
                corners[len(out)] = box.x0, box.y0, box.x1, box.y1
                out.append(box)
        merged = out
    return merged
