"""Detection thresholds: packaged per-vehicle-class defaults, overridable by a TOML file.

A run is identified by the hash of the *effective* configuration plus the detector version, so
the same settings always give the same run (idempotent re-runs) and any change gives a new one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from drivelake.errors import InputError
from drivelake.events.zones import SpeedZone

DETECTOR_VERSION = "1.6"
VEHICLE_CLASSES = ("car", "van", "truck")


@dataclass(frozen=True)
class EventConfig:
    """The effective settings: ``common`` keys, each class's thresholds and the speed zones."""

    common: dict[str, float]
    classes: dict[str, dict[str, float]]
    default_class: str = "car"
    zones: tuple[SpeedZone, ...] = ()

    def thresholds(self, vehicle_class: str | None) -> dict[str, float]:
        """Common settings merged with one class's thresholds (unknown classes use the default)."""
        name = vehicle_class if vehicle_class in self.classes else self.default_class
        return {**self.common, **self.classes[name], "vehicle_class": name}

    @functools.cached_property
    def hash(self) -> str:
        """What the run id and every row name the config by (computed once: rows are many)."""
        body = json.dumps(
            {
                "c": self.common,
                "k": self.classes,
                "d": self.default_class,
                "z": [asdict(z) for z in self.zones],
                "v": DETECTOR_VERSION,
            },
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def _defaults() -> dict[str, Any]:
    return tomllib.loads(resources.files(__package__).joinpath("defaults.toml").read_text())


def load_config(path: str | Path | None = None) -> EventConfig:
    """Defaults, with the keys of ``path`` (a TOML file) laid over them.

    ``[[speed_zones]]`` tables in ``path`` add geofenced speed limits (:mod:`.zones`).
    """
    data = _defaults()
    zones: list[SpeedZone] = []
    if path is not None:
        try:
            override = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(path, f"cannot read event config: {exc}") from exc
        for i, raw in enumerate(override.pop("speed_zones", [])):
            zones.append(SpeedZone.parse(raw, f"{path} [[speed_zones]] #{i + 1}"))
        for key, value in override.items():
            if isinstance(value, dict):
                unknown = set(value) - set(data.get(key, data["car"]))
                if unknown:
                    raise InputError(path, f"[{key}]: unknown settings {sorted(unknown)}")
                data.setdefault(key, dict(data["car"])).update(value)
            else:
                data[key] = value
    default_class = data.pop("vehicle_class", "car")
    common = data.pop("common")
    return EventConfig(common, data, default_class, tuple(zones))
