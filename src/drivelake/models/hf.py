"""Hugging Face ``transformers`` backend: CLIP/SigLIP embeddings, DETR-family detection, captions.

Images are prepared by the PIL image processors, never the torchvision "fast" ones, so the
default install needs no torchvision (see MODELS.md: no CPU torchvision matches the pinned
torch). What a checkpoint does is read from its config: an object-detection architecture
detects, a vision-to-text one captions, and a model with both towers (CLIP, SigLIP, ...) embeds.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import numpy as np

from drivelake.errors import ModelError
from drivelake.models.base import (
    CAPTION,
    DETECTION,
    IMAGE_EMBEDDING,
    Detection,
    Model,
    import_torch,
    normalise,
    rgb,
)
from drivelake.models.locate import locate
from drivelake.models.spec import ModelSpec, read_config

if TYPE_CHECKING:
    from PIL.Image import Image

#: Minimum score a detection needs to be kept (DETR-family models score every query).
DETECTION_THRESHOLD = 0.3
CAPTION_MAX_TOKENS = 30


def _quiet_transformers():
    """transformers, with its progress bars and fallback warnings off (the CLI has its own)."""
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def task_of(config: dict) -> str:
    """What a saved transformers checkpoint does, from its config.json."""
    architectures = " ".join(config.get("architectures") or [])
    if "ObjectDetection" in architectures:
        return DETECTION
    if config.get("vision_config") and config.get("text_config"):
        if "Generation" in architectures or config.get("model_type") in ("blip", "git"):
            return CAPTION
        return IMAGE_EMBEDDING
    if (
        "VisionEncoderDecoder" in architectures
        or config.get("model_type") == "vision-encoder-decoder"
    ):
        return CAPTION
    raise ModelError(
        f"unsupported transformers model (model_type={config.get('model_type')!r}, "
        f"architectures={architectures or 'none'}): drivelake runs CLIP/SigLIP-style embedders, "
        "object detectors and image-to-text models"
    )


class HFModel(Model):
    """A transformers checkpoint loaded for one task, in eval mode on the CPU (or a GPU)."""

    def __init__(self, spec: ModelSpec) -> None:
        torch = import_torch(str(spec))
        transformers = _quiet_transformers()
        located = locate(spec)
        task = task_of(read_config(located.path))
        loaders = {
            IMAGE_EMBEDDING: (transformers.AutoModel, transformers.AutoProcessor),
            DETECTION: (transformers.AutoModelForObjectDetection, transformers.AutoImageProcessor),
            # images in, tokens out: a VisionEncoderDecoder checkpoint has no joint processor
            CAPTION: (transformers.AutoModelForImageTextToText, transformers.AutoImageProcessor),
        }
        model_cls, processor_cls = loaders[task]
        try:
            self.processor = processor_cls.from_pretrained(located.path, local_files_only=True)
            if task == CAPTION:
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                    located.path, local_files_only=True
                )
            self.net = model_cls.from_pretrained(located.path, local_files_only=True).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"{spec}: cannot load from {located.path}: {exc}") from exc
        self._torch = torch
        dim = None
        if task == IMAGE_EMBEDDING:
            config = self.net.config
            dim = getattr(config, "projection_dim", None) or config.text_config.hidden_size
        super().__init__(str(spec), located.revision, frozenset({task}), dim)

    def _features(self, output) -> np.ndarray:
        # transformers 5 returns an output object; older versions return the tensor itself
        tensor = getattr(output, "pooler_output", output)
        return normalise(tensor.float().cpu().numpy())

    def embed_images(self, images: list[Image]) -> np.ndarray:
        self._check(IMAGE_EMBEDDING)
        inputs = self.processor(images=rgb(images), return_tensors="pt")
        with self._torch.inference_mode():
            return self._features(self.net.get_image_features(**inputs))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self._check(IMAGE_EMBEDDING)
        # SigLIP was trained with max-length padding; CLIP pads to the longest text
        options: dict = {"padding": True}
        if "siglip" in self.net.config.model_type:
            length = self.net.config.text_config.max_position_embeddings
            options = {"padding": "max_length", "max_length": length}
        inputs = self.processor(text=list(texts), return_tensors="pt", truncation=True, **options)
        with self._torch.inference_mode():
            return self._features(self.net.get_text_features(**inputs))

    def detect(self, images: list[Image]) -> list[list[Detection]]:
        self._check(DETECTION)
        images = rgb(images)
        inputs = self.processor(images=images, return_tensors="pt")
        with self._torch.inference_mode():
            outputs = self.net(**inputs)
        sizes = [(im.height, im.width) for im in images]
        results = self.processor.post_process_object_detection(
            outputs, threshold=DETECTION_THRESHOLD, target_sizes=sizes
        )
        names = self.net.config.id2label
        return [
            [
                Detection(
                    names.get(int(label), str(int(label))), float(score), tuple(map(float, box))
                )
                for score, label, box in zip(r["scores"], r["labels"], r["boxes"], strict=True)
            ]
            for r in results
        ]

    def caption(self, images: list[Image]) -> list[str]:
        self._check(CAPTION)
        inputs = self.processor(images=rgb(images), return_tensors="pt")
        with self._torch.inference_mode():
            tokens = self.net.generate(**inputs, max_new_tokens=CAPTION_MAX_TOKENS)
        return [t.strip() for t in self.tokenizer.batch_decode(tokens, skip_special_tokens=True)]

    def _check(self, task: str) -> None:
        if task not in self.tasks:
            raise self._cannot(task)

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            del self.net
