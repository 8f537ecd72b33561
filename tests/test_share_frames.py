"""A partner's frames leave the server anonymised: a real face photo, through a real server."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import drivelake
    from drivelake.server import ServerConfig, create_app
    from drivelake.share import Sharing

    root = tmp_path_factory.mktemp("frames")
    csv = write_csv(root / "drive" / "cam.csv", n=500, rate_hz=50.0)
    _face_video(root / "drive" / "cam.mp4")
    lake = drivelake.open(root / "lake")
    report = lake.ingest([root / "drive"])
    assert report.ok, report.results
    drive_id = report.drive_ids[0]
    assert csv.exists()
    sharing = Sharing(lake)
    sharing.add_partner("acme", "ops@acme.example")
    share = sharing.create_share(
        "faces@v1",
        partner="acme",
        selection=f"drive_id = '{drive_id}'",
        uses=["research"],
        expires=date(2099, 1, 1),
        anonymise=["faces", "plates"],
    )
    keys = {"admin": sharing.create_key(admin=True), "acme": sharing.create_key(partner="acme")}
    with live_server(create_app(lake, ServerConfig())) as base:
        yield {
            "base": base,
            "lake": lake,
            "share": share,
            "drive_id": drive_id,
            "keys": {k: v.token for k, v in keys.items()},
        }


def test_partner_thumbnails_are_anonymised_admin_ones_are_not(served):
    import httpx

    base, share = served["base"], served["share"].share_id
    frames = served["lake"].sql(
        f"SELECT frame_id FROM frames WHERE drive_id = '{served['drive_id']}' ORDER BY t_s"
    )
    assert frames.num_rows > 0, "the video's frames were sampled at ingest"
    frame_id = frames["frame_id"][0].as_py()
    admin = httpx.get(
        f"{base}/api/frames/{frame_id}/thumbnail",
        headers={"X-API-Key": served["keys"]["admin"]},
        timeout=60,
    )
    partner = httpx.get(
        f"{base}/api/shares/{share}/frames/{frame_id}/thumbnail",
        headers={"X-API-Key": served["keys"]["acme"]},
        timeout=60,
    )
    assert admin.status_code == partner.status_code == 200
    assert partner.headers["content-type"] == "image/jpeg"
    original, redacted = _face_detail(admin.content), _face_detail(partner.content)
    assert original > 4.0, "the face region of the original thumbnail has real detail"
    assert redacted < 0.5 * original, (original, redacted)
