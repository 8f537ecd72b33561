"""Shared fixtures: the recorded data in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LANCE_LOG", "error")

SHARED_DATA = Path(
    os.environ.get("DRIVELAKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def shared(*parts: str) -> Path:
    """A path in the shared recorded data; skips the test when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared recorded data not found at {path} (it is present in CI)")
    return path


@pytest.fixture
def lake(tmp_path):
    import drivelake

    return drivelake.open(tmp_path / "lake")
