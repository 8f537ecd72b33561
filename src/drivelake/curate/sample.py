"""Random and stratified sampling, and the seeded order every random choice here uses.

A member's place in a seeded order is a hash of (seed, member id), so the same seed picks the
same members whatever order the rows are in, and adding members never reshuffles the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa

from drivelake.errors import InputError


def seeded_key(seed: int, value: str) -> bytes:
    return hashlib.sha256(f"{seed}:{value}".encode()).digest()


def seeded_order(ids: Sequence[str], seed: int) -> list[int]:
    """Row indices of ``ids`` in the seeded order."""
    return sorted(range(len(ids)), key=lambda i: seeded_key(seed, ids[i]))


def group_keys(members: pa.Table, by: Sequence[str]) -> list[tuple]:
    missing = [c for c in by if c not in members.column_names]
    if missing:
        raise InputError("--by", f"no member column {', '.join(missing)}")
    columns = [members.column(c).to_pylist() for c in by]
    return list(zip(*columns, strict=True)) if columns else [()] * members.num_rows


def random_sample(members: pa.Table, n: int, seed: int) -> pa.Table:
    """``n`` members chosen uniformly at random (all of them when there are fewer)."""
    order = seeded_order(members.column("member_id").to_pylist(), seed)
    return members.take(sorted(order[:n]))


def stratified_sample(members: pa.Table, n: int, by: Sequence[str], seed: int) -> pa.Table:
    """``n`` members with each group of ``by`` represented in proportion to its size.

    Quotas are rounded by largest remainder, so they add up to ``n`` exactly.
    """
    n = min(n, members.num_rows)
    keys = group_keys(members, by)
    groups: dict[tuple, list[int]] = {}
    for i in seeded_order(members.column("member_id").to_pylist(), seed):
        groups.setdefault(keys[i], []).append(i)
    total = members.num_rows
    exact = {g: n * len(rows) / total for g, rows in groups.items()} if total else {}
    quota = {g: int(q) for g, q in exact.items()}
    by_remainder = sorted(exact, key=lambda g: (quota[g] - exact[g], repr(g)))
    for g in by_remainder[: n - sum(quota.values())]:
        quota[g] += 1
    chosen = [i for g, rows in groups.items() for i in rows[: quota[g]]]
    return members.take(sorted(chosen))
