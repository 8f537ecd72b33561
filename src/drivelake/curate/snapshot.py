"""Snapshots: immutable, tagged versions of a dataset, their manifests and their diffs.

A snapshot is a Lance tag on one version of the members table; Lance versions are never
rewritten and a tag cannot be moved (creating an existing tag fails), so ``name@tag`` always
means the same members, bytes included. The manifest is computed from that version alone —
members, recipe, model revisions, counts, per-member content hashes and one hash over them — so
it is the same whenever and wherever it is computed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from drivelake.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from drivelake.curate.datasets import Dataset


def create(dataset: Dataset, tag: str, message: str = "") -> dict[str, Any]:
    """Tag the latest version as ``tag`` (noting ``message`` in the recipe); its manifest."""
    if tag in dataset.lance().tags.list():
        raise InputError("--tag", f"snapshot {dataset.name}@{tag} exists and is immutable")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    version = dataset.add_step({"op": "snapshot", "tag": tag, "message": message, "at": created})
    dataset.lance().tags.create(tag, version)
    return manifest(dataset, tag)


def snapshots(dataset: Dataset) -> list[dict[str, Any]]:
    tags = dataset.lance().tags.list()
    return sorted(
        ({"tag": t, "version": info["version"]} for t, info in tags.items()),
        key=lambda s: s["version"],
    )


def _resolve(dataset: Dataset, tag: str) -> int:
    tags = dataset.lance().tags.list()
    if tag not in tags:
        raise NotFoundError(f"no snapshot {dataset.name}@{tag} (have: {', '.join(tags) or 'none'})")
    return int(tags[tag]["version"])


def manifest(dataset: Dataset, tag: str) -> dict[str, Any]:
    """Everything that identifies the snapshot, deterministic to the byte when serialised."""
    version = _resolve(dataset, tag)
    members = dataset.members(version)
    recipe = dataset.recipe(version)
    rows = members.select(
        ["member_id", "kind", "drive_id", "event_type", "split", "content_sha256"]
    ).to_pylist()
    content = hashlib.sha256()
    for r in rows:
        content.update(f"{r['member_id']}\t{r['split']}\t{r['content_sha256']}\n".encode())
    models = sorted(
        {(m["model"], m["revision"]) for step in recipe for m in step.get("models", [])}
    )
    return {
        "dataset": dataset.name,
        "tag": tag,
        "version": version,
        "recipe": recipe,
        "models": [{"model": m, "revision": r} for m, r in models],
        "counts": {
            "members": len(rows),
            "drives": len({r["drive_id"] for r in rows}),
            "kind": dict(sorted(Counter(r["kind"] for r in rows).items())),
            "split": dict(sorted(Counter(str(r["split"]) for r in rows).items())),
            "label": dict(sorted(Counter(str(r["event_type"]) for r in rows).items())),
        },
        "content_sha256": content.hexdigest(),
        "members": rows,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """``json.dumps(manifest, sort_keys=True, indent=1)`` and a newline, to the byte.

    The standard library's indented JSON is pure Python (its C encoder is for compact output
    only), slow for a manifest of 100,000 members; the member list, flat rows of strings, is
    therefore encoded here by the C encoder and spliced in, giving the same bytes.
    """
    members = manifest.get("members")
    flat = (
        isinstance(members, list)
        and bool(members)
        and set(map(type, members)) == {dict}
        and all(members)  # no empty row
        and set(map(type, chain.from_iterable(map(dict.values, members)))) <= {str, type(None)}
    )
    if not flat:
        return json.dumps(manifest, sort_keys=True, indent=1).encode() + b"\n"
    hole = "\x00members\x00"  # a value no manifest holds, replaced by the encoded list
    text = json.dumps({**manifest, "members": hole}, sort_keys=True, indent=1)
    encoded = json.dumps(hole)
    assert text.count(encoded) == 1
    return (text.replace(encoded, _rows_json(members)) + "\n").encode()


def _rows_json(rows: list[dict[str, str | None]]) -> str:
    """Non-empty flat dicts of strings as ``json.dumps(..., sort_keys=True, indent=1)`` writes
    them as a value of the top-level object: one C-encoder pass whose item separator is the
    indented one of dict items, then the boundaries between rows re-indented (encoded strings
    hold no raw newline, so ``},\n   {`` occurs only between rows)."""
    compact = json.dumps(rows, sort_keys=True, separators=(",\n   ", ": "))
    body = compact[2:-2].replace("},\n   {", "\n  },\n  {\n   ")
    return "[\n  {\n   " + body + "\n  }\n ]"


def diff(dataset: Dataset, a: str, b: str) -> dict[str, Any]:
    """Members added, removed, re-split or changed in content from snapshot ``a`` to ``b``."""
    old = {r["member_id"]: r for r in manifest(dataset, a)["members"]}
    new = {r["member_id"]: r for r in manifest(dataset, b)["members"]}
    both = sorted(old.keys() & new.keys())
    recipe_a, recipe_b = dataset.recipe(_resolve(dataset, a)), dataset.recipe(_resolve(dataset, b))
    common = 0
    while common < min(len(recipe_a), len(recipe_b)) and recipe_a[common] == recipe_b[common]:
        common += 1
    return {
        "from": a,
        "to": b,
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "resplit": [m for m in both if old[m]["split"] != new[m]["split"]],
        "changed": [m for m in both if old[m]["content_sha256"] != new[m]["content_sha256"]],
        "steps_added": recipe_b[common:],
        "steps_dropped": recipe_a[common:],
    }
