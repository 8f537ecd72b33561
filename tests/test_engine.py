"""The engines run the same stage functions: Ray (a real local instance) lands what local does."""

from __future__ import annotations

import pytest

import drivelake
from csvgen import telemetry_rows, write_csv
from drivelake.engine import get_engine
from drivelake.errors import EngineError
from drivelake.ingest import IngestOptions


def _sources(folder, n=4):
    folder.mkdir()
    for i in range(n):
        write_csv(folder / f"drive{i}.csv", telemetry_rows(n=2000, t0=1.7e9 + i * 10_000, seed=i))
    (folder / "broken.csv").write_text("timestamp,lat\nnot-a-time,1\n")
    return folder


def _landed(lake):
    drives = lake.drives().sort_by("drive_id")
    samples = [lake.signals(d).num_rows for d in drives.column("drive_id").to_pylist()]
    return drives.column("drive_id").to_pylist(), samples


def test_ray_engine_lands_the_same_drives_as_the_local_engine(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install drivelake[ray]")
    src = _sources(tmp_path / "src")
    local = drivelake.open(tmp_path / "local")
    local_report = local.ingest([src], IngestOptions(jobs=1))
    on_ray = drivelake.open(tmp_path / "ray")
    try:
        ray_report = on_ray.ingest([src], IngestOptions(engine="ray", jobs=2))
    finally:
        ray.shutdown()
    assert ray_report.count("ingested") == local_report.count("ingested") == 4
    assert ray_report.count("failed") == local_report.count("failed") == 1
    assert _landed(on_ray) == _landed(local)
    assert all(n > 0 for n in _landed(on_ray)[1])


def test_unknown_engine_names_the_choices():
    with pytest.raises(EngineError, match="local, ray"):
        get_engine("spark")
