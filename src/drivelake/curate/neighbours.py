"""Members' embeddings and their nearest neighbours: the basis of dedup and rarity.

Embeddings come from the lake's ``embeddings_<dim>`` tables (rows with ``source = 'frame'``,
unit vectors, so cosine similarity is a dot product). A member without an embedding of the
chosen model has none here; callers decide what that means (dedup keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from drivelake.errors import NotFoundError

if TYPE_CHECKING:
    from drivelake.lake import Lake

_BLOCK = 4096  # rows per similarity block: bounds memory at _BLOCK x n floats


@dataclass(frozen=True)
class Embeddings:
    model: str
    revision: str
    keys: list[str]  # frame ids, in the order of ``vectors``' rows
    vectors: np.ndarray  # (n, dim) float32, unit length


def frame_embeddings(lake: Lake, frame_ids: list[str], model: str | None = None) -> Embeddings:
    """The vectors of ``frame_ids`` from one model (the one covering most of them by default)."""
    tables = [t for t in lake.table_names() if t.startswith("embeddings_")]
    wanted = set(frame_ids)
    best: Embeddings | None = None
    for table in tables:
        ds = lake.dataset(table)
        assert ds is not None
        data = ds.to_table(
            columns=["key", "model", "revision", "vector"], filter="source = 'frame'"
        )
        keys = data.column("key").to_pylist()
        models = data.column("model").to_pylist()
        revisions = data.column("revision").to_pylist()
        for name in sorted(set(models)):
            if model is not None and name != model:
                continue
            rows = [i for i, (k, m) in enumerate(zip(keys, models, strict=True)) if m == name]
            rows = [i for i in rows if keys[i] in wanted]
            if best is not None and len(rows) <= len(best.keys):
                continue
            vectors = data.column("vector").take(rows).combine_chunks().flatten().to_numpy()
            best = Embeddings(
                name,
                revisions[rows[0]] if rows else "",
                [keys[i] for i in rows],
                vectors.reshape(len(rows), -1).astype(np.float32),
            )
    if best is None or not best.keys:
        which = f"of model {model!r} " if model else ""
        raise NotFoundError(
            f"no frame embeddings {which}for these members in {lake.uri} "
            "(run `drivelake enrich --model SPEC` first)"
        )
    return best


def knn_distances(vectors: np.ndarray, k: int) -> np.ndarray:
    """Cosine distances (1 - similarity) to each row's ``k`` nearest other rows, ascending."""
    n = len(vectors)
    k = max(1, min(k, n - 1))
    out = np.empty((n, k), np.float32)
    for lo in range(0, n, _BLOCK):
        sim = vectors[lo : lo + _BLOCK] @ vectors.T
        np.fill_diagonal(sim[:, lo : lo + _BLOCK], -np.inf)
        top = -np.partition(-sim, k - 1, axis=1)[:, :k]
        out[lo : lo + _BLOCK] = np.sort(1.0 - top, axis=1)
    return out


def uniqueness(vectors: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean distance to the ``k`` nearest neighbours: high for the rare, low for the common."""
    if len(vectors) < 2:
        return np.ones(len(vectors), np.float32)
    return knn_distances(vectors, k).mean(axis=1)
