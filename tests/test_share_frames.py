"""A partner's frames (thumbnails and full frames) leave a real server anonymised: a real face
photo, and the real highway video's plates; redacted full frames are cached on disk."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import shared
from csvgen import write_csv
from live_server import live_server

pytest.importorskip("fastapi")
pytest.importorskip("onnxruntime")
skimage_data = pytest.importorskip("skimage.data")


def _face_video(path, seconds: int = 3, fps: int = 10) -> None:
    """An MP4 of scikit-image's astronaut photo (a real face) with PyAV, as a dashcam would."""
    import av

    image = skimage_data.astronaut()  # 512 x 512 RGB, face around x 160-250, y 60-180
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        for _ in range(seconds * fps):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _face_detail(jpeg: bytes) -> float:
    """Pixel variation inside the astronaut's face (blurring flattens it)."""
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("L"), dtype=float)
    scale = image.shape[1] / 512
    y0, y1, x0, x1 = (int(v * scale) for v in (80, 170, 170, 240))
    face = image[y0:y1, x0:x1]
    return float(np.abs(np.diff(face, axis=1)).mean())


@contextmanager
def _served(root: Path, sources: list[Path]) -> Iterator[dict]:
    """``sources`` ingested into a lake, all shared with acme (faces and plates), served."""
    import drivelake
    from drivelake.server import create_app
    from drivelake.share import Sharing

    lake = drivelake.open(root / "lake")
    report = lake.ingest(sources)
    assert report.ok, report.results
    sharing = Sharing(lake)
    for partner in ("acme", "globex"):
        sharing.add_partner(partner, f"ops@{partner}.example")
    share = sharing.create_share(
        "frames@v1",
        partner="acme",
        selection="true",
        uses=["research"],
        expires=date(2099, 1, 1),
        anonymise=["faces", "plates"],
    )
    keys = {"admin": sharing.create_key(admin=True)}
    keys |= {p: sharing.create_key(partner=p) for p in ("acme", "globex")}
    with live_server(create_app(lake)) as base:
        yield {
            "base": base,
            "lake": lake,
            "share": share,
            "drive_id": report.drive_ids[0],
            "keys": {k: v.token for k, v in keys.items()},
        }


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A drive of telemetry and a video of a real face."""
    root = tmp_path_factory.mktemp("frames")
    write_csv(root / "drive" / "cam.csv", n=500, rate_hz=50.0)
    _face_video(root / "drive" / "cam.mp4")
    with _served(root, [root / "drive"]) as world:
        yield world


@pytest.fixture(scope="module")
def highway(tmp_path_factory):
    """The real front-camera highway video (cars, plates), read from the shared data."""
    video = shared("video", "solidWhiteRight.mp4")
    with _served(tmp_path_factory.mktemp("highway"), [video]) as world:
        yield world


def _get(world, path: str, who: str) -> httpx.Response:
    return httpx.get(world["base"] + path, headers={"X-API-Key": world["keys"][who]}, timeout=120)


def _first_frame(world) -> str:
    frames = world["lake"].sql(
        f"SELECT frame_id FROM frames WHERE drive_id = '{world['drive_id']}' ORDER BY t_s"
    )
    assert frames.num_rows > 0, "the video's frames were sampled at ingest"
    return frames["frame_id"][0].as_py()


def _rgb(jpeg: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int16)


def test_partner_thumbnails_are_anonymised_admin_ones_are_not(served):
    frame_id, share = _first_frame(served), served["share"].share_id
    admin = _get(served, f"/api/frames/{frame_id}/thumbnail", "admin")
    partner = _get(served, f"/api/shares/{share}/frames/{frame_id}/thumbnail", "acme")
    assert admin.status_code == partner.status_code == 200
    assert partner.headers["content-type"] == "image/jpeg"
    original, redacted = _face_detail(admin.content), _face_detail(partner.content)
    assert original > 4.0, "the face region of the original thumbnail has real detail"
    assert redacted < 0.5 * original, (original, redacted)


def test_partner_full_frame_has_the_face_blurred(served):
    frame_id, share = _first_frame(served), served["share"].share_id
    admin = _get(served, f"/api/frames/{frame_id}/image", "admin")
    partner = _get(served, f"/api/shares/{share}/frames/{frame_id}/image", "acme")
    assert admin.status_code == partner.status_code == 200
    assert _rgb(admin.content).shape == _rgb(partner.content).shape == (512, 512, 3)
    original, redacted = _face_detail(admin.content), _face_detail(partner.content)
    assert original > 4.0 and redacted < 0.5 * original, (original, redacted)


def test_partner_full_frame_of_real_video_has_plates_redacted_and_cached(highway):
    from drivelake.privacy.anonymize import shared_anonymizer

    frame_id, share = _first_frame(highway), highway["share"].share_id
    path = f"/api/shares/{share}/frames/{frame_id}/image"
    admin = _get(highway, f"/api/frames/{frame_id}/image", "admin")
    started = time.perf_counter()
    partner = _get(highway, path, "acme")
    first_s = time.perf_counter() - started
    assert admin.status_code == partner.status_code == 200, partner.text
    raw, redacted = _rgb(admin.content), _rgb(partner.content)
    assert raw.shape == redacted.shape == (540, 960, 3), "full resolution, not the thumbnail"
    boxes = shared_anonymizer(True, True).boxes(raw.astype(np.uint8))
    assert boxes, "the detectors find the cars' plates in the real frame"
    inside = np.zeros(raw.shape[:2], bool)
    for box in boxes:
        b = box.clipped(raw.shape[1], raw.shape[0])
        inside[int(b.y0) : int(np.ceil(b.y1)), int(b.x0) : int(np.ceil(b.x1))] = True
    changed = np.abs(raw - redacted).max(axis=2)
    assert changed[inside].mean() > 3 * max(changed[~inside].mean(), 1.0), (
        changed[inside].mean(),
        changed[~inside].mean(),
    )
    started = time.perf_counter()
    again = _get(highway, path, "acme")
    assert again.content == partner.content
    assert time.perf_counter() - started < first_s / 3, "the redacted frame came from the cache"
    cached = list((Path(highway["lake"].uri) / "_share" / "frames").glob(f"*/{frame_id}.full.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == partner.content


def test_frame_cache_keeps_the_recently_used_within_its_bound(tmp_path):
    from drivelake.share.frame_cache import FrameCache

    made = []

    def make(name: str):
        return lambda: made.append(name) or bytes(100)

    cache = FrameCache(tmp_path / "frames", max_bytes=250)
    for config, name in [("c1", "a"), ("c1", "b"), ("c1", "a"), ("c2", "c")]:
        assert cache.fetch(config, name, make(name)) == bytes(100)
    assert made == ["a", "b", "c"]  # the second "a" was a hit, and made it the most recent
    kept = sorted(p.relative_to(tmp_path / "frames") for p in (tmp_path / "frames").rglob("*"))
    assert [p.as_posix() for p in kept if p.suffix] == ["c1/a.jpg", "c2/c.jpg"]  # b went
    cache.fetch("c1", "b", make("b"))
    assert made[-1] == "b" and not (tmp_path / "frames" / "c1" / "a.jpg").exists()
    other = FrameCache(tmp_path / "frames", max_bytes=250)  # another process: counts first
    other.fetch("c3", "d", make("d"))
    assert sum(p.stat().st_size for p in (tmp_path / "frames").rglob("*.jpg")) <= 250


def test_a_full_frame_cache_is_not_rescanned_on_every_write(tmp_path, monkeypatch):
    from drivelake.share.frame_cache import FrameCache

    cache = FrameCache(tmp_path / "frames", max_bytes=1000)
    scans = []
    prune = cache.prune
    monkeypatch.setattr(cache, "prune", lambda keep: scans.append(keep) or prune(keep))
    for i in range(150):  # 1,500 bytes of 10-byte frames through a 1,000-byte cache
        cache.fetch("c", f"f{i}", lambda: bytes(10))
    held = sum(p.stat().st_size for p in (tmp_path / "frames").rglob("*.jpg"))
    assert 900 <= held <= 1000
    assert len(scans) <= 1 + 50 // 10 + 1, scans  # the first count, then once per 100 bytes
    assert (tmp_path / "frames" / "c" / "f149.jpg").exists()  # the newest stays


@pytest.mark.parametrize(
    "frame_id",
    ["..%2F..%2F_share%2Fsecret", "%2e%2e", "..", "x%00y", "-000001", "ffffffffffff-000000"],
)
def test_frame_ids_cannot_traverse_paths(highway, frame_id):
    share = highway["share"].share_id
    for path, who in [
        (f"/api/shares/{share}/frames/{frame_id}/image", "acme"),
        (f"/api/frames/{frame_id}/image", "admin"),
    ]:
        r = _get(highway, path, who)
        assert r.status_code in (404, 422) and "error" in r.json(), (path, r.status_code)


def test_another_partner_cannot_read_the_frames(highway):
    frame_id, share = _first_frame(highway), highway["share"].share_id
    r = _get(highway, f"/api/shares/{share}/frames/{frame_id}/image", "globex")
    assert r.status_code == 404 and "error" in r.json()
