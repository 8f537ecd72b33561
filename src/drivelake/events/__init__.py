"""Driving events mined from sensor readings: harsh braking, acceleration, turns and lane
changes, impacts, potholes and speeding (per vehicle class or geofence), with severity,
confidence and evaluation; and road roughness as a per-distance index.

    import drivelake
    from drivelake import events
    lake = drivelake.open("./lake")
    events.detect(lake)                    # incremental and idempotent
    events.events(lake, type="harsh_brake")
    events.roughness(lake, drive_id)       # one row per ~100 m of road
"""

from drivelake.events.config import DETECTOR_VERSION, EventConfig, load_config
from drivelake.events.detectors import TYPES
from drivelake.events.store import detect, events, roughness

__all__ = [
    "DETECTOR_VERSION",
    "TYPES",
    "EventConfig",
    "detect",
    "events",
    "load_config",
    "roughness",
]
