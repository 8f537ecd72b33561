"""Enrichment over real video frames and search: incremental, resumable, grouped, filtered."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pyarrow as pa
import pytest

from conftest import shared
from drivelake.models.enrich import enrich
from drivelake.search import search
from drivelake.search.spans import group_spans
from drivelake.search.vector import maintain_index, nearest
from model_builders import require_torch, tiny_clip, tiny_detr, video_frames


@pytest.fixture
def frames_lake(lake):
    video = shared("video", "solidWhiteRight.mp4")
    lake.append("frames", video_frames(video, count=20), message="frames")
    return lake


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    require_torch()
    return tiny_clip(tmp_path_factory.mktemp("models") / "clip")


def _rows(lake, table: str) -> int:
    return lake.dataset(table).count_rows()


def test_enrich_is_incremental_and_idempotent(frames_lake, clip_folder):
    report = enrich(frames_lake, str(clip_folder), batch=8)
    assert report.items == 20 and report.outputs == 20
    table = report.table
    vectors = frames_lake.dataset(table).to_table()
    assert set(vectors.column("revision").to_pylist()) == {report.revision}
    matrix = np.stack(vectors.column("vector").to_numpy(zero_copy_only=False))
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)
    again = enrich(frames_lake, str(clip_folder), batch=8)
    assert again.items == 0 and _rows(frames_lake, table) == 20


@pytest.mark.parametrize("jobs", [1, os.cpu_count()], ids=["overlapped", "in-turn"])
def test_enrich_resumes_after_a_kill_between_commits(frames_lake, clip_folder, monkeypatch, jobs):
    """A crash after a batch's outputs landed but before its log rows: no duplicates after,
    whether the commits run beside the model (a core to spare) or in turn with it."""
    lake = frames_lake
    original = type(lake).append
    calls = {"log": 0}

    def crashing_append(self, name, data, **kw):
        if name == "enrich_log":
            calls["log"] += 1
            if calls["log"] == 2:
                raise KeyboardInterrupt("killed")
        return original(self, name, data, **kw)

    monkeypatch.setattr(type(lake), "append", crashing_append)
    with pytest.raises(KeyboardInterrupt):
        enrich(lake, str(clip_folder), batch=8, jobs=jobs)
    monkeypatch.setattr(type(lake), "append", original)
    done = lake.dataset("enrich_log").count_rows()
    assert done == 8
    report = enrich(lake, str(clip_folder), batch=8)
    assert report.items == 12 and report.orphans >= 8
    keys = lake.dataset(report.table).to_table(columns=["key"]).column("key").to_pylist()
    assert len(keys) == len(set(keys)) == 20


def test_detections_enrich_and_filter(frames_lake, tmp_path):
    require_torch()
    folder = tiny_detr(tmp_path / "detr")
    report = enrich(frames_lake, str(folder), batch=8)
    assert report.items == 20 and report.table == "detections"
    log = frames_lake.sql("SELECT count(*) AS n FROM enrich_log WHERE task = 'detection'")
    assert log.column("n")[0].as_py() == 20  # frames with no detections count as done too
    if report.outputs:
        label = frames_lake.dataset("detections").to_table().column("label")[0].as_py()
        result = search(frames_lake, label, detections=True, where="speed_mps > 6")
        assert result.num_rows >= 1
        assert all(s >= 1.0 for s in result.column("start_s").to_pylist())


def test_like_search_groups_adjacent_frames_into_spans(frames_lake, clip_folder):
    enrich(frames_lake, str(clip_folder))
    result = search(frames_lake, like="drive-a-100", k=5)
    assert result.num_rows >= 1
    top = result.to_pylist()[0]
    assert top["drive_id"] == "drive-a" and top["matches"] >= 1
    assert top["start_s"] <= top["end_s"] and top["thumbnail"][:2] == b"\xff\xd8"
    starts = [(r["drive_id"], r["start_s"], r["end_s"]) for r in result.to_pylist()]
    for (_, s1, e1), (_, s2, e2) in itertools.pairwise(starts):
        assert e1 < s2 or e2 < s1  # spans never overlap
    text = search(frames_lake, "a truck at night", model=str(clip_folder), k=3)
    assert 1 <= text.num_rows <= 3


def test_group_spans_merges_adjacent_matches():
    hits = pa.table(
        {
            "drive_id": ["a", "a", "a", "b", "a"],
            "t_s": [1.0, 1.5, 5.0, 1.0, 2.0],
            "score": pa.array([0.5, 0.9, 0.7, 0.6, 0.4], type=pa.float32()),
            "frame_id": ["a1", "a2", "a5", "b1", "a3"],
            "source": ["frame"] * 5,
            "text": [None] * 5,
        }
    )
    spans = group_spans(hits, 0.6).to_pylist()
    assert [(s["drive_id"], s["start_s"], s["end_s"], s["matches"]) for s in spans] == [
        ("a", 1.0, 2.0, 3),
        ("a", 5.0, 5.0, 1),
        ("b", 1.0, 1.0, 1),
    ]
    assert spans[0]["frame_id"] == "a2"


def test_selective_filter_never_returns_too_few(frames_lake, clip_folder):
    enrich(frames_lake, str(clip_folder))
    slowest = "speed_mps < 5.5"  # only the first frames of the drive
    result = search(frames_lake, like="drive-a-0", where=slowest, k=5)
    assert result.num_rows >= 1
    assert all(r["start_s"] < 0.5 for r in result.to_pylist())


def test_indexed_search_with_filter_matches_exact(tmp_path):
    """An IVF-PQ index plus a 1 % filter still returns the exact top-k of the filtered rows."""
    import drivelake
    from drivelake.models.tables import embeddings_schema

    lake = drivelake.open(tmp_path / "lake")
    rng = np.random.default_rng(0)
    n, dim = 4096, 32
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    drives = [f"d{i % 100}" for i in range(n)]
    table = pa.table(
        {
            "key": [f"k{i}" for i in range(n)],
            "source": ["frame"] * n,
            "drive_id": drives,
            "t_s": np.arange(n, dtype=float),
            "text": pa.nulls(n, pa.string()),
            "model": ["m"] * n,
            "revision": ["r"] * n,
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
        },
        schema=embeddings_schema(dim),
    )
    lake.append("embeddings_32", table)
    config = maintain_index(lake, "embeddings_32", force=True)
    assert config["recall"] >= 0.9 and config["nprobes"] >= 1
    ds = lake.dataset("embeddings_32")
    query = vectors[7]
    allowed = {f"k{i}" for i in range(n) if drives[i] == "d7"}
    got = nearest(ds, query, 10, where="model = 'm'", allowed=allowed)
    mask = np.array([d == "d7" for d in drives])
    exact = np.argsort(-(vectors[mask] @ query))[:10]
    expected = [f"k{i}" for i in np.flatnonzero(mask)[exact]]
    assert got.column("key").to_pylist() == expected


def test_batched_search_and_new_rows_folded_into_the_index(tmp_path):
    """search_vectors answers a batch like one query at a time; appended rows become findable."""
    import drivelake
    from drivelake.models.tables import embeddings_schema
    from drivelake.search.vector import search_vectors

    def rows(start, vectors):
        n = len(vectors)
        return pa.table(
            {
                "key": [f"k{i}" for i in range(start, start + n)],
                "source": ["frame"] * n,
                "drive_id": [f"d{i % 10}" for i in range(start, start + n)],
                "t_s": np.zeros(n),
                "text": pa.nulls(n, pa.string()),
                "model": ["m"] * n,
                "revision": ["r"] * n,
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), 16),
            },
            schema=embeddings_schema(16),
        )

    lake = drivelake.open(tmp_path / "lake")
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lake.append("embeddings_16", rows(0, vectors))
    config = maintain_index(lake, "embeddings_16", force=True)
    assert config["kind"] == "ivf_flat" and config["recall"] >= 0.9
    ds = lake.dataset("embeddings_16")
    queries = vectors[:70]
    batch = search_vectors(ds, queries, 5, threads=2)
    assert batch.column("query").to_pylist() == [q for q in range(70) for _ in range(5)]
    for q in (0, 33, 69):
        one = nearest(ds, queries[q], 5).column("key").to_pylist()
        assert (
            batch.filter(pa.compute.equal(batch.column("query"), q)).column("key").to_pylist()
            == one
        )
    assert [batch.column("key")[5 * q].as_py() for q in range(70)] == [f"k{q}" for q in range(70)]

    new = rng.standard_normal((10, 16)).astype(np.float32)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    lake.append("embeddings_16", rows(3000, new))
    config = maintain_index(lake, "embeddings_16")
    assert config["indexed_rows"] == 3010
    ds = lake.dataset("embeddings_16")
    got = search_vectors(ds, new, 1, where="drive_id = 'd3'")
    assert got.num_rows == 10 and got.column("key")[3].as_py() == "k3003"
    assert set(got.column("drive_id").to_pylist()) == {"d3"}
    assert nearest(ds, new[4], 1).column("key").to_pylist() == ["k3004"]


def test_projected_index_scans_few_dimensions_and_reranks_exactly(tmp_path, monkeypatch):
    """Embedding-like vectors (most energy in a few directions): the index scans a projection,
    scores stay exact, and a broad filter searched through the index keeps recall."""
    import drivelake
    from drivelake.models.tables import embeddings_schema
    from drivelake.search import vector

    rng = np.random.default_rng(2)
    n, dim = 20_000, 128
    basis = rng.standard_normal((8, dim)).astype(np.float32)
    centres = rng.standard_normal((300, 8)).astype(np.float32)

    def draw(m):
        latent = centres[rng.integers(0, 300, m)] + 0.3 * rng.standard_normal((m, 8))
        x = (latent @ basis + 0.5 * rng.standard_normal((m, dim))).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    vectors, queries = draw(n), draw(40)
    drives = np.array([f"d{i % 4}" for i in range(n)])
    lake = drivelake.open(tmp_path / "lake")
    lake.append(
        "embeddings_128",
        pa.table(
            {
                "key": [str(i) for i in range(n)],
                "source": ["frame"] * n,
                "drive_id": drives,
                "t_s": np.zeros(n),
                "text": pa.nulls(n, pa.string()),
                "model": ["m"] * n,
                "revision": ["r"] * n,
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
            },
            schema=embeddings_schema(dim),
        ),
    )
    config = maintain_index(lake, "embeddings_128", force=True)
    assert config["dims"] < dim and config["recall"] >= vector.TARGET_RECALL
    vector._SEARCHERS.clear()  # a fresh process: the projection is loaded from disk
    ds = lake.dataset("embeddings_128")

    def recall(result, allowed):
        hits = 0
        for q in range(len(queries)):
            rows = result.filter(pa.compute.equal(result.column("query"), q))
            keys = np.array(rows.column("key").to_pylist(), dtype=int)
            assert len(keys) == 10 and allowed[keys].all()
            scores = np.array(rows.column("score").to_pylist())
            assert np.allclose(scores, vectors[keys] @ queries[q], atol=1e-5)  # exact scores
            exact = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ queries[q]))[:10]]
            hits += len(set(keys) & set(exact))
        return hits / (10 * len(queries))

    everything = np.ones(n, bool)
    assert recall(vector.search_vectors(ds, queries, 10), everything) >= 0.95
    assert vector.searcher(ds).basis.shape == (dim, config["dims"])
    one = nearest(ds, queries[3], 10).column("key").to_pylist()
    batch = vector.search_vectors(ds, queries, 10)
    assert batch.filter(pa.compute.equal(batch.column("query"), 3)).column("key").to_pylist() == one
    monkeypatch.setattr(vector, "EXACT_MAX_ROWS", 100)  # a filter this broad goes through the index
    broad = vector.search_vectors(ds, queries, 10, where="drive_id = 'd1'")
    assert recall(broad, drives == "d1") >= 0.9
