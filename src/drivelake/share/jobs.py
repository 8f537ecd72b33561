"""Background jobs whose records live on disk, so a restart neither forgets nor hangs them.

Long work started over HTTP (a partner's signed bundle, :mod:`drivelake.share.bundle_jobs`; a
dataset export from the web app, :mod:`drivelake.server.exports`) runs in a thread while the
client polls. Each job is one small JSON record at a path its owner chooses, replaced
atomically (write, then rename) when it starts, about once a second while it makes progress,
and when it ends: state (``running``, ``done``, ``failed``, ``interrupted``), progress
(``done``/``total``), start and end times, error, plus the owner's own fields. One file per
job, not one shared file, so concurrent jobs never rewrite each other's records.

A record says which process runs it (host, pid and a token drawn when :class:`Jobs` was made).
A ``running`` record whose process is gone (the server was killed or restarted) is read as
``interrupted``, and saved so, instead of running forever; when it stopped is unknown, so it has
no end time. Records owned by a process on another host are shown as they are: that process
cannot be checked from here.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: ``progress(done, total)``: what a job's work calls as it goes.
Progress = Callable[[int, int], None]
#: A job's work: given its progress callback, returns fields to add to the finished record.
Work = Callable[[Progress], dict[str, Any] | None]
#: Seconds between progress writes of a running job (pages poll about once a second).
PROGRESS_EVERY_S = 1.0


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Replace ``path`` with ``record`` atomically: readers see the old record or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class Jobs:
    """The background jobs this process runs, and the records of any process's jobs.

    ``interrupted`` is the error a job's record gets when its process died before it ended
    (say how to recover: "start it again").
    """

    def __init__(self, interrupted: str) -> None:
        self.interrupted = interrupted
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex}
        self._lock = threading.Lock()
        self._running: dict[Path, dict[str, Any]] = {}  # record path -> live job, this process

    def start(self, record: Path, fields: dict[str, Any], work: Work) -> dict[str, Any]:
        """Run ``work`` in a thread as the job recorded at ``record`` (unless it is running here).

        The record starts as ``fields`` plus the job's state; the job as it now stands.
        """
        with self._lock:
            job = self._running.get(record)
            if job is not None:
                return _public(job)
            job = fields | {
                "state": "running",
                "done": 0,
                "total": None,
                "started_at": now(),
                "finished_at": None,
                "error": None,
                "owner": self.owner,
            }
            write_record(record, job)
            self._running[record] = job
        threading.Thread(target=self._run, args=(record, job, work), daemon=True).start()
        return _public(job)

    def _run(self, record: Path, job: dict[str, Any], work: Work) -> None:
        written = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal written
            job["done"], job["total"] = done, total
            if time.monotonic() - written >= PROGRESS_EVERY_S:
                written = time.monotonic()
                write_record(record, job)

        try:
            job |= work(progress) or {}
            job["state"] = "done"
        except Exception as exc:  # shown to the client, who may start again
            job["state"], job["error"] = "failed", str(exc) or type(exc).__name__
        job["finished_at"] = now()
        with self._lock:
            write_record(record, job)
            del self._running[record]

    def read(self, record: Path) -> dict[str, Any] | None:
        """The job recorded at ``record`` as it stands (None if there is none), without owner."""
        with self._lock:
            live = self._running.get(record)
            if live is not None:
                return _public(live)
        try:
            job = json.loads(record.read_text())
        except (OSError, ValueError):  # absent, removed meanwhile, or not a record of ours
            return None
        if job.get("state") == "running" and self._orphaned(job.get("owner") or {}):
            job |= {"state": "interrupted", "error": self.interrupted}
            write_record(record, job)
        return _public(job)

    def _orphaned(self, owner: dict[str, Any]) -> bool:
        """Whether the process that ran a job is gone (not running it here, and not alive)."""
        if owner.get("host") != self.owner["host"]:
            return False
        if owner.get("token") == self.owner["token"]:
            return True  # ours, yet not among the running jobs: its thread has ended
        return owner.get("pid") == self.owner["pid"] or not _alive(int(owner.get("pid", 0)))


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k != "owner"}
