"""Redacted frames kept on disk, so a frame is anonymised once per anonymisation config.

Redacting a full frame runs the face and plate detectors (seconds on a CPU); a partner paging
through a drive asks for the same frames again and again. Entries live in
``<lake>/_share/frames/<config>/<name>.jpg``. Frame ids name content (the video's hash and the
frame's index) and ``config`` hashes everything that shapes the redaction
(:func:`drivelake.share.anonymise.frames_config`), so an entry never goes stale: new detectors
or levels write to a new folder. A file is written under a temporary name and renamed, so a
concurrent reader never sees half of it. Callers check access *before* asking the cache.

The cache is bounded by bytes (:data:`MAX_BYTES` unless told): when a new entry takes it over
the bound, the least recently used entries are deleted. An entry's modification time is its
last use (set when it is written and each time it is read; content never changes, and access
times are not kept on most mounts). What the cache holds is counted once by a scan and then
kept up to date in memory, and scanned again whenever the count passes the bound, so entries
other processes wrote are counted before anything is deleted. A scan then deletes down to
:data:`LOW_WATER` of the bound, not just under it: a full cache is rescanned once per tenth of
its size written, not on every write.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,160}$")
#: The default bound of a lake's redacted-frame cache.
MAX_BYTES = 2 << 30
#: A scan over the bound deletes down to this fraction of it.
LOW_WATER = 0.9


class FrameCache:
    """JPEG files by (config, name), made on first request by the caller's function."""

    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes: int | None = None  # what the cache holds, once scanned

    def fetch(self, config: str, name: str, make: Callable[[], bytes]) -> bytes:
        """The cached bytes of ``name`` under ``config``, made (and stored) if absent."""
        if not (_NAME.match(config) and _NAME.match(name)) or ".." in name:
            raise ValueError(f"not a cache entry name: {config!r}/{name!r}")
        path = self.root / config / f"{name}.jpg"
        try:
            data = path.read_bytes()
            _used(path)
            return data
        except FileNotFoundError:
            pass
        data = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        _used(tmp)
        os.replace(tmp, path)
        self._added(len(data))
        return data

    def _added(self, size: int) -> None:
        with self._lock:
            if self._bytes is not None:
                self._bytes += size
            if self._bytes is None:
                self._bytes = self.prune(self.max_bytes)
            if self._bytes > self.max_bytes:
                self._bytes = self.prune(int(self.max_bytes * LOW_WATER))

    def prune(self, keep: int) -> int:
        """Delete the least recently used entries until at most ``keep`` bytes are held; the
        bytes held after."""
        entries = []
        for path in self.root.glob("*/*.jpg"):
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted meanwhile
                continue
            entries.append((stat.st_mtime_ns, stat.st_size, path))
        held = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if held <= keep:
                break
            path.unlink(missing_ok=True)
            held -= size
        return held


def _used(path: Path | str) -> None:
    """Mark ``path`` as used now (its modification time, to the nanosecond)."""
    now = time.time_ns()
    with contextlib.suppress(FileNotFoundError):  # evicted meanwhile: nothing to mark
        os.utime(path, ns=(now, now))
