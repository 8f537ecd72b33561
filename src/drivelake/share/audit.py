"""The audit log: every request and export, append-only and hash-chained.

**Why JSONL and not a Lance table.** The log is written once per HTTP request. A Lance append is a
new table version (a manifest and a data file) per entry — thousands of tiny fragments a day and
milliseconds per request — and a hash chain needs one total order of entries, which concurrent
Lance appends do not give. A JSONL file appended under an exclusive file lock gives both: the lock
orders writers (server threads, several processes, the CLI), each line is one entry, and
``verify`` reads it line by line. It lives in ``<lake>/_share/audit.jsonl`` beside the secret.

**Chain.** Each entry carries ``seq`` and ``prev`` (the previous entry's ``hash``), and its own
``hash`` is HMAC-SHA256 under the lake secret of the canonical JSON of the other fields. Editing,
inserting, reordering or deleting a line breaks the chain at that line; because the hash is keyed,
whoever lacks the secret cannot recompute the rest of the chain to hide an edit. Cutting lines off
the end leaves a valid shorter chain, so ``verify`` reports the head (``seq``, ``hash``) for
anchoring elsewhere (a ticket, a partner's receipt).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivelake.share.secret import sign

GENESIS = "0" * 64
_TAIL_BYTES = 64 << 10  # an entry is far smaller; the last line is within this much of the end


@dataclass(frozen=True)
class Verification:
    """What :meth:`AuditLog.verify` found: ``ok`` with the head, or the first broken line."""

    ok: bool
    entries: int
    head: str
    problem: str = ""
    line: int | None = None


class AuditLog:
    """An append-only, HMAC-chained JSONL log of who did what."""

    def __init__(self, path: Path, secret: bytes) -> None:
        self.path = path
        self._secret = secret

    def append(self, action: str, **fields: Any) -> dict[str, Any]:
        """Record one entry (``action`` plus JSON-able fields) and return it with its hash."""
        with self.path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                last = _last_entry(fh)
                entry = {
                    "seq": last["seq"] + 1 if last else 0,
                    "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                    "action": action,
                    **fields,
                    "prev": last["hash"] if last else GENESIS,
                }
                entry["hash"] = self._hash(entry)
                fh.write(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first (unparseable lines are skipped; ``verify`` reports them)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for raw in fh:
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue

    def verify(self) -> Verification:
        """Check every line's hash and link; stops at the first broken one."""
        prev, seq = GENESIS, 0
        if not self.path.exists():
            return Verification(True, 0, GENESIS)
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    entry = json.loads(raw)
                    claimed = entry.pop("hash")
                except (ValueError, KeyError, AttributeError):
                    return Verification(False, seq, prev, "not a valid audit entry", lineno)
                if entry.get("seq") != seq:
                    return Verification(False, seq, prev, f"expected seq {seq}", lineno)
                if entry.get("prev") != prev:
                    return Verification(False, seq, prev, "link to the previous entry", lineno)
                if self._hash(entry) != claimed:
                    return Verification(False, seq, prev, "hash does not match content", lineno)
                prev, seq = claimed, seq + 1
        return Verification(True, seq, prev)

    def _hash(self, entry: dict[str, Any]) -> str:
        body = {k: v for k, v in entry.items() if k != "hash"}
        return sign(self._secret, json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def _last_entry(fh) -> dict[str, Any] | None:
    """The last line of an open log, read from its tail (appends stay O(1))."""
    size = fh.seek(0, os.SEEK_END)
    if size == 0:
        return None
    fh.seek(max(0, size - _TAIL_BYTES))
    lines = fh.read().rstrip(b"\n").split(b"\n")
    return json.loads(lines[-1])
