"""The tiny interface every backend implements, whatever library runs it.

A loaded model says which tasks it can do (``tasks``) and implements only those methods:
image and text embeddings (normalised float32 rows), detections (class, score, box in pixels of
the image given) and captions. Stages and search depend on this interface, never on a library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from drivelake.errors import ModelError

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_EMBEDDING = "image_embedding"  # embed_images + embed_texts in one space (CLIP/SigLIP)
TEXT_EMBEDDING = "text_embedding"  # embed_texts only (sentence models)
DETECTION = "detection"
CAPTION = "caption"


@dataclass(frozen=True)
class Detection:
    """One detected object; the box is (x0, y0, x1, y1) in pixels of the input image."""

    label: str
    score: float
    box: tuple[float, float, float, float]


@dataclass
class Model:
    """A loaded model: its spec string, pinned revision, tasks, and output width if it embeds."""

    spec: str
    revision: str
    tasks: frozenset[str]
    dim: int | None = None

    @property
    def task(self) -> str:
        """The task ``enrich`` runs over frames (images first: a CLIP model embeds frames)."""
        for task in (IMAGE_EMBEDDING, DETECTION, CAPTION, TEXT_EMBEDDING):
            if task in self.tasks:
                return task
        raise ModelError(f"{self.spec}: model has no task drivelake can run")

    def embed_images(self, images: list[Image]) -> np.ndarray:
        raise self._cannot(IMAGE_EMBEDDING)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise self._cannot(TEXT_EMBEDDING)

    def detect(self, images: list[Image]) -> list[list[Detection]]:
        raise self._cannot(DETECTION)

    def caption(self, images: list[Image]) -> list[str]:
        raise self._cannot(CAPTION)

    def close(self) -> None:
        """Release the weights (backends holding sessions or big tensors override this)."""

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _cannot(self, task: str) -> ModelError:
        can = ", ".join(sorted(self.tasks))
        return ModelError(f"{self.spec}: this model does not do {task} (it does: {can})")


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows, so a dot product is the cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def rgb(images: list[Image]) -> list[Image]:
    return [im if im.mode == "RGB" else im.convert("RGB") for im in images]


def import_torch(spec: str):
    """torch, or a ModelError that says how to install the models extra."""
    try:
        import torch
    except ImportError as exc:
        raise ModelError(
            f"{spec}: needs torch and transformers; install them with "
            "`pip install 'drivelake[models]'`"
        ) from exc
    return torch
