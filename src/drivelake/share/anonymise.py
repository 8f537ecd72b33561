"""The seam between sharing and :mod:`drivelake.privacy`: the licence's levels, applied.

Sharing decides *what* must be anonymised (a licence's ``faces``, ``plates``, ``zones``); the
privacy package knows *how*. This module is the only place that calls it, so a new anonymiser
changes one function here. Each ``*_available`` says whether the privacy code (and its optional
dependencies) is installed; callers withhold data when it is not, rather than send it raw.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@cache
def _privacy(module: str, function: str) -> ModuleType | None:
    """``drivelake.privacy.<module>`` if it is importable and offers ``function``."""
    try:
        mod = importlib.import_module(f"drivelake.privacy.{module}")
    except ImportError:
        return None
    return mod if hasattr(mod, function) else None


def zones_available() -> bool:
    return _privacy("location", "end_zones") is not None


def frames_available() -> bool:
    return _privacy("anonymize", "anonymize_jpeg") is not None


def apply_zones(signals: pa.Table, drive: dict[str, Any], secret: bytes) -> pa.Table:
    """Drop a drive's located samples inside its randomised end zones; keep unlocated ones.

    The zones come from the drive's located samples (GNSS, pose); rows without coordinates
    (IMU, CAN) say nothing about where the vehicle was and stay.
    """
    location = _privacy("location", "end_zones")
    assert location is not None, "check zones_available() first"
    located = pc.is_valid(signals["lat"])
    fixes = signals.filter(located)
    zones = location.end_zones(fixes, secret, drive["drive_id"])
    kept = pa.concat_tables(
        [signals.filter(pc.invert(located)), location.outside_zones(fixes, zones)]
    )
    return kept.sort_by([("stream", "ascending"), ("t_ns", "ascending")])


def redact_jpeg(jpeg: bytes, levels: list[str]) -> bytes:
    """A JPEG with the faces and/or plates named in ``levels`` redacted."""
    anonymize = _privacy("anonymize", "anonymize_jpeg")
    assert anonymize is not None, "check frames_available() first"
    return anonymize.anonymize_jpeg(jpeg, levels)
