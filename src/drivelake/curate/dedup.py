"""Near-duplicate removal: by embedding similarity, and by time proximity within a drive.

Greedy and deterministic: members are visited best first (highest search score, then member
id) and a member is dropped when a kept one is too similar (cosine similarity at or above the
threshold) or is a frame of the same drive less than ``min_gap_s`` away. Members without an
embedding are judged by time alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from drivelake.curate.neighbours import Embeddings


@dataclass(frozen=True)
class DedupResult:
    members: pa.Table
    by_similarity: int
    by_time: int


def dedup(
    members: pa.Table,
    embeddings: Embeddings | None,
    *,
    threshold: float = 0.95,
    min_gap_s: float = 0.0,
) -> DedupResult:
    rows = members.select(["member_id", "kind", "drive_id", "t_s", "score"]).to_pylist()
    order = sorted(
        range(len(rows)), key=lambda i: (-(rows[i]["score"] or 0.0), rows[i]["member_id"])
    )
    vector_of: dict[str, int] = {}
    if embeddings is not None:
        vector_of = {k: i for i, k in enumerate(embeddings.keys)}
    dim = embeddings.vectors.shape[1] if embeddings is not None else 0
    kept_vectors = np.empty((len(rows), dim), np.float32)
    n_vectors = 0
    kept_times: dict[str, list[float]] = {}
    kept, by_similarity, by_time = [], 0, 0
    for i in order:
        row = rows[i]
        t = row["t_s"] if row["kind"] == "frame" else None
        if t is not None and min_gap_s > 0:
            near = kept_times.get(row["drive_id"], [])
            if any(abs(t - other) < min_gap_s for other in near):
                by_time += 1
                continue
        v = vector_of.get(row["member_id"])
        if v is not None:
            vector = embeddings.vectors[v]  # type: ignore[union-attr]
            if n_vectors and float(np.max(kept_vectors[:n_vectors] @ vector)) >= threshold:
                by_similarity += 1
                continue
            kept_vectors[n_vectors] = vector
            n_vectors += 1
        if t is not None:
            kept_times.setdefault(row["drive_id"], []).append(t)
        kept.append(i)
    return DedupResult(members.take(sorted(kept)), by_similarity, by_time)
