"""Splits grouped so that nothing leaks, and the check that proves it.

Members are grouped by drive, vehicle or geographic cell; whole groups go to one split, in a
seeded order, each to the split furthest below its target share, so the ratios hold as well as
group sizes allow. :func:`leakage` then checks every grouping (drive, vehicle, cell, and
identical image content) for groups found in more than one split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from drivelake.curate.sample import seeded_key
from drivelake.errors import InputError

SPLITS = ("train", "val", "test")
BY = ("drive", "vehicle", "cell")
CELL_DEG = 0.01  # about 1 km: frames of one street corner stay together


def cells(members: pa.Table, cell_deg: float = CELL_DEG) -> list[str]:
    """The geographic cell of each member (``unknown`` without a position)."""
    out = []
    for lat, lon in zip(
        members.column("lat").to_pylist(), members.column("lon").to_pylist(), strict=True
    ):
        if lat is None or lon is None or math.isnan(lat) or math.isnan(lon):
            out.append("unknown")
        else:
            out.append(f"{math.floor(lat / cell_deg)}:{math.floor(lon / cell_deg)}")
    return out


def groups(members: pa.Table, by: str, cell_deg: float = CELL_DEG) -> list[str]:
    if by == "drive":
        return members.column("drive_id").to_pylist()
    if by == "vehicle":
        return [v or "unknown" for v in members.column("vehicle_id").to_pylist()]
    if by == "cell":
        return cells(members, cell_deg)
    if by == "content":
        return members.column("content_sha256").to_pylist()
    raise InputError("--by", f"{by!r} is not one of {', '.join(BY)}")


def split(
    members: pa.Table,
    by: str,
    ratios: Sequence[float],
    seed: int,
    *,
    names: Sequence[str] = SPLITS,
    cell_deg: float = CELL_DEG,
) -> pa.Table:
    """Assign every member a split (column ``split``), whole groups at a time."""
    if len(ratios) > len(names) or any(r < 0 for r in ratios) or not sum(ratios):
        raise InputError("--ratios", f"{list(ratios)} are not up to {len(names)} shares")
    shares = [r / sum(ratios) for r in ratios]
    keys = groups(members, by, cell_deg)
    sizes: dict[str, int] = {}
    for k in keys:
        sizes[k] = sizes.get(k, 0) + 1
    filled = [0] * len(shares)
    assigned: dict[str, str] = {}
    for group in sorted(sizes, key=lambda g: seeded_key(seed, g)):
        total = sum(filled) + sizes[group]
        target = max(range(len(shares)), key=lambda s: shares[s] * total - filled[s])
        filled[target] += sizes[group]
        assigned[group] = names[target]
    column = pa.array([assigned[k] for k in keys], pa.string())
    return members.set_column(members.schema.get_field_index("split"), "split", column)


def leakage(members: pa.Table, cell_deg: float = CELL_DEG) -> dict[str, Any]:
    """Groups of each kind found in more than one split: empty lists prove no leak."""
    splits = members.column("split").to_pylist()
    report: dict[str, Any] = {"splits": {s: splits.count(s) for s in sorted(set(splits) - {None})}}
    for by in (*BY, "content"):
        seen: dict[str, set[str]] = {}
        for key, s in zip(groups(members, by, cell_deg), splits, strict=True):
            if s is not None and key != "unknown":
                seen.setdefault(key, set()).add(s)
        report[by] = sorted(k for k, v in seen.items() if len(v) > 1)
    return report
