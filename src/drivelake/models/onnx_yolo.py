"""ONNX Runtime backend for YOLO-family detector exports (no torch needed).

Handles the two common output layouts: ``[1, 4 + classes, N]`` (YOLOv8/v11 exports: box centre,
size and one score per class) and ``[1, N, 5 + classes]`` (YOLOv5: with an objectness score).
Frames are letterboxed to the model's input size, boxes mapped back to the frame's pixels and
reduced with per-class non-maximum suppression. Class names come from the export's ``names``
metadata (as Ultralytics writes it) or default to class indices.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import numpy as np

from drivelake.errors import ModelError
from drivelake.models.base import DETECTION, Detection, Model, rgb
from drivelake.models.locate import locate
from drivelake.models.spec import ModelSpec

if TYPE_CHECKING:
    from PIL.Image import Image

SCORE_THRESHOLD = 0.25
IOU_THRESHOLD = 0.45
LETTERBOX_FILL = 114


class OnnxDetector(Model):
    """A YOLO-family ``.onnx`` export run with ONNX Runtime on the CPU."""

    def __init__(self, spec: ModelSpec) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(
                f"{spec}: needs onnxruntime; `pip install 'drivelake[models]'`"
            ) from exc
        located = locate(spec)
        path = located.path
        if path.is_dir():
            files = sorted(path.glob("*.onnx"))
            if len(files) != 1:
                raise ModelError(f"{spec}: expected one .onnx file in {path}, found {len(files)}")
            path = files[0]
        options = ort.SessionOptions()
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{spec}: cannot load ONNX model {path}: {exc}") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        self.names = _class_names(meta.get("names"))
        shape = self.session.get_inputs()[0].shape
        self.size = (
            int(shape[2]) if isinstance(shape[2], int) else 640,
            int(shape[3]) if isinstance(shape[3], int) else 640,
        )
        super().__init__(str(spec), located.revision, frozenset({DETECTION}))

    def detect(self, images: list[Image]) -> list[list[Detection]]:
        results = []
        name = self.session.get_inputs()[0].name
        for image in rgb(images):  # exports usually have a fixed batch of 1
            tensor, scale, pad = letterbox(image, self.size)
            raw = self.session.run(None, {name: tensor})[0][0]
            results.append(self._decode(raw, scale, pad, image.width, image.height))
        return results

    def _decode(
        self, raw: np.ndarray, scale: float, pad: tuple[float, float], width: int, height: int
    ) -> list[Detection]:
        rows = raw.T if raw.shape[0] < raw.shape[1] else raw  # -> [N, 4 + ...]
        if rows.shape[1] - 4 == len(self.names) or not self.names:
            scores = rows[:, 4:]
        else:  # YOLOv5: objectness times class scores
            scores = rows[:, 5:] * rows[:, 4:5]
        labels = scores.argmax(axis=1)
        best = scores[np.arange(len(rows)), labels]
        keep = best >= SCORE_THRESHOLD
        cx, cy, w, h = (rows[keep, i] for i in range(4))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes = (boxes - np.array([pad[0], pad[1], pad[0], pad[1]])) / scale
        boxes = boxes.clip(0, [width, height, width, height])
        labels, best = labels[keep], best[keep]
        return [
            Detection(
                self.names.get(int(labels[i]), str(int(labels[i]))),
                float(best[i]),
                tuple(map(float, boxes[i])),
            )
            for i in nms(boxes, best, labels)
        ]

    def close(self) -> None:
        self.session = None


def letterbox(image: Image, size: tuple[int, int]) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio and pad to ``size`` (h, w); NCHW float32 in [0, 1]."""
    from PIL import Image as PILImage

    h, w = size
    scale = min(w / image.width, h / image.height)
    nw, nh = round(image.width * scale), round(image.height * scale)
    canvas = PILImage.new("RGB", (w, h), (LETTERBOX_FILL,) * 3)
    px, py = (w - nw) // 2, (h - nh) // 2
    canvas.paste(image.resize((nw, nh), PILImage.BILINEAR), (px, py))
    tensor = np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(tensor), scale, (px, py)


def nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> list[int]:
    """Indices kept by per-class non-maximum suppression, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    while len(order):
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = inter / np.maximum(_area(boxes[i]) + _area(boxes[rest]) - inter, 1e-9)
        order = rest[(iou < IOU_THRESHOLD) | (labels[rest] != labels[i])]
    return keep


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _class_names(text: str | None) -> dict[int, str]:
    if not text:
        return {}
    try:
        names = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {}
    return {int(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}
