"""Model specs: how a user names a model, and the one parser every command shares.

A spec is ``backend:name[@revision]`` (``hf:google/siglip-base-patch16-224``,
``st:all-MiniLM-L6-v2``, ``open_clip:ViT-B-32/laion2b_s34b_b79k``, ``onnx:/models/yolo.onnx``)
or a bare local path (a saved ``transformers`` / sentence-transformers folder or an ``.onnx``
file), whose backend is read from the files themselves. Parsing never imports a backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from drivelake.errors import ModelError

#: Backends a spec may name, with what each is for.
BACKENDS = {
    "hf": "Hugging Face transformers: CLIP/SigLIP embeddings, DETR/RT-DETR detection, captioning",
    "st": "sentence-transformers text embeddings",
    "open_clip": "open_clip image-text embeddings (needs torchvision)",
    "onnx": "ONNX Runtime, YOLO-family detection exports",
}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: the backend, the model's name or path, and a requested revision."""

    backend: str
    name: str
    revision: str | None = None
    local_path: Path | None = None

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.backend}:{self.name}{rev}"


def parse_spec(spec: str) -> ModelSpec:
    """Parse a spec string; a local path may be given with or without a backend prefix."""
    text = spec.strip()
    if not text:
        raise ModelError("empty model spec; name one like st:all-MiniLM-L6-v2 or a local folder")
    backend, sep, rest = text.partition(":")
    if not sep or backend not in BACKENDS or (len(backend) == 1 and rest.startswith("\\")):
        path = Path(text).expanduser()
        if path.exists():
            return ModelSpec(_backend_of(path), str(path.resolve()), local_path=path.resolve())
        known = ", ".join(BACKENDS)
        raise ModelError(
            f"{text!r}: not a model spec (backend:name with backend one of {known}) "
            "and no such local file or folder"
        )
    name, _, revision = rest.partition("@")
    path = Path(name).expanduser()
    if path.exists():
        return ModelSpec(backend, str(path.resolve()), revision or None, path.resolve())
    if backend == "onnx":
        raise ModelError(f"{text}: ONNX model file {path} not found; pass the path of a .onnx file")
    return ModelSpec(backend, name, revision or None)


def _backend_of(path: Path) -> str:
    """Which backend reads a local model: from its file type or its saved config."""
    if path.is_file():
        if path.suffix == ".onnx":
            return "onnx"
        raise ModelError(f"{path}: a model file must be .onnx; other models are folders")
    if (path / "modules.json").exists() or (path / "config_sentence_transformers.json").exists():
        return "st"
    if (path / "open_clip_config.json").exists():
        return "open_clip"
    if (path / "config.json").exists():
        return "hf"
    if list(path.glob("*.onnx")):
        return "onnx"
    raise ModelError(
        f"{path}: not a model folder (no config.json, modules.json, open_clip_config.json "
        "or .onnx file in it)"
    )


def read_config(path: Path) -> dict:
    """A saved transformers config (empty when the folder has none)."""
    config = path / "config.json"
    return json.loads(config.read_text()) if config.exists() else {}
