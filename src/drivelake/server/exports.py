"""Snapshot exports started from the web app, run in background threads and kept in the lake.

An export can take minutes, longer than a request should: :meth:`Exports.start` starts
:func:`drivelake.curate.exporters.export` as a background job (:mod:`drivelake.share.jobs`)
and returns at once; the page polls :meth:`Exports.of`. Exports land in
``<lake>/exports/<dataset>/<tag>-<format>/``; starting one that is already there returns at
once (the exporter leaves a complete export as it is) and one that failed or was interrupted
resumes from what it wrote.

Each job's record is ``<lake>/exports/<dataset>/<tag>-<format>.job.json`` beside its output
(snapshot, format, output path, and the job's state, progress, times and error), so the list
survives a restart and a job whose server died reads as ``interrupted``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivelake.share.jobs import Jobs, Progress

if TYPE_CHECKING:
    from drivelake.lake import Lake

#: The suffix of a job record beside its export folder.
RECORD = ".job.json"
INTERRUPTED = "the server stopped before this export finished; start it again to resume"


class Exports:
    """The web app's exports of one lake: started here, listed from their records on disk."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.jobs = Jobs(INTERRUPTED)

    def folder(self, name: str, tag: str, format: str) -> Path:
        if "://" in self.lake.uri:
            raise NotImplementedError("exports from the web app need a lake on a local disk")
        return Path(self.lake.uri) / "exports" / name / f"{tag}-{format}"

    def start(self, name: str, tag: str, format: str) -> dict[str, Any]:
        """Start exporting ``name@tag`` as ``format`` (unless it is running); its job."""
        from drivelake.curate.exporters import export

        folder = self.folder(name, tag, format)
        fields = {
            "dataset": name,
            "tag": tag,
            "snapshot": f"{name}@{tag}",
            "format": format,
            "path": str(folder),
        }

        def work(progress: Progress) -> None:
            export(self.lake, fields["snapshot"], format, folder, progress=progress)

        return self.jobs.start(folder.with_name(folder.name + RECORD), fields, work)

    def of(self, name: str) -> list[dict[str, Any]]:
        """The jobs of one dataset as they stand (oldest first), from their records."""
        if "://" in self.lake.uri:
            return []
        records = sorted((Path(self.lake.uri) / "exports" / name).glob(f"*{RECORD}"))
        jobs = [job for job in map(self.jobs.read, records) if job is not None]
        return sorted(jobs, key=lambda j: (j.get("started_at") or "", j["tag"], j["format"]))
