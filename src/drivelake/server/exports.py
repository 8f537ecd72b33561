"""Snapshot exports started from the web app, run in background threads and kept in the lake.

An export can take minutes, longer than a request should: :meth:`Exports.start` starts
:func:`drivelake.curate.exporters.export` and returns at once; the page polls :meth:`Exports.of`.
Exports land in ``<lake>/exports/<dataset>/<tag>-<format>/``; starting one that is already there
returns at once (the exporter leaves a complete export as it is) and one that failed resumes
from what it wrote.

**Jobs survive a restart.** Each job is a small JSON record beside its output,
``<lake>/exports/<dataset>/<tag>-<format>.job.json``, replaced atomically (write, then rename)
when it starts, about once a second while it runs, and when it ends: state (``running``,
``done``, ``failed``, ``interrupted``), snapshot, format, output path, progress, start and end
times, error. One file per job, not one shared file, so concurrent jobs never rewrite each
other's records. A record says which process runs it (host, pid and a token drawn when the
server started); a ``running`` record whose process is gone (the server was killed or
restarted) is read as ``interrupted``, and saved so, instead of running forever. Records owned
by a process on another host are shown as they are: that process cannot be checked from here.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivelake.lake import Lake

#: The suffix of a job record beside its export folder.
RECORD = ".job.json"
#: Seconds between progress writes of a running job (the page polls once a second).
PROGRESS_EVERY_S = 1.0
INTERRUPTED = "the server stopped before this export finished; start it again to resume"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write(path: Path, job: dict[str, Any]) -> None:
    """Replace ``path`` with ``job`` atomically: readers see the old record or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(job, indent=1))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class Exports:
    """The web app's exports of one lake: started here, listed from their records on disk."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._running: dict[Path, dict[str, Any]] = {}  # record path -> live job, this process
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex}

    def folder(self, name: str, tag: str, format: str) -> Path:
        if "://" in self.lake.uri:
            raise NotImplementedError("exports from the web app need a lake on a local disk")
        return Path(self.lake.uri) / "exports" / name / f"{tag}-{format}"

    def _record(self, name: str, tag: str, format: str) -> Path:
        folder = self.folder(name, tag, format)
        return folder.with_name(folder.name + RECORD)

    def start(self, name: str, tag: str, format: str) -> dict[str, Any]:
        """Start exporting ``name@tag`` as ``format`` (unless it is running); its job."""
        record = self._record(name, tag, format)
        with self._lock:
            job = self._running.get(record)
            if job is not None:
                return dict(job)
            job = {
                "dataset": name,
                "tag": tag,
                "snapshot": f"{name}@{tag}",
                "format": format,
                "state": "running",
                "path": str(self.folder(name, tag, format)),
                "done": 0,
                "total": None,
                "started_at": _now(),
                "finished_at": None,
                "error": None,
                "owner": self.owner,
            }
            _write(record, job)
            self._running[record] = job
        threading.Thread(target=self._run, args=(record, job), daemon=True).start()
        return dict(job)

    def _run(self, record: Path, job: dict[str, Any]) -> None:
        from drivelake.curate.exporters import export

        written = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal written
            job["done"], job["total"] = done, total
            if time.monotonic() - written >= PROGRESS_EVERY_S:
                written = time.monotonic()
                _write(record, job)

        try:
            export(self.lake, job["snapshot"], job["format"], job["path"], progress=progress)
            job["state"] = "done"
        except Exception as exc:  # shown on the page; the exporter resumes on a retry
            job["state"], job["error"] = "failed", str(exc) or type(exc).__name__
        job["finished_at"] = _now()
        with self._lock:
            _write(record, job)
            del self._running[record]

    def of(self, name: str) -> list[dict[str, Any]]:
        """The jobs of one dataset as they stand (oldest first), from their records."""
        if "://" in self.lake.uri:
            return []
        jobs = []
        for record in sorted((Path(self.lake.uri) / "exports" / name).glob(f"*{RECORD}")):
            with self._lock:
                live = self._running.get(record)
                job = dict(live) if live is not None else self._read(record)
            if job is not None:
                jobs.append({k: v for k, v in job.items() if k != "owner"})
        return sorted(jobs, key=lambda j: (j.get("started_at") or "", j["tag"], j["format"]))

    def _read(self, record: Path) -> dict[str, Any] | None:
        """A job record; a running one whose process is gone is saved as interrupted."""
        try:
            job = json.loads(record.read_text())
        except (OSError, ValueError):  # removed meanwhile, or not a record of ours
            return None
        if job.get("state") == "running" and self._orphaned(job.get("owner") or {}):
            job |= {"state": "interrupted", "error": INTERRUPTED}  # when it stopped is unknown
            _write(record, job)
        return job

    def _orphaned(self, owner: dict[str, Any]) -> bool:
        """Whether the process that ran a job is gone (not running it here, and not alive)."""
        if owner.get("host") != self.owner["host"]:
            return False
        if owner.get("token") == self.owner["token"]:
            return True  # ours, yet not among the running jobs: its thread has ended
        return owner.get("pid") == self.owner["pid"] or not _alive(int(owner.get("pid", 0)))
