"""The seam between sharing and :mod:`drivelake.privacy`: the licence's levels, applied.

Sharing decides *what* must be anonymised (a licence's ``faces``, ``plates``, ``zones``); the
privacy package knows *how*. This module is the only place that calls it, so a new anonymiser
changes one function here. Each ``*_available`` says whether the privacy code (and its optional
dependencies) is installed; callers withhold data when it is not, rather than send it raw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from collections.abc import Sequence
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
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
    if "lat" not in signals.column_names:  # only unlocated streams (IMU, CAN) were asked for
        return signals
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


def redact_rgb(rgb: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """An RGB frame with the faces and/or plates named in ``levels`` redacted."""
    return _anonymizer(levels)(rgb)


def frames_config(levels: Sequence[str]) -> str:
    """A short hash of everything that shapes a redacted frame, to key cached frames by.

    It covers the levels, the redaction mode and padding, each detector's type and settings,
    and the drivelake version (detector code changes with it).
    """
    import drivelake

    anonymizer = _anonymizer(levels)
    described = {
        "levels": sorted(levels),
        "mode": str(anonymizer.mode),
        "padding": anonymizer.padding,
        "detectors": [_settings(d) for d in anonymizer.detectors],
        "version": drivelake.__version__,
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _anonymizer(levels: Sequence[str]) -> Any:
    anonymize = _privacy("anonymize", "shared_anonymizer")
    assert anonymize is not None, "check frames_available() first"
    return anonymize.shared_anonymizer("faces" in levels, "plates" in levels)


def _settings(detector: Any) -> dict[str, Any]:
    """A detector's type and plain settings (thresholds, scales, nested settings objects)."""
    plain = (int, float, str, bool, tuple, type(None))
    settings: dict[str, Any] = {"type": type(detector).__qualname__}
    for name, value in sorted(vars(detector).items()):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            settings[name] = dataclasses.asdict(value)
        elif isinstance(value, list):
            settings[name] = [_settings(v) for v in value]
        elif isinstance(value, plain):
            settings[name] = value
    return settings
