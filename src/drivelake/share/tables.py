"""The sharing registry's Lance tables, and cached reads of them.

Partners, licences, shares and API keys are Lance tables in the lake like any other (queryable
with ``lake.sql``, every grant and revocation a version), kept apart from the audit log, which is
a JSONL chain (see :mod:`drivelake.share.audit`). They are tiny and read on every HTTP request,
so :class:`RegistryTables` caches each table's rows and re-reads it only when a new version has
been committed (a new manifest file changes the mtime of its ``_versions`` folder) — a revocation
by another process takes effect on the next request, without a 4 ms table open per request.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from drivelake.lake import Lake

UTC_TS = pa.timestamp("us", tz="UTC")
STRINGS = pa.list_(pa.string())

PARTNERS = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("contact", pa.string()),
        pa.field("created_at", UTC_TS),
    ]
)
LICENCES = pa.schema(
    [
        pa.field("licence_id", pa.string(), nullable=False),
        pa.field("partner", pa.string(), nullable=False),
        pa.field("uses", STRINGS),  # allowed uses, e.g. research, training
        pa.field("expires", pa.date32()),  # last day the licence is valid (UTC)
        pa.field("targets", STRINGS),  # dataset@snapshot targets it covers
        pa.field("columns", STRINGS),  # licensed columns; null = every shareable column
        pa.field("anonymise", STRINGS),  # required levels: faces, plates, zones
        pa.field("created_at", UTC_TS),
    ]
)
SHARES = pa.schema(
    [
        pa.field("share_id", pa.string(), nullable=False),
        pa.field("partner", pa.string(), nullable=False),
        pa.field("target", pa.string(), nullable=False),
        pa.field("selection", pa.string()),  # saved WHERE over drives, until datasets exist
        pa.field("drive_ids", STRINGS),  # the target's drives, frozen at creation
        pa.field("licence_id", pa.string(), nullable=False),
        pa.field("created_at", UTC_TS),
        pa.field("revoked_at", UTC_TS),
    ]
)
API_KEYS = pa.schema(
    [
        pa.field("key_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),  # admin or partner
        pa.field("partner", pa.string()),
        pa.field("salt", pa.string(), nullable=False),
        pa.field("hash", pa.string(), nullable=False),
        pa.field("created_at", UTC_TS),
        pa.field("revoked_at", UTC_TS),
    ]
)
#: The registry's tables, by their name in the lake.
TABLES: dict[str, pa.Schema] = {
    "partners": PARTNERS,
    "licences": LICENCES,
    "shares": SHARES,
    "api_keys": API_KEYS,
}


def now() -> datetime:
    return datetime.now(UTC)


class RegistryTables:
    """Append, update and (cached) read the registry tables of one lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int | None, list[dict[str, Any]]]] = {}

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of a registry table as dicts (empty if it was never written)."""
        stamp = self._stamp(name)
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and stamp is not None and cached[0] == stamp:
                return cached[1]
        ds = self.lake.dataset(name)
        rows = ds.to_table().to_pylist() if ds is not None else []
        with self._lock:
            self._cache[name] = (stamp, rows)
        return rows

    def insert(self, name: str, rows: list[dict[str, Any]], message: str) -> None:
        self.lake.append(name, pa.Table.from_pylist(rows, schema=TABLES[name]), message=message)

    def set_revoked(self, name: str, key: str, value: str) -> bool:
        """Stamp ``revoked_at`` on the row whose ``key`` column is ``value``; False if none."""
        ds = self.lake.dataset(name)
        if ds is None:
            return False
        stamp = now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        result = ds.update(
            {"revoked_at": f"CAST('{stamp}' AS TIMESTAMP)"},
            where=f"{key} = '{_quote(value)}' AND revoked_at IS NULL",
        )
        return bool(result.get("num_rows_updated"))

    def _stamp(self, name: str) -> int | None:
        try:
            return (Path(self.lake.table_uri(name)) / "_versions").stat().st_mtime_ns
        except OSError:
            return None


def _quote(value: str) -> str:
    return value.replace("'", "''")
