"""Driving events mined from sensor readings: harsh braking, acceleration, turns and lane
changes, impacts, potholes and speeding, with severity, confidence and evaluation.

    import drivelake
    from drivelake import events
    lake = drivelake.open("./lake")
    events.detect(lake)                    # incremental and idempotent
    events.events(lake, type="harsh_brake")
"""

from drivelake.events.config import DETECTOR_VERSION, EventConfig, load_config
from drivelake.events.detectors import TYPES
from drivelake.events.store import detect, events

__all__ = ["DETECTOR_VERSION", "TYPES", "EventConfig", "detect", "events", "load_config"]
