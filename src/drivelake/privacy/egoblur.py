"""Stronger detectors by path: Meta's EgoBlur face and licence-plate models (Apache-2.0).

EgoBlur ships as TorchScript files (``ego_blur_face.jit``, ``ego_blur_lp.jit``) downloaded from
https://www.projectaria.com/tools/egoblur/ — not from a package index, so they are never a default.
With a file at hand::

    from drivelake.privacy.anonymize import Anonymizer
    from drivelake.privacy.egoblur import EgoBlurDetector

    anonymizer = Anonymizer(
        face_detector=EgoBlurDetector("ego_blur_face.jit", label="face"),
        plate_detector=EgoBlurDetector("ego_blur_lp.jit", label="plate"),
    )

or on the command line ``drivelake anonymize in.mp4 -o out.mp4 --face-model ego_blur_face.jit
--plate-model ego_blur_lp.jit``. torch is imported here only (``pip install torch``; torchvision is
not needed: suppression is done in NumPy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivelake.errors import ModelError
from drivelake.privacy.boxes import Box, nms


class EgoBlurDetector:
    """A TorchScript detector taking a CHW float tensor of 0-255 pixels and returning
    ``(boxes, labels, scores, image_size)`` as EgoBlur's models do."""

    def __init__(
        self,
        path: str | Path,
        label: str,
        threshold: float = 0.5,
        nms_iou: float = 0.3,
        bgr: bool = False,
        device: str | None = None,
    ) -> None:
        try:
            import torch
        except ImportError as exc:
            raise ModelError(
                f"{path}: EgoBlur TorchScript models need torch (pip install torch)"
            ) from exc
        if not Path(path).is_file():
            raise ModelError(
                f"EgoBlur model {path} not found (download it from projectaria.com/tools/egoblur)"
            )
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = torch.jit.load(str(path), map_location=self.device).eval()
        self.name = f"egoblur:{Path(path).name}"
        self.label = label
        self.threshold = threshold
        self.nms_iou = nms_iou
        self.bgr = bgr

    def detect(self, image: np.ndarray) -> list[Box]:
        pixels = image[:, :, ::-1] if self.bgr else image
        tensor = self.torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        with self.torch.inference_mode():
            boxes, _labels, scores, _size = self.model(tensor.to(self.device).float())
        found = [
            Box(*map(float, xyxy), float(score), self.label)
            for xyxy, score in zip(boxes.cpu().numpy(), scores.cpu().numpy(), strict=True)
            if score >= self.threshold
        ]
        return nms(found, self.nms_iou)
