"""A snapshot of N frame members with real JPEG thumbnails, built without the video pipeline."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
from PIL import Image

import drivelake
from drivelake.curate import Dataset, snapshot
from drivelake.curate.datasets import MEMBERS


def jpegs(n: int, seed: int = 0) -> list[bytes]:
    """``n`` distinct 320x192 JPEGs of noise-over-gradient (about thumbnail size)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 200, 320, dtype=np.float32)[None, :, None].repeat(192, 0).repeat(3, 2)
    out = []
    for _ in range(n):
        pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=80)
        out.append(buffer.getvalue())
    return out


def build(lake_dir: str, n: int) -> drivelake.Lake:
    """A lake whose dataset ``bench`` has snapshot ``v1`` of ``n`` frames."""
    lake = drivelake.open(lake_dir)
    images = jpegs(n)
    rows = {
        "member_id": [f"f{i:07d}" for i in range(n)],
        "kind": ["frame"] * n,
        "drive_id": [f"d{i % 50}" for i in range(n)],
        "frame_id": [f"f{i:07d}" for i in range(n)],
        "t_s": [float(i) for i in range(n)],
        "event_type": ["harsh_brake" if i % 3 else None for i in range(n)],
        "split": ["train" if i % 10 else "test" for i in range(n)],
        "width": [320] * n,
        "height": [192] * n,
        "image": images,
        "content_sha256": [str(i) for i in range(n)],
        "speed_window": [[10.0] * 21] * n,
        "g_window": [[0.1] * 21] * n,
    }
    table = pa.table(
        {f.name: rows.get(f.name, pa.nulls(n, f.type)) for f in MEMBERS}, schema=MEMBERS
    )
    ds = Dataset(lake, "bench")
    ds.commit(table, {"op": "bench"}, create=True)
    snapshot.create(ds, "v1")
    return lake
