"""YOLO txt: ``images/<split>/<member>.jpg``, ``labels/<split>/<member>.txt`` and ``data.yaml``.

Each label line is ``class cx cy w h`` with coordinates normalised to the image, as Ultralytics
and most YOLO trainers read them; an image without boxes gets an empty label file.
"""

from __future__ import annotations

import json
from pathlib import Path

from drivelake.curate.exporters.base import Progress, Snapshot, put_files, split_of, write_file
from drivelake.curate.exporters.images import write_images


def _path(member_id: str, split: str) -> str:
    return f"images/{split}/{member_id}.jpg"


def write(snapshot: Snapshot, root: Path, progress: Progress) -> None:
    names = snapshot.box_labels()
    write_images(snapshot, root, _path, progress)
    splits, labels = set(), []
    for row in snapshot.frame_rows():
        split = split_of(row)
        splits.add(split)
        w, h = row["width"], row["height"]
        lines = []
        for b in row["boxes"] or []:
            cx, cy = (b["x0"] + b["x1"]) / 2 / w, (b["y0"] + b["y1"]) / 2 / h
            bw, bh = (b["x1"] - b["x0"]) / w, (b["y1"] - b["y0"]) / h
            lines.append(f"{names.index(b['label'])} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n")
        labels.append((f"labels/{split}/{row['member_id']}.txt", "".join(lines).encode()))
    put_files(root, labels)
    yaml = ["path: .", *(f"{s}: images/{s}" for s in sorted(splits)), f"nc: {len(names)}"]
    yaml.append(f"names: {json.dumps(names)}")
    write_file(root / "data.yaml", ("\n".join(yaml) + "\n").encode())
