"""Snapshot exports started from the web app, each run in a background thread.

An export can take minutes, longer than a request should: :meth:`Exports.start` starts
:func:`drivelake.curate.exporters.export` and returns at once; the page polls :meth:`Exports.of`
for progress. Exports land in ``<lake>/exports/<dataset>/<tag>-<format>/``; starting one that
is already there returns at once (the exporter leaves a complete export as it is) and one that
failed resumes from what it wrote.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivelake.lake import Lake


class Exports:
    """The exports this server started, by (dataset, tag, format)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str, str], dict[str, Any]] = {}

    def folder(self, name: str, tag: str, format: str) -> Path:
        if "://" in self.lake.uri:
            raise NotImplementedError("exports from the web app need a lake on a local disk")
        return Path(self.lake.uri) / "exports" / name / f"{tag}-{format}"

    def start(self, name: str, tag: str, format: str) -> dict[str, Any]:
        """Start exporting ``name@tag`` as ``format`` (unless it is running); its job."""
        key = (name, tag, format)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job["state"] == "running":
                return dict(job)
            job = {"dataset": name, "tag": tag, "format": format, "state": "running"}
            job |= {"path": str(self.folder(name, tag, format)), "done": 0, "total": None}
            self._jobs[key] = job
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return dict(job)

    def _run(self, job: dict[str, Any]) -> None:
        from drivelake.curate.exporters import export

        def progress(done: int, total: int) -> None:
            job["done"], job["total"] = done, total

        try:
            ref = f"{job['dataset']}@{job['tag']}"
            export(self.lake, ref, job["format"], job["path"], progress=progress)
            job["state"] = "done"
        except Exception as exc:  # shown on the page; the exporter resumes on a retry
            job["state"], job["error"] = "failed", str(exc) or type(exc).__name__

    def of(self, name: str) -> list[dict[str, Any]]:
        """The jobs of one dataset, as they stand."""
        with self._lock:
            return [dict(j) for (n, _, _), j in sorted(self._jobs.items()) if n == name]
