"""Signed bundles written in the background, for partners who fetch them over HTTP.

Writing a bundle reads every drive of a share (:func:`drivelake.share.bundle.export_bundle`),
longer than a request should wait, so :meth:`BundleJobs.start` runs it as a background job
(:mod:`drivelake.share.jobs`) and returns at once; the caller polls :meth:`BundleJobs.latest`
and downloads the archive once it is ``ready``. Each job writes
``<lake>/_share/bundles/<share_id>/<job_id>/`` — the bundle folder and ``bundle.tar`` of it
(one top folder, ``<share_id>-bundle/``, that :func:`~drivelake.share.bundle.verify_bundle`
checks once extracted). A share's latest job is its record, ``<share_id>.job.json`` beside
that folder, so it survives a restart: a ready bundle stays downloadable, and one cut off by a
server's death reads as ``interrupted`` (start it again). One job per share runs at a time;
when a job finishes, the share's older bundles are deleted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivelake.share.bundle import MANIFEST, export_bundle
from drivelake.share.jobs import Jobs, Progress
from drivelake.share.secret import state_dir

if TYPE_CHECKING:
    from drivelake.share.keys import Principal
    from drivelake.share.registry import Sharing

INTERRUPTED = "the server stopped before this bundle was written; start it again"


@dataclass(frozen=True)
class BundleJob:
    """A share's latest bundle job, as its record stands."""

    job_id: str
    share_id: str
    status: str  # running, ready, failed or interrupted
    error: str | None
    manifest_sha256: str | None
    folder: Path
    record: dict[str, Any]

    @classmethod
    def of(cls, record: dict[str, Any], folder: Path) -> BundleJob:
        status = "ready" if record["state"] == "done" else record["state"]
        fields = (record["job_id"], record["share_id"], status, record["error"])
        return cls(*fields, record.get("manifest_sha256"), folder, record)

    @property
    def archive(self) -> Path:
        return self.folder / "bundle.tar"

    def summary(self) -> dict[str, Any]:
        """What a client may see: state and, once ready, the manifest of hashes (no paths)."""
        shown = ("job_id", "share_id", "started_at", "finished_at", "error", "done", "total")
        return {k: self.record.get(k) for k in shown} | {
            "status": self.status,
            "manifest": self.record.get("manifest"),
            "manifest_sha256": self.manifest_sha256,
        }


class BundleJobs:
    """The bundle jobs of one lake's shares, by share id (the latest job of each)."""

    def __init__(self, sharing: Sharing) -> None:
        self.sharing = sharing
        self.jobs = Jobs(INTERRUPTED)

    def _root(self, share_id: str) -> Path:
        return state_dir(self.sharing.lake.uri) / "bundles" / share_id

    def _record(self, share_id: str) -> Path:
        root = self._root(share_id)
        return root.with_name(f"{root.name}.job.json")

    def start(self, share_id: str, principal: Principal) -> BundleJob:
        """Start writing the share's bundle for ``principal``; a running job is returned as is."""
        job_id = f"bdl-{secrets.token_hex(6)}"
        folder = self._root(share_id) / job_id

        def work(progress: Progress) -> dict[str, Any]:
            return self._write(share_id, folder, principal, progress)

        fields = {"job_id": job_id, "share_id": share_id}
        record = self.jobs.start(self._record(share_id), fields, work)
        return self._job(record)

    def latest(self, share_id: str) -> BundleJob | None:
        record = self.jobs.read(self._record(share_id))
        return None if record is None else self._job(record)

    def _job(self, record: dict[str, Any]) -> BundleJob:
        return BundleJob.of(record, self._root(record["share_id"]) / record["job_id"])

    def _write(
        self, share_id: str, folder: Path, principal: Principal, progress: Progress
    ) -> dict[str, Any]:
        """Write the bundle and its archive into ``folder``; the manifest and its hash."""
        top = f"{share_id}-bundle"
        try:
            bundle = export_bundle(self.sharing, share_id, folder / top, principal, progress)
            with tarfile.open(folder / "bundle.tar", "w") as tar:
                tar.add(bundle, arcname=top)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        body = (bundle / MANIFEST).read_bytes()
        for older in folder.parent.iterdir():
            if older.name != folder.name:
                shutil.rmtree(older, ignore_errors=True)
        return {"manifest": json.loads(body), "manifest_sha256": hashlib.sha256(body).hexdigest()}
