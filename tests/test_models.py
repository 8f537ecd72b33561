"""The model registry: specs, tiny local models through the real loaders, offline errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from drivelake.errors import ModelError
from drivelake.models import DETECTION, IMAGE_EMBEDDING, load_model, parse_spec
from model_builders import CLASSES, require_torch, tiny_clip, tiny_detr, tiny_siglip, tiny_yolo_onnx


def _images(n: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)) for _ in range(n)]


def test_specs_parse_without_importing_backends(tmp_path):
    spec = parse_spec("hf:google/siglip-base-patch16-224@abc123")
    assert (spec.backend, spec.name, spec.revision) == (
        "hf",
        "google/siglip-base-patch16-224",
        "abc123",
    )
    assert parse_spec("open_clip:ViT-B-32/laion2b_s34b_b79k").name == "ViT-B-32/laion2b_s34b_b79k"
    with pytest.raises(ModelError, match="not a model spec"):
        parse_spec("nonsense-model")
    with pytest.raises(ModelError, match=r"\.onnx"):
        parse_spec("onnx:/nowhere/model.onnx")


@pytest.mark.parametrize("build", [tiny_clip, tiny_siglip])
def test_image_text_embedders_load_from_a_folder(tmp_path, build):
    require_torch()
    folder = build(tmp_path / "m")
    with load_model(str(folder)) as model:
        assert model.task == IMAGE_EMBEDDING
        assert model.revision.startswith("sha256:")
        images = model.embed_images(_images())
        texts = model.embed_texts(["a truck at night", "a car"])
    assert images.shape == (3, model.dim) and texts.shape == (2, model.dim)
    assert np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert images.dtype == np.float32


def test_revision_pins_the_weights(tmp_path):
    require_torch()
    a = load_model(str(tiny_clip(tmp_path / "a", seed=0)))
    b = load_model(str(tiny_clip(tmp_path / "b", seed=1)))
    assert a.revision != b.revision


def test_detr_family_detector_boxes_in_pixels(tmp_path):
    require_torch()
    with load_model(f"hf:{tiny_detr(tmp_path / 'detr')}") as model:
        assert model.task == DETECTION
        found = model.detect(_images(2))
    assert len(found) == 2
    for det in (d for dets in found for d in dets):
        assert det.label in CLASSES.values() and 0 <= det.score <= 1
        x0, y0, x1, y1 = det.box
        assert 0 <= x0 <= x1 <= 160 and 0 <= y0 <= y1 <= 90


def test_onnx_yolo_export(tmp_path):
    pytest.importorskip("onnxruntime", reason="models extra not installed")
    path = tiny_yolo_onnx(tmp_path / "yolo.onnx")
    with load_model(f"onnx:{path}") as model:
        found = model.detect(_images(2))
    assert [d.label for d in found[0]] == ["car"]  # NMS keeps one box of many overlapping ones
    x0, y0, x1, y1 = found[0][0].box
    assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 90


def test_offline_model_error_names_model_places_and_remedy(monkeypatch, tmp_path):
    require_torch()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError) as info:
        load_model("hf:google/siglip-base-patch16-224")
    message = str(info.value)
    assert "google/siglip-base-patch16-224" in message
    assert str(tmp_path / "cache") in message and "--model /path/to/model" in message
    assert "\n" not in message


def test_cli_prints_one_line_for_missing_model(lake, tmp_path):
    require_torch()
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    args = ["--lake", lake.uri, "enrich", "--model", "st:org/not-cached-model"]
    result = subprocess.run(
        [sys.executable, "-c", "from drivelake.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "org/not-cached-model" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
