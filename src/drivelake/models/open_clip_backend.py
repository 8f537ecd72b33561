"""open_clip backend (optional): ``open_clip:ARCH/PRETRAINED`` or a local checkpoint folder.

open_clip needs torchvision, which has no build matching the CPU torch this project pins (see
MODELS.md), so it is never part of the default install; without it the error says how to get it.
A local folder holds ``open_clip_config.json`` (``{"model": "ViT-B-32"}``) and the weights file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drivelake.errors import ModelError
from drivelake.models.base import IMAGE_EMBEDDING, Model, import_torch, normalise, rgb
from drivelake.models.locate import content_revision, missing
from drivelake.models.spec import ModelSpec

if TYPE_CHECKING:
    from PIL.Image import Image

_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin", "model.pt")


class OpenClipModel(Model):
    def __init__(self, spec: ModelSpec) -> None:
        self._torch = import_torch(str(spec))
        try:
            import open_clip
        except Exception as exc:  # ImportError, or torchvision's operator errors on import
            raise ModelError(
                f"{spec}: the open_clip backend needs open_clip_torch and a torchvision that "
                "matches torch (`pip install open_clip_torch torchvision`); or use an hf: "
                f"CLIP/SigLIP model, which needs neither ({exc.__class__.__name__})"
            ) from exc
        if spec.local_path is not None:
            arch, pretrained, revision = _local_checkpoint(spec.local_path)
        else:
            arch, _, pretrained = spec.name.partition("/")
            revision = spec.revision or pretrained
        try:
            self.net, _, self.preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=pretrained or None
            )
        except Exception as exc:  # open_clip raises RuntimeError/OSError/hub errors
            raise missing(
                spec, [f"open_clip's pretrained cache ({exc.__class__.__name__})"]
            ) from exc
        self.net.eval()
        self.tokenizer = open_clip.get_tokenizer(arch)
        dim = int(self.net.text_projection.shape[-1])
        super().__init__(str(spec), revision, frozenset({IMAGE_EMBEDDING}), dim)

    def embed_images(self, images: list[Image]) -> np.ndarray:
        batch = self._torch.stack([self.preprocess(im) for im in rgb(images)])
        with self._torch.inference_mode():
            return normalise(self.net.encode_image(batch).float().numpy())

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            return normalise(self.net.encode_text(self.tokenizer(list(texts))).float().numpy())


def _local_checkpoint(folder: Path) -> tuple[str, str, str]:
    config = json.loads((folder / "open_clip_config.json").read_text())
    arch = config.get("model") or config.get("model_name")
    weights = next((folder / w for w in _WEIGHTS if (folder / w).exists()), None)
    if not arch or weights is None:
        raise ModelError(
            f"{folder}: an open_clip folder needs open_clip_config.json naming the model and one "
            f"of {', '.join(_WEIGHTS)}"
        )
    return arch, str(weights), content_revision(folder)
