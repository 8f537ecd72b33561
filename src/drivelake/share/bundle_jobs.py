"""Signed bundles written in the background, for partners who fetch them over HTTP.

Writing a bundle reads every drive of a share (:func:`drivelake.share.bundle.export_bundle`),
longer than a request should wait, so :meth:`BundleJobs.start` runs it in a thread and returns
the job at once; the caller polls :meth:`BundleJobs.latest` and downloads the archive once it
is ``ready``. Each job writes ``<lake>/_share/bundles/<share_id>/<job_id>/`` — the bundle
folder and ``bundle.tar`` of it (one top folder, ``<share_id>-bundle/``, that
:func:`~drivelake.share.bundle.verify_bundle` checks once extracted). One job per share runs at
a time; when a job finishes, the share's older bundles are deleted. Jobs are kept in memory:
after a restart a partner starts a new one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tarfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from drivelake.share.bundle import MANIFEST, export_bundle
from drivelake.share.secret import state_dir

if TYPE_CHECKING:
    from drivelake.share.keys import Principal
    from drivelake.share.registry import Sharing

Status = Literal["running", "ready", "failed"]


@dataclass
class BundleJob:
    job_id: str
    share_id: str
    folder: Path
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: Status = "running"
    finished_at: datetime | None = None
    error: str | None = None
    manifest: dict[str, Any] | None = None
    manifest_sha256: str | None = None

    @property
    def archive(self) -> Path:
        return self.folder / "bundle.tar"

    def summary(self) -> dict[str, Any]:
        """What a client may see: state and, once ready, the manifest of hashes (no paths)."""
        return {
            "job_id": self.job_id,
            "share_id": self.share_id,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "manifest": self.manifest,
            "manifest_sha256": self.manifest_sha256,
        }


class BundleJobs:
    """The bundle jobs of one lake's shares, by share id (the latest job of each)."""

    def __init__(self, sharing: Sharing) -> None:
        self.sharing = sharing
        self._lock = threading.Lock()
        self._latest: dict[str, BundleJob] = {}

    def start(self, share_id: str, principal: Principal) -> BundleJob:
        """Start writing the share's bundle for ``principal``; a running job is returned as is."""
        with self._lock:
            job = self._latest.get(share_id)
            if job is not None and job.status == "running":
                return job
            job_id = f"bdl-{secrets.token_hex(6)}"
            folder = state_dir(self.sharing.lake.uri) / "bundles" / share_id / job_id
            job = self._latest[share_id] = BundleJob(job_id, share_id, folder)
        threading.Thread(target=self._run, args=(job, principal), daemon=True).start()
        return job

    def latest(self, share_id: str) -> BundleJob | None:
        with self._lock:
            return self._latest.get(share_id)

    def _run(self, job: BundleJob, principal: Principal) -> None:
        top = f"{job.share_id}-bundle"
        try:
            bundle = export_bundle(self.sharing, job.share_id, job.folder / top, principal)
            with tarfile.open(job.archive, "w") as tar:
                tar.add(bundle, arcname=top)
            body = (bundle / MANIFEST).read_bytes()
            job.manifest, job.manifest_sha256 = json.loads(body), hashlib.sha256(body).hexdigest()
        except Exception as exc:  # reported to the client, who may start again
            shutil.rmtree(job.folder, ignore_errors=True)
            job.error = str(exc) or type(exc).__name__
            job.finished_at, job.status = datetime.now(UTC), "failed"
            return
        job.finished_at, job.status = datetime.now(UTC), "ready"
        for older in job.folder.parent.iterdir():
            if older.name != job.job_id:
                shutil.rmtree(older, ignore_errors=True)
