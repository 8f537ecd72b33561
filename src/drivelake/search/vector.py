"""Nearest-neighbour search over an ``embeddings_<dim>`` table: exact when small, indexed when big.

Below :data:`INDEX_MIN_ROWS` vectors a search is exact (a matrix product over the model's
vectors). From there on the table gets a Lance IVF-PQ index whose search parameters are *tuned
on the data*, not taken from defaults: a sample of the table's own vectors is searched exactly
and through the index, and the number of probed partitions and the exact re-ranking factor are
raised until recall@10 reaches :data:`TARGET_RECALL`; the result is stored in the table's
config, so every process searches with it. Index defaults can be far off (recall@10 0.16 was
measured with IVF-PQ's default probes), which is why recall is measured rather than assumed.

``maintain_index`` keeps the index current after writes: new rows are folded in
incrementally, and the index is retrained when the table has doubled since it was trained.

Filtered search stays correct: a filter that leaves few rows is answered exactly over those
rows; a broader one prefilters inside the index, and if that returns fewer than ``k`` rows the
search falls back to an exact scan of the filtered rows rather than returning too few.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import lance

    from drivelake.lake import Lake

INDEX_MIN_ROWS = 100_000
#: Filters leaving at most this many rows are answered exactly over them.
EXACT_MAX_ROWS = 50_000
TARGET_RECALL = 0.97
TUNE_QUERIES = 100
INDEX_NAME = "vector_idx"
_CONFIG_KEY = "drivelake.vector_search"
#: (nprobes, refine_factor) tried in order, cheapest first, until the recall target is met.
_LADDER = [(8, 2), (16, 4), (32, 4), (32, 8), (64, 8), (96, 10), (128, 16), (256, 20)]
_SCAN_BATCH = 65_536


def _config(ds: lance.LanceDataset) -> dict | None:
    raw = ds.config().get(_CONFIG_KEY)
    return json.loads(raw) if raw else None


def _has_index(ds: lance.LanceDataset) -> bool:
    return any(i.name == INDEX_NAME for i in ds.describe_indices())


def index_params(rows: int, dim: int) -> dict:
    """IVF-PQ build parameters for a table of ``rows`` vectors of width ``dim``.

    ~sqrt(rows) partitions keeps both the centroid search and the partition scans short; PQ
    with dim/8 sub-vectors keeps codes at 1 byte per 8 dimensions, and the exact re-ranking of
    ``refine_factor`` x k candidates recovers what the compression loses.
    """
    sub_vectors = max(1, dim // 8)
    while dim % sub_vectors:
        sub_vectors -= 1
    return {"num_partitions": max(16, int(math.sqrt(rows))), "num_sub_vectors": sub_vectors}


def maintain_index(lake: Lake, table: str, *, force: bool = False) -> dict | None:
    """Build, extend or retrain the table's vector index as its size requires.

    Returns the tuned search config (None while the table is searched exactly).
    """
    ds = lake.dataset(table)
    if ds is None:
        return None
    rows = ds.count_rows()
    config = _config(ds)
    if rows < INDEX_MIN_ROWS and not force:
        return None
    if not _has_index(ds) or config is None or rows >= 2 * config["trained_rows"]:
        dim = ds.schema.field("vector").type.list_size
        ds.create_index(
            "vector",
            "IVF_PQ",
            name=INDEX_NAME,
            metric="dot",
            replace=True,
            **index_params(rows, dim),
        )
        return _tune(lake, table, rows)
    if ds.stats.index_stats(INDEX_NAME).get("num_unindexed_rows", 0):
        ds.optimize.optimize_indices(index_names=[INDEX_NAME])
    return config


def _tune(lake: Lake, table: str, rows: int) -> dict:
    """Choose (nprobes, refine_factor) by measured recall@10 on the table's own vectors."""
    ds = lake.dataset(table)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(rows, size=min(TUNE_QUERIES, rows), replace=False))
    queries = _matrix(ds.take(sample, columns=["vector"]).column("vector"))
    truth = [set(t) for t in _exact_ids(ds, queries, 10)]
    chosen = {"nprobes": _LADDER[-1][0], "refine_factor": _LADDER[-1][1], "recall": None}
    for nprobes, refine in _LADDER:
        found = 0
        for q, expected in zip(queries, truth, strict=True):
            result = ds.to_table(
                columns=[],
                with_row_id=True,
                nearest={
                    "column": "vector",
                    "q": q,
                    "k": 10,
                    "nprobes": nprobes,
                    "refine_factor": refine,
                },
            )
            found += len(expected & set(result.column("_rowid").to_pylist()))
        recall = found / (10 * len(queries))
        chosen = {"nprobes": nprobes, "refine_factor": refine, "recall": recall}
        if recall >= TARGET_RECALL:
            break
    chosen["trained_rows"] = rows
    ds.update_config({_CONFIG_KEY: json.dumps(chosen)})
    return chosen


