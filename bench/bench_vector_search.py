"""Vector search: recall@10 and queries/s of drivelake's tuned index vs FAISS HNSW.

Both search the same normalised vectors on the same machine with the same search thread count
(index builds may use every core; their times are reported). Each is measured two ways: one
query per call (a user's search) and all queries in one call (batch work such as dedup). The
vectors have the structure of real embeddings (a low-rank clustered signal plus noise), since
uniformly random 512-d vectors have no neighbours worth finding. A second pass restricts every
query to 1 % of the rows (one drive in a hundred) and checks that recall holds there too.
The searches run in ``--rounds`` rounds, the two engines alternating within each, so that the
load of a shared machine hits both alike; each round's ratio is reported, then the medians.

    pip install -e '.[models,bench]'               # FAISS, the baseline
    python bench/bench_vector_search.py            # 1 M x 512 (index builds take minutes)
    python bench/bench_vector_search.py --n 200000 --queries 200
    python bench/bench_vector_search.py --cache /tmp/vs   # reuse the lake and FAISS index
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

DIM = 512
DRIVES = 100


def vectors(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    """Clustered vectors: 2000 centres in a 64-d latent space, projected to ``dim`` + noise."""
    basis = np.random.default_rng(42).standard_normal((64, dim)).astype(np.float32)
    centres = np.random.default_rng(43).standard_normal((2000, 64)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        latent = centres[rng.integers(0, 2000, m)] + 0.6 * rng.standard_normal((m, 64))
        x = latent.astype(np.float32) @ basis + 2.4 * rng.standard_normal((m, dim)).astype(
            np.float32
        )
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_top10(data: np.ndarray, queries: np.ndarray, mask: np.ndarray | None = None) -> list:
    ids = np.arange(len(data)) if mask is None else np.flatnonzero(mask)
    best = np.full((len(queries), 10), -np.inf, np.float32)
    best_ids = np.zeros((len(queries), 10), np.int64)
    for lo in range(0, len(ids), 100_000):
        block = ids[lo : lo + 100_000]
        scores = np.concatenate([best, queries @ data[block].T], axis=1)
        cand = np.concatenate([best_ids, np.broadcast_to(block, (len(queries), len(block)))], 1)
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        best = np.take_along_axis(scores, top, axis=1)
        best_ids = np.take_along_axis(cand, top, axis=1)
    return [set(r) for r in best_ids.tolist()]


def recall(found: list, truth: list) -> float:
    return sum(len(set(f) & t) for f, t in zip(found, truth, strict=True)) / (10 * len(truth))


def run_drivelake(lake, queries, truth, threads, where=None, batch=False):
    """(recall@10, queries/s): one ``nearest`` call per query, or one ``search_vectors``."""
    from drivelake.search.vector import nearest, search_vectors

    ds = lake.dataset("embeddings_512")
    nearest(ds, queries[0], 10, where=where)  # load once per process (and filter), untimed
    start = time.perf_counter()
    if batch:
        result = search_vectors(ds, queries, 10, where=where, threads=threads)
        found = [set() for _ in queries]
        for q, key in zip(
            result.column("query").to_pylist(), result.column("key").to_pylist(), strict=True
        ):
            found[q].add(int(key))
    else:
        found = []
        for q in queries:
            keys = nearest(ds, q, 10, where=where).column("key").to_pylist()
            found.append({int(k) for k in keys})
    return recall(found, truth), len(queries) / (time.perf_counter() - start)


def run_faiss(index, queries, truth, params=None, batch=False):
    start = time.perf_counter()
    if batch:
        _, ids = index.search(queries, 10, params=params)
        found = [set(r) for r in ids.tolist()]
    else:
        found = []
        for q in queries:
            _, ids = index.search(q[None], 10, params=params)
            found.append(set(ids[0].tolist()))
    return recall(found, truth), len(queries) / (time.perf_counter() - start)


def build_lake(path: Path, data: np.ndarray, drive_of: np.ndarray):
    """The vectors as a lake's embeddings table, indexed; (lake, index config, build seconds)."""
    import drivelake
    from drivelake.models.tables import embeddings_schema
    from drivelake.search.vector import maintain_index

    lake = drivelake.open(path)
    if lake.dataset("embeddings_512") is not None:  # cached from an earlier run
        return lake, maintain_index(lake, "embeddings_512"), None
    for start in range(0, len(data), 250_000):
        part = data[start : start + 250_000]
        m = len(part)
        lake.append(
            "embeddings_512",
            pa.table(
                {
                    "key": [str(i) for i in range(start, start + m)],
                    "source": ["frame"] * m,
                    "drive_id": [f"d{i}" for i in drive_of[start : start + m]],
                    "t_s": np.zeros(m),
                    "text": pa.nulls(m, pa.string()),
                    "model": ["bench"] * m,
                    "revision": ["r"] * m,
                    "vector": pa.FixedSizeListArray.from_arrays(pa.array(part.reshape(-1)), DIM),
                },
                schema=embeddings_schema(DIM),
            ),
        )
    start = time.perf_counter()
    config = maintain_index(lake, "embeddings_512", force=True)
    return lake, config, time.perf_counter() - start


