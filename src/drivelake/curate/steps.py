"""The curation steps: each reads a dataset's latest members, changes them and commits.

One function per verb of ``drivelake dataset``; each records its parameters (and the model
revisions it relied on) as one recipe entry, so a dataset says how it was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from drivelake.curate import balance as _balance
from drivelake.curate import dedup as _dedup
from drivelake.curate import members as _members
from drivelake.curate import sample as _sample
from drivelake.curate import split as _split
from drivelake.curate.datasets import Dataset
from drivelake.curate.neighbours import frame_embeddings, uniqueness
from drivelake.errors import InputError

if TYPE_CHECKING:
    from drivelake.lake import Lake


def create(
    lake: Lake,
    name: str,
    *,
    event_types: Sequence[str] = (),
    where: str | None = None,
    pad_s: float = 0.0,
    kind: str = "frames",
) -> Dataset:
    """A new dataset of the members that events and/or a SQL predicate select."""
    dataset = Dataset(lake, name)
    step = {"op": "create", "events": list(event_types), "where": where, "pad_s": pad_s}
    step["kind"] = kind
    rows = _members.select(
        lake, kind=kind, event_types=event_types, where=where, pad_s=pad_s, source="create"
    )
    dataset.commit(
        rows, {**step, "models": _members.model_revisions(lake, "detections")}, create=True
    )
    return dataset


def _union(old: pa.Table, new: pa.Table) -> pa.Table:
    """Old members plus new ones not already present (an existing member keeps its row)."""
    present = set(old.column("member_id").to_pylist())
    fresh = new.filter(pa.array([m not in present for m in new.column("member_id").to_pylist()]))
    return pa.concat_tables([old, fresh.cast(old.schema)])


def add(
    dataset: Dataset,
    *,
    event_types: Sequence[str] = (),
    where: str | None = None,
    pad_s: float = 0.0,
    kind: str = "frames",
) -> int:
    """Add members selected as :func:`create` does; returns how many were new."""
    step = {"op": "add", "events": list(event_types), "where": where, "pad_s": pad_s, "kind": kind}
    new = _members.select(
        dataset.lake, kind=kind, event_types=event_types, where=where, pad_s=pad_s, source="add"
    )
    return _commit_union(dataset, new, step)


def add_search(
    dataset: Dataset,
    text: str | None = None,
    *,
    like: str | None = None,
    k: int = 100,
    model: str | None = None,
) -> int:
    """Add the frames of the spans a search (by words, or like a frame) returns."""
    from drivelake.search import search

    spans = search(dataset.lake, text, like=like, k=k, model=model)
    new = _members.frames_in_spans(dataset.lake, spans, source=f"search:{text or like}")
    step = {"op": "add", "search": text, "like": like, "k": k, "model": model}
    step["models"] = _frame_models(dataset.lake)
    return _commit_union(dataset, new, step)


def _frame_models(lake: Lake) -> list[dict[str, str]]:
    """Every (model, revision) with frame embeddings: what a search may have ranked with."""
    tables = [t for t in lake.table_names() if t.startswith("embeddings_")]
    return [m for t in tables for m in _members.model_revisions(lake, t)]


def _commit_union(dataset: Dataset, new: pa.Table, step: dict[str, Any]) -> int:
    old = dataset.members(images=True)
    merged = _union(old, new)
    dataset.commit(merged, step)
    return merged.num_rows - old.num_rows


def _embeddings_step(dataset: Dataset, members: pa.Table, model: str | None):
    frames = [f for f in members.column("frame_id").to_pylist() if f]
    embeddings = frame_embeddings(dataset.lake, frames, model)
    return embeddings, [{"model": embeddings.model, "revision": embeddings.revision}]


def dedup(
    dataset: Dataset,
    *,
    threshold: float = 0.95,
    min_gap_s: float = 0.0,
    model: str | None = None,
    use_embeddings: bool = True,
) -> _dedup.DedupResult:
    """Drop near-duplicates (embedding similarity, time proximity within a drive)."""
    members = dataset.members(images=True)
    embeddings, models = _embeddings_step(dataset, members, model) if use_embeddings else (None, [])
    result = _dedup.dedup(members, embeddings, threshold=threshold, min_gap_s=min_gap_s)
    step = {"op": "dedup", "threshold": threshold, "min_gap_s": min_gap_s, "models": models}
    step |= {"removed_similar": result.by_similarity, "removed_close": result.by_time}
    dataset.commit(result.members, step)
    return result


def score_uniqueness(dataset: Dataset, *, k: int = 5, model: str | None = None) -> pa.Table:
    """Store each member's uniqueness (mean distance to its ``k`` nearest neighbours)."""
    members = dataset.members(images=True)
    embeddings, models = _embeddings_step(dataset, members, model)
    scores = dict(zip(embeddings.keys, uniqueness(embeddings.vectors, k).tolist(), strict=True))
    column = pa.array([scores.get(f) for f in members.column("frame_id").to_pylist()], pa.float32())
    members = members.set_column(members.schema.get_field_index("uniqueness"), "uniqueness", column)
    dataset.commit(members, {"op": "uniqueness", "k": k, "models": models})
    return members


def balance(dataset: Dataset, by: Sequence[str], max_per_group: int, seed: int = 0) -> int:
    """Cap every group of ``by`` at ``max_per_group`` members; returns how many were dropped."""
    members = dataset.members(images=True)
    kept = _balance.balance(members, by, max_per_group, seed)
    step = {"op": "balance", "by": list(by), "max_per_group": max_per_group, "seed": seed}
    dataset.commit(kept, step)
    return members.num_rows - kept.num_rows


def sample(dataset: Dataset, n: int, *, by: Sequence[str] = (), seed: int = 0) -> int:
    """Keep ``n`` members at random (stratified by ``by`` when given)."""
    members = dataset.members(images=True)
    if by:
        kept = _sample.stratified_sample(members, n, by, seed)
    else:
        kept = _sample.random_sample(members, n, seed)
    dataset.commit(kept, {"op": "sample", "n": n, "by": list(by), "seed": seed})
    return kept.num_rows


def split(
    dataset: Dataset,
    by: str,
    ratios: Sequence[float],
    seed: int = 0,
    *,
    cell_deg: float = _split.CELL_DEG,
) -> dict[str, Any]:
    """Assign splits by group and return the leakage report of the result.

    The report's entry for ``by`` is empty by construction; the other groupings (and identical
    content across drives) are reported, not enforced: they tell how far the split generalises.
    """
    members = _split.split(dataset.members(images=True), by, ratios, seed, cell_deg=cell_deg)
    report = _split.leakage(members, cell_deg)
    step = {"op": "split", "by": by, "ratios": list(ratios), "seed": seed, "cell_deg": cell_deg}
    dataset.commit(members, step)
    return report


def ratios_of(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise InputError("--ratios", f"{text!r} is not comma-separated numbers") from exc
    if sum(values) <= 0 or min(values) < 0:
        raise InputError("--ratios", f"{text!r} are not shares with a positive total")
    return values
