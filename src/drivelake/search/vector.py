"""Nearest-neighbour search over an ``embeddings_<dim>`` table: exact when small, indexed when big.

Search runs in process over the table's vectors held in memory, one copy per process and table
version (:func:`searcher`), because a Lance vector query pays a fixed ~3.5 ms of planning and
execution from Python even on a 1,000-row table (measured with pylance 14), which caps it far
below an in-memory index. Queries are answered in batches (:func:`search_vectors`): one matrix
product against the partition centroids, then one per probed partition for all the queries
that probe it.

Below :data:`INDEX_MIN_ROWS` vectors a search is exact (every row is scored). From there on the
table gets an IVF index trained on its own vectors (spherical k-means, ~sqrt(rows)
partitions) and stored beside the table (``_vector_index/<table>.ivf.lance``: each row id's
partition, and the centroids) so that processes load it instead of retraining. Embeddings
carry most of their energy in a few directions, so the index may scan the probed partitions
projected onto the leading principal directions (``basis``: a quarter or half of the width,
a copy that many times smaller than the vectors) and rerank the best candidates
(:data:`RERANK_PER_HIT` per result) by their exact scores: results and scores are exact dot
products, only the candidate set is approximate. Probes and scanned width are *tuned on the
data*, not taken from defaults: a sample of the table's own vectors is searched exactly and
through the index; for each width the probes are raised until recall@10 reaches
:data:`TARGET_RECALL`, and the cheapest pair wins; the choice and its recall are stored in the
table's config.

``maintain_index`` keeps the index current after writes: new rows are assigned to their
nearest centroid (rows missing from the stored assignment are also assigned on load), and the
index is retrained when the table has doubled since it was trained.

Filtered search stays correct: a filter that leaves few rows is answered exactly over those
rows; a broader one searches the index with the filtered-out rows masked and more probes, and
any query that then has fewer than ``k`` hits is answered exactly over the filtered rows.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import lance

    from drivelake.lake import Lake

INDEX_MIN_ROWS = 100_000
#: Filters leaving at most this many rows are answered exactly over them.
EXACT_MAX_ROWS = 50_000
TARGET_RECALL = 0.97
TUNE_QUERIES = 200
INDEX_NAME = "vector_idx"
_CONFIG_KEY = "drivelake.vector_search"
#: Probed partitions tried in order, cheapest first, until the recall target is met.
_LADDER = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256]
_KMEANS_ITERATIONS = 10
_KMEANS_SAMPLE_PER_PARTITION = 48
#: Candidates reranked by exact score per result asked for (at least RERANK_MIN), when the
#: index scans projected vectors.
RERANK_PER_HIT = 4
RERANK_MIN = 40
#: The candidate scan keeps width/4, width/2 or the whole width (at least 32 dimensions),
#: chosen by measured recall and cost.
_DIMS_DIVISORS = (4, 2, 1)
_PCA_SAMPLE = 50_000
_BLOCK = 65_536  # rows per block when scoring a table or assigning partitions
_CHUNK = 256  # queries per worker chunk in a batch
_MIN_PER_THREAD = 32  # a batch is split over threads only when each gets this many queries
_THREADS = min(os.cpu_count() or 1, 8)
RESULT_COLUMNS = ["key", "source", "drive_id", "t_s", "text"]


def _config(ds: lance.LanceDataset) -> dict | None:
    raw = ds.config().get(_CONFIG_KEY)
    config = json.loads(raw) if raw else None
    return config if config and config.get("kind") == "ivf_flat" else None


def _index_uri(ds_uri: str, part: str) -> str:
    parent, _, name = ds_uri.rstrip("/").rpartition("/")
    return f"{parent}/_vector_index/{name.removesuffix('.lance')}.{part}.lance"


def index_params(rows: int, dim: int) -> dict:
    """IVF build parameters for a table of ``rows`` vectors of width ``dim``.

    ~sqrt(rows) partitions balances the two halves of a query's work: scoring the centroids
    and scoring the rows of the probed partitions.
    """
    return {"num_partitions": int(min(4096, max(16, math.sqrt(rows))))}


def _matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    dim = array.type.list_size
    return array.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


_BLAS: list = []


def _blas_libraries() -> list:
    """The process's BLAS thread controls (threadpoolctl's, found once; [] without it)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional: without it BLAS threads just compete a little
            _BLAS.append([])
        else:
            _BLAS.append(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _BLAS[0]


@contextmanager
def _blas_single() -> Iterator[None]:
    """Keep BLAS to one thread while our own threads split a batch (no oversubscription).

    Set directly on the libraries: a threadpoolctl ``limit`` rescans them on every call,
    which costs more than a whole single-query search.
    """
    libraries = _blas_libraries()
    before = [lib.get_num_threads() for lib in libraries]
    for lib in libraries:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, threads in zip(libraries, before, strict=True):
            lib.set_num_threads(threads)


def _pad(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows widened to ``k`` with -1 / -inf, so that the caller sees a short row as short."""
    if positions.shape[1] >= k:
        return positions, scores
    pad = ((0, 0), (0, k - positions.shape[1]))
    return np.pad(positions, pad, constant_values=-1), np.pad(scores, pad, constant_values=-np.inf)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of each row's ``k`` best scores, best first."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.empty((len(scores), 0), np.int64), np.empty((len(scores), 0), np.float32)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else None
    if top is None:
        top = np.broadcast_to(np.arange(k), scores.shape).copy()
    values = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, axis=1)


class Searcher:
    """One table version's vectors in memory, sorted by IVF partition, with the result columns.

    ``vectors`` are the stored vectors (exact scores, reranking, filtered exact search);
    ``coarse`` is what the index scans for candidates: the same rows projected onto the
    table's ``dims`` leading principal directions (a few times fewer bytes to read per query),
    or ``vectors`` itself when the index keeps every dimension.
    """

    def __init__(
        self, ds: lance.LanceDataset, config: dict | None = None, data: pa.Table | None = None
    ) -> None:
        self.uri = ds.uri
        self.version = ds.version
        self.config = config or _config(ds)
        if data is None:
            data = ds.to_table(columns=[*RESULT_COLUMNS, "vector"], with_row_id=True)
        vectors = np.ascontiguousarray(_matrix(data.column("vector")), dtype=np.float32)
        row_ids = data.column("_rowid").to_numpy()
        self.dim = int(ds.schema.field("vector").type.list_size)
        self.unassigned = 0
        self.basis: np.ndarray | None = None  # principal directions (dim, dims), if projected
        if self.config is not None:
            centroids, assignment, self.basis = _load_index(ds.uri, self.config)
            partition = _lookup(assignment, row_ids)
            missing = partition < 0
            self.unassigned = int(missing.sum())
            if self.unassigned:
                partition[missing] = assign(vectors[missing], centroids)
            order = np.argsort(partition, kind="stable")
            self.centroids = centroids
            self.partition = partition[order]
            self.offsets = np.searchsorted(self.partition, np.arange(len(centroids) + 1))
        else:  # exact: one partition holding every row
            order = np.arange(len(vectors))
            self.centroids = None
            self.offsets = np.array([0, len(vectors)])
            self.partition = np.zeros(len(vectors), np.int32)
        indexed = self.config is not None
        self.row_ids = row_ids[order] if indexed else row_ids
        self.vectors = vectors[order] if indexed else vectors
        del vectors
        meta = data.drop_columns(["vector", "_rowid"])
        self.meta = meta.take(order) if indexed else meta
        self.nprobes = self.config["nprobes"] if indexed else 1
        self.project(self.basis)
        self._filters: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.row_ids)

    def project(self, basis: np.ndarray | None) -> None:
        """Scan candidates in the span of ``basis`` (None: in the full vectors)."""
        self.basis = basis
        if basis is None:
            self.coarse, self.coarse_centroids = self.vectors, self.centroids
            return
        self.coarse = np.empty((len(self), basis.shape[1]), np.float32)
        for lo in range(0, len(self), _BLOCK):
            np.matmul(self.vectors[lo : lo + _BLOCK], basis, out=self.coarse[lo : lo + _BLOCK])
        self.coarse_centroids = np.ascontiguousarray(self.centroids @ basis)

    # ------------------------------------------------------------------ filters

    def rows_where(self, ds: lance.LanceDataset, where: str) -> tuple:
        """(positions, their vectors if few) of the rows matching a Lance SQL predicate.

        Cached per predicate: searches repeat the same model/source filters.
        """
        with self._lock:
            if where in self._filters:
                self._filters.move_to_end(where)
                return self._filters[where]
        ids = ds.to_table(columns=[], with_row_id=True, filter=where).column("_rowid").to_numpy()
        sorter = np.argsort(self.row_ids)
        at = np.searchsorted(self.row_ids, ids, sorter=sorter)
        at = np.clip(at, 0, len(sorter) - 1) if len(sorter) else at
        found = sorter[at[self.row_ids[sorter[at]] == ids]] if len(sorter) else at
        positions = np.sort(found)
        if len(positions) == len(self):
            result = (None, None)
        elif len(positions) <= EXACT_MAX_ROWS:
            result = (positions, self.vectors[positions])
        else:
            result = (positions, None)
        with self._lock:
            self._filters[where] = result
            while len(self._filters) > 16:
                self._filters.popitem(last=False)
        return result

    def rows_with_keys(self, keys: set[str]) -> np.ndarray:
        hit = pc.is_in(self.meta.column("key"), value_set=pa.array(sorted(keys), pa.string()))
        return np.flatnonzero(hit.to_numpy(zero_copy_only=False))

    # ------------------------------------------------------------------ search

    def search(
        self,
        queries: np.ndarray,
        k: int,
        rows: np.ndarray | None = None,
        *,
        rows_vectors: np.ndarray | None = None,
        nprobes: int | None = None,
        threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores), each (len(queries), k), best first; -1 / -inf pad short rows.

        ``rows`` restricts the search to these positions (a filter's result), whose vectors
        ``rows_vectors`` may already hold.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        threads = max(1, min(threads or _THREADS, -(-len(queries) // _MIN_PER_THREAD)))
        size = min(_CHUNK, -(-len(queries) // threads))
        chunks = [queries[i : i + size] for i in range(0, len(queries), size)]
        with _blas_single():  # small products: BLAS threads cost more than they give
            if threads > 1:
                with ThreadPoolExecutor(threads) as pool:
                    parts = list(
                        pool.map(lambda q: self._search(q, k, rows, rows_vectors, nprobes), chunks)
                    )
            else:
                parts = [self._search(q, k, rows, rows_vectors, nprobes) for q in chunks]
        if not parts:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _search(self, queries, k, rows, rows_vectors, nprobes):
        n = len(self)
        if rows is not None and (self.centroids is None or len(rows) <= EXACT_MAX_ROWS):
            return self._exact(queries, k, rows, rows_vectors)
        if self.centroids is None:
            return self._exact(queries, k, None)
        mask = None
        probes = nprobes or self.nprobes
        if rows is not None:
            mask = np.zeros(n, bool)
            mask[rows] = True
            probes = int(min(len(self.centroids), probes * min(8, math.ceil(n / len(rows)))))
        positions, scores = self._ivf(queries, k, probes, mask)
        short = np.flatnonzero(positions[:, -1] < 0) if positions.shape[1] else []
        if len(short):  # never too few, under a filter above all
            positions[short], scores[short] = self._exact(queries[short], k, rows, rows_vectors)
        return positions, scores

    def _exact(self, queries, k, rows, rows_vectors=None):
        if rows is None:
            vectors = self.vectors
        else:
            vectors = self.vectors[rows] if rows_vectors is None else rows_vectors
        best_p = np.full((len(queries), k), -1, np.int64)
        best_s = np.full((len(queries), k), -np.inf, np.float32)
        for lo in range(0, len(vectors), _BLOCK):
            scores = queries @ vectors[lo : lo + _BLOCK].T
            cols, values = _top_k(scores, k)
            cand_p = np.concatenate([best_p, cols + lo], axis=1)
            cand_s = np.concatenate([best_s, values], axis=1)
            top, best_s = _top_k(cand_s, k)
            best_p = np.take_along_axis(cand_p, top, axis=1)
        if rows is not None:
            best_p = np.where(best_p >= 0, rows[np.maximum(best_p, 0)], -1)
        return best_p, best_s

    def _ivf(self, queries, k, nprobes, mask):
        """Candidates by coarse score in the probed partitions, then exact scores for the best."""
        nprobes = min(nprobes, len(self.centroids))
        coarse = queries if self.basis is None else queries @ self.basis
        width = k if self.basis is None else max(k * RERANK_PER_HIT, RERANK_MIN)
        centroid_scores = coarse @ self.coarse_centroids.T
        if nprobes == 1:
            probes = np.argmax(centroid_scores, axis=1)[:, None]
        else:
            probes = np.argpartition(-centroid_scores, nprobes - 1, axis=1)[:, :nprobes]
        if len(queries) == 1:
            return self._ivf_one(queries[0], coarse[0], k, width, probes[0], mask)
        cand_p, cand_s = self._probe_many(coarse, width, probes, mask)
        if self.basis is not None:  # rerank the candidates by their exact scores
            gathered = self.vectors[np.maximum(cand_p, 0)]
            exact = np.matmul(gathered, queries[:, :, None])[:, :, 0]
            cand_s = np.where(np.isfinite(cand_s), exact, -np.inf).astype(np.float32)
        top, scores = _top_k(cand_s, k)
        positions = np.take_along_axis(cand_p, top, axis=1)
        positions[~np.isfinite(scores)] = -1
        return _pad(positions, scores, k)

    def _probe_many(self, coarse, width, probes, mask):
        """Per query, its ``width`` best rows by coarse score: one product per probed partition
        for all the queries that probe it."""
        nq, nprobes = probes.shape
        cand_p = np.full((nq, nprobes * width), -1, np.int64)
        cand_s = np.full((nq, nprobes * width), -np.inf, np.float32)
        query_of = np.repeat(np.arange(nq), nprobes)
        slot_of = np.tile(np.arange(nprobes) * width, nq)
        part_of = probes.reshape(-1)
        order = np.argsort(part_of, kind="stable")
        query_of, slot_of, part_of = query_of[order], slot_of[order], part_of[order]
        starts = np.flatnonzero(np.r_[True, part_of[1:] != part_of[:-1]])
        ends = np.r_[starts[1:], len(part_of)]
        offsets, rows, span = self.offsets, self.coarse, np.arange(width)
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            p = part_of[a]
            lo, hi = offsets[p], offsets[p + 1]
            if hi == lo:
                continue
            qs = query_of[a:b]
            scores = coarse[qs] @ rows[lo:hi].T
            if mask is not None:
                scores[:, ~mask[lo:hi]] = -np.inf
            if hi - lo > width:  # unsorted best: the merge below sorts
                cols = np.argpartition(-scores, width - 1, axis=1)[:, :width]
                values = np.take_along_axis(scores, cols, axis=1)
                slots = slot_of[a:b, None] + span
            else:
                cols, values = np.broadcast_to(np.arange(hi - lo), scores.shape), scores
                slots = slot_of[a:b, None] + span[: hi - lo]
            cand_p[qs[:, None], slots] = cols + lo
            cand_s[qs[:, None], slots] = values
        if nprobes > 1:
            top, cand_s = _top_k(cand_s, width)
            cand_p = np.take_along_axis(cand_p, top, axis=1)
        return cand_p, cand_s

    def _ivf_one(self, query, coarse, k, width, probes, mask):
        """One query, in one dimension throughout (a user's search: call overhead counts)."""
        offsets, rows = self.offsets, self.coarse
        ranges = [(offsets[p], offsets[p + 1]) for p in probes.tolist()]
        if len(ranges) == 1:  # the common case: no concatenation
            lo, hi = ranges[0]
            scores, positions = rows[lo:hi] @ coarse, np.arange(lo, hi)
        else:
            scores = np.concatenate([rows[lo:hi] @ coarse for lo, hi in ranges])
            positions = np.concatenate([np.arange(lo, hi) for lo, hi in ranges])
        if mask is not None:
            scores[~mask[positions]] = -np.inf
        if len(scores) > width:
            best = np.argpartition(scores, -width)[-width:]
            scores, positions = scores[best], positions[best]
        if self.basis is not None:  # rerank the candidates by their exact scores
            exact = self.vectors[positions] @ query
            scores = np.where(np.isfinite(scores), exact, -np.inf).astype(np.float32)
        order = np.argsort(-scores, kind="stable")[:k]
        positions, scores = positions[order], scores[order]
        positions[~np.isfinite(scores)] = -1
        return _pad(positions[None], scores[None], k)

    def table(self, positions: np.ndarray, scores: np.ndarray) -> pa.Table:
        """Result rows (query, result columns, score) for valid positions, best first per query."""
        valid = positions >= 0
        rows = self.meta.take(positions[valid])
        query = pa.array(np.nonzero(valid)[0].astype(np.int32))
        score = pa.array(scores[valid], pa.float32())
        return rows.add_column(0, "query", query).append_column("score", score)


# ---------------------------------------------------------------------- cache

_SEARCHERS: dict[str, Searcher] = {}
_SEARCHERS_LOCK = threading.Lock()


def searcher(ds: lance.LanceDataset) -> Searcher:
    """This process's in-memory searcher of ``ds``'s version (loaded once per version)."""
    with _SEARCHERS_LOCK:
        cached = _SEARCHERS.get(ds.uri)
        if cached is not None and cached.version == ds.version:
            return cached
        loaded = Searcher(ds)
        _SEARCHERS[ds.uri] = loaded  # the previous version's copy is released
        return loaded


def search_vectors(
    ds: lance.LanceDataset,
    queries: np.ndarray,
    k: int,
    *,
    where: str | None = None,
    allowed: set[str] | None = None,
    threads: int | None = None,
) -> pa.Table:
    """The ``k`` rows most similar to each of ``queries`` (cosine), as one Arrow table.

    Columns: ``query`` (the query's row in ``queries``), the result columns and ``score``,
    best first within each query. ``where`` is a Lance SQL predicate over the table's columns
    (model, source, ...); ``allowed`` restricts results to these keys.
    """
    found = searcher(ds)
    rows, rows_vectors = found.rows_where(ds, where) if where else (None, None)
    if allowed is not None:
        keyed = found.rows_with_keys(allowed)
        rows = keyed if rows is None else np.intersect1d(rows, keyed, assume_unique=True)
        rows_vectors = None
    queries = np.asarray(queries, dtype=np.float32).reshape(-1, found.dim)
    if rows is not None and not len(rows):
        return found.table(np.full((len(queries), 0), -1), np.empty((len(queries), 0)))
    positions, scores = found.search(queries, k, rows, rows_vectors=rows_vectors, threads=threads)
    return found.table(positions, scores)


def nearest(
    ds: lance.LanceDataset,
    query: np.ndarray,
    k: int,
    *,
    where: str | None = None,
    allowed: set[str] | None = None,
) -> pa.Table:
    """The ``k`` rows most similar to ``query`` (cosine) with a ``score`` column, best first."""
    result = search_vectors(ds, np.asarray(query).reshape(1, -1), k, where=where, allowed=allowed)
    return result.drop_columns(["query"])


# ---------------------------------------------------------------------- index


def assign(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid (by dot product), in blocks."""
    out = np.empty(len(vectors), np.int32)
    for lo in range(0, len(vectors), _BLOCK):
        out[lo : lo + _BLOCK] = np.argmax(vectors[lo : lo + _BLOCK] @ centroids.T, axis=1)
    return out


def train_centroids(vectors: np.ndarray, partitions: int, seed: int = 0) -> np.ndarray:
    """Spherical k-means on a sample: unit centroids, empty clusters re-seeded."""
    rng = np.random.default_rng(seed)
    size = min(len(vectors), partitions * _KMEANS_SAMPLE_PER_PARTITION)
    sample = vectors[np.sort(rng.choice(len(vectors), size, replace=False))]
    centroids = sample[rng.choice(size, partitions, replace=False)].copy()
    for _ in range(_KMEANS_ITERATIONS):
        labels = assign(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, sample)
        empty = np.bincount(labels, minlength=partitions) == 0
        sums[empty] = sample[rng.choice(size, int(empty.sum()))]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def _lookup(assignment: tuple[np.ndarray, np.ndarray], row_ids: np.ndarray) -> np.ndarray:
    """Partition of each row id from the stored (sorted row ids, partitions); -1 if absent."""
    stored_ids, stored_parts = assignment
    out = np.full(len(row_ids), -1, np.int32)
    if not len(stored_ids):
        return out
    at = np.clip(np.searchsorted(stored_ids, row_ids), 0, len(stored_ids) - 1)
    hit = stored_ids[at] == row_ids
    out[hit] = stored_parts[at[hit]]
    return out


def principal_directions(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """The vectors' principal directions (columns, most energy first), from a sample.

    Uncentred: the leading directions are those that carry most of the dot products.
    """
    rng = np.random.default_rng(seed)
    size = min(len(vectors), _PCA_SAMPLE)
    sample = vectors[np.sort(rng.choice(len(vectors), size, replace=False))].astype(np.float64)
    _, directions = np.linalg.eigh(sample.T @ sample)
    return np.ascontiguousarray(directions[:, ::-1], dtype=np.float32)


def _vector_table(matrix: np.ndarray) -> pa.Table:
    flat = pa.array(np.ascontiguousarray(matrix, np.float32).reshape(-1))
    return pa.table({"vector": pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])})


def _load_index(uri: str, config: dict) -> tuple[np.ndarray, tuple, np.ndarray | None]:
    """(centroids, (sorted row ids, partitions), basis of the candidate scan or None)."""
    import lance

    def matrix(part: str) -> np.ndarray:
        table = lance.dataset(_index_uri(uri, part)).to_table(columns=["vector"])
        return np.ascontiguousarray(_matrix(table.column("vector")), np.float32)

    centroids = matrix("centroids")
    projected = config.get("dims", centroids.shape[1]) < centroids.shape[1]
    basis = matrix("basis").T.copy() if projected else None
    table = lance.dataset(_index_uri(uri, "ivf")).to_table()
    ids = table.column("row_id").to_numpy()
    parts = table.column("partition").to_numpy()
    order = np.argsort(ids)
    return centroids, (ids[order], parts[order]), basis


def _save_index(uri: str, centroids: np.ndarray, row_ids: np.ndarray, partition: np.ndarray):
    import lance

    lance.write_dataset(_vector_table(centroids), _index_uri(uri, "centroids"), mode="overwrite")
    lance.write_dataset(
        pa.table({"row_id": pa.array(row_ids, pa.uint64()), "partition": pa.array(partition)}),
        _index_uri(uri, "ivf"),
        mode="overwrite",
        max_rows_per_file=1 << 30,
    )


def _save_basis(uri: str, basis: np.ndarray) -> None:
    import lance

    lance.write_dataset(_vector_table(basis.T), _index_uri(uri, "basis"), mode="overwrite")


def maintain_index(lake: Lake, table: str, *, force: bool = False) -> dict | None:
    """Build, extend or retrain the table's vector index as its size requires.

    Returns the tuned search config (None while the table is searched exactly).
    """
    ds = lake.dataset(table)
    if ds is None:
        return None
    rows = ds.count_rows()
    config = _config(ds)
    if rows < INDEX_MIN_ROWS and not force and config is None:
        return None
    if config is None or rows >= 2 * config["trained_rows"]:
        data = ds.to_table(columns=[*RESULT_COLUMNS, "vector"], with_row_id=True)
        vectors = np.ascontiguousarray(_matrix(data.column("vector")), dtype=np.float32)
        dim = vectors.shape[1]
        centroids = train_centroids(vectors, index_params(rows, dim)["num_partitions"])
        _save_index(ds.uri, centroids, data.column("_rowid").to_numpy(), assign(vectors, centroids))
        directions = principal_directions(vectors)
        del vectors
        config = {"kind": "ivf_flat", "partitions": len(centroids), "nprobes": 1, "dims": dim}
        found = Searcher(ds, config, data)
        del data
        config = {
            **config,
            **_tune(found, directions),
            "trained_rows": rows,
            "indexed_rows": len(found),
        }
        if found.basis is not None:
            _save_basis(ds.uri, found.basis)
        _commit_config(ds, config, found)
        return config
    found = searcher(ds)
    if found.unassigned or len(found) != config.get("indexed_rows"):  # fold new rows in
        _save_index(ds.uri, found.centroids, found.row_ids, found.partition)
        config = {**config, "indexed_rows": len(found)}
        _commit_config(ds, config, found)
    return config


def _commit_config(ds: lance.LanceDataset, config: dict, found: Searcher) -> None:
    """Store the config; the loaded searcher stays valid for the version this commit makes."""
    import lance

    before = ds.version
    ds.update_config({_CONFIG_KEY: json.dumps(config)})
    after = lance.dataset(ds.uri).version
    found.config, found.nprobes = config, config["nprobes"]
    with _SEARCHERS_LOCK:
        if after == before + 1:  # nothing else committed between: same rows
            found.version = after
            _SEARCHERS[ds.uri] = found
        else:
            _SEARCHERS.pop(ds.uri, None)


def _tune(found: Searcher, directions: np.ndarray) -> dict:
    """Choose probes and scanned dimensions by measured recall@10 of the table's own vectors.

    For each candidate width of the candidate scan, the fewest probes that reach
    :data:`TARGET_RECALL` (self excluded); of those, the cheapest by rows x dimensions read
    per query. ``found`` is left searching with the choice.
    """
    rng = np.random.default_rng(0)
    sample = rng.choice(len(found), size=min(TUNE_QUERIES, len(found)), replace=False)
    queries = found.vectors[sample]
    truth, _ = found._exact(queries, 11, None)
    truth_sets = [set(t) - {s} for t, s in zip(truth.tolist(), sample.tolist(), strict=True)]
    partitions, rows_per_partition = len(found.centroids), len(found) / len(found.centroids)
    best: tuple | None = None
    for dims in sorted({max(min(found.dim, 32), found.dim // f) for f in _DIMS_DIVISORS}):
        found.project(None if dims == found.dim else directions[:, :dims])
        for nprobes in _LADDER:
            nprobes = min(nprobes, partitions)
            got, _ = found.search(queries, 11, nprobes=nprobes)
            hits = sum(
                len(t & (set(g) - {s}))
                for t, g, s in zip(truth_sets, got.tolist(), sample.tolist(), strict=True)
            )
            recall = hits / max(1, sum(len(t) for t in truth_sets))
            if recall >= TARGET_RECALL or nprobes >= partitions:
                break
        cost = dims * (partitions + nprobes * rows_per_partition)
        if dims < found.dim:
            cost += max(11 * RERANK_PER_HIT, RERANK_MIN) * found.dim
        met = recall >= TARGET_RECALL
        key = (not met, cost if met else -recall)
        if best is None or key < best[0]:
            best = (key, {"nprobes": nprobes, "dims": dims, "recall": round(recall, 4)})
    chosen = best[1]
    found.project(None if chosen["dims"] == found.dim else directions[:, : chosen["dims"]])
    found.nprobes = chosen["nprobes"]
    return chosen
