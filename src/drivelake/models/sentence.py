"""sentence-transformers backend: text embeddings for tags, notes, captions and queries."""

from __future__ import annotations

import numpy as np

from drivelake.errors import ModelError
from drivelake.models.base import TEXT_EMBEDDING, Model, import_torch, normalise
from drivelake.models.locate import locate
from drivelake.models.spec import ModelSpec


class SentenceModel(Model):
    """A sentence-transformers model, loaded from a local folder, a package or the cache."""

    def __init__(self, spec: ModelSpec) -> None:
        import_torch(str(spec))
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                f"{spec}: needs sentence-transformers; `pip install 'drivelake[models]'`"
            ) from exc
        # short names (all-MiniLM-L6-v2) live under sentence-transformers/ on the hub
        hub_name = spec.name if "/" in spec.name else f"sentence-transformers/{spec.name}"
        located = locate(spec, hub_name=hub_name)
        try:
            self.net = SentenceTransformer(str(located.path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{spec}: cannot load from {located.path}: {exc}") from exc
        # renamed in sentence-transformers 6; the old name still works, with a warning
        width = getattr(self.net, "get_embedding_dimension", None)
        dim = width() if width else self.net.get_sentence_embedding_dimension()
        super().__init__(str(spec), located.revision, frozenset({TEXT_EMBEDDING}), dim)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        vectors = self.net.encode(list(texts), batch_size=64, show_progress_bar=False)
        return normalise(vectors)
