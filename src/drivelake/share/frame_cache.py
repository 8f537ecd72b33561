"""Redacted frames kept on disk, so a frame is anonymised once per anonymisation config.

Redacting a full frame runs the face and plate detectors (seconds on a CPU); a partner paging
through a drive asks for the same frames again and again. Entries live in
``<lake>/_share/frames/<config>/<name>.jpg``. Frame ids name content (the video's hash and the
frame's index) and ``config`` hashes everything that shapes the redaction
(:func:`drivelake.share.anonymise.frames_config`), so an entry never goes stale: new detectors
or levels write to a new folder. A file is written under a temporary name and renamed, so a
concurrent reader never sees half of it. Callers check access *before* asking the cache.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,160}$")


class FrameCache:
    """JPEG files by (config, name), made on first request by the caller's function."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def fetch(self, config: str, name: str, make: Callable[[], bytes]) -> bytes:
        """The cached bytes of ``name`` under ``config``, made (and stored) if absent."""
        if not (_NAME.match(config) and _NAME.match(name)) or ".." in name:
            raise ValueError(f"not a cache entry name: {config!r}/{name!r}")
        path = self.root / config / f"{name}.jpg"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return data