def build_faiss(path: Path | None, data: np.ndarray):
    """FAISS HNSW32 (efConstruction 40) over the vectors; (index, build seconds or None)."""
    import faiss

    if path is not None and path.exists():
        return faiss.read_index(str(path)), None
    start = time.perf_counter()
    index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    index.add(data)
    seconds = time.perf_counter() - start
    if path is not None:
        faiss.write_index(index, str(path))
    return index, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="search threads, both engines")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    parser.add_argument("--cache", type=Path, help="folder keeping the lake and FAISS index")
    args = parser.parse_args()

    import faiss
    from threadpoolctl import threadpool_limits

    data = vectors(args.n, seed=0)
    queries = vectors(args.queries, seed=1)
    drive_of = np.arange(args.n) % DRIVES
    truth = exact_top10(data, queries)
    mask = drive_of == 7
    truth_filtered = exact_top10(data, queries, mask)

    work = args.cache or Path(tempfile.mkdtemp(prefix="bench-vectors-"))
    work.mkdir(parents=True, exist_ok=True)
    lake, config, build_s = build_lake(work / f"lake-{args.n}", data, drive_of)
    cached = work / f"faiss-hnsw32-{args.n}.index" if args.cache else None
    index, faiss_build_s = build_faiss(cached, data)
    del data

    load_before = os.getloadavg()[0]
    rounds: list[dict] = []
    with threadpool_limits(args.threads):
        faiss.omp_set_num_threads(args.threads)
        for ef in (16, 24, 32, 48, 64, 96, 128, 256, 512):  # cheapest efSearch reaching 0.95
            index.hnsw.efSearch = ef
            if run_faiss(index, queries, truth)[0] >= 0.95:
                break
        selector = faiss.IDSelectorBatch(np.flatnonzero(mask).astype(np.int64))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        for _ in range(args.rounds):
            rows = {}
            for batch in (False, True):  # the engines alternate: ours, FAISS, ours, FAISS
                name = "batch" if batch else "one by one"
                rows[f"drivelake, {name}"] = (
                    *run_drivelake(lake, queries, truth, args.threads, batch=batch),
                    *run_drivelake(
                        lake, queries, truth_filtered, args.threads, "drive_id = 'd7'", batch
                    ),
                )
                rows[f"FAISS HNSW, {name}"] = (
                    *run_faiss(index, queries, truth, batch=batch),
                    *run_faiss(index, queries, truth_filtered, params, batch),
                )
            rounds.append(rows)

    def built(seconds: float | None) -> str:
        return "cached" if seconds is None else f"built in {seconds:.0f} s"

    print(f"n={args.n} dim={DIM} queries={args.queries} search threads={args.threads}")
    print(
        f"machine load average (1 min) before/after searches: {load_before:.1f}/"
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"drivelake index: {config} {built(build_s)}")
    print(f"faiss HNSW32 efC=40 efSearch={ef}: {built(faiss_build_s)}")
    print("| search | recall@10 | queries/s | 1 % filter recall@10 | 1 % filter queries/s |")
    print("|---|---|---|---|---|")
    for name in rounds[0]:
        runs = [r[name] for r in rounds]
        r, fr = runs[0][0], runs[0][2]
        qps = ", ".join(f"{run[1]:.0f}" for run in runs)
        fqps = ", ".join(f"{run[3]:.0f}" for run in runs)
        print(f"| {name} | {r:.3f} | {qps} | {fr:.3f} | {fqps} |")
    for name in ("one by one", "batch"):
        ratios = [r[f"drivelake, {name}"][1] / r[f"FAISS HNSW, {name}"][1] for r in rounds]
        filtered = [r[f"drivelake, {name}"][3] / r[f"FAISS HNSW, {name}"][3] for r in rounds]
        print(
            f"qps ratio drivelake/FAISS, {name}: rounds {', '.join(f'{x:.2f}' for x in ratios)}"
            f", median {statistics.median(ratios):.2f} (1 % filter: median "
            f"{statistics.median(filtered):.2f})"
        )


if __name__ == "__main__":
    main()
