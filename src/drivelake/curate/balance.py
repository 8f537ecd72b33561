"""Balancing: at most N members per group of any columns, keeping the rarest first.

Within a group, members with a uniqueness score (see :mod:`.neighbours`) are kept in order of
decreasing uniqueness, so capping a common group drops its most redundant members; the rest
follow in a seeded random order.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from drivelake.curate.sample import group_keys, seeded_key


def balance(members: pa.Table, by: Sequence[str], max_per_group: int, seed: int) -> pa.Table:
    keys = group_keys(members, by)
    ids = members.column("member_id").to_pylist()
    scores = members.column("uniqueness").to_pylist()

    def priority(i: int) -> tuple:
        return (scores[i] is None, -(scores[i] or 0.0), seeded_key(seed, ids[i]))

    counts: dict[tuple, int] = {}
    kept = []
    for i in sorted(range(len(ids)), key=priority):
        if counts.get(keys[i], 0) < max_per_group:
            counts[keys[i]] = counts.get(keys[i], 0) + 1
            kept.append(i)
    return members.take(sorted(kept))
