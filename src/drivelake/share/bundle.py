"""Signed export bundles: a share's view written to files, with a manifest of hashes, signed.

A bundle is a folder: ``drives.parquet``, ``signals/<drive_id>.parquet``, ``events.parquet``
(when the lake has events), ``manifest.json`` (the share, its licence and the sha256 and size of
every file) and ``manifest.sig`` (HMAC-SHA256 of ``manifest.json`` under the lake secret). The
partner checks the files against the manifest; the lake's owner can later prove a bundle is the
one it exported, unchanged (:func:`verify_bundle`). Every export is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from drivelake.errors import InputError
from drivelake.share.secret import sign
from drivelake.share.views import PartnerView

if TYPE_CHECKING:
    from drivelake.share.keys import Principal
    from drivelake.share.registry import Sharing

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"


def export_bundle(
    sharing: Sharing,
    share_id: str,
    out: Path,
    principal: Principal | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the signed bundle of a share into ``out`` (a new or empty folder).

    ``progress(done, total)`` is called as each drive's samples are read.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(out, "bundle folder must be new or empty")
    if principal is None:
        share = sharing.share(share_id)
        share.licence.check_valid()
    else:
        share = sharing.open_share(share_id, principal)
    view = PartnerView(sharing.lake, share, sharing.secret)
    (out / "signals").mkdir(parents=True, exist_ok=True)
    tables: dict[str, pa.Table] = {"drives.parquet": view.drives()}
    for done, drive_id in enumerate(share.drive_ids, 1):
        tables[f"signals/{drive_id}.parquet"] = view.signals(drive_id, max_points=sys.maxsize)
        if progress is not None:
            progress(done, len(share.drive_ids))
    if sharing.lake.dataset("events") is not None:
        tables["events.parquet"] = pa.concat_tables(
            [view.events(d) for d in share.drive_ids], promote_options="default"
        )
    files = {}
    for name, table in tables.items():
        pq.write_table(table, out / name)
        files[name] = {"sha256": _sha256(out / name), "bytes": (out / name).stat().st_size}
    manifest = {
        "share": share.summary(),
        "exported_at": datetime.now(UTC).isoformat(),
        "files": files,
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (out / MANIFEST).write_bytes(body)
    (out / SIGNATURE).write_text(sign(sharing.secret, body) + "\n")
    sharing.audit.append(
        "share.export",
        actor=principal.key_id if principal else "local",
        partner=share.partner,
        share=share.share_id,
        manifest_sha256=hashlib.sha256(body).hexdigest(),
    )
    return out


def verify_bundle(path: Path, secret: bytes) -> list[str]:
    """Problems with a bundle (bad signature, changed, missing or extra files); empty if none."""
    try:
        body = (path / MANIFEST).read_bytes()
        signature = (path / SIGNATURE).read_text().strip()
    except OSError as exc:
        return [f"{path}: not a bundle: {exc}"]
    if not hmac.compare_digest(sign(secret, body), signature):
        return [f"{path / MANIFEST}: signature does not match"]
    listed = json.loads(body)["files"]
    problems = []
    for name, info in listed.items():
        file = path / name
        if not file.is_file():
            problems.append(f"{name}: missing")
        elif _sha256(file) != info["sha256"]:
            problems.append(f"{name}: content changed")
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    extra = present - set(listed) - {MANIFEST, SIGNATURE}
    return problems + [f"{n}: not in the manifest" for n in sorted(extra)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
