"""The lake secret: one random key under the lake root that signs audit entries and bundles.

It lives in ``<lake>/_share/secret``, created with mode 0600 in a 0700 folder (atomically, with
``O_EXCL``, so two processes racing to create it agree on one secret). Whoever can read it can
forge audit entries and bundle signatures, so it never leaves the machine and is never printed.
Sharing state needs a local lake root: an object store has no file modes to protect it with.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from drivelake.errors import StoreError

SECRET_BYTES = 32


def state_dir(lake_uri: str) -> Path:
    """``<lake>/_share``, created 0700; sharing needs a local lake root."""
    if "://" in lake_uri:
        raise StoreError(
            f"{lake_uri}: sharing keeps its secret and audit log on a local disk; "
            "open the lake by a local path to share from it"
        )
    path = Path(lake_uri) / "_share"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def load_secret(folder: Path) -> bytes:
    """The lake secret, created on first use with 0600 permissions."""
    path = folder / "secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(SECRET_BYTES))
    text = path.read_text().strip()
    if len(text) != 2 * SECRET_BYTES:  # a racing creator has not finished writing yet
        raise StoreError(f"{path}: lake secret is incomplete or damaged; restore it from backup")
    return bytes.fromhex(text)


def sign(secret: bytes, data: bytes) -> str:
    """HMAC-SHA256 of ``data`` under the lake secret, as hex."""
    return hmac.new(secret, data, hashlib.sha256).hexdigest()
