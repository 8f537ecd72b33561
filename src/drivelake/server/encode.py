"""Arrow tables and rows as JSON-able Python values (times as ISO strings, NaN as null)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from drivelake.cli.output import _jsonable as jsonable


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return [jsonable(r) for r in table.to_pylist()]


__all__ = ["jsonable", "rows"]
