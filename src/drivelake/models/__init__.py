"""Open models over the fleet's data: a registry of backends behind one tiny interface.

``load_model("hf:google/siglip-base-patch16-224")`` (or ``st:...``, ``open_clip:...``,
``onnx:...``, or a local folder) returns a :class:`~drivelake.models.base.Model` with a pinned
``revision`` that every output row records. Backends import their libraries (torch,
transformers, onnxruntime, open_clip) only when loaded, so ``import drivelake`` stays light.
Offline with no weights, loading raises :class:`~drivelake.errors.ModelError` naming the model,
where it looked and how to supply it.
"""

from __future__ import annotations

from collections.abc import Callable

from drivelake.models.base import (
    CAPTION,
    DETECTION,
    IMAGE_EMBEDDING,
    TEXT_EMBEDDING,
    Detection,
    Model,
)
from drivelake.models.spec import ModelSpec, parse_spec

__all__ = [
    "CAPTION",
    "DETECTION",
    "IMAGE_EMBEDDING",
    "TEXT_EMBEDDING",
    "Detection",
    "Model",
    "ModelSpec",
    "load_model",
    "parse_spec",
]


def _hf(spec: ModelSpec) -> Model:
    from drivelake.models.hf import HFModel

    return HFModel(spec)


def _st(spec: ModelSpec) -> Model:
    from drivelake.models.sentence import SentenceModel

    return SentenceModel(spec)


def _open_clip(spec: ModelSpec) -> Model:
    from drivelake.models.open_clip_backend import OpenClipModel

    return OpenClipModel(spec)


def _onnx(spec: ModelSpec) -> Model:
    from drivelake.models.onnx_yolo import OnnxDetector

    return OnnxDetector(spec)


#: Loader of each backend named in :data:`drivelake.models.spec.BACKENDS`.
LOADERS: dict[str, Callable[[ModelSpec], Model]] = {
    "hf": _hf,
    "st": _st,
    "open_clip": _open_clip,
    "onnx": _onnx,
}


def load_model(spec: str | ModelSpec, *, threads: int | None = None) -> Model:
    """Load the model a spec names; ``threads`` caps torch's CPU threads (None: its default)."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if threads:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    return LOADERS[parsed.backend](parsed)
