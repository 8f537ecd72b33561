"""What a share points at: a dataset snapshot ``name@tag``, or (for now) a saved drive selection.

Datasets and their snapshots arrive with issue 6. Until then a share may carry a ``selection``,
a SQL ``WHERE`` over the ``drives`` table, which is evaluated once, when the share is created:
the share stores the matching drive ids, so the partner sees exactly those drives however the
lake grows (drive ids are derived from content, so an id always means the same data).

When datasets land, :func:`resolve` resolves ``name@tag`` through them in the one marked place
and returns that snapshot's drive ids; nothing else in sharing changes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from drivelake.errors import InputError

if TYPE_CHECKING:
    from drivelake.lake import Lake

TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$")


def check_target(target: str) -> str:
    if not TARGET.match(target):
        raise InputError("target", f"{target!r} is not a dataset name or name@snapshot")
    return target


def resolve(lake: Lake, target: str, selection: str | None) -> list[str]:
    """The drive ids a share of ``target`` covers, sorted."""
    check_target(target)
    if selection:
        ids = lake.sql(f"SELECT drive_id FROM drives WHERE {selection} ORDER BY drive_id")
        return ids.column("drive_id").to_pylist()
    from drivelake.curate import datasets, parse_ref

    name, tag = parse_ref(target)
    ids = datasets(lake)[name].members(tag).column("drive_id").unique().to_pylist()
    return sorted(ids)
