"""Vector search: recall@10 and queries/s of drivelake's tuned index vs FAISS HNSW.

Both search the same normalised vectors on the same machine with the same thread count. The
vectors have the structure of real embeddings (a low-rank clustered signal plus noise), since
uniformly random 512-d vectors have no neighbours worth finding. A second pass restricts every
query to 1 % of the rows (one drive in a hundred) and checks that recall holds there too.

    python bench/bench_vector_search.py            # 1 M x 512 (index build takes minutes)
    python bench/bench_vector_search.py --n 200000 --queries 200
"""

from __future__ import annotations

import argparse
import tempfile
import time

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
    sub = data[ids]
    return [set(ids[np.argsort(-(sub @ q))[:10]]) for q in queries]


def recall(found: list, truth: list) -> float:
    return sum(len(set(f) & t) for f, t in zip(found, truth, strict=True)) / (10 * len(truth))


def run_drivelake(lake, queries, truth, where=None):
    from drivelake.search.vector import nearest

    ds = lake.dataset("embeddings_512")
    found, start = [], time.perf_counter()
    for q in queries:
        keys = nearest(ds, q, 10, where=where).column("key").to_pylist()
        found.append({int(k) for k in keys})
    return recall(found, truth), len(queries) / (time.perf_counter() - start)


def run_faiss(index, queries, truth, params=None):
    found, start = [], time.perf_counter()
    for q in queries:
        _, ids = index.search(q[None], 10, params=params)
        found.append(set(ids[0].tolist()))
    return recall(found, truth), len(queries) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import faiss

    import drivelake
    from drivelake.models.tables import embeddings_schema
    from drivelake.search.vector import maintain_index

    faiss.omp_set_num_threads(args.threads)
    data = vectors(args.n, seed=0)
    queries = vectors(args.queries, seed=1)
    drive_of = np.arange(args.n) % DRIVES
    truth = exact_top10(data, queries)
    mask = drive_of == 7
    truth_filtered = exact_top10(data, queries, mask)

    lake = drivelake.open(tempfile.mkdtemp(prefix="bench-vectors-"))
    for start in range(0, args.n, 250_000):
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
    build_s = time.perf_counter() - start
    lance_recall, lance_qps = run_drivelake(lake, queries, truth)
    lance_f_recall, lance_f_qps = run_drivelake(lake, queries, truth_filtered, "drive_id = 'd7'")

    start = time.perf_counter()
    index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    index.add(data)
    faiss_build_s = time.perf_counter() - start
    for ef in (16, 32, 64, 128, 256, 512):  # the cheapest efSearch that reaches 0.95
        index.hnsw.efSearch = ef
        faiss_recall, faiss_qps = run_faiss(index, queries, truth)
        if faiss_recall >= 0.95:
            break
    selector = faiss.IDSelectorBatch(np.flatnonzero(mask).astype(np.int64))
    params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
    faiss_f_recall, faiss_f_qps = run_faiss(index, queries, truth_filtered, params)

    print(f"n={args.n} dim={DIM} queries={args.queries} threads={args.threads}")
    print(f"drivelake index: {config} built+tuned in {build_s:.0f} s")
    print(f"faiss HNSW32 efC=40 efSearch={ef}: built in {faiss_build_s:.0f} s")
    print("| search | recall@10 | queries/s | 1 % filter recall@10 | 1 % filter queries/s |")
    print("|---|---|---|---|---|")
    print(
        f"| drivelake | {lance_recall:.3f} | {lance_qps:.0f} | {lance_f_recall:.3f} | "
        f"{lance_f_qps:.0f} |"
    )
    print(
        f"| FAISS HNSW | {faiss_recall:.3f} | {faiss_qps:.0f} | {faiss_f_recall:.3f} | "
        f"{faiss_f_qps:.0f} |"
    )
    print(f"qps ratio drivelake/FAISS: {lance_qps / faiss_qps:.2f}")


if __name__ == "__main__":
    main()
