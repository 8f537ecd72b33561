"""Dashcam video: probing, decoding, time sync with telemetry, frame sampling and event clips.

Modules, one idea each: :mod:`.probe` (what a file holds), :mod:`.decode` (frames, robust to
damaged files), :mod:`.sync` (where a video sits on its drive's timeline), :mod:`.telemetry`
(the drive's signals at a frame's time), :mod:`.sampling` (which frames to keep),
:mod:`.stage` (the ``videos``/``frames`` tables), :mod:`.clips` (event clips),
:mod:`.gps_tracks` and :mod:`.reader` (videos without telemetry), :mod:`.synth` (generated
test video). Importing this package is cheap: PyAV and OpenCV load inside the functions.
"""
