"""Blur or pixelate boxes in an image.

Both are irreversible at the strengths used here: the blur kernel spans half the box with a wide
sigma, and pixelation leaves at most ``blocks`` cells across the box's short side, too few for
characters or facial features to survive.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np

from drivelake.privacy.boxes import Box


class Mode(StrEnum):
    blur = "blur"
    pixelate = "pixelate"


def redact(
    image: np.ndarray, boxes: Iterable[Box], mode: Mode | str = Mode.blur, blocks: int = 4
) -> np.ndarray:
    """A copy of ``image`` (HxWxC uint8) with every box blurred or pixelated."""
    import cv2

    mode = Mode(mode)
    out = image.copy()
    height, width = image.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = box.clipped(width, height).pixels()
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        patch = out[y0:y1, x0:x1]
        h, w = patch.shape[:2]
        if mode is Mode.blur:
            kernel = max(3, (max(h, w) // 2) | 1)
            sigma = kernel / 2  # wider than OpenCV's default: flat enough to erase characters
            patch[:] = cv2.GaussianBlur(
                patch, (kernel, kernel), sigma, borderType=cv2.BORDER_REPLICATE
            )
        else:
            cell = max(1, min(h, w) // blocks)
            small = cv2.resize(
                patch, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA
            )
            patch[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return out
