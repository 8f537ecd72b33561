"""End to end through the CLI: video ingest → enrich → search, on the real shared video."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from conftest import shared
from drivelake.cli import app
from model_builders import require_torch, tiny_clip


def test_ingest_enrich_search_json(lake, tmp_path):
    require_torch()
    video = shutil.copy(shared("video", "solidWhiteRight.mp4"), tmp_path / "drive.mp4")
    lake.ingest([video])
    frames = lake.sql("SELECT frame_id FROM frames ORDER BY t_s").column("frame_id").to_pylist()
    assert len(frames) >= 5
    model = str(tiny_clip(tmp_path / "clip"))
    runner = CliRunner()
    base = ["--lake", lake.uri]
    result = runner.invoke(app, [*base, "enrich", "--model", model, "--batch", "4"])
    assert result.exit_code == 0, result.output
    assert f"{len(frames)} items" in result.output and "items/s" in result.output
    result = runner.invoke(app, [*base, "search", "--like", frames[2], "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows and {"drive_id", "start_s", "end_s", "score", "frame_id"} <= set(rows[0])
    assert "thumbnail" not in rows[0]
    result = runner.invoke(
        app, [*base, "search", "a car", "--where", "t_s > 3", "--format", "csv", "--k", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("drive_id,")