def _matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    dim = array.type.list_size
    return array.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


def _exact_ids(ds: lance.LanceDataset, queries: np.ndarray, k: int) -> list[list[int]]:
    """Row ids of the exact top-k of each query (a full scan in batches)."""
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for batch in ds.to_batches(columns=["vector"], with_row_id=True, batch_size=_SCAN_BATCH):
        scores = queries @ _matrix(batch.column("vector")).T
        all_scores = np.concatenate([best, scores], axis=1)
        all_ids = np.concatenate(
            [ids, np.broadcast_to(batch.column("_rowid").to_numpy(), scores.shape)], axis=1
        )
        top = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(all_scores, top, axis=1)
        ids = np.take_along_axis(all_ids, top, axis=1)
    return ids.tolist()


RESULT_COLUMNS = ["key", "source", "drive_id", "t_s", "text"]


def nearest(
    ds: lance.LanceDataset,
    query: np.ndarray,
    k: int,
    *,
    where: str | None = None,
    allowed: set[str] | None = None,
) -> pa.Table:
    """The ``k`` rows most similar to ``query`` (cosine) with a ``score`` column, best first.

    ``where`` is a Lance SQL predicate over the table's columns (model, source, ...);
    ``allowed`` restricts results to these keys (e.g. frames passing a context filter).
    """
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    if allowed is not None:
        if not allowed:
            return _empty(ds)
        if len(allowed) <= EXACT_MAX_ROWS:
            listed = ", ".join("'" + a.replace("'", "''") + "'" for a in sorted(allowed))
            return _exact(ds, query, k, _and(where, f"key IN ({listed})"))
    config = _config(ds) if _has_index(ds) else None
    if config is None:
        return _exact(ds, query, k, where, allowed)
    if where and allowed is None and ds.count_rows(filter=where) <= EXACT_MAX_ROWS:
        return _exact(ds, query, k, where)
    # over-fetch when post-filtering by `allowed`, in proportion to how much it removes
    total = ds.count_rows()
    fetch = k if allowed is None else min(total, k * max(2, 2 * total // len(allowed)))
    result = ds.to_table(
        columns=RESULT_COLUMNS,
        filter=where,
        prefilter=True,
        nearest={
            "column": "vector",
            "q": query,
            "k": fetch,
            "nprobes": config["nprobes"],
            "refine_factor": config["refine_factor"],
        },
    )
    result = _scored(result)
    if allowed is not None:
        mask = pa.array([key in allowed for key in result.column("key").to_pylist()])
        result = result.filter(mask)
    if result.num_rows < k:  # an index can miss rows under a selective filter: never too few
        return _exact(ds, query, k, where, allowed)
    return result.slice(0, k)


def _and(a: str | None, b: str) -> str:
    return f"({a}) AND ({b})" if a else b


def _scored(result: pa.Table) -> pa.Table:
    """Lance's dot ``_distance`` is 1 - cosine for unit vectors; report the cosine."""
    score = pa.array(1.0 - result.column("_distance").to_numpy(), type=pa.float32())
    return result.drop_columns(["_distance"]).append_column("score", score)


def _empty(ds: lance.LanceDataset) -> pa.Table:
    schema = ds.schema
    return (
        pa.schema([schema.field(c) for c in RESULT_COLUMNS])
        .empty_table()
        .append_column("score", pa.array([], type=pa.float32()))
    )


def _exact(
    ds: lance.LanceDataset,
    query: np.ndarray,
    k: int,
    where: str | None,
    allowed: set[str] | None = None,
) -> pa.Table:
    """Exact top-k by a batched scan of the matching rows (never misses one)."""
    keep: list[pa.Table] = []
    for batch in ds.to_batches(
        columns=[*RESULT_COLUMNS, "vector"], filter=where, batch_size=_SCAN_BATCH
    ):
        table = pa.Table.from_batches([batch])
        if allowed is not None:
            mask = pa.array([key in allowed for key in table.column("key").to_pylist()])
            table = table.filter(mask)
        if not table.num_rows:
            continue
        scores = _matrix(table.column("vector")) @ query
        top = np.argsort(-scores)[:k]
        keep.append(
            table.drop_columns(["vector"])
            .take(top)
            .append_column("score", pa.array(scores[top], type=pa.float32()))
        )
    if not keep:
        return _empty(ds)
    merged = pa.concat_tables(keep)
    order = np.argsort(-merged.column("score").to_numpy())[:k]
    return merged.take(order)
